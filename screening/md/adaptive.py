"""Adaptive MD length: extend a run in segments until N_eff reaches a target."""

from __future__ import annotations

import time

from pymatgen.core import Structure

from screening.analysis.diffusion import DiffusionAnalysis, analyse_trajectory
from screening.md.nvt import MDBlowUp, MDSession
from screening.mlff.registry import LoadedModel
from screening.schemas.results import MDResult
from screening.schemas.trajectory import MDTrajectory


def run_adaptive(
    structure: Structure,
    model: LoadedModel,
    *,
    temperature_k: float,
    mobile_ion: str = "Li",
    segment_steps: int = 1000,
    max_steps: int = 20000,
    target_n_eff: float = 30.0,
    equilibration_steps: int = 200,
    min_n_eff: float = 20.0,
    **md_options,
) -> tuple[MDResult, MDTrajectory, DiffusionAnalysis | None]:
    """Run MD in segments of ``segment_steps`` until N_eff >= ``target_n_eff`` or
    ``max_steps``; every segment is kept and analysed together.

    Parameters
    ----------
    structure, model, temperature_k, mobile_ion
        As in :func:`screening.md.run_md`.
    segment_steps : int
        Steps per segment (a multiple of the stride).
    max_steps : int
        Hard cap on production steps.
    target_n_eff : float
        Stop once the effective number of jumps reaches this.
    equilibration_steps : int
        Unrecorded steps before the first segment.
    min_n_eff : float
        Below this N_eff the analysis reports ``insufficient_sampling``.
    **md_options
        Passed to :class:`screening.md.MDSession` (timestep_fs, stride, thermostat, ...).

    Returns
    -------
    tuple
        (MDResult over all segments, the whole compact trajectory, its diffusion analysis or
        None when fewer than 3 frames were recorded).
    """
    if segment_steps < 1 or max_steps < segment_steps or target_n_eff <= 0:
        raise ValueError("need 1 <= segment_steps <= max_steps and target_n_eff > 0")
    t0 = time.perf_counter()
    session = MDSession(structure, model, temperature_k, mobile_ion, **md_options)
    failure = None
    analysis = None
    try:
        session.equilibrate(equilibration_steps)
        while session.steps_done < max_steps:
            session.run(min(segment_steps, max_steps - session.steps_done))
            traj = session.trajectory()
            analysis = analyse_trajectory(
                traj, temperature_k=float(traj.temperature_k.mean()), min_n_eff=min_n_eff
            )
            if analysis.result.n_eff >= target_n_eff:
                break
    except MDBlowUp as exc:
        failure = str(exc)
    result = session.result(time.perf_counter() - t0, failure)
    traj = session.trajectory()
    if (analysis is None or failure) and len(traj.time_fs) >= 3:
        analysis = analyse_trajectory(traj, temperature_k=temperature_k, min_n_eff=min_n_eff)
    return result, traj, analysis
