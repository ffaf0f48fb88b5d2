"""Cheap composition-level filters, cached per composition (never per structure)."""

from screening.filters.chemistry import CompositionFilters, Verdict

__all__ = ["CompositionFilters", "Verdict"]
