"""Ternary model cells: ordered fillings of the holes of close-packed anion lattices.

Many Li/Na solid-electrolyte families are cation-deficient fillings of a close-packed anion
lattice: Li4SiO4-, Li5AlO4- and Li7PS6 (argyrodite)-like phases fill part of the
tetrahedral holes of cubic close packing (antifluorite); Li4GeS4 and Li4SnS4 have hexagonal
close-packed S with M in tetrahedral and A in tetrahedral and octahedral holes; Li2MgCl4
(inverse spinel) fills octahedral holes of ccp Cl, LiAlCl4 puts Al in tetrahedral and Li in
octahedral ones. The library cannot ship the experimental cell of every such type for every
substitution, so it builds, for each family, an ordered model cell of two formula units: M
placed first on its kind of hole (the lowest-Ewald arrangements, the A holes carrying the
mean A charge), then the empty holes among the A holes (lowest Ewald given M), each
symmetry-distinct by :func:`screening.generate.orderings.rank_orderings`, then refined by
pair swaps to a local Ewald minimum. The campaign's MLFF relaxes it.

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
    """One A_n M X_m family on a close-packed anion lattice.

    Attributes
    ----------
    name : str
        ``A4MX4`` etc.
    anion_charge, m_charge : int
        Charges of X and M; A is +1.
    n_a, n_x : int
        A and X per formula unit (one M).
    label : str
        The parent's name in phase names (``antifluorite``, ``rocksalt``, ``hcp-tet-oct``...).
    packing : str
        ``ccp`` (Fm-3m, X on 4a; tetrahedral holes 8c, octahedral 4b) or ``hcp`` (P6_3/mmc,
        X on 2c; tetrahedral holes 4f, octahedral 2a).
    m_sites, a_sites : tuple of str
        Hole kinds (``tet``, ``oct``) M and A may take.
    supercell : tuple of int
        Of the conventional cell (ccp: 4 X, hcp: 2 X): two formula units.
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
    label: str
    packing: str
    m_sites: tuple[str, ...]
    a_sites: tuple[str, ...]
    supercell: tuple[int, int, int]
    anions: tuple[str, ...]
    examples: str


CHALCOGENS = ("O", "S", "Se", "Te")
HALOGENS = ("F", "Cl", "Br", "I")
_T, _O, _TO = ("tet",), ("oct",), ("tet", "oct")

FAMILIES = (
    Family("A4MX4", -2, 4, 4, 4, "antifluorite", "ccp", _T, _T, (1, 1, 2), CHALCOGENS,
           "Li4SiO4, Li4GeO4"),
    Family("A4MX4", -2, 4, 4, 4, "hcp-tet-oct", "hcp", _T, _TO, (2, 2, 1), CHALCOGENS,
           "Li4GeS4, Li4SnS4 (hcp X, M tetrahedral, A tetrahedral and octahedral)"),
    Family("A5MX4", -2, 3, 5, 4, "antifluorite", "ccp", _T, _T, (1, 1, 2), CHALCOGENS,
           "Li5AlO4, Li5GaS4"),
    Family("A7MX6", -2, 5, 7, 6, "antifluorite", "ccp", _T, _T, (1, 1, 3), ("S", "Se"),
           "Li7PS6 argyrodite"),
    Family("A2MX4", -1, 2, 2, 4, "rocksalt", "ccp", _O, _O, (1, 1, 2), HALOGENS,
           "Li2MgCl4, Li2MnCl4 (inverse spinel)"),
    Family("AMX4", -1, 3, 1, 4, "ccp-tet-oct", "ccp", _T, _O, (1, 1, 2), HALOGENS,
           "LiAlCl4, LiGaCl4, NaAlCl4 (ccp X, M tetrahedral, A octahedral)"),
)  # fmt: skip

#: (space group, lattice(edge), X position, {hole kind: (position, Wyckoff)})
_PACKINGS = {
    "ccp": ("Fm-3m", lambda: Lattice.cubic(1.0), [0.0, 0.0, 0.0],
            {"tet": ([0.25] * 3, "8c"), "oct": ([0.5] * 3, "4b")}),
    "hcp": ("P6_3/mmc", lambda: Lattice.hexagonal(1.0, (8 / 3) ** 0.5), [1 / 3, 2 / 3, 0.25],
            {"tet": ([1 / 3, 2 / 3, 0.625], "4f"), "oct": ([0.0, 0.0, 0.0], "2a")}),
}  # fmt: skip
_PLACEHOLDER = {"tet": "He", "oct": "Ne"}


def source(family: Family) -> str:
    """The source line of a family's model cell."""
    group, _, _, holes = _PACKINGS[family.packing]

    def where(kinds):
        return " or ".join(f"{k} ({holes[k][1]})" for k in kinds)

    cell = "x".join(map(str, family.supercell))
    return (
        f"model {family.name} cell: {family.packing} X ({group}), M on {where(family.m_sites)} "
        f"and A on {where(family.a_sites)} holes of a {cell} supercell, 2 M and "
        f"{2 * family.n_a} A ordered by lowest Ewald energy, the other holes empty "
        f"(screening.stability.derived); stands in for {family.examples}"
    )


def _refined(phi: np.ndarray, q: np.ndarray, allowed: dict[float, set[int]]) -> np.ndarray:
    """``q`` after steepest-descent pair swaps of unequal charges (A with an empty hole, M
    with A or an empty hole) until no swap lowers the Ewald energy q^T phi q; a charge moves
    only to the holes ``allowed[charge]`` (every cation hole allows 0)."""
    q = q.copy()
    sites = sorted(set().union(*allowed.values()))
    while True:
        field = phi @ q  # (phi q)_i, once per sweep
        energy = q @ field
        best = (0.0, None)
        for i, j in itertools.combinations(sites, 2):
            if q[i] == q[j] or j not in allowed[q[i]] or i not in allowed[q[j]]:
                continue
            d = q[j] - q[i]  # q_i += d, q_j -= d
            delta = 2 * d * (field[i] - field[j]) + d * d * (phi[i, i] + phi[j, j] - 2 * phi[i, j])
            if delta < best[0] - 1e-9 * abs(energy):
                best = (delta, (i, j))
        if best[1] is None:
            return q
        i, j = best[1]
        q[i], q[j] = q[j], q[i]


def _parent(family: Family, a: str, x: str) -> tuple[Structure, dict[str, tuple[int, ...]]]:
    """The packing's supercell with A on every hole kind the family uses, and the site
    indices of each hole kind."""
    group, lattice, x_pos, holes = _PACKINGS[family.packing]
    kinds = sorted(set(family.m_sites) | set(family.a_sites))
    s = Structure.from_spacegroup(
        group,
        lattice(),
        [x, *(_PLACEHOLDER[k] for k in kinds)],
        [x_pos, *(holes[k][0] for k in kinds)],
    )
    s.make_supercell(list(family.supercell))
    index = {
        k: tuple(i for i, site in enumerate(s) if site.specie.symbol == _PLACEHOLDER[k])
        for k in kinds
    }
    s.replace_species({_PLACEHOLDER[k]: a for k in kinds})
    return s, index


@functools.lru_cache(maxsize=128)
def ordered_cell(family: Family, a: str, m: str, x: str, tries: int = 3) -> Structure:
    """The family's model cell for (A, M, X), unscaled (close-packed X-X distance ~1 Å).

    M is placed first on its holes (the ``tries`` lowest-Ewald symmetry-distinct
    arrangements, the A holes at the mean A charge), then the empty holes among the A holes
    (lowest Ewald given M, from up to ``MAX_TRIED`` sampled choices), then pair swaps refine
    the whole arrangement to a local Ewald minimum; the lowest of the ``tries`` is kept.

    Parameters
    ----------
    family : Family
        Stoichiometry, packing and the holes M and A may take.
    a, m, x : str
        Elements on the A, M and X sites.
    tries : int
        M arrangements (lowest Ewald first) whose best A arrangement is compared.
    """
    from screening.generate.orderings import Group, OrderingRanker, rank_orderings

    s, index = _parent(family, a, x)
    m_holes = tuple(sorted(i for k in family.m_sites for i in index[k]))
    a_holes = tuple(sorted(i for k in family.a_sites for i in index[k]))
    cats = tuple(sorted(i for v in index.values() for i in v))
    k_m, k_a = 2, 2 * family.n_a
    a_room = len(a_holes) - (k_m if set(m_holes) & set(a_holes) else 0)  # A holes M leaves
    if 2 * family.n_x != len(s) - len(cats) or k_a > a_room:
        raise ValueError(f"{family.name}: supercell {family.supercell} does not hold 2 f.u.")
    q_m, q_x = float(family.m_charge), float(family.anion_charge)
    mean_a = k_a / a_room
    base = np.array(
        [mean_a if i in a_holes else (0.0 if i in cats else q_x) for i in range(len(s))]
    )
    parent = OrderingRanker(s)
    allowed = {q_m: set(m_holes), 1.0: set(a_holes), 0.0: set(cats)}
    best: tuple[float, np.ndarray] | None = None
    for placed in rank_orderings(parent, base, [Group(m_holes, k_m, q_m, keep=tries)])[:tries]:
        t = s.copy()
        for i in placed.chosen[0]:
            t.replace(i, m)
        free = tuple(i for i in a_holes if i not in placed.chosen[0])
        q = np.array([1.0 if i in free else (0.0 if i in cats else q_x) for i in range(len(s))])
        q[list(placed.chosen[0])] = q_m
        group_v = Group(free, len(free) - k_a, 0.0, keep=1)
        q[list(rank_orderings(OrderingRanker(t), q, [group_v])[0].chosen[0])] = 0.0
        q = _refined(parent.phi, q, allowed)
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


def _tetrahedral(m: str, charge: int) -> bool:
    """Whether Shannon's table knows M at this charge in fourfold coordination."""
    from pymatgen.core import Species

    try:
        Species(m, charge).get_shannon_radius("IV")
    except KeyError:
        return False
    return True


def families_for(anion: str, anion_charge: int, m: str, m_states: list[int]) -> list[Family]:
    """The families an (anion, M) pair can form: M in one of its common states; a metal or
    metalloid where the family's M is 2+ or 3+ (no Li5PS4 from P3+); and, where the family
    puts M only on tetrahedral holes, an M that Shannon's table knows in fourfold
    coordination (LiAlCl4, not LiYCl4)."""
    from pymatgen.core import Element

    el = Element(m)
    return [
        f
        for f in FAMILIES
        if f.anion_charge == anion_charge
        and f.m_charge in m_states
        and anion in f.anions
        and (f.m_charge > 3 or el.is_metal or el.is_metalloid)
        and (f.m_sites != ("tet",) or _tetrahedral(m, f.m_charge))
    ]
