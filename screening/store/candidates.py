"""One campaign's candidates: the funnel's stage transitions as named operations.

This is the only code (with :mod:`screening.store.results`) that knows the ``candidates``
collection's layout. Every read that can grow with the campaign is paged (``page_size``
documents at a time) and every selection is a top-K, so memory is bounded by
the page and K, not by the campaign: on a MongoDB server through indexed queries
(``campaign_stage``, ``campaign_score``), on the embedded store by a streaming scan of the
in-memory documents that never copies more than a page.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from screening.schemas.documents import CandidateStage
from screening.store.results import plain_copy

GENERATED = CandidateStage.generated.value
PRESCREENED = CandidateStage.prescreened.value
DONE = CandidateStage.done.value


def _one_of(stage: str | Sequence[str]) -> Any:
    return stage if isinstance(stage, str) else {"$in": list(stage)}


_MISSING = object()


def _get(doc: Mapping, dotted: str, default: Any = None) -> Any:
    """The value at a dotted path, or ``default`` when a part is missing."""
    for part in dotted.split("."):
        if not isinstance(doc, Mapping) or part not in doc:
            return default
        doc = doc[part]
    return doc


def _project(doc: Mapping, fields: Sequence[str] | None) -> dict:
    """A copy of ``doc`` with only ``fields`` (dotted paths; ``_id`` always)."""
    if fields is None:
        return plain_copy(dict(doc))
    out: dict = {"_id": doc["_id"]}
    for f in fields:
        value = _get(doc, f, _MISSING)
        if value is not _MISSING:
            *parents, last = f.split(".")
            dst = out
            for p in parents:
                dst = dst.setdefault(p, {})
            dst[last] = plain_copy(value)
    return out


def _projection(fields: Sequence[str] | None) -> dict | None:
    """A server projection of ``fields`` (``_id`` only for none; None: whole documents)."""
    return None if fields is None else (dict.fromkeys(fields, 1) or {"_id": 1})


class CandidateStore:
    """The candidates of one campaign.

    Parameters
    ----------
    results : ResultStore
        The open results database.
    campaign : str or None
        Campaign name; None: every campaign (lookups by id).
    page_size : int
        Documents per page of every streamed read.
    """

    collection = "candidates"

    def __init__(self, results, campaign: str | None, *, page_size: int = 2000) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        self.results = results
        self.campaign = campaign
        self.page_size = page_size

    # -- backend primitives ------------------------------------------------------------
    @property
    def _col(self):
        return self.results.db[self.collection]

    def _raw(self) -> dict | None:
        """mongomock's document dict (embedded store), else None."""
        if not self.results.handle.embedded:
            return None
        return getattr(self._col._store, "_documents", None)

    @staticmethod
    def _decoded(raw, keys=None) -> Iterator[dict]:
        """The embedded store's documents (of ``keys``, default all), decoded one at a
        time; a corrupt one is named once in a warning and skipped (reads go on; writes to
        it are refused by the store)."""
        if hasattr(raw, "snapshot"):
            return raw.snapshot(keys)
        docs = (raw.get(k) for k in keys) if keys is not None else iter(raw.values())
        return (d for d in docs if d is not None)

    def _filter(self, query: Mapping | None) -> dict:
        if self.campaign is None:
            return dict(query or {})
        return {"campaign": self.campaign, **(query or {})}

    def _page(
        self, query: dict, after: Any, fields: Sequence[str] | None, copy: bool = True
    ) -> tuple[list, Any]:
        """The next ``page_size`` matching documents after cursor ``after`` (None: from the
        start) and the cursor of the page's end.

        Server: by ``_id`` (indexed range query), the cursor is the last id. Embedded: in
        insertion order, the cursor is the position in mongomock's document dict (skipped
        in C, so a page costs its own scan, not the campaign's; documents replaced or
        added meanwhile keep every position).
        """
        raw = self._raw()
        if raw is None:
            q = {**query, **({"_id": {"$gt": after}} if after is not None else {})}
            docs = list(self._col.find(q, _projection(fields)).sort("_id", 1).limit(self.page_size))
            return docs, (docs[-1]["_id"] if docs else after)
        from mongomock.filtering import filter_applies

        pos = after or 0
        hits = []
        for key in itertools.islice(iter(raw), pos, None):  # keys: skipped ones not decoded
            pos += 1
            d = next(self._decoded(raw, [key]), None)
            if d is not None and filter_applies(query, d):
                hits.append(_project(d, fields) if copy else d)
                if len(hits) == self.page_size:
                    break
        return hits, pos

    # -- reads -----------------------------------------------------------------------------
    def pages(
        self,
        query: Mapping | None = None,
        fields: Sequence[str] | None = None,
        *,
        copy: bool = True,
    ) -> Iterator[list[dict]]:
        """Matching documents of the campaign, ``page_size`` at a time (id order on a
        server, insertion order on the embedded store).

        Writing to documents of a page before asking for the next one is safe: each page
        resumes where the previous one ended. ``copy=False`` (read-only callers): the
        embedded store hands out its stored documents, whole, instead of projected copies;
        they must not be modified.
        """
        q, cursor = self._filter(query), None
        while True:
            page, cursor = self._page(q, cursor, fields, copy)
            if not page:
                return
            yield page

    def ids_at(self, stage: str | Sequence[str]) -> list[str]:
        """Ids of the campaign's candidates at ``stage`` (or any of several), in id order
        (paged read)."""
        q = {"stage": _one_of(stage)}
        return sorted(d["_id"] for p in self.pages(q, fields=()) for d in p)

    def load(
        self,
        ids: Sequence[str],
        fields: Sequence[str] | None = None,
        *,
        stage: str | Sequence[str] | None = None,
    ) -> dict[str, dict]:
        """One chunk's documents by id (only those still at ``stage``, or any of several,
        when given)."""
        query: dict = {"_id": {"$in": list(ids)}}
        if stage is not None:
            query["stage"] = _one_of(stage)
        raw = self._raw()
        if raw is not None:
            from mongomock.filtering import filter_applies

            docs = (raw.get(i) for i in ids)
            return {
                d["_id"]: _project(d, fields)
                for d in docs
                if d is not None and filter_applies(query, d)
            }
        return {d["_id"]: d for d in self._col.find(query, _projection(fields))}

    def get(self, cid: str, fields: Sequence[str] | None = None) -> dict | None:
        """One candidate's document (any campaign: ids are unique), or None."""
        return self.load([cid], fields).get(cid)

    def top_k(self, query: Mapping, sort: Sequence[tuple[str, int]], k: int) -> list[str]:
        """Ids of the best ``k`` matching candidates by ``sort`` (numeric fields, 1 or -1;
        ties by id); a missing value sorts last."""
        if k <= 0:
            return []
        q = self._filter(query)
        raw = self._raw()
        if raw is None:
            cur = self._col.find(q, {"_id": 1}).sort([*sort, ("_id", 1)]).limit(k)
            return [d["_id"] for d in cur]
        from mongomock.filtering import filter_applies

        def sort_key(d: Mapping) -> tuple:
            parts = []
            for f, direction in sort:
                v = _get(d, f)
                parts.append((v is None, 0.0 if v is None else float(v) * direction))
            return (*parts, d["_id"])

        hits = (d for d in self._decoded(raw) if filter_applies(q, d))
        best = heapq.nsmallest(k, hits, key=sort_key)
        return [d["_id"] for d in best]

    def count(self, query: Mapping | None = None) -> int:
        """Number of the campaign's candidates matching ``query``."""
        return self._col.count_documents(self._filter(query))

    def counts_by(self, field: str) -> dict[str, int]:
        """Candidates per value of ``field`` (``stage`` or ``status``)."""
        raw = self._raw()
        out: dict[str, int] = {}
        if raw is None:
            for row in self._col.aggregate(
                [{"$match": self._filter(None)}, {"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
            ):
                out[row["_id"]] = row["n"]
            return out
        for d in self._decoded(raw):
            if self.campaign is None or d.get("campaign") == self.campaign:
                out[d.get(field)] = out.get(d.get(field), 0) + 1
        return out

    def values_by(self, key: str, value: str, op: str, query: Mapping | None = None) -> dict:
        """Per ``key`` (e.g. ``formula``), the ``min`` of ``value`` or the ``set`` of its
        values, over the campaign's candidates matching ``query`` (one streamed pass;
        memory grows with the distinct keys only)."""
        if op not in ("min", "set"):
            raise ValueError(f"op must be 'min' or 'set', got {op!r}")
        out: dict = {}
        q = {**(query or {}), value: {"$exists": True}}
        for page in self.pages(q, fields=(key, value), copy=False):
            for d in page:
                k, v = _get(d, key), _get(d, value)
                if op == "min":
                    out[k] = v if k not in out else min(out[k], v)
                else:
                    out.setdefault(k, set()).add(v)
        return out

    # -- writes ----------------------------------------------------------------------------
    def add(self, ops) -> int:
        """Insert new candidates from ``(id, {}, document)`` operations; ids already stored
        are skipped untouched (a rerun writes nothing). Returns how many were new."""
        n, chunk = 0, []
        for op in ops:
            chunk.append(op)
            if len(chunk) >= 1000:
                n += self._add_new(chunk)
                chunk = []
        return n + (self._add_new(chunk) if chunk else 0)

    def _add_new(self, ops: list) -> int:
        have = self.load([i for i, _, _ in ops], fields=())
        return self.results.upsert(self.collection, (op for op in ops if op[0] not in have))

    def record(self, updates: Mapping[str, Mapping[str, Any]], *, stage: str | None = None) -> int:
        """Set each candidate's fields and (with ``stage``) move it on, in one write each."""
        if stage is not None:
            updates = {i: {**u, "stage": stage} for i, u in updates.items()}
        return self.results.set_fields(self.collection, updates)

    def mark_duplicates(self, duplicate_of: Mapping[str, str]) -> int:
        """Finish the candidates among ``duplicate_of`` not yet relaxed as duplicates
        of the candidate each maps to; returns how many were marked."""
        pending = self.load(list(duplicate_of), fields=(), stage=(GENERATED, PRESCREENED))
        return self.record(
            {i: {"status": "duplicate", "duplicate_of": duplicate_of[i]} for i in sorted(pending)},
            stage=DONE,
        )
