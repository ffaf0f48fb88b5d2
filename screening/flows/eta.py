"""How long the MD stage will take, measured before it starts (one timed model call)."""

from __future__ import annotations

import time

from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from screening.flows.md_stage import equilibration_steps, md_cell
from screening.mlff.batch import evaluate
from screening.mlff.registry import LoadedModel
from screening.schemas.campaign import CampaignSpec
from screening.store.results import ResultStore


def md_steps_per_candidate(funnel) -> int:
    """Equilibration + production steps over all temperatures of one full MD series (the
    adaptive cap when MD is adaptive)."""
    f = funnel
    production = f.md_steps if f.md_target_n_eff is None else (f.md_max_steps or 10 * f.md_steps)
    return len(f.md_temperatures_k) * (equilibration_steps(f.md_steps) + production)


def time_force_call(structure: Structure, model: LoadedModel) -> float:
    """Seconds of one force call on ``structure`` (after a warm-up call: kernel
    compilation, allocator): one MD step's cost."""
    atoms = AseAtomsAdaptor.get_atoms(structure)
    evaluate([atoms], model)
    t0 = time.perf_counter()
    evaluate([atoms], model)
    return time.perf_counter() - t0


def time_md_step(relaxed: Structure, model: LoadedModel, max_atoms: int) -> tuple[float, Structure]:
    """Seconds of one force call on the MD cell of ``relaxed`` (:func:`time_force_call`),
    and that cell."""
    cell = md_cell(relaxed, max_atoms)
    return time_force_call(cell, model), cell


def md_eta(ids: list[str], store: ResultStore, model: LoadedModel, spec: CampaignSpec) -> dict:
    """Estimate the MD stage's wall time from one timed force call on the first candidate's
    MD cell (after a warm-up call), times the steps every candidate will run.

    Returns
    -------
    dict
        ``seconds_per_step``, ``atoms`` (of the timed cell), ``steps_per_candidate``
        (equilibration + production over all temperatures; the adaptive cap when MD is
        adaptive) and ``eta_s`` for all of ``ids``; empty without ids.
    """
    if not ids:
        return {}
    doc = store.candidates(spec.name).get(ids[0], fields=("relax.structure",))
    relaxed = Structure.from_dict(doc["relax"]["structure"])
    per_step, cell = time_md_step(relaxed, model, spec.funnel.md_max_atoms)
    steps = md_steps_per_candidate(spec.funnel)
    return {
        "seconds_per_step": per_step,
        "atoms": len(cell),
        "formula": cell.composition.reduced_formula,
        "steps_per_candidate": steps,
        "eta_s": per_step * steps * len(ids),
        "adaptive": spec.funnel.md_target_n_eff is not None,
    }


def md_eta_line(ids: list[str], store: ResultStore, model: LoadedModel, spec: CampaignSpec) -> str:
    """One line before MD starts: what will run and how long it should take."""
    if not ids:
        return ""
    eta = md_eta(ids, store, model, spec)
    per = eta["seconds_per_step"] * eta["steps_per_candidate"]
    store.record_stage_estimate(spec.name, "md", per)  # `campaign status` until MD is timed
    cap = " at most (adaptive cap)" if eta["adaptive"] else ""
    return (
        f"md: {len(ids)} candidate(s) x {eta['steps_per_candidate']:,} steps{cap}; one step of "
        f"{eta['formula']} ({eta['atoms']} atoms) takes {eta['seconds_per_step'] * 1000:.0f} "
        f"ms -> ~{per / 60:.1f} min per candidate, ~{eta['eta_s'] / 60:.1f} min in total"
    )
