"""jobflow Makers that walk the funnel (:data:`screening.flows.funnel.FUNNEL`).

``ScreeningFlowMaker`` turns each stage into jobs: a fan-out job runs the stage's selection
and replaces itself with one :class:`ChunkMaker` job per chunk (``Response(replace=...)``),
so a 10^7-candidate campaign is ~10^4 jobs, not 10^7. Jobs take the frozen campaign (its
spec with the prototypes inline) and chunks of candidate ids, write results to the store
and return small summaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, Maker, Response, job

from screening.flows.frozen import campaign_spec, freeze_campaign
from screening.flows.funnel import FUNNEL_REF


def _context(campaign: str | dict, model: str | None = None):
    from screening.flows.worker_env import apply_launchpad_env
    from screening.mlff.registry import load_model
    from screening.store.results import ResultStore

    apply_launchpad_env()  # rlaunch workers: settings from the project's launchpad file

    spec = campaign_spec(campaign)
    return spec, ResultStore(), (lambda: load_model(model or spec.model))


@dataclass
class ChunkMaker(Maker):
    """One chunk of one funnel stage: ``stage.run(ids, ...)`` on a worker (the model is
    loaded there when the stage needs it); returns the stage's small summary.

    Parameters
    ----------
    stage : str
        A stage name of the funnel at ``funnel``.
    funnel : str
        ``module:attribute`` of the funnel (default: :data:`screening.flows.funnel.FUNNEL`).
    """

    name: str = "chunk"
    stage: str = "relax"
    funnel: str = FUNNEL_REF

    def __post_init__(self) -> None:
        from screening.flows.funnel import stage_named

        stage_named(self.stage, self.funnel)  # ValueError now, not on a worker

    @job
    def make(self, campaign: str | dict, ids: list[str]) -> dict:
        from screening.flows.funnel import load_funnel, stage_named

        stage = stage_named(self.stage, self.funnel)
        spec, store, model = _context(campaign)
        if stage is load_funnel(self.funnel)[0]:
            store.ensure_indexes()  # the campaign's first jobs
        out = stage.run_chunk(ids, store, model() if stage.uses_model(spec) else None, spec)
        store.flush()
        return out


@dataclass
class StabilityChunkMaker(Maker):
    """E_form, E_hull and electrochemical window for a chunk of relaxed candidates."""

    name: str = "stability chunk"

    @job
    def make(self, campaign: str | dict, ids: list[str]) -> dict:
        from screening.flows.stages import stability_chunk

        spec, store, model = _context(campaign)
        if not spec.has_references:
            return {"analysed": 0}
        out = stability_chunk(ids, store, model(), spec)
        store.flush()
        return out


@dataclass
class RankMaker(Maker):
    """Final job: the campaign's top candidates and status counts (small summary)."""

    name: str = "rank"
    top: int = 10

    def __post_init__(self) -> None:
        if self.top < 1:
            raise ValueError(f"top must be >= 1, got {self.top}")

    @job
    def make(self, campaign: str | dict, upstream: dict | None = None) -> dict:
        from screening.store.ranking import campaign_status, rank

        spec, store, _ = _context(campaign)
        rows = rank(store, spec.name, top=self.top)
        return {
            "top": [{"candidate_id": r["candidate_id"], "score": r["score"]} for r in rows],
            "counts": campaign_status(store, spec.name)["counts"],
        }


def _spread(
    campaign: str | dict,
    spec,
    stage,
    items: list[str],
    *,
    funnel: str,
    category: str,
    base: int,
    max_jobs: int,
    offset: int = 0,
    total: int | None = None,
) -> Response:
    """Replace a fan-out job by one chunk job per ``stage.chunk_size`` items, named
    ``<stage> k/n`` with descending priority; beyond ``max_jobs`` chunks, by at most
    ``max_jobs`` :class:`SpreadMaker` jobs over sorted id ranges that do the same (a tree,
    so no job or launch document carries more than ``max_jobs`` jobs or the campaign's
    ids: FireWorks stores every job a launch adds in that launch's document)."""
    size = stage.chunk_size(spec)
    n_chunks = -(-len(items) // size)
    total = n_chunks if total is None else total
    summary = {"chunks": n_chunks, "candidates": len(items)}
    if n_chunks == 0:
        return Response(output=summary)
    if n_chunks <= max_jobs:
        maker = ChunkMaker(stage=stage.name, funnel=funnel)
        jobs = [maker.make(campaign, items[i : i + size]) for i in range(0, len(items), size)]
        for k, j in enumerate(jobs):
            j.name = f"{stage.name} {offset + k + 1}/{total}"  # the Firework's name in lpad
            # FireWorks runs the highest _priority first: best candidates, earliest chunks
            prio = base + total - offset - k
            j.update_config({"manager_config": {"_category": category, "_priority": prio}})
    else:
        items = sorted(items)
        levels = 1
        while max_jobs**levels < n_chunks:
            levels += 1
        per = max_jobs ** (levels - 1) * size  # items per range: <= max_jobs ranges
        jobs = []
        for i in range(0, len(items), per):
            lo, hi = items[i], items[i + per] if i + per < len(items) else None
            sub = SpreadMaker(
                stage=stage.name,
                funnel=funnel,
                category=category,
                base=base,
                max_jobs=max_jobs,
                total=total,
            )
            j = sub.make(campaign, lo, hi, offset + i // size)
            first, last = offset + i // size + 1, offset + min(i + per, len(items)) // size
            j.name = f"{stage.name} fan-out {first}-{max(first, last)}/{total}"
            j.update_config({"manager_config": {"_priority": base + total + 1}})
            jobs.append(j)
    return Response(replace=Flow(jobs, output=[j.output for j in jobs]), output=summary)


@dataclass
class SpreadMaker(Maker):
    """Part of a large fan-out: the stage's items (already selected) with ``lo <= id < hi``
    in chunk jobs (or a further level of spread jobs); see :func:`_spread`."""

    name: str = "spread"
    stage: str = "relax"
    funnel: str = FUNNEL_REF
    category: str = "gpu"
    base: int = 1000
    max_jobs: int = 500
    total: int = 1

    @job
    def make(self, campaign: str | dict, lo: str, hi: str | None, offset: int) -> Response:
        from screening.flows.funnel import stage_named

        stage = stage_named(self.stage, self.funnel)
        spec, store, _ = _context(campaign)
        items = [x for x in stage.ids(store, spec) if lo <= x and (hi is None or x < hi)]
        return _spread(
            campaign,
            spec,
            stage,
            items,
            funnel=self.funnel,
            category=self.category,
            base=self.base,
            max_jobs=self.max_jobs,
            offset=offset,
            total=self.total,
        )


@dataclass
class FanOutMaker(Maker):
    """Run a stage's selection, then replace itself by one :class:`ChunkMaker` job per
    chunk of the stage's candidates (best first: highest FireWorks priority), through a
    tree of :class:`SpreadMaker` jobs when there are more than ``max_jobs`` chunks."""

    name: str = ""  # default: "<stage> fan-out"
    stage: str = "relax"
    category: str = "gpu"
    priority: int | None = None  # default: the stage's
    funnel: str = FUNNEL_REF
    max_jobs: int = 500

    def __post_init__(self) -> None:
        from screening.flows.funnel import stage_named

        stage_named(self.stage, self.funnel)
        if self.priority is not None and self.priority < 0:
            raise ValueError(f"priority must be >= 0, got {self.priority}")
        if self.max_jobs < 2:
            raise ValueError(f"max_jobs must be >= 2, got {self.max_jobs}")
        self.name = self.name or f"{self.stage} fan-out"

    @job
    def make(self, campaign: str | dict, upstream: dict | list | None = None) -> Response:
        from screening.flows.funnel import stage_named

        stage = stage_named(self.stage, self.funnel)
        spec, store, _ = _context(campaign)
        if stage.select is not None:
            stage.select(store, spec)
            store.flush()
        return _spread(
            campaign,
            spec,
            stage,
            stage.ids(store, spec),
            funnel=self.funnel,
            category=self.category,
            base=stage.priority if self.priority is None else self.priority,
            max_jobs=self.max_jobs,
        )


@dataclass
class ScreeningFlowMaker(Maker):
    """The campaign's whole funnel as one jobflow Flow: each stage of the funnel in order
    (each a fan-out over its chunks), then rank.

    Parameters
    ----------
    gpu_category : str
        FireWorks category of the stages that need the model.
    cpu_category : str
        Category of the others ("" = any worker).
    funnel : str
        ``module:attribute`` of the funnel to walk.
    max_jobs : int
        Most jobs one fan-out (or spread) job adds (see :func:`_spread`).
    """

    name: str = "screening"
    gpu_category: str = "gpu"
    cpu_category: str = ""
    funnel: str = FUNNEL_REF
    max_jobs: int = 500
    rank: RankMaker = field(default_factory=RankMaker)

    def __post_init__(self) -> None:
        from screening.flows.funnel import load_funnel

        load_funnel(self.funnel)

    def make(self, campaign: str | dict) -> Flow:
        """Build the funnel for a campaign file or frozen campaign (validated now, not on a
        worker). Every job carries the frozen campaign (:func:`freeze_campaign`), never
        the file's path."""
        from screening.flows.funnel import active, load_funnel

        campaign = freeze_campaign(campaign)
        spec = campaign_spec(campaign)
        jobs, upstream = [], None
        for stage in active(load_funnel(self.funnel), spec):
            category = self.gpu_category if stage.uses_model(spec) else self.cpu_category
            j = FanOutMaker(
                stage=stage.name, category=category, funnel=self.funnel, max_jobs=self.max_jobs
            ).make(campaign, upstream)
            jobs.append(j)
            upstream = j.output
        ranked = self.rank.make(campaign, upstream)
        return Flow([*jobs, ranked], output=ranked.output, name=f"{self.name}: {spec.name}")
