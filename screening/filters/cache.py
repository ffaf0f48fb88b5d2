"""A size-capped memo for the composition-level filters.

Enumeration of 10^8 candidates meets ~10^6 distinct compositions; unbounded dicts then grow
to gigabytes. This cache keeps at most ``maxsize`` entries and, when full, forgets the older
half (insertion order), so peak memory is independent of the size of the space while the
hit rate stays high (enumeration visits compositions in nested-loop order, so recent keys
are the ones that come back).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from itertools import islice
from typing import Generic, TypeVar

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """Dict-like memo with a hard cap on entries.

    Parameters
    ----------
    maxsize : int
        Entry cap (> 0).
    """

    __slots__ = ("_data", "hits", "maxsize", "misses")

    def __init__(self, maxsize: int = 1 << 13) -> None:
        if maxsize <= 0:
            raise ValueError(f"maxsize must be > 0, got {maxsize}")
        self.maxsize = maxsize
        self._data: dict[Hashable, V] = {}
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """Return the cached value for ``key``; compute and store it when absent."""
        data = self._data
        if key in data:
            self.hits += 1
            return data[key]
        self.misses += 1
        value = compute()
        if len(data) >= self.maxsize:
            for old in list(islice(data, len(data) // 2)):
                del data[old]
        data[key] = value
        return value

    def __len__(self) -> int:
        return len(self._data)
