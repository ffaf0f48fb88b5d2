"""Element allow-list, charge neutrality (with mobile-ion compensation), Pauling
electronegativity ordering and ionic substitution probability.

Every check is keyed by composition (or by replaced/replacing species pair) and cached, so a
space of 10^7 candidates built from ~10^4 compositions costs ~10^4 evaluations.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from pymatgen.core import Element, Species

from screening.filters.cache import BoundedCache
from screening.schemas.campaign import FilterSpec

# Verdict reasons (the keys of rejected_by_reason)
EXCLUDED = "excluded_element"
CHARGE = "not_charge_neutral"
INTERSTITIAL = "needs_interstitial_mobile_ions"
ELECTRONEG = "electronegativity_order"
PROBABILITY = "low_substitution_probability"
MAX_ATOMS = "too_many_atoms"


@dataclass(frozen=True)
class Verdict:
    """Outcome of the composition-level filters.

    Attributes
    ----------
    reason : str or None
        None when the composition passes; otherwise the first failing filter.
    removed_mobile : int
        Mobile ions to remove for neutrality (0 when neutral as is).
    """

    reason: str | None
    removed_mobile: int = 0


@functools.cache
def _oxidation_options(element: str, sign: int, original: str, q_original: int) -> tuple[int, ...]:
    if element == original:
        return (q_original,)
    el = Element(element)
    states = [q for q in (el.common_oxidation_states or el.oxidation_states) if q * sign > 0]
    return tuple(sorted(set(states)))


@functools.cache
def _electronegativity(element: str) -> float:
    x = Element(element).X
    return float(x) if x == x else 0.0  # NaN for noble gases


class CompositionFilters:
    """All cheap filters of a campaign, with caches.

    Parameters
    ----------
    spec : FilterSpec
        Thresholds and switches.
    mobile_ion : str
        The mobile element (its removal compensates excess positive charge).
    compensation : bool
        Allow removing mobile ions to restore neutrality.
    """

    def __init__(self, spec: FilterSpec, *, mobile_ion: str, compensation: bool) -> None:
        self.spec = spec
        self.mobile_ion = mobile_ion
        self.compensation = compensation
        self.excluded = frozenset(spec.exclude_elements)
        self._charge_cache: BoundedCache[Verdict] = BoundedCache()
        self._prob_cache: dict[tuple, float] = {}  # species pairs: bounded by the table
        self._sp = None

    def charge(self, key: tuple, n_mobile: int) -> Verdict:
        """Neutrality of a composition.

        ``key`` is a tuple of (element, count, sign, original element, original oxidation)
        per site group; ``n_mobile`` the mobile-ion count available for removal. The cache
        key keeps only what the answer depends on: the original element matters only for an
        unreplaced site (it fixes the oxidation state).
        """
        canonical = tuple(
            sorted((el, count, sign, q0 if el == orig else 0) for el, count, sign, orig, q0 in key)
        )
        return self._charge_cache.get_or_compute(
            (canonical, n_mobile), lambda: self._charge(key, n_mobile)
        )

    def _charge(self, key: tuple, n_mobile: int) -> Verdict:
        options = [
            [(q * count) for q in _oxidation_options(el, sign, orig, q0)]
            for el, count, sign, orig, q0 in key
        ]
        totals = {sum(c) for c in itertools.product(*options)} if all(options) else set()
        if 0 in totals or not self.spec.charge_neutral:
            verdict = Verdict(None)
        elif not totals:
            verdict = Verdict(CHARGE)
        else:
            positive = sorted(t for t in totals if t > 0)
            if self.compensation and positive and positive[0] < n_mobile:
                verdict = Verdict(None, removed_mobile=positive[0])
            elif self.compensation and not positive:
                verdict = Verdict(INTERSTITIAL)
            else:
                verdict = Verdict(CHARGE)
        return verdict

    def elements_allowed(self, elements) -> bool:
        """False when any element is on the exclusion list."""
        return not (self.excluded & set(elements))

    def electronegativity_ok(self, cations, anions) -> bool:
        """Pauling test: every cation less electronegative than every anion."""
        if not self.spec.electronegativity or not cations or not anions:
            return True
        return max(map(_electronegativity, cations)) < min(map(_electronegativity, anions))

    def probability_ok(self, pairs) -> bool:
        """Ionic substitution probability (pymatgen lambda table) of every replacement."""
        threshold = self.spec.min_substitution_probability
        if threshold <= 0:
            return True
        return all(self.substitution_probability(*p) >= threshold for p in pairs)

    def substitution_probability(self, new: str, q_new: int, old: str, q_old: int) -> float:
        """P(new^q_new replaces old^q_old) from pymatgen's SubstitutionProbability."""
        key = (new, q_new, old, q_old)
        if key not in self._prob_cache:
            if new == old:
                self._prob_cache[key] = 1.0
            else:
                if self._sp is None:
                    from pymatgen.analysis.structure_prediction.substitution_probability import (
                        SubstitutionProbability,
                    )

                    self._sp = SubstitutionProbability()
                try:
                    p = self._sp.cond_prob(Species(new, q_new), Species(old, q_old))
                except Exception:
                    p = 0.0
                self._prob_cache[key] = float(p)
        return self._prob_cache[key]

    def best_oxidation(self, new: str, sign: int, old: str, q_old: int) -> int:
        """Oxidation state used for the probability check (closest to the original)."""
        opts = _oxidation_options(new, sign, old, q_old)
        return min(opts, key=lambda q: abs(q - q_old)) if opts else q_old
