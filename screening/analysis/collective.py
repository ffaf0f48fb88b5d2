"""Collective (charge) diffusivity, conductivity from the collective displacement, and the
Haven ratio.

sigma = (z e)^2 / (6 V k_B T) * d/dt <|sum_i dr_i(t)|^2> (Einstein form of Green-Kubo,
mobile ions only, framework centre-of-mass drift removed: for a rigid framework of charge
-N z e this is the whole charge displacement). D_sigma = slope / (6 N), so that
sigma = n (z e)^2 D_sigma / (k_B T) and the Haven ratio is H = D_tracer / D_sigma.

Uncertainty: the summed displacement is a single walker per run, so its all-origins MSD has
the random-walk covariance of :func:`screening.analysis.msd_fit.random_walk_covariance` with
n_walkers = 1 and a Gaussian Var[r^2] (the sum of many ions' displacements is Gaussian by the
central limit theorem even when single hops are not). This is the analytic counterpart of
kinisi's approach (both fit the all-origins curve with a covariance matrix); block averaging
over origins would throw away the overlapping origins. Calibrated on synthetic walks
(~70 % of 1-sigma, ~96 % of 2-sigma intervals hold the truth).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from screening.analysis.msd import MSDCurve, compute_msd
from screening.analysis.msd_fit import fit_msd_line
from screening.schemas.results import CollectiveStatus, DiffusionResult, HavenStatus

A2_PER_FS_TO_CM2_PER_S = 0.1  # 1 Å^2/fs = 1e-16 cm^2 / 1e-15 s
K_B_J = 1.380649e-23  # J/K
E_C = 1.602176634e-19  # C
COLLECTIVE_MAX_REL_ERR = 0.5  # per temperature: above this the collective sigma is too noisy
HAVEN_MAX_REL_ERR = 0.25  # the ranking uses a measured H only below this relative error


def per_cm3(count: float, volume_a3: float) -> float:
    """Number density in cm^-3 of ``count`` particles in ``volume_a3`` Å^3."""
    return count / (volume_a3 * 1e-24)


def nernst_einstein_s_cm(
    diffusivity_cm2_s: float, *, n_mobile_per_cm3: float, temperature_k: float, charge: int = 1
) -> float:
    """sigma = n (z e)^2 D / (k_B T), S/cm (Haven ratio 1 for a tracer D; exact for D_sigma).

    Parameters
    ----------
    diffusivity_cm2_s : float
        Tracer or collective diffusivity, cm^2/s.
    n_mobile_per_cm3 : float
        Mobile-ion number density, cm^-3.
    temperature_k : float
        Temperature, K.
    charge : int
        Ion charge number z.
    """
    return n_mobile_per_cm3 * (charge * E_C) ** 2 * diffusivity_cm2_s / (K_B_J * temperature_k)


@dataclass(frozen=True)
class CollectiveEstimate:
    """Collective diffusivity of one run.

    Attributes
    ----------
    curve : MSDCurve
        MSD of the summed displacement divided by the number of ions (per-ion units, Å^2),
        comparable with the tracer MSD (equal to it when H = 1).
    diffusivity_cm2_s, diffusivity_err_cm2_s : float
        D_sigma and its 1-sigma error, cm^2/s.
    """

    curve: MSDCurve
    diffusivity_cm2_s: float
    diffusivity_err_cm2_s: float


def collective_diffusivity(
    positions_a: np.ndarray,
    time_fs: np.ndarray,
    *,
    framework_com_a: np.ndarray | None,
    fit_lags_fs: np.ndarray,
) -> CollectiveEstimate:
    """D_sigma from unwrapped mobile-ion positions (all mobile ions carry the same charge).

    Parameters
    ----------
    positions_a : np.ndarray
        Shape (n_frames, n_ions, 3), unwrapped positions, Å.
    time_fs : np.ndarray
        Shape (n_frames,), evenly spaced times, fs.
    framework_com_a : np.ndarray or None
        Shape (n_frames, 3), framework centre of mass (its drift is removed from every ion).
    fit_lags_fs : np.ndarray
        Lags of the fit window (those of the tracer fit), fs.
    """
    pos = np.asarray(positions_a, dtype=float)
    n_ions = pos.shape[1]
    if framework_com_a is not None:
        pos = pos - (np.asarray(framework_com_a) - framework_com_a[0])[:, None, :]
    total = pos.sum(axis=1, keepdims=True)
    raw = compute_msd(total, time_fs, n_lags=200)
    curve = MSDCurve(
        lag_fs=raw.lag_fs,
        msd_a2=raw.msd_a2 / n_ions,
        var_sq_a4=raw.var_sq_a4 / n_ions**2,
        n_independent=raw.n_independent,
        n_ions=n_ions,
        total_time_fs=raw.total_time_fs,
    )
    pick = np.searchsorted(curve.lag_fs, fit_lags_fs).clip(0, curve.lag_fs.size - 1)
    fit = fit_msd_line(raw.lag_fs[pick], raw.msd_a2[pick], total_fs=raw.total_time_fs, n_walkers=1)
    scale = A2_PER_FS_TO_CM2_PER_S / (6.0 * n_ions)
    return CollectiveEstimate(
        curve=curve,
        diffusivity_cm2_s=fit.slope_a2_fs * scale,
        diffusivity_err_cm2_s=fit.slope_err_a2_fs * scale,
    )


def collective_fields(
    est: CollectiveEstimate,
    *,
    tracer_ok: bool,
    tracer_d_cm2_s: float | None,
    tracer_err_cm2_s: float | None,
    n_mobile_per_cm3: float | None,
    temperature_k: float,
    charge: int = 1,
) -> dict:
    """The collective fields of :class:`DiffusionResult` for one temperature."""
    d, err = est.diffusivity_cm2_s, est.diffusivity_err_cm2_s
    out: dict = {"collective_diffusivity_cm2_s": d, "collective_diffusivity_err_cm2_s": err}
    if not tracer_ok:
        out["collective_status"] = CollectiveStatus.not_sampled
    elif d > 0 and err / d <= COLLECTIVE_MAX_REL_ERR:
        out["collective_status"] = CollectiveStatus.ok
    else:
        out["collective_status"] = CollectiveStatus.too_noisy
    if n_mobile_per_cm3:
        conv = nernst_einstein_s_cm(
            1.0, n_mobile_per_cm3=n_mobile_per_cm3, temperature_k=temperature_k, charge=charge
        )
        out.update(
            conductivity_collective_s_cm=d * conv,
            conductivity_collective_err_s_cm=err * conv,
            conductivity_collective_lower_s_cm=max(d - 1.96 * err, 0.0) * conv,
            conductivity_collective_upper_s_cm=(max(d, 0.0) + 1.96 * err) * conv,
        )
        if tracer_ok and tracer_d_cm2_s:
            out["conductivity_tracer_s_cm"] = tracer_d_cm2_s * conv
    if tracer_ok and tracer_d_cm2_s and d > 0:
        h = tracer_d_cm2_s / d
        out["haven_ratio"] = h
        out["haven_ratio_err"] = h * float(np.hypot(tracer_err_cm2_s / tracer_d_cm2_s, err / d))
    return out


@dataclass(frozen=True)
class HavenEstimate:
    """Haven ratio of a series and whether the ranking uses it.

    Attributes
    ----------
    value, err : float
        Used H and its 1-sigma error (1 and 0 when assumed).
    measured_value, measured_err : float or None
        Inverse-variance mean over temperatures with a usable collective estimate.
    status : HavenStatus
        ``measured`` when measured_err / measured_value <= HAVEN_MAX_REL_ERR.
    """

    value: float
    err: float
    measured_value: float | None
    measured_err: float | None
    status: HavenStatus


def combine_haven(
    results: Sequence[DiffusionResult], *, max_rel_err: float = HAVEN_MAX_REL_ERR
) -> HavenEstimate:
    """Inverse-variance mean of the per-temperature Haven ratios (H taken as independent
    of temperature); used only when its relative error is at most ``max_rel_err``."""
    pairs = [
        (r.haven_ratio, r.haven_ratio_err)
        for r in results
        if r.collective_status == CollectiveStatus.ok
        and r.haven_ratio is not None
        and r.haven_ratio_err
        and not r.framework_mobile
    ]
    if not pairs:
        return HavenEstimate(1.0, 0.0, None, None, HavenStatus.assumed_1)
    h = np.array([p[0] for p in pairs])
    w = 1.0 / np.array([p[1] for p in pairs]) ** 2
    mean = float((w * h).sum() / w.sum())
    err = float(1.0 / np.sqrt(w.sum()))
    if err / mean <= max_rel_err:
        return HavenEstimate(mean, err, mean, err, HavenStatus.measured)
    return HavenEstimate(1.0, 0.0, mean, err, HavenStatus.assumed_1)
