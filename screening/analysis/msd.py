"""Mean-squared displacement averaged over time origins, with per-lag statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MSDCurve:
    """MSD of the mobile ions as a function of time lag.

    Attributes
    ----------
    lag_fs : np.ndarray
        Shape (n_lags,), time lags, fs.
    msd_a2 : np.ndarray
        Shape (n_lags,), MSD averaged over ions and all time origins, Å^2.
    var_sq_a4 : np.ndarray
        Shape (n_lags,), variance of single squared displacements at that lag, Å^4.
    n_independent : np.ndarray
        Shape (n_lags,), number of statistically independent displacements,
        n_ions * total_time / lag (non-overlapping origins).
    n_ions : int
        Mobile ions.
    total_time_fs : float
        Length of the trajectory, fs.
    """

    lag_fs: np.ndarray
    msd_a2: np.ndarray
    var_sq_a4: np.ndarray
    n_independent: np.ndarray
    n_ions: int
    total_time_fs: float

    @property
    def msd_err_a2(self) -> np.ndarray:
        """Standard error of the MSD at each lag (diagonal of the covariance), Å^2."""
        return np.sqrt(self.var_sq_a4 / self.n_independent)


def compute_msd(
    positions_a: np.ndarray,
    time_fs: np.ndarray,
    *,
    framework_com_a: np.ndarray | None = None,
    n_lags: int = 100,
) -> MSDCurve:
    """MSD from unwrapped positions, framework centre-of-mass drift removed.

    Parameters
    ----------
    positions_a : np.ndarray
        Shape (n_frames, n_ions, 3), unwrapped Cartesian positions, Å.
    time_fs : np.ndarray
        Shape (n_frames,), evenly spaced times, fs.
    framework_com_a : np.ndarray, optional
        Shape (n_frames, 3), framework centre of mass; its displacement is subtracted from
        every ion's displacement (removes spurious drift of the whole cell).
    n_lags : int
        Lags spaced evenly, plus as many spaced geometrically, from one frame to the whole
        trajectory (short lags carry most of the statistical information).

    Returns
    -------
    MSDCurve
    """
    pos = np.asarray(positions_a, dtype=float)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise ValueError(f"positions must have shape (n_frames, n_ions, 3), got {pos.shape}")
    n_frames, n_ions, _ = pos.shape
    if n_frames < 3:
        raise ValueError(f"need at least 3 frames, got {n_frames}")
    if framework_com_a is not None:
        pos = pos - (np.asarray(framework_com_a) - framework_com_a[0])[:, None, :]
    dt = float(time_fs[1] - time_fs[0])
    k = min(n_lags, n_frames - 1)
    lags = np.unique(
        np.concatenate([np.linspace(1, n_frames - 1, k), np.geomspace(1, n_frames - 1, k)])
        .round()
        .astype(int)
    )
    msd = np.empty(lags.size)
    var = np.empty(lags.size)
    for k, lag in enumerate(lags):
        sq = ((pos[lag:] - pos[:-lag]) ** 2).sum(axis=-1)
        msd[k] = sq.mean()
        var[k] = sq.var()
    total = dt * (n_frames - 1)
    lag_fs = lags * dt
    return MSDCurve(
        lag_fs=lag_fs,
        msd_a2=msd,
        var_sq_a4=var,
        n_independent=n_ions * total / lag_fs,
        n_ions=n_ions,
        total_time_fs=total,
    )
