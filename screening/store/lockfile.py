"""The embedded store's writer lock, and the write counter of its LaunchPad file.

One writer at a time: a writing process holds an exclusive ``flock`` on ``db.json.lock``
(which names its PID) for as long as it lives. FireWorks' own ``rlaunch`` reads the
LaunchPad file when it starts, before any of our code runs, and writes its copy back at
exit: :func:`lock_writer` stops such a worker, unwritten, when it cannot write safely.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from pathlib import Path

from screening.schemas.errors import DatabaseError

_LOCKS: dict[str, int] = {}


def release_lock() -> None:
    """Release this process's writer locks (also released by the OS when it exits)."""
    for fd in _LOCKS.values():
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    _LOCKS.clear()


def acquire_lock(path: Path) -> None:
    """Exclusive, non-blocking writer lock on ``<path>.lock`` (holds this PID)."""
    key = str(path)
    if key in _LOCKS:
        return
    lock = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DatabaseError(f"cannot create {lock}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise DatabaseError(
            f"{path} is being written by another process (PID {holder}); run one writing "
            "command or FireWorks worker at a time on the embedded store, or use a MongoDB "
            "server (SCREENING_DB_URI) for concurrent workers"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _LOCKS[key] = fd
    # a temp file left by a write that was killed or failed is stale now that we hold the lock
    for tmp in path.parent.glob(f"{path.name}*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()


META = ("screening_meta", "writes")  # the LaunchPad file's write counter: {_id: "seq", n}


def store_seq(store) -> int:
    """How many of our writes the in-memory copy ``store`` of a LaunchPad file has seen."""
    try:
        return int(store._databases[META[0]]._collections[META[1]]._documents["seq"]["n"])
    except (KeyError, AttributeError, TypeError, ValueError):
        return 0


def file_seq(path: Path) -> int:
    """The write counter stored in the LaunchPad file ``path`` (0: none or unreadable)."""
    import bson.json_util

    try:
        dct = bson.json_util.loads(path.read_text(encoding="utf-8"))
        docs = dict(dct[META[0]][META[1]]["documents"])
        return int(docs["seq"]["n"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def lock_writer(json_path: Path, existing=None) -> None:
    """Take the writer lock on the embedded store ``json_path``.

    In a FireWorks worker (``rlaunch``) the LaunchPad read the file when the worker
    started, before any of our code ran; that copy is written back at exit. A worker that
    cannot write safely -- another process holds the lock, or the file was written since
    the worker read it (the write counter moved) -- stops here: its copy is dropped
    unwritten, one ``error:`` line says why and how to run several workers, exit status 3.
    Elsewhere (``existing`` None: no LaunchPad copy in this process) a held lock raises
    :class:`DatabaseError`.
    """
    if str(json_path) in _LOCKS:
        return
    try:
        acquire_lock(json_path)
        if existing is not None and file_seq(json_path) != store_seq(existing):
            release_lock()
            raise DatabaseError(
                f"{json_path} was written by another process after this worker read it"
            )
    except DatabaseError as exc:
        if existing is None:
            raise
        existing._finalizer.detach()  # never write a stale copy over the other's work
        sys.stderr.write(
            f"error: {exc}; this worker stopped before running its firework and left the "
            "LaunchPad unchanged. The embedded store takes one worker at a time (rlaunch "
            "rapidfire or `screening campaign launch`); for N workers per node use a MongoDB "
            "server (SCREENING_DB_URI, then `screening db launchpad-file`)\n"
        )
        sys.stderr.flush()
        os._exit(3)
