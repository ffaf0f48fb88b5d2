"""Start NVIDIA Warp (used by matgl 2.2's neighbour lists) without its terminal noise.

Warp prints a banner on stdout and, on machines without a CUDA driver, a C-level warning
on stderr at initialisation; both are kept from the user's terminal (shown only when
initialisation fails). Warp compiles its kernels on first use on a fresh machine, which
takes minutes on a CPU: a warning says so when the kernel cache is empty.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _silenced_fds():
    """Send file descriptors 1 and 2 to a temporary file; replay it if the block raises."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@functools.cache
def init_warp_quietly() -> Path | None:
    """Initialise Warp once, silently; return its kernel cache folder (None without Warp).

    Logs a warning when the cache holds no compiled kernel yet (the first model call then
    compiles them: a one-off of several minutes on a CPU).
    """
    try:
        import warp
    except ImportError:
        return None
    warp.config.log_level = warp.LOG_WARNING  # no "Warp x.y initialized" banner
    with _silenced_fds():  # the C library's "no CUDA driver" line
        warp.init()
    cache = warp.config.kernel_cache_dir
    cache = Path(cache) if cache else None
    if cache is not None and not any(cache.glob("wp_*")):
        logger.warning(
            "first use of Warp on this machine: its kernels are compiled on the first model "
            "call (one-off, several minutes on a CPU; cached in %s)",
            cache,
        )
    return cache
