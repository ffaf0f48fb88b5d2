"""Funnel stages as pure functions over chunks of candidate ids; results go to the store.

Each stage selects its input by the ``stage`` field, so rerunning a campaign skips finished
work, and writes only its own fields (``relax.*``, ``md.*``, ``diffusion.*``...).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from pymatgen.core import Structure

from screening.analysis.score import candidate_score
from screening.generate.enumerate import Enumerator, build_structure
from screening.generate.parents import load_prototypes
from screening.md.series import diffusion_series, n_mobile_per_cm3
from screening.mlff.registry import LoadedModel
from screening.mlff.relax import relax_batch
from screening.schemas.campaign import CampaignSpec
from screening.schemas.provenance import Provenance
from screening.store.results import ResultStore

logger = logging.getLogger(__name__)

GENERATED, RELAXED, SELECTED, DONE = "generated", "relaxed", "selected_for_md", "done"


def generate_stage(spec: CampaignSpec, store: ResultStore) -> dict:
    """Enumerate survivors and upsert one document each (insert-only fields)."""
    enum = Enumerator(spec, load_prototypes(spec))

    def ops() -> Iterator:
        for ref in enum:
            s = build_structure(ref, enum)
            yield (
                ref.candidate_id,
                {},
                {
                    "candidate_id": ref.candidate_id,
                    "campaign": spec.name,
                    "formula": ref.formula,
                    "chemsys": s.composition.chemical_system,
                    "prototype": enum.prototypes[ref.prototype].name,
                    "substitution": ref.substitution,
                    "ordering": ref.ordering,
                    "mobile_ion": spec.mobile_ion,
                    "n_atoms": len(s),
                    "structure": s.as_dict(),
                    "stage": GENERATED,
                    "status": "pending",
                    "errors": [],
                },
            )

    n = store.upsert("candidates", ops())
    counts = enum.summary()
    dedup_stage(spec, store)
    dups = store.db["candidates"].count_documents({"campaign": spec.name, "status": "duplicate"})
    counts["rejected_by_reason"] = {
        **counts["rejected_by_reason"],
        **({"structural_duplicate": dups} if dups else {}),
    }
    store.upsert(
        "campaigns",
        [
            (
                spec.name,
                {"counts.generate": counts},
                {"name": spec.name, "spec": spec.model_dump(mode="json")},
            )
        ],
    )
    store.flush()
    return {**counts, "written": n}


def dedup_stage(spec: CampaignSpec, store: ResultStore) -> int:
    """Mark cross-prototype structural duplicates; returns how many are marked.

    The database groups the campaign by reduced formula and returns only the formulas that
    come from more than one prototype; those buckets are compared one at a time with
    ``StructureMatcher``. The lowest id of a group is kept; the others finish at once with
    status ``duplicate`` and ``duplicate_of``. Idempotent: a rerun marks nothing new.
    """
    from screening.filters.structural import BucketMember, cross_prototype_duplicates

    col = store.db["candidates"]
    buckets = col.aggregate(
        [
            {"$match": {"campaign": spec.name}},
            {"$group": {"_id": "$formula", "prototypes": {"$addToSet": "$prototype"}}},
        ]
    )
    marked = 0
    for b in buckets:
        if len(b["prototypes"]) < 2:
            continue
        members = [
            BucketMember(d["_id"], d["prototype"], Structure.from_dict(d["structure"]))
            for d in col.find(
                {"campaign": spec.name, "formula": b["_id"]}, {"prototype": 1, "structure": 1}
            )
        ]
        dup = cross_prototype_duplicates(members)
        pending = {
            d["_id"] for d in col.find({"_id": {"$in": list(dup)}, "stage": GENERATED}, {"_id": 1})
        }
        store.set_fields(
            "candidates",
            {
                i: {"stage": DONE, "status": "duplicate", "duplicate_of": dup[i]}
                for i in sorted(pending)
            },
        )
        marked += len(pending)
    logger.info("%d cross-prototype duplicates marked", marked)
    return marked


def ids_at(store: ResultStore, campaign: str, stage: str) -> list[str]:
    """Candidate ids of a campaign currently at ``stage``, in id order."""
    cur = store.db["candidates"].find({"campaign": campaign, "stage": stage}, {"_id": 1})
    return sorted(d["_id"] for d in cur)


def relax_chunk(ids: list[str], store: ResultStore, model: LoadedModel, spec: CampaignSpec) -> dict:
    """Relax one chunk (batched model calls); unconverged is recorded, not fatal."""
    docs = {d["_id"]: d for d in store.db["candidates"].find({"_id": {"$in": ids}})}
    structs = [Structure.from_dict(docs[i]["structure"]) for i in ids]
    f = spec.funnel
    updates = {}
    try:
        results = relax_batch(structs, model, fmax=f.relax_fmax_ev_a, max_steps=f.relax_max_steps)
    except Exception as exc:  # a broken chunk is recorded per candidate, the funnel goes on
        logger.exception("relaxation chunk failed")
        for i in ids:
            updates[i] = {
                "stage": RELAXED,
                "status": "failed",
                "errors": [f"relax: {type(exc).__name__}: {exc}"],
            }
        store.set_fields("candidates", updates)
        return {"failed": len(ids)}
    for i, r in zip(ids, results, strict=True):
        updates[i] = {
            "relax": r.model_dump(mode="json"),
            "stage": RELAXED,
            "status": "running",
            "provenance": r.provenance.model_dump(mode="json"),
        }
    store.set_fields("candidates", updates)
    return {"relaxed": len(ids), "converged": sum(r.converged for r in results)}


def stability_chunk(
    ids: list[str], store: ResultStore, model: LoadedModel, spec: CampaignSpec
) -> dict:
    """E_hull and window for relaxed candidates vs the campaign's reference phases."""
    from screening.schemas.errors import ScreeningInputError
    from screening.stability import ReferenceSet, load_reference_structures, stability_analysis

    refs = ReferenceSet(model, store).entries(
        load_reference_structures(spec.base_dir / spec.references)
    )
    updates = {}
    for d in store.db["candidates"].find({"_id": {"$in": ids}}):
        if d.get("status") == "failed":
            continue
        s = Structure.from_dict(d["relax"]["structure"])
        try:
            res = stability_analysis(
                s.composition,
                d["relax"]["energy_ev"],
                refs,
                mobile_ion=spec.mobile_ion,
                forcefield_name=model.name,
            )
        except ScreeningInputError as exc:
            updates[d["_id"]] = {"status": "failed", "errors": [f"stability: {exc}"]}
            continue
        updates[d["_id"]] = {"stability": res.model_dump(mode="json")}
    store.set_fields("candidates", updates)
    return {"analysed": len(updates)}


def select_for_md(store: ResultStore, spec: CampaignSpec) -> list[str]:
    """Top-K relaxed candidates (lowest E_hull when known, else lowest energy above the
    prototype-family minimum) go to MD; the rest are finished with their current score."""
    docs = list(store.db["candidates"].find({"campaign": spec.name, "stage": RELAXED}))
    cut = spec.funnel.e_hull_max_ev_per_atom
    ok = [
        d
        for d in docs
        if d.get("status") != "failed"
        and d.get("stability", {}).get("e_hull_ev_per_atom", 0.0) <= cut
    ]
    ok.sort(key=lambda d: (d.get("stability", {}).get("e_hull_ev_per_atom", 0.0), d["_id"]))
    chosen = [d["_id"] for d in ok[: spec.funnel.top_k_md]]
    rest = {
        d["_id"]: {
            "stage": DONE,
            "status": d.get("status") if d.get("status") == "failed" else "completed",
            "score": candidate_score(
                None,
                None,
                n_mobile_per_cm3=1.0,
                e_hull_ev_per_atom=d.get("stability", {}).get("e_hull_ev_per_atom"),
            ),
        }
        for d in docs
        if d["_id"] not in chosen
    }
    store.set_fields("candidates", {**{i: {"stage": SELECTED} for i in chosen}, **rest})
    return chosen


def _md_cell(structure: Structure, max_atoms: int) -> Structure:
    """Smallest-effort supercell: double the shortest axis while under ``max_atoms``."""
    s = structure.copy()
    while True:
        k = min(range(3), key=lambda i: s.lattice.abc[i])
        if len(s) * 2 > max_atoms or s.lattice.abc[k] >= 8.0:
            return s
        scale = [1, 1, 1]
        scale[k] = 2
        s.make_supercell(scale)


def md_candidate(cid: str, store: ResultStore, model: LoadedModel, spec: CampaignSpec) -> dict:
    """MD at every temperature, diffusion analysis, Arrhenius, score; one candidate."""
    doc = store.db["candidates"].find_one({"_id": cid})
    s = _md_cell(Structure.from_dict(doc["relax"]["structure"]), spec.funnel.md_max_atoms)
    mobile = next((el.symbol for el in s.composition if el.symbol in ("Li", "Na")), None)
    f = spec.funnel
    runs, arr = diffusion_series(
        s,
        model,
        temperatures_k=f.md_temperatures_k,
        steps=f.md_steps,
        mobile_ion=mobile,
        timestep_fs=f.md_timestep_fs,
        equilibration_steps=min(200, f.md_steps),
    )
    md_docs = {}
    for r in runs:
        t = int(r.md.temperature_target_k)
        md_docs[str(t)] = r.md.model_dump(mode="json")
        store.put_artifact(f"{cid}/md_{t}K.npz", r.trajectory.to_bytes(), candidate_id=cid)
    per_t = [r.diffusion for r in runs]
    n_per_cm3 = n_mobile_per_cm3(s, mobile)
    e_hull = doc.get("stability", {}).get("e_hull_ev_per_atom")
    score = candidate_score(per_t, arr, n_mobile_per_cm3=n_per_cm3, e_hull_ev_per_atom=e_hull)
    store.set_fields(
        "candidates",
        {
            cid: {
                "md": md_docs,
                "diffusion": {
                    "per_temperature": [d.model_dump(mode="json") for d in per_t],
                    "arrhenius": arr.model_dump(mode="json"),
                    "haven_ratio": 1.0,
                    "n_mobile_per_cm3": n_per_cm3,
                },
                "score": score,
                "stage": DONE,
                "status": "completed",
                "provenance": Provenance(model=model.info()).model_dump(mode="json"),
            }
        },
    )
    return {"score": score}
