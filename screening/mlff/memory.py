"""One memory guard for every path that builds a model call: single-structure commands,
campaign preflight, and the funnel's tiers (here or on a FireWorks worker).

A TensorNet energy + forces + stress call costs ~2.6 MB per atom (measured: 2,048 atoms,
5.2 GB). A cell whose call needs more than 90 % of the available memory is refused before
any model call, in one line that names it; a batch never holds more atoms than fit.
"""

from __future__ import annotations

from screening.schemas.errors import ScreeningInputError

MB_PER_ATOM = 2.6
"""Measured: one TensorNet energy+forces+stress call on 2,048 atoms, 5.2 GB."""
USABLE_FRACTION = 0.9


class CellTooLarge(ScreeningInputError):
    """A cell whose model call would not fit in memory; the message names it."""


def available_memory_gb() -> float | None:
    """SCREENING_MEMORY_GB, else MemAvailable from /proc/meminfo (None when unknown)."""
    from screening.settings import get_settings

    if (gb := get_settings().memory_gb) is not None:
        return gb
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def need_gb(n_atoms: int) -> float:
    """Memory one model call on ``n_atoms`` atoms needs, GB."""
    return n_atoms * MB_PER_ATOM / 1024


def check_atoms(n_atoms: int, source: str) -> None:
    """Refuse a cell of ``n_atoms`` whose model call would not fit in memory.

    Raises
    ------
    CellTooLarge
        One line naming ``source``, the atoms, the memory needed and available.
    """
    free = available_memory_gb()
    if free is not None and need_gb(n_atoms) > USABLE_FRACTION * free:
        raise CellTooLarge(
            f"{source}: {n_atoms} atoms need ~{need_gb(n_atoms):.1f} GB for one model call "
            f"({MB_PER_ATOM} MB/atom measured) but {free:.1f} GB is available; use a smaller "
            "cell or a larger machine (SCREENING_MEMORY_GB overrides the reading)"
        )


def atom_budget() -> int | None:
    """Most atoms one batched model call may hold (None: memory unknown)."""
    free = available_memory_gb()
    return None if free is None else int(USABLE_FRACTION * free * 1024 / MB_PER_ATOM)
