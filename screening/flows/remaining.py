"""How long a campaign still needs, stage by stage, from each stage's own cost.

Each chunk's wall time is recorded by both runners (:meth:`Stage.run_chunk`); a stage's
cost per candidate is its measured seconds over its timed candidates, or, before its first
chunk ends, the estimate made when it started (MD: one timed force call times the steps).
Its remaining work is its backlog (candidates at its ``takes`` stage; shards left for
generation), or, before its selection ran, the most its selection will send
(:attr:`Stage.picks`). A campaign-wide average would mix a seconds-per-candidate relax
with an hour-per-candidate MD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from screening.flows.funnel import FUNNEL, Stage, active
from screening.schemas.campaign import CampaignSpec
from screening.store.results import ResultStore


def _takes(stage: Stage) -> tuple[str, ...]:
    """The candidate stages a stage reads (none for generation: it reads shards)."""
    return (stage.takes,) if isinstance(stage.takes, str) else (stage.takes or ())


def _values(stage: Stage) -> set[str]:
    return {*_takes(stage), *((stage.gives,) if stage.gives else ())}


def _stage_row(
    stage: Stage, spec, by_stage: dict, times: dict, gen: dict, stored: int, reached: bool
) -> dict:
    t = times.get(stage.name, {})
    if stage.takes is None:  # generation: shards
        total = gen.get("shards_total")
        backlog = None if total is None else max(total - gen["shards_done"], 0)
    else:
        backlog = sum(by_stage.get(k, 0) for k in _takes(stage))
    to_come = 0
    if not (reached or t.get("chunks")) and stage.picks is not None:
        to_come = min(stage.picks(spec), stored)  # its selection has not run yet
    if t.get("items"):
        per, source = t["seconds"] / t["items"], f"measured over {t['items']}"
    elif t.get("estimate_s_per_item") is not None:
        per, source = t["estimate_s_per_item"], "estimated before the stage"
    else:
        per, source = None, "not timed yet"
    left = (backlog or 0) + to_come
    return {
        "stage": stage.name,
        "remaining": backlog,
        "to_come": to_come,
        "seconds_per_item": per,
        "source": source,
        "eta_s": 0.0 if left == 0 else (None if per is None else left * per),
    }


def stage_etas(
    store: ResultStore,
    campaign: str,
    funnel: Sequence[Stage] = FUNNEL,
    *,
    by_stage: Mapping[str, int] | None = None,
) -> dict:
    """Per-stage remaining work and ETA of a stored campaign (``by_stage``: candidates per
    stage when the caller has counted them already, e.g. :func:`campaign_status`; else
    counted here, one pass).

    Returns
    -------
    dict
        ``stages``: one row per enabled stage (``remaining`` backlog, ``to_come`` before
        its selection, ``seconds_per_item``, ``source``, ``eta_s`` or None when it has
        work and no cost yet); ``eta_s``: their sum; ``complete``: False when a stage with
        work left has no cost yet (``eta_s`` is then a lower bound).
    """
    stored = store.campaign(campaign, fields=("spec",)).get("spec")
    try:
        spec = CampaignSpec.model_validate(stored)
    except ValueError:  # no spec stored (a campaign begun by hand), or one we cannot read
        return {"stages": [], "eta_s": 0.0, "complete": False, "no_spec": True}
    if by_stage is None:
        by_stage = store.candidates(campaign).counts_by("stage")
    times = store.stage_times(campaign)
    gen = store.shard_totals(campaign)
    n_stored = sum(by_stage.values())
    stages = list(active(funnel, spec))
    rows = []
    for i, s in enumerate(stages):
        # a candidate at this stage's or a later stage's takes/gives: its selection ran
        later = set().union(*(_values(x) for x in stages[i:]))
        reached = any(by_stage.get(v, 0) for v in later)
        rows.append(_stage_row(s, spec, by_stage, times, gen, n_stored, reached))
    known = [r["eta_s"] for r in rows if r["eta_s"] is not None]
    return {
        "stages": rows,
        "eta_s": sum(known),
        "complete": all(r["eta_s"] is not None for r in rows),
    }


def eta_lines(eta: dict) -> list[str]:
    """``campaign status`` lines: one per stage with work left, then the total."""
    if eta.get("no_spec"):
        return ["ETA unknown (no campaign spec stored: the stages are not known)"]
    lines = []
    for r in eta["stages"]:
        left = (r["remaining"] or 0) + r["to_come"]
        if left == 0:
            continue
        what = f"{r['remaining'] or 0} left" + (f", {r['to_come']} to come" if r["to_come"] else "")
        if r["seconds_per_item"] is None:
            lines.append(f"{r['stage']}: {what}, not timed yet")
        else:
            lines.append(
                f"{r['stage']}: {what} x {r['seconds_per_item']:.1f} s ({r['source']}) = "
                f"{r['eta_s'] / 60:.1f} min"
            )
    total = f"{eta['eta_s'] / 60:.1f} min"
    untimed = [r["stage"] for r in eta["stages"] if r["eta_s"] is None]
    lines.append(
        f"ETA {total}"
        if eta["complete"]
        else f"ETA >= {total} ({', '.join(untimed)} not timed yet)"
    )
    return lines
