"""Ranking and campaign status queries (what users would otherwise write by hand)."""

from __future__ import annotations

import datetime as _dt
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
    "score_e_hull_ev_per_atom": 1,
    "stability.e_hull_ev_per_atom": 1,
    "diffusion.arrhenius.status": 1,
    "diffusion.arrhenius.conductivity_300k_s_cm": 1,
    "diffusion.arrhenius.conductivity_300k_lower_s_cm": 1,
    "diffusion.arrhenius.conductivity_300k_upper_s_cm": 1,
    "diffusion.arrhenius.activation_energy_ev": 1,
    "diffusion.arrhenius.activation_energy_err_ev": 1,
    "diffusion.at_t_max": 1,
    "diffusion.sampling": 1,
}

SCORE_LEGEND = (
    "score: log10 of the estimated sigma(300 K) in S/cm (Arrhenius fit, else D at the hottest "
    "usable T extrapolated with Ea = 0.3 eV), minus penalties in decades: log10(upper/central) "
    "of sigma, 10 per eV/atom above the hull, 1 when D is only an upper bound; -20 = no "
    "usable MD (never simulated, too_short, molten or failed), minus the hull penalty. "
    "E_hull* = stand-in (no reference phases: energy above the lowest relaxed polymorph)."
)


def rank(store: ResultStore, campaign: str, *, top: int = 20, where: dict | None = None):
    """Top candidates of a campaign by score (uses the (campaign, score) index)."""
    query = {"campaign": campaign, "score": {"$exists": True}, **(where or {})}
    cur = store.db["candidates"].find(query, RANK_FIELDS).sort("score", -1).limit(top)
    return list(cur)


def rank_rows(rows: list[dict]) -> list[dict]:
    """Flat ranking rows (one level, for tables and CSV) from :func:`rank` documents.

    ``e_hull_ev_per_atom`` is from the stability stage when it ran, else the stand-in the
    score used (``e_hull_is_standin`` True); the D columns are at the hottest usable
    temperature (``diffusion.at_t_max``); ``sampling`` is ``diffusion.sampling``, or
    ``no_md`` for a candidate that never reached MD.
    """
    flat = []
    for i, r in enumerate(rows, 1):
        diff = r.get("diffusion") or {}
        arr = diff.get("arrhenius") or {}
        hot = diff.get("at_t_max") or {}
        real = (r.get("stability") or {}).get("e_hull_ev_per_atom")
        e_hull = real if real is not None else r.get("score_e_hull_ev_per_atom")
        flat.append(
            {
                "rank": i,
                "candidate_id": r["candidate_id"],
                "formula": r["formula"],
                "score": round(r["score"], 3),
                "e_hull_ev_per_atom": e_hull,
                "e_hull_is_standin": real is None,
                "sigma_300k_s_cm": arr.get("conductivity_300k_s_cm"),
                "sigma_300k_lower_s_cm": arr.get("conductivity_300k_lower_s_cm"),
                "sigma_300k_upper_s_cm": arr.get("conductivity_300k_upper_s_cm"),
                "activation_energy_ev": arr.get("activation_energy_ev"),
                "t_max_k": hot.get("temperature_k"),
                "d_tmax_cm2_s": hot.get("diffusivity_cm2_s"),
                "d_tmax_upper_cm2_s": hot.get("diffusivity_upper_cm2_s"),
                "n_eff": hot.get("n_eff"),
                "sampling": diff.get("sampling") or ("no_md" if not diff else None),
                "status": r.get("status"),
            }
        )
    return flat


def campaign_status(store: ResultStore, campaign: str) -> dict:
    """Per-stage counts, failures by reason, throughput and ETA of a campaign.

    ``counts``: enumerated, passed_filters, shards_done / shards_total, prescreened and
    rejected_by_prescreen (summed over the generation shards), stored (documents),
    duplicates, relaxed,
    stable (E_hull within the campaign's cut), screened and framework_melting (conduction
    screen), md_done, failed, and one ``stage_<name>`` count per funnel stage
    (``stage_selected_for_screen`` is the screen's backlog).
    """
    camp = store.db["campaigns"].find_one({"_id": campaign}) or {}
    stages: Counter = Counter()
    failed: Counter = Counter()
    total = 0
    first = last = None
    done = relaxed = stable = md_done = duplicates = screened = molten = 0
    cut = (camp.get("spec") or {}).get("funnel", {}).get("e_hull_max_ev_per_atom")
    for d in store.db["candidates"].find(
        {"campaign": campaign},
        {
            "stage": 1,
            "status": 1,
            "errors": 1,
            "created_at": 1,
            "updated_at": 1,
            "relax.converged": 1,
            "stability.e_hull_ev_per_atom": 1,
            "diffusion.arrhenius.status": 1,
            "screen.framework_melting": 1,
        },
    ):
        total += 1
        stages[d.get("stage")] += 1
        relaxed += "relax" in d
        e_hull = (d.get("stability") or {}).get("e_hull_ev_per_atom")
        stable += e_hull is not None and (cut is None or e_hull <= cut)
        md_done += "diffusion" in d
        screened += "screen" in d
        molten += bool((d.get("screen") or {}).get("framework_melting"))
        duplicates += d.get("status") == "duplicate"
        if d.get("created_at") is not None:
            t = _utc(d["created_at"])
            first = t if first is None else min(first, t)
        if d.get("stage") == "done":
            done += 1
            if d.get("updated_at") is not None:
                t = _utc(d["updated_at"])
                last = t if last is None else max(last, t)
        if d.get("status") == "failed":
            err = (d.get("errors") or ["unknown"])[0]
            failed[err.split(":")[0]] += 1
    gen = store.shard_totals(campaign)
    rejected = dict(gen["rejected_by_reason"])
    if duplicates:
        rejected["structural_duplicate"] = duplicates
    return {
        "campaign": campaign,
        "counts": {
            "enumerated": gen["enumerated"],
            "passed_filters": gen["passed"],
            "shards_done": gen["shards_done"],
            "shards_total": gen["shards_total"],
            "stored": total,
            "duplicates": duplicates,
            "prescreened": gen["prescreened"],
            "rejected_by_prescreen": rejected.get("prescreen", 0),
            "relaxed": relaxed,
            "stable": stable,
            "screened": screened,
            "framework_melting": molten,
            "md_done": md_done,
            "failed": sum(failed.values()),
            **{f"stage_{k}": v for k, v in sorted(stages.items())},
        },
        "rejected_by_reason": rejected,
        "failed_by_reason": dict(failed),
        "throughput": _throughput(done, total - done, first, last),
    }


def _utc(t: _dt.datetime) -> _dt.datetime:
    """Stored datetimes come back naive from some backends (BSON has no zone): UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=_dt.UTC)


def _throughput(done: int, remaining: int, first, last) -> dict:
    """Finished candidates per hour since the first insert, and the ETA of the rest.

    The rate averages over the whole campaign so far (generation included), so it is a
    conservative estimate while the cheap stages dominate; ``eta_s`` is None until at least
    one candidate has finished.
    """
    elapsed = (last - first).total_seconds() if first is not None and last is not None else 0.0
    rate = done / elapsed if done and elapsed > 0 else None
    return {
        "finished": done,
        "remaining": remaining,
        "candidates_per_hour": None if rate is None else rate * 3600,
        "eta_s": 0.0 if remaining == 0 else (None if rate is None else remaining / rate),
    }
