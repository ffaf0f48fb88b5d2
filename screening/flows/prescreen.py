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
    from screening.stability import ReferenceSet, load_reference_structures
    from screening.stability.hull import HullEstimator

    structures = []
    if spec.references:
        structures += load_reference_structures(spec.base_dir / spec.references)
    if spec.references_mp:
        from screening.stability.online import mp_reference_structures, sub_chemsys

        systems = {c for cs in chemsys for c in sub_chemsys(cs.split("-"))}
        structures += mp_reference_structures(systems, spec.references_mp, store)
    return HullEstimator(ReferenceSet(model, store).entries(structures))


def single_points(structures: Sequence, model: LoadedModel) -> list[float | str]:
    """Total energies (eV) in batched energy-only calls; if the batch raises, one call per
    structure, and a structure that fails alone gets its reason (a str) instead."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.mlff.batch import evaluate_energies

    atoms = [AseAtomsAdaptor.get_atoms(s) for s in structures]
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


def prescreen(
    structures: Sequence, spec: CampaignSpec, model: LoadedModel, store: ResultStore | None
) -> tuple[list[dict | None], int]:
    """Single points of ``structures`` and the campaign's cut.

    Returns one ``prescreen`` document (dict of :class:`PrescreenDoc` fields) per structure,
    None for those set aside (above ``prescreen_e_hull_max_ev_per_atom``, beyond the best
    ``prescreen_keep_fraction``, or whose single point failed or is not finite), and how
    many were set aside.
    """
    from screening.schemas.documents import PrescreenDoc

    f = spec.funnel
    energies = single_points(structures, model)
    hull = reference_hull(spec, store, model, {s.composition.chemical_system for s in structures})
    lowest: dict[str, float] = {}
    for s, e in zip(structures, energies, strict=True):
        if isinstance(e, float) and math.isfinite(e):
            key = s.composition.reduced_formula
            lowest[key] = min(e / len(s), lowest.get(key, math.inf))
    docs: list[dict | None] = []
    for s, e in zip(structures, energies, strict=True):
        if not (isinstance(e, float) and math.isfinite(e)):
            docs.append(None)
            continue
        est = None if hull is None else hull.e_above_hull(s.composition, e)
        vs_refs = est is not None
        if est is None:
            est = e / len(s) - lowest[s.composition.reduced_formula]
        cut = f.prescreen_e_hull_max_ev_per_atom
        docs.append(
            None
            if cut is not None and est > cut
            else PrescreenDoc(
                energy_ev=e,
                energy_per_atom_ev=e / len(s),
                e_hull_est_ev_per_atom=est,
                e_hull_vs_references=vs_refs,
            ).model_dump()
        )
    if f.prescreen_keep_fraction is not None:
        kept = [i for i, d in enumerate(docs) if d is not None]
        k = math.ceil(f.prescreen_keep_fraction * len(structures))
        kept.sort(key=lambda i: (docs[i]["e_hull_est_ev_per_atom"], i))
        for i in kept[k:]:
            docs[i] = None
    return docs, sum(d is None for d in docs)
