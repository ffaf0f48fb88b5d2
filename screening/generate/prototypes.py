"""Bundled prototype structures (pymatgen's test structures) and orderings of them."""

from __future__ import annotations

import functools
from pathlib import Path

import pymatgen.util
from pymatgen.core import Structure

from screening.schemas.errors import ScreeningInputError

_BUNDLED = Path(pymatgen.util.__file__).parent / "structures"


def bundled_names() -> list[str]:
    """Names usable as ``pymatgen: NAME`` in a campaign."""
    return sorted(p.stem for p in _BUNDLED.glob("*.json"))


def bundled_structure(name: str) -> Structure:
    """A structure bundled with pymatgen (``pymatgen.util.structures``)."""
    path = _BUNDLED / f"{name}.json"
    if not path.is_file():
        raise ScreeningInputError(
            f"pymatgen prototype '{name}' not found; bundled: {', '.join(bundled_names())}"
        )
    return Structure.from_file(path)


@functools.cache
def _ordered_lgps_dict() -> dict:
    from pymatgen.transformations.standard_transformations import (
        OrderDisorderedStructureTransformation,
    )

    s = bundled_structure("Li10GeP2S12")
    for i, site in enumerate(s):
        label = str(site.species)
        if label == "Li0.691":  # 16h: 11 of 16 -> Li20 per cell in total
            s.replace(i, {"Li": 11 / 16})
        elif label == "Li0.643":  # 8f: 5 of 8
            s.replace(i, {"Li": 5 / 8})
        elif label.startswith("Ge"):  # 4d: Ge/P 1:1
            s.replace(i, {"Ge": 0.5, "P": 0.5})
    s.add_oxidation_state_by_element({"Li": 1, "Ge": 4, "P": 5, "S": -2})
    ordered = OrderDisorderedStructureTransformation(algo=0).apply_transformation(s)
    ordered.remove_oxidation_states()
    return ordered.as_dict()


def ordered_lgps() -> Structure:
    """Ordered Li20Ge2P4S24 cell (50 atoms) from pymatgen's disordered Li10GeP2S12.

    Partial Li occupancies are rounded to 11/16 (16h) and 5/8 (8f), the 4d site to Ge:P 1:1,
    and the lowest-Ewald-energy ordering is taken (fast algorithm).
    """
    return Structure.from_dict(_ordered_lgps_dict())
