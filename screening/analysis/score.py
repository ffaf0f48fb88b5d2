"""One score per candidate, from its evidence, by one model whatever tier it reached.

``score = Q_q[log10 sigma(300 K)] - hull_per_ev * max(E_hull, 0)``: the ``score.quantile``
quantile (default 0.16, the lower end of the 1-sigma interval) of the posterior of the
room-temperature conductivity (:mod:`screening.analysis.evidence`) given every usable run
of the candidate (screen and series alike), minus a stability penalty in decades. A
candidate with no MD has the prior alone. Every score comes with an ``evidence``
sub-document (:class:`screening.schemas.results.EvidenceResult`): the interval, Ea, the
tier, the sampling word, the flags and the melting estimate, which ``rank`` prints and
``--where`` queries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from screening.analysis.evidence import (
    ArrheniusPrior,
    Observation,
    Posterior,
    observations,
    posterior,
    prior_only,
)
from screening.analysis.melting import MeltingEstimate, melting_estimate
from screening.schemas.campaign import ScoreSpec

EVIDENCE_FIELDS = (
    "formula",
    "mobile_ion",
    "mobile_per_cm3",
    "score_e_hull_ev_per_atom",
    "stability.e_hull_ev_per_atom",
    "relax.energy_per_atom_ev",
    "screen",
    "diffusion",
)
"""The document fields :func:`evidence_fields` reads."""
DEFAULT_WEIGHTS = ScoreSpec()
"""The weights (a campaign's ``score:`` section, :class:`ScoreSpec`) when none are given."""
DEFAULT_DENSITY_PER_CM3 = 2.0e22
"""Carrier density assumed where a candidate has no structure to count (documents written
before ``mobile_per_cm3`` existed); a typical Li solid electrolyte."""


def prior_of(weights: ScoreSpec) -> ArrheniusPrior:
    """The Arrhenius prior of a campaign's score section."""
    return ArrheniusPrior(
        ea_ev=weights.prior_ea_ev,
        ea_sd_ev=weights.prior_ea_sd_ev,
        log10_d0_cm2_s=weights.prior_log10_d0_cm2_s,
        log10_d0_sd=weights.prior_log10_d0_sd,
    )


def hull_penalty(e_hull_ev_per_atom: float | None, weights: ScoreSpec = DEFAULT_WEIGHTS) -> float:
    """Decades lost for the energy above the hull (0 on or below it, or unknown)."""
    return weights.hull_per_ev * max(e_hull_ev_per_atom or 0.0, 0.0)


def pre_md_score(
    e_hull_ev_per_atom: float | None,
    weights: ScoreSpec = DEFAULT_WEIGHTS,
    *,
    n_mobile_per_cm3: float | None = None,
) -> float:
    """Score of a candidate with no MD evidence: the prior's quantile, less the hull
    penalty (orders candidates for the screen and MD, and FireWorks priorities)."""
    post = prior_only(prior_of(weights), _density(n_mobile_per_cm3), weights.quantile)
    return post.score_quantile - hull_penalty(e_hull_ev_per_atom, weights)


def _density(n: float | None) -> float:
    return n if n is not None and n > 0 and math.isfinite(n) else DEFAULT_DENSITY_PER_CM3


def _sampling(obs: Sequence[Observation], runs: Sequence[Mapping]) -> str:
    """One word for the table: arrhenius (a measured D at two or more temperatures, any
    tier), ok (a measured D at one), insufficient_sampling (upper bounds only), else why
    nothing is usable (framework_melting, too_short, failed), or no_md."""
    if len({o.temperature_k for o in obs if o.is_measured}) >= 2:
        return "arrhenius"
    if any(o.is_measured for o in obs):
        return "ok"
    if obs:
        return "insufficient_sampling"
    if any(r.get("framework_mobile") for r in runs):
        return "framework_melting"
    if any(r.get("status") == "too_short" for r in runs):
        return "too_short"
    return "failed" if runs else "no_md"


def _hottest(runs: Sequence[tuple[str, Mapping]]) -> dict:
    """D (or its bound), T, N_eff and tier of the hottest usable run."""
    usable = [
        (src, r)
        for src, r in runs
        if not r.get("framework_mobile") and r.get("status") in ("ok", "insufficient_sampling")
    ]
    if not usable:
        return {}
    src, r = max(usable, key=lambda x: (x[1]["temperature_k"], x[0] == "series"))
    return {
        "t_k": r["temperature_k"],
        "d_cm2_s": r.get("diffusivity_cm2_s") if r.get("status") == "ok" else None,
        "d_err_cm2_s": r.get("diffusivity_cm2_s_err") if r.get("status") == "ok" else None,
        "d_upper_cm2_s": r.get("diffusivity_upper_cm2_s"),
        "n_eff": r.get("n_eff"),
        "d_source": src,
    }


def evidence_fields(
    doc: Mapping[str, Any], weights: ScoreSpec = DEFAULT_WEIGHTS, *, margin_k: float = 50.0
) -> dict:
    """``{"score": ..., "evidence": {...}}`` for a candidate document (or the parts of it
    the score reads: ``formula``, ``mobile_ion``, ``mobile_per_cm3``,
    ``score_e_hull_ev_per_atom``, ``stability``, ``relax``, ``screen``, ``diffusion``)."""
    screen = doc.get("screen") or {}
    diff = doc.get("diffusion") or {}
    runs: list[tuple[str, Mapping]] = []
    if screen.get("diffusion"):
        runs.append(("screen", screen["diffusion"]))
    runs += [("series", r) for r in diff.get("per_temperature") or []]
    obs = observations([r for s, r in runs if s == "screen"], "screen") + observations(
        [r for s, r in runs if s == "series"], "series"
    )
    density = _density(diff.get("n_mobile_per_cm3") or doc.get("mobile_per_cm3"))
    haven = diff.get("haven_ratio") or 1.0
    haven_err = diff.get("haven_ratio_err") or 0.0
    prior = prior_of(weights)
    if obs:
        post = posterior(
            obs,
            n_mobile_per_cm3=density,
            prior=prior,
            quantile=weights.quantile,
            haven_ratio=haven,
            haven_ratio_err=haven_err,
        )
    else:
        post = prior_only(prior, density, weights.quantile)
    e_hull = doc.get("score_e_hull_ev_per_atom")
    penalty = hull_penalty(e_hull, weights)
    arr = diff.get("arrhenius") or {}
    melted = [float(t) for t in screen.get("melted_at_k") or []]
    melted += [float(r["temperature_k"]) for _, r in runs if r.get("framework_mobile")]
    # a melting estimate for every candidate that reached MD (a composition parse each:
    # skipped for the millions that stop before MD)
    estimate = (
        melting_estimate(doc.get("formula"), doc.get("mobile_ion"), melted)
        if runs
        else MeltingEstimate(None, None)
    )
    flags = list(post.flags)
    flags += [f for f in arr.get("flags") or [] if f in ("non_arrhenius",)]
    if melted:
        flags.append("framework_melting")
    if estimate.temperature_k is not None and any(
        t > estimate.temperature_k for t in post.temperatures_k
    ):
        flags.append("above_melting_estimate")
    tier = "series" if diff else "screen" if screen else _pre_md_tier(doc)
    evidence = {
        "tier": tier,
        "sampling": _sampling(obs, [r for _, r in runs]),
        **_numbers(post),
        "quantile": weights.quantile,
        "hull_penalty_decades": penalty,
        "flags": sorted(set(flags)),
        "melting_estimate_k": estimate.temperature_k,
        "melting_estimate_source": estimate.source,
        "temperature_cap_k": estimate.cap(margin_k),
        "prior": {
            "ea_ev": prior.ea_ev,
            "ea_sd_ev": prior.ea_sd_ev,
            "log10_d0_cm2_s": prior.log10_d0_cm2_s,
            "log10_d0_sd": prior.log10_d0_sd,
        },
        **_hottest(runs),
    }
    return {"score": post.score_quantile - penalty, "evidence": evidence}


def _pre_md_tier(doc: Mapping) -> str:
    if doc.get("stability"):
        return "stability"
    return "relax" if doc.get("relax") else "generate"


def _numbers(post: Posterior) -> dict:
    """The posterior's numbers as stored (log10 and linear sigma, Ea only with data)."""
    has_data = bool(post.n_measured or post.n_bounds)
    return {
        "n_measured": post.n_measured,
        "n_bounds": post.n_bounds,
        "temperatures_k": list(post.temperatures_k),
        "log10_sigma300_median": post.median,
        "log10_sigma300_lower_95": post.lower_95,
        "log10_sigma300_upper_95": post.upper_95,
        "log10_sigma300_lower_1s": post.lower_1s,
        "log10_sigma300_upper_1s": post.upper_1s,
        "log10_sigma300_quantile": post.score_quantile,
        "sigma300_s_cm": 10**post.median,
        "sigma300_lower_s_cm": 10**post.lower_95,
        "sigma300_upper_s_cm": 10**post.upper_95,
        "sigma300_width_decades": post.width_95_decades,
        "ea_ev": post.ea_ev if has_data else None,
        "ea_err_ev": post.ea_err_ev if has_data else None,
        "lever_arm": post.lever_arm,
    }
