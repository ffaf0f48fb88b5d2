"""Recompute scores from stored stage results (after changing the campaign's ``score:``
section: its quantile, prior or hull weight).

No MLFF work: every input of the evidence model is already in the candidate documents. Only
the documents whose score changes are written (one bulk write per page), so a rerun with the
same weights writes nothing.
"""

from __future__ import annotations

import math

from screening.analysis.score import EVIDENCE_FIELDS, evidence_fields
from screening.schemas.campaign import CampaignSpec
from screening.store.results import ResultStore

_FIELDS = ("score", "score_pre_md", "evidence", *EVIDENCE_FIELDS)


def rescore_campaign(store: ResultStore, spec: CampaignSpec, *, tolerance: float = 1e-9) -> dict:
    """Rescore every scored candidate of ``spec.name`` with ``spec.score``.

    Returns ``{"scored": n, "changed": k}``.
    """
    weights, margin = spec.score, spec.funnel.melting_margin_k
    n = changed = 0
    cands = store.candidates(spec.name)
    for page in cands.pages({"score": {"$exists": True}}, _FIELDS):
        updates: dict[str, dict] = {}
        for d in page:
            n += 1
            pre = evidence_fields({**d, "screen": None, "diffusion": None}, weights)["score"]
            new = {"score_pre_md": pre, **evidence_fields(d, weights, margin_k=margin)}
            old = {k: d.get(k) for k in new}
            if _same(new, old, tolerance):
                continue  # unchanged (to rounding: thread counts change the last bits)
            updates[d["_id"]] = new
        changed += cands.record(updates) and len(updates)
        store.flush()
    return {"scored": n, "changed": changed}


def _same(a, b, tol: float) -> bool:
    """Equal, numbers to ``tol`` (relative and absolute), through dicts and lists."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], tol) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=tol, abs_tol=tol)
    return a == b
