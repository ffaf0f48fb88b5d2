"""Arrhenius fit of D(T), extrapolation to 300 K and Nernst-Einstein conductivity.

ln D = ln D0 - Ea / (k_B T), weighted by sigma_lnD = sigma_D / D. The parameter covariance
is inflated by chi2_red when the points scatter more than their error bars (Birge ratio),
and a p-value below 1 % flags non-Arrhenius behaviour. sigma(300 K) uses Nernst-Einstein
with Haven ratio 1 (tracer = charge diffusivity), stated in every result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from screening.schemas.results import ArrheniusResult, DiffusionResult, SamplingStatus

K_B_EV = 8.617333262e-5  # eV/K
K_B_J = 1.380649e-23  # J/K
E_C = 1.602176634e-19  # C
ROOM_T_K = 300.0


def nernst_einstein_s_cm(
    diffusivity_cm2_s: float, *, n_mobile_per_cm3: float, temperature_k: float, charge: int = 1
) -> float:
    """Ionic conductivity sigma = n (z e)^2 D / (k_B T) with Haven ratio 1, S/cm.

    Parameters
    ----------
    diffusivity_cm2_s : float
        Tracer diffusivity, cm^2/s.
    n_mobile_per_cm3 : float
        Mobile-ion number density, cm^-3.
    temperature_k : float
        Temperature, K.
    charge : int
        Ion charge number z.
    """
    return n_mobile_per_cm3 * (charge * E_C) ** 2 * diffusivity_cm2_s / (K_B_J * temperature_k)


def fit_arrhenius(
    results: Sequence[DiffusionResult],
    *,
    n_mobile_per_cm3: float,
    min_temperatures: int = 3,
    min_range_ratio: float = 1.25,
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

    Returns
    -------
    ArrheniusResult
        sigma(300 K) with a 95 % interval propagated from the parameter covariance.
    """
    flags = []
    if any(r.framework_mobile for r in results):
        flags.append("framework_melting")
    good = [r for r in results if r.status == SamplingStatus.ok and not r.framework_mobile]
    temps = [r.temperature_k for r in good]
    if len(good) < min_temperatures:
        flags.append("too_few_temperatures")
        return ArrheniusResult(
            status=SamplingStatus.insufficient_sampling, temperatures_k=temps, flags=flags
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
    if dof > 0 and stats.chi2.sf(chi2, dof) < 0.01:
        flags.append("non_arrhenius")
    if t.max() / t.min() < min_range_ratio:
        flags.append("narrow_temperature_range")
    pcov = pcov * max(1.0, chi2_red)
    ea = -beta[1] * K_B_EV
    ea_err = np.sqrt(pcov[1, 1]) * K_B_EV
    j = np.array([1.0, 1.0 / ROOM_T_K])
    ln_d300 = float(j @ beta)
    ln_err = float(np.sqrt(j @ pcov @ j))
    d300 = np.exp(ln_d300)

    def sigma(dv: float) -> float:
        return nernst_einstein_s_cm(dv, n_mobile_per_cm3=n_mobile_per_cm3, temperature_k=ROOM_T_K)

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
        flags=flags,
    )
