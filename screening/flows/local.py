"""Run a whole campaign on this machine (embedded store by default), resumable."""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from screening.flows.eta import md_eta
from screening.flows.screen import (
    ids_for_screen,
    screen_chunk,
    select_after_screen,
    select_for_screen,
)
from screening.flows.stages import (
    GENERATED,
    generate_stage,
    ids_at,
    ids_selected,
    md_candidate,
    relax_chunk,
    select_for_md,
    stability_chunk,
)
from screening.mlff.registry import LoadedModel
from screening.schemas.campaign import CampaignSpec
from screening.store.results import ResultStore


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM raises KeyboardInterrupt so the last completed chunk is checkpointed."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run_campaign(spec: CampaignSpec, store: ResultStore, model: LoadedModel) -> dict:
    """Generate -> relax (chunks) -> [conduction screen] -> select top-K -> MD + diffusion.

    Every chunk is written and checkpointed before the next starts; an interrupted run
    resumes where it stopped.
    """
    summary: dict = {}
    timings: dict[str, float] = summary.setdefault("timings_s", {})
    clock = [time.perf_counter()]

    def lap(stage: str) -> None:
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock[0]
        clock[0] = now

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with _sigterm_as_interrupt(), Progress(*columns, transient=False) as progress:
        try:
            store.ensure_indexes()
            summary["generate"] = generate_stage(spec, store)
            lap("generate")
            todo = ids_at(store, spec.name, GENERATED)
            task = progress.add_task("relax", total=len(todo))
            chunk = spec.funnel.chunk_size
            for start in range(0, len(todo), chunk):
                relax_chunk(todo[start : start + chunk], store, model, spec)
                if spec.has_references:
                    stability_chunk(todo[start : start + chunk], store, model, spec)
                store.flush()
                progress.advance(task, len(todo[start : start + chunk]))
            lap("relax + stability" if spec.has_references else "relax")
            if spec.funnel.screen_temperature_k:
                select_for_screen(store, spec)
                store.flush()
                todo = ids_for_screen(store, spec.name)
                task = progress.add_task(
                    f"screen ({spec.funnel.screen_temperature_k:g} K)", total=len(todo)
                )
                for start in range(0, len(todo), chunk):
                    screen_chunk(todo[start : start + chunk], store, model, spec)
                    store.flush()
                    progress.advance(task, len(todo[start : start + chunk]))
                select_after_screen(store, spec)
                lap("screen")
            else:
                select_for_md(store, spec)
            store.flush()
            todo = ids_selected(store, spec.name)
            n_t = len(spec.funnel.md_temperatures_k)
            if todo:
                line = _eta_line(md_eta(todo, store, model, spec), len(todo))
                progress.console.print(line, soft_wrap=True, markup=False)
            task = progress.add_task(
                f"md + diffusion ({len(todo)} x {n_t} temperatures)", total=len(todo) * n_t
            )
            for cid in todo:
                done = progress.tasks[task].completed
                md_candidate(
                    cid, store, model, spec, on_temperature=lambda _t: progress.advance(task)
                )
                progress.update(task, completed=done + n_t)  # skipped or failed temperatures
                store.flush()
            lap("md + diffusion")
        finally:
            store.flush()
    return summary


def _eta_line(eta: dict, n: int) -> str:
    """One line before MD starts: what will run and how long it should take."""
    per = eta["seconds_per_step"] * eta["steps_per_candidate"]
    cap = " at most (adaptive cap)" if eta["adaptive"] else ""
    return (
        f"md: {n} candidate(s) x {eta['steps_per_candidate']:,} steps{cap}; one step of "
        f"{eta['formula']} ({eta['atoms']} atoms) takes {eta['seconds_per_step'] * 1000:.0f} "
        f"ms -> ~{per / 60:.1f} min per candidate, ~{eta['eta_s'] / 60:.1f} min in total"
    )
