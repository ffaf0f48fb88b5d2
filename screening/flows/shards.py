"""Sharded generation: the funnel's first tier.

The enumerated space splits deterministically into shards: for each prototype, consecutive
ranges of ``funnel.shard_maps`` substitution maps (key ``<prototype>:<start>:<stop>``; a map
gives up to mixing x compensation orderings candidates). One shard is one job: enumerate ->
composition filters -> build -> [prescreen] -> store the survivors, and the shard's counts
(``shards`` collection). A rerun of a shard stores nothing new (same ids; existing
candidates are left as they are, whatever stage they reached) and replaces its counts.
Candidates the prescreen sets aside are never stored: they are counts on their shard.
"""

from __future__ import annotations

import logging

from screening.schemas.campaign import CampaignSpec
from screening.schemas.documents import CandidateStage, new_candidate
from screening.store.results import ResultStore

logger = logging.getLogger(__name__)

BATCH = 1024  # candidates per prescreen model call
GENERATED = CandidateStage.generated.value
PRESCREENED = CandidateStage.prescreened.value


def _enumerator(spec: CampaignSpec):
    from screening.generate.enumerate import Enumerator
    from screening.generate.parents import load_prototypes

    return Enumerator(spec, load_prototypes(spec))


def shard_keys(store: ResultStore, spec: CampaignSpec) -> list[str]:
    """Every shard of the campaign, in enumeration order; records how many there are."""
    enum = _enumerator(spec)
    size = spec.funnel.shard_maps
    keys = [
        f"{p}:{a}:{min(a + size, n)}"
        for p in range(len(enum.prototypes))
        for n in [enum.n_maps(p)]
        for a in range(0, n, size)
    ]
    store.save_campaign(spec.name, spec=spec.model_dump(mode="json"), shards_total=len(keys))
    return keys


def generate_shard(key: str, spec: CampaignSpec, store: ResultStore, model, enum=None) -> dict:
    """Generate one shard (see the module docstring); returns its counts and ``written``
    (documents new in this run: 0 for a rerun)."""
    from screening.generate.arrays import ArrayBuilder, to_structure
    from screening.generate.enumerate import candidate_id as structure_key

    p, start, stop = (int(x) for x in key.split(":"))
    enum = enum or _enumerator(spec)
    enum.reset_counts()
    refs = list(enum.iter_shard(p, start, stop))
    builder = ArrayBuilder(enum)  # arrays; a Structure only for what is stored
    counts = enum.summary()
    rejected = dict(counts["rejected_by_reason"])
    pre: list = [None] * len(refs)
    if spec.funnel.prescreen and refs:
        from screening.flows.prescreen import ShardPrescreen

        screen = ShardPrescreen(spec, model, store)
        for i in range(0, len(refs), BATCH):  # cells live one batch at a time
            screen.add([builder.build(r) for r in refs[i : i + BATCH]])
        pre, n_out = screen.decide()
        rejected["prescreen"] = n_out
    proto = enum.prototypes[p]

    def ops():
        for ref, ps in zip(refs, pre, strict=True):
            if spec.funnel.prescreen and ps is None:
                continue
            s = to_structure(builder.build(ref))  # rebuilt: survivors only
            doc = new_candidate(
                candidate_id=ref.candidate_id,
                structure_key=structure_key(proto.fingerprint, ref.substitution, ref.ordering),
                campaign=spec.name,
                formula=ref.formula,
                chemsys=s.composition.chemical_system,
                prototype=proto.name,
                substitution=ref.substitution,
                ordering=ref.ordering,
                ordering_ewald_ev=s.properties.get("ordering_ewald_ev"),
                mobile_ion=enum.mobile_species(ref),
                n_atoms=len(s),
                structure=s.as_dict(),
            )
            if ps is not None:
                doc.update(prescreen=ps, stage=PRESCREENED)
            yield ref.candidate_id, {}, doc

    written = store.candidates(spec.name).add(ops())
    kept = len(refs) - rejected.get("prescreen", 0)
    store.save_shard(
        spec.name,
        key,
        enumerated=counts["enumerated"],
        passed=counts["passed"],
        rejected_by_reason=rejected,
        prescreened=len(refs) if spec.funnel.prescreen else 0,
        stored=kept,
    )
    store.flush()
    return {"stored": kept, "written": written, **counts, "rejected_by_reason": rejected}


def generate_shards(keys: list[str], store: ResultStore, model, spec: CampaignSpec, **_) -> dict:
    """The funnel's generate tier over a chunk of shard keys (one enumerator, reused)."""
    enum = _enumerator(spec)
    out = {"shards": 0, "stored": 0, "written": 0}
    for key in keys:
        r = generate_shard(key, spec, store, model, enum)
        out["shards"] += 1
        out["stored"] += r["stored"]
        out["written"] += r["written"]
    return out


def dedup_select(store: ResultStore, spec: CampaignSpec) -> int:
    """Before relaxation: cross-prototype structural duplicates of the stored survivors
    (:func:`screening.flows.stages.dedup_stage`; idempotent)."""
    from screening.flows.stages import dedup_stage

    return dedup_stage(spec, store)
