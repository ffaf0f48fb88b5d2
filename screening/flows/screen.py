"""Conduction screen: a short batched MD at one temperature between stability and the full
multi-temperature series.

``select_for_screen`` sends the best ``funnel.screen_top_n`` stable candidates (by pre-MD
score, as :func:`screening.flows.select.select_for_md` ranks them) to the screen;
``screen_chunk`` runs them together (:func:`screening.md.batched.run_md_batch`), analyses
each run (D, or its 95 % upper bound) and scores it; ``select_after_screen`` sends the best
``funnel.top_k_md`` by score to the full series; the rest stop here (stage ``screened``,
status ``completed``). Every candidate is scored by the one evidence model
(:mod:`screening.analysis.score`). The screen runs at most ``funnel.melting_margin_k``
below the candidate's melting estimate; a framework that melts
(:func:`screening.analysis.melting.framework_molten`) is rerun
``funnel.screen_retry_delta_k`` colder once. A molten run is no evidence: a candidate
molten at both temperatures keeps the prior alone and is flagged ``framework_melting``.
"""

from __future__ import annotations

import logging

from pymatgen.core import Structure

from screening.analysis.diffusion import analyse_trajectory
from screening.analysis.melting import melting_estimate
from screening.analysis.score import EVIDENCE_FIELDS, evidence_fields
from screening.flows.md_stage import equilibration_steps, md_cell
from screening.flows.select import best_first, select_for_md
from screening.md.batched import run_md_batch
from screening.md.series import plot_title
from screening.mlff.registry import LoadedModel
from screening.schemas.campaign import CampaignSpec
from screening.schemas.documents import CandidateStage, ScreenDoc
from screening.store.results import ResultStore

logger = logging.getLogger(__name__)

SELECTED_SCREEN = CandidateStage.selected_for_screen.value
SCREENED = CandidateStage.screened.value
SELECTED = CandidateStage.selected_for_md.value
TERMINAL = ("completed", "failed")


def select_for_screen(store: ResultStore, spec: CampaignSpec) -> list[str]:
    """The best ``screen_top_n`` stable candidates go to the screen (best first)."""
    return select_for_md(store, spec, limit=spec.funnel.screen_top_n, stage=SELECTED_SCREEN)


def ids_for_screen(store: ResultStore, spec: CampaignSpec) -> list[str]:
    """Candidates waiting for the screen, best pre-MD score first."""
    return best_first(store, spec.name, SELECTED_SCREEN, ("score_pre_md",))


def _screen_runs(cells, model, spec, temps: list[float], ions: list[str]) -> list[tuple]:
    """Batched screen MD of ``cells``; (MDResult, DiffusionAnalysis or None if it failed)."""
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
        seed=f.md_seed,
    )
    return [
        (
            md,
            None
            if md.status == "failed"
            else analyse_trajectory(
                traj, temperature_k=md.temperature_mean_k, min_n_eff=f.md_min_n_eff
            ),
        )
        for md, traj in runs
    ]


def screen_temperature(spec: CampaignSpec, doc: dict) -> tuple[float, float | None]:
    """The screen temperature of one candidate and its melting cap (estimate - margin)."""
    f = spec.funnel
    est = melting_estimate(doc.get("formula"), doc.get("mobile_ion", spec.mobile_ion))
    cap = est.cap(f.melting_margin_k)
    t = f.screen_temperature_k if cap is None else min(f.screen_temperature_k, cap)
    return max(t, 300.0), cap


def screen_chunk(
    ids: list[str], store: ResultStore, model: LoadedModel, spec: CampaignSpec, **_
) -> dict:
    """Screen MD for one chunk (one batched run, plus one colder rerun of molten frameworks).

    Candidates no longer waiting for the screen (a rerun chunk) are skipped.
    """
    f = spec.funnel
    cands = store.candidates(spec.name)
    fields = ("relax.structure", *EVIDENCE_FIELDS)
    docs = cands.load(ids, fields=fields, stage=SELECTED_SCREEN)
    todo = [i for i in ids if i in docs]
    if not todo:
        return {"screened": 0, "already_done": len(ids)}
    cells = [
        md_cell(Structure.from_dict(docs[i]["relax"]["structure"]), f.md_max_atoms) for i in todo
    ]
    plan = [screen_temperature(spec, docs[i]) for i in todo]
    temps = [t for t, _ in plan]
    ions = [docs[i].get("mobile_ion", spec.mobile_ion) for i in todo]
    results = dict(enumerate(_screen_runs(cells, model, spec, temps, ions)))
    melted = {k: [temps[k]] for k, (_, a) in results.items() if a and a.result.framework_mobile}
    retry = [k for k in melted if temps[k] - f.screen_retry_delta_k >= 300.0]
    if retry:
        logger.info(
            "%d framework(s) melted; rerunning %g K colder", len(retry), f.screen_retry_delta_k
        )
        again = _screen_runs(
            [cells[k] for k in retry],
            model,
            spec,
            [temps[k] - f.screen_retry_delta_k for k in retry],
            [ions[k] for k in retry],
        )
        for k, (md, a) in zip(retry, again, strict=True):
            results[k] = (md, a)
            if a is not None and a.result.framework_mobile:
                melted[k].append(md.temperature_target_k)
    updates, failed = {}, {}
    for k, cid in enumerate(todo):
        md, analysis = results[k]
        d = docs[cid]
        if analysis is None:
            failed[cid] = {
                "status": "failed",
                "errors": [f"screen: {md.failure_reason}"],
                **evidence_fields(d, spec.score, margin_k=f.melting_margin_k),
            }
            continue
        res = analysis.result
        screen = ScreenDoc(
            temperature_k=md.temperature_target_k,
            diffusion=res,
            framework_melting=res.framework_mobile,
            melted_at_k=melted.get(k, []),
            md_status=md.status,
            score=0.0,
            temperature_cap_k=plan[k][1],
        ).model_dump(mode="json")
        scored = evidence_fields({**d, "screen": screen}, spec.score, margin_k=f.melting_margin_k)
        screen["score"] = scored["score"]
        key = f"{cid}/screen_msd.png"
        store.put_artifact(
            key,
            _screen_plot(md, analysis, cells[k], cid, model.name),
            candidate_id=cid,
            content_type="image/png",
        )
        updates[cid] = {
            "screen": screen,
            "score_screen": scored["score"],
            "artifacts": [key],
            **scored,
        }
    cands.record(updates, stage=SCREENED)
    cands.record(failed, stage=SCREENED)
    return {"screened": len(updates), "failed": len(failed), "melted": len(melted)}


def _screen_plot(md, analysis, cell, cid: str, model_name: str) -> bytes:
    """The screen run's MSD plot (the series' kind of plot, one temperature)."""
    from screening.analysis.plots import MSDPanel, msd_plot

    panel = MSDPanel(
        temperature_target_k=md.temperature_target_k,
        temperature_mean_k=md.temperature_mean_k,
        tracer=analysis.curve,
        collective=analysis.collective.curve if analysis.collective else None,
        fit_window_ps=tuple(analysis.result.fit_window_ps),
    )
    title = plot_title(cell.composition.reduced_formula, f"{cid[:10]} screen", model_name)
    return msd_plot([panel], title=title)


def select_after_screen(store: ResultStore, spec: CampaignSpec) -> list[str]:
    """The best ``top_k_md`` screened candidates by score go to the full series (best
    first); the rest stop at stage ``screened`` with status ``completed``. A framework molten
    at every screen temperature never goes on (its score is the prior's; flagged)."""
    cands = store.candidates(spec.name)
    fields = ("score", "status", "screen.framework_melting")
    docs = [
        d
        for d in cands.load(cands.ids_at(SCREENED), fields=fields).values()
        if d.get("status") not in TERMINAL
    ]
    conductors = [d for d in docs if not (d.get("screen") or {}).get("framework_melting")]
    conductors.sort(key=lambda d: (-d["score"], d["_id"]))
    # the series' places already taken (an earlier pass, or a raised top_k_md) count
    taken = cands.count({"stage": SELECTED}) + cands.count({"diffusion": {"$exists": True}})
    chosen = [d["_id"] for d in conductors[: max(spec.funnel.top_k_md - taken, 0)]]
    finished = {}
    for d in docs:
        if d["_id"] in chosen:
            continue
        molten = (d.get("screen") or {}).get("framework_melting")
        finished[d["_id"]] = {
            "status": "completed",
            **({"errors": ["screen: framework_melting"]} if molten else {}),
        }
    cands.record({i: {} for i in chosen}, stage=SELECTED)
    cands.record(finished)
    return chosen
