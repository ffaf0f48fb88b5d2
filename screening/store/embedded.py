"""The embedded results store: mongomock in memory, persisted to SQLite one row per document.

Why not one JSON file: ``mongomock_persistence`` rewrites its whole file on every save, so
the cost of each checkpoint grew with the database (24 s of an 80 s, 2,340-candidate
generate were ``json_util.dumps`` of everything, twice). Here a checkpoint writes only the
documents changed since the last one, as BSON rows upserted in **one SQLite transaction**:
its cost is that of the chunk, not of the database (``bench/store_scaling.py``), and a
``kill -9`` during a checkpoint rolls that transaction back on the next open, so at most
the chunk in flight is lost and the file always opens. SQLite ships with Python (no new
dependency) and a row's ``rowid`` keeps insertion order, so documents come back in the
order mongomock had them.

Queries still run on mongomock, but memory holds only every document's key and the
documents changed since the last checkpoint (as BSON bytes); a checkpoint evicts what it
wrote, and checkpointed documents are read from the file when used
(:mod:`screening.store.compact`), so opening a file reads its keys only.

FireWorks' LaunchPad keeps its own ``mongomock_persistence`` file (``db.json``): FireWorks'
``rlaunch`` and ``lpad`` read and write that file themselves, and it grows with the number
of Fireworks, not of candidates.

Change tracking: every write mongomock makes goes through ``CollectionStore.__setitem__`` /
``__delitem__`` / ``drop`` (overridden here) except in-place updates (``update_one``,
``replace_one``...), which mongomock applies with ``Collection._apply_update_document``;
that method is wrapped once so the updated document is marked as changed too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

from mongomock.store import CollectionStore, DatabaseStore, ServerStore

from screening.schemas.errors import DatabaseError
from screening.store.compact import BsonDocuments, patch_collection_reads

logger = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS docs (db TEXT NOT NULL, coll TEXT NOT NULL, key BLOB NOT NULL, "
    "doc BLOB NOT NULL, PRIMARY KEY (db, coll, key))",
    "CREATE TABLE IF NOT EXISTS indexes (db TEXT NOT NULL, coll TEXT NOT NULL, spec BLOB NOT "
    "NULL, PRIMARY KEY (db, coll))",
)
_UPSERT = (
    "INSERT INTO docs (db, coll, key, doc) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (db, coll, key) DO UPDATE SET doc = excluded.doc"
)


def _codec():
    from bson.codec_options import CodecOptions

    return CodecOptions(tz_aware=False)


def _key(value: Any) -> bytes:
    """The row key of an ``_id`` (any BSON value: strings, ObjectIds...)."""
    import bson

    return bson.encode({"k": value})


class _Tracker:
    """Ids written since the last checkpoint, and collections dropped."""

    def __init__(self) -> None:
        self.dirty: dict[tuple[str, str, Any], None] = {}  # ordered: new rows keep order
        self.dropped: set[tuple[str, str]] = set()

    def take(self) -> tuple[dict, set]:
        dirty, dropped = self.dirty, self.dropped
        self.dirty, self.dropped = {}, set()
        return dirty, dropped

    def give_back(self, dirty: dict, dropped: set) -> None:
        """A failed checkpoint: its changes are written by the next one."""
        self.dirty = {**dirty, **self.dirty}
        self.dropped |= dropped


class _TrackedCollection(CollectionStore):
    def __init__(self, name: str, db_name: str, tracker: _Tracker, server) -> None:
        super().__init__(name)
        self._db_name = db_name
        self._tracker = tracker
        self._server = server
        self._documents = self._new_documents()

    def _new_documents(self) -> BsonDocuments:
        """Changed documents as BSON bytes, checkpointed ones read from the file
        (screening.store.compact)."""
        return BsonDocuments(fetch=self._fetch, label=f"{self._db_name}.{self.name}")

    def _fetch(self, key) -> bytes | None:
        source = self._server.source
        return None if source is None else source.fetch(self._db_name, self.name, key)

    def touch(self, key) -> None:
        """Mark document ``key`` as changed since the last checkpoint."""
        self._tracker.dirty[(self._db_name, self.name, key)] = None

    def __setitem__(self, key, val) -> None:
        super().__setitem__(key, val)
        self.touch(key)

    def __delitem__(self, key) -> None:
        super().__delitem__(key)
        self.touch(key)

    def drop(self) -> None:
        super().drop()
        self._documents = self._new_documents()
        self._tracker.dropped.add((self._db_name, self.name))


class _TrackedDatabase(DatabaseStore):
    def __init__(self, name: str, tracker: _Tracker, server) -> None:
        super().__init__()
        self._name = name
        self._tracker = tracker
        self._server = server

    def __getitem__(self, col_name: str) -> CollectionStore:
        try:
            return self._collections[col_name]
        except KeyError:
            col = _TrackedCollection(col_name, self._name, self._tracker, self._server)
            self._collections[col_name] = col
            return col

    def rename(self, name: str, new_name: str) -> None:
        old = self[name]
        self._tracker.dropped.add((self._name, name))
        col = self[new_name]
        for key, doc in old._documents.items():
            col[key] = doc
        col.indexes = old.indexes
        del self._collections[name]


class TrackedServerStore(ServerStore):
    """A mongomock ServerStore that records which documents change."""

    def __init__(self) -> None:
        # not super().__init__(): mongomock_persistence replaces it with one that loads
        # $MONGOMOCK_SERVERSTORE_FILE (the LaunchPad file) into the store
        self._databases: dict = {}
        self.tracker = _Tracker()
        self.source: DocumentFile | None = None  # where checkpointed documents are read
        _patch_in_place_updates()
        patch_collection_reads()

    def __getitem__(self, db_name: str) -> DatabaseStore:
        try:
            return self._databases[db_name]
        except KeyError:
            db = self._databases[db_name] = _TrackedDatabase(db_name, self.tracker, self)
            return db


def _patch_in_place_updates() -> None:
    """Mark documents that mongomock updates in place (no ``__setitem__``) as changed."""
    from mongomock.collection import Collection

    original = Collection._apply_update_document
    if getattr(original, "_screening_tracked", False):
        return

    def tracked(self, existing_document, *args, **kwargs):
        out = original(self, existing_document, *args, **kwargs)
        store = self._store
        if isinstance(store, _TrackedCollection) and "_id" in existing_document:
            if existing_document["_id"] in store._documents:  # not an upsert's new document
                store[existing_document["_id"]] = existing_document  # encode: reads are copies
            store.touch(existing_document["_id"])
        return out

    tracked._screening_tracked = True
    Collection._apply_update_document = tracked


class DocumentFile:
    """One SQLite file holding every document of a :class:`TrackedServerStore`.

    Parameters
    ----------
    path : Path
        The file (``<data dir>/db.results.sqlite``).
    read_only : bool
        A reader: loads the file, never writes it.

    Raises
    ------
    DatabaseError
        The file is empty (0 bytes), not an SQLite database, or cannot be opened.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if self.path.exists() and self.path.stat().st_size == 0:
            raise DatabaseError(
                f"{self.path} is empty (0 bytes), not a database; restore it from a backup or "
                "remove it to start a new one"
            )
        try:
            if read_only:
                self.conn = self._connect_read_only()
            else:
                # another program's lock on the file (an SQLite browser...) fails within the
                # database timeout, not after minutes
                from screening.settings import get_settings

                busy_s = get_settings().db_timeout_s
                self.conn = sqlite3.connect(self.path, timeout=busy_s, isolation_level=None)
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = FULL")
                for sql in _SCHEMA:
                    self.conn.execute(sql)
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise self._unreadable(exc) from None
        self.saved_indexes: dict[tuple[str, str], bytes] = {}
        self.closed = False
        self.last_error: str | None = None  # of the last failed checkpoint (said once)

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that never writes. In a folder this process cannot write (a
        read-only share, an archived campaign) SQLite cannot create the WAL index a normal
        reader needs: the file is opened ``immutable`` there (nobody can be writing it)."""
        from urllib.parse import quote

        if os.access(self.path.parent, os.W_OK):  # closing removes the WAL files it made
            conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        else:
            uri = f"file:{quote(str(self.path.resolve()))}?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None)
        conn.execute("PRAGMA query_only = 1")
        return conn

    def _unreadable(self, exc: Exception) -> DatabaseError:
        if "locked" in str(exc):
            return DatabaseError(
                f"{self.path} is locked by another program ({exc}); close it (an SQLite "
                "browser or shell?) and run again; nothing was changed"
            )
        return DatabaseError(
            f"{self.path} is not a readable embedded database ({exc}); it was left untouched: "
            "restore it from a backup or move it away"
        )

    def _close_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    def load(self) -> TrackedServerStore:
        """Every stored document, in insertion order, in a new in-memory store."""
        import bson

        _patch_in_place_updates()
        store = TrackedServerStore()
        opts = _codec()
        try:
            have = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
            if "docs" not in have:  # a reader of a file no writer has created tables in
                return store
            rows = self.conn.execute("SELECT db, coll, key FROM docs ORDER BY rowid")
            for db, coll, key in rows:  # keys only: documents are read when used
                store[db][coll]._documents.set_raw(bson.decode(key, codec_options=opts)["k"], None)
            for db, coll, spec in self.conn.execute("SELECT db, coll, spec FROM indexes"):
                store[db][coll].indexes = _decode_indexes(spec)
                self.saved_indexes[(db, coll)] = spec
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from None
        store.source = self
        return store

    def fetch(self, db: str, coll: str, key: Any) -> bytes | None:
        """One document's BSON as last checkpointed (None: not in the file). After
        :meth:`close` (a store this process forgot) the file is reopened read-only."""
        if self.closed:
            self.conn = self._connect_read_only()
            self.read_only, self.closed = True, False
        try:
            row = self.conn.execute(
                "SELECT doc FROM docs WHERE db = ? AND coll = ? AND key = ?", (db, coll, _key(key))
            ).fetchone()
        except sqlite3.ProgrammingError:  # closed: this process forgot the store
            raise DatabaseError(
                f"{self.path}: this store was closed; open the database again"
            ) from None
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from None
        return None if row is None else row[0]

    def checkpoint(self, store: TrackedServerStore) -> int:
        """Write the documents changed since the last checkpoint in one transaction.

        Returns the number of rows written or deleted. On failure (disk full, read-only
        folder) the transaction is rolled back, the changes stay pending for the next
        checkpoint and :class:`DatabaseError` is raised; the file keeps its last checkpoint.
        """

        if self.read_only:
            return 0
        dirty, dropped = store.tracker.take()
        indexes = self._changed_indexes(store)
        if not dirty and not dropped and not indexes:
            return 0
        rows, gone = [], []
        for db, coll, key in dirty:
            blob = store._databases[db]._collections[coll]._documents.raw(key)
            if blob is None:
                gone.append((db, coll, _key(key)))
            else:
                rows.append((db, coll, _key(key), blob))
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("DELETE FROM docs WHERE db = ? AND coll = ?", sorted(dropped))
            self.conn.executemany(_UPSERT, rows)
            self.conn.executemany("DELETE FROM docs WHERE db = ? AND coll = ? AND key = ?", gone)
            self.conn.executemany(
                "INSERT OR REPLACE INTO indexes (db, coll, spec) VALUES (?, ?, ?)",
                [(db, coll, spec) for (db, coll), spec in indexes.items()],
            )
            self.conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            store.tracker.give_back(dirty, dropped)
            why = (
                f"locked by another program ({exc}; an SQLite browser or shell?)"
                if ("locked" in str(exc))
                else str(exc)
            )
            self.last_error = f"cannot write {self.path}: {why}; the last checkpoint is unchanged"
            raise DatabaseError(self.last_error) from None
        self.last_error = None
        self.saved_indexes.update(indexes)
        for db, coll, key in dirty:  # on disk now: memory keeps the key only
            col = store._databases[db]._collections.get(coll)
            if col is not None:
                col._documents.evict(key)
        return len(rows) + len(gone)

    def _changed_indexes(self, store: TrackedServerStore) -> dict[tuple[str, str], bytes]:
        out = {}
        for db_name, db in store._databases.items():
            for coll_name, coll in db._collections.items():
                if not coll.indexes:
                    continue
                spec = _encode_indexes(coll.indexes)
                if self.saved_indexes.get((db_name, coll_name)) != spec:
                    out[(db_name, coll_name)] = spec
        return out

    def close(self) -> None:
        """Close the connection (a writer's WAL is folded into the file)."""
        self._close_quietly()
        self.closed = True


def _encode_indexes(indexes: dict) -> bytes:
    import bson

    return bson.encode({"ix": {name: dict(spec) for name, spec in indexes.items()}})


def _decode_indexes(blob: bytes) -> dict:
    import bson

    ix = bson.decode(blob, codec_options=_codec())["ix"]
    for spec in ix.values():
        if "key" in spec:
            spec["key"] = [tuple(k) for k in spec["key"]]
    return ix


def read_collection(path: Path, collection: str, db_name: str = "screening") -> dict:
    """All documents of one collection of a results file, by ``_id`` (for inspection and
    tests; never writes)."""
    f = DocumentFile(path, read_only=True)
    try:
        return dict(f.load()[db_name][collection]._documents)
    finally:
        f.close()
