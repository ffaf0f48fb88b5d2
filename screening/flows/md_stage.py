"""The full multi-temperature MD tier: MD, diffusion analysis, Arrhenius fit and score for
one candidate at a time (one chunk = one candidate under FireWorks)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pymatgen.core import Structure

from screening.analysis.score import NO_MD_SCORE, candidate_score
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
        doc = cands.get(cid, fields=("score_pre_md",)) or {}
        score = doc.get("score_pre_md", NO_MD_SCORE)
        cands.record(
            {
                cid: {
                    "status": "failed",
                    "errors": [f"md: {type(exc).__name__}: {exc}"],
                    "score": score,
                }
            },
            stage=DONE,
        )
        return {"score": score, "failed": True}


def _md_candidate(
    cid: str, store: ResultStore, model: LoadedModel, spec: CampaignSpec, on_temperature=None
) -> dict:
    """MD at every temperature (adaptive length when the funnel asks for it), diffusion
    analysis, Arrhenius, score; trajectories and MSD/Arrhenius PNGs go to ``artifacts``."""
    from screening.analysis.plots import arrhenius_plot, msd_plot

    cands = store.candidates(spec.name)
    doc = cands.get(
        cid,
        fields=(
            "stage",
            "diffusion",
            "score",
            "relax.structure",
            "mobile_ion",
            "score_e_hull_ev_per_atom",
        ),
    )
    if doc.get("stage") == DONE and doc.get("diffusion"):  # recorded by an earlier run
        return {"score": doc.get("score", NO_MD_SCORE), "already_done": True}
    s = md_cell(Structure.from_dict(doc["relax"]["structure"]), spec.funnel.md_max_atoms)
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
    cands.record(
        {
            cid: {
                "md": md_docs,
                "diffusion": diffusion_doc(runs, arr, n_mobile_per_cm3=n_per_cm3).model_dump(
                    mode="json"
                ),
                "artifacts": keys,
                "score": score,
                "status": "completed",
                "provenance": Provenance(model=model.info()).model_dump(mode="json"),
            }
        },
        stage=DONE,
    )
    return {"score": score}


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
