"""Client factory: a real MongoDB (``SCREENING_DB_URI``) or the embedded store.

The embedded store is two files under the data dir: the results (candidates, campaigns,
references, artifacts, job outputs) in ``db.results.sqlite``, one row per document and
checkpointed incrementally (:mod:`screening.store.embedded`), and FireWorks' LaunchPad in
its own ``mongomock_persistence`` file ``db.json`` (``MONGOMOCK_SERVERSTORE_FILE``), which
FireWorks' ``rlaunch``/``lpad`` read and write themselves. A process keeps one in-memory
``ServerStore`` of ``db.json``, shared with any LaunchPad in it, written atomically (temp
file + rename) at :func:`flush` and at exit: an interrupted process leaves the previous
checkpoint intact, never a half-written file.

One writer at a time: a writing process holds an exclusive ``flock`` on ``db.json.lock``
(which names its PID) for as long as it lives; a second writer gets one error line naming
the holder. Readers (``rank``, ``campaign status``, ``export``, ``plot``) open the file
without the lock and never write it. A real server is pinged once with a short timeout
(``SCREENING_DB_TIMEOUT_S``), so an unreachable database is one error line, not a hang.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screening.schemas.errors import DatabaseError
from screening.settings import get_settings
from screening.store.lockfile import _LOCKS, META, lock_writer, release_lock
from screening.store.server import DatabaseTarget, ping_server, redact_uri

logger = logging.getLogger(__name__)

_SHARED_STORES: dict[str, Any] = {}
_READERS: dict[str, Any] = {}
_RETIRED: weakref.WeakSet = weakref.WeakSet()
_RESULTS: dict[str, tuple[Any, Any, Any]] = {}  # path -> (DocumentFile, store, finalizer)


def forget_embedded() -> None:
    """Write and forget this process's embedded stores and release the writer lock: the next
    :func:`connect` re-reads the file (what a new process would see). Used by tests that
    simulate several processes, and before handing the file to another process."""
    for store in _SHARED_STORES.values():
        store._finalizer.detach()
        _atomic_write(store)
    for docfile, store, fin in _RESULTS.values():
        fin.detach()
        docfile.checkpoint(store)
        docfile.close()  # a retired store that is read again reopens it read-only
    _RESULTS.clear()
    _RETIRED.update(_SHARED_STORES.values())
    _RETIRED.update(_READERS.values())
    _SHARED_STORES.clear()
    _READERS.clear()
    release_lock()


@dataclass
class StoreHandle:
    """An open database.

    Attributes
    ----------
    db : pymongo or mongomock Database
    embedded : bool
        True for the file-backed default.
    path : Path or None
        The embedded file.
    read_only : bool
        Opened by a reader: never written.
    """

    db: Any
    embedded: bool
    path: Path | None = None
    read_only: bool = False

    def flush(self) -> None:
        """Checkpoint the embedded store now: the results changed since the last checkpoint,
        and this process's LaunchPad file if it has one (no-op for a server or a reader)."""
        if not self.embedded or self.read_only:
            return
        if str(self.path) in _RESULTS:
            docfile, store, _ = _RESULTS[str(self.path)]
            docfile.checkpoint(store)
        launchpad = str(launchpad_file(self.path))
        if launchpad in _SHARED_STORES:
            _atomic_write(_SHARED_STORES[launchpad])


def _lock_writer(json_path: Path) -> None:
    """:func:`screening.store.lockfile.lock_writer` with the LaunchPad copy FireWorks holds
    in this process, if any."""
    existing = None
    if str(json_path) not in _LOCKS and "fireworks.core.launchpad" in sys.modules:
        if "mongomock_persistence" in sys.modules:
            from mongomock.store import ServerStore

            existing = _existing_server_store(ServerStore, str(json_path))
    lock_writer(json_path, existing)


def _atomic_write(store) -> None:
    """Write the store to a temp file in the same folder, then rename it over the file
    (after counting the write in the file, see :func:`_lock_writer`).

    Raises
    ------
    DatabaseError
        When the folder is read-only or the disk is full; the temp file is removed and the
        previous file is left as it was.
    """
    import bson.json_util
    import mongomock

    path = Path(store._filename)
    meta = mongomock.MongoClient(_store=store)[META[0]][META[1]]
    meta.update_one({"_id": "seq"}, {"$inc": {"n": 1}}, upsert=True)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(bson.json_util.dumps(store.to_dict()))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise DatabaseError(
            f"cannot write {path}: {exc.strerror}; the previous version is unchanged"
        ) from None


def _write_at_exit(store) -> None:
    try:
        _atomic_write(store)
    except DatabaseError as exc:  # at interpreter exit: one line, not a traceback
        sys.stderr.write(f"error: {exc}\n")


def _json_path() -> Path:
    settings = get_settings()
    return Path(os.environ.get("MONGOMOCK_SERVERSTORE_FILE") or settings.data_dir / "db.json")


def results_file(launchpad: Path) -> Path:
    """The results file that goes with a LaunchPad file (``db.json`` ->
    ``db.results.sqlite``)."""
    return launchpad.with_name(launchpad.stem + ".results.sqlite")


def launchpad_file(results: Path) -> Path:
    """The LaunchPad file that goes with a results file (inverse of :func:`results_file`)."""
    return results.with_name(results.name.removesuffix(".results.sqlite") + ".json")


def embedded_path(*, create: bool = True) -> Path:
    """FireWorks' embedded LaunchPad file under the data dir (created with ``{}`` if missing).

    Raises
    ------
    DatabaseError
        When the file exists but is empty (0 bytes: a store is never written empty), or it
        is missing and ``create`` is False, or its folder cannot be created.
    """
    path = _json_path()
    if path.exists() and path.stat().st_size == 0:
        raise DatabaseError(
            f"{path} is empty (0 bytes), not a database; restore it from a backup or remove it "
            "to start a new one"
        )
    if not path.exists():
        if not create:
            raise DatabaseError(f"{path}: no database yet (run or submit a campaign first)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{}")
        except OSError as exc:
            raise DatabaseError(f"cannot create {path}: {exc.strerror}") from None
    return path.resolve()


def _existing_server_store(cls, key: str):
    """A ServerStore of this process already bound to file ``key`` (or None).

    Compares exact types: ``isinstance`` would read ``__class__`` of every object in the
    process, which makes some (torch's deprecated module attributes) emit warnings.
    """
    import gc

    for obj in gc.get_objects():
        if (
            type(obj) is cls
            and obj not in _RETIRED
            and os.path.abspath(str(getattr(obj, "_filename", ""))) == key
        ):
            return obj
    return None


def _load_server_store(cls, key: str):
    try:
        return cls(key)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise DatabaseError(
            f"{key} is not a readable embedded database ({type(exc).__name__}); it was left "
            "untouched: restore it from a backup or move it away"
        ) from None


def shared_server_store(path: Path, *, read_only: bool = False):
    """The one mongomock ServerStore of this process for ``path``.

    Writers take the file's lock and write it atomically at flush and exit; readers get a
    private copy that is never written. Also makes FireWorks' mongomock client (and any
    later ``MongoClient``) use the writer's store.
    """
    import mongomock.mongo_client
    import mongomock_persistence  # noqa: F401  (patches ServerStore for persistence)
    from mongomock.store import ServerStore

    key = str(path)
    if key in _SHARED_STORES:
        return _SHARED_STORES[key]
    if read_only:
        if key not in _READERS:
            os.environ["MONGOMOCK_SERVERSTORE_FILE"] = key
            store = _load_server_store(ServerStore, key)
            store._finalizer.detach()  # a reader never writes the file
            _READERS[key] = store
        return _READERS[key]
    _lock_writer(path)
    os.environ["MONGOMOCK_SERVERSTORE_FILE"] = key
    # Under FireWorks' own `rlaunch`/`lpad` the LaunchPad's client already holds a
    # ServerStore of this file; adopt it, or two in-memory copies would each write the
    # file at exit and the last writer would erase the other's changes.
    store = _existing_server_store(ServerStore, key) or _load_server_store(ServerStore, key)
    store._finalizer.detach()  # replaced by an atomic writer
    store._finalizer = weakref.finalize(store, _write_at_exit, store)
    _SHARED_STORES[key] = store
    _READERS.pop(key, None)

    def _factory(*args, _store=None, **kwargs):
        return _SHARED_STORES[key]

    mongomock.mongo_client.ServerStore = _factory
    return store


def connect(
    uri: str | None = None, *, db_name: str | None = None, read_only: bool = False
) -> StoreHandle:
    """Open the results database.

    Parameters
    ----------
    uri : str, optional
        ``mongodb://`` or ``mongodb+srv://`` URI; defaults to ``SCREENING_DB_URI``. Unset: the
        embedded file-backed store under ``SCREENING_DATA_DIR``.
    db_name : str, optional
        Database name; defaults to ``SCREENING_DB_NAME``.
    read_only : bool
        Embedded store: open without the writer lock and never write the file.

    Raises
    ------
    DatabaseError
        Unreachable or malformed URI, unreadable or locked embedded file.
    """
    target = DatabaseTarget.from_settings(uri, db_name)
    name = target.name
    if not target.embedded:
        db = ping_server(target.uri, name, timeout_s=get_settings().db_timeout_s)
        logger.info("using MongoDB at %s", redact_uri(target.uri))  # never log credentials
        return StoreHandle(db, embedded=False)
    path = _open_results(read_only=read_only)
    docfile_store = _RESULTS.get(str(path))
    store = docfile_store[1] if docfile_store else _READERS[str(path)]
    import mongomock

    client = mongomock.MongoClient(_store=store)
    return StoreHandle(client[name], embedded=True, path=path, read_only=read_only)


def _open_results(*, read_only: bool) -> Path:
    """Load this process's results store (once): a writer takes the lock, adopts a LaunchPad
    store FireWorks already holds in this process, and checkpoints at exit."""
    from screening.store.embedded import DocumentFile

    json_path = _json_path().resolve()
    path = results_file(json_path)
    key = str(path)
    if key in _RESULTS or (read_only and key in _READERS):
        return path
    if read_only:
        if not path.exists():
            raise DatabaseError(f"{path}: no database yet (run or submit a campaign first)")
        docfile = DocumentFile(path, read_only=True)
        try:
            _READERS[key] = docfile.load()  # keeps docfile open: documents are read on use
        except BaseException:
            docfile.close()
            raise
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create {path.parent}: {exc.strerror}") from None
    _lock_writer(json_path)
    if "fireworks.core.launchpad" in sys.modules and json_path.exists():
        # a FireWorks worker: its LaunchPad store is written atomically, with our flushes
        shared_server_store(embedded_path())
    docfile = DocumentFile(path)
    store = docfile.load()
    _READERS.pop(key, None)
    _RESULTS[key] = (docfile, store, weakref.finalize(store, _checkpoint_at_exit, docfile, store))
    return path


def _checkpoint_at_exit(docfile, store) -> None:
    said = docfile.last_error  # the command already printed it: the same failure once
    try:
        docfile.checkpoint(store)
    except DatabaseError as exc:  # at interpreter exit: one line, not a traceback
        if str(exc) != said:
            sys.stderr.write(f"error: {exc}\n")
    docfile.close()
