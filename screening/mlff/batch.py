"""Energies, forces and stresses for a *list* of structures in as few model calls as possible.

matgl: graphs are batched with PyG's ``Batch`` and evaluated in one forward/backward pass.
CHGNet: ``CHGNet.predict_structure(structures, batch_size=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms, units

from screening.mlff.registry import LoadedModel


@dataclass(frozen=True)
class Evaluation:
    """One structure's MLFF result.

    Attributes
    ----------
    energy_ev : float
        Total energy, eV.
    forces_ev_a : np.ndarray
        Forces, shape (n_atoms, 3), eV/Å.
    stress_ev_a3 : np.ndarray
        Stress in ASE convention (Voigt order xx, yy, zz, yz, xz, xy), shape (6,), eV/Å^3.
    """

    energy_ev: float
    forces_ev_a: np.ndarray
    stress_ev_a3: np.ndarray


def _voigt(s: np.ndarray) -> np.ndarray:
    return np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])


def _matgl_inputs(atoms_list: Sequence[Atoms], potential) -> tuple:
    """(batched graph, lattices (n, 3, 3), state attributes) for a matgl ``Potential``."""
    import torch
    from torch_geometric.data import Batch

    try:
        from matgl.ext.ase import Atoms2Graph
    except ImportError:  # matgl < 2.1 (the GPU path without Warp) keeps it in _ase_pyg
        from matgl.ext._ase_pyg import Atoms2Graph

    converter = Atoms2Graph(potential.model.element_types, potential.model.cutoff)
    graphs, lattices, states = [], [], []
    for atoms in atoms_list:
        g, lat, state = converter.get_graph(atoms)
        graphs.append(g)
        lattices.append(torch.as_tensor(lat, dtype=torch.float32).reshape(3, 3))
        states.append(np.asarray(state, dtype=np.float32).reshape(-1))
    return Batch.from_data_list(graphs), torch.stack(lattices), torch.as_tensor(np.stack(states))


def _evaluate_matgl(
    atoms_list: Sequence[Atoms], model: LoadedModel, batch_size: int
) -> list[Evaluation]:
    potential = model.backend
    energies, forces, stresses, _ = potential(*_matgl_inputs(atoms_list, potential))
    energies = energies.detach().cpu().numpy().reshape(-1)
    forces = forces.detach().cpu().numpy()
    # matgl returns GPa; ASE wants eV/Å^3 (same sign convention).
    stresses = stresses.detach().cpu().numpy().reshape(-1, 3, 3) * units.GPa
    out, start = [], 0
    for i, atoms in enumerate(atoms_list):
        n = len(atoms)
        out.append(Evaluation(float(energies[i]), forces[start : start + n], _voigt(stresses[i])))
        start += n
    return out


def _evaluate_chgnet(atoms_list: Sequence[Atoms], model: LoadedModel, batch_size: int):
    from pymatgen.io.ase import AseAtomsAdaptor

    structures = [AseAtomsAdaptor.get_structure(a) for a in atoms_list]
    preds = model.backend.predict_structure(structures, task="efs", batch_size=batch_size)
    if isinstance(preds, dict):
        preds = [preds]
    return [
        Evaluation(
            float(p["e"]) * len(a),
            np.asarray(p["f"], dtype=float),
            _voigt(np.asarray(p["s"], dtype=float) * units.GPa),
        )
        for p, a in zip(preds, atoms_list, strict=True)
    ]


def _energies_matgl(atoms_list: Sequence[Atoms], model: LoadedModel) -> np.ndarray:
    import torch

    potential = model.backend
    inputs = _matgl_inputs(atoms_list, potential)
    flags = potential.calc_forces, potential.calc_stresses
    potential.calc_forces = potential.calc_stresses = False  # no backward pass
    try:
        with torch.no_grad():
            energies = potential(*inputs)[0]
    finally:
        potential.calc_forces, potential.calc_stresses = flags
    return energies.detach().cpu().numpy().reshape(-1).astype(float)


def _energies_chgnet(atoms_list: Sequence[Atoms], model: LoadedModel) -> np.ndarray:
    from pymatgen.io.ase import AseAtomsAdaptor

    structures = [AseAtomsAdaptor.get_structure(a) for a in atoms_list]
    preds = model.backend.predict_structure(structures, task="e", batch_size=len(structures))
    if isinstance(preds, dict):
        preds = [preds]
    return np.array([float(p["e"]) * len(a) for p, a in zip(preds, atoms_list, strict=True)])


def evaluate_energies(
    atoms_list: Sequence[Atoms], model: LoadedModel, *, batch_size: int = 64
) -> np.ndarray:
    """Total energies only (no forces, no stress: the backward pass is skipped), in as few
    model calls as possible: the prescreen's single points.

    Parameters
    ----------
    atoms_list : sequence of ase.Atoms
        Periodic structures (any sizes).
    model : LoadedModel
        From :func:`screening.mlff.load_model`.
    batch_size : int, keyword-only
        Structures per model call (>= 1).

    Returns
    -------
    np.ndarray
        Total energies, eV, shape (len(atoms_list),), in input order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    parts = [
        _ENERGY_EVALUATORS[model.package](atoms_list[i : i + batch_size], model)
        for i in range(0, len(atoms_list), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def evaluate(
    atoms_list: Sequence[Atoms], model: LoadedModel, *, batch_size: int = 16
) -> list[Evaluation]:
    """Evaluate many structures, ``batch_size`` at a time.

    Parameters
    ----------
    atoms_list : sequence of ase.Atoms
        Periodic structures (any sizes).
    model : LoadedModel
        From :func:`screening.mlff.load_model`.
    batch_size : int, keyword-only
        Structures per model call (>= 1).

    Returns
    -------
    list of Evaluation
        In input order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    out: list[Evaluation] = []
    for start in range(0, len(atoms_list), batch_size):
        chunk = atoms_list[start : start + batch_size]
        out.extend(_EVALUATORS[model.package](chunk, model, batch_size))
    return out


_EVALUATORS = {"matgl": _evaluate_matgl, "chgnet": _evaluate_chgnet}
_ENERGY_EVALUATORS = {"matgl": _energies_matgl, "chgnet": _energies_chgnet}
"""Batched evaluation per implementing package (the same keys as the ASE calculators;
LoadedModel refuses a package without an adapter)."""
