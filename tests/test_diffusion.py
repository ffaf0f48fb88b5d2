"""Diffusion analysis against synthetic data with a known answer, plus one real check."""

from __future__ import annotations

import numpy as np
import pytest

from screening.analysis import estimate_diffusivity, fit_arrhenius
from screening.analysis.arrhenius import K_B_EV, nernst_einstein_s_cm
from screening.schemas.results import DiffusionResult

D_TRUE = 1e-5  # cm^2/s
DT_FS = 10.0


def random_walk(seed: int, n_frames: int, n_ions: int = 16, d_cm2_s: float = D_TRUE):
    rng = np.random.default_rng(seed)
    step_sd = np.sqrt(2 * (d_cm2_s / 0.1) * DT_FS)  # Å per frame per dimension
    steps = rng.normal(0, step_sd, (n_frames - 1, n_ions, 3))
    pos = np.concatenate([np.zeros((1, n_ions, 3)), np.cumsum(steps, axis=0)])
    return pos, np.arange(n_frames) * DT_FS


@pytest.mark.parametrize("n_frames", [3000, 8000])
def test_interval_contains_true_d_in_90_percent_of_seeds(n_frames):
    hits, n_ok = 0, 0
    for seed in range(30):
        r = estimate_diffusivity(*random_walk(seed, n_frames), temperature_k=1000).result
        assert r.status == "ok"
        n_ok += 1
        hits += abs(r.diffusivity_cm2_s - D_TRUE) <= 1.96 * r.diffusivity_cm2_s_err
    assert hits / n_ok >= 0.9


def test_gls_error_alone_is_calibrated():
    hits = 0
    for seed in range(40):
        r = estimate_diffusivity(*random_walk(seed, 3000), temperature_k=1000).result
        hits += abs(r.diffusivity_cm2_s - D_TRUE) <= 1.96 * r.diffusivity_gls_err_cm2_s
    assert hits / 40 >= 0.85  # nominal 95 %; GLS alone, no empirical floor


def test_interval_shrinks_with_length():
    def mean_rel_err(n):
        errs = [
            estimate_diffusivity(*random_walk(s, n), temperature_k=1000).result for s in range(10)
        ]
        return np.mean([e.diffusivity_cm2_s_err / e.diffusivity_cm2_s for e in errs])

    assert mean_rel_err(10000) < 0.8 * mean_rel_err(3000)


def test_short_walks_are_insufficient_with_valid_upper_bound():
    covered = 0
    for seed in range(40):
        r = estimate_diffusivity(*random_walk(seed, 300), temperature_k=1000).result
        assert r.status == "insufficient_sampling"
        assert r.diffusivity_cm2_s is None
        covered += r.diffusivity_upper_cm2_s >= D_TRUE
    assert covered / 40 >= 0.9


def test_framework_drift_is_removed():
    pos, t = random_walk(1, 3000)
    drift = np.outer(t, [0.01, 0.0, 0.0])  # whole cell slides 0.01 Å/fs
    r = estimate_diffusivity(
        pos + drift[:, None, :], t, temperature_k=1000, framework_com_a=drift
    ).result
    ref = estimate_diffusivity(pos, t, temperature_k=1000).result
    assert r.diffusivity_cm2_s == pytest.approx(ref.diffusivity_cm2_s, rel=1e-6)


def _synthetic_arrhenius(seed, ea=0.25, d0=1e-3, temps=(600, 800, 1000, 1200), rel=0.2):
    rng = np.random.default_rng(seed)
    out = []
    for t in temps:
        d = d0 * np.exp(-ea / (K_B_EV * t)) * np.exp(rng.normal(0, rel))
        out.append(
            DiffusionResult(
                temperature_k=t,
                status="ok",
                diffusivity_cm2_s=d,
                diffusivity_cm2_s_err=rel * d,
                diffusivity_upper_cm2_s=2 * d,
                n_eff=100,
                rsd_empirical=rel,
                simulated_time_ps=50,
                fit_window_ps=(1, 25),
            )
        )
    return out


def test_arrhenius_recovers_ea_and_room_temperature_conductivity():
    n = 4.0e22  # Li per cm^3
    sigma_true = nernst_einstein_s_cm(
        1e-3 * np.exp(-0.25 / (K_B_EV * 300)), n_mobile_per_cm3=n, temperature_k=300
    )
    ea_hits = sigma_hits = 0
    for seed in range(40):
        fit = fit_arrhenius(_synthetic_arrhenius(seed), n_mobile_per_cm3=n)
        assert fit.status == "ok"
        ea_hits += abs(fit.activation_energy_ev - 0.25) <= 2 * fit.activation_energy_err_ev
        sigma_hits += (
            fit.conductivity_300k_lower_s_cm <= sigma_true <= fit.conductivity_300k_upper_s_cm
        )
    assert ea_hits / 40 >= 0.9
    assert sigma_hits / 40 >= 0.9


def test_arrhenius_flags():
    few = fit_arrhenius(_synthetic_arrhenius(0, temps=(900, 1000)), n_mobile_per_cm3=1e22)
    assert few.status == "insufficient_sampling" and "too_few_temperatures" in few.flags
    narrow = fit_arrhenius(_synthetic_arrhenius(0, temps=(1000, 1050, 1100)), n_mobile_per_cm3=1e22)
    assert "narrow_temperature_range" in narrow.flags
    bent = _synthetic_arrhenius(0, rel=0.01)
    bent[0] = bent[0].model_copy(update={"diffusivity_cm2_s": bent[0].diffusivity_cm2_s * 20})
    assert "non_arrhenius" in fit_arrhenius(bent, n_mobile_per_cm3=1e22).flags


def test_fast_conductor_beats_licl_at_1000k(tensornet, lgps_1000k):
    """Real check: ordered Li10GeP2S12 vs rock-salt LiCl at 1000 K, TensorNet.

    The fast conductor is pymatgen's bundled Li10GeP2S12 with occupancies rounded to a
    Li20Ge2P4S24 cell and ordered by OrderDisorderedStructureTransformation (Ewald, fast
    algorithm), run 4 ps. LiCl (2 ps) shows no hops, so its *upper bound* is compared
    (conservative). The collective (charge) conductivity of LGPS is positive and its Haven
    ratio is reported with an error.
    """
    from conftest import rocksalt

    from screening.analysis.diffusion import analyse_trajectory
    from screening.md import run_md

    res, traj = lgps_1000k
    # 4 ps is short: accept N_eff >= 10 here (the default gate is 20)
    fast = analyse_trajectory(
        traj, temperature_k=res.temperature_mean_k, min_n_eff=10, min_lag_ps=0.5
    ).result
    res, traj = run_md(
        rocksalt(5.13),
        tensornet,
        temperature_k=1000,
        steps=1000,
        equilibration_steps=100,
        stride=5,
        seed=0,
    )
    slow = analyse_trajectory(traj, temperature_k=res.temperature_mean_k).result
    print(
        f"LGPS D = {fast.diffusivity_cm2_s:.2e} ± {fast.diffusivity_cm2_s_err:.1e} cm2/s "
        f"(N_eff {fast.n_eff:.1f}, window {fast.fit_window_ps} ps), sigma_tracer "
        f"{fast.conductivity_tracer_s_cm:.3f}, sigma_coll {fast.conductivity_collective_s_cm:.3f}"
        f" ± {fast.conductivity_collective_err_s_cm:.3f} S/cm, H = {fast.haven_ratio:.2f} ± "
        f"{fast.haven_ratio_err:.2f}; LiCl D <= {slow.diffusivity_upper_cm2_s:.2e} cm2/s"
    )
    assert fast.status == "ok"
    assert slow.status == "insufficient_sampling"
    # the fast conductor's D, 2 sigma low, still exceeds LiCl's 95 % upper bound
    assert fast.diffusivity_cm2_s - 2 * fast.diffusivity_cm2_s_err > slow.diffusivity_upper_cm2_s
    assert fast.fit_window_ps[0] >= 0.5
    assert fast.conductivity_collective_s_cm > 0 and fast.haven_ratio_err > 0


def test_arrhenius_plot_is_a_png():
    from screening.analysis.plots import arrhenius_plot

    data = _synthetic_arrhenius(0)
    png = arrhenius_plot(data, fit_arrhenius(data, n_mobile_per_cm3=1e22))
    assert png[:4] == b"\x89PNG" and len(png) > 5000
