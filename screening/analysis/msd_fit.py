"""Straight-line fit of an origin-averaged MSD with the covariance of a random walk.

Model
    MSD(t) = 6 D t + c, fitted by generalised least squares (GLS) over a window of lags.
Covariance
    For a 3-D Brownian walker observed over a run of length T, the MSD averaged over all
    (overlapping) time origins at lags t_i <= t_j has, in the continuous-time limit,

        Cov_ij = 24 D^2 I(t_i, t_j) / ((T - t_i)(T - t_j)),
        I = 2 (T - t_i - t_j) t_i^3 / 3 + t_i^4 / 2 + t_i^2 (T - t_j)(t_j - t_i),

    obtained by integrating 2 Cov[dx_a, dx_b]^2 (Isserlis) over pairs of origins; for
    T >> t it reduces to 24 D^2 (t_i^2 t_j - t_i^3 / 3) / T. N independent walkers divide it
    by N. Only the scale D^2 is unknown, so the GLS estimate does not depend on it and the
    error is D_hat times a number fixed by the lag grid and N. Non-Gaussian displacements
    (rare hops) have Var[r^2] / MSD^2 above the Gaussian 2/3; the covariance is scaled by the
    measured ratio when it is given. This replaces the kinisi-1 approximation
    Cov_ij = Var[r^2(t_i)] / n_ind(t_j) with n_ind counting non-overlapping origins, which
    overstates the variance of the all-origins average by ~3/2.
Goodness of fit
    chi^2 follows chi^2(n - 2) when the model holds; the error is inflated by sqrt(chi2_red)
    only when the fit is significantly poor (p < 0.05), so calibrated data keep calibrated
    intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, stats

GAUSSIAN_KAPPA = 2.0 / 3.0  # Var[r^2] / <r^2>^2 for a 3-D isotropic Gaussian displacement


@dataclass(frozen=True)
class LineFit:
    """Result of :func:`fit_msd_line`.

    Attributes
    ----------
    slope_a2_fs : float
        d MSD / dt, Å^2/fs (6 D for a tracer MSD).
    slope_err_a2_fs : float
        1-sigma error of the slope, Å^2/fs.
    intercept_a2 : float
        Fitted intercept c, Å^2.
    chi2_red : float
        Reduced chi^2 of the GLS fit.
    p_value : float
        Probability of a chi^2 at least this large if the model holds.
    inflated : bool
        True when the error was inflated by sqrt(chi2_red) (p < 0.05).
    """

    slope_a2_fs: float
    slope_err_a2_fs: float
    intercept_a2: float
    chi2_red: float
    p_value: float
    inflated: bool


def random_walk_covariance(lag_fs: np.ndarray, total_fs: float) -> np.ndarray:
    """Covariance of all-origins MSDs of one 3-D walker with D = 1, shape (n, n), fs^2 units.

    Parameters
    ----------
    lag_fs : np.ndarray
        Shape (n,), increasing lags, fs; each below ``total_fs / 2`` for the formula to hold.
    total_fs : float
        Length of the run, fs.
    """
    t = np.asarray(lag_fs, dtype=float)
    ti = np.minimum.outer(t, t)
    tj = np.maximum.outer(t, t)
    big_t = float(total_fs)
    integral = (
        2.0 * (big_t - ti - tj) * ti**3 / 3.0 + ti**4 / 2.0 + ti**2 * (big_t - tj) * (tj - ti)
    )
    return 24.0 * integral / ((big_t - ti) * (big_t - tj))


def fit_msd_line(
    lag_fs: np.ndarray,
    msd_a2: np.ndarray,
    *,
    total_fs: float,
    n_walkers: float,
    kappa: float | None = None,
    inflate_p: float = 0.05,
) -> LineFit:
    """GLS fit of MSD = slope * t + c with the random-walk covariance (module docstring).

    Parameters
    ----------
    lag_fs : np.ndarray
        Shape (n,), lags in the fit window, fs (n >= 3).
    msd_a2 : np.ndarray
        Shape (n,), MSD at those lags, Å^2.
    total_fs : float
        Length of the run, fs.
    n_walkers : float
        Independent walkers averaged in the MSD (ions for a tracer MSD, 1 for a collective one).
    kappa : float, optional
        Measured Var[r^2] / MSD^2; scales the covariance by kappa / (2/3). None: Gaussian.
    inflate_p : float
        Inflate the error by sqrt(chi2_red) when the chi^2 p-value falls below this.

    Returns
    -------
    LineFit
    """
    t = np.asarray(lag_fs, dtype=float)
    y = np.asarray(msd_a2, dtype=float)
    if t.size < 3 or t.size != y.size:
        raise ValueError("need >= 3 lags and as many MSD values")
    t_scale = float(total_fs)
    y_scale = max(float(np.abs(y).max()), 1e-12)
    tn, yn = t / t_scale, y / y_scale
    shape = random_walk_covariance(tn, 1.0)
    shape[np.diag_indices_from(shape)] *= 1.0 + 1e-9
    try:
        factor = linalg.cho_factor(shape, lower=True)
    except linalg.LinAlgError:
        # lags beyond half a (very short) run: the formula no longer holds; keep the
        # variances only, so the fit still runs (such runs are never `sampled` anyway)
        shape = np.diag(np.maximum(np.abs(np.diag(shape)), 1e-12))
        factor = linalg.cho_factor(shape, lower=True)
    x = np.column_stack([tn, np.ones_like(tn)])
    cinv_x = linalg.cho_solve(factor, x)
    pcov_shape = np.linalg.inv(x.T @ cinv_x)
    beta = pcov_shape @ (cinv_x.T @ yn)
    # covariance scale: (D_hat)^2 / n_walkers with D_hat = slope / 6, in normalised units
    d_hat = max(abs(beta[0]) / 6.0, 1e-9)  # normalised units: O(1) for a diffusive curve
    scale = d_hat**2 / n_walkers * ((kappa / GAUSSIAN_KAPPA) if kappa else 1.0)
    resid = yn - x @ beta
    dof = max(t.size - 2, 1)
    chi2 = float(resid @ linalg.cho_solve(factor, resid)) / scale
    chi2_red = chi2 / dof
    p_value = float(stats.chi2.sf(chi2, dof))
    inflated = p_value < inflate_p and chi2_red > 1.0
    var_slope = pcov_shape[0, 0] * scale * (chi2_red if inflated else 1.0)
    return LineFit(
        slope_a2_fs=float(beta[0] * y_scale / t_scale),
        slope_err_a2_fs=float(np.sqrt(max(var_slope, 0.0)) * y_scale / t_scale),
        intercept_a2=float(beta[1] * y_scale),
        chi2_red=chi2_red,
        p_value=p_value,
        inflated=inflated,
    )
