"""Prescreen and sharded generation: energy-only single points (same energies as the full
call), the cut inside each shard (set-aside candidates are counts, not documents), and a
2-shard campaign whose counts add up and whose rerun writes nothing (real model, 10-atom
cells)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from conftest import REPO, rocksalt


def test_energy_only_call_gives_the_full_calls_energies(tensornet):
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.mlff.batch import evaluate, evaluate_energies

    atoms = [AseAtomsAdaptor.get_atoms(rocksalt(a)) for a in (4.9, 5.13, 5.4)]
    full = np.array([e.energy_ev for e in evaluate(atoms, tensornet)])
    assert np.allclose(evaluate_energies(atoms, tensornet, batch_size=2), full, atol=1e-4)
    # forces are on again afterwards (flags restored): a displaced atom feels one
    moved = atoms[0].copy()
    moved.positions[0] += [0.2, 0.0, 0.0]
    assert np.abs(evaluate([moved], tensornet)[0].forces_ev_a).max() > 0.1


REFS = ("Li_bcc", "Y_hcp", "Sc_hcp", "Cl2_Cmca", "Br2_Cmca", "LiCl_rocksalt", "LiBr_rocksalt")
REFS += ("YCl3_layered", "YBr3_layered", "ScCl3_layered", "ScBr3_layered")


def campaign(tmp_path, **funnel):
    refs = tmp_path / "refs"  # the phases of Li-(Y,Sc)-(Cl,Br) only: fewer to relax
    refs.mkdir(exist_ok=True)
    for name in REFS:
        src = REPO / "workflows" / "references" / "li-halides" / f"{name}.cif"
        (refs / src.name).write_bytes(src.read_bytes())
    doc = {
        "name": "pre",
        "mobile_ion": "Li",
        "prototypes": [{"path": str(REPO / "workflows" / "prototypes" / "Li3YCl6.cif")}],
        "substitutions": {"Y": ["Y", "Sc"], "Cl": ["Cl", "Br"]},
        "references": str(refs),
        "funnel": {"chunk_size": 3, "relax_max_steps": 30, "top_k_md": 0, **funnel},
    }
    path = tmp_path / "pre.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_two_shards_with_prescreen_store_survivors_only_and_rerun_writes_nothing(
    tmp_path, tensornet
):
    from screening.flows.funnel import FUNNEL, active
    from screening.flows.local import run_campaign
    from screening.flows.shards import generate_shards, shard_keys
    from screening.schemas.campaign import load_campaign
    from screening.store import ResultStore
    from screening.store.ranking import campaign_status

    # 2 x 2 substitution maps in shards of 2 maps: two shards of 2 candidates each
    spec = load_campaign(campaign(tmp_path, shard_maps=2, prescreen_keep_fraction=0.5))
    assert [s.name for s in active(FUNNEL, spec)] == ["generate", "relax", "md"]
    store = ResultStore()
    assert shard_keys(store, spec) == ["0:0:2", "0:2:4"]
    run_campaign(spec, store, tensornet)
    docs = {d["_id"]: d for page in store.candidates("pre").pages() for d in page}
    shards = {d["key"]: d for d in store.db["shards"].find({"campaign": "pre"})}
    assert set(shards) == {"0:0:2", "0:2:4"}
    for sh in shards.values():  # ceil(0.5 x 2) = 1 kept per shard, 1 set aside
        assert (sh["enumerated"], sh["passed"], sh["prescreened"], sh["stored"]) == (2, 2, 2, 1)
        assert sh["rejected_by_reason"] == {"prescreen": 1}
    assert len(docs) == 2  # survivors only
    assert all(d["prescreen"]["e_hull_vs_references"] for d in docs.values())
    assert all(d.get("relax") and d["stage"] == "done" for d in docs.values())
    counts = campaign_status(store, "pre")["counts"]
    assert counts["enumerated"] == counts["passed_filters"] == counts["prescreened"] == 4
    assert counts["rejected_by_prescreen"] == 2 and counts["stored"] == 2
    assert (counts["shards_done"], counts["shards_total"]) == (2, 2)
    # a rerun of both shards: same ids, nothing written, relaxed documents untouched
    before = {i: (d["stage"], d["updated_at"]) for i, d in docs.items()}
    out = generate_shards(["0:0:2", "0:2:4"], store, tensornet, spec)
    assert out == {"shards": 2, "stored": 2, "written": 0}
    after = {
        d["_id"]: (d["stage"], d["updated_at"]) for p in store.candidates("pre").pages() for d in p
    }
    assert after == before
    assert campaign_status(store, "pre")["counts"]["enumerated"] == 4  # replaced, not added

    # without a prescreen setting everything passing the filters is stored and relaxed
    plain = load_campaign(campaign(tmp_path))
    assert not plain.funnel.prescreen


def test_array_builder_gives_the_pymatgen_builders_cells():
    """Mixed sites, Li vacancies (Zr4+ compensation) and volume scaling: the array path and
    build_structure give the same species, coordinates and lattice for every candidate."""
    from screening.generate.arrays import ArrayBuilder, to_atoms, to_structure
    from screening.generate.enumerate import Enumerator, build_structure
    from screening.generate.parents import load_prototypes
    from screening.schemas.campaign import CampaignSpec

    spec = CampaignSpec.model_validate(
        {
            "name": "arrays",
            "mobile_ion": "Li",
            "prototypes": [{"path": str(REPO / "workflows" / "prototypes" / "Li3YCl6.cif")}],
            "substitutions": {"Y": ["Y", "Sc", "Zr"], "Cl": ["Cl", "Br"]},
            "mixing": {"max_species_per_site": 2, "fractions": [0.5], "max_orderings": 3},
            "compensation": {"enabled": True, "max_orderings": 2},
        }
    )
    enum = Enumerator(spec, load_prototypes(spec))
    refs = list(enum)
    builder = ArrayBuilder(enum)
    assert any(r.removed_mobile for r in refs) and any(len(o) == 3 for r in refs for o in r.options)
    for r in refs:
        s, c = build_structure(r, enum), builder.build(r)
        assert tuple(x.symbol for x in s.species) == c.species
        assert np.allclose(s.frac_coords, c.frac) and np.allclose(s.lattice.matrix, c.lattice)
        assert to_structure(c) == s
        assert np.isclose(to_atoms(c).get_volume(), s.volume)


def test_extended_hull_equals_a_rebuilt_one_and_keeps_untouched_diagrams():
    """Fixed energies, no model: a hull extended with a new system's phases gives the
    E_hull of one built from all phases at once, and keeps the diagrams it need not redo."""
    from pymatgen.analysis.phase_diagram import PDEntry
    from pymatgen.core import Composition

    from screening.stability.hull import HullEstimator

    def e(formula, per_atom):
        c = Composition(formula)
        return PDEntry(c, per_atom * c.num_atoms)

    li_cl = [e("Li", -1.9), e("Cl2", -1.8), e("LiCl", -3.4)]
    y_cl = [e("Y", -6.4), e("Cl2", -1.8), e("YCl3", -4.5), e("Li3YCl6", -4.1)]
    grown = HullEstimator(li_cl)
    assert grown.e_above_hull(Composition("LiCl"), -3.3 * 2) == pytest.approx(0.1)
    kept = grown._diagrams[("Cl", "Li")]
    grown.extend([*li_cl, *y_cl])  # the Li-Cl phases again: skipped
    assert len(grown.references) == 6
    assert grown._diagrams[("Cl", "Li")] is kept  # no new Li-Cl phase: not rebuilt
    whole = HullEstimator([*li_cl, *y_cl])
    for formula, per_atom in (("Li3YCl6", -4.0), ("LiYCl4", -4.0), ("Li6YCl9", -3.9)):
        comp = Composition(formula)
        energy = per_atom * comp.num_atoms
        assert grown.e_above_hull(comp, energy) == pytest.approx(whole.e_above_hull(comp, energy))
    grown.extend([e("Li2Cl2", -3.5)])  # a new Li-Cl phase: that diagram is rebuilt
    assert grown.e_above_hull(Composition("LiCl"), -3.3 * 2) == pytest.approx(0.2)
