"""PNG plots: MSD vs time per temperature, and the Arrhenius plot with the 300 K band."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from screening.analysis.arrhenius import K_B_EV, ROOM_T_K
from screening.analysis.msd import MSDCurve
from screening.schemas.results import ArrheniusResult, DiffusionResult


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def msd_plot(
    curves: Sequence[tuple[float, MSDCurve, MSDCurve | None]], *, title: str | None = None
) -> bytes:
    """Tracer MSD (±1σ band) and, dashed in the same colour, the collective MSD per ion
    (mean-squared summed displacement / N; equal to the tracer MSD when the Haven ratio is 1)
    vs time lag, for each (temperature_k, tracer curve, collective curve or None)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for k, (t, c, coll) in enumerate(curves):
        ps = c.lag_fs / 1000
        color = f"C{k % 10}"
        ax.plot(ps, c.msd_a2, color=color, label=f"{t:.0f} K tracer")
        ax.fill_between(
            ps, c.msd_a2 - c.msd_err_a2, c.msd_a2 + c.msd_err_a2, color=color, alpha=0.3
        )
        if coll is not None:
            ax.plot(
                coll.lag_fs / 1000, coll.msd_a2, "--", color=color, label=f"{t:.0f} K collective"
            )
    ax.set_xlabel("time lag (ps)")
    ax.set_ylabel("mobile-ion MSD (Å$^2$)")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return _png(fig)


def arrhenius_plot(results: Sequence[DiffusionResult], fit: ArrheniusResult) -> bytes:
    """log D vs 1000/T: sampled D with 1-sigma bars, upper bounds as down triangles, the fit
    extrapolated to 300 K with its 95 % band, and the 300 K value with its interval.

    The band is the fit's 95 % interval at 300 K scaled linearly in 1/T to zero width at the
    centroid of the fitted temperatures (slope uncertainty; the intercept's, small at the
    centroid, is left out of the drawing but not of the reported interval).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    labels = {"ok": "D, sampled (1σ)", "bound": "D upper bound (insufficient sampling)"}
    for r in results:
        x = 1000 / r.temperature_k
        if r.status == "ok":
            d, e = r.diffusivity_cm2_s, r.diffusivity_cm2_s_err
            ax.errorbar(
                x,
                d,
                yerr=[[min(e, 0.99 * d)], [e]],
                fmt="o",
                color="C0",
                label=labels.pop("ok", None),
            )
        elif np.isfinite(r.diffusivity_upper_cm2_s):
            ax.plot(x, r.diffusivity_upper_cm2_s, "v", color="C3", label=labels.pop("bound", None))
    if fit.status == "ok":
        x300 = 1000 / ROOM_T_K
        xs = np.linspace(1000 / max(fit.temperatures_k), x300, 50)
        ys = fit.prefactor_cm2_s * np.exp(-fit.activation_energy_ev / (K_B_EV * 1000 / xs))
        ax.plot(
            xs,
            ys,
            "-",
            color="C0",
            label=f"Ea = {fit.activation_energy_ev:.2f} ± {fit.activation_energy_err_ev:.2f} eV",
        )
        lo = fit.conductivity_300k_lower_s_cm / fit.conductivity_300k_s_cm
        hi = fit.conductivity_300k_upper_s_cm / fit.conductivity_300k_s_cm
        xbar = float(np.mean([1000 / t for t in fit.temperatures_k]))
        frac = np.abs(xs - xbar) / abs(x300 - xbar)
        ax.fill_between(xs, ys * lo**frac, ys * hi**frac, color="C0", alpha=0.2, label="95 % band")
        d300 = fit.diffusivity_300k_cm2_s
        ax.errorbar(
            x300,
            d300,
            yerr=[[d300 * (1 - lo)], [d300 * (hi - 1)]],
            fmt="s",
            color="C1",
            label="300 K (95 %)",
        )
    else:
        ax.set_title(f"no Arrhenius fit ({', '.join(fit.flags) or fit.status})", fontsize=9)
    ax.legend(fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel("D (cm$^2$/s)")
    return _png(fig)
