"""MongoDB results store: one client factory, two backends (real server, embedded file)."""

from screening.store.backend import StoreHandle, connect
from screening.store.results import ResultStore

__all__ = ["ResultStore", "StoreHandle", "connect"]
