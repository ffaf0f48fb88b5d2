"""Prescreen: one batched, energy-only model call on *unrelaxed* candidates and the cut that
decides which of them are stored for relaxation (run inside each generation shard, so the
candidates it sets aside never become documents).

The single point is taken at the generated structure (volume already scaled by ionic radii,
:func:`screening.generate.enumerate.build_structure`). With reference phases the estimate is
the energy above their hull; without, the energy above the lowest candidate of the same
formula in the shard (ordering/polymorph ranking only). Unrelaxed energies lie above relaxed
ones by a candidate-dependent amount, so the cut is a coarse one: ``bench/prescreen.py``
measures its recall against relaxation + hull on the same candidates.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from screening.mlff.registry import LoadedModel
from screening.schemas.campaign import CampaignSpec
from screening.store.results import ResultStore

logger = logging.getLogger(__name__)


def reference_hull(spec: CampaignSpec, store: ResultStore | None, model: LoadedModel, chemsys):
    """A HullEstimator over the campaign's reference phases (None without references)."""
    if not spec.has_references:
        return None
    from screening.stability.auto import campaign_reference_entries
    from screening.stability.hull import HullEstimator

    return HullEstimator(campaign_reference_entries(spec, store, model, chemsys))


def single_points(cells: Sequence, model: LoadedModel) -> list[float | str]:
    """Total energies (eV) of :class:`~screening.generate.arrays.CandidateArrays` in
    batched energy-only calls; if the batch raises, one call per cell, and a cell that fails
    alone gets its reason (a str) instead."""
    from screening.generate.arrays import to_atoms
    from screening.mlff.batch import evaluate_energies

    atoms = [to_atoms(c) for c in cells]
    try:
        return [float(e) for e in evaluate_energies(atoms, model)]
    except Exception:
        logger.exception("prescreen batch failed; retrying one candidate at a time")
    out: list[float | str] = []
    for a in atoms:
        try:
            out.append(float(evaluate_energies([a], model)[0]))
        except Exception as exc:  # recorded per candidate, the shard goes on
            out.append(f"prescreen: {type(exc).__name__}: {exc}")
    return out


def _composition(species: tuple[str, ...], cache: dict):
    from collections import Counter

    from pymatgen.core import Composition

    key = tuple(sorted(Counter(species).items()))
    if key not in cache:
        cache[key] = Composition(dict(key))
    return cache[key]


class ShardPrescreen:
    """The prescreen of one shard, fed batch by batch (memory: a few numbers per candidate,
    not its cell), then decided for the whole shard.

    Parameters
    ----------
    spec : CampaignSpec
        Cut (``prescreen_e_hull_max_ev_per_atom``) and fraction (``prescreen_keep_fraction``).
    model : LoadedModel
        The campaign's MLFF.
    store : ResultStore or None
        Reference-phase cache.
    """

    def __init__(self, spec: CampaignSpec, model: LoadedModel, store: ResultStore | None):
        self.spec, self.model, self.store = spec, model, store
        self._hull = None
        self._systems: set[str] = set()
        self._comps: dict = {}
        self.records: list[tuple] = []  # (energy or None, atoms, formula, E_hull vs refs)

    def _hull_for(self, systems: set[str]):
        """The reference hull, built for the first systems met and extended (not rebuilt)
        with the phases of each new system the shard meets (per-system references)."""
        if not self.spec.has_references:
            return None
        if self._hull is None:
            self._systems |= systems
            self._hull = reference_hull(self.spec, self.store, self.model, self._systems)
        elif (self.spec.references_mp or self.spec.references == "auto") and not (
            systems <= self._systems
        ):
            from screening.stability.auto import campaign_reference_entries

            new = systems - self._systems
            self._systems |= new
            self._hull.extend(campaign_reference_entries(self.spec, self.store, self.model, new))
        return self._hull

    def add(self, cells: Sequence) -> None:
        """Single points of a batch of :class:`~screening.generate.arrays.CandidateArrays`."""
        energies = single_points(cells, self.model)
        comps = [_composition(c.species, self._comps) for c in cells]
        hull = self._hull_for({c.chemical_system for c in comps})
        for c, comp, e in zip(cells, comps, energies, strict=True):
            ok = isinstance(e, float) and math.isfinite(e)
            est = hull.e_above_hull(comp, e) if ok and hull is not None else None
            self.records.append((e if ok else None, len(c.species), comp.reduced_formula, est))

    def decide(self) -> tuple[list[dict | None], int]:
        """One ``prescreen`` document (dict of :class:`PrescreenDoc` fields) per candidate
        added, None for those set aside (above ``prescreen_e_hull_max_ev_per_atom``, beyond
        the best ``prescreen_keep_fraction``, or whose single point failed or is not
        finite), and how many were set aside. Without references the estimate is the
        energy above the lowest candidate of the same formula in the shard."""
        from screening.schemas.documents import PrescreenDoc

        f = self.spec.funnel
        lowest: dict[str, float] = {}
        for e, n, formula, _ in self.records:
            if e is not None:
                lowest[formula] = min(e / n, lowest.get(formula, math.inf))
        docs: list[dict | None] = []
        cut = f.prescreen_e_hull_max_ev_per_atom
        for e, n, formula, est in self.records:
            if e is None:
                docs.append(None)
                continue
            vs_refs = est is not None
            if est is None:
                est = e / n - lowest[formula]
            keep = cut is None or est <= cut
            docs.append(
                PrescreenDoc(
                    energy_ev=e,
                    energy_per_atom_ev=e / n,
                    e_hull_est_ev_per_atom=est,
                    e_hull_vs_references=vs_refs,
                ).model_dump()
                if keep
                else None
            )
        if f.prescreen_keep_fraction is not None:
            kept = [i for i, d in enumerate(docs) if d is not None]
            k = math.ceil(f.prescreen_keep_fraction * len(docs))
            kept.sort(key=lambda i: (docs[i]["e_hull_est_ev_per_atom"], i))
            for i in kept[k:]:
                docs[i] = None
        return docs, sum(d is None for d in docs)


def prescreen(
    cells: Sequence, spec: CampaignSpec, model: LoadedModel, store: ResultStore | None
) -> tuple[list[dict | None], int]:
    """:class:`ShardPrescreen` of ``cells`` in one batch: (documents or None, set aside)."""
    ps = ShardPrescreen(spec, model, store)
    ps.add(cells)
    return ps.decide()
