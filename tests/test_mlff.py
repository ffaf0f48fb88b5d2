"""MLFF layer with the real models on tiny cells (issue: foundation)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import rocksalt
from pymatgen.io.ase import AseAtomsAdaptor

from screening.mlff import ModelLoadError, evaluate, load_model, relax_batch, relax_structure
from screening.mlff.registry import sha256_of
from screening.settings import get_settings


def _energy_per_atom(structure, model) -> float:
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = model.calculator()
    return atoms.get_potential_energy() / len(atoms)


def test_tensornet_licl_reference_energy(tensornet, licl):
    assert _energy_per_atom(licl, tensornet) == pytest.approx(-3.6715, abs=0.002)


def test_tensornet_relaxes_licl_to_equilibrium(tensornet):
    res = relax_structure(rocksalt(5.40), tensornet, fmax=0.01, max_steps=200)
    a = res.structure["lattice"]["a"]
    assert res.converged
    assert abs(a - 5.13) / 5.13 < 0.01
    assert res.volume_change_frac < -0.1  # shrank from 5.40 Å
    assert res.energy_per_atom_ev < _energy_per_atom(rocksalt(5.40), tensornet)


def test_chgnet_licl_reference_energy_and_relaxation(chgnet_model, licl):
    assert _energy_per_atom(licl, chgnet_model) == pytest.approx(-3.98, abs=0.01)
    res = relax_structure(rocksalt(5.40), chgnet_model, fmax=0.01, max_steps=200)
    assert res.converged
    assert abs(res.structure["lattice"]["a"] - 5.13) / 5.13 < 0.015


def _eight_structures():
    out = [rocksalt(5.13), rocksalt(5.30), rocksalt(5.64, "Na"), rocksalt(5.50, "Li", "Br")]
    out.append(rocksalt(5.13) * (2, 1, 1))
    strained = rocksalt(5.13)
    strained.apply_strain([0.02, -0.01, 0.0])
    out.append(strained)
    rattled = rocksalt(5.13)
    rattled.perturb(0.1, min_distance=0.05)
    out.append(rattled)
    out.append(rocksalt(5.0, "Na", "Cl"))
    return out


@pytest.mark.parametrize("model_fixture", ["tensornet", "chgnet_model"])
def test_batched_equals_serial(model_fixture, request):
    model = request.getfixturevalue(model_fixture)
    atoms = [AseAtomsAdaptor.get_atoms(s) for s in _eight_structures()]
    batched = evaluate(atoms, model, batch_size=8)
    serial = [evaluate([a], model, batch_size=1)[0] for a in atoms]
    for a, b, s in zip(atoms, batched, serial, strict=True):
        assert abs(b.energy_ev - s.energy_ev) / len(a) < 1e-4
        assert np.allclose(b.forces_ev_a, s.forces_ev_a, atol=1e-3)
        assert np.allclose(b.stress_ev_a3, s.stress_ev_a3, atol=1e-4)
    # the batch must also agree with the plain ASE calculator
    a0 = atoms[6].copy()
    a0.calc = model.calculator()
    assert abs(a0.get_potential_energy() - batched[6].energy_ev) / len(a0) < 1e-4


def test_batched_relaxation_matches_single(tensornet):
    starts = [rocksalt(5.40), rocksalt(5.9, "Na"), rocksalt(5.2, "Li", "Br")]
    batch = relax_batch(starts, tensornet, fmax=0.02, max_steps=200)
    for s, b in zip(starts, batch, strict=True):
        single = relax_structure(s, tensornet, fmax=0.02, max_steps=200)
        assert b.converged and single.converged
        assert b.n_steps == single.n_steps
        assert b.energy_per_atom_ev == pytest.approx(single.energy_per_atom_ev, abs=1e-4)


def test_unconverged_is_a_status_not_an_error(tensornet):
    res = relax_structure(rocksalt(5.6), tensornet, fmax=1e-4, max_steps=3)
    assert res.n_steps == 3
    assert not res.converged and not res.is_force_converged


def test_provenance_and_cache(tensornet):
    info = tensornet.info()
    assert info.name == "tensornet-matpes-pbe"
    assert info.version == "2.2.0"
    assert info.weights_sha256 == sha256_of(tensornet.weights_path)
    assert len(info.weights_sha256) == 64
    assert load_model("tensornet-matpes-pbe", device="cpu") is tensornet


def test_unknown_model_and_missing_weights_fail_clearly(tmp_path, monkeypatch):
    with pytest.raises(ModelLoadError, match="unknown model 'nope'"):
        load_model("nope")
    monkeypatch.setenv("SCREENING_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr("screening.mlff.registry.is_online", lambda host="": False)
    get_settings.cache_clear()
    with pytest.raises(ModelLoadError) as err:
        load_model("tensornet-matpes-pbe", device="cpu")
    msg = str(err.value)
    assert str(tmp_path) in msg and "SCREENING_MODELS_DIR" in msg and "--model chgnet" in msg


def test_unknown_package_is_refused_not_run_as_chgnet(tmp_path):
    """Every MLFF goes through its package's adapter; a package without one is an error."""
    from screening.mlff.registry import LoadedModel, ModelLoadError

    weights = tmp_path / "w.pt"
    weights.write_bytes(b"0")
    with pytest.raises(ModelLoadError, match="package 'torchani' has no adapter"):
        LoadedModel(
            name="ani", package="torchani", backend=None, weights_path=weights, device="cpu"
        )


def test_device_hook_moves_every_input_and_keeps_energies(tensornet, licl):
    """The pre-hook registered for a GPU (matgl builds graphs on the CPU) moves a Potential's
    inputs, numpy state attributes included, to the model's device; exercised here with the
    CPU as target: the same energy through the hooked module. On a GPU: bench/gpu.sh (same
    LiCl energy on cuda, bench/results/h100-2026-11-26)."""
    import torch

    from screening.mlff.batch import _matgl_inputs
    from screening.mlff.registry import _inputs_to

    hook = _inputs_to("cpu")
    graph, lattices, states = _matgl_inputs([AseAtomsAdaptor.get_atoms(licl)], tensornet.backend)
    moved = hook(None, (graph, lattices, states.numpy(), None))
    assert isinstance(moved[2], torch.Tensor) and moved[3] is None
    handle = tensornet.backend.register_forward_pre_hook(hook)
    try:
        hooked = evaluate([AseAtomsAdaptor.get_atoms(licl)], tensornet)[0].energy_ev
    finally:
        handle.remove()
    assert hooked == pytest.approx(
        evaluate([AseAtomsAdaptor.get_atoms(licl)], tensornet)[0].energy_ev
    )
