"""Conduction screen: a short batched MD at one temperature between stability and the full
multi-temperature series.

``select_for_screen`` sends the best ``funnel.screen_top_n`` stable candidates (by pre-MD
score, as :func:`screening.flows.select.select_for_md` ranks them) to the screen;
``screen_chunk`` runs them together (:func:`screening.md.batched.run_md_batch`), analyses
each run (D, or its 95 % upper bound) and scores it; ``select_after_screen`` sends the best
``funnel.top_k_md`` by screen score to the full series and finishes the rest with their
screen score. A framework that melts (framework MSD above the melting threshold) is rerun
``funnel.screen_retry_delta_k`` colder once; still molten, the candidate is flagged
``framework_melting`` and keeps only its pre-MD score, never a conductor's.
"""

from __future__ import annotations

import logging

from pymatgen.core import Structure

from screening.analysis.diffusion import analyse_trajectory
from screening.analysis.score import NO_MD_SCORE, candidate_score
from screening.flows.md_stage import equilibration_steps, md_cell
from screening.flows.select import best_first, select_for_md
from screening.md.batched import run_md_batch
from screening.md.series import n_mobile_per_cm3
from screening.mlff.registry import LoadedModel
from screening.schemas.campaign import CampaignSpec
from screening.schemas.documents import CandidateStage, ScreenDoc
from screening.store.results import ResultStore

logger = logging.getLogger(__name__)

SELECTED_SCREEN = CandidateStage.selected_for_screen.value
SCREENED = CandidateStage.screened.value
SELECTED = CandidateStage.selected_for_md.value
DONE = CandidateStage.done.value


def select_for_screen(store: ResultStore, spec: CampaignSpec) -> list[str]:
    """The best ``screen_top_n`` stable candidates go to the screen (best first)."""
    return select_for_md(store, spec, limit=spec.funnel.screen_top_n, stage=SELECTED_SCREEN)


def ids_for_screen(store: ResultStore, spec: CampaignSpec) -> list[str]:
    """Candidates waiting for the screen, best pre-MD score first."""
    return best_first(store, spec.name, SELECTED_SCREEN, ("score_pre_md",))


def _screen_runs(cells, model, spec, temps: list[float], ions: list[str]) -> list[tuple]:
    """Batched screen MD of ``cells``; (MDResult, DiffusionResult or None if it failed)."""
    f = spec.funnel
    runs = run_md_batch(
        cells,
        model,
        temperature_k=temps,
        steps=f.screen_steps,
        mobile_ion=ions,
        timestep_fs=f.md_timestep_fs,
        equilibration_steps=equilibration_steps(f.screen_steps),
        stride=5,
    )
    return [
        (
            md,
            None
            if md.status == "failed"
            else analyse_trajectory(
                traj, temperature_k=md.temperature_mean_k, min_n_eff=f.md_min_n_eff
            ).result,
        )
        for md, traj in runs
    ]


def screen_chunk(
    ids: list[str], store: ResultStore, model: LoadedModel, spec: CampaignSpec, **_
) -> dict:
    """Screen MD for one chunk (one batched run, plus one colder rerun of molten frameworks).

    Candidates no longer waiting for the screen (a rerun chunk) are skipped.
    """
    f = spec.funnel
    cands = store.candidates(spec.name)
    fields = ("relax.structure", "mobile_ion", "score_e_hull_ev_per_atom", "score_pre_md")
    docs = cands.load(ids, fields=fields, stage=SELECTED_SCREEN)
    todo = [i for i in ids if i in docs]
    if not todo:
        return {"screened": 0, "already_done": len(ids)}
    cells = [
        md_cell(Structure.from_dict(docs[i]["relax"]["structure"]), f.md_max_atoms) for i in todo
    ]
    temps = [f.screen_temperature_k] * len(todo)
    ions = [docs[i].get("mobile_ion", spec.mobile_ion) for i in todo]
    results = dict(enumerate(_screen_runs(cells, model, spec, temps, ions)))
    melted = {k: [temps[k]] for k, (_, res) in results.items() if res and res.framework_mobile}
    colder = f.screen_temperature_k - f.screen_retry_delta_k
    retry = [k for k in melted if colder >= 300.0]
    if retry:
        logger.info(
            "%d framework(s) melted at %g K; rerunning at %g K", len(retry), temps[0], colder
        )
        again = _screen_runs(
            [cells[k] for k in retry], model, spec, [colder] * len(retry), [ions[k] for k in retry]
        )
        for k, (md, res) in zip(retry, again, strict=True):
            results[k] = (md, res)
            if res is not None and res.framework_mobile:
                melted[k].append(colder)
    weights = spec.score
    updates, failed = {}, {}
    for k, cid in enumerate(todo):
        md, res = results[k]
        d = docs[cid]
        e_hull = d.get("score_e_hull_ev_per_atom")
        still_molten = res is not None and res.framework_mobile
        if res is None:
            failed[cid] = {
                "status": "failed",
                "errors": [f"screen: {md.failure_reason}"],
                "score": d.get("score_pre_md", NO_MD_SCORE),
            }
            continue
        score = candidate_score(
            [res],
            None,
            n_mobile_per_cm3=n_mobile_per_cm3(cells[k], ions[k]),
            e_hull_ev_per_atom=e_hull,
            weights=weights,
        )
        doc = ScreenDoc(
            temperature_k=md.temperature_target_k,
            diffusion=res,
            framework_melting=still_molten,
            melted_at_k=melted.get(k, []),
            md_status=md.status,
            score=score,
        )
        updates[cid] = {"screen": doc.model_dump(mode="json"), "score_screen": score}
    cands.record(updates, stage=SCREENED)
    cands.record(failed, stage=DONE)
    return {"screened": len(updates), "failed": len(failed), "melted": len(melted)}


def select_after_screen(store: ResultStore, spec: CampaignSpec) -> list[str]:
    """The best ``top_k_md`` screened candidates by screen score go to the full series (best
    first); the rest finish with their screen score (molten frameworks with their pre-MD
    score and the ``framework_melting`` error)."""
    cands = store.candidates(spec.name)
    fields = ("score_screen", "score_pre_md", "screen.framework_melting")
    docs = list(cands.load(cands.ids_at(SCREENED), fields=fields).values())
    conductors = [d for d in docs if not (d.get("screen") or {}).get("framework_melting")]
    conductors.sort(key=lambda d: (-d["score_screen"], d["_id"]))
    chosen = [d["_id"] for d in conductors[: spec.funnel.top_k_md]]
    finished = {}
    for d in docs:
        if d["_id"] in chosen:
            continue
        molten = (d.get("screen") or {}).get("framework_melting")
        finished[d["_id"]] = {
            "status": "completed",
            "score": d.get("score_pre_md", NO_MD_SCORE) if molten else d["score_screen"],
            **({"errors": ["screen: framework_melting"]} if molten else {}),
        }
    cands.record({i: {} for i in chosen}, stage=SELECTED)
    cands.record(finished, stage=DONE)
    return chosen
