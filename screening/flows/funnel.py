"""The funnel, declared once: an ordered list of stages that both runners walk.

``screening campaign run`` (:func:`screening.flows.local.run_campaign`) and
``ScreeningFlowMaker`` (jobflow / FireWorks) read :data:`FUNNEL` and nothing else to know
what runs, in which order, on which candidates and in chunks of what size. A stage is one
pure function over a chunk of candidate ids plus one entry here (README: "Adding a
stage"). The generate tier's items are shard keys instead of candidate ids.

Heavy modules (pymatgen, the MLFF stack) load when a stage first runs, not when this module
is imported.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from screening.schemas.documents import CandidateStage

FUNNEL_REF = "screening.flows.funnel:FUNNEL"
"""Where the runners find the funnel (a copy with more stages can be named instead)."""


def _resolve(ref: str) -> Any:
    """The object at ``module:attribute``."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def _call(ref: str) -> Callable[..., Any]:
    """A lazy ``module:function`` reference (imports on first call)."""

    def call(*args, **kwargs):
        return _resolve(ref)(*args, **kwargs)

    call.__name__ = call.__qualname__ = ref.partition(":")[2]
    return call


def _every(_spec) -> bool:
    return True


def _chunk_size(spec) -> int:
    return spec.funnel.chunk_size


@dataclass(frozen=True)
class Stage:
    """One tier of the funnel.

    Attributes
    ----------
    name : str
        Unique; names the jobs (``relax 3/10``) and the progress bar.
    run : callable
        ``run(ids, store, model, spec, *, advance=None) -> dict``: does the tier's work on
        a chunk, records it through the campaign's candidate store and returns a small
        summary. ``advance(n)`` reports progress in :attr:`units` per candidate.
    takes, gives : str or None
        The candidate stage (:class:`~screening.schemas.documents.CandidateStage`) it
        reads (or a tuple of stages: any of them) and the one it moves candidates to;
        ``takes=None`` with :attr:`order`: the stage works on the items ``order`` lists
        (generation shards).
    needs_model : bool or callable
        Loads the MLFF (FireWorks category ``gpu``); or ``needs_model(spec) -> bool``.
    chunk_size : callable
        ``chunk_size(spec) -> int`` candidates per chunk (one FireWorks job each).
    enabled : callable
        ``enabled(spec) -> bool``; a disabled stage is skipped by both runners.
    select : callable or None
        ``select(store, spec)``: the policy that moves candidates into ``takes`` (runs once
        before the stage, e.g. top-K by score).
    order : callable or None
        ``order(store, spec) -> ids`` best first; default: ids at ``takes`` in id order.
    units : callable
        Progress units per candidate (``units(spec)``; MD: one per temperature).
    label : callable or None
        ``label(spec, n) -> str`` for the progress bar; default: the name.
    announce : callable or None
        ``announce(ids, store, model, spec) -> str``: one line printed before the local
        runner starts the stage (MD: its time estimate).
    priority : int
        FireWorks priority base (later, costlier tiers first).
    picks : callable or None
        ``picks(spec) -> int``: the most candidates :attr:`select` sends to the stage (for
        the ETA before the selection ran); None: every candidate that reaches ``takes``.
    """

    name: str
    run: Callable[..., dict]
    takes: str | tuple[str, ...] | None = None
    gives: str | None = None
    needs_model: bool | Callable[[Any], bool] = True
    chunk_size: Callable[[Any], int] = _chunk_size
    enabled: Callable[[Any], bool] = _every
    select: Callable[..., Any] | None = None
    order: Callable[..., list[str]] | None = None
    units: Callable[[Any], int] = lambda spec: 1
    label: Callable[[Any, int], str] | None = None
    announce: Callable[..., str] | None = None
    priority: int = 1000
    picks: Callable[[Any], int] | None = None

    def __post_init__(self) -> None:
        if self.takes is None and self.order is None:
            raise ValueError(f"stage {self.name!r}: give takes (a candidate stage) or order")

    def uses_model(self, spec) -> bool:
        """Whether this campaign's run of the stage loads the model."""
        return self.needs_model(spec) if callable(self.needs_model) else self.needs_model

    def ids(self, store, spec) -> list[str]:
        """The ids this stage works on now (after :attr:`select`), best first."""
        if self.order is not None:
            return self.order(store, spec)
        return store.candidates(spec.name).ids_at(self.takes)

    def run_chunk(self, ids: list[str], store, model, spec, **kwargs) -> dict:
        """:attr:`run` on one chunk, its wall time recorded for the stage's ETA (``campaign
        status``) by both runners (local and FireWorks)."""
        t0 = time.perf_counter()
        out = self.run(ids, store, model, spec, **kwargs)
        if ids:
            seconds = time.perf_counter() - t0
            store.record_stage_time(
                spec.name, self.name, str(ids[0]), items=len(ids), seconds=seconds
            )
        return out

    def describe(self, spec, n: int) -> str:
        """Progress-bar label."""
        return self.label(spec, n) if self.label else self.name


def _prescreen_enabled(spec) -> bool:
    return spec.funnel.prescreen


def _screen_enabled(spec) -> bool:
    return bool(spec.funnel.screen_temperature_k)


def _select_md(store, spec) -> list[str]:
    """Top-K to the full MD: by screen score after a screen, else by pre-MD score."""
    if _screen_enabled(spec):
        return _call("screening.flows.screen:select_after_screen")(store, spec)
    return _call("screening.flows.select:select_for_md")(store, spec)


FUNNEL: tuple[Stage, ...] = (
    Stage(
        name="generate",
        run=_call("screening.flows.shards:generate_shards"),
        gives=CandidateStage.generated.value,
        needs_model=_prescreen_enabled,
        chunk_size=lambda spec: 1,
        order=_call("screening.flows.shards:shard_keys"),
        label=lambda spec, n: f"generate ({n} shard(s))",
        priority=500,
    ),
    Stage(
        name="relax",
        run=_call("screening.flows.stages:relax_stage"),
        takes=(CandidateStage.prescreened.value, CandidateStage.generated.value),
        gives=CandidateStage.relaxed.value,
        select=_call("screening.flows.shards:dedup_select"),
        label=lambda spec, n: "relax + stability" if spec.has_references else "relax",
    ),
    Stage(
        name="screen",
        run=_call("screening.flows.screen:screen_chunk"),
        takes=CandidateStage.selected_for_screen.value,
        gives=CandidateStage.screened.value,
        enabled=_screen_enabled,
        select=_call("screening.flows.screen:select_for_screen"),
        order=_call("screening.flows.screen:ids_for_screen"),
        label=lambda spec, n: f"screen ({spec.funnel.screen_temperature_k:g} K)",
        priority=1500,
        picks=lambda spec: spec.funnel.screen_top_n,
    ),
    Stage(
        name="md",
        run=_call("screening.flows.md_stage:md_stage"),
        takes=CandidateStage.selected_for_md.value,
        gives=CandidateStage.done.value,
        chunk_size=lambda spec: 1,
        select=_select_md,
        order=_call("screening.flows.select:ids_selected"),
        units=lambda spec: len(spec.funnel.md_temperatures_k),
        label=lambda spec, n: (
            f"md + diffusion ({n} x {len(spec.funnel.md_temperatures_k)} temperatures)"
        ),
        announce=_call("screening.flows.eta:md_eta_line"),
        priority=2000,
        picks=lambda spec: spec.funnel.top_k_md,
    ),
)
"""generate (shards, [prescreen]) -> relax (+ stability) -> [conduction screen] -> full MD +
diffusion."""


def load_funnel(ref: str = FUNNEL_REF) -> Sequence[Stage]:
    """The funnel at ``module:attribute`` (checked: stages with unique names)."""
    try:
        funnel = _resolve(ref)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"funnel {ref!r}: cannot import ({exc})") from None
    names = [s.name for s in funnel]
    if len(set(names)) != len(names) or not all(isinstance(s, Stage) for s in funnel):
        raise ValueError(f"funnel {ref!r}: expected Stage objects with unique names")
    return funnel


def stage_named(name: str, ref: str = FUNNEL_REF) -> Stage:
    """The stage called ``name`` in the funnel at ``ref``.

    Raises
    ------
    ValueError
        No such stage (the message lists the stages).
    """
    funnel = load_funnel(ref)
    for s in funnel:
        if s.name == name:
            return s
    names = ", ".join(repr(s.name) for s in funnel)
    raise ValueError(f"stage must be one of {names}, got {name!r}")


def active(funnel: Sequence[Stage], spec) -> list[Stage]:
    """The stages a campaign runs, in order."""
    return [s for s in funnel if s.enabled(spec)]
