"""Candidates as arrays: species, fractional coordinates and lattice from the parent.

:func:`build_arrays` does what :func:`screening.generate.enumerate.build_structure` does
(substitute, arrange mixed sites and vacancies by the ranked ordering, scale the volume by
ionic radii) on plain lists and numpy arrays, so it can feed a GPU; a pymatgen ``Structure``
(:func:`to_structure`) or ASE ``Atoms`` (:func:`to_atoms`) is made only for what needs one
(stored survivors, model calls). ``bench/build_throughput.py`` compares both paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from screening.generate.enumerate import CandidateRef, Enumerator, _radius


@dataclass(frozen=True)
class CandidateArrays:
    """One candidate cell.

    Attributes
    ----------
    species : tuple of str
        Element symbol per site, shape (n,).
    frac : np.ndarray
        Fractional coordinates, shape (n, 3).
    lattice : np.ndarray
        Lattice vectors as rows, Å, shape (3, 3).
    ordering_ewald_ev : float
        Ewald energy of the arrangement above the lowest one, eV per cell.
    """

    species: tuple[str, ...]
    frac: np.ndarray
    lattice: np.ndarray
    ordering_ewald_ev: float


@lru_cache(maxsize=4096)
def _r3(symbol: str, charge: int) -> float:
    return _radius(symbol, charge) ** 3


class ArrayBuilder:
    """Builds :class:`CandidateArrays` for one enumerator (parent arrays cached).

    Parameters
    ----------
    enumerator : Enumerator
        The campaign's enumerator (its prototypes, oxidation states and ranked orderings).
    """

    def __init__(self, enumerator: Enumerator) -> None:
        self.enum = enumerator
        self._parents = [
            (
                [site.specie.symbol for site in p.structure],
                np.array(p.structure.frac_coords, dtype=float),
                np.array(p.structure.lattice.matrix, dtype=float),
                sorted(p.sites),
            )
            for p in enumerator.prototypes
        ]

    def build(self, ref: CandidateRef) -> CandidateArrays:
        """The candidate's cell (same result as ``build_structure``)."""
        enum = self.enum
        proto = enum.prototypes[ref.prototype]
        species, frac, lattice, elements = self._parents[ref.prototype]
        species = list(species)
        ordering = enum.orderings(ref.prototype, ref.options, ref.removed_mobile)[ref.ordering]
        chosen = list(ordering.chosen)
        old_vol = new_vol = 0.0
        for el, opt in zip(elements, ref.options, strict=True):
            q0 = proto.oxidation[el]
            sites = proto.sites[el]
            r_old = _r3(el, q0)
            r_a = _r3(opt[0], enum._charge(opt[0], el, q0))
            old_vol += r_old * len(sites)
            if len(opt) == 3:
                mixed = set(chosen.pop(0))
                r_b = _r3(opt[1], enum._charge(opt[1], el, q0))
                for i in sites:
                    species[i] = opt[1] if i in mixed else opt[0]
                new_vol += r_b * len(mixed) + r_a * (len(sites) - len(mixed))
            else:
                for i in sites:
                    species[i] = opt[0]
                new_vol += r_a * len(sites)
        keep = None
        if ref.removed_mobile:
            gone = set(chosen.pop(0))
            keep = [i for i in range(len(species)) if i not in gone]
        if old_vol > 0:
            lattice = lattice * float(np.clip(new_vol / old_vol, 0.5, 2.0)) ** (1.0 / 3.0)
        if keep is not None:
            return CandidateArrays(
                tuple(species[i] for i in keep), frac[keep], lattice, ordering.energy_rel_ev
            )
        return CandidateArrays(tuple(species), frac, lattice, ordering.energy_rel_ev)


def to_structure(c: CandidateArrays):
    """A pymatgen ``Structure`` of the candidate (for storing)."""
    from pymatgen.core import Lattice, Structure

    s = Structure(Lattice(c.lattice), list(c.species), c.frac)
    s.properties["ordering_ewald_ev"] = c.ordering_ewald_ev
    return s


def to_atoms(c: CandidateArrays):
    """ASE ``Atoms`` of the candidate (for a model call), periodic."""
    from ase import Atoms

    return Atoms(symbols=list(c.species), scaled_positions=c.frac, cell=c.lattice, pbc=True)
