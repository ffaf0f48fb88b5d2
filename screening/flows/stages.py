"""Generate, relax and stability: pure functions over chunks of candidate ids.

Each reads and writes candidates only through the campaign's
:class:`~screening.store.candidates.CandidateStore`; a chunk that is rerun (FireWorks
lost-run recovery, a resumed campaign) skips the candidates that already moved on. The
order and wiring of the stages is :data:`screening.flows.funnel.FUNNEL`.
"""

from __future__ import annotations

import logging

from pymatgen.core import Structure

from screening.mlff.registry import LoadedModel
from screening.mlff.relax import relax_batch
from screening.schemas.campaign import CampaignSpec
from screening.schemas.documents import CandidateStage
from screening.store.results import ResultStore

logger = logging.getLogger(__name__)

GENERATED = CandidateStage.generated.value
PRESCREENED = CandidateStage.prescreened.value
RELAXED = CandidateStage.relaxed.value
SELECTED = CandidateStage.selected_for_md.value
DONE = CandidateStage.done.value
_STABILITY_FIELDS = ("status", "stability", "relax", "chemsys", "mobile_ion")


def generate_stage(spec: CampaignSpec, store: ResultStore, model=None) -> dict:
    """Generate every shard of a campaign in turn, then mark cross-prototype duplicates
    (what the funnel's generate tier and the relax tier's selection do, in one call).

    Returns the campaign's generation counts summed over its shards (``enumerated``,
    ``passed``, ``rejected_by_reason``, ``stored``...) and ``written`` (new documents).
    """
    from screening.flows.shards import generate_shards, shard_keys

    if spec.funnel.prescreen and model is None:
        raise ValueError("the campaign has a prescreen: generate_stage needs the model")
    written = generate_shards(shard_keys(store, spec), store, model, spec)["written"]
    dedup_stage(spec, store)
    store.flush()
    totals = store.shard_totals(spec.name)
    dups = store.candidates(spec.name).count({"status": "duplicate"})
    if dups:
        totals["rejected_by_reason"] = {
            **totals["rejected_by_reason"],
            "structural_duplicate": dups,
        }
    return {**totals, "written": written}


def dedup_stage(spec: CampaignSpec, store: ResultStore) -> int:
    """Mark cross-prototype structural duplicates; returns how many are marked.

    One streamed pass finds the formulas that come from more than one prototype; those
    buckets are loaded and compared one at a time with ``StructureMatcher`` (memory: one
    bucket). The lowest id of a group is kept; the others finish at once with
    status ``duplicate`` and ``duplicate_of``. Idempotent: a rerun marks nothing new.
    """
    from screening.filters.structural import BucketMember, cross_prototype_duplicates

    cands = store.candidates(spec.name)
    marked = 0
    for formula, prototypes in sorted(cands.values_by("formula", "prototype", "set").items()):
        if len(prototypes) < 2:
            continue
        members = [
            BucketMember(d["_id"], d["prototype"], Structure.from_dict(d["structure"]))
            for page in cands.pages({"formula": formula}, fields=("prototype", "structure"))
            for d in page
        ]
        marked += cands.mark_duplicates(cross_prototype_duplicates(members))
    logger.info("%d cross-prototype duplicates marked", marked)
    return marked


def relax_chunk(ids: list[str], store: ResultStore, model: LoadedModel, spec: CampaignSpec) -> dict:
    """Relax one chunk (batched model calls); unconverged is recorded, not fatal.

    If the batch raises, the chunk is retried one candidate at a time, so only the
    candidates that fail on their own are recorded as failed (with the reason) and the rest
    of the chunk is relaxed.
    """
    cands = store.candidates(spec.name)
    # a rerun chunk (FireWorks lost-run recovery, resumed campaign) skips recorded work
    docs = cands.load(ids, fields=("structure",), stage=(GENERATED, PRESCREENED))
    todo = [i for i in ids if i in docs]
    done, ids = len(ids) - len(todo), todo
    if not ids:
        return {"relaxed": 0, "converged": 0, "failed": 0, "already_done": done}
    structs = [Structure.from_dict(docs[i]["structure"]) for i in ids]
    f = spec.funnel
    opts = {"fmax": f.relax_fmax_ev_a, "max_steps": f.relax_max_steps}
    try:
        results: list = relax_batch(structs, model, **opts)
    except Exception:
        logger.exception("relaxation batch failed; retrying one candidate at a time")
        results = []
        for s in structs:
            try:
                results.append(relax_batch([s], model, **opts)[0])
            except Exception as exc:  # recorded per candidate, the chunk goes on
                results.append(f"relax: {type(exc).__name__}: {exc}")
    updates = {}
    for i, r in zip(ids, results, strict=True):
        if not isinstance(r, str) and r.status == "failed":
            r = f"relax: {r.failure_reason}"
        if isinstance(r, str):
            updates[i] = {"status": "failed", "errors": [r]}
            continue
        updates[i] = {
            "relax": r.model_dump(mode="json"),
            "status": "running",
            "provenance": r.provenance.model_dump(mode="json"),
        }
    cands.record(updates, stage=RELAXED)
    ok = [r for r in results if not isinstance(r, str) and r.status != "failed"]
    return {
        "relaxed": len(ok),
        "converged": sum(r.converged for r in ok),
        "failed": len(results) - len(ok),
        "already_done": done,
    }


def stability_chunk(
    ids: list[str], store: ResultStore, model: LoadedModel, spec: CampaignSpec
) -> dict:
    """E_hull and window for relaxed candidates vs the campaign's reference phases."""
    from screening.schemas.errors import ScreeningInputError
    from screening.stability import stability_analysis
    from screening.stability.auto import campaign_reference_entries

    cands = store.candidates(spec.name)
    docs = list(cands.load(ids, fields=_STABILITY_FIELDS).values())
    refs = campaign_reference_entries(spec, store, model, {d["chemsys"] for d in docs})
    updates = {}
    for d in docs:
        if d.get("status") == "failed" or d.get("stability") or not d.get("relax"):
            continue  # failed, already analysed (a rerun chunk), or not relaxed
        s = Structure.from_dict(d["relax"]["structure"])
        try:
            res = stability_analysis(
                s.composition,
                d["relax"]["energy_ev"],
                refs,
                mobile_ion=d.get("mobile_ion", spec.mobile_ion),
                forcefield_name=model.name,
                correction=spec.references_correction,
            )
        except ScreeningInputError as exc:
            updates[d["_id"]] = {"status": "failed", "errors": [f"stability: {exc}"]}
            continue
        updates[d["_id"]] = {"stability": res.model_dump(mode="json")}
    cands.record(updates)
    return {"analysed": len(updates)}


def relax_stage(
    ids: list[str], store: ResultStore, model: LoadedModel, spec: CampaignSpec, **_
) -> dict:
    """The funnel's relax tier: relax a chunk and, with reference phases, analyse its
    stability in the same job (the model is loaded; one phase diagram per chunk)."""
    out = relax_chunk(ids, store, model, spec)
    if spec.has_references:
        out.update(stability_chunk(ids, store, model, spec))
    return out
