"""Ranking and campaign status queries (what users would otherwise write by hand)."""

from __future__ import annotations

from collections import Counter

from screening.store.results import ResultStore

RANK_FIELDS = {
    "_id": 0,
    "candidate_id": 1,
    "formula": 1,
    "prototype": 1,
    "substitution": 1,
    "score": 1,
    "status": 1,
    "stage": 1,
    "stability.e_hull_ev_per_atom": 1,
    "diffusion.arrhenius.conductivity_300k_s_cm": 1,
    "diffusion.arrhenius.activation_energy_ev": 1,
    "diffusion.per_temperature": 1,
}


def rank(store: ResultStore, campaign: str, *, top: int = 20, where: dict | None = None):
    """Top candidates of a campaign by score (uses the (campaign, score) index)."""
    query = {"campaign": campaign, "score": {"$exists": True}, **(where or {})}
    cur = store.db["candidates"].find(query, RANK_FIELDS).sort("score", -1).limit(top)
    return list(cur)


def campaign_status(store: ResultStore, campaign: str) -> dict:
    """Per-stage counts and failures of a campaign."""
    camp = store.db["campaigns"].find_one({"_id": campaign}) or {}
    stages: Counter = Counter()
    failed: Counter = Counter()
    total = 0
    for d in store.db["candidates"].find(
        {"campaign": campaign}, {"stage": 1, "status": 1, "errors": 1}
    ):
        total += 1
        stages[d.get("stage")] += 1
        if d.get("status") == "failed":
            err = (d.get("errors") or ["unknown"])[0]
            failed[err.split(":")[0]] += 1
    gen = camp.get("counts", {}).get("generate", {})
    return {
        "campaign": campaign,
        "counts": {
            "enumerated": gen.get("enumerated", 0),
            "passed_filters": gen.get("passed", 0),
            "stored": total,
            **{f"stage_{k}": v for k, v in sorted(stages.items())},
        },
        "rejected_by_reason": gen.get("rejected_by_reason", {}),
        "failed_by_reason": dict(failed),
    }
