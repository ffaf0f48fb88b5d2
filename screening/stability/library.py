"""The shipped reference library: competing phases for any chemical system, offline.

For a set of elements, :func:`library_phases` returns

* each element in its ground-state structure (:data:`~screening.stability.prototypes.ELEMENTS`);
* for each pair of elements, the charge-balanced binaries (the more electronegative element as
  anion in its most negative common oxidation state, the other in each positive common state)
  in the common structure types of their stoichiometry
  (:data:`~screening.stability.prototypes.BINARY_TYPES`), scaled to the sum of Shannon radii;
* ternary solid-electrolyte families by charge-balanced substitution: A3MX4 as ordered
  wurtzite (the enargite type of beta-Li3PO4 and gamma-Li3PS4) and ordered zinc blende,
  A3MX6 (the rock-salt-derived Li3YCl6 model) and A10MP2X12 (ordered LGPS), A = Li or Na,
  and A3MX4 in the gamma-Li3PO4 cell;
* model cells of close-packed families, ordered fillings of their holes (A4MX4, A5MX4,
  A7MX6 on antifluorite; A4MX4 on hcp X with M tetrahedral, A tetrahedral and octahedral;
  A2MX4 on rock salt; AMX4 on ccp X with M tetrahedral, A octahedral;
  :mod:`screening.stability.derived`).

The campaign's MLFF relaxes each (:class:`~screening.stability.references.ReferenceSet`,
cached per model, weights and structure), so a system is built once and shared by every
campaign that touches it. Each phase carries a source line.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.resources import files
from math import gcd

from pymatgen.core import Composition, Element, Lattice, Species, Structure

from screening.stability.derived import Family, families_for, ordered_cell
from screening.stability.derived import source as derived_source
from screening.stability.prototypes import ELEMENTS, binary_structures, element_structure

ALKALI = ("Li", "Na")


@dataclass(frozen=True)
class LibraryPhase:
    """One reference phase of the library; its structure is built on first use, so a
    system's phases can be listed and counted without building any.

    Attributes
    ----------
    name : str
        Formula and structure type, e.g. ``LiCl rocksalt``.
    source : str
        Space group, Wyckoff positions and reference (or how it was derived).
    elements : frozenset of str
        The phase's elements.
    build : callable
        Makes the unrelaxed starting structure (``structure`` calls it once).
    """

    name: str
    source: str
    elements: frozenset[str]
    build: Callable[[], Structure] = field(repr=False, compare=False)

    @functools.cached_property
    def structure(self) -> Structure:
        """Unrelaxed starting structure."""
        return self.build()


#: anions without a Shannon radius in pymatgen: Pauling's crystal radii, Å
_ANION_RADII = {
    ("N", -3): 1.71,
    ("P", -3): 2.12,
    ("As", -3): 2.22,
    ("C", -4): 2.60,
    ("Si", -4): 2.71,
    ("Ge", -4): 2.72,
    ("Sn", -4): 2.94,
    ("H", -1): 1.40,
}


def _radius(el: str, q: int) -> float:
    if (el, q) in _ANION_RADII:
        return _ANION_RADII[(el, q)]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "No ionic radius for ...": the fallback below
        try:
            r = Species(el, q).ionic_radius
        except ValueError:
            r = None
    if r is None:
        e = Element(el)
        r = (e.average_anionic_radius if q < 0 else e.average_cationic_radius) or e.atomic_radius
    return float(r)


def anion_state(el: str) -> int | None:
    """Most negative common oxidation state of a non-metal (None: never an anion)."""
    e = Element(el)
    neg = [q for q in e.common_oxidation_states if q < 0]
    return min(neg) if neg and not e.is_metal else None


def _cation_states(el: str) -> list[int]:
    return sorted(q for q in Element(el).common_oxidation_states if q > 0)


def _binaries(a: str, b: str) -> list[LibraryPhase]:
    cat, an = sorted((a, b), key=lambda el: Element(el).X)
    qa = anion_state(an)
    if qa is None:
        return []  # two metals: intermetallics are not in the library
    out = []
    for qc in _cation_states(cat):
        g = gcd(qc, -qa)
        n_cat, n_an = -qa // g, qc // g
        bond = _radius(cat, qc) + _radius(an, qa)
        formula = Composition({cat: n_cat, an: n_an}).reduced_formula
        for name, build, source in binary_structures(cat, an, n_cat, n_an, bond):
            out.append(LibraryPhase(f"{formula} {name}", source, frozenset((cat, an)), build))
    return out


@functools.lru_cache(maxsize=64)
def _ordered_tetrahedral(a: str, m: str, x: str, parent: str, keep: int = 2) -> tuple[Structure]:
    """A3MX4 orderings of 2 M among the 8 cation sites of a 16-atom wurtzite (orthohexagonal
    2x1x1) or zinc-blende (cubic 1x1x2) cell, distinct by symmetry, lowest Ewald first
    (:func:`screening.generate.orderings.rank_orderings`)."""
    from screening.generate.orderings import Group, OrderingRanker, rank_orderings
    from screening.stability.prototypes import BINARY_TYPES

    if parent == "wurtzite":
        s = dict((n, b) for n, b, _ in BINARY_TYPES[(1, 1)])["wurtzite"]("Li", "S")
        s.make_supercell([[2, 0, 0], [1, 2, 0], [0, 0, 1]])  # orthohexagonal 2x1x1
    else:  # the cubic zinc-blende cell, doubled along c
        s = Structure.from_spacegroup("F-43m", Lattice.cubic(1), ["Li", "S"], [[0] * 3, [0.25] * 3])
        s.make_supercell([1, 1, 2])
    cats = tuple(i for i, site in enumerate(s) if site.specie.symbol == "Li")
    qx = anion_state(x)
    charges = [1.0 if i in cats else float(qx) for i in range(len(s))]
    group = Group(sites=cats, k=2, q_new=float(4 * -qx - 3), keep=keep)
    out = []
    for ordering in rank_orderings(OrderingRanker(s), charges, [group])[:keep]:
        t = s.copy()
        for i in cats:
            t.replace(i, m if i in ordering.chosen[0] else a)
        t.replace_species({"S": x})
        out.append(t)
    return tuple(out)


@functools.lru_cache(maxsize=8)
def _template(name: str) -> Structure:
    return Structure.from_str(
        files("screening.data").joinpath(f"reference_library/{name}.cif").read_text(), "cif"
    )


def _tetrahedral_phase(a: str, m: str, x: str, parent: str, k: int) -> LibraryPhase:
    """The k-th (0-based) lowest-Ewald A3MX4 ordering of ``parent`` (M5+, X2-)."""

    def build() -> Structure:
        s = _ordered_tetrahedral(a, m, x, parent)[k]
        return _relabel(s, {}, bond=_radius(m, 5) + _radius(x, -2), pair=(m, x))

    src = (
        f"A3MX4 ordering {k + 1} (lowest Ewald) of 2 M on the 8 cation sites of a 16-atom "
        f"{parent} cell"
        + (" (enargite type: beta-Li3PO4, gamma-Li3PS4)" if parent == "wurtzite" else "")
    )
    return LibraryPhase(f"{a}3{m}{x}4 {parent}-{k + 1}", src, frozenset((a, m, x)), build)


def _substituted_phase(tpl: str, a: str, m: str, x: str, q_m: int, q_x: int) -> LibraryPhase:
    """``tpl`` with its (A, M, X) replaced; one A fewer per unit of M charge above the
    template's (A2MX6 from A3MX6), the vacancy arrangement of lowest Ewald energy."""
    (a0, m0, x0), q_template, source = _TEMPLATES[tpl]
    n_vac = q_m - q_template
    comp = Composition(
        {
            {a0: a, m0: m, x0: x}.get(str(el), str(el)): n
            for el, n in _template(tpl).composition.items()
        }
    )
    comp = comp - Composition({a: n_vac}) if n_vac else comp

    def build() -> Structure:
        s = _relabel(_template(tpl), {a0: a, m0: m, x0: x},
                     bond=_radius(m, q_m) + _radius(x, q_x), pair=(m, x))  # fmt: skip
        return _without_ions(s, a, n_vac, {a: 1, m: q_m, x: q_x}) if n_vac else s

    src = source + (f", {n_vac} {a} removed (lowest Ewald)" if n_vac else "")
    name = f"{comp.reduced_formula} {tpl}-type"
    return LibraryPhase(name, src, frozenset(map(str, comp.elements)), build)


def _derived_phase(family: Family, a: str, m: str, x: str) -> LibraryPhase:
    """The ordered-vacancy model cell of ``family`` for (A, M, X)
    (:mod:`screening.stability.derived`)."""
    comp = Composition({a: family.n_a, m: 1, x: family.n_x})

    def build() -> Structure:
        bond = _radius(m, family.m_charge) + _radius(x, family.anion_charge)
        return _relabel(ordered_cell(family, a, m, x), {}, bond=bond, pair=(m, x))

    name = f"{comp.reduced_formula} {family.name}-{family.label}"
    return LibraryPhase(name, derived_source(family), frozenset((a, m, x)), build)


def _ternaries(elements: set[str]) -> list[LibraryPhase]:
    out = []
    for a in sorted(elements & set(ALKALI)):
        for x in sorted(elements):
            qx = anion_state(x)
            if qx is None or x == a:
                continue
            for m in sorted(elements - {a, x}):
                states = _cation_states(m)
                if qx == -2 and 5 in states:  # A3MX4: M5+ tetrahedral
                    for parent in ("wurtzite", "zincblende"):
                        out += [_tetrahedral_phase(a, m, x, parent, k) for k in range(2)]
                out += [_derived_phase(f, a, m, x) for f in families_for(x, qx, m, states)]
                for tpl, q_x, q_m, anions, needs in _SUBSTITUTED:
                    if qx != q_x or q_m not in states or (anions and x not in anions):
                        continue
                    if set(needs) <= elements - {a, m, x}:
                        out.append(_substituted_phase(tpl, a, m, x, q_m, q_x))
    return out


def _without_ions(s: Structure, ion: str, n: int, ox: dict[str, int]) -> Structure:
    """``s`` less ``n`` sites of ``ion``: the choice of lowest Ewald energy (charges
    ``ox``), so a template of a lower-valent M serves a higher-valent one."""
    from screening.generate.orderings import Group, OrderingRanker, rank_orderings

    sites = tuple(i for i, site in enumerate(s) if site.specie.symbol == ion)
    charges = [float(ox[site.specie.symbol]) for site in s]
    best = rank_orderings(OrderingRanker(s), charges, [Group(sites, n, 0.0, keep=1)])[0]
    t = s.copy()
    t.remove_sites(list(best.chosen[0]))
    return t


#: ternaries by substitution into a shipped cell: (template, anion charge, M charge,
#: allowed anions (empty: any), other elements it needs)
_SUBSTITUTED = (
    ("Li3YCl6", -1, 3, (), ()),
    ("Li3YCl6", -1, 4, (), ()),  # A2MX6 (Li2ZrCl6): one A removed
    ("Li10GeP2S12", -2, 4, ("S", "Se"), ("P",)),
    ("Li3PO4-gamma", -2, 5, (), ()),
)

#: shipped template -> ((A, M, X) elements in it, charge of its M, source line)
_TEMPLATES = {
    "Li3PO4-gamma": (
        ("Li", "P", "O"),
        5,
        "gamma-Li3PO4 (Pnma, Pmnb setting; lithiophosphate / Li2CdSiO4 type): "
        "W. H. Baur, Inorg. Nucl. Chem. Lett. 16, 525 (1980), AMCSD 0012724, by substitution",
    ),
    "Li3YCl6": (
        ("Li", "Y", "Cl"),
        3,
        "rock-salt-derived ordered Li3YCl6 model (workflows/prototypes/Li3YCl6.cif: "
        "lowest-Ewald ordering of a 6-f.u. rock-salt supercell), by substitution",
    ),
    "Li10GeP2S12": (
        ("Li", "Ge", "S"),
        4,
        "ordered Li10GeP2S12 (P4_2/nmc parent, 50 atoms, from pymatgen's bundled "
        "structure; workflows/prototypes/Li10GeP2S12.cif), by substitution",
    ),
}


def _relabel(s: Structure, mapping: dict[str, str], *, bond: float, pair) -> Structure:
    """Substitute species, then scale so the shortest ``pair`` distance is ``bond``."""
    from screening.stability.prototypes import _scaled

    s = s.copy()
    if mapping:
        s.replace_species({k: v for k, v in mapping.items() if k != v})
    return _scaled(s, *pair, bond)


@functools.cache
def _system_phases(system: tuple[str, ...]) -> tuple[LibraryPhase, ...]:
    """Phases whose elements are exactly ``system`` (sorted tuple)."""
    els = set(system)
    if len(system) == 1:
        el = system[0]
        if el not in ELEMENTS:
            return ()
        source = ELEMENTS[el][2]
        return (LibraryPhase(el, source, frozenset(system), lambda: element_structure(el)[0]),)
    if len(system) == 2:
        return tuple(_binaries(*system))
    return tuple(p for p in _ternaries(els) if p.elements == els)


def library_phases(elements: Iterable[str]) -> list[LibraryPhase]:
    """Every library phase of the chemical system spanned by ``elements`` (all subsystems).

    Raises
    ------
    ValueError
        An element without a ground-state structure in the library (named in the message).
    """
    els = sorted(set(elements))
    missing = [e for e in els if e not in ELEMENTS]
    if missing:
        raise ValueError(
            f"the reference library has no ground-state structure for {', '.join(missing)}; "
            "give a reference folder (references: DIR) that contains it"
        )
    out = []
    for n in range(1, min(len(els), 4) + 1):
        for combo in itertools.combinations(els, n):
            out.extend(_system_phases(combo))
    return out
