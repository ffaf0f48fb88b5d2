"""The shipped reference library: competing phases for any chemical system, offline.

For a set of elements, :func:`library_phases` returns

* each element in its ground-state structure (:data:`~screening.stability.prototypes.ELEMENTS`);
* for each pair of elements, the charge-balanced binaries (the more electronegative element as
  anion in its most negative common oxidation state, the other in each positive common state)
  in the common structure types of their stoichiometry
  (:data:`~screening.stability.prototypes.BINARY_TYPES`), scaled to the sum of Shannon radii;
* ternary solid-electrolyte families by charge-balanced substitution: A3MX4 as ordered
  wurtzite (the enargite type of beta-Li3PO4 and gamma-Li3PS4) and ordered zinc blende,
  A3MX6 (the rock-salt-derived Li3YCl6 model) and A10MP2X12 (ordered LGPS), A = Li or Na.

The campaign's MLFF relaxes each (:class:`~screening.stability.references.ReferenceSet`,
cached per model, weights and structure), so a system is built once and shared by every
campaign that touches it. Each phase carries a source line.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from math import gcd

from pymatgen.core import Element, Lattice, Species, Structure

from screening.stability.prototypes import binary_structures, element_structure

ALKALI = ("Li", "Na")


@dataclass(frozen=True)
class LibraryPhase:
    """One reference phase of the library.

    Attributes
    ----------
    name : str
        Formula and structure type, e.g. ``LiCl rocksalt``.
    structure : Structure
        Unrelaxed starting structure.
    source : str
        Space group, Wyckoff positions and reference (or how it was derived).
    """

    name: str
    structure: Structure
    source: str


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
        for name, s, source in binary_structures(cat, an, n_cat, n_an, bond):
            formula = s.composition.reduced_formula
            out.append(LibraryPhase(f"{formula} {name}", s, source))
    return out


def _ordered_tetrahedral(a: str, m: str, x: str, parent: str, keep: int = 2) -> list[Structure]:
    """A3MX4 orderings of 2 M among the 8 cation sites of a 16-atom wurtzite (orthohexagonal
    2x1x1) or zinc-blende (cubic 1x1x2) cell, distinct by symmetry, lowest Ewald first."""
    from pymatgen.analysis.ewald import EwaldSummation
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from screening.stability.prototypes import BINARY_TYPES

    if parent == "wurtzite":
        s = dict((n, b) for n, b, _ in BINARY_TYPES[(1, 1)])["wurtzite"]("Li", "S")
        s.make_supercell([[2, 0, 0], [1, 2, 0], [0, 0, 1]])  # orthohexagonal 2x1x1
    else:  # the cubic zinc-blende cell, doubled along c
        s = Structure.from_spacegroup("F-43m", Lattice.cubic(1), ["Li", "S"], [[0] * 3, [0.25] * 3])
        s.make_supercell([1, 1, 2])
    cats = [i for i, site in enumerate(s) if site.specie.symbol == "Li"]
    candidates = []
    for pick in itertools.combinations(cats, 2):
        t = s.copy()
        for i in cats:
            t.replace(i, m if i in pick else a)
        t.replace_species({"S": x})
        candidates.append(t)
    groups = StructureMatcher().group_structures(candidates)
    uniq = [g[0] for g in groups]
    qx = anion_state(x)
    ox = {a: 1, m: 4 * -qx - 3, x: qx}

    def ewald(t: Structure) -> float:
        u = t.copy()
        u.add_oxidation_state_by_element(ox)
        return EwaldSummation(u).total_energy

    return sorted(uniq, key=ewald)[:keep]


def _template(name: str) -> Structure:
    return Structure.from_str(
        files("screening.data").joinpath(f"reference_library/{name}.cif").read_text(), "cif"
    )


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
                        for k, s in enumerate(_ordered_tetrahedral(a, m, x, parent)):
                            s = _relabel(s, {}, bond=_radius(m, 5) + _radius(x, qx), pair=(m, x))
                            src = (
                                f"A3MX4 ordering {k + 1} (lowest Ewald) of 2 M on the 8 "
                                f"cation sites of a 16-atom {parent} cell"
                                + (
                                    " (enargite type: beta-Li3PO4, gamma-Li3PS4)"
                                    if parent == "wurtzite"
                                    else ""
                                )
                            )
                            out.append(LibraryPhase(f"{a}3{m}{x}4 {parent}-{k + 1}", s, src))
                for tpl, q_x, q_m, (a0, m0, x0), anions, needs in _SUBSTITUTED:
                    if qx != q_x or q_m not in states or (anions and x not in anions):
                        continue
                    if not set(needs) <= elements - {a, m, x}:
                        continue
                    s = _relabel(_template(tpl), {a0: a, m0: m, x0: x},
                                 bond=_radius(m, q_m) + _radius(x, q_x), pair=(m, x))  # fmt: skip
                    n_vac = q_m - _TEMPLATE_Q[tpl]  # A2MX6 from A3MX6: one A less per M4+
                    t = _without_ions(s, a, n_vac, {a: 1, m: q_m, x: q_x}) if n_vac else s
                    src = _SOURCES[tpl] + (f", {n_vac} {a} removed (lowest Ewald)" if n_vac else "")
                    out.append(LibraryPhase(f"{t.composition.reduced_formula} {tpl}-type", t, src))
    return out


def _without_ions(s: Structure, ion: str, n: int, ox: dict[str, int]) -> Structure:
    """``s`` less ``n`` sites of ``ion``: the choice of lowest Ewald energy (charges
    ``ox``), so a template of a lower-valent M serves a higher-valent one."""
    from pymatgen.analysis.ewald import EwaldSummation

    sites = [i for i, site in enumerate(s) if site.specie.symbol == ion]
    best = None
    for drop in itertools.combinations(sites, n):
        t = s.copy()
        t.remove_sites(list(drop))
        u = t.copy()
        u.add_oxidation_state_by_element(ox)
        e = EwaldSummation(u).total_energy
        if best is None or e < best[0]:
            best = (e, t)
    return best[1]


#: ternaries by substitution into a shipped cell: (template, anion charge, M charge,
#: template's (A, M, X) elements, allowed anions (empty: any), other elements it needs)
_SUBSTITUTED = (
    ("Li3YCl6", -1, 3, ("Li", "Y", "Cl"), (), ()),
    ("Li3YCl6", -1, 4, ("Li", "Y", "Cl"), (), ()),  # A2MX6 (Li2ZrCl6): one A removed
    ("Li10GeP2S12", -2, 4, ("Li", "Ge", "S"), ("S", "Se"), ("P",)),
)

_TEMPLATE_Q = {"Li3YCl6": 3, "Li10GeP2S12": 4}  # charge of the template's M

_SOURCES = {
    "Li3YCl6": "rock-salt-derived ordered Li3YCl6 model (workflows/prototypes/Li3YCl6.cif: "
    "lowest-Ewald ordering of a 6-f.u. rock-salt supercell), by substitution",
    "Li10GeP2S12": "ordered Li10GeP2S12 (P4_2/nmc parent, 50 atoms, from pymatgen's bundled "
    "structure; workflows/prototypes/Li10GeP2S12.cif), by substitution",
}


def _relabel(s: Structure, mapping: dict[str, str], *, bond: float, pair) -> Structure:
    """Substitute species, then scale so the shortest ``pair`` distance is ``bond``."""
    from screening.stability.prototypes import _scaled

    s = s.copy()
    if mapping:
        s.replace_species({k: v for k, v in mapping.items() if k != v})
    return _scaled(s, *pair, bond)


@functools.lru_cache(maxsize=256)
def _system_phases(system: tuple[str, ...]) -> tuple[LibraryPhase, ...]:
    """Phases whose elements are exactly ``system`` (sorted tuple)."""
    els = set(system)
    if len(system) == 1:
        got = element_structure(system[0])
        return () if got is None else (LibraryPhase(f"{system[0]}", got[0], got[1]),)
    if len(system) == 2:
        return tuple(_binaries(*system))
    return tuple(p for p in _ternaries(els) if set(map(str, p.structure.composition)) == els)


def library_phases(elements: Iterable[str]) -> list[LibraryPhase]:
    """Every library phase of the chemical system spanned by ``elements`` (all subsystems).

    Raises
    ------
    ValueError
        An element without a ground-state structure in the library (named in the message).
    """
    els = sorted(set(elements))
    missing = [e for e in els if element_structure(e) is None]
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
