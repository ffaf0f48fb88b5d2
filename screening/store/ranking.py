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
    "ordering": 1,
    "score": 1,
    "status": 1,
    "stage": 1,
    "score_e_hull_ev_per_atom": 1,
    "stability.e_hull_ev_per_atom": 1,
    "evidence": 1,
    "diffusion.arrhenius.flags": 1,
}

SCORE_LEGEND = (
    "score: a lower quantile (score.quantile, default 0.16) of log10 sigma(300 K) in S/cm, "
    "from one evidence model over every usable MD run of the candidate (screen and series "
    "alike: each run's fitted D weighed as a count of its effective jumps, so a run that saw "
    "few is a bound; molten runs left out) under a stated "
    "Arrhenius prior (Ea, D0), minus 10 decades per eV/atom above the hull. No MD: the prior "
    "alone. sigma: posterior median [95 %]. tier: the furthest tier reached. "
    "E_hull* = stand-in (no reference phases: energy above the lowest relaxed polymorph)."
)


def rank(store: ResultStore, campaign: str, *, top: int = 20, where: dict | None = None):
    """Top candidates of a campaign by score, best first (ties by id), with the fields of
    :data:`RANK_FIELDS`: a top-k selection (the (campaign, score) index on a server, one
    heap pass on the embedded store), then only those ``top`` documents are read."""
    cands = store.candidates(campaign)
    ids = cands.top_k({"score": {"$exists": True}, **(where or {})}, [("score", -1)], top)
    fields = [f for f, keep in RANK_FIELDS.items() if keep]
    docs = cands.load(ids, fields=fields)
    return [docs[i] for i in ids if i in docs]


def rank_rows(rows: list[dict]) -> list[dict]:
    """Flat ranking rows (one level, for tables and CSV) from :func:`rank` documents.

    Every conductivity column comes from the candidate's ``evidence`` sub-document, the
    same fields ``--where`` filters on (:data:`screening.store.query.FIELDS`):
    ``sigma_300k_*`` the posterior median and 95 % interval, ``activation_energy_ev`` the
    posterior Ea, ``t_k``/``d_*``/``n_eff`` the hottest usable run (screen or series),
    ``tier``, ``sampling`` and ``flags``. ``e_hull_ev_per_atom`` is from the stability stage
    when it ran, else the stand-in the score used (``e_hull_is_standin`` True).
    """
    flat = []
    for i, r in enumerate(rows, 1):
        ev = r.get("evidence") or {}
        real = (r.get("stability") or {}).get("e_hull_ev_per_atom")
        e_hull = real if real is not None else r.get("score_e_hull_ev_per_atom")
        flat.append(
            {
                "rank": i,
                "candidate_id": r["candidate_id"],
                "formula": r["formula"],
                "ordering": r.get("ordering"),
                "substitution": r.get("substitution"),
                "score": round(r["score"], 3),
                "e_hull_ev_per_atom": e_hull,
                "e_hull_is_standin": real is None,
                "tier": ev.get("tier"),
                "sampling": ev.get("sampling"),
                "sigma_300k_s_cm": ev.get("sigma300_s_cm"),
                "sigma_300k_lower_s_cm": ev.get("sigma300_lower_s_cm"),
                "sigma_300k_upper_s_cm": ev.get("sigma300_upper_s_cm"),
                "sigma300_width_decades": ev.get("sigma300_width_decades"),
                "activation_energy_ev": ev.get("ea_ev"),
                "activation_energy_err_ev": ev.get("ea_err_ev"),
                "t_k": ev.get("t_k"),
                "d_cm2_s": ev.get("d_cm2_s"),
                "d_upper_cm2_s": ev.get("d_upper_cm2_s"),
                "n_eff": ev.get("n_eff"),
                "flags": list(ev.get("flags") or []),
                "melting_estimate_k": ev.get("melting_estimate_k"),
                "stage": r.get("stage"),
                "status": r.get("status"),
            }
        )
    return flat


def flag_counts(store: ResultStore, campaign: str, flags: tuple[str, ...]) -> dict[str, int]:
    """How many of a campaign's candidates carry each evidence flag (one paged pass over
    the flagged candidates only)."""
    out = dict.fromkeys(flags, 0)
    query = {"evidence.flags": {"$in": list(flags)}}
    for page in store.candidates(campaign).pages(query, fields=("evidence.flags",), copy=False):
        for d in page:
            for f in d["evidence"]["flags"]:
                if f in out:
                    out[f] += 1
    return out


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
    fields = (
        "stage",
        "status",
        "errors",
        "created_at",
        "updated_at",
        "relax.converged",
        "stability.e_hull_ev_per_atom",
        "diffusion.arrhenius.status",
        "screen.framework_melting",
    )
    # one paged pass; the embedded store hands its documents out uncopied (read-only here)
    for d in (
        d for page in store.candidates(campaign).pages(fields=fields, copy=False) for d in page
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
        if d.get("status") in ("completed", "failed", "duplicate"):
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


def stage_counts(status: dict) -> dict[str, int]:
    """Candidates per stage from a :func:`campaign_status` result (its ``stage_<name>``
    counts), so a caller needs no second pass over the campaign."""
    return {k[len("stage_") :]: v for k, v in status["counts"].items() if k.startswith("stage_")}


def _utc(t: _dt.datetime) -> _dt.datetime:
    """Stored datetimes come back naive from some backends (BSON has no zone): UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=_dt.UTC)


def _throughput(done: int, remaining: int, first, last) -> dict:
    """Candidates finished per hour since the first insert (a campaign-wide average: the
    ETA is per stage, :mod:`screening.flows.remaining`)."""
    elapsed = (last - first).total_seconds() if first is not None and last is not None else 0.0
    rate = done / elapsed if done and elapsed > 0 else None
    return {
        "finished": done,
        "remaining": remaining,
        "candidates_per_hour": None if rate is None else rate * 3600,
    }


def screen_diffusivities(store: ResultStore, campaign: str, *, limit: int) -> list[dict]:
    """The conduction screen's result of up to ``limit`` screened candidates (projected,
    paged: memory grows with ``limit``, not with the campaign).

    Returns
    -------
    list of dict
        ``temperature_k``, ``d_cm2_s`` (None for a bound), ``d_upper_cm2_s`` and
        ``framework_melting`` per candidate (``limit`` of them when the campaign may have
        more).
    """
    out: list[dict] = []
    fields = (
        "screen.diffusion.temperature_k",
        "screen.diffusion.status",
        "screen.diffusion.diffusivity_cm2_s",
        "screen.diffusion.diffusivity_upper_cm2_s",
        "screen.framework_melting",
    )
    query = {"screen.diffusion.temperature_k": {"$exists": True}}
    for page in store.candidates(campaign).pages(query, fields=fields):
        for d in page:
            sd = d["screen"]["diffusion"]
            out.append(
                {
                    "temperature_k": sd.get("temperature_k"),
                    "d_cm2_s": sd.get("diffusivity_cm2_s") if sd.get("status") == "ok" else None,
                    "d_upper_cm2_s": sd.get("diffusivity_upper_cm2_s"),
                    "framework_melting": bool(d["screen"].get("framework_melting")),
                }
            )
            if len(out) >= limit:
                return out
    return out
