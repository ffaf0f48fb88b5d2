"""Streamed enumeration of substituted candidates.

A candidate is (prototype, one option per prototype element, ordering index). Options are a
full replacement ``(A,)`` or, with mixing, ``(A, B, k)``: k of the element's n sites become B.
Composition-level filters run once per substitution map; structures are built only for
candidates that are asked for (:func:`build_structure`). Nothing is held in memory but the
per-composition caches.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Composition, Element, Species, Structure

from screening.filters.cache import BoundedCache
from screening.filters.chemistry import (
    ELECTRONEG,
    EXCLUDED,
    MAX_ATOMS,
    PROBABILITY,
    CompositionFilters,
)
from screening.generate.orderings import Group, Ordering, OrderingRanker, rank_orderings
from screening.generate.parents import Prototype
from screening.schemas.campaign import CampaignSpec


@dataclass(frozen=True)
class CandidateRef:
    """A candidate before its structure is built (a few hundred bytes).

    Attributes
    ----------
    candidate_id : str
        Hash of (campaign, prototype fingerprint, substitution, ordering index).
    prototype : int
        Index into the campaign's prototypes.
    substitution : str
        Canonical substitution text, e.g. ``Cl>Br;Y>Zr;-Li1``.
    options : tuple
        One option per prototype element (sorted by element).
    removed_mobile : int
        Mobile ions removed for charge compensation.
    ordering : int
        Ordering index (mixed sites and vacancy arrangements), 0-based.
    formula : str
        Reduced formula.
    """

    candidate_id: str
    prototype: int
    substitution: str
    options: tuple
    removed_mobile: int
    ordering: int
    formula: str


def candidate_id(fingerprint: str, substitution: str, ordering: int, campaign: str = "") -> str:
    """Deterministic id: identical on every machine, run and process.

    With ``campaign`` the id belongs to that campaign (the ``_id`` of its document), so two
    campaigns that enumerate the same structure each keep their own candidate; without it,
    the campaign-free structure key (stored as ``structure_key`` for reuse across campaigns).
    """
    text = f"{fingerprint}|{substitution}|{ordering}".encode()
    if campaign:
        text = campaign.encode() + b"|" + text
    return hashlib.blake2b(text, digest_size=12).hexdigest()


def _element_options(el: str, n: int, spec: CampaignSpec) -> list[tuple]:
    repl = spec.substitutions.get(el, [el])
    opts: list[tuple] = [(a,) for a in repl]
    if spec.mixing and spec.mixing.max_species_per_site == 2:
        for a, b in itertools.combinations(repl, 2):
            for f in spec.mixing.fractions:
                k = f * n
                if 0 < k < n and abs(k - round(k)) < 1e-6:
                    opts.append((a, b, round(k)))
    return opts


def _option_text(el: str, opt: tuple) -> str:
    if len(opt) == 1:
        return f"{el}>{opt[0]}"
    return f"{el}>{opt[0]}:{opt[1]}{opt[2]}"


class Enumerator:
    """Enumerate one campaign; counts rejections by reason.

    Parameters
    ----------
    spec : CampaignSpec
        The campaign.
    prototypes : list of Prototype
        From :func:`screening.generate.parents.load_prototypes`.
    """

    def __init__(self, spec: CampaignSpec, prototypes: list[Prototype]) -> None:
        self.spec = spec
        self.prototypes = prototypes
        self.filters = CompositionFilters(
            spec.filters, mobile_ion=spec.mobile_ion, compensation=spec.compensation.enabled
        )
        self.enumerated = 0
        self.passed = 0
        self.rejected: Counter = Counter()
        self.systems: set[str] = set()  # chemical systems of the candidates that passed
        self._formula_cache: BoundedCache[str] = BoundedCache()
        self._rankers = [OrderingRanker(p.structure) for p in prototypes]
        self._orderings: BoundedCache[list[Ordering]] = BoundedCache(1 << 12)

    def _charge(self, sp: str, el: str, q0: int) -> int:
        """Charge of species ``sp`` on a site of prototype element ``el`` (charge ``q0``)."""
        return q0 if sp == el else self.filters.best_oxidation(sp, 1 if q0 > 0 else -1, el, q0)

    def orderings(self, p: int, combo: tuple, removed: int) -> list[Ordering]:
        """Ranked symmetry-distinct arrangements of a substitution map's mixed sites and
        vacancies (:mod:`screening.generate.orderings`), lowest Ewald energy first; a single
        entry when nothing is mixed or removed. Cached per prototype and charge pattern."""
        proto = self.prototypes[p]
        elements = sorted(proto.sites)
        pattern = []
        for el, opt in zip(elements, combo, strict=True):
            q0 = proto.oxidation[el]
            charges = tuple(self._charge(sp, el, q0) for sp in opt[:2])
            mobile = len(opt) == 1 and opt[0] == self.spec.mobile_ion
            pattern.append((el, charges, opt[2] if len(opt) == 3 else 0, mobile))
        return self._orderings.get_or_compute(
            (p, tuple(pattern), removed), lambda: self._rank(p, pattern, removed)
        )

    def _rank(self, p: int, pattern: list, removed: int) -> list[Ordering]:
        proto = self.prototypes[p]
        base = [0.0] * len(proto.structure)
        groups, mobile_sites = [], ()
        for el, charges, k, mobile in pattern:
            for i in proto.sites[el]:
                base[i] = float(charges[0])
            if k:
                groups.append(
                    Group(proto.sites[el], k, float(charges[1]), self.spec.mixing.max_orderings)
                )
            elif mobile:
                mobile_sites = proto.sites[el]
        if removed:
            groups.append(Group(mobile_sites, removed, 0.0, self.spec.compensation.max_orderings))
        return rank_orderings(self._rankers[p], base, groups) if groups else [Ordering((), 0.0)]

    def _options(self, p: int) -> list[list[tuple]]:
        proto = self.prototypes[p]
        return [_element_options(el, len(proto.sites[el]), self.spec) for el in sorted(proto.sites)]

    def n_maps(self, p: int) -> int:
        """Substitution maps of prototype ``p`` (before any filter): the size of the index
        space that shards split."""
        return math.prod(len(o) for o in self._options(p))

    def _maps(
        self, p: int, exact: bool = True, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[str, tuple, int, int, str]]:
        """Yield (substitution, options, removed, n_orderings, formula) or count rejections,
        for the maps of index ``start`` to ``stop`` (all by default); ``exact=False``
        (sizing) counts orderings by their upper bound, with no Ewald work, and yields no
        text or formula."""
        proto = self.prototypes[p]
        elements = sorted(proto.sites)
        per_el = self._options(p)
        mobile = self.spec.mobile_ion
        n_sites = len(proto.structure)
        for combo in _product_range(per_el, start, self.n_maps(p) if stop is None else stop):
            key = []
            counts: Counter = Counter()
            cations, anions, pairs = set(), set(), []
            mobile_sites = 0
            for el, opt in zip(elements, combo, strict=True):
                n = len(proto.sites[el])
                q0 = proto.oxidation[el]
                sign = 1 if q0 > 0 else -1
                if len(opt) == 1:
                    parts = ((opt[0], n),)
                else:
                    parts = ((opt[0], n - opt[2]), (opt[1], opt[2]))
                for sp, c in parts:
                    key.append((sp, c, sign, el, q0))
                    counts[sp] += c
                    (cations if sign > 0 else anions).add(sp)
                    if sp != el:
                        pairs.append((sp, el, sign, q0))
                if len(opt) == 1 and opt[0] == mobile:
                    mobile_sites = n
            if not self.filters.elements_allowed(counts):
                n_orderings = self._n_orderings(p, elements, combo, 0, mobile_sites, EXCLUDED)
                self.rejected[EXCLUDED] += n_orderings
                self.enumerated += n_orderings
                continue
            verdict = self.filters.charge(tuple(sorted(key)), mobile_sites)
            removed = verdict.removed_mobile
            reason = verdict.reason
            if reason is None and not self.filters.electronegativity_ok(cations, anions):
                reason = ELECTRONEG
            if (
                reason is None
                and pairs
                and not self.filters.probability_ok(
                    (new, self.filters.best_oxidation(new, sign, old, q0), old, q0)
                    for new, old, sign, q0 in pairs
                )
            ):
                reason = PROBABILITY
            if reason is None and n_sites - removed > self.spec.filters.max_atoms:
                reason = MAX_ATOMS
            n_orderings = self._n_orderings(
                p, elements, combo, removed, mobile_sites, reason if exact else "sizing"
            )
            self.enumerated += n_orderings
            if reason is not None:
                self.rejected[reason] += n_orderings
                continue
            if removed:
                counts[mobile] -= removed
            ckey = tuple(sorted(counts.items()))
            self.systems.add("-".join(sorted(el for el, n in ckey if n > 0)))
            self.passed += n_orderings
            if not exact:  # sizing: the counts are all it needs (no formula, no text)
                yield "", combo, removed, n_orderings, ""
                continue
            formula = self._formula_cache.get_or_compute(
                ckey, lambda ckey=ckey: Composition(dict(ckey)).reduced_formula
            )
            text = ";".join(_option_text(el, o) for el, o in zip(elements, combo, strict=True))
            if removed:
                text += f";-{mobile}{removed}"
            yield text, combo, removed, n_orderings, formula

    def count(self) -> dict:
        """Size of the space and per-filter counts, without building candidates.

        Orderings are counted by their upper bound, min(max_orderings, C(n, k)) per mixed
        element and for the vacancies: the number of symmetry-distinct arrangements is
        known only once they are ranked, which happens when candidates are streamed.
        """
        for p in range(len(self.prototypes)):
            for _ in self._maps(p, exact=False):
                pass
        return self.summary()

    def __iter__(self) -> Iterator[CandidateRef]:
        """Stream surviving candidates in a deterministic order."""
        for p, proto in enumerate(self.prototypes):
            fp = proto.fingerprint
            for text, combo, removed, n_ord, formula in self._maps(p):
                for k in range(n_ord):
                    yield CandidateRef(
                        candidate_id(fp, text, k, self.spec.name),
                        p,
                        text,
                        combo,
                        removed,
                        k,
                        formula,
                    )

    def iter_shard(self, p: int, start: int, stop: int) -> Iterator[CandidateRef]:
        """Surviving candidates of prototype ``p``'s maps ``start`` to ``stop`` (a shard),
        in the order :meth:`__iter__` gives them; counts accumulate as for a full pass."""
        fp = self.prototypes[p].fingerprint
        for text, combo, removed, n_ord, formula in self._maps(p, start=start, stop=stop):
            for k in range(n_ord):
                yield CandidateRef(
                    candidate_id(fp, text, k, self.spec.name), p, text, combo, removed, k, formula
                )

    def _n_orderings(self, p: int, elements, combo, removed: int, n_mobile: int, reason) -> int:
        """Orderings of one substitution map: the ranked, symmetry-distinct arrangements
        for a candidate that passes the composition filters (``reason`` None); the cheap
        upper bound min(max_orderings, C(n, k)) per group otherwise (rejected, or sizing)."""
        if reason is None:
            return len(self.orderings(p, combo, removed))
        n = 1
        for el, opt in zip(elements, combo, strict=True):
            if len(opt) == 3:
                n_el = len(self.prototypes[p].sites[el])
                n *= min(self.spec.mixing.max_orderings, math.comb(n_el, opt[2]))
        if removed:
            n *= min(self.spec.compensation.max_orderings, math.comb(n_mobile, removed))
        return n

    def mobile_species(self, ref: CandidateRef) -> str:
        """The candidate's mobile ion: what its campaign's mobile-ion sites hold after
        substitution (``Li: [Li, Na]`` gives Na candidates; a mixed site gives the majority
        species, the first on a tie)."""
        proto = self.prototypes[ref.prototype]
        for el, opt in zip(sorted(proto.sites), ref.options, strict=True):
            if el == self.spec.mobile_ion:
                if len(opt) == 1:
                    return opt[0]
                return opt[1] if 2 * opt[2] > len(proto.sites[el]) else opt[0]
        return self.spec.mobile_ion

    def excluded_present(self) -> list[str]:
        """Elements of this campaign (prototypes or substitutions) that
        ``filters.exclude_elements`` removes: every candidate containing one is rejected."""
        present = {el.symbol for p in self.prototypes for el in p.structure.composition}
        present |= {el for values in self.spec.substitutions.values() for el in values}
        return sorted(present & set(self.spec.filters.exclude_elements))

    def reset_counts(self) -> None:
        """Start counting afresh (one shard's counts; caches are kept)."""
        self.enumerated = self.passed = 0
        self.rejected.clear()

    def summary(self) -> dict:
        """Counts so far: enumerated, passed, rejected_by_reason, and the campaign elements
        that filters.exclude_elements removes (``excluded_elements``)."""
        return {
            "enumerated": self.enumerated,
            "passed": self.passed,
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "excluded_elements": self.excluded_present(),
        }


def _product_range(per_el: list[list], start: int, stop: int) -> Iterator[tuple]:
    """``itertools.product(*per_el)`` from index ``start`` to ``stop`` without walking the
    indices before ``start`` (mixed-radix odometer; the last factor varies fastest)."""
    sizes = [len(x) for x in per_el]
    if stop <= start or 0 in sizes:
        return
    digits, rest = [], start
    for size in reversed(sizes):
        rest, d = divmod(rest, size)
        digits.append(d)
    digits.reverse()
    for _ in range(stop - start):
        yield tuple(opts[d] for opts, d in zip(per_el, digits, strict=True))
        for i in reversed(range(len(digits))):
            digits[i] += 1
            if digits[i] < sizes[i]:
                break
            digits[i] = 0


def _radius(symbol: str, q: int) -> float:
    try:
        r = Species(symbol, q).ionic_radius
    except Exception:
        r = None
    return float(r) if r else float(Element(symbol).atomic_radius or 1.5)


def build_structure(ref: CandidateRef, enumerator: Enumerator) -> Structure:
    """Materialise one candidate: substitute, arrange mixed sites and vacancies, scale volume.

    The ordering index is the rank of the arrangement (mixed sites and vacancies jointly)
    among symmetry-distinct arrangements ordered by Ewald energy
    (:meth:`Enumerator.orderings`; 0 = lowest); its energy above the lowest is
    ``structure.properties["ordering_ewald_ev"]`` (eV per cell). The volume is scaled by
    sum(r_new^3) / sum(r_old^3) over ionic radii so relaxations start near equilibrium.
    """
    proto = enumerator.prototypes[ref.prototype]
    s = proto.structure.copy()
    elements = sorted(proto.sites)
    ordering = enumerator.orderings(ref.prototype, ref.options, ref.removed_mobile)[ref.ordering]
    chosen = list(ordering.chosen)
    old_vol = new_vol = 0.0
    for el, opt in zip(elements, ref.options, strict=True):
        q0 = proto.oxidation[el]
        r_old = _radius(el, q0)
        assign = dict.fromkeys(proto.sites[el], opt[0])
        if len(opt) == 3:
            assign.update(dict.fromkeys(chosen.pop(0), opt[1]))
        for i, sp in assign.items():
            s.replace(i, sp)
            old_vol += r_old**3
            new_vol += _radius(sp, enumerator._charge(sp, el, q0)) ** 3
    if ref.removed_mobile:
        s.remove_sites(list(chosen.pop(0)))
    s.properties["ordering_ewald_ev"] = ordering.energy_rel_ev
    if old_vol > 0:
        s.scale_lattice(s.volume * float(np.clip(new_vol / old_vol, 0.5, 2.0)))
    return s
