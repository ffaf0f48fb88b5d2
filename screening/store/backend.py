"""Client factory: a real MongoDB (``SCREENING_DB_URI``) or FireWorks' embedded,
file-backed ``mongomock_persistence`` store (``MONGOMOCK_SERVERSTORE_FILE``).

Embedded mode keeps one in-process ``ServerStore`` per file, shared by our store and by any
FireWorks LaunchPad in the same process, so one file holds both and neither overwrites the
other. The file is written atomically (temp file + rename) at :func:`flush` and at exit:
an interrupted process leaves the previous checkpoint intact, never a half-written file.
"""

from __future__ import annotations

import logging
import os
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screening.settings import get_settings

logger = logging.getLogger(__name__)

_SHARED_STORES: dict[str, Any] = {}
_RETIRED: weakref.WeakSet = weakref.WeakSet()


def forget_embedded() -> None:
    """Forget this process's embedded stores: the next :func:`connect` re-reads the file
    (what a new process would see). Used by tests that simulate several processes."""
    _RETIRED.update(_SHARED_STORES.values())
    _SHARED_STORES.clear()


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
    """

    db: Any
    embedded: bool
    path: Path | None = None

    def flush(self) -> None:
        """Persist the embedded store now (no-op for a real server)."""
        if self.embedded:
            _atomic_write(_SHARED_STORES[str(self.path)])


def _atomic_write(store) -> None:
    import bson.json_util

    path = Path(store._filename)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(bson.json_util.dumps(store.to_dict()))
    os.replace(tmp, path)


def embedded_path() -> Path:
    """The embedded database file under the data dir (created with ``{}`` if missing)."""
    settings = get_settings()
    path = Path(os.environ.get("MONGOMOCK_SERVERSTORE_FILE") or settings.data_dir / "db.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.stat().st_size == 0:
        path.write_text("{}")
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


def shared_server_store(path: Path):
    """The one mongomock ServerStore of this process for ``path``.

    Also makes FireWorks' mongomock client (and any later ``MongoClient``) use it.
    """
    import mongomock.mongo_client
    import mongomock_persistence  # noqa: F401  (patches ServerStore for persistence)
    from mongomock.store import ServerStore

    key = str(path)
    if key not in _SHARED_STORES:
        os.environ["MONGOMOCK_SERVERSTORE_FILE"] = key
        # Under FireWorks' own `rlaunch`/`lpad` the LaunchPad's client already holds a
        # ServerStore of this file; adopt it, or two in-memory copies would each write the
        # file at exit and the last writer would erase the other's changes.
        store = _existing_server_store(ServerStore, key) or ServerStore(key)
        store._finalizer.detach()  # replaced by an atomic writer
        store._finalizer = weakref.finalize(store, _atomic_write, store)
        _SHARED_STORES[key] = store

        def _factory(*args, _store=None, **kwargs):
            return _SHARED_STORES[key]

        mongomock.mongo_client.ServerStore = _factory
    return _SHARED_STORES[key]


def connect(uri: str | None = None, *, db_name: str | None = None) -> StoreHandle:
    """Open the results database.

    Parameters
    ----------
    uri : str, optional
        ``mongodb://`` or ``mongodb+srv://`` URI; defaults to ``SCREENING_DB_URI``. Unset: the
        embedded file-backed store under ``SCREENING_DATA_DIR``.
    db_name : str, optional
        Database name; defaults to ``SCREENING_DB_NAME``.
    """
    settings = get_settings()
    uri = uri or settings.db_uri
    name = db_name or settings.db_name
    if uri:
        import pymongo

        client = pymongo.MongoClient(uri, w="majority")
        logger.info("using MongoDB at %s", uri.split("@")[-1])  # never log credentials
        return StoreHandle(client[name], embedded=False)
    import mongomock_persistence

    path = embedded_path()
    client = mongomock_persistence.MongoClient(_store=shared_server_store(path))
    return StoreHandle(client[name], embedded=True, path=path)
