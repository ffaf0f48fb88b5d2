"""MD at several temperatures, each analysed, then one Arrhenius fit, and the one diffusion
document built from them (shared by the CLI, the jobflow DiffusionMaker and the funnel)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pymatgen.core import Structure

from screening.analysis.arrhenius import fit_arrhenius
from screening.analysis.collective import combine_haven, per_cm3
from screening.analysis.diffusion import DiffusionAnalysis, analyse_trajectory
from screening.md.adaptive import run_adaptive
from screening.md.nvt import run_md
from screening.mlff.registry import LoadedModel
from screening.schemas.documents import DiffusionDoc
from screening.schemas.results import (
    ArrheniusResult,
    CollectiveStatus,
    DiffusionResult,
    MDResult,
    SamplingStatus,
)
from screening.schemas.trajectory import MDTrajectory


@dataclass
class TemperatureRun:
    """One temperature: the MD summary, its compact trajectory and the analysis (None if
    the MD failed)."""

    md: MDResult
    trajectory: MDTrajectory
    analysis: DiffusionAnalysis | None

    @property
    def diffusion(self) -> DiffusionResult:
        """The diffusion result; a failed MD gives status ``failed`` and no bound."""
        if self.analysis is not None:
            return self.analysis.result
        return DiffusionResult(
            temperature_k=self.md.temperature_target_k,
            status="failed",
            n_eff=0,
            rsd_empirical=float("inf"),
            simulated_time_ps=0,
            fit_window_ps=(0, 0),
        )


def n_mobile_per_cm3(structure: Structure, mobile_ion: str) -> float:
    """Mobile-ion number density, cm^-3."""
    return per_cm3(structure.composition[mobile_ion], structure.volume)


def diffusion_series(
    structure: Structure,
    model: LoadedModel,
    *,
    temperatures_k: Sequence[float],
    steps: int,
    mobile_ion: str = "Li",
    timestep_fs: float = 2.0,
    equilibration_steps: int = 200,
    stride: int = 5,
    min_n_eff: float = 20.0,
    target_n_eff: float | None = None,
    max_steps: int | None = None,
    on_temperature: Callable[[float], None] | None = None,
    stop_when_molten: bool = False,
    seed: int = 0,
) -> tuple[list[TemperatureRun], ArrheniusResult]:
    """Run MD at each temperature, analyse each run, fit Arrhenius over the sampled ones.

    ``seed`` seeds the velocities and thermostat of the first temperature (the k-th uses
    ``seed + k``). With ``stop_when_molten`` the temperatures run coldest first and a run
    whose framework melted ends the series: a temperature where the candidate melted caps
    every later run.

    With ``target_n_eff`` the length is adaptive: segments of ``steps`` are added until the
    run reaches that many effective jumps or ``max_steps`` production steps (default
    10 x ``steps``); every segment is analysed together (:func:`screening.md.run_adaptive`).
    ``on_temperature(T)`` is called after each temperature is done (progress display).
    """
    runs: list[TemperatureRun] = []
    temps = sorted(temperatures_k) if stop_when_molten else list(temperatures_k)
    for k, t in enumerate(temps):
        if stop_when_molten and runs and runs[-1].diffusion.framework_mobile:
            break
        if target_n_eff is not None:
            md, traj, analysis = run_adaptive(
                structure,
                model,
                temperature_k=t,
                mobile_ion=mobile_ion,
                segment_steps=steps,
                max_steps=max_steps or 10 * steps,
                target_n_eff=target_n_eff,
                equilibration_steps=equilibration_steps,
                min_n_eff=min_n_eff,
                timestep_fs=timestep_fs,
                stride=stride,
                seed=seed + k,
            )
            runs.append(TemperatureRun(md, traj, analysis if md.status != "failed" else None))
            if on_temperature is not None:
                on_temperature(t)
            continue
        md, traj = run_md(
            structure,
            model,
            temperature_k=t,
            steps=steps,
            mobile_ion=mobile_ion,
            timestep_fs=timestep_fs,
            equilibration_steps=equilibration_steps,
            stride=stride,
            seed=seed + k,
        )
        analysis = None
        if md.status != "failed":
            analysis = analyse_trajectory(
                traj, temperature_k=md.temperature_mean_k, min_n_eff=min_n_eff
            )
        runs.append(TemperatureRun(md, traj, analysis))
        if on_temperature is not None:
            on_temperature(t)
    per_t = [r.diffusion for r in runs]
    fit = fit_arrhenius(
        per_t,
        n_mobile_per_cm3=n_mobile_per_cm3(structure, mobile_ion),
        haven=combine_haven(per_t),
    )
    return runs, fit


def msd_curves(runs: Sequence[TemperatureRun]) -> list:
    """One :class:`screening.analysis.plots.MSDPanel` per analysed run (for ``msd_plot``)."""
    from screening.analysis.plots import MSDPanel

    return [
        MSDPanel(
            temperature_target_k=r.md.temperature_target_k,
            temperature_mean_k=r.md.temperature_mean_k,
            tracer=r.analysis.curve,
            collective=r.analysis.collective.curve if r.analysis.collective else None,
            fit_window_ps=tuple(r.analysis.result.fit_window_ps),
        )
        for r in runs
        if r.analysis
    ]


def plot_title(formula: str, label: str, model: str) -> str:
    """Title of a candidate's plots: formula, id (or file) and model."""
    return f"{formula}  {label}  ({model})"


def diffusion_doc(
    runs: Sequence[TemperatureRun], fit: ArrheniusResult, *, n_mobile_per_cm3: float
) -> DiffusionDoc:
    """The ``diffusion`` sub-document of a candidate (and the CLI's / Maker's output)."""
    per_t = [r.diffusion for r in runs]
    haven = combine_haven(per_t)
    states = {r.collective_status for r in per_t}
    overall = next(
        (s for s in (CollectiveStatus.ok, CollectiveStatus.too_noisy) if s in states),
        CollectiveStatus.not_sampled,
    )
    return DiffusionDoc(
        per_temperature=per_t,
        arrhenius=fit,
        haven_ratio=fit.haven_ratio,
        haven_ratio_err=fit.haven_ratio_err,
        haven_status=haven.status,
        collective_status=overall,
        haven_ratio_measured=haven.measured_value,
        haven_ratio_measured_err=haven.measured_err,
        n_mobile_per_cm3=n_mobile_per_cm3,
        at_t_max=scored_temperature(per_t),
        sampling=sampling_summary(per_t, fit),
    )


def scored_temperature(diffusion: Sequence[DiffusionResult]) -> DiffusionResult | None:
    """The hottest usable temperature: not failed, not too_short (a vibrational MSD bounds
    nothing) and framework not molten. None when there is none."""
    usable = [
        d
        for d in diffusion
        if d.status not in (SamplingStatus.failed, SamplingStatus.too_short)
        and not d.framework_mobile
    ]
    return max(usable, key=lambda d: d.temperature_k) if usable else None


def sampling_summary(diffusion: Sequence[DiffusionResult], arrhenius: ArrheniusResult) -> str:
    """One word for the series: ``arrhenius`` (fitted), else the status of the hottest
    usable temperature (``ok``, ``insufficient_sampling``), else why nothing is usable
    (``framework_melting``, ``too_short``, ``failed``)."""
    if arrhenius.status == SamplingStatus.ok:
        return "arrhenius"
    top = scored_temperature(diffusion)
    if top is not None:
        return str(top.status)
    if any(d.framework_mobile for d in diffusion):
        return "framework_melting"
    if any(d.status == SamplingStatus.too_short for d in diffusion):
        return "too_short"
    return "failed"
