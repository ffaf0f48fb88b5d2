"""Tracer diffusivity with a covariance-aware error and an honest sampling verdict.

Fit
    MSD(t) = 6 D t + c over lags from max(1 ps, 5 % of the run) to half the run. Short lags
    are the ballistic/vibrational regime (~0.1-1 ps in solids, a fixed time, so longer runs
    fit more of the diffusive regime and get smaller errors); lags beyond half the run have
    fewer than two independent origins per ion. The intercept c absorbs vibrations.
Covariance
    For a random walk, the squared displacements at lags t_i <= t_j from one origin have
    covariance Var[r^2(t_i)], so the origin-averaged MSDs have
    Cov_ij = Var[r^2(t_i)] / n_ind(t_j) with n_ind(t) = n_ions * T / t (the approximation
    used by kinisi). We use the equivalent, always positive-definite form
    Cov_ij = kappa MSD_i MSD_j min(t_i, t_j) / (n_ions T) with kappa = Var[r^2] / MSD^2 pooled
    from the data (2/3 for Gaussian steps, larger for rare hops). D and its error come from
    generalised least squares with this matrix, inflated by sqrt(chi2_red) when the data
    scatter more than the model says.
Empirical error
    N_eff = max_t(total MSD summed over ions) / a^2 and RSD = 3.43 / sqrt(N_eff) + 0.04
    (He, Zhu, Epstein & Mo, npj Comput. Mater. 4, 18, 2018). The reported error is the
    larger of the two.
Insufficient sampling
    Below ``min_n_eff`` no D is reported, only a one-sided 95 % upper bound from the
    displacement reached over the whole run: sum_i |dr_i(T)|^2 ~ 2 D T chi2(3 n_ions), so
    D_up = sum_i |dr_i(T)|^2 / (2 T chi2_0.05(3 n_ions)). Vibrations only raise it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, stats

from screening.analysis.msd import MSDCurve, compute_msd
from screening.schemas.results import DiffusionResult, SamplingStatus
from screening.schemas.trajectory import MDTrajectory

A2_PER_FS_TO_CM2_PER_S = 0.1  # 1 Å^2/fs = 1e-16 cm^2 / 1e-15 s


@dataclass(frozen=True)
class DiffusionAnalysis:
    """Result plus the curve it came from (the curve is stored outside the candidate doc)."""

    result: DiffusionResult
    curve: MSDCurve
    fit_intercept_a2: float


def rsd_he(n_eff: float) -> float:
    """Empirical relative standard deviation of D (He et al. 2018)."""
    return 3.43 / np.sqrt(n_eff) + 0.04 if n_eff > 0 else float("inf")


def _gls(curve: MSDCurve, mask: np.ndarray) -> tuple[float, float, float, float]:
    """GLS fit of MSD = 6 D t + c; returns D, sigma_D (A^2/fs), c (A^2), chi2_red."""
    t_scale = curve.total_time_fs
    y_scale = max(float(curve.msd_a2[mask].max()), 1e-12)
    t = curve.lag_fs[mask] / t_scale
    y = curve.msd_a2[mask] / y_scale
    m = np.maximum(y, 1e-12)
    # kappa = Var[r^2] / MSD^2 pooled over the window (2/3 for Gaussian steps, more for hops)
    kappa = float(np.mean(curve.var_sq_a4[mask] / y_scale**2 / m**2))
    # Cov_ij = kappa m_i m_j min(t_i, t_j) / n_ions: equals Var[r^2(t_i)] / n_ind(t_j) for a
    # linear MSD (kinisi's approximation) and is positive definite by construction.
    cov = kappa * np.outer(m, m) * np.minimum.outer(t, t) / curve.n_ions
    cov[np.diag_indices_from(cov)] *= 1.0 + 1e-9
    factor = linalg.cho_factor(cov, lower=True)
    x = np.column_stack([6.0 * t, np.ones_like(t)])
    cinv_x = linalg.cho_solve(factor, x)
    pcov = np.linalg.inv(x.T @ cinv_x)
    beta = pcov @ (cinv_x.T @ y)
    resid = y - x @ beta
    chi2_red = float(resid @ linalg.cho_solve(factor, resid)) / max(t.size - 2, 1)
    scale = max(1.0, chi2_red)
    d = beta[0] * y_scale / t_scale
    d_err = np.sqrt(max(pcov[0, 0], 0.0) * scale) * y_scale / t_scale
    return float(d), float(d_err), float(beta[1] * y_scale), chi2_red


def estimate_diffusivity(
    positions_a: np.ndarray,
    time_fs: np.ndarray,
    *,
    temperature_k: float,
    framework_com_a: np.ndarray | None = None,
    framework_msd_a2: np.ndarray | None = None,
    hop_distance_a: float = 3.0,
    min_n_eff: float = 20.0,
    window: tuple[float, float] = (0.05, 0.5),
    min_lag_ps: float = 1.0,
    n_fit_points: int = 30,
    framework_msd_threshold_a2: float = 1.5,
) -> DiffusionAnalysis:
    """Tracer diffusivity of the mobile ions from unwrapped positions.

    Parameters
    ----------
    positions_a : np.ndarray
        Shape (n_frames, n_ions, 3), unwrapped positions, Å.
    time_fs : np.ndarray
        Shape (n_frames,), evenly spaced times, fs.
    temperature_k : float
        Temperature the run sampled, K.
    framework_com_a : np.ndarray, optional
        Shape (n_frames, 3), framework centre of mass (drift removal).
    framework_msd_a2 : np.ndarray, optional
        Shape (n_frames,), framework MSD (melting / amorphisation check).
    hop_distance_a : float
        Typical hop distance a used for N_eff, Å.
    min_n_eff : float
        Below this N_eff the status is ``insufficient_sampling``.
    window : (float, float)
        Fit window as fractions of the total time.
    min_lag_ps : float
        The fit never starts below this lag (ballistic/vibrational regime), ps.
    n_fit_points : int
        Lags used in the fit (the covariance matrix is n x n).
    framework_msd_threshold_a2 : float
        Framework MSD above which the framework is flagged as mobile, Å^2.

    Returns
    -------
    DiffusionAnalysis
    """
    if not 0 <= window[0] < window[1] <= 1:
        raise ValueError(f"window must satisfy 0 <= start < end <= 1, got {window}")
    if hop_distance_a <= 0 or min_n_eff < 0:
        raise ValueError("hop_distance_a must be > 0 and min_n_eff >= 0")
    pos = np.asarray(positions_a, dtype=float)
    curve = compute_msd(pos, time_fs, framework_com_a=framework_com_a, n_lags=200)
    total = curve.total_time_fs
    n_eff = float(curve.msd_a2.max() * curve.n_ions / hop_distance_a**2)
    rsd = rsd_he(n_eff)

    drift = 0.0 if framework_com_a is None else framework_com_a[-1] - framework_com_a[0]
    sum_sq_total = float((((pos[-1] - pos[0]) - drift) ** 2).sum())
    chi2_low = stats.chi2.ppf(0.05, 3 * curve.n_ions)
    d_upper = sum_sq_total / (2.0 * total * chi2_low) * A2_PER_FS_TO_CM2_PER_S

    lo_t, hi_t = max(window[0] * total, min_lag_ps * 1000.0), window[1] * total
    in_window = np.flatnonzero((curve.lag_fs >= lo_t) & (curve.lag_fs <= hi_t))
    if in_window.size < 3:
        in_window = np.arange(min(3, curve.lag_fs.size))
    lags_w = curve.lag_fs[in_window]
    targets = np.geomspace(lags_w[0], lags_w[-1], n_fit_points)
    pick = in_window[np.unique(np.searchsorted(lags_w, targets).clip(0, lags_w.size - 1))]
    mask = np.zeros(curve.lag_fs.size, dtype=bool)
    mask[pick] = True
    d_a2fs, d_err_a2fs, intercept, _ = _gls(curve, mask)

    fmsd = None if framework_msd_a2 is None else float(np.asarray(framework_msd_a2)[-1])
    framework_mobile = fmsd is not None and fmsd > framework_msd_threshold_a2
    sampled = n_eff >= min_n_eff and d_a2fs > 0
    d = d_a2fs * A2_PER_FS_TO_CM2_PER_S
    gls_err = d_err_a2fs * A2_PER_FS_TO_CM2_PER_S
    result = DiffusionResult(
        temperature_k=float(temperature_k),
        status=SamplingStatus.ok if sampled else SamplingStatus.insufficient_sampling,
        diffusivity_cm2_s=d if sampled else None,
        diffusivity_cm2_s_err=max(gls_err, rsd * d) if sampled else None,
        diffusivity_upper_cm2_s=max(d_upper, d + 1.645 * max(gls_err, rsd * d))
        if sampled
        else d_upper,
        diffusivity_gls_err_cm2_s=gls_err,
        n_eff=n_eff,
        rsd_empirical=rsd,
        simulated_time_ps=total / 1000.0,
        fit_window_ps=(float(curve.lag_fs[pick[0]]) / 1000, float(curve.lag_fs[pick[-1]]) / 1000),
        framework_msd_final_a2=fmsd,
        framework_mobile=framework_mobile,
    )
    return DiffusionAnalysis(result=result, curve=curve, fit_intercept_a2=intercept)


def analyse_trajectory(traj: MDTrajectory, *, temperature_k: float, **kwargs) -> DiffusionAnalysis:
    """:func:`estimate_diffusivity` on an :class:`MDTrajectory` (keyword options passed on)."""
    return estimate_diffusivity(
        traj.mobile_positions_a,
        traj.time_fs,
        temperature_k=temperature_k,
        framework_com_a=traj.framework_com_a,
        framework_msd_a2=traj.framework_msd_a2,
        **kwargs,
    )
