"""Idempotent, chunked writes keyed by ``candidate_id``; stage-scoped ``$set`` updates.

Writes are ``UpdateOne(..., upsert=True)`` operations sent with
``bulk_write(ordered=False)`` to a real server. The embedded mongomock 4.3 cannot run those
under pymongo >= 4.11, and its per-document updates scan the whole collection, so there the
same operations are applied per chunk in Python on the documents keyed by ``_id`` (new ones
through ``insert_many``) — identical resulting documents, ~100x faster than ``update_one``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from screening.schemas.errors import ScreeningInputError
from screening.schemas.provenance import utcnow
from screening.store.backend import StoreHandle, connect

INDEX_FILE = Path(__file__).resolve().parents[1] / "data" / "indexes.json"
"""Indexes declared once, shipped inside the package (an installed wheel has no db/)."""


def plain_copy(value: Any) -> Any:
    """Copy of a document's value: dicts and lists copied, scalars (immutable) shared.
    Several times faster than ``copy.deepcopy`` on documents (no memo)."""
    if isinstance(value, dict):
        return {k: plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_copy(v) for v in value]
    return value


def _merge(doc: dict, fields: Mapping[str, Any]) -> None:
    """Apply ``$set``-style fields (dotted paths allowed) to a document in place; the
    nested dicts along a dotted path are copied first, so a shallow copy of a stored
    document can be merged without touching the stored one."""
    for k, v in fields.items():
        if "." in k:
            _set_path(doc, k, plain_copy(v))
        else:
            doc[k] = plain_copy(v)


def _set_path(doc: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for p in parts[:-1]:
        doc[p] = dict(doc.get(p) or {})
        doc = doc[p]
    doc[parts[-1]] = value


class ResultStore:
    """Candidates, campaigns, reference phases and artifacts of the screening.

    Parameters
    ----------
    handle : StoreHandle, optional
        From :func:`screening.store.connect`; opened from the settings when omitted.
    chunk_size : int
        Operations per bulk write.
    read_only : bool
        Open the embedded file as a reader (no lock, never written); for queries.
    """

    def __init__(
        self,
        handle: StoreHandle | None = None,
        *,
        chunk_size: int = 1000,
        read_only: bool = False,
    ) -> None:
        self.handle = handle or connect(read_only=read_only)
        self.db = self.handle.db
        self.chunk_size = chunk_size

    # -- writes -------------------------------------------------------------------------
    def upsert(
        self,
        collection: str,
        updates: Iterable[tuple[str, Mapping[str, Any], Mapping[str, Any]]],
    ) -> int:
        """Apply ``(id, $set fields, $setOnInsert fields)`` upserts in chunks.

        Returns the number of operations applied. Re-running the same updates changes
        nothing but ``updated_at``; a rerun after an interruption never duplicates.
        """
        n = 0
        chunk: list = []
        for op in updates:
            chunk.append(op)
            if len(chunk) >= self.chunk_size:
                n += self._apply(collection, chunk)
                chunk = []
        if chunk:
            n += self._apply(collection, chunk)
        return n

    def _apply(self, collection: str, ops: list) -> int:
        now = utcnow()
        col = self.db[collection]
        if not self.handle.embedded:
            from pymongo import UpdateOne

            col.bulk_write(
                [
                    UpdateOne(
                        {"_id": i},
                        {
                            "$set": {**s, "updated_at": now},
                            "$setOnInsert": {**ins, "created_at": now},
                        },
                        upsert=True,
                    )
                    for i, s, ins in ops
                ],
                ordered=False,
            )
            return len(ops)
        # mongomock keeps documents in a dict keyed by _id: read and replace existing ones
        # there (a "$in" query or update_one would scan the whole collection per chunk);
        # new ones go through insert_many (validation, collection creation).
        raw = col._store
        existing = self._existing(raw, [i for i, _, _ in ops])
        merged: dict[str, dict] = {}
        for i, s, ins in ops:
            doc = merged.get(i) or existing.get(i)
            if doc is None:
                doc = {"_id": i, "created_at": now}
                _merge(doc, ins)
            _merge(doc, s)
            doc["updated_at"] = now
            merged[i] = doc
        fresh = [d for i, d in merged.items() if i not in existing]
        for i in existing:
            raw[i] = merged[i]
        if fresh:
            col.insert_many(fresh)
        return len(ops)

    @staticmethod
    def _existing(raw, ids: list[str]) -> dict[str, dict]:
        """Shallow copies of the stored documents among ``ids`` (embedded backend): the
        merge replaces top-level values and copies dicts along dotted paths, so the stored
        documents are never modified in place.

        Reads mongomock's document dict directly: its ``__contains__`` takes a lock and
        sweeps TTL indexes on every call, which cost as much as the insert itself.
        """
        docs = getattr(raw, "_documents", None)
        if docs is None:  # another mongomock layout: the public (slower) path
            return {i: dict(raw[i]) for i in ids if i in raw}
        return {i: dict(docs[i]) for i in ids if i in docs}

    def set_fields(self, collection: str, updates: Mapping[str, Mapping[str, Any]]) -> int:
        """``$set`` stage fields (e.g. ``{"relax": {...}, "stage": "relaxed"}``) by id."""
        return self.upsert(collection, ((i, s, {}) for i, s in updates.items()))

    def candidates(self, campaign: str | None = None, *, page_size: int = 2000):
        """The :class:`~screening.store.candidates.CandidateStore` of a campaign (None: all
        campaigns, for lookups by id)."""
        from screening.store.candidates import CandidateStore

        return CandidateStore(self, campaign, page_size=page_size)

    def save_campaign(
        self, name: str, *, spec: Mapping[str, Any], replace_spec: bool = False, **fields: Any
    ) -> None:
        """Create the campaign's document (its spec, insert-only unless ``replace_spec``:
        a safe edit the binding applied) and set ``fields`` (dotted paths allowed, e.g.
        ``{"counts.screen": {...}}``)."""
        if replace_spec:
            self.upsert("campaigns", [(name, {**fields, "spec": dict(spec)}, {"name": name})])
            return
        self.upsert("campaigns", [(name, fields, {"name": name, "spec": dict(spec)})])

    def campaign(self, name: str, fields: tuple[str, ...] = ("spec", "model")) -> dict:
        """The campaign's document (only ``fields``), or {} when it is not stored yet."""
        return self.db["campaigns"].find_one({"_id": name}, dict.fromkeys(fields, 1)) or {}

    def save_shard(self, campaign: str, key: str, **counts: Any) -> None:
        """Replace the counts of one generation shard (``shards`` collection)."""
        self.upsert("shards", [(f"{campaign}/{key}", counts, {"campaign": campaign, "key": key})])

    def shard_totals(self, campaign: str) -> dict:
        """A campaign's generation counts summed over its shards, with ``shards_done`` and
        ``shards_total`` (from the campaign document; None before generation started)."""
        totals: dict = {"enumerated": 0, "passed": 0, "prescreened": 0, "stored": 0}
        rejected: dict[str, int] = {}
        done = 0
        for d in self.db["shards"].find({"campaign": campaign}, {"_id": 0, "key": 0}):
            done += 1
            for k in totals:
                totals[k] += d.get(k, 0)
            for r, n in (d.get("rejected_by_reason") or {}).items():
                rejected[r] = rejected.get(r, 0) + n
        camp = self.db["campaigns"].find_one({"_id": campaign}, {"shards_total": 1}) or {}
        return {
            **totals,
            "rejected_by_reason": dict(sorted(rejected.items())),
            "shards_done": done,
            "shards_total": camp.get("shards_total"),
        }

    def record_stage_time(
        self, campaign: str, stage: str, key: str, *, items: int, seconds: float
    ) -> None:
        """Wall time of one chunk of a stage (``stage_times`` collection, one document per
        chunk keyed by its first id: a rerun of the chunk replaces it, workers on other
        nodes write their own)."""
        self._stage_time_doc(campaign, stage, key, {"items": int(items), "seconds": float(seconds)})

    def record_stage_estimate(self, campaign: str, stage: str, seconds_per_item: float) -> None:
        """A stage's cost per candidate estimated before it ran (MD: one timed force call
        times the steps), used until its first chunk is timed."""
        doc = {"estimate_s_per_item": float(seconds_per_item)}
        self._stage_time_doc(campaign, stage, "__estimate__", doc)

    def _stage_time_doc(self, campaign: str, stage: str, key: str, fields: dict) -> None:
        """Upsert one ``stage_times`` document (id ``campaign/stage/key``)."""
        ids = {"campaign": campaign, "stage": stage}
        self.upsert("stage_times", [(f"{campaign}/{stage}/{key}", fields, ids)])

    def stage_times(self, campaign: str) -> dict[str, dict]:
        """Per stage: ``items`` and ``seconds`` summed over its timed chunks, ``chunks``,
        and ``estimate_s_per_item`` when one was recorded."""
        out: dict[str, dict] = {}
        for d in self.db["stage_times"].find({"campaign": campaign}, {"_id": 0}):
            t = out.setdefault(d["stage"], {"items": 0, "seconds": 0.0, "chunks": 0})
            if "estimate_s_per_item" in d:
                t["estimate_s_per_item"] = d["estimate_s_per_item"]
            else:
                t["items"] += d.get("items", 0)
                t["seconds"] += d.get("seconds", 0.0)
                t["chunks"] += 1
        return out

    def cached(
        self,
        collection: str,
        keys: list[str],
        compute: Callable[[list[str]], Mapping[str, Mapping[str, Any]]],
        *,
        valid: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> dict[str, dict]:
        """Cached compute: the documents of ``keys`` from ``collection``; those missing (or
        not ``valid``) are computed by ``compute(missing_keys) -> {key: fields}``, upserted
        and checkpointed. Returns ``{key: document}`` for every key ``compute`` produced or
        the cache held."""
        found = {
            d["_id"]: d
            for d in self.db[collection].find({"_id": {"$in": list(keys)}})
            if valid is None or valid(d)
        }
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            new = compute(missing)
            if new:
                self.upsert(collection, ((k, v, {}) for k, v in new.items()))
                self.flush()
            found.update({k: {"_id": k, **v} for k, v in new.items()})
        return found

    def put_artifact(self, key: str, data: bytes, **meta: Any) -> None:
        """Store a binary artifact (MSD curves, trajectories, PNG plots) outside candidates."""
        from bson.binary import Binary

        if len(data) > 15 * 1024 * 1024:
            raise ValueError(f"artifact {key} is {len(data)} bytes; split it (16 MB limit)")
        self.upsert("artifacts", [(key, {"data": Binary(data), **meta}, {})])

    def get_artifact(self, key: str) -> bytes | None:
        """Return an artifact's bytes, or None."""
        doc = self.db["artifacts"].find_one({"_id": key})
        return None if doc is None else bytes(doc["data"])

    def require_campaign(self, name: str) -> None:
        """Raise a one-line input error when no campaign of that name is stored."""

        if self.db["campaigns"].find_one({"_id": name}, {"_id": 1}) is None:
            known = sorted(d["_id"] for d in self.db["campaigns"].find({}, {"_id": 1}))[:10]
            raise ScreeningInputError(
                f"campaign {name!r}: not in the database (known: {', '.join(known) or 'none'})"
            )

    def resolve_candidate_id(self, prefix: str) -> str:
        """The one candidate id that starts with ``prefix`` (a full id or any unique prefix,
        as the ranking table shows).

        Raises
        ------
        ScreeningInputError
            No candidate, or several, start with ``prefix``.
        """
        import re

        if not re.fullmatch(r"[0-9a-f]+", prefix or ""):
            raise ScreeningInputError(f"candidate {prefix!r}: expected a hexadecimal id or prefix")
        hits = [
            d["_id"]
            for d in self.db["candidates"]
            .find({"_id": {"$regex": f"^{prefix}"}}, {"_id": 1})
            .limit(2)
        ]
        if not hits:
            raise ScreeningInputError(f"candidate {prefix!r}: not in the database")
        if len(hits) > 1:
            raise ScreeningInputError(
                f"candidate {prefix!r}: ambiguous prefix, give more characters"
            )
        return hits[0]

    def flush(self) -> None:
        """Checkpoint the embedded store to disk (no-op on a real server)."""
        self.handle.flush()

    # -- indexes ------------------------------------------------------------------------
    def ensure_indexes(self, index_file: Path = INDEX_FILE) -> list[str]:
        """Create the indexes declared in ``screening/data/indexes.json``; returns their names."""
        spec = json.loads(Path(index_file).read_text())
        names = []
        for collection, indexes in spec.items():
            for ix in indexes:
                keys = [(k, int(d)) for k, d in ix["keys"]]
                names.append(
                    self.db[collection].create_index(
                        keys, name=ix["name"], unique=ix.get("unique", False)
                    )
                )
        return names
