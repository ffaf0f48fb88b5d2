"""Campaign validation, streamed enumeration, filters and deterministic ids."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from screening.cli.main import app
from screening.generate.enumerate import Enumerator, build_structure
from screening.generate.parents import load_prototypes
from screening.schemas.campaign import load_campaign
from screening.schemas.errors import ScreeningInputError

REPO = Path(__file__).resolve().parents[1]
PROTO = REPO / "workflows" / "prototypes" / "Li3YCl6.cif"
runner = CliRunner()


def write_campaign(tmp_path, **over):
    doc = {
        "name": "t",
        "mobile_ion": "Li",
        "prototypes": [{"path": str(PROTO)}],
        "substitutions": {"Y": ["Sc", "In", "Zr"], "Cl": ["Br"]},
        "compensation": {"enabled": True, "max_orderings": 1},
    }
    doc.update(over)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def enumerate_ids(path):
    spec = load_campaign(path)
    return [r.candidate_id for r in Enumerator(spec, load_prototypes(spec))]


def test_hand_count_and_zr_compensation(tmp_path):
    # Y -> {Sc, In, Zr} x Cl -> {Br}: 3 maps; Zr4+ needs one Li fewer.
    spec = load_campaign(write_campaign(tmp_path))
    enum = Enumerator(spec, load_prototypes(spec))
    refs = list(enum)
    assert sorted(r.formula for r in refs) == ["Li2ZrBr6", "Li3InBr6", "Li3ScBr6"]
    assert enum.summary() == {
        "enumerated": 3,
        "passed": 3,
        "rejected_by_reason": {},
        "excluded_elements": [],
    }
    zr = next(r for r in refs if "Zr" in r.formula)
    assert zr.removed_mobile == 1
    s = build_structure(zr, enum)
    assert s.composition.reduced_formula == "Li2ZrBr6" and len(s) == 9
    # without compensation the Zr candidate is rejected as not charge neutral
    spec = load_campaign(write_campaign(tmp_path, compensation={"enabled": False}))
    enum = Enumerator(spec, load_prototypes(spec))
    assert sorted(r.formula for r in enum) == ["Li3InBr6", "Li3ScBr6"]
    assert enum.summary()["rejected_by_reason"] == {"not_charge_neutral": 1}


def test_keep_self_and_orderings_hand_count(tmp_path):
    # Y -> {Y, Sc, In, Zr}, Cl -> {Cl, Br}, 2 vacancy orderings for Zr: 3*2 + 1*2*2 = 10
    path = write_campaign(
        tmp_path,
        substitutions={"Y": ["Y", "Sc", "In", "Zr"], "Cl": ["Cl", "Br"]},
        compensation={"enabled": True, "max_orderings": 2},
    )
    ids = enumerate_ids(path)
    assert len(ids) == len(set(ids)) == 10


def test_mixing_counts(tmp_path):
    # Cl (6 sites) -> Cl/Br at fraction 0.5: C(6,3)=20 orderings capped at 3; plus pure Cl, Br
    path = write_campaign(
        tmp_path,
        substitutions={"Cl": ["Cl", "Br"]},
        mixing={"max_species_per_site": 2, "fractions": [0.5], "max_orderings": 3},
    )
    spec = load_campaign(path)
    enum = Enumerator(spec, load_prototypes(spec))
    refs = list(enum)
    assert len(refs) == 2 + 3
    mixed = [build_structure(r, enum) for r in refs if ":" in r.substitution]
    assert all(s.composition["Br"] == 3 and s.composition["Cl"] == 3 for s in mixed)
    assert (
        len(
            {
                tuple(
                    s.frac_coords[[i for i, x in enumerate(s) if x.specie.symbol == "Br"]]
                    .round(3)
                    .ravel()
                )
                for s in mixed
            }
        )
        == 3
    )


def test_ids_are_deterministic_across_runs_and_processes(tmp_path):
    path = write_campaign(tmp_path, substitutions={"Y": ["Y", "Sc", "Zr"], "Cl": ["Cl", "Br"]})
    first, second = enumerate_ids(path), enumerate_ids(path)
    code = (
        "import sys; from tests.test_generate import enumerate_ids; "
        f"print('\\n'.join(enumerate_ids({str(path)!r})))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert first == second == other
    changed = enumerate_ids(
        write_campaign(tmp_path, substitutions={"Y": ["Y", "Sc", "Zr"], "Cl": ["Cl", "I"]})
    )
    assert set(changed) != set(first)
    assert len(set(changed) & set(first)) == 3  # Cl-kept candidates are the same candidates


def test_electronegativity_and_probability_filters(tmp_path):
    path = write_campaign(
        tmp_path,
        substitutions={"Cl": ["Cl", "Br"], "Y": ["Y", "La"]},
        filters={"min_substitution_probability": 0.5},
    )
    spec = load_campaign(path)
    enum = Enumerator(spec, load_prototypes(spec))
    kept = {r.formula for r in enum}
    assert "Li3YCl6" in kept
    assert enum.summary()["rejected_by_reason"].get("low_substitution_probability", 0) >= 1


def test_count_cli_on_large_campaign_reports_space():
    out = runner.invoke(
        app, ["generate", str(REPO / "workflows" / "li-halides.yaml"), "--count", "--json"]
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["enumerated"] == 10 and doc["passed"] == 10


def test_generate_writes_jsonl(tmp_path):
    out_file = tmp_path / "c.jsonl"
    res = runner.invoke(
        app,
        [
            "generate",
            str(REPO / "workflows" / "li-halides.yaml"),
            "--limit",
            "4",
            "--out",
            str(out_file),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert len(rows) == 4
    assert set(rows[0]) >= {"candidate_id", "formula", "prototype", "substitution", "structure"}


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(prototypes=[{"path": "missing.cif"}]), "prototype file not found"),
        (lambda d: d.update(substitutions={"Y": ["Qq"]}), "unknown element 'Qq'"),
        (lambda d: d.update(substitutions={"Ba": ["Sr"]}), "substitutions.Ba"),
        (lambda d: d.update(colour="red"), "unknown key 'colour'"),
        (lambda d: d.update(prototypes=[{"path": "empty.cif"}]), "no structure could be read"),
        (lambda d: d.update(prototypes=[{"path": "dis.cif"}]), "no ordering rule"),
    ],
)
def test_bad_campaigns_fail_with_one_line(tmp_path, mutate, expected):
    (tmp_path / "empty.cif").write_text("data_empty\n")
    from pymatgen.core import Structure

    dis = Structure.from_file(PROTO)
    dis.replace_species({"Cl": {"Cl": 0.5, "Br": 0.5}})
    dis.to(filename=str(tmp_path / "dis.cif"))
    doc = yaml.safe_load(write_campaign(tmp_path).read_text())
    mutate(doc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ScreeningInputError, match=expected):
        spec = load_campaign(path)
        load_prototypes(spec)
    res = runner.invoke(app, ["generate", str(path), "--count"])
    assert res.exit_code != 0
    assert expected.split("'")[0] in res.stderr


def test_yaml_error_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nmobile_ion: Li\nprototypes: [\n  - oops\n")
    res = runner.invoke(app, ["generate", str(path), "--count"])
    assert res.exit_code != 0 and "YAML error at line" in res.stderr


_PEAK_RSS_MB = (
    "def peak_rss_mb():\n"
    "    # VmHWM is the peak of this process image only: ru_maxrss would also count the\n"
    "    # parent's size at fork time (pytest with torch loaded), inherited across exec.\n"
    "    try:\n"
    "        for line in open('/proc/self/status'):\n"
    "            if line.startswith('VmHWM:'):\n"
    "                return int(line.split()[1]) / 1024\n"
    "    except OSError:\n"
    "        pass\n"
    "    import resource\n"
    "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
)


def _count_in_subprocess(path: Path) -> dict:
    """``Enumerator.count()`` in a fresh interpreter; adds its peak RSS in MB."""
    code = _PEAK_RSS_MB + (
        "import json, sys; from screening.schemas.campaign import load_campaign\n"
        "from screening.generate.parents import load_prototypes\n"
        "from screening.generate.enumerate import Enumerator\n"
        "s = load_campaign(sys.argv[1]); e = Enumerator(s, load_prototypes(s))\n"
        "c = e.count(); c['rss_mb'] = peak_rss_mb(); print(json.dumps(c))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_large_campaign_is_at_least_1e7_and_streams():
    """The shipped large campaign sizes >= 10^7 in < 2 min with peak memory < 1 GB."""
    doc = _count_in_subprocess(REPO / "workflows" / "large-space.yaml")
    print("large-space:", doc)
    assert doc["enumerated"] >= 10**7
    assert doc["rss_mb"] < 1024


_MEM_CAMPAIGN = """name: mem-{name}
mobile_ion: Li
prototypes:
  - path: {proto}
  - pymatgen: LiFePO4
substitutions:
{subs}
mixing: {{max_species_per_site: 2, fractions: [0.25, 0.5], max_orderings: 8}}
compensation: {{enabled: true, max_orderings: 4}}
filters: {{charge_neutral: true, max_atoms: 120, min_substitution_probability: 0.0}}
"""


def test_peak_memory_is_flat_from_1e5_to_1e7(tmp_path):
    """Same prototypes, 100x more candidates: peak memory within 20% (caches are capped)."""
    proto = REPO / "workflows" / "prototypes" / "Li3YCl6.cif"
    small = {
        "Li": "[Li, Na]",
        "Y": "[Y, Sc, In, Zr, Hf, Er, Ho, Lu]",
        "Cl": "[Cl, Br, I]",
        "Fe": "[Fe, Mn, Co, Ni, Mg, Zn, Cu, Ca]",
        "P": "[P, V, Si]",
    }
    big = {
        "Li": "[Li, Na]",
        "Y": "[Y, Sc, In, Zr, Hf, Er, Ho, Lu, Yb, Tm, Dy, Gd, Al, Ga]",
        "Cl": "[Cl, Br, I, F]",
        "Fe": "[Fe, Mn, Co, Ni, Mg, Zn, Cu, Ca, Sr, Ti, V, Cr]",
        "P": "[P, V, Si, Ge, S]",
        "O": "[O, S]",
    }
    docs = {}
    for name, subs in (("small", small), ("big", big)):
        text = "\n".join(f"  {k}: {v}" for k, v in subs.items())
        path = tmp_path / f"{name}.yaml"
        path.write_text(_MEM_CAMPAIGN.format(name=name, proto=proto, subs=text))
        docs[name] = _count_in_subprocess(path)
    print({k: (d["enumerated"], round(d["rss_mb"], 1)) for k, d in docs.items()})
    assert 5 * 10**4 <= docs["small"]["enumerated"] <= 5 * 10**5
    assert docs["big"]["enumerated"] >= 10**7
    assert docs["big"]["rss_mb"] <= 1.2 * docs["small"]["rss_mb"]


def test_cross_prototype_duplicates_marked_once(tmp_path):
    """LiCl given as a conventional and as a primitive cell: every Cl/Br candidate of the
    second prototype duplicates one of the first; CsCl-type LiCl is a different crystal."""
    from conftest import rocksalt
    from pymatgen.core import Lattice, Structure

    from screening.flows.stages import GENERATED, generate_stage
    from screening.store import ResultStore

    conv = rocksalt(5.13)
    conv.to(filename=str(tmp_path / "conv.cif"))
    conv.get_primitive_structure().to(filename=str(tmp_path / "prim.cif"))
    Structure(Lattice.cubic(3.2), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(
        filename=str(tmp_path / "cscl.cif")
    )
    (tmp_path / "c.yaml").write_text(
        "name: dup\nmobile_ion: Li\nprototypes:\n  - path: conv.cif\n  - path: prim.cif\n"
        "  - path: cscl.cif\nsubstitutions:\n  Cl: [Cl, Br]\n"
    )
    spec = load_campaign(tmp_path / "c.yaml")
    store = ResultStore()
    out = generate_stage(spec, store)
    assert out["written"] == 6
    assert out["rejected_by_reason"]["structural_duplicate"] == 2
    dups = list(store.db["candidates"].find({"status": "duplicate"}))
    assert len(dups) == 2
    kept = {d["duplicate_of"] for d in dups}
    for d in dups:
        twin = store.db["candidates"].find_one({"_id": d["duplicate_of"]})
        assert twin["formula"] == d["formula"] and twin["prototype"] != d["prototype"]
        assert "cscl" not in (twin["prototype"], d["prototype"])
    assert len(store.candidates("dup").ids_at(GENERATED)) == 4 and kept <= set(
        store.candidates("dup").ids_at(GENERATED)
    )
    again = generate_stage(spec, store)  # rerun: nothing new, same counts, same documents
    assert again["rejected_by_reason"]["structural_duplicate"] == 2
    assert store.db["candidates"].count_documents({"campaign": "dup"}) == 6
