"""Run a whole campaign on this machine (embedded store by default), resumable.

Walks :data:`screening.flows.funnel.FUNNEL` (or a copy given as ``funnel``): each stage's
selection, then its chunks, each written and checkpointed before the next starts, so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from screening.flows.funnel import FUNNEL, Stage, active
from screening.flows.progress import PlainProgress
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


def run_campaign(
    spec: CampaignSpec,
    store: ResultStore,
    model: LoadedModel,
    *,
    funnel: Sequence[Stage] = FUNNEL,
) -> dict:
    """Run every enabled stage of ``funnel`` in order (generate -> relax (+ stability) ->
    [conduction screen] -> top-K -> MD + diffusion for the default funnel).

    Returns ``{"timings_s": {stage name: seconds}}``.
    """
    summary: dict = {}
    timings: dict[str, float] = summary.setdefault("timings_s", {})
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    bars = sys.stdout.isatty()  # plain, flushed lines in a log file (flows.progress)
    shown = Progress(*columns, transient=False) if bars else PlainProgress(sys.stdout)
    with _sigterm_as_interrupt(), shown as progress:
        try:
            store.ensure_indexes()
            for stage in active(funnel, spec):
                t0 = time.perf_counter()
                _run_stage(stage, spec, store, model, progress)
                timings[stage.name] = time.perf_counter() - t0
        finally:
            store.flush()
    return summary


def _run_stage(stage: Stage, spec, store, model, progress: Progress | PlainProgress) -> None:
    """One stage: its selection, then its chunks in order."""
    use = model if stage.uses_model(spec) else None
    if stage.select is not None:
        stage.select(store, spec)
        store.flush()
    ids = stage.ids(store, spec)
    if ids and stage.announce is not None:
        line = stage.announce(ids, store, model, spec)
        if line:
            progress.console.print(line, soft_wrap=True, markup=False)
    units = stage.units(spec)
    task = progress.add_task(stage.describe(spec, len(ids)), total=len(ids) * units)
    size = stage.chunk_size(spec)
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        done = progress.tasks[task].completed
        stage.run_chunk(chunk, store, use, spec, advance=lambda n=1: progress.advance(task, n))
        progress.update(task, completed=done + len(chunk) * units)  # skipped work counts
        store.flush()
