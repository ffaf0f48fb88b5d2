"""Positions + cell relaxation (FIRE on a Frechet cell filter), one or many structures.

Many structures advance together: at every step the still-active ones are evaluated in one
batched model call (:func:`screening.mlff.batch.evaluate`), then each takes its own FIRE step.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
from threadpoolctl import threadpool_limits

from screening.mlff.batch import evaluate
from screening.mlff.memory import atom_budget, check_atoms
from screening.mlff.registry import LoadedModel
from screening.schemas.provenance import Provenance
from screening.schemas.results import RELAX_FMAX_EV_A, RelaxResult

logger = logging.getLogger(__name__)


MIN_DISTANCE_A = 0.5  # same threshold as MD's blow-up check


def closest_pair_a(atoms) -> float | None:
    """Shortest interatomic distance (periodic images included) if below MIN_DISTANCE_A."""
    from ase.neighborlist import neighbor_list

    d = neighbor_list("d", atoms, MIN_DISTANCE_A)
    return float(d.min()) if len(d) else None


def _check(fmax: float, max_steps: int) -> None:
    if not fmax > 0:
        raise ValueError(f"fmax must be > 0 eV/Å, got {fmax}")
    if max_steps < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")


def relax_batch(
    structures: Sequence[Structure],
    model: LoadedModel,
    *,
    fmax: float = RELAX_FMAX_EV_A,
    max_steps: int = 300,
    relax_cell: bool = True,
    batch_size: int = 16,
    progress_every: int = 0,
) -> list[RelaxResult]:
    """Relax several structures together with batched model calls.

    Parameters
    ----------
    structures : sequence of pymatgen Structure
        Ordered structures.
    model : LoadedModel
        The MLFF.
    fmax : float
        Convergence threshold on the largest (generalised) force, eV/Å.
    max_steps : int
        FIRE steps per structure; reaching it is a status (``converged=False``), not an error.
    relax_cell : bool
        Relax the cell too (Frechet cell filter, hydrostatic pressure 0).
    batch_size : int
        Structures per model call.
    progress_every : int
        Log (INFO, and to stderr from the CLI) every this many steps; 0: never.

    Returns
    -------
    list of RelaxResult
        In input order.
    """
    _check(fmax, max_steps)
    for k, s in enumerate(structures):  # before any model call: one line, not an OOM kill
        check_atoms(len(s), f"structure {k} ({s.composition.reduced_formula})")
    if (budget := atom_budget()) is not None and structures:
        largest = max(len(s) for s in structures)
        batch_size = max(1, min(batch_size, budget // largest))
    with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        # the cell filter's matrix logarithm warns on nearly singular steps; the optimizer
        # recovers and convergence is judged on the forces, so it is not the user's concern
        warnings.filterwarnings("ignore", "logm result may be inaccurate", RuntimeWarning)
        return _relax_batch(
            structures, model, fmax, max_steps, relax_cell, batch_size, progress_every
        )


def _relax_batch(
    structures, model, fmax, max_steps, relax_cell, batch_size, progress_every
) -> list[RelaxResult]:
    # BLAS is limited to one thread by the caller: the optimizer's small numpy/scipy calls
    # otherwise leave OpenBLAS threads spinning against torch's (measured: 1.7x slower).
    t0 = time.perf_counter()
    atoms = [AseAtomsAdaptor.get_atoms(s) for s in structures]
    v0 = [a.get_volume() for a in atoms]
    movable = [FrechetCellFilter(a) if relax_cell else a for a in atoms]
    opts = [FIRE(m, logfile=None) for m in movable]
    n = len(atoms)
    steps = [0] * n
    done: dict[int, tuple[float, float, bool]] = {}
    failure: dict[int, str] = {}
    for i, a in enumerate(atoms):
        if (d := closest_pair_a(a)) is not None:
            failure[i] = f"atoms {d:.3f} Å apart in the input (< {MIN_DISTANCE_A} Å): not relaxed"
    active = list(range(n))
    while active:
        evals = evaluate([atoms[i] for i in active], model, batch_size=batch_size)
        still = []
        for i, ev in zip(active, evals, strict=True):
            atoms[i].calc = SinglePointCalculator(
                atoms[i], energy=ev.energy_ev, forces=ev.forces_ev_a, stress=ev.stress_ev_a3
            )
            f = movable[i].get_forces()
            fmax_now = float(np.sqrt((f**2).sum(axis=1)).max())
            stop = fmax_now < fmax or steps[i] >= max_steps or not np.isfinite(fmax_now)
            if stop or i in failure:
                done[i] = (ev.energy_ev, fmax_now, fmax_now < fmax)
                continue
            opts[i].step()
            steps[i] += 1
            if progress_every and steps[i] % progress_every == 0:
                logger.warning(
                    "relaxing %s: step %d/%d, fmax %.3f eV/Å",
                    structures[i].formula,
                    steps[i],
                    max_steps,
                    fmax_now,
                )
            still.append(i)
        active = still
    wall = (time.perf_counter() - t0) / max(n, 1)
    info = model.info()
    results = []
    for i, a in enumerate(atoms):
        energy, fmax_final, converged = done[i]
        a.calc = None
        if i not in failure and (d := closest_pair_a(a)) is not None:
            failure[i] = f"atoms {d:.4f} Å apart after relaxation (< {MIN_DISTANCE_A} Å)"
        if i in failure:
            logger.warning("relaxation of %s failed: %s", structures[i].formula, failure[i])
        structure = AseAtomsAdaptor.get_structure(a)
        results.append(
            RelaxResult(
                status="failed" if i in failure else "completed",
                failure_reason=failure.get(i),
                structure=structure.as_dict(),
                energy_ev=energy,
                energy_per_atom_ev=energy / len(a),
                volume_initial_a3=v0[i],
                volume_final_a3=structure.volume,
                volume_change_frac=(structure.volume - v0[i]) / v0[i],
                max_force_ev_a=fmax_final,
                n_steps=steps[i],
                converged=converged and i not in failure,
                is_force_converged=converged and i not in failure,
                wall_time_s=wall,
                forcefield_name=model.name,
                forcefield_version=info.version,
                provenance=Provenance(model=info),
            )
        )
    return results


def relax_structure(
    structure: Structure,
    model: LoadedModel,
    *,
    fmax: float = RELAX_FMAX_EV_A,
    max_steps: int = 300,
    relax_cell: bool = True,
    progress_every: int = 0,
) -> RelaxResult:
    """Relax one structure (see :func:`relax_batch` for the parameters)."""
    return relax_batch(
        [structure],
        model,
        fmax=fmax,
        max_steps=max_steps,
        relax_cell=relax_cell,
        batch_size=1,
        progress_every=progress_every,
    )[0]
