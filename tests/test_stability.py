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


def test_ternary_is_not_above_elements_and_halides(tensornet, entries):
    """Li3YCl6 model vs Li, Y, Cl2, LiCl (no YCl3 in the set: see references README)."""
    from pymatgen.core import Structure

    s = Structure.from_file(REFS.parents[1] / "prototypes" / "Li3YCl6.cif")
    r = relax_structure(s, tensornet)
    res = stability_analysis(
        s.composition, r.energy_ev, entries, mobile_ion="Li", forcefield_name=tensornet.name
    )
    assert res.e_hull_ev_per_atom <= 0.0


def test_missing_elemental_reference_is_named(entries):
    from pymatgen.core import Composition

    no_li = [e for e in entries if e.composition.reduced_formula != "Li"]
    with pytest.raises(ScreeningInputError, match="no elemental reference for Li"):
        stability_analysis(Composition("LiCl"), -7.3, no_li, mobile_ion="Li", forcefield_name="x")


def test_reference_cache_is_not_recomputed(tensornet, tmp_path, monkeypatch):
    monkeypatch.setenv("MONGOMOCK_SERVERSTORE_FILE", str(tmp_path / "db.json"))
    from screening.store import backend

    backend._SHARED_STORES.clear()
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
