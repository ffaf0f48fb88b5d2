"""Prototypes of a campaign: loaded once, fingerprinted, oxidation states assigned."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pymatgen.core import Structure

from screening.generate.prototypes import bundled_structure
from screening.schemas.campaign import CampaignSpec
from screening.schemas.errors import ScreeningInputError
from screening.schemas.structures import fingerprint, read_structure

_STRUCTURE_SUFFIXES = {".cif", ".json", ".vasp", ".poscar", ".cssr", ".xsf"}


@dataclass(frozen=True)
class Prototype:
    """A parent structure ready for substitution.

    Attributes
    ----------
    name : str
        Label (file stem or pymatgen name).
    structure : Structure
        Ordered structure.
    fingerprint : str
        SHA-256 of a canonical text form (lattice, species, fractional coordinates rounded
        to 1e-4), identical on every machine.
    sites : dict[str, tuple[int, ...]]
        Element -> site indices.
    oxidation : dict[str, int]
        Element -> oxidation state in the prototype.
    """

    name: str
    structure: Structure
    fingerprint: str
    sites: dict[str, tuple[int, ...]]
    oxidation: dict[str, int]


def _order(structure: Structure, label: str) -> Structure:
    from pymatgen.transformations.standard_transformations import (
        OrderDisorderedStructureTransformation,
    )

    s = structure.copy()
    try:
        s.add_oxidation_state_by_guess()
        out = OrderDisorderedStructureTransformation(algo=0).apply_transformation(s)
    except Exception as exc:
        raise ScreeningInputError(f"{label}: could not be ordered ({exc})") from None
    out.remove_oxidation_states()
    return out


def _make(name: str, structure: Structure, label: str) -> Prototype:
    comp = structure.composition
    guesses = comp.oxi_state_guesses(max_sites=-50)
    if not guesses:
        raise ScreeningInputError(f"{label}: no charge-neutral oxidation states for {comp}")
    oxi = {el: round(q) for el, q in guesses[0].items()}
    sites: dict[str, list[int]] = {}
    for i, site in enumerate(structure):
        sites.setdefault(site.specie.symbol, []).append(i)
    return Prototype(
        name, structure, fingerprint(structure), {k: tuple(v) for k, v in sites.items()}, oxi
    )


def _read(path: Path, order: bool) -> Structure:
    s = read_structure(path, require_ordered=False)
    if not s.is_ordered:
        if not order:
            raise ScreeningInputError(
                f"{path}: prototype has partial occupancy and no ordering rule "
                "(add 'order: true' to this prototype)"
            )
        s = _order(s, str(path))
    return s


def load_prototypes(spec: CampaignSpec) -> list[Prototype]:
    """Load and check every prototype of a campaign (before any enumeration).

    Raises
    ------
    ScreeningInputError
        Missing file, unreadable structure, partial occupancy without ``order``, or a
        substitution key that no prototype contains.
    """
    out: list[Prototype] = []
    for i, proto in enumerate(spec.prototypes):
        if proto.pymatgen:
            label = f"prototypes[{i}].pymatgen={proto.pymatgen}"
            s = bundled_structure(proto.pymatgen)
            if not s.is_ordered:
                if not proto.order:
                    raise ScreeningInputError(
                        f"{label}: prototype has partial occupancy and no ordering rule "
                        "(add 'order: true' to this prototype)"
                    )
                s = _order(s, label)
            out.append(_make(proto.pymatgen, s, label))
            continue
        if proto.structure is not None:
            label = f"prototypes[{i}] ({proto.name})"
            try:
                s = Structure.from_dict(proto.structure)
            except Exception as exc:
                raise ScreeningInputError(f"{label}: not a structure ({exc})") from None
            out.append(_make(proto.name, s, label))
            continue
        path = (spec.base_dir / proto.path).resolve()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in _STRUCTURE_SUFFIXES)
            if not files:
                raise ScreeningInputError(f"{path}: folder holds no structure files")
            out.extend(_make(f.stem, _read(f, proto.order), str(f)) for f in files)
        else:
            if not path.exists():
                raise ScreeningInputError(f"{proto.path}: prototype file not found ({path})")
            out.append(_make(path.stem, _read(path, proto.order), str(path)))
    present = set().union(*(p.sites for p in out))
    for key in spec.substitutions:
        if key not in present:
            raise ScreeningInputError(
                f"substitutions.{key}: element {key} is in no prototype "
                f"(prototype elements: {', '.join(sorted(present))})"
            )
    return out
