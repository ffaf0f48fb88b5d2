"""Thermodynamic (E_hull) and electrochemical (window vs the mobile-ion metal) stability."""

from screening.stability.hull import stability_analysis
from screening.stability.references import ReferenceSet, load_reference_structures

__all__ = ["ReferenceSet", "load_reference_structures", "stability_analysis"]
