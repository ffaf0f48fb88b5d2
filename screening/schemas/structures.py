"""Structures in and out of the package's stages: reading any pymatgen-readable file with
one-line errors, the mobile ion of a structure, and a machine-independent fingerprint
(shared by generation and the reference-phase cache, so it lives at the bottom layer)."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

from pymatgen.core import Structure

from screening.schemas.errors import ScreeningInputError


def read_structure(path: str | Path, *, require_ordered: bool = True) -> Structure:
    """Read a CIF, POSCAR, pymatgen JSON or any other pymatgen-readable structure file.

    Parameters
    ----------
    path : str or Path
        The file.
    require_ordered : bool
        Refuse structures with partial occupancy (MLFFs need ordered cells).

    Raises
    ------
    ScreeningInputError
        Missing or unreadable file, no structure in it, or partial occupancy.
    """
    p = Path(path)
    if not p.is_file():
        raise ScreeningInputError(f"{p}: file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_file(p)
    except Exception as exc:  # pymatgen raises many types for bad files
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ScreeningInputError(f"{p}: no structure could be read ({msg})") from None
    if len(structure) == 0:
        raise ScreeningInputError(f"{p}: the file contains no atoms")
    import numpy as np

    lattice = structure.lattice.matrix
    if not (np.isfinite(lattice).all() and np.isfinite(structure.frac_coords).all()):
        raise ScreeningInputError(f"{p}: lattice or coordinates hold NaN or infinity")
    if abs(np.linalg.det(lattice)) < 1e-6:
        raise ScreeningInputError(f"{p}: the lattice vectors span no volume")
    if require_ordered and not structure.is_ordered:
        raise ScreeningInputError(
            f"{p}: structure has partial occupancy ({structure.composition.reduced_formula}); "
            "order it first (e.g. pymatgen OrderDisorderedStructureTransformation)"
        )
    return structure


MOBILE_IONS = ("Li", "Na")


def mobile_ion_of(structure: Structure, requested: str | None, source: str | Path) -> str:
    """The mobile ion: ``requested`` (checked present), else the one of Li/Na the structure has.

    Raises
    ------
    ScreeningInputError
        ``requested`` absent from the structure, or no / both of Li and Na present without
        a request (then ``--mobile-ion`` must say which).
    """
    if requested is not None:
        require_element(structure, requested, source)
        return requested
    present = [m for m in MOBILE_IONS if m in {el.symbol for el in structure.composition}]
    if len(present) == 1:
        return present[0]
    what = "both Li and Na" if present else "neither Li nor Na"
    raise ScreeningInputError(
        f"{source}: {structure.composition.reduced_formula} has {what}; "
        "say which ion moves with --mobile-ion"
    )


def require_element(structure: Structure, element: str, source: str | Path) -> None:
    """Raise a one-line :class:`ScreeningInputError` when ``element`` is absent."""
    if element not in {el.symbol for el in structure.composition}:
        raise ScreeningInputError(f"{source}: no {element} atoms in {structure.formula}")


def fingerprint(structure: Structure) -> str:
    """Machine-independent hash of a structure (rounded, sorted)."""
    lat = ",".join(f"{x:.4f}" for x in structure.lattice.parameters)
    sites = sorted(
        f"{site.species_string}:{','.join(f'{c % 1.0:.4f}' for c in site.frac_coords)}"
        for site in structure
    )
    return hashlib.sha256((lat + ";" + ";".join(sites)).encode()).hexdigest()
