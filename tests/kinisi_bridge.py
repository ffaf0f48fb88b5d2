"""Run kinisi 2.x (test-only dependency) on the arrays our analysis sees.

kinisi reads fractional coordinates and a lattice; we hand it the already-unwrapped,
drift-corrected mobile-ion positions inside a 1000 Å cubic box (no step ever crosses a
boundary, so its unwrapping is the identity) and no framework atoms (no second drift
correction). Both analyses then start from the same numbers. kinisi samples the posterior of
the slope with emcee; we report its mean and standard deviation.
"""

from __future__ import annotations

import numpy as np

BOX_A = 1000.0


def _parser(positions_a: np.ndarray, time_fs: np.ndarray, lags_fs: np.ndarray):
    import scipp as sc
    from kinisi.parser import Parser

    pos = np.asarray(positions_a, dtype=float)
    n_frames, n_ions, _ = pos.shape
    frac = (pos - pos.min(axis=(0, 1)) + 1.0) / BOX_A
    dt_frame = float(time_fs[1] - time_fs[0])
    latt = np.broadcast_to(np.eye(3) * BOX_A, (n_frames, 3, 3)).copy()
    frames = np.unique(np.round(np.asarray(lags_fs) / dt_frame).astype(int))
    return Parser(
        coords=sc.array(dims=["time", "particle", "dimension"], values=frac),
        latt=sc.array(dims=["time", "dimension1", "dimension2"], values=latt, unit="angstrom"),
        time_step=sc.scalar(dt_frame, unit="fs"),
        step_skip=sc.scalar(1.0),
        dt=sc.array(dims=["time interval"], values=frames * dt_frame, unit="fs"),
        specie_indices=sc.array(dims=["particle"], values=np.arange(n_ions)),
        drift_indices=sc.array(dims=["particle"], values=np.array([], dtype=int)),
    )


def kinisi_tracer_and_collective(
    positions_a: np.ndarray,
    time_fs: np.ndarray,
    *,
    start_fs: float,
    max_lag_fs: float,
    n_lags: int = 40,
    seed: int = 0,
) -> dict[str, float]:
    """kinisi's tracer D and jump (collective) D_J with their posterior SDs, cm^2/s.

    Parameters
    ----------
    positions_a : np.ndarray
        Shape (n_frames, n_ions, 3), unwrapped positions (drift already removed), Å.
    time_fs : np.ndarray
        Shape (n_frames,), evenly spaced times, fs.
    start_fs, max_lag_fs : float
        Fit window (kinisi fits from ``start_fs`` to the largest lag given), fs.
    n_lags : int
        Lags (geometric) between one frame and ``max_lag_fs``.
    seed : int
        Seed of the MCMC.
    """
    import scipp as sc
    from kinisi.diffusion_analyzer import DiffusionAnalyzer
    from kinisi.displacement import calculate_msd, calculate_mstd
    from kinisi.jump_diffusion_analyzer import JumpDiffusionAnalyzer

    dt_frame = float(time_fs[1] - time_fs[0])
    lags = np.geomspace(dt_frame, max_lag_fs, n_lags)
    parser = _parser(positions_a, time_fs, lags)
    opts = dict(progress=False, random_state=np.random.RandomState(seed))

    tracer = DiffusionAnalyzer(parser)
    tracer._dg = calculate_msd(parser, progress=False)
    tracer.diffusion(start_dt=sc.scalar(start_fs, unit="fs"), **opts)
    coll = JumpDiffusionAnalyzer(parser)
    coll._dg = calculate_mstd(parser, 1, None, progress=False)
    coll.jump_diffusion(start_dt=sc.scalar(start_fs, unit="fs"), **opts)
    d = np.asarray(tracer.D.values)
    dj = np.asarray(sc.to_unit(coll.D_J, "cm2/s").values)
    return {
        "d_cm2_s": float(d.mean()),
        "d_err_cm2_s": float(d.std()),
        "dj_cm2_s": float(dj.mean()),
        "dj_err_cm2_s": float(dj.std()),
    }
