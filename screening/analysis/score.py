"""One number per candidate for ranking: log10 of a room-temperature conductivity estimate,
penalised for energy above hull and for uncertainty.

* Arrhenius fit available: log10 sigma(300 K) - w_unc * log10(upper / central).
* Otherwise, the highest MD temperature T*: D* = D (sampled) or its 95 % upper bound
  (insufficient sampling), extrapolated to 300 K with a reference Ea (default 0.3 eV) and
  converted by Nernst-Einstein; unsampled candidates lose ``insufficient_penalty`` decades
  more. At the same temperature a candidate with no hops therefore always ranks below one
  with a measured D of at least its bound.
* Candidates that never reached MD score ``NO_MD_SCORE`` minus the hull penalty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from screening.analysis.arrhenius import K_B_EV, ROOM_T_K, nernst_einstein_s_cm
from screening.schemas.campaign import ScoreSpec
from screening.schemas.results import ArrheniusResult, DiffusionResult, SamplingStatus

NO_MD_SCORE = -20.0
DEFAULT_WEIGHTS = ScoreSpec()
"""The weights (a campaign's ``score:`` section, :class:`ScoreSpec`) when none are given."""


def pre_md_score(e_hull_ev_per_atom: float | None, weights: ScoreSpec = DEFAULT_WEIGHTS) -> float:
    """Score of a candidate with no diffusion data: ``NO_MD_SCORE`` minus the hull penalty
    (orders candidates for MD and FireWorks priorities)."""
    return candidate_score(
        None, None, n_mobile_per_cm3=1.0, e_hull_ev_per_atom=e_hull_ev_per_atom, weights=weights
    )


def scored_temperature(diffusion: Sequence[DiffusionResult]) -> DiffusionResult | None:
    """The hottest usable temperature: not failed, not too_short (a vibrational MSD bounds
    nothing) and framework not molten (not a conductor). None when there is none."""
    usable = [
        d
        for d in diffusion
        if d.status not in (SamplingStatus.failed, SamplingStatus.too_short)
        and not d.framework_mobile
    ]
    return max(usable, key=lambda d: d.temperature_k) if usable else None


def sampling_summary(diffusion: Sequence[DiffusionResult], arrhenius: ArrheniusResult) -> str:
    """One word for the ranking table: ``arrhenius`` (sigma(300 K) fitted), else the status
    of the scored temperature (``ok``, ``insufficient_sampling``), else why nothing is
    usable (``framework_melting``, ``too_short``, ``failed``)."""
    if arrhenius.status == SamplingStatus.ok:
        return "arrhenius"
    top = scored_temperature(diffusion)
    if top is not None:
        return str(top.status)
    if any(d.framework_mobile for d in diffusion):
        return "framework_melting"
    if any(d.status == SamplingStatus.too_short for d in diffusion):
        return "too_short"
    return "failed"


def candidate_score(
    diffusion: Sequence[DiffusionResult] | None,
    arrhenius: ArrheniusResult | None,
    *,
    n_mobile_per_cm3: float,
    e_hull_ev_per_atom: float | None = None,
    weights: ScoreSpec = DEFAULT_WEIGHTS,
) -> float:
    """Ranking score (higher is better); see the module docstring."""
    hull = weights.hull_per_ev * max(e_hull_ev_per_atom or 0.0, 0.0)
    if not diffusion:
        return NO_MD_SCORE - hull
    if arrhenius is not None and arrhenius.status == SamplingStatus.ok:
        central = arrhenius.conductivity_300k_s_cm
        spread = math.log10(arrhenius.conductivity_300k_upper_s_cm / central)
        return math.log10(central) - weights.uncertainty * spread - hull
    top = scored_temperature(diffusion)
    if top is None:
        return NO_MD_SCORE - hull
    sampled = top.status == SamplingStatus.ok
    d_star = top.diffusivity_cm2_s if sampled else top.diffusivity_upper_cm2_s
    d300 = d_star * math.exp(
        -weights.reference_ea_ev / K_B_EV * (1 / ROOM_T_K - 1 / top.temperature_k)
    )
    haven = arrhenius.haven_ratio if arrhenius is not None else 1.0
    sigma = (
        nernst_einstein_s_cm(
            max(d300, 1e-300), n_mobile_per_cm3=n_mobile_per_cm3, temperature_k=ROOM_T_K
        )
        / haven
    )
    score = math.log10(sigma) - hull
    if sampled:
        score -= weights.uncertainty * math.log10(1 + top.diffusivity_cm2_s_err / d_star)
    else:
        score -= weights.insufficient_penalty
    return score
