"""Funnel stages as pure functions over chunks of candidate ids; results go to the store.

Each stage selects its input by the ``stage`` field, so rerunning a campaign skips finished
work, and writes only its own fields (``relax.*``, ``md.*``, ``diffusion.*``...).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from pymatgen.core import Structure

from screening.analysis.collective import per_cm3
from screening.analysis.score import NO_MD_SCORE, candidate_score, pre_md_score
from screening.generate.enumerate import Enumerator, build_structure, candidate_id
from screening.generate.parents import load_prototypes
from screening.md.series import (
    diffusion_doc,
    diffusion_series,
    msd_curves,
    n_mobile_per_cm3,
    plot_title,
)
from screening.mlff.registry import LoadedModel
from screening.mlff.relax import relax_batch
from screening.schemas.campaign import CampaignSpec
from screening.schemas.documents import CandidateStage, new_candidate
from screening.schemas.provenance import Provenance
from screening.store.results import ResultStore

logger = logging.getLogger(__name__)

GENERATED = CandidateStage.generated.value
RELAXED = CandidateStage.relaxed.value
SELECTED = CandidateStage.selected_for_md.value
DONE = CandidateStage.done.value


def generate_stage(spec: CampaignSpec, store: ResultStore) -> dict:
    """Enumerate survivors and upsert one document each (insert-only fields)."""
    enum = Enumerator(spec, load_prototypes(spec))

    def ops() -> Iterator:
        for ref in enum:
            s = build_structure(ref, enum)
            yield (
                ref.candidate_id,
                {},
                new_candidate(
                    candidate_id=ref.candidate_id,
                    structure_key=candidate_id(
                        enum.prototypes[ref.prototype].fingerprint, ref.substitution, ref.ordering
                    ),
                    campaign=spec.name,
                    formula=ref.formula,
                    chemsys=s.composition.chemical_system,
                    prototype=enum.prototypes[ref.prototype].name,
                    substitution=ref.substitution,
                    ordering=ref.ordering,
                    ordering_ewald_ev=s.properties.get("ordering_ewald_ev"),
                    mobile_ion=enum.mobile_species(ref),
                    n_atoms=len(s),
                    structure=s.as_dict(),
                ),
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
    """Relax one chunk (batched model calls); unconverged is recorded, not fatal.

    If the batch raises, the chunk is retried one candidate at a time, so only the
    candidates that fail on their own are recorded as failed (with the reason) and the rest
    of the chunk is relaxed.
    """
    docs = {d["_id"]: d for d in store.db["candidates"].find({"_id": {"$in": ids}})}
    # a rerun chunk (FireWorks lost-run recovery, resumed campaign) skips recorded work
    todo = [i for i in ids if docs.get(i, {}).get("stage") == GENERATED]
    done, ids = len(ids) - len(todo), todo
    if not ids:
        return {"relaxed": 0, "converged": 0, "failed": 0, "already_done": done}
    structs = [Structure.from_dict(docs[i]["structure"]) for i in ids]
    f = spec.funnel
    opts = {"fmax": f.relax_fmax_ev_a, "max_steps": f.relax_max_steps}
    try:
        results: list = relax_batch(structs, model, **opts)
    except Exception:
        logger.exception("relaxation batch failed; retrying one candidate at a time")
        results = []
        for s in structs:
            try:
                results.append(relax_batch([s], model, **opts)[0])
            except Exception as exc:  # recorded per candidate, the chunk goes on
                results.append(f"relax: {type(exc).__name__}: {exc}")
    updates = {}
    for i, r in zip(ids, results, strict=True):
        if not isinstance(r, str) and r.status == "failed":
            r = f"relax: {r.failure_reason}"
        if isinstance(r, str):
            updates[i] = {"stage": RELAXED, "status": "failed", "errors": [r]}
            continue
        updates[i] = {
            "relax": r.model_dump(mode="json"),
            "stage": RELAXED,
            "status": "running",
            "provenance": r.provenance.model_dump(mode="json"),
        }
    store.set_fields("candidates", updates)
    ok = [r for r in results if not isinstance(r, str) and r.status != "failed"]
    return {
        "relaxed": len(ok),
        "converged": sum(r.converged for r in ok),
        "failed": len(results) - len(ok),
        "already_done": done,
    }


def stability_chunk(
    ids: list[str], store: ResultStore, model: LoadedModel, spec: CampaignSpec
) -> dict:
    """E_hull and window for relaxed candidates vs the campaign's reference phases."""
    from screening.schemas.errors import ScreeningInputError
    from screening.stability import ReferenceSet, load_reference_structures, stability_analysis

    docs = list(store.db["candidates"].find({"_id": {"$in": ids}}))
    structures = []
    if spec.references:
        structures += load_reference_structures(spec.base_dir / spec.references)
    if spec.references_mp:
        from screening.stability.online import mp_reference_structures, sub_chemsys

        systems = {c for d in docs for c in sub_chemsys(d["chemsys"].split("-"))}
        structures += mp_reference_structures(systems, spec.references_mp, store)
    refs = ReferenceSet(model, store).entries(structures)
    updates = {}
    for d in docs:
        if d.get("status") == "failed" or d.get("stability") or not d.get("relax"):
            continue  # failed, already analysed (a rerun chunk), or not relaxed
        s = Structure.from_dict(d["relax"]["structure"])
        try:
            res = stability_analysis(
                s.composition,
                d["relax"]["energy_ev"],
                refs,
                mobile_ion=d.get("mobile_ion", spec.mobile_ion),
                forcefield_name=model.name,
            )
        except ScreeningInputError as exc:
            updates[d["_id"]] = {"status": "failed", "errors": [f"stability: {exc}"]}
            continue
        updates[d["_id"]] = {"stability": res.model_dump(mode="json")}
    store.set_fields("candidates", updates)
    return {"analysed": len(updates)}


def select_for_md(
    store: ResultStore, spec: CampaignSpec, *, limit: int | None = None, stage: str = SELECTED
) -> list[str]:
    """Rank relaxed candidates by their pre-MD score and send the top K to MD (or, with
    ``limit`` and ``stage``, the top ``limit`` to the conduction screen).

    The pre-MD score is the score with no diffusion data (it only carries the hull
    penalty). Without reference phases, the energy per atom above the lowest relaxed
    candidate of the same formula stands in for E_hull (polymorph ordering), so candidates
    of different formulas tie; ties are broken by the mobile-ion number density of the
    relaxed cell (the carrier density n of sigma = n q^2 D / kT; stored as
    ``mobile_per_cm3``), then by id. Candidates above the E_hull cut, beyond K, or failed
    are finished with their pre-MD score. Returns the chosen ids, best first (the order MD
    work and FireWorks priorities follow).
    """
    docs = list(store.db["candidates"].find({"campaign": spec.name, "stage": RELAXED}))
    weights = spec.score
    lowest: dict[str, float] = {}
    for d in docs:
        if d.get("relax"):
            e = d["relax"]["energy_per_atom_ev"]
            lowest[d["formula"]] = min(e, lowest.get(d["formula"], e))

    def e_hull(d: dict) -> float | None:
        if "stability" in d:
            return d["stability"]["e_hull_ev_per_atom"]
        if d.get("relax"):
            return d["relax"]["energy_per_atom_ev"] - lowest[d["formula"]]
        return None

    hull = {d["_id"]: e_hull(d) for d in docs}
    pre = {i: pre_md_score(h, weights) for i, h in hull.items()}
    density = {d["_id"]: mobile_density(d, d.get("mobile_ion", spec.mobile_ion)) for d in docs}
    cut = spec.funnel.e_hull_max_ev_per_atom
    ok = [
        d
        for d in docs
        if d.get("status") != "failed" and hull[d["_id"]] is not None and hull[d["_id"]] <= cut
    ]
    ok.sort(key=lambda d: (-pre[d["_id"]], -density[d["_id"]], d["_id"]))
    chosen = [d["_id"] for d in ok[: spec.funnel.top_k_md if limit is None else limit]]
    updates = {
        i: {
            "stage": stage,
            "score_pre_md": pre[i],
            "score_e_hull_ev_per_atom": hull[i],
            "mobile_per_cm3": density[i],
        }
        for i in chosen
    }
    for d in docs:
        if d["_id"] not in updates:
            updates[d["_id"]] = {
                "stage": DONE,
                "status": "failed" if d.get("status") == "failed" else "completed",
                "score_pre_md": pre[d["_id"]],
                "score_e_hull_ev_per_atom": hull[d["_id"]],
                "mobile_per_cm3": density[d["_id"]],
                "score": pre[d["_id"]],
            }
    store.set_fields("candidates", updates)
    return chosen


def mobile_density(doc: dict, mobile_ion: str) -> float:
    """Mobile ions per cm^3 of the relaxed (else the initial) cell of a candidate document;
    0 when it has no structure (read from the stored dict, no Structure is built)."""
    s = (doc.get("relax") or {}).get("structure") or doc.get("structure")
    if not s:
        return 0.0
    n = sum(
        sp["occu"] for site in s["sites"] for sp in site["species"] if sp["element"] == mobile_ion
    )
    return per_cm3(n, s["lattice"]["volume"])


def ids_selected(store: ResultStore, campaign: str) -> list[str]:
    """Candidates waiting for MD, best first: by screen score when they were screened,
    else by pre-MD score."""
    cur = store.db["candidates"].find(
        {"campaign": campaign, "stage": SELECTED},
        {"_id": 1, "score_pre_md": 1, "score_screen": 1},
    )

    def key(d: dict) -> tuple:
        s = d.get("score_screen")
        return (-(s if s is not None else d.get("score_pre_md", NO_MD_SCORE)), d["_id"])

    return [d["_id"] for d in sorted(cur, key=key)]


def equilibration_steps(production_steps: int) -> int:
    """Langevin equilibration before each production run: 200 steps, fewer for short runs."""
    return min(200, production_steps)


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


def md_candidate(
    cid: str,
    store: ResultStore,
    model: LoadedModel,
    spec: CampaignSpec,
    *,
    on_temperature: Callable[[float], None] | None = None,
) -> dict:
    """MD + diffusion for one candidate; an unexpected error is recorded on the candidate
    (status ``failed``, reason in ``errors``, pre-MD score kept) and does not propagate.
    ``on_temperature(T)`` is called after each temperature (progress display)."""
    try:
        return _md_candidate(cid, store, model, spec, on_temperature)
    except Exception as exc:
        logger.exception("MD of %s failed", cid)
        doc = store.db["candidates"].find_one({"_id": cid}, {"score_pre_md": 1}) or {}
        score = doc.get("score_pre_md", NO_MD_SCORE)
        store.set_fields(
            "candidates",
            {
                cid: {
                    "stage": DONE,
                    "status": "failed",
                    "errors": [f"md: {type(exc).__name__}: {exc}"],
                    "score": score,
                }
            },
        )
        return {"score": score, "failed": True}


def _md_candidate(
    cid: str, store: ResultStore, model: LoadedModel, spec: CampaignSpec, on_temperature=None
) -> dict:
    """MD at every temperature (adaptive length when the funnel asks for it), diffusion
    analysis, Arrhenius, score; trajectories and MSD/Arrhenius PNGs go to ``artifacts``."""
    from screening.analysis.plots import arrhenius_plot, msd_plot

    doc = store.db["candidates"].find_one({"_id": cid})
    if doc.get("stage") == DONE and doc.get("diffusion"):  # recorded by an earlier run
        return {"score": doc.get("score", NO_MD_SCORE), "already_done": True}
    s = _md_cell(Structure.from_dict(doc["relax"]["structure"]), spec.funnel.md_max_atoms)
    mobile = doc.get("mobile_ion", spec.mobile_ion)  # recorded at generation, never guessed
    f = spec.funnel
    runs, arr = diffusion_series(
        s,
        model,
        temperatures_k=f.md_temperatures_k,
        steps=f.md_steps,
        mobile_ion=mobile,
        timestep_fs=f.md_timestep_fs,
        equilibration_steps=equilibration_steps(f.md_steps),
        min_n_eff=f.md_min_n_eff,
        target_n_eff=f.md_target_n_eff,
        max_steps=f.md_max_steps,
        on_temperature=on_temperature,
    )
    md_docs, keys = {}, []
    for r in runs:
        t = int(r.md.temperature_target_k)
        md_docs[str(t)] = r.md.model_dump(mode="json")
        keys.append(f"{cid}/md_{t}K.npz")
        store.put_artifact(keys[-1], r.trajectory.to_bytes(), candidate_id=cid)
    per_t = [r.diffusion for r in runs]
    title = plot_title(s.composition.reduced_formula, cid, model.name)
    pngs = (
        ("msd.png", msd_plot(msd_curves(runs), title=title)),
        ("arrhenius.png", arrhenius_plot(per_t, arr, title=title)),
    )
    for name, png in pngs:
        keys.append(f"{cid}/{name}")
        store.put_artifact(keys[-1], png, candidate_id=cid, content_type="image/png")
    n_per_cm3 = n_mobile_per_cm3(s, mobile)
    e_hull = doc.get("score_e_hull_ev_per_atom")
    score = candidate_score(
        per_t,
        arr,
        n_mobile_per_cm3=n_per_cm3,
        e_hull_ev_per_atom=e_hull,
        weights=spec.score,
    )
    store.set_fields(
        "candidates",
        {
            cid: {
                "md": md_docs,
                "diffusion": diffusion_doc(runs, arr, n_mobile_per_cm3=n_per_cm3).model_dump(
                    mode="json"
                ),
                "artifacts": keys,
                "score": score,
                "stage": DONE,
                "status": "completed",
                "provenance": Provenance(model=model.info()).model_dump(mode="json"),
            }
        },
    )
    return {"score": score}
