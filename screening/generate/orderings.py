"""Symmetry-distinct site orderings ranked by electrostatic (Ewald) energy.

A mixed site (k of an element's n sites take a second species) or a vacancy arrangement
(k mobile ions removed) has C(n, k) site choices, most of them equivalent by the parent's
symmetry and many electrostatically absurd. For each parent the ranker computes once

* the Ewald interaction matrix Phi of the parent's sites (unit point charges), so the
  energy of any charge assignment q is q^T Phi q (the charged-cell background is constant
  for a fixed composition and drops out of the ranking), and
* the parent's space-group operations as site permutations.

:func:`rank_orderings` then scores every choice (a fixed-seed sample of ``MAX_TRIED`` when
there are more) with that quadratic form, joint over all mixed elements and the vacancies,
keeps the first of each symmetry class (canonical form: smallest image under the parent's
permutations) from the lowest energy up, and returns them lowest first. The Enumerator
caches the result per parent and charge pattern, so a campaign pays it once per pattern,
not per candidate.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

MAX_TRIED = 4000
"""Site choices scored per group at most (a fixed-seed sample beyond that)."""


@dataclass(frozen=True)
class Group:
    """k of ``sites`` take the charge ``q_new`` (a second species, or 0 for vacancies)."""

    sites: tuple[int, ...]
    k: int
    q_new: float
    keep: int  # arrangements of this group kept per arrangement of the groups before it


@dataclass(frozen=True)
class Ordering:
    """One ranked arrangement: the sites chosen in each group, and its energy above the
    lowest arrangement, eV per cell."""

    chosen: tuple[tuple[int, ...], ...]
    energy_rel_ev: float


class OrderingRanker:
    """Ewald matrix and symmetry permutations of one parent structure (computed lazily).

    Parameters
    ----------
    structure : Structure
        The ordered parent (its species define the symmetry).
    """

    def __init__(self, structure: Structure) -> None:
        self.structure = structure

    @functools.cached_property
    def phi(self) -> np.ndarray:
        """Shape (n_sites, n_sites): Ewald energy matrix of unit point charges, eV."""
        from pymatgen.analysis.ewald import EwaldSummation

        s = self.structure.copy()
        s.add_oxidation_state_by_site([1.0] * len(s))
        return np.asarray(EwaldSummation(s).total_energy_matrix, dtype=float)

    @functools.cached_property
    def permutations(self) -> np.ndarray:
        """Shape (n_ops, n_sites): site images under the parent's symmetry operations."""
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        s = self.structure
        frac = s.frac_coords
        species = [site.species_string for site in s]
        perms = []
        for op in SpacegroupAnalyzer(s, symprec=0.05).get_symmetry_operations():
            diff = op.operate_multi(frac)[:, None, :] - frac[None, :, :]
            diff -= np.round(diff)
            dist = np.linalg.norm(diff @ s.lattice.matrix, axis=2)
            target = dist.argmin(axis=1)
            if (
                dist[np.arange(len(s)), target].max() < 0.05
                and len(set(target.tolist())) == len(s)
                and all(species[i] == species[j] for i, j in enumerate(target))
            ):
                perms.append(target)
        return np.array(perms or [np.arange(len(s))])

    def canonical(self, chosen: Sequence[Sequence[int]]) -> tuple:
        """Symmetry-invariant key of an arrangement (one site tuple per group)."""
        return min(
            tuple(tuple(sorted(p[list(g)].tolist())) for g in chosen) for p in self.permutations
        )


def _choices(sites: tuple[int, ...], k: int) -> np.ndarray:
    """Shape (m, k): every k-subset of ``sites``, or a fixed-seed sample of MAX_TRIED."""
    if math.comb(len(sites), k) <= MAX_TRIED:
        return np.array(list(itertools.combinations(sites, k)), dtype=int).reshape(-1, k)
    rng = np.random.default_rng(0)
    picks = np.sort([rng.choice(sites, size=k, replace=False) for _ in range(MAX_TRIED)], axis=1)
    return np.unique(picks, axis=0)


def rank_orderings(
    ranker: OrderingRanker, base_charges: Sequence[float], groups: Sequence[Group]
) -> list[Ordering]:
    """Symmetry-distinct arrangements of ``groups`` ranked by exact Ewald energy.

    Groups are filled in turn: for each kept arrangement of the groups before it, a group's
    choices are scored with the full charge vector and the ``keep`` lowest distinct ones
    kept. The joint list is sorted by energy (ties: enumeration order).

    Parameters
    ----------
    ranker : OrderingRanker
        Of the parent structure.
    base_charges : sequence of float
        Shape (n_sites,): charge of every site before any group is applied.
    groups : sequence of Group
        Mixed elements first, vacancies last.
    """
    q0 = np.asarray(base_charges, dtype=float)
    partial: list[tuple[tuple, np.ndarray, float]] = [((), q0, float(q0 @ ranker.phi @ q0))]
    for g in groups:
        grown = []
        choices = _choices(g.sites, g.k)
        for chosen, q, _ in partial:
            qs = np.repeat(q[None, :], len(choices), axis=0)
            np.put_along_axis(qs, choices, g.q_new, axis=1)
            energy = np.einsum("mi,ij,mj->m", qs, ranker.phi, qs)
            seen: set = set()
            for m in np.lexsort((np.arange(len(choices)), np.round(energy, 8))):
                arrangement = (*chosen, tuple(int(i) for i in choices[m]))
                key = ranker.canonical(arrangement)
                if key in seen:
                    continue
                seen.add(key)
                grown.append((arrangement, qs[m], float(energy[m])))
                if len(seen) >= g.keep:
                    break
        partial = grown
    scored = []
    seen_all: set = set()
    for chosen, _, energy_ev in partial:  # distinct per parent arrangement; now jointly
        key = ranker.canonical(chosen) if chosen else ()
        if key not in seen_all:
            seen_all.add(key)
            scored.append((energy_ev, chosen))
    scored.sort(key=lambda x: round(x[0], 8))
    e0 = scored[0][0]
    return [Ordering(chosen, e - e0) for e, chosen in scored]
