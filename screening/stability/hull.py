"""E_form, E_hull and the electrochemical window from MLFF energies.

Window: the candidate (moved onto the hull if it is above it) is stable against exchange
of the mobile ion A between chemical potentials mu_min and mu_max, found by scanning the
intervals between the transition chemical potentials of A in the grand-potential phase
diagram (pymatgen ``GrandPotentialPhaseDiagram``). Voltages vs A/A+ are
V = -(mu - mu_A^0) / e, mu_A^0 being the energy per atom of the A element reference.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from pymatgen.analysis.phase_diagram import (
    GrandPotentialPhaseDiagram,
    PDEntry,
    PhaseDiagram,
)
from pymatgen.core import Composition, Element

from screening.schemas.errors import ScreeningInputError
from screening.schemas.results import StabilityResult

_TOL = 1e-6


def _stable_in_grand(entries, cand, mobile: Element, mu: float) -> tuple[bool, list[str]]:
    gpd = GrandPotentialPhaseDiagram([*entries, cand], {mobile: mu})
    grand = next(e for e in gpd.all_entries if e.original_entry is cand)
    decomp, e_above = gpd.get_decomp_and_e_above_hull(grand, allow_negative=True)
    names = sorted({e.original_entry.composition.reduced_formula for e in decomp})
    return e_above <= _TOL, names


def stability_analysis(
    composition: Composition,
    energy_ev: float,
    references: Sequence[PDEntry],
    *,
    mobile_ion: str,
    forcefield_name: str,
    correction: str = "none",
) -> StabilityResult:
    """Formation energy, E_hull, decomposition and electrochemical window.

    Parameters
    ----------
    composition : Composition
        The candidate's cell composition.
    energy_ev : float
        Its MLFF total energy (same model as the references), eV.
    references : sequence of PDEntry
        Elements and competing phases.
    mobile_ion : str
        Element whose chemical potential defines the window.
    forcefield_name : str
        Recorded with the result.
    correction : str
        Recorded with the result: how ``references`` were corrected (``none``/``fere``).

    Raises
    ------
    ScreeningInputError
        When an element of the candidate has no elemental reference.
    """
    comp = Composition(composition)
    have = {e.composition.elements[0] for e in references if e.composition.is_element}
    missing = sorted(str(el) for el in comp.elements if el not in have)
    if missing:
        raise ScreeningInputError(
            f"no elemental reference for {', '.join(missing)} in the {comp.chemical_system} "
            "hull; add the element's structure to the reference folder"
        )
    chemsys = set(comp.elements)
    refs = [e for e in references if set(e.composition.elements) <= chemsys]
    cand = PDEntry(comp, energy_ev, name="candidate")
    pd = PhaseDiagram([*refs, cand])
    decomp, e_hull = pd.get_decomp_and_e_above_hull(cand, allow_negative=True)
    form = pd.get_form_energy_per_atom(cand)
    decomposition = {
        e.composition.reduced_formula if e is not cand else comp.reduced_formula: round(float(x), 6)
        for e, x in decomp.items()
    }

    mobile = Element(mobile_ion)
    window, red, ox = None, [], []
    if mobile in chemsys and len(chemsys) > 1:
        # move a metastable candidate onto the hull: the window of the hull-projected phase
        on_hull = PDEntry(
            comp, energy_ev - max(e_hull, 0.0) * comp.num_atoms - 1e-4, name="candidate"
        )
        pd_h = PhaseDiagram([*refs, on_hull])
        mu0 = min(e.energy_per_atom for e in refs if e.composition.reduced_formula == mobile.symbol)
        mus = sorted(pd_h.get_transition_chempots(mobile))
        edges = [mus[0] - 10.0, *mus, mus[-1] + 0.5]
        stable = []
        for lo, hi in itertools.pairwise(edges):
            mid = 0.5 * (lo + hi)
            ok, _ = _stable_in_grand(refs, on_hull, mobile, mid)
            if ok:
                stable.append((lo, hi))
        if stable:
            mu_min, mu_max = stable[0][0], stable[-1][1]
            mu_max = min(mu_max, mu0)
            _, red = _stable_in_grand(refs, on_hull, mobile, mu_max + 1e-3)
            if mu_max >= mu0 - 1e-9:  # stable down to 0 V: the limit is metal plating
                red = sorted({*red, mobile.symbol})
            _, ox = _stable_in_grand(refs, on_hull, mobile, mu_min - 1e-3)
            window = (float(mu0 - mu_max) + 0.0, float(mu0 - mu_min) + 0.0)
    return StabilityResult(
        formation_energy_ev_per_atom=float(form),
        e_hull_ev_per_atom=float(e_hull),
        decomposition=decomposition,
        window_v=window,
        reduction_products=red,
        oxidation_products=ox,
        mobile_ion=mobile_ion,
        forcefield_name=forcefield_name,
        correction=correction,
    )


class HullEstimator:
    """Energy above the hull of reference entries for many compositions, one phase diagram
    per chemical system (built on first use).

    Parameters
    ----------
    references : sequence of PDEntry
        Reference phases (total energies from the same MLFF).
    """

    def __init__(self, references: Sequence[PDEntry]) -> None:
        self.references = list(references)
        self._diagrams: dict[tuple[str, ...], PhaseDiagram | None] = {}

    def extend(self, references: Sequence[PDEntry]) -> None:
        """Add reference entries (new chemical systems); only the diagrams whose system
        holds a new entry's elements are rebuilt on next use. Entries already held (same
        formula and energy per atom) are skipped."""

        def key(e: PDEntry) -> tuple[str, float]:
            return e.composition.reduced_formula, round(e.energy_per_atom, 9)

        held = {key(e) for e in self.references}
        for e in references:
            if key(e) in held:
                continue
            held.add(key(e))
            self.references.append(e)
            els = {str(x) for x in e.composition.elements}
            for system in [k for k in self._diagrams if els <= set(k)]:
                del self._diagrams[system]

    def _diagram(self, elements: frozenset) -> PhaseDiagram | None:
        key = tuple(sorted(str(e) for e in elements))
        if key not in self._diagrams:
            entries = [e for e in self.references if set(e.composition.elements) <= elements]
            try:
                self._diagrams[key] = PhaseDiagram(entries)
            except ValueError:  # the references miss an element of the system
                self._diagrams[key] = None
        return self._diagrams[key]

    def e_above_hull(self, composition: Composition, energy_ev: float) -> float | None:
        """eV/atom above the hull (negative: below it); None when the references do not
        cover every element of ``composition``."""
        pd = self._diagram(frozenset(composition.elements))
        if pd is None:
            return None
        entry = PDEntry(composition, energy_ev)
        return float(pd.get_decomp_and_e_above_hull(entry, allow_negative=True)[1])
