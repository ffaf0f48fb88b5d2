"""E_hull and the electrochemical window with the real default model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import rocksalt
from typer.testing import CliRunner

from screening.cli.main import app
from screening.mlff import relax_structure
from screening.schemas.errors import ScreeningInputError
from screening.stability import ReferenceSet, load_reference_structures, stability_analysis
from screening.store import ResultStore

REFS = Path(__file__).resolve().parents[1] / "workflows" / "references" / "li-halides"
EXP_LICL_OXIDATION_V = 4.23  # -dHf(LiCl) = 408.6 kJ/mol = 4.235 eV


@pytest.fixture(scope="module")
def entries(tensornet):
    return ReferenceSet(tensornet).entries(load_reference_structures(REFS))


@pytest.fixture(scope="module")
def relaxed_licl(tensornet):
    return relax_structure(rocksalt(5.13), tensornet, fmax=0.01)


@pytest.fixture(scope="module")
def licl_stability(tensornet, entries, relaxed_licl):
    return stability_analysis(
        rocksalt(5.13).composition,
        relaxed_licl.energy_ev,
        entries,
        mobile_ion="Li",
        forcefield_name=tensornet.name,
    )


def test_licl_on_hull_and_strained_above(tensornet, entries, relaxed_licl, licl_stability):
    relaxed, res = relaxed_licl, licl_stability
    assert res.e_hull_ev_per_atom == pytest.approx(0.0, abs=1e-3)
    assert res.decomposition == {"LiCl": 1.0}
    strained = rocksalt(5.13 * 1.04)
    atoms = strained.to_ase_atoms()
    atoms.calc = tensornet.calculator()
    e_strained = atoms.get_potential_energy()
    res_s = stability_analysis(
        strained.composition, e_strained, entries, mobile_ion="Li", forcefield_name=tensornet.name
    )
    expected = (e_strained - relaxed.energy_ev) / len(strained)
    assert expected > 0.005
    assert res_s.e_hull_ev_per_atom == pytest.approx(expected, abs=2e-3)


def test_licl_window_against_experiment(licl_stability):
    res = licl_stability
    red, ox = res.window_v
    print(
        f"LiCl window: {red:.3f} .. {ox:.3f} V vs Li/Li+; oxidation deviation from "
        f"experiment {ox - EXP_LICL_OXIDATION_V:+.3f} V"
    )
    assert red == pytest.approx(0.0, abs=1e-6)
    assert abs(ox - EXP_LICL_OXIDATION_V) < 0.8
    assert "Cl2" in res.oxidation_products and "Li" in res.reduction_products


def test_li3ycl6_model_decomposes_to_licl_and_ycl3(tensornet, entries):
    """The 10-atom rock-salt-derived Li3YCl6 model against the full set (with YCl3): a small
    positive E_hull (it is a model ordering, not the P-3m1 structure) and the physical
    decomposition 3 LiCl + YCl3; reduction limit well above 0 V (Y3+ is reduced)."""
    from pymatgen.core import Structure

    s = Structure.from_file(REFS.parents[1] / "prototypes" / "Li3YCl6.cif")
    r = relax_structure(s, tensornet)
    res = stability_analysis(
        s.composition, r.energy_ev, entries, mobile_ion="Li", forcefield_name=tensornet.name
    )
    print(f"Li3YCl6 model: E_hull {res.e_hull_ev_per_atom:.4f} eV/atom, {res.decomposition}")
    assert 0.0 < res.e_hull_ev_per_atom < 0.1
    assert set(res.decomposition) == {"LiCl", "YCl3"}
    assert res.decomposition["LiCl"] == pytest.approx(0.6, abs=1e-6)  # fractions of atoms
    assert 0.2 < res.window_v[0] < 1.5 and res.window_v[1] > 3.0


def test_known_stable_ternary_is_on_hull(tensornet):
    """KMgF3 (cubic perovskite, a stable compound) against K, Mg, F2, KF and MgF2."""
    from pymatgen.core import Lattice, Structure

    f2 = Structure.from_file(REFS / "Cl2_Cmca.cif")
    f2.replace_species({"Cl": "F"})
    f2.scale_lattice(f2.volume * 0.45)
    phases = [
        Structure(Lattice.cubic(5.23), ["K", "K"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        Structure.from_spacegroup(
            "P6_3/mmc", Lattice.hexagonal(3.21, 5.21), ["Mg"], [[1 / 3, 2 / 3, 0.25]]
        ),
        f2,
        Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.35), ["K", "F"], [[0, 0, 0], [0.5] * 3]),
        Structure.from_spacegroup(
            "P4_2/mnm", Lattice.tetragonal(4.62, 3.05), ["Mg", "F"], [[0, 0, 0], [0.303, 0.303, 0]]
        ),
    ]
    entries = ReferenceSet(tensornet).entries(phases)
    kmgf3 = Structure(
        Lattice.cubic(3.99),
        ["K", "Mg", "F", "F", "F"],
        [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]],
    )
    r = relax_structure(kmgf3, tensornet)
    res = stability_analysis(
        kmgf3.composition, r.energy_ev, entries, mobile_ion="K", forcefield_name=tensornet.name
    )
    print(f"KMgF3: E_hull {res.e_hull_ev_per_atom:.4f} eV/atom (below KF + MgF2 when < 0)")
    assert res.e_hull_ev_per_atom <= 0.0
    assert res.formation_energy_ev_per_atom < -2.0


def test_missing_elemental_reference_is_named(entries):
    from pymatgen.core import Composition

    no_li = [e for e in entries if e.composition.reduced_formula != "Li"]
    with pytest.raises(ScreeningInputError, match="no elemental reference for Li"):
        stability_analysis(Composition("LiCl"), -7.3, no_li, mobile_ion="Li", forcefield_name="x")


def test_reference_cache_is_not_recomputed(tensornet, tmp_path, monkeypatch):
    monkeypatch.setenv("MONGOMOCK_SERVERSTORE_FILE", str(tmp_path / "db.json"))
    from screening.store import backend

    backend.forget_embedded()
    structures = load_reference_structures(REFS)[:3]
    first = ReferenceSet(tensornet, ResultStore())
    e1 = first.entries(structures)
    assert first.relaxed_count == 3
    second = ReferenceSet(tensornet, ResultStore())  # "the second campaign"
    e2 = second.entries(structures)
    assert second.relaxed_count == 0
    assert [e.energy for e in e1] == [e.energy for e in e2]


def test_stability_cli_json(tensornet, tmp_path):
    path = tmp_path / "LiCl.cif"
    rocksalt(5.2).to(filename=str(path))
    out = CliRunner().invoke(app, ["stability", str(path), "--references", str(REFS), "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(doc) >= {
        "formation_energy_ev_per_atom",
        "e_hull_ev_per_atom",
        "decomposition",
        "window_v",
    }
    assert doc["e_hull_ev_per_atom"] == pytest.approx(0.0, abs=2e-3)


def test_sub_chemsys():
    from screening.stability.online import sub_chemsys

    assert sub_chemsys(["Y", "Li", "Cl", "Li"]) == [
        "Cl",
        "Li",
        "Y",
        "Cl-Li",
        "Cl-Y",
        "Li-Y",
        "Cl-Li-Y",
    ]


def test_mp_references_fail_early_with_the_fix(tmp_path, monkeypatch):
    """No key, or offline: `campaign run` stops before storing anything, one line each."""
    from screening.stability import online

    path = tmp_path / "c.yaml"
    path.write_text(
        "name: mp\nmobile_ion: Li\nprototypes:\n"
        f"  - path: {REFS / 'LiCl_rocksalt.cif'}\nreferences_mp: {{}}\n"
    )
    monkeypatch.delenv("MP_API_KEY", raising=False)
    out = CliRunner().invoke(app, ["campaign", "run", str(path)])
    assert out.exit_code != 0
    assert "references_mp: no Materials Project API key in $MP_API_KEY" in out.stderr
    monkeypatch.setenv("MP_API_KEY", "x" * 32)
    monkeypatch.setattr(online, "is_online", lambda host="": False)
    out = CliRunner().invoke(app, ["campaign", "submit", str(path)])
    assert out.exit_code != 0 and "is not reachable (offline)" in out.stderr
    assert ResultStore().db["candidates"].count_documents({"campaign": "mp"}) == 0


def test_mp_reference_structures_come_from_the_cache_offline(monkeypatch):
    """Structures cached per chemical system are reused without key or network; a cache
    made with a lower E_hull threshold than asked for is not."""
    from screening.schemas.campaign import MPReferenceSpec
    from screening.stability import online

    monkeypatch.delenv("MP_API_KEY", raising=False)
    store = ResultStore()
    licl = rocksalt(5.13)
    store.upsert(
        "reference_structures",
        [
            (c, {"structures": [s.as_dict()], "e_above_hull_max_ev": 0.05}, {})
            for c, s in (("Li", licl), ("Cl", licl), ("Cl-Li", licl))
        ],
    )
    got = online.mp_reference_structures(["Cl-Li", "Li", "Cl"], MPReferenceSpec(), store)
    assert len(got) == 3 and all(s.composition.reduced_formula == "LiCl" for s in got)
    with pytest.raises(ScreeningInputError, match="no Materials Project API key"):
        online.mp_reference_structures(["Li"], MPReferenceSpec(e_above_hull_max_ev=0.1), store)


def test_relax_and_stability_makers_return_typed_documents(tensornet):
    """RelaxMaker -> StabilityMaker (no second relaxation) in one jobflow Flow: the relaxed
    LiCl reaches the stability job, which finds it on the hull like the CLI does."""
    from jobflow import Flow, run_locally

    from screening.flows.structure_makers import RelaxMaker, StabilityMaker
    from screening.schemas.tasks import RelaxTaskDocument, StabilityTaskDocument

    relax = RelaxMaker(max_steps=50).make(rocksalt(5.3))
    stab = StabilityMaker(references=str(REFS), relax=False).make(relax.output.structure)
    out = run_locally(Flow([relax, stab]), ensure_success=True, log=False)
    r, s = out[relax.uuid][1].output, out[stab.uuid][1].output
    assert isinstance(r, RelaxTaskDocument) and isinstance(s, StabilityTaskDocument)
    assert r.relax.volume_final_a3 < r.relax.volume_initial_a3  # 5.3 Å is too large for LiCl
    assert s.structure["lattice"]["a"] == pytest.approx(r.structure["lattice"]["a"])
    assert s.energy_per_atom_ev == pytest.approx(r.relax.energy_per_atom_ev, abs=1e-4)
    assert s.stability.e_hull_ev_per_atom == pytest.approx(0.0, abs=2e-3)
    assert s.provenance.model.weights_sha256 == tensornet.weights_sha256
    with pytest.raises(ValueError, match="references"):
        StabilityMaker(references="/no/such/folder")
