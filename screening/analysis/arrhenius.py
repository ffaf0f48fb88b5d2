"""Arrhenius fit of D(T), extrapolation to 300 K and Nernst-Einstein conductivity.

ln D = ln D0 - Ea / (k_B T), weighted by sigma_lnD = sigma_D / D. The parameter covariance
is inflated by chi2_red (Birge ratio) only when the points scatter significantly more than
their error bars (p < 0.05), so calibrated D errors give a calibrated sigma(300 K) interval;
a p-value below 1 % flags non-Arrhenius behaviour. sigma(300 K) = Nernst-Einstein(D(300 K))
/ H with the series' Haven ratio H when it was measured precisely
(:func:`screening.analysis.collective.combine_haven`), else H = 1 and the flag
``haven_ratio_assumed_1``; H's error is propagated into the interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from screening.analysis.collective import HavenEstimate, nernst_einstein_s_cm
from screening.schemas.results import ArrheniusResult, DiffusionResult, SamplingStatus

K_B_EV = 8.617333262e-5  # eV/K
ROOM_T_K = 300.0

__all__ = ["K_B_EV", "ROOM_T_K", "fit_arrhenius", "nernst_einstein_s_cm"]


def fit_arrhenius(
    results: Sequence[DiffusionResult],
    *,
    n_mobile_per_cm3: float,
    min_temperatures: int = 3,
    min_range_ratio: float = 1.25,
    haven: HavenEstimate | None = None,
) -> ArrheniusResult:
    """Weighted Arrhenius fit over the temperatures with status ``ok``.

    Parameters
    ----------
    results : sequence of DiffusionResult
        One per temperature.
    n_mobile_per_cm3 : float
        Mobile-ion number density for Nernst-Einstein, cm^-3.
    min_temperatures : int
        Fewer sampled temperatures than this: status ``insufficient_sampling``, no Ea.
    min_range_ratio : float
        T_max / T_min below this adds the flag ``narrow_temperature_range``.
    haven : HavenEstimate, optional
        Haven ratio of the series; None or status ``assumed_1``: H = 1 (flagged when a
        collective estimate existed but was too noisy).

    Returns
    -------
    ArrheniusResult
        sigma(300 K) with a 95 % interval propagated from the parameter covariance.
    """
    flags = []
    h, h_err = (haven.value, haven.err) if haven is not None else (1.0, 0.0)
    if haven is None or haven.status != "measured":
        flags.append("haven_ratio_assumed_1")
    if any(r.framework_mobile for r in results):
        flags.append("framework_melting")
    good = [r for r in results if r.status == SamplingStatus.ok and not r.framework_mobile]
    temps = [r.temperature_k for r in good]
    if len(good) < min_temperatures:
        flags.append("too_few_temperatures" if good else "no_sampled_temperatures")
        return ArrheniusResult(
            status=SamplingStatus.insufficient_sampling,
            temperatures_k=temps,
            haven_ratio=h,
            haven_ratio_err=h_err,
            flags=flags,
        )
    t = np.array(temps)
    d = np.array([r.diffusivity_cm2_s for r in good])
    sig = np.array([r.diffusivity_cm2_s_err for r in good]) / d
    x = np.column_stack([np.ones_like(t), 1.0 / t])
    w = 1.0 / sig**2
    fisher = x.T @ (x * w[:, None])
    pcov = np.linalg.inv(fisher)
    beta = pcov @ x.T @ (w * np.log(d))
    resid = np.log(d) - x @ beta
    dof = len(t) - 2
    chi2 = float((w * resid**2).sum())
    chi2_red = chi2 / dof if dof > 0 else 0.0
    p_value = stats.chi2.sf(chi2, dof) if dof > 0 else 1.0
    if p_value < 0.01:
        flags.append("non_arrhenius")
    if t.max() / t.min() < min_range_ratio:
        flags.append("narrow_temperature_range")
    if p_value < 0.05 and chi2_red > 1.0:
        pcov = pcov * chi2_red
    ea = -beta[1] * K_B_EV
    ea_err = np.sqrt(pcov[1, 1]) * K_B_EV
    j = np.array([1.0, 1.0 / ROOM_T_K])
    ln_d300 = float(j @ beta)
    ln_err = float(np.hypot(np.sqrt(j @ pcov @ j), h_err / h))
    d300 = np.exp(ln_d300)

    def sigma(dv: float) -> float:
        return (
            nernst_einstein_s_cm(dv, n_mobile_per_cm3=n_mobile_per_cm3, temperature_k=ROOM_T_K) / h
        )

    return ArrheniusResult(
        status=SamplingStatus.ok,
        temperatures_k=temps,
        activation_energy_ev=float(ea),
        activation_energy_err_ev=float(ea_err),
        prefactor_cm2_s=float(np.exp(beta[0])),
        diffusivity_300k_cm2_s=float(d300),
        conductivity_300k_s_cm=sigma(d300),
        conductivity_300k_lower_s_cm=sigma(np.exp(ln_d300 - 1.96 * ln_err)),
        conductivity_300k_upper_s_cm=sigma(np.exp(ln_d300 + 1.96 * ln_err)),
        reduced_chi2=chi2_red,
        haven_ratio=h,
        haven_ratio_err=h_err,
        flags=flags,
    )
