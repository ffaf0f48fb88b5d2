"""Ternary model cells derived from close-packed anion lattices by ordered vacancies.

Many Li/Na solid-electrolyte families are cation-deficient superstructures of a cubic
close-packed anion lattice: Li4GeS4-, Li4SiO4-, Li5AlO4- and Li7PS6 (argyrodite)-like
phases fill part of the tetrahedral sites of antifluorite; Li2MgCl4 (inverse spinel)- and
LiAlCl4-like halides part of the octahedral sites of rock salt. The library cannot ship the
experimental cell of every such type for every substitution, so it builds, for each family,
an ordered model cell of two formula units: M placed first (the lowest-Ewald arrangements,
the other cation sites carrying the mean A charge), then the vacancies among the A sites
(lowest Ewald given M), each symmetry-distinct by
:func:`screening.generate.orderings.rank_orderings`. The campaign's MLFF relaxes it.

A model cell is an upper bound on the energy of its family's true structure: with it, a
candidate's E_hull can only rise towards the truth, never fall below what it was without it.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Lattice, Structure


@dataclass(frozen=True)
class Family:
    """One A_n M X_m family on a close-packed parent.

    Attributes
    ----------
    name : str
        ``A4MX4`` etc.
    anion_charge, m_charge : int
        Charges of X and M; A is +1.
    n_a, n_x : int
        A and X per formula unit (one M).
    parent : str
        ``antifluorite`` (cations on the tetrahedral sites) or ``rocksalt`` (octahedral).
    supercell : tuple of int
        Of the parent's conventional cell (4 X each): two formula units.
    anions : tuple of str
        Anions the family is built for.
    examples : str
        Known members, for the source line.
    """

    name: str
    anion_charge: int
    m_charge: int
    n_a: int
    n_x: int
    parent: str
    supercell: tuple[int, int, int]
    anions: tuple[str, ...]
    examples: str


CHALCOGENS = ("O", "S", "Se", "Te")
HALOGENS = ("F", "Cl", "Br", "I")

FAMILIES = (
    Family("A4MX4", -2, 4, 4, 4, "antifluorite", (1, 1, 2), CHALCOGENS, "Li4GeS4, Li4SiO4"),
    Family("A5MX4", -2, 3, 5, 4, "antifluorite", (1, 1, 2), CHALCOGENS, "Li5AlO4, Li5GaS4"),
    Family("A7MX6", -2, 5, 7, 6, "antifluorite", (1, 1, 3), ("S", "Se"), "Li7PS6 argyrodite"),
    Family("A2MX4", -1, 2, 2, 4, "rocksalt", (1, 1, 2), HALOGENS, "Li2MgCl4, Li2ZnCl4"),
    Family("AMX4", -1, 3, 1, 4, "rocksalt", (1, 1, 2), HALOGENS, "LiAlCl4, NaAlCl4"),
)

_SITES = {"antifluorite": [0.25] * 3, "rocksalt": [0.5] * 3}
_SITE_NAMES = {"antifluorite": "tetrahedral (8c)", "rocksalt": "octahedral (4b)"}


def source(family: Family) -> str:
    """The source line of a family's model cell."""
    cell = "x".join(map(str, family.supercell))
    return (
        f"model {family.name} cell: {family.parent} (Fm-3m, X on 4a, cations on the "
        f"{_SITE_NAMES[family.parent]} sites) {cell} supercell, 2 M and {2 * family.n_a} A "
        "ordered by lowest Ewald energy, the other sites vacant (screening.stability.derived); "
        f"stands in for {family.examples}-type structures"
    )


def _refined(phi: np.ndarray, q: np.ndarray, sites: tuple[int, ...]) -> np.ndarray:
    """``q`` after steepest-descent pair swaps of unequal charges among ``sites`` (A with a
    vacancy, M with A or a vacancy) until no swap lowers the Ewald energy q^T phi q."""
    q = q.copy()
    while True:
        energy = q @ phi @ q
        best = (0.0, None)
        for i, j in itertools.combinations(sites, 2):
            if q[i] == q[j]:
                continue
            d = q[j] - q[i]  # q_i += d, q_j -= d
            delta = 2 * d * (phi[i] @ q - phi[j] @ q) + d * d * (
                phi[i, i] + phi[j, j] - 2 * phi[i, j]
            )
            if delta < best[0] - 1e-9 * abs(energy):
                best = (delta, (i, j))
        if best[1] is None:
            return q
        i, j = best[1]
        q[i], q[j] = q[j], q[i]


@functools.lru_cache(maxsize=128)
def ordered_cell(family: Family, a: str, m: str, x: str, tries: int = 3) -> Structure:
    """The family's model cell for (A, M, X), unscaled (cubic parent edge 1 Å).

    M is placed first (the ``tries`` lowest-Ewald symmetry-distinct arrangements, the other
    cation sites at the mean A charge), then the vacancies among the A sites (lowest Ewald
    given M, from up to ``MAX_TRIED`` sampled choices), then pair swaps refine the whole
    arrangement to a local Ewald minimum; the lowest of the ``tries`` is kept.

    Parameters
    ----------
    family : Family
        Stoichiometry and parent.
    a, m, x : str
        Elements on the A, M and X sites.
    tries : int
        M arrangements (lowest Ewald first) whose best vacancy arrangement is compared.
    """
    from screening.generate.orderings import Group, OrderingRanker, rank_orderings

    s = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(1.0), [x, a], [[0.0, 0.0, 0.0], _SITES[family.parent]]
    )
    s.make_supercell(list(family.supercell))
    cats = tuple(i for i, site in enumerate(s) if site.specie.symbol == a)
    k_m, k_a = 2, 2 * family.n_a
    if 2 * family.n_x != len(s) - len(cats) or k_m + k_a > len(cats):
        raise ValueError(f"{family.name}: supercell {family.supercell} does not hold 2 f.u.")
    q_m, q_x = float(family.m_charge), float(family.anion_charge)
    mean_a = k_a / (len(cats) - k_m)
    base = np.array([mean_a if i in cats else q_x for i in range(len(s))])
    parent = OrderingRanker(s)
    best: tuple[float, np.ndarray] | None = None
    for placed in rank_orderings(parent, base, [Group(cats, k_m, q_m, keep=tries)])[:tries]:
        t = s.copy()
        for i in placed.chosen[0]:
            t.replace(i, m)
        a_sites = tuple(i for i in cats if i not in placed.chosen[0])
        q = np.where(np.isin(np.arange(len(s)), cats), 1.0, q_x)
        q[list(placed.chosen[0])] = q_m
        group_v = Group(a_sites, len(a_sites) - k_a, 0.0, keep=1)
        q[list(rank_orderings(OrderingRanker(t), q, [group_v])[0].chosen[0])] = 0.0
        q = _refined(parent.phi, q, cats)
        e = float(q @ parent.phi @ q)
        if best is None or e < best[0] - 1e-9 * abs(e):
            best = (e, q)
    q = best[1]
    out = s.copy()
    for i in cats:
        if q[i] == q_m:
            out.replace(i, m)
    out.remove_sites([i for i in cats if q[i] == 0.0])
    return out


def families_for(anion: str, anion_charge: int, m: str, m_states: list[int]) -> list[Family]:
    """The families an (anion, M) pair can form: M in one of its common states, and a metal
    or metalloid where the family's M is 2+ or 3+ (no Li5PS4 from P3+)."""
    from pymatgen.core import Element

    el = Element(m)
    return [
        f
        for f in FAMILIES
        if f.anion_charge == anion_charge
        and f.m_charge in m_states
        and anion in f.anions
        and (f.m_charge > 3 or el.is_metal or el.is_metalloid)
    ]
