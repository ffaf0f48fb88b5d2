"""Per-stage result documents. Units are in field names; every field is described.

Where a field overlaps atomate2's ``ForceFieldTaskDocument`` it carries the same name
(``structure``, ``forcefield_name``, ``forcefield_version``, ``is_force_converged``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from screening.schemas.provenance import Provenance


def _as_dict(value: Any) -> Any:
    """A pymatgen object (e.g. a Structure that jobflow decoded) as its ``as_dict()``."""
    return value.as_dict() if hasattr(value, "as_dict") else value


StructureDict = Annotated[dict[str, Any], BeforeValidator(_as_dict)]
"""A pymatgen ``Structure.as_dict()``; a Structure given here is converted."""


class MDStatus(StrEnum):
    """Outcome of one MD run."""

    completed = "completed"
    failed = "failed"


class SamplingStatus(StrEnum):
    """Whether a diffusivity is statistically meaningful."""

    ok = "ok"
    insufficient_sampling = "insufficient_sampling"
    too_short = "too_short"
    failed = "failed"


class CollectiveStatus(StrEnum):
    """Whether the collective (charge) conductivity of a run is usable."""

    ok = "ok"
    too_noisy = "too_noisy"
    not_sampled = "not_sampled"


class HavenStatus(StrEnum):
    """Which Haven ratio the room-temperature conductivity uses."""

    measured = "measured"
    assumed_1 = "assumed_1"


RELAX_FMAX_EV_A = 0.02
"""Default relaxation force threshold, eV/Å, for campaign candidates and reference phases
alike (bench/relax_fmax.py: < 1 meV/atom and < 1.4 % volume from a tight relaxation on
small library cells, at ~2x the cost of 0.05)."""


class RelaxResult(BaseModel):
    """Result of a positions + cell relaxation."""

    status: MDStatus = Field(
        MDStatus.completed,
        description="completed, or failed with `failure_reason` (overlapping atoms before or "
        "after: the energy is then meaningless).",
    )
    failure_reason: str | None = Field(None, description="Why the relaxation failed, if it did.")
    structure: StructureDict = Field(description="Final structure (pymatgen Structure.as_dict()).")
    energy_ev: float = Field(description="Final total energy in eV.")
    energy_per_atom_ev: float = Field(description="Final energy per atom in eV/atom.")
    volume_initial_a3: float = Field(description="Cell volume before relaxation in Å^3.")
    volume_final_a3: float = Field(description="Cell volume after relaxation in Å^3.")
    volume_change_frac: float = Field(description="(V_final - V_initial) / V_initial.")
    max_force_ev_a: float = Field(description="Largest residual atomic force in eV/Å.")
    n_steps: int = Field(description="Optimizer steps taken.")
    converged: bool = Field(description="True when fmax was reached within max_steps.")
    is_force_converged: bool = Field(description="atomate2 name for `converged`.")
    wall_time_s: float = Field(description="Wall time of the relaxation in seconds.")
    forcefield_name: str = Field(description="MLFF registry name (atomate2 field name).")
    forcefield_version: str = Field(description="Version of the MLFF package.")
    provenance: Provenance = Field(description="Model, weights hash, versions, timestamps.")


class MDResult(BaseModel):
    """Summary of one NVT (or NVE) run; the trajectory itself is stored separately."""

    status: MDStatus = Field(description="completed, or failed with `failure_reason`.")
    failure_reason: str | None = Field(None, description="Why the run was stopped, if it failed.")
    temperature_target_k: float = Field(description="Thermostat set point in K (NVE: initial).")
    temperature_mean_k: float = Field(description="Mean production temperature, K.")
    timestep_fs: float = Field(description="Integration time step in fs.")
    n_steps: int = Field(description="Production steps actually run.")
    n_equilibration_steps: int = Field(description="Equilibration steps run before recording.")
    stride: int = Field(description="Mobile-ion positions were recorded every `stride` steps.")
    mobile_ion: str = Field(description="Element whose positions were recorded.")
    n_mobile: int = Field(description="Number of mobile ions.")
    msd_final_a2: float = Field(description="Mobile-ion MSD over the whole production run, Å^2.")
    energy_drift_ev_per_atom: float = Field(
        description="Total-energy change per atom over production (meaningful for NVE), eV/atom."
    )
    wall_time_s: float = Field(description="Wall time in seconds.")
    atom_steps_per_s: float = Field(description="Throughput: n_atoms * steps / wall time.")
    ensemble: str = Field(
        description="Production ensemble: 'nvt-nose-hoover-chain' (default), 'nvt-langevin' "
        "or 'nve' (equilibration is always Langevin, or NVE for 'nve')."
    )
    forcefield_name: str = Field(description="MLFF registry name.")
    provenance: Provenance = Field(description="Model, weights hash, versions, timestamps.")


class DiffusionResult(BaseModel):
    """Tracer diffusivity at one temperature, with its uncertainty and sampling verdict."""

    temperature_k: float = Field(description="Mean MD temperature in K.")
    status: SamplingStatus = Field(
        description="ok; insufficient_sampling (N_eff below the minimum: D is only bounded); "
        "too_short (production shorter than twice the minimum fit lag, so no diffusive MSD "
        "was reached and not even a bound is reported or scored); failed."
    )
    diffusivity_cm2_s: float | None = Field(
        None, description="Tracer diffusivity in cm^2/s; None unless status is ok."
    )
    diffusivity_cm2_s_err: float | None = Field(
        None,
        description="1-sigma uncertainty of the diffusivity in cm^2/s: generalised least "
        "squares with the random-walk MSD covariance, inflated by sqrt(chi2_red) only when the "
        "fit is significantly poor (calibrated on synthetic walks: ~68 % of 1-sigma intervals "
        "hold the truth).",
    )
    diffusivity_upper_cm2_s: float | None = Field(
        None,
        description="One-sided 95% upper bound on D in cm^2/s, from the MSD reached; None when "
        "the run failed or was too_short (a vibrational MSD bounds nothing).",
    )
    diffusivity_gls_err_cm2_s: float | None = Field(
        None, description="1-sigma error of the generalised-least-squares fit, cm^2/s."
    )
    diffusivity_fit_cm2_s: float | None = Field(
        None,
        description="The MSD line fit's D whatever the status (slope / 6; may be <= 0 when "
        "nothing moved), cm^2/s; None without a fit. The evidence model weighs it as a "
        "count of jumps (screening.analysis.evidence, graded runs).",
    )
    jump_exposure_s_cm2: float | None = Field(
        None,
        description="Effective jumps per unit D, s/cm^2: N_eff = jump_exposure x D_fit "
        "(6 x run length x mobile ions / hop distance^2); None without a fit.",
    )
    fit_reduced_chi2: float | None = Field(
        None, description="Reduced chi^2 of the tracer MSD fit (about 1 for a random walk)."
    )
    n_eff: float = Field(
        description="Effective number of jumps: the fitted MSD line's rise over the whole run "
        "(slope x run length), summed over the mobile ions, / hop distance^2 (a stable "
        "point, not the maximum over lags)."
    )
    n_mobile: int | None = Field(
        None, description="Mobile ions in the run (the bound's chi^2 has 3 n_mobile dof)."
    )
    rsd_empirical: float = Field(
        description="He et al. relative SD 3.43/sqrt(N_eff) + 0.04, for reference only (it "
        "overstates the error of an all-origins fit; not used in the reported error)."
    )
    conductivity_tracer_s_cm: float | None = Field(
        None,
        description="Nernst-Einstein conductivity at this temperature from the tracer D "
        "(Haven ratio 1), S/cm; None unless status is ok.",
    )
    collective_status: CollectiveStatus | None = Field(
        None,
        description="ok: collective conductivity usable (relative error <= 0.5); too_noisy; "
        "not_sampled (tracer not sampled). None when not computed.",
    )
    collective_diffusivity_cm2_s: float | None = Field(
        None,
        description="Charge (collective) diffusivity D_sigma = slope of the mean-squared "
        "summed mobile-ion displacement / (6 N), framework drift removed, cm^2/s.",
    )
    collective_diffusivity_err_cm2_s: float | None = Field(
        None, description="1-sigma error of D_sigma (one collective walker per run), cm^2/s."
    )
    conductivity_collective_s_cm: float | None = Field(
        None,
        description="Conductivity at this temperature from the collective displacement "
        "(Einstein form of Green-Kubo): n (z e)^2 D_sigma / (k_B T), S/cm.",
    )
    conductivity_collective_err_s_cm: float | None = Field(
        None, description="1-sigma error of conductivity_collective_s_cm, S/cm."
    )
    conductivity_collective_lower_s_cm: float | None = Field(
        None, description="Lower end of the 95 % interval of the collective conductivity, S/cm."
    )
    conductivity_collective_upper_s_cm: float | None = Field(
        None, description="Upper end of the 95 % interval of the collective conductivity, S/cm."
    )
    haven_ratio: float | None = Field(
        None, description="Haven ratio H = D_tracer / D_sigma at this temperature."
    )
    haven_ratio_err: float | None = Field(None, description="1-sigma error of haven_ratio.")
    simulated_time_ps: float = Field(description="Production time analysed, ps.")
    fit_window_ps: tuple[float, float] = Field(description="Time-lag window of the linear fit, ps.")
    framework_msd_final_a2: float | None = Field(
        None, description="Framework (non-mobile) MSD at the end of the run, Å^2 (melting check)."
    )
    framework_msd_late_a2: float | None = Field(
        None, description="Mean framework MSD over the second half of the run, Å^2."
    )
    framework_diffusivity_cm2_s: float | None = Field(
        None,
        description="Framework diffusivity from the MSD slope over the second half of the "
        "run, cm^2/s (None for half-runs under 0.5 ps).",
    )
    framework_mobile: bool = Field(
        False,
        description="True when the framework melted over the run "
        "(screening.analysis.melting.framework_molten: whole-run mean and slope).",
    )
    fit_poor: bool = Field(
        False,
        description="True when the MSD line fit is significantly poor (chi^2 p < 0.01): "
        "the error was inflated and the status is not ok.",
    )


class ArrheniusResult(BaseModel):
    """Arrhenius fit of D(T) and the room-temperature extrapolation."""

    status: SamplingStatus = Field(description="ok when >= min temperatures were sampled.")
    temperatures_k: list[float] = Field(description="Temperatures used in the fit, K.")
    activation_energy_ev: float | None = Field(None, description="Ea in eV.")
    activation_energy_err_ev: float | None = Field(None, description="1-sigma error of Ea, eV.")
    prefactor_cm2_s: float | None = Field(None, description="D0 in cm^2/s.")
    diffusivity_300k_cm2_s: float | None = Field(None, description="D(300 K) extrapolated, cm^2/s.")
    conductivity_300k_s_cm: float | None = Field(
        None,
        description="sigma(300 K) by Nernst-Einstein from the extrapolated tracer D divided "
        "by `haven_ratio`, S/cm.",
    )
    conductivity_300k_lower_s_cm: float | None = Field(
        None, description="Lower end of the 95% interval of sigma(300 K), S/cm."
    )
    conductivity_300k_upper_s_cm: float | None = Field(
        None, description="Upper end of the 95% interval (or a bound when unsampled), S/cm."
    )
    reduced_chi2: float | None = Field(None, description="Reduced chi^2 of the weighted fit.")
    haven_ratio: float = Field(
        1.0, description="Haven ratio used for sigma(300 K) (1 unless measured precisely)."
    )
    haven_ratio_err: float = Field(
        0.0, description="1-sigma error of the Haven ratio, propagated into the interval."
    )
    flags: list[str] = Field(
        default_factory=list,
        description="non_arrhenius, narrow_temperature_range, framework_melting, "
        "too_few_temperatures (some but fewer than 3 sampled), no_sampled_temperatures "
        "(none sampled), haven_ratio_assumed_1.",
    )


class StabilityResult(BaseModel):
    """Thermodynamic and electrochemical stability from the same MLFF."""

    formation_energy_ev_per_atom: float = Field(description="E_form vs elements, eV/atom.")
    e_hull_ev_per_atom: float = Field(description="Energy above the convex hull, eV/atom.")
    decomposition: dict[str, float] = Field(
        description="Decomposition products (reduced formula -> fraction); itself when on hull."
    )
    window_v: tuple[float, float] | None = Field(
        None, description="[reduction, oxidation] limits in V vs the mobile-ion metal."
    )
    reduction_products: list[str] = Field(default_factory=list, description="Phases at reduction.")
    oxidation_products: list[str] = Field(default_factory=list, description="Phases at oxidation.")
    mobile_ion: str = Field(description="Element whose chemical potential defines the window.")
    forcefield_name: str = Field(description="MLFF registry name.")
    correction: Literal["none", "fere"] = Field(
        "none",
        description="Correction of the reference energies used: 'none' (the MLFF's own) or "
        "'fere' (elemental energies fitted to experimental enthalpies for this model).",
    )
    uncorrected_formation_energy_ev_per_atom: float | None = Field(
        None, description="With a correction: E_form from the MLFF's own energies, eV/atom."
    )
    uncorrected_window_v: tuple[float, float] | None = Field(
        None, description="With a correction: the window from the MLFF's own energies, V."
    )


class EvidenceResult(BaseModel):
    """What the ranking knows about a candidate's conductivity, from every tier it reached
    (screening.analysis.evidence): the posterior of log10 sigma(300 K) and the score."""

    tier: str = Field(
        description="Furthest tier reached: generate, relax, stability, screen or series."
    )
    sampling: str = Field(
        description="arrhenius (a measured D at two or more temperatures, screen and series "
        "alike), ok (a measured D at one), insufficient_sampling (upper bounds only), "
        "framework_melting, too_short, failed, or no_md."
    )
    n_measured: int = Field(description="Runs with a measured D used.")
    n_bounds: int = Field(description="Runs with only an upper bound used (censored).")
    temperatures_k: list[float] = Field(description="Temperatures of the runs used, K.")
    log10_sigma300_median: float = Field(description="Posterior median of log10 sigma(300 K).")
    log10_sigma300_lower_95: float = Field(description="2.5 % quantile of log10 sigma(300 K).")
    log10_sigma300_upper_95: float = Field(description="97.5 % quantile of log10 sigma(300 K).")
    log10_sigma300_lower_1s: float = Field(description="15.9 % quantile of log10 sigma(300 K).")
    log10_sigma300_upper_1s: float = Field(description="84.1 % quantile of log10 sigma(300 K).")
    log10_sigma300_quantile: float = Field(description="The score's quantile of it.")
    sigma300_s_cm: float = Field(description="Posterior median of sigma(300 K), S/cm.")
    sigma300_lower_s_cm: float = Field(description="2.5 % quantile of sigma(300 K), S/cm.")
    sigma300_upper_s_cm: float = Field(description="97.5 % quantile of sigma(300 K), S/cm.")
    sigma300_width_decades: float = Field(description="Width of the 95 % interval, decades.")
    ea_ev: float | None = Field(None, description="Posterior mean of Ea, eV (None: no MD).")
    ea_err_ev: float | None = Field(None, description="Posterior standard deviation of Ea, eV.")
    lever_arm: float | None = Field(
        None, description="(1/300 K - 1/T_min) / (1/T_min - 1/T_max); None below 2 temperatures."
    )
    quantile: float = Field(description="Quantile the score uses.")
    hull_penalty_decades: float = Field(description="Decades subtracted for E_hull.")
    flags: list[str] = Field(
        default_factory=list,
        description="lever_arm (300 K more than 3 fitted 1/T spans away, or one temperature), "
        "bounds_only, framework_melting (some run melted), above_melting_estimate, "
        "non_arrhenius.",
    )
    melting_estimate_k: float | None = Field(None, description="Melting estimate, K.")
    melting_estimate_source: str | None = Field(None, description="Where the estimate comes from.")
    temperature_cap_k: float | None = Field(
        None, description="Hottest temperature later runs may use, K (estimate - margin)."
    )
    prior: dict[str, float] = Field(description="The Arrhenius prior used.")
    t_k: float | None = Field(None, description="Temperature of the hottest usable run, K.")
    d_cm2_s: float | None = Field(None, description="Its measured D, cm^2/s (None: a bound).")
    d_err_cm2_s: float | None = Field(None, description="1-sigma error of that D, cm^2/s.")
    d_upper_cm2_s: float | None = Field(None, description="95 % upper bound on that D, cm^2/s.")
    n_eff: float | None = Field(None, description="N_eff of that run.")
    d_source: str | None = Field(None, description="screen or series.")
