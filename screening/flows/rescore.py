"""Recompute scores from stored stage results (after changing the campaign's weights).

No MLFF work: every input of the score is already in the candidate documents. Only the
documents whose score changes are written (one bulk write per chunk), so a rerun with the
same weights writes nothing.
"""

from __future__ import annotations

from screening.analysis.score import candidate_score, pre_md_score
from screening.schemas.campaign import CampaignSpec
from screening.schemas.results import ArrheniusResult, DiffusionResult
from screening.store.results import ResultStore

_FIELDS = ("score", "score_pre_md", "score_e_hull_ev_per_atom", "diffusion")


def rescore_campaign(store: ResultStore, spec: CampaignSpec, *, tolerance: float = 1e-9) -> dict:
    """Rescore every scored candidate of ``spec.name`` with ``spec.score`` weights.

    Returns ``{"scored": n, "changed": k}``.
    """
    weights = spec.score
    updates: dict[str, dict] = {}
    n = 0
    cands = store.candidates(spec.name)
    for d in (d for page in cands.pages({"score": {"$exists": True}}, _FIELDS) for d in page):
        n += 1
        e_hull = d.get("score_e_hull_ev_per_atom")
        diff = d.get("diffusion")
        new: dict = {"score_pre_md": pre_md_score(e_hull, weights)}
        if diff:
            new["score"] = candidate_score(
                [DiffusionResult.model_validate(x) for x in diff["per_temperature"]],
                ArrheniusResult.model_validate(diff["arrhenius"]),
                n_mobile_per_cm3=diff["n_mobile_per_cm3"],
                e_hull_ev_per_atom=e_hull,
                weights=weights,
            )
        else:
            new["score"] = new["score_pre_md"]
        if all(abs(new[k] - d.get(k, float("nan"))) <= tolerance for k in new):
            continue  # unchanged: nothing to write
        updates[d["_id"]] = new
    cands.record(updates)
    store.flush()
    return {"scored": n, "changed": len(updates)}
