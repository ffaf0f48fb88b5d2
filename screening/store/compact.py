"""Documents of the embedded store kept as BSON bytes in memory, decoded when read.

A candidate document as Python dicts and lists takes ~10x its BSON size (a 28-atom
structure: ~40 kB against ~4 kB), so a process that stored 10^4 survivors held ~400 MB.
:class:`BsonDocuments` replaces mongomock's per-collection ``OrderedDict``: documents changed
since the last checkpoint are held as BSON bytes, those already in the database file as their
key only and read from the file when used. Memory holds the keys and one chunk's changes,
opening a file reads only its keys, and every read returns a fresh dict (as a server does).

Two consequences for mongomock, handled by :func:`patch_collection_reads`:

* queries iterate a snapshot of the keys and decode one document at a time (mongomock would
  first decode all of them into a list); a filter on ``_id`` alone (a value or ``$in``) reads
  only those documents;
* updates that mongomock applies *in place* to a document it read are written back (see
  ``embedded._patch_in_place_updates``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from screening.schemas.errors import DatabaseError

logger = logging.getLogger(__name__)


def _codec():
    from bson.codec_options import CodecOptions

    return CodecOptions(tz_aware=False)


class BsonDocuments(MutableMapping):
    """An insertion-ordered ``_id -> document`` mapping that stores BSON bytes.

    Parameters
    ----------
    fetch : callable, optional
        ``fetch(key) -> bytes | None``: the document as last checkpointed (the database
        file). Documents already on disk are held as ``None`` (key only) and read from it
        on use, so memory holds the keys plus what changed since the last checkpoint.
    """

    def __init__(
        self, fetch: Callable[[Any], bytes | None] | None = None, label: str = "documents"
    ) -> None:
        self._raw: dict[Any, bytes | None] = {}
        self._fetch = fetch
        self._opts = _codec()
        self.label = label
        self.corrupt: set = set()  # keys whose stored bytes do not decode
        self._reported: set = set()

    def _decode(self, key, blob: bytes) -> dict:
        """Decode one document; bytes that are no BSON raise :class:`DatabaseError` naming
        the document (and mark it: queries skip it, writes refuse to replace it)."""
        import bson

        try:
            return bson.decode(blob, codec_options=self._opts)
        except (bson.errors.InvalidBSON, ValueError, TypeError, IndexError) as exc:
            self.corrupt.add(key)
            raise DatabaseError(
                f"document {key!r} in {self.label} is corrupt ({type(exc).__name__}); "
                "restore it from a backup, or delete it to recompute that candidate"
            ) from None

    def _blob(self, key) -> bytes:
        blob = self._raw[key]
        if blob is None:
            blob = self._fetch(key) if self._fetch is not None else None
            if blob is None:  # deleted from the file by another process meanwhile
                raise KeyError(key)
        return blob

    def __getitem__(self, key) -> dict:
        return self._decode(key, self._blob(key))

    def __setitem__(self, key, doc: dict) -> None:
        import bson

        if key in self.corrupt:
            raise DatabaseError(
                f"document {key!r} in {self.label} is corrupt; refusing to write over it "
                "(restore it from a backup, or delete it to recompute that candidate)"
            )
        self._raw[key] = bson.encode(doc)

    def __delitem__(self, key) -> None:
        del self._raw[key]

    def __iter__(self) -> Iterator:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, key) -> bool:
        return key in self._raw

    def raw(self, key) -> bytes | None:
        """The stored BSON of ``key`` (None when absent)."""
        try:
            return self._blob(key)
        except KeyError:
            return None

    def set_raw(self, key, blob: bytes | None) -> None:
        """Store already-encoded BSON, or None: the document is on disk (loading a file)."""
        self._raw[key] = blob

    def evict(self, key) -> None:
        """Drop ``key``'s bytes from memory: it has just been checkpointed to the file."""
        if self._fetch is not None and key in self._raw:
            self._raw[key] = None

    def snapshot(self, keys=None) -> Iterator[dict]:
        """Decode the documents of ``keys`` (default: all, as of now) one at a time,
        skipping those deleted meanwhile."""
        for key in list(self._raw) if keys is None else keys:
            if key in self._raw:
                blob = self.raw(key)
                if blob is None:
                    continue
                try:
                    yield self._decode(key, blob)
                except DatabaseError as exc:  # one line per document, then skipped
                    if key not in self._reported:
                        self._reported.add(key)
                        logger.warning("%s; skipped", exc)


def _plain(value) -> bool:
    """An ``_id`` that matches by equality (not a regex, an operator document...)."""
    return isinstance(value, str | int | bytes) or type(value).__name__ == "ObjectId"


def _id_keys(filter) -> list | None:
    """The ``_id`` values a filter on ``_id`` alone selects (None: any other filter)."""
    if not isinstance(filter, dict) or set(filter) != {"_id"}:
        return None
    value = filter["_id"]
    if _plain(value):
        return [value]
    if not isinstance(value, dict):
        return None
    if set(value) == {"$in"} and isinstance(value["$in"], list | tuple):
        if all(_plain(v) for v in value["$in"]):
            return list(dict.fromkeys(value["$in"]))
    return None  # other operators, regexes...: mongomock matches every document


def patch_collection_reads() -> None:
    """Make mongomock stream documents of :class:`BsonDocuments` collections (once)."""
    from mongomock.collection import Collection
    from mongomock.filtering import filter_applies

    original = Collection._iter_documents
    if getattr(original, "_screening_streaming", False):
        return

    def streaming(self, filter):
        docs = getattr(self._store, "_documents", None)
        if not isinstance(docs, BsonDocuments):
            return original(self, filter)
        if not docs:
            filter_applies(filter, {})  # validates the filter, as mongomock does
        keys = _id_keys(filter)
        return (d for d in docs.snapshot(keys) if filter_applies(filter, d))

    def counting(self, filter, **kwargs):
        docs = getattr(self._store, "_documents", None)
        if not isinstance(docs, BsonDocuments) or set(kwargs) - {"maxTimeMS", "hint"}:
            return original_count(self, filter, **kwargs)
        from mongomock import helpers

        spec = helpers.patch_datetime_awareness_in_document(filter)
        return sum(1 for _ in self._iter_documents(spec))  # mongomock: len(list(...))

    original_count = Collection.count_documents
    streaming._screening_streaming = True
    Collection._iter_documents = streaming
    Collection.count_documents = counting
