"""Run a whole campaign on this machine (embedded store by default), resumable."""

from __future__ import annotations

import signal
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with _sigterm_as_interrupt(), Progress(*columns, transient=False) as progress:
        try:
            store.ensure_indexes()
            summary["generate"] = generate_stage(spec, store)
            todo = ids_at(store, spec.name, GENERATED)
            task = progress.add_task("relax", total=len(todo))
            chunk = spec.funnel.chunk_size
            for start in range(0, len(todo), chunk):
                relax_chunk(todo[start : start + chunk], store, model, spec)
                if spec.has_references:
                    stability_chunk(todo[start : start + chunk], store, model, spec)
                store.flush()
                progress.advance(task, len(todo[start : start + chunk]))
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
            else:
                select_for_md(store, spec)
            store.flush()
            todo = ids_selected(store, spec.name)
            task = progress.add_task("md + diffusion", total=len(todo))
            for cid in todo:
                md_candidate(cid, store, model, spec)
                store.flush()
                progress.advance(task)
        finally:
            store.flush()
    return summary
