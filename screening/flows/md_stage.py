"""The full multi-temperature MD tier: MD, diffusion analysis, Arrhenius fit and score for
one candidate at a time (one chunk = one candidate under FireWorks)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pymatgen.core import Structure

from screening.analysis.melting import capped_temperatures, melting_estimate
from screening.analysis.score import EVIDENCE_FIELDS, evidence_fields
from screening.md.series import (
    diffusion_doc,
    diffusion_series,
    msd_curves,
    n_mobile_per_cm3,
    plot_title,
)
from screening.mlff.registry import LoadedModel
from screening.schemas.campaign import CampaignSpec
from screening.schemas.documents import CandidateStage
from screening.schemas.provenance import Provenance
from screening.store.results import ResultStore

logger = logging.getLogger(__name__)

DONE = CandidateStage.done.value


def equilibration_steps(production_steps: int) -> int:
    """Langevin equilibration before each production run: 200 steps, fewer for short runs."""
    return min(200, production_steps)


def md_cell(structure: Structure, max_atoms: int) -> Structure:
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
        cands = store.candidates(spec.name)
        doc = cands.get(cid, fields=EVIDENCE_FIELDS) or {}
        scored = evidence_fields(doc, spec.score, margin_k=spec.funnel.melting_margin_k)
        cands.record(
            {cid: {"status": "failed", "errors": [f"md: {type(exc).__name__}: {exc}"], **scored}},
            stage=DONE,
        )
        return {"score": scored["score"], "failed": True}


def _md_candidate(
    cid: str, store: ResultStore, model: LoadedModel, spec: CampaignSpec, on_temperature=None
) -> dict:
    """MD at every temperature (adaptive length when the funnel asks for it), diffusion
    analysis, Arrhenius, score; trajectories and MSD/Arrhenius PNGs go to ``artifacts``."""
    from screening.analysis.plots import arrhenius_plot, msd_plot

    cands = store.candidates(spec.name)
    doc = cands.get(
        cid, fields=("stage", "score", "relax.structure", "artifacts", *EVIDENCE_FIELDS)
    )
    if doc.get("stage") == DONE and doc.get("diffusion"):  # recorded by an earlier run
        return {"score": doc.get("score"), "already_done": True}
    s = md_cell(Structure.from_dict(doc["relax"]["structure"]), spec.funnel.md_max_atoms)
    mobile = doc.get("mobile_ion", spec.mobile_ion)  # recorded at generation, never guessed
    f = spec.funnel
    melted = (doc.get("screen") or {}).get("melted_at_k") or []
    est = melting_estimate(doc.get("formula"), mobile, melted)
    cap = est.cap(f.melting_margin_k)
    temps = capped_temperatures(f.md_temperatures_k, cap)
    if temps != [float(t) for t in f.md_temperatures_k]:
        logger.info("%s: series at %s K (melting estimate: %s)", cid, temps, est.source)
    runs, arr = diffusion_series(
        s,
        model,
        temperatures_k=temps,
        stop_when_molten=True,
        seed=f.md_seed,
        steps=f.md_steps,
        mobile_ion=mobile,
        timestep_fs=f.md_timestep_fs,
        equilibration_steps=equilibration_steps(f.md_steps),
        min_n_eff=f.md_min_n_eff,
        target_n_eff=f.md_target_n_eff,
        max_steps=f.md_max_steps,
        on_temperature=on_temperature,
    )
    md_docs, keys = {}, [k for k in doc.get("artifacts") or [] if k.startswith(f"{cid}/screen")]
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
    diff = diffusion_doc(runs, arr, n_mobile_per_cm3=n_per_cm3).model_dump(mode="json")
    scored = evidence_fields({**doc, "diffusion": diff}, spec.score, margin_k=f.melting_margin_k)
    cands.record(
        {
            cid: {
                "md": md_docs,
                "diffusion": diff,
                "artifacts": keys,
                **scored,
                "status": "completed",
                "provenance": Provenance(model=model.info()).model_dump(mode="json"),
            }
        },
        stage=DONE,
    )
    return {"score": scored["score"]}


def md_stage(
    ids: list[str],
    store: ResultStore,
    model: LoadedModel,
    spec: CampaignSpec,
    *,
    advance: Callable[[float], None] | None = None,
) -> dict:
    """The funnel's MD tier over a chunk: :func:`md_candidate` for each id in order;
    ``advance(1)`` after each temperature (progress)."""
    scores = {
        i: md_candidate(
            i, store, model, spec, on_temperature=(lambda _t: advance(1)) if advance else None
        )["score"]
        for i in ids
    }
    return {"scored": len(scores)}
