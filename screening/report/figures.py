"""The report's figures, as PNG bytes: the funnel, E_hull vs sigma(300 K), the screen's D
and a picture of one structure.

Every function takes plain numbers (no store) and returns a PNG; matplotlib (Agg) loads
on the first call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from screening.analysis.plots import png_bytes

TIER_COLOUR = {"series": "#1b6ca8", "screen": "#e08a1e", None: "#8a8a8a"}


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def funnel_png(steps: Sequence[tuple[str, int]]) -> bytes:
    """Horizontal bars, one per funnel tier from the widest to the narrowest.

    Parameters
    ----------
    steps : sequence of (label, count)
        Tiers in funnel order; counts are candidates (log scale when they span > 100x).
    """
    fig, ax = _figure(7.0, 0.45 * len(steps) + 0.8)
    labels = [s[0] for s in steps][::-1]
    counts = [max(s[1], 0) for s in steps][::-1]
    ax.barh(labels, [max(c, 0.8) for c in counts], color="#1b6ca8")
    nonzero = [c for c in counts if c > 0]
    if nonzero and max(nonzero) / min(nonzero) > 100:
        ax.set_xscale("log")
    else:
        ax.xaxis.get_major_locator().set_params(integer=True)
    for y, c in enumerate(counts):
        ax.text(max(c, 0.8), y, f" {c:,}", va="center", fontsize=9)
    ax.set_xlabel("candidates")
    ax.set_xlim(right=max([*counts, 1]) * (3 if ax.get_xscale() == "log" else 1.25))
    ax.spines[["top", "right"]].set_visible(False)
    return png_bytes(fig)


def hull_sigma_png(rows: Sequence[Mapping]) -> bytes:
    """log10 sigma(300 K) (posterior median, 95 % interval as a bar) against E_hull, one
    point per ranked candidate, coloured by the tier its evidence came from.

    Parameters
    ----------
    rows : sequence of mapping
        Ranking rows (:func:`screening.store.ranking.rank_rows`); rows without an E_hull or
        a sigma are left out.
    """
    fig, ax = _figure(6.5, 4.2)
    for tier, colour in TIER_COLOUR.items():
        pts = [
            r
            for r in rows
            if r.get("tier") == tier
            and r.get("e_hull_ev_per_atom") is not None
            and r.get("sigma_300k_s_cm")
        ]
        if not pts:
            continue
        x = np.array([r["e_hull_ev_per_atom"] for r in pts]) * 1000
        y = np.log10([r["sigma_300k_s_cm"] for r in pts])
        lo = y - np.log10([r["sigma_300k_lower_s_cm"] for r in pts])
        hi = np.log10([r["sigma_300k_upper_s_cm"] for r in pts]) - y
        label = {None: "prior only (no MD)"}.get(tier, tier)
        ax.errorbar(x, y, yerr=[lo, hi], fmt="o", color=colour, ms=5, capsize=2, label=label)
    ax.set_xlabel("E_hull (meV/atom)")
    ax.set_ylabel("log10 σ(300 K) / S cm⁻¹  (median, 95 %)")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return png_bytes(fig)


def screen_d_png(points: Sequence[Mapping]) -> bytes:
    """Histogram of log10 D from the conduction screen: measured values and upper bounds
    (insufficient sampling) stacked; molten runs apart.

    Parameters
    ----------
    points : sequence of mapping
        :func:`screening.store.ranking.screen_diffusivities` rows.
    """
    fig, ax = _figure(6.5, 3.4)
    groups = {
        "measured D": [p["d_cm2_s"] for p in points if p["d_cm2_s"] and not p["framework_melting"]],
        "upper bound": [
            p["d_upper_cm2_s"]
            for p in points
            if p["d_cm2_s"] is None and p["d_upper_cm2_s"] and not p["framework_melting"]
        ],
        "framework melted": [
            p["d_cm2_s"] or p["d_upper_cm2_s"]
            for p in points
            if p["framework_melting"] and (p["d_cm2_s"] or p["d_upper_cm2_s"])
        ],
    }
    values = {k: np.log10([v for v in vs if v > 0]) for k, vs in groups.items()}
    everything = np.concatenate([v for v in values.values() if len(v)] or [np.array([-5.0])])
    lo, hi = math.floor(everything.min() * 4) / 4, math.ceil(everything.max() * 4) / 4
    bins = np.arange(lo, hi + 0.25, 0.25) if hi > lo else np.array([lo - 0.25, lo + 0.25])
    ax.hist(
        [values[k] for k in groups],
        bins=bins,
        stacked=True,
        label=[f"{k} ({len(values[k])})" for k in groups],
        color=["#1b6ca8", "#9bbbd4", "#c0392b"],
    )
    ax.set_xlabel("log10 D at the screen temperature / cm² s⁻¹")
    ax.set_ylabel("candidates")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, frameon=False)
    return png_bytes(fig)


ELEMENT_COLOUR = {
    "Li": "#7f3fbf",
    "Na": "#d4a017",
    "Cl": "#2ca02c",
    "Br": "#8c564b",
    "I": "#9467bd",
    "F": "#17becf",
    "S": "#e6c200",
    "O": "#d62728",
    "P": "#ff7f0e",
    "N": "#1f77b4",
}


def structure_png(structure: Mapping) -> bytes:
    """The cell seen along c: atoms as discs (size by covalent radius, colour by element,
    nearer atoms drawn over farther ones) inside the projected cell outline.

    Parameters
    ----------
    structure : mapping
        A pymatgen ``Structure.as_dict()``.
    """
    from pymatgen.core import Structure

    s = Structure.from_dict(structure)
    m = s.lattice.matrix
    c_hat = m[2] / np.linalg.norm(m[2])
    a_hat = m[0] - np.dot(m[0], c_hat) * c_hat
    a_hat /= np.linalg.norm(a_hat)
    b_hat = np.cross(c_hat, a_hat)

    def project(xyz):
        return np.dot(xyz, a_hat), np.dot(xyz, b_hat), np.dot(xyz, c_hat)

    fig, ax = _figure(3.6, 3.6)
    corners = [np.zeros(3), m[0], m[0] + m[1], m[1], np.zeros(3)]
    cx, cy, _ = project(np.array(corners))
    ax.plot(cx, cy, color="#444444", lw=1)
    xs, ys, zs = project(s.cart_coords)
    order = np.argsort(zs)
    palette = iter(["#7f7f7f", "#bcbd22", "#e377c2", "#aec7e8", "#98df8a", "#c49c94"])
    els = [site.specie.symbol for site in s]
    colours = {el: ELEMENT_COLOUR.get(el) or next(palette, "#7f7f7f") for el in dict.fromkeys(els)}
    radius = [float(site.specie.atomic_radius or 1.0) for site in s]
    ax.scatter(
        xs[order],
        ys[order],
        s=[(120 * radius[i] ** 2) for i in order],
        c=[colours[els[i]] for i in order],
        edgecolors="#222222",
        linewidths=0.4,
    )
    for el, col in colours.items():
        ax.scatter([], [], c=col, s=40, label=el, edgecolors="#222222", linewidths=0.4)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{s.composition.reduced_formula}, {len(s)} atoms, view along c", fontsize=8)
    return png_bytes(fig)
