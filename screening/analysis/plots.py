"""PNG plots: MSD vs time per temperature, and the Arrhenius plot with the 300 K band."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from screening.analysis.arrhenius import K_B_EV, ROOM_T_K
from screening.analysis.msd import MSDCurve
from screening.schemas.results import ArrheniusResult, DiffusionResult


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


@dataclass(frozen=True)
class MSDPanel:
    """One temperature of an MSD plot.

    Attributes
    ----------
    temperature_target_k, temperature_mean_k : float
        Thermostat set point and measured mean temperature, K.
    tracer : MSDCurve
        Tracer MSD.
    collective : MSDCurve or None
        Collective MSD per ion, when computed.
    fit_window_ps : (float, float) or None
        Lag window of the diffusivity fit, ps.
    """

    temperature_target_k: float
    temperature_mean_k: float
    tracer: MSDCurve
    collective: MSDCurve | None = None
    fit_window_ps: tuple[float, float] | None = None


def msd_plot(panels: Sequence[MSDPanel], *, title: str | None = None) -> bytes:
    """PNG of :func:`msd_figure`."""
    return png_bytes(msd_figure(panels, title=title))


def msd_figure(panels: Sequence[MSDPanel], *, title: str | None = None):
    """Tracer MSD (±1σ band) and, dashed in the same colour, the collective MSD per ion
    (mean-squared summed displacement / N; equal to the tracer MSD when the Haven ratio is 1)
    vs time lag per temperature, labelled with the set point and the measured mean
    temperature; the fit window is drawn thick over the tracer curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for k, p in enumerate(panels):
        c = p.tracer
        ps = c.lag_fs / 1000
        color = f"C{k % 10}"
        label = f"{p.temperature_target_k:.0f} K (⟨T⟩ = {p.temperature_mean_k:.0f} K)"
        ax.plot(ps, c.msd_a2, color=color, lw=1, label=f"{label} tracer")
        ax.fill_between(
            ps, c.msd_a2 - c.msd_err_a2, c.msd_a2 + c.msd_err_a2, color=color, alpha=0.3
        )
        if p.fit_window_ps is not None:
            lo, hi = p.fit_window_ps
            inside = (ps >= lo) & (ps <= hi)
            ax.plot(
                ps[inside],
                c.msd_a2[inside],
                color=color,
                lw=3,
                alpha=0.6,
                label="fit window" if k == 0 else None,
            )
        if p.collective is not None:
            ax.plot(
                p.collective.lag_fs / 1000,
                p.collective.msd_a2,
                "--",
                color=color,
                label=f"{p.temperature_target_k:.0f} K collective",
            )
    ax.set_xlabel("time lag (ps)")
    ax.set_ylabel("mobile-ion MSD (Å$^2$)")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return fig


def arrhenius_plot(
    results: Sequence[DiffusionResult], fit: ArrheniusResult, *, title: str | None = None
) -> bytes:
    """PNG of :func:`arrhenius_figure`."""
    return png_bytes(arrhenius_figure(results, fit, title=title))


def arrhenius_figure(
    results: Sequence[DiffusionResult], fit: ArrheniusResult, *, title: str | None = None
):
    """log D vs 1000/T (measured mean temperatures): sampled D with 1-sigma bars, upper
    bounds as down triangles, the fit extrapolated to 300 K with its 95 % band, and the 300 K
    value with its interval; ``title`` on top, the fit's flags (or why there is no fit)
    below it.

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
        elif r.diffusivity_upper_cm2_s is not None and np.isfinite(r.diffusivity_upper_cm2_s):
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
    if fit.status == "ok":
        note = f"flags: {', '.join(fit.flags)}" if fit.flags else ""
    else:
        note = f"no Arrhenius fit ({', '.join(fit.flags) or fit.status})"
    ax.set_title("\n".join(x for x in (title, note) if x), fontsize=8)
    ax.legend(fontsize=7)
    ax.set_yscale("log")
    ax.set_xlabel("1000 / ⟨T⟩ (1/K), measured mean MD temperature")
    ax.set_ylabel("D (cm$^2$/s)")
    return fig
