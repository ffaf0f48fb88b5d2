"""Tracer and collective diffusivity with calibrated errors and an honest sampling verdict.

Fit
    MSD(t) = 6 D t + c over lags from 1 ps to half the run. Short lags
    are the ballistic/vibrational regime (~0.1-1 ps in solids, a fixed time, so longer runs
    fit more of the diffusive regime and get smaller errors); lags beyond half the run have
    fewer than two independent origins per ion. The intercept c absorbs vibrations.
Error
    Generalised least squares with the covariance of an all-origins MSD of a random walk
    (:mod:`screening.analysis.msd_fit`), scaled by the measured Var[r^2]/MSD^2 for hopping
    ions. On synthetic walks ~68 % of 1-sigma and ~95 % of 2-sigma intervals hold the truth
    (tests). The He et al. (npj Comput. Mater. 4, 18, 2018) law RSD = 3.43/sqrt(N_eff) + 0.04
    is reported for reference only; taking it as a floor made intervals ~3x too wide.
Collective (charge) displacement
    sigma = (z e)^2 / (6 V k_B T) d/dt <|sum_i dr_i(t)|^2>, framework drift removed, over all
    time origins: the Einstein form of the Green-Kubo conductivity. There is one collective
    walker per run, so its error is the same random-walk covariance with one walker
    (:mod:`screening.analysis.collective`). Haven ratio H = D_tracer / D_sigma.
Insufficient sampling
    N_eff = the diffusive MSD the fitted line reaches over the whole run, summed over ions,
    / a^2 (a stable point: the maximum over lags picked the noisiest lag). Below
    ``min_n_eff`` no D is reported, only a one-sided 95 % upper bound from the
    displacement reached over the whole run:
    sum_i |dr_i(T)|^2 ~ 2 D T chi2(3 n_ions), so D_up = sum_i |dr_i(T)|^2 / (2 T chi2_0.05).
    Vibrations only raise it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from screening.analysis.collective import (
    A2_PER_FS_TO_CM2_PER_S,
    CollectiveEstimate,
    collective_diffusivity,
    collective_fields,
    per_cm3,
)
from screening.analysis.evidence import HOP_A, jump_exposure_s_cm2
from screening.analysis.melting import framework_molten
from screening.analysis.msd import MSDCurve, compute_msd
from screening.analysis.msd_fit import GAUSSIAN_KAPPA, fit_msd_line
from screening.schemas.results import DiffusionResult, SamplingStatus
from screening.schemas.trajectory import MDTrajectory


@dataclass(frozen=True)
class DiffusionAnalysis:
    """Result plus the curve it came from (the curve is stored outside the candidate doc)."""

    result: DiffusionResult
    curve: MSDCurve
    fit_intercept_a2: float
    collective: CollectiveEstimate | None = None


MIN_LAG_PS = 1.0
"""The MSD fit never starts below this lag (ballistic / vibrational regime), ps."""
FIT_WINDOW = (0.0, 0.5)
"""Default fit window, as fractions of the production time."""
MIN_PRODUCTION_PS = MIN_LAG_PS / FIT_WINDOW[1]
POOR_FIT_P, POOR_FIT_CHI2_RED = 0.01, 5.0
"""An MSD line fit with chi^2 p below POOR_FIT_P and chi2_red above POOR_FIT_CHI2_RED is
significantly and materially poor: ``fit_poor``, and the D is only a bound."""
"""Shorter production runs are ``too_short``: the fit window cannot reach MIN_LAG_PS."""


def rsd_he(n_eff: float) -> float:
    """Empirical relative standard deviation of D (He et al. 2018)."""
    return 3.43 / np.sqrt(n_eff) + 0.04 if n_eff > 0 else float("inf")


def estimate_diffusivity(
    positions_a: np.ndarray,
    time_fs: np.ndarray,
    *,
    temperature_k: float,
    framework_com_a: np.ndarray | None = None,
    framework_msd_a2: np.ndarray | None = None,
    hop_distance_a: float = HOP_A,
    min_n_eff: float = 20.0,
    window: tuple[float, float] = FIT_WINDOW,
    min_lag_ps: float = MIN_LAG_PS,
    n_fit_points: int = 30,
    framework_msd_threshold_a2: float = 1.5,
    n_mobile_per_cm3: float | None = None,
    charge: int = 1,
    collective: bool = True,
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
        Mean framework MSD over the second half of the run above which the framework is
        molten, Å^2 (:func:`screening.analysis.melting.framework_molten`).
    n_mobile_per_cm3 : float, optional
        Mobile-ion number density, cm^-3; with it the tracer and collective conductivities
        at this temperature are reported.
    charge : int
        Charge number z of the mobile ion.
    collective : bool
        Also estimate the collective (charge) diffusivity and the Haven ratio.

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

    drift = 0.0 if framework_com_a is None else framework_com_a[-1] - framework_com_a[0]
    sum_sq_total = float((((pos[-1] - pos[0]) - drift) ** 2).sum())
    chi2_low = stats.chi2.ppf(0.05, 3 * curve.n_ions)
    d_upper = sum_sq_total / (2.0 * total * chi2_low) * A2_PER_FS_TO_CM2_PER_S

    lo_t, hi_t = max(window[0] * total, min_lag_ps * 1000.0), window[1] * total
    # below the minimum lag the MSD is vibration: no D and no bound (10 % grace for runs
    # whose last record falls just short of the nominal length); a window always spans a
    # factor 1.5 in lag (runs of 2-3 ps start it below min_lag_ps, at 2/3 of its end)
    too_short = hi_t < 0.9 * lo_t
    lo_t = min(lo_t, hi_t / 1.5)
    in_window = np.flatnonzero((curve.lag_fs >= lo_t) & (curve.lag_fs <= hi_t))
    if in_window.size < 3:
        in_window = np.arange(min(3, curve.lag_fs.size))
    lags_w = curve.lag_fs[in_window]
    targets = np.geomspace(lags_w[0], lags_w[-1], n_fit_points)
    pick = in_window[np.unique(np.searchsorted(lags_w, targets).clip(0, lags_w.size - 1))]
    mask = np.zeros(curve.lag_fs.size, dtype=bool)
    mask[pick] = True
    fit = None
    if mask.sum() >= 3:  # a line through fewer lags has no error (runs of < 4 frames)
        kappa = float(np.mean(curve.var_sq_a4[mask] / np.maximum(curve.msd_a2[mask], 1e-12) ** 2))
        kappa = max(kappa, GAUSSIAN_KAPPA)  # never below a Gaussian: noise would shrink errors
        fit = fit_msd_line(
            curve.lag_fs[mask],
            curve.msd_a2[mask],
            total_fs=total,
            n_walkers=curve.n_ions,
            kappa=kappa,
        )
    # a stable point: the fitted line over the whole run (the maximum over lags was the
    # noisiest lag); without a fit, the MSD at the end of the fit window
    reached = fit.slope_a2_fs * total if fit is not None else curve.msd_a2[pick[-1]]
    n_eff = float(max(reached, 0.0) * curve.n_ions / hop_distance_a**2)
    rsd = rsd_he(n_eff)
    fmsd = None if framework_msd_a2 is None else float(np.asarray(framework_msd_a2)[-1])
    melt = framework_molten(
        framework_msd_a2, np.asarray(time_fs), threshold_a2=framework_msd_threshold_a2
    )
    d = fit.slope_a2_fs / 6.0 * A2_PER_FS_TO_CM2_PER_S if fit else 0.0
    err = fit.slope_err_a2_fs / 6.0 * A2_PER_FS_TO_CM2_PER_S if fit else float("inf")
    poor = fit is not None and fit.p_value < POOR_FIT_P and fit.chi2_red > POOR_FIT_CHI2_RED
    sampled = fit is not None and n_eff >= min_n_eff and d > 0 and not too_short and not poor
    extra: dict = {}
    coll = None
    if collective and fit is not None:
        coll = collective_diffusivity(
            pos, time_fs, framework_com_a=framework_com_a, fit_lags_fs=curve.lag_fs[mask]
        )
        extra = collective_fields(
            coll,
            tracer_ok=sampled,
            tracer_d_cm2_s=d,
            tracer_err_cm2_s=err,
            n_mobile_per_cm3=n_mobile_per_cm3,
            temperature_k=float(temperature_k),
            charge=charge,
        )
    result = DiffusionResult(
        temperature_k=float(temperature_k),
        status=SamplingStatus.ok
        if sampled
        else SamplingStatus.too_short
        if too_short
        else SamplingStatus.insufficient_sampling,
        diffusivity_cm2_s=d if sampled else None,
        diffusivity_cm2_s_err=err if sampled else None,
        diffusivity_upper_cm2_s=max(d_upper, d + 1.645 * err)
        if sampled
        else None
        if too_short
        else d_upper,
        diffusivity_gls_err_cm2_s=err if fit else None,
        diffusivity_fit_cm2_s=d if fit else None,
        jump_exposure_s_cm2=jump_exposure_s_cm2(total, curve.n_ions, hop_distance_a)
        if fit
        else None,
        fit_reduced_chi2=fit.chi2_red if fit else None,
        n_eff=n_eff,
        rsd_empirical=rsd,
        simulated_time_ps=total / 1000.0,
        fit_window_ps=(float(curve.lag_fs[pick[0]]) / 1000, float(curve.lag_fs[pick[-1]]) / 1000),
        framework_msd_final_a2=fmsd,
        framework_msd_late_a2=melt.late_mean_a2,
        framework_diffusivity_cm2_s=melt.framework_d_cm2_s,
        framework_mobile=melt.molten,
        fit_poor=poor,
        n_mobile=int(curve.n_ions),
        **extra,
    )
    return DiffusionAnalysis(
        result=result,
        curve=curve,
        fit_intercept_a2=fit.intercept_a2 if fit else float("nan"),
        collective=coll,
    )


def analyse_trajectory(
    traj: MDTrajectory, *, temperature_k: float, mobile_charge: int = 1, **kwargs
) -> DiffusionAnalysis:
    """:func:`estimate_diffusivity` on an :class:`MDTrajectory` (keyword options passed on);
    the mobile-ion density comes from the trajectory's volume."""
    n_ions = traj.mobile_positions_a.shape[1]
    kwargs.setdefault("n_mobile_per_cm3", per_cm3(n_ions, traj.volume_a3))
    return estimate_diffusivity(
        traj.mobile_positions_a,
        traj.time_fs,
        temperature_k=temperature_k,
        framework_com_a=traj.framework_com_a,
        framework_msd_a2=traj.framework_msd_a2,
        charge=mobile_charge,
        **kwargs,
    )
