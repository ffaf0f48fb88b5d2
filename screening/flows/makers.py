"""jobflow Makers that walk the funnel (:data:`screening.flows.funnel.FUNNEL`).

``ScreeningFlowMaker`` turns each stage into jobs: a fan-out job runs the stage's selection
and replaces itself with one :class:`ChunkMaker` job per chunk (``Response(replace=...)``),
so a 10^7-candidate campaign is ~10^4 jobs, not 10^7. Jobs take the campaign file and
chunks of candidate ids, write results to the store and return small summaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, Maker, Response, job

from screening.flows.funnel import FUNNEL_REF
from screening.schemas.campaign import load_campaign


def _context(campaign_file: str, model: str | None = None):
    from screening.flows.worker_env import apply_launchpad_env
    from screening.mlff.registry import load_model
    from screening.store.results import ResultStore

    apply_launchpad_env()  # rlaunch workers: settings from the project's launchpad file

    spec = load_campaign(campaign_file)
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
    def make(self, campaign_file: str, ids: list[str]) -> dict:
        from screening.flows.funnel import load_funnel, stage_named

        stage = stage_named(self.stage, self.funnel)
        spec, store, model = _context(campaign_file)
        if stage is load_funnel(self.funnel)[0]:
            store.ensure_indexes()  # the campaign's first jobs
        out = stage.run(ids, store, model() if stage.uses_model(spec) else None, spec)
        store.flush()
        return out


@dataclass
class StabilityChunkMaker(Maker):
    """E_form, E_hull and electrochemical window for a chunk of relaxed candidates."""

    name: str = "stability chunk"

    @job
    def make(self, campaign_file: str, ids: list[str]) -> dict:
        from screening.flows.stages import stability_chunk

        spec, store, model = _context(campaign_file)
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
    def make(self, campaign_file: str, upstream: dict | None = None) -> dict:
        from screening.store.ranking import campaign_status, rank

        spec, store, _ = _context(campaign_file)
        rows = rank(store, spec.name, top=self.top)
        return {
            "top": [{"candidate_id": r["candidate_id"], "score": r["score"]} for r in rows],
            "counts": campaign_status(store, spec.name)["counts"],
        }


@dataclass
class FanOutMaker(Maker):
    """Run a stage's selection, then replace itself by one :class:`ChunkMaker` job per
    chunk of the stage's candidates (best first: highest FireWorks priority)."""

    name: str = ""  # default: "<stage> fan-out"
    stage: str = "relax"
    category: str = "gpu"
    priority: int | None = None  # default: the stage's
    funnel: str = FUNNEL_REF

    def __post_init__(self) -> None:
        from screening.flows.funnel import stage_named

        stage = stage_named(self.stage, self.funnel)
        if stage.source:
            raise ValueError(f"stage {self.stage!r} is a source (runs once): nothing to fan out")
        if self.priority is not None and self.priority < 0:
            raise ValueError(f"priority must be >= 0, got {self.priority}")
        self.name = self.name or f"{self.stage} fan-out"

    @job
    def make(self, campaign_file: str, upstream: dict | list | None = None) -> Response:
        from screening.flows.funnel import stage_named

        stage = stage_named(self.stage, self.funnel)
        spec, store, _ = _context(campaign_file)
        if stage.select is not None:
            stage.select(store, spec)
            store.flush()
        ids = stage.ids(store, spec)
        size = stage.chunk_size(spec)
        maker = ChunkMaker(stage=self.stage, funnel=self.funnel)
        jobs = [maker.make(campaign_file, ids[i : i + size]) for i in range(0, len(ids), size)]
        base = stage.priority if self.priority is None else self.priority
        for k, j in enumerate(jobs):
            j.name = f"{self.stage} {k + 1}/{len(jobs)}"  # the Firework's name in lpad
            # FireWorks runs the highest _priority first: best candidates, earliest chunks
            j.update_config(
                {"manager_config": {"_category": self.category, "_priority": base + len(jobs) - k}}
            )
        summary = {"chunks": len(jobs), "candidates": len(ids)}
        if not jobs:
            return Response(output=summary)
        return Response(replace=Flow(jobs, output=[j.output for j in jobs]), output=summary)


@dataclass
class ScreeningFlowMaker(Maker):
    """The campaign's whole funnel as one jobflow Flow: each stage of the funnel in order
    (a source stage as one job, every other as a fan-out over its chunks), then rank.

    Parameters
    ----------
    gpu_category : str
        FireWorks category of the stages that need the model.
    cpu_category : str
        Category of the others ("" = any worker).
    funnel : str
        ``module:attribute`` of the funnel to walk.
    """

    name: str = "screening"
    gpu_category: str = "gpu"
    cpu_category: str = ""
    funnel: str = FUNNEL_REF
    rank: RankMaker = field(default_factory=RankMaker)

    def __post_init__(self) -> None:
        from screening.flows.funnel import load_funnel

        load_funnel(self.funnel)

    def make(self, campaign_file: str) -> Flow:
        """Build the funnel for a campaign file (validated now, not on a worker)."""
        from screening.flows.funnel import active, load_funnel

        spec = load_campaign(campaign_file)
        jobs, upstream = [], None
        for stage in active(load_funnel(self.funnel), spec):
            category = self.gpu_category if stage.uses_model(spec) else self.cpu_category
            if stage.source:
                j = ChunkMaker(name=stage.name, stage=stage.name, funnel=self.funnel).make(
                    campaign_file, []
                )
                if category:
                    j.update_config({"manager_config": {"_category": category}})
            else:
                j = FanOutMaker(stage=stage.name, category=category, funnel=self.funnel).make(
                    campaign_file, upstream
                )
            jobs.append(j)
            upstream = j.output
        ranked = self.rank.make(campaign_file, upstream)
        return Flow([*jobs, ranked], output=ranked.output, name=f"{self.name}: {spec.name}")
