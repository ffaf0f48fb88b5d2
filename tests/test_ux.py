"""What a materials scientist sees: defaults, messages, workers and progress (issue 15, one
test per item; ranking and results are in test_ux_results.py).

Commands run as a user runs them (subprocess, threads limited).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml
from conftest import rocksalt
from ux_common import BIN, PROTO, SCREENING, env_for, run, write_campaign


# -- 6. mobile ion and temperatures ------------------------------------------------------------
def test_6_mobile_ion_is_inferred_and_temperature_lists_split(tmp_path, tensornet):
    env = env_for(tmp_path / "d")
    nacl = tmp_path / "NaCl.cif"
    rocksalt(5.64, cation="Na").to(filename=str(nacl))
    out = run([SCREENING, "md", nacl, "--temperature", "300", "--steps", "10", "--json"], env=env)
    assert json.loads(out.stdout)["mobile_ion"] == "Na"
    licl = tmp_path / "LiCl.cif"
    rocksalt(5.13).to(filename=str(licl))
    args = ["--steps", "10", "--equilibration", "0", "--json"]
    out = run([SCREENING, "diffusion", licl, "--temperatures", "600", "800,1000", *args], env=env)
    temps = [t["temperature_target_k"] for t in json.loads(out.stdout)["temperatures"]]
    assert temps == [600.0, 800.0, 1000.0]
    both = tmp_path / "LiNaCl2.cif"
    s = rocksalt(5.4)
    s.replace(0, "Na")
    s.to(filename=str(both))
    bad = run(
        [SCREENING, "md", both, "--temperature", "300", "--steps", "10"], env=env, check=False
    )
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == [
        f"error: {both}: {s.composition.reduced_formula} has both Li and Na; say which ion "
        "moves with --mobile-ion"
    ]
    bad = run(
        [SCREENING, "diffusion", licl, "--temperatures", "600,hot", "--steps", "10"],
        env=env,
        check=False,
    )
    assert bad.returncode != 0 and "--temperatures: expected temperatures in K" in bad.stderr


def test_6_na_swapped_candidates_record_and_use_na(tmp_path):
    """`Li: [Li, Na]` in a Li campaign: the Na candidates are Na conductors in the store
    (mobile_ion, carrier density), not Li candidates without Li."""
    from screening.flows.select import RELAXED, mobile_density, select_for_md
    from screening.flows.stages import generate_stage
    from screening.schemas.campaign import load_campaign
    from screening.store import ResultStore

    camp = write_campaign(tmp_path, substitutions={"Li": ["Li", "Na"], "Y": ["Y"]})
    spec = load_campaign(camp)
    store = ResultStore()
    generate_stage(spec, store)
    docs = {d["formula"]: d for d in store.db["candidates"].find()}
    assert {f: d["mobile_ion"] for f, d in docs.items()} == {"Li3YCl6": "Li", "Na3YCl6": "Na"}
    na = docs["Na3YCl6"]
    assert mobile_density(na, "Na") > 0 and mobile_density(na, "Li") == 0
    store.set_fields(
        "candidates",
        {
            d["_id"]: {
                "stage": RELAXED,
                "relax": {"structure": d["structure"], "energy_per_atom_ev": -3.0},
            }
            for d in docs.values()
        },
    )
    select_for_md(store, spec)
    chosen = store.db["candidates"].find_one({"_id": na["_id"]})
    assert chosen["mobile_per_cm3"] == pytest.approx(mobile_density(na, "Na"))


# -- 7. excluded elements --------------------------------------------------------------------
def test_7_excluded_elements_are_named(tmp_path):
    camp = write_campaign(tmp_path, substitutions={"Y": ["Y", "In", "Tl"], "Cl": ["Cl", "Br"]})
    env = env_for(tmp_path / "d")
    out = run([SCREENING, "generate", camp, "--count"], env=env)
    assert "rejected excluded_element: 2" in out.stdout
    assert "filters.exclude_elements removed: Tl" in out.stdout
    doc = json.loads(run([SCREENING, "generate", camp, "--count", "--json"], env=env).stdout)
    assert doc["excluded_elements"] == ["Tl"]
    out = run([SCREENING, "campaign", "validate", camp], env=env)
    assert "warning: filters.exclude_elements removes Tl" in out.stderr
    clean = write_campaign(tmp_path, name="clean")
    assert "exclude_elements" not in run([SCREENING, "campaign", "validate", clean], env=env).stderr


# -- 9. noise --------------------------------------------------------------------------------
def test_9_no_library_noise_and_first_warp_use_is_announced(tmp_path, tensornet):
    env = env_for(tmp_path / "d")
    licl = tmp_path / "LiCl.cif"
    rocksalt(5.3).to(filename=str(licl))
    for args in (
        ["md", licl, "--temperature", "300", "--steps", "10"],
        ["relax", licl, "--max-steps", "5"],
    ):
        out = run([SCREENING, *args], env=env)
        assert out.stderr.strip() == "", out.stderr  # no Warp banner, no RuntimeWarning
    camp = write_campaign(tmp_path)
    out = run([SCREENING, "campaign", "submit", camp], env=env, cwd=tmp_path)
    lines = [ln for ln in (out.stdout + out.stderr).splitlines() if ln.strip()]
    assert len(lines) == len(set(lines)) and "RESET" not in out.stdout + out.stderr, lines
    # an empty Warp kernel cache: the user is told that kernels will be compiled
    code = (
        "import logging; logging.basicConfig();"
        "from screening.mlff.warp_init import init_warp_quietly; print(init_warp_quietly())"
    )
    cache = tmp_path / "warp-cache"
    out = run(
        [sys.executable, "-c", code], env={**env, "WARP_CACHE_PATH": str(cache)}, cwd=tmp_path
    )
    assert "first use of Warp on this machine" in out.stderr
    assert "Warp" not in out.stdout.replace(str(cache), "")


# -- 5. orderings ----------------------------------------------------------------------------
def test_5_orderings_are_symmetry_distinct_and_ranked_by_ewald_energy(tmp_path):
    """Y -> Y/Zr (one of two Y sites) in a 1x1x2 Li3YCl6 cell; Zr4+ is compensated by one Li
    vacancy of six. Every kept arrangement is distinct under the parent's symmetry, ranked
    by point-charge Ewald energy (checked independently with pymatgen's EwaldSummation),
    and the rank and energy are stored with the candidate."""
    from pymatgen.analysis.ewald import EwaldSummation
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Structure

    from screening.flows.stages import generate_stage
    from screening.generate.enumerate import Enumerator
    from screening.generate.parents import load_prototypes
    from screening.schemas.campaign import load_campaign
    from screening.store import ResultStore

    cell = Structure.from_file(PROTO)
    cell.make_supercell([1, 1, 2])
    cif = tmp_path / "Li6Y2Cl12.cif"
    cell.to(filename=str(cif))
    camp = write_campaign(
        tmp_path,
        prototypes=[{"path": str(cif)}],
        substitutions={"Y": ["Y", "Zr"]},
        mixing={"max_species_per_site": 2, "fractions": [0.5], "max_orderings": 8},
        compensation={"enabled": True, "max_orderings": 6},
    )
    spec = load_campaign(camp)
    enum = Enumerator(spec, load_prototypes(spec))
    generate_stage(spec, ResultStore())
    docs = sorted(
        ResultStore().db["candidates"].find({"substitution": {"$regex": "Y>Y:Zr1"}}),
        key=lambda d: d["ordering"],
    )
    n_raw = 2 * 6  # which Y becomes Zr x which Li goes
    assert 1 < len(docs) < n_raw  # symmetry-equivalent arrangements were dropped
    structures = [Structure.from_dict(d["structure"]) for d in docs]
    groups = StructureMatcher(scale=False, attempt_supercell=False).group_structures(structures)
    assert len(groups) == len(structures)  # no two kept arrangements are equivalent

    def ewald(s: Structure) -> float:
        s = s.copy()
        s.add_oxidation_state_by_element({"Li": 1, "Y": 3, "Zr": 4, "Cl": -1})
        return EwaldSummation(s).total_energy

    energies = [ewald(s) for s in structures]
    assert energies == sorted(energies)  # rank 0 is the lowest electrostatic energy
    rel = [d["ordering_ewald_ev"] for d in docs]
    assert rel[0] == 0.0 and rel == sorted(rel)
    # the stored energy above the lowest is the same difference (cells differ only by volume
    # scaling, which multiplies every Ewald energy by the same factor)
    scale = (structures[0].volume / cell.volume) ** (1 / 3)
    assert rel[-1] == pytest.approx((energies[-1] - energies[0]) * scale, rel=1e-3)
    # cached: one Ewald matrix per prototype, one ranking per charge pattern (Y->Zr and a
    # hypothetical Y->Hf share it), reused when the space is streamed again
    first = [r.candidate_id for r in enum]
    n_cached = len(enum._orderings)
    assert [r.candidate_id for r in enum] == first and len(enum._orderings) == n_cached
    assert "phi" in enum._rankers[0].__dict__
    # sizing (--count) does no Ewald work and gives the upper bound min(max, C(n, k))
    sizing = Enumerator(spec, load_prototypes(spec))
    sizing.count()
    assert len(sizing._orderings) == 0 and "phi" not in sizing._rankers[0].__dict__


# -- 8. rlaunch workers find the models without exports ----------------------------------------
def test_8_rlaunch_worker_takes_models_dir_from_the_launchpad_file(tmp_path, tensornet):
    models = os.environ["SCREENING_MODELS_DIR"]
    env = env_for(tmp_path / "data")
    camp = write_campaign(
        tmp_path,
        substitutions={"Y": ["Y"], "Cl": ["Cl"]},
        funnel={"top_k_md": 0, "relax_max_steps": 5},
    )
    run([SCREENING, "campaign", "submit", camp], env=env, cwd=tmp_path)
    run([SCREENING, "db", "launchpad-file", "my_launchpad.yaml"], env=env, cwd=tmp_path)
    carried = yaml.safe_load((tmp_path / "my_launchpad.yaml").read_text())["screening_env"]
    assert carried["SCREENING_MODELS_DIR"] == str(Path(models).resolve())
    bare = {
        k: v
        for k, v in env.items()
        if k not in ("SCREENING_MODELS_DIR", "SCREENING_DATA_DIR", "MONGOMOCK_SERVERSTORE_FILE")
    }
    run([BIN / "rlaunch", "-l", "my_launchpad.yaml", "rapidfire"], env=bare, cwd=tmp_path)
    fws = json.loads(
        run(
            [BIN / "lpad", "-l", "my_launchpad.yaml", "get_fws", "-d", "more"],
            env=bare,
            cwd=tmp_path,
        ).stdout
    )
    states = {f["name"]: f["state"] for f in fws}
    assert states["relax 1/1"] == "COMPLETED", states
    from screening.store import ResultStore, backend

    backend.forget_embedded()
    doc = ResultStore(read_only=True).db["candidates"].find_one()
    assert doc["relax"]["provenance"]["model"]["weights_path"].startswith(
        str(Path(models).resolve())
    )


# -- 10. progress ----------------------------------------------------------------------------
def test_10_campaign_run_estimates_md_time_and_shows_each_temperature(tmp_path, tensornet):
    camp = write_campaign(
        tmp_path,
        substitutions={"Y": ["Y", "Sc"], "Cl": ["Cl"]},
        funnel={
            "top_k_md": 2,
            "relax_max_steps": 5,
            "md_steps": 20,
            "md_temperatures_k": [800, 1000],
            "md_max_atoms": 20,
        },
    )
    out = run([SCREENING, "campaign", "run", camp], env=env_for(tmp_path / "data"))
    text = out.stdout + out.stderr
    eta = next(ln for ln in text.splitlines() if ln.startswith("md: 2 candidate(s) x"))
    steps = 2 * (20 + 20)  # two temperatures x (equilibration + production)
    assert f"x {steps} steps; one step of" in eta and "min in total" in text
    assert "md + diffusion (2 x 2 temperatures)" in text and "4/4" in text
    assert text.index("md: 2 candidate(s)") < text.index("md + diffusion (2 x 2")
    times = next(ln for ln in text.splitlines() if ln.startswith("stage times:"))
    assert "generate" in times and "relax" in times and "md " in times


# -- 12. FireWorks categories --------------------------------------------------------------------
def test_12_gpu_category_reaches_every_model_bound_fan_out(tmp_path):
    """Chunk names are checked end to end in tests/test_flows.py (rlaunch + lpad)."""
    from screening.flows.makers import FanOutMaker, ScreeningFlowMaker

    camp = write_campaign(tmp_path, funnel={"screen_temperature_k": 900, "screen_steps": 1000})
    flow = ScreeningFlowMaker(gpu_category="h100").make(str(camp))
    fan = {j.name: j.function.__self__ for j in flow.jobs if j.name.endswith("fan-out")}
    assert set(fan) == {"generate fan-out", "relax fan-out", "screen fan-out", "md fan-out"}
    assert all(isinstance(m, FanOutMaker) for m in fan.values())
    assert {n: m.category for n, m in fan.items()} == {
        "generate fan-out": "",  # no prescreen: generation needs no model (any worker)
        "relax fan-out": "h100",
        "screen fan-out": "h100",
        "md fan-out": "h100",
    }


def test_help_imports_no_heavy_library(tmp_path):
    """`screening --help` (and any command's --help) stays light: no torch, ASE, scipy,
    pymatgen, FireWorks or jobflow import."""
    code = (
        "import sys\n"
        "from screening.cli.main import app\n"
        "for argv in (['--help'], ['diffusion', '--help'], ['campaign', 'run', '--help']):\n"
        "    try:\n"
        "        app(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('torch', 'ase', 'scipy', 'pymatgen', 'fireworks', 'jobflow', 'matgl')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = run([sys.executable, "-c", code], env=env_for(tmp_path / "d"))
    assert out.stdout.strip().splitlines()[-1] == "[]"
