"""jobflow Makers for every stage and ``ScreeningFlowMaker`` composing the funnel.

Jobs take the campaign file and chunks of candidate ids, write results to the store and
return small summaries; fan-out jobs replace themselves with one job per chunk
(``Response(replace=...)``), so a 10^7-candidate campaign is ~10^4 jobs, not 10^7.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from jobflow import Flow, Maker, Response, job

from screening.schemas.campaign import load_campaign


def _context(campaign_file: str, model: str | None = None):
    from screening.flows.worker_env import apply_launchpad_env
    from screening.mlff.registry import load_model
    from screening.store.results import ResultStore

    apply_launchpad_env()  # rlaunch workers: settings from the project's launchpad file

    spec = load_campaign(campaign_file)
    return spec, ResultStore(), (lambda: load_model(model or spec.model))


@dataclass
class GenerateMaker(Maker):
    """Enumerate + filter a campaign and store one document per survivor."""

    name: str = "generate"

    @job
    def make(self, campaign_file: str) -> dict:
        from screening.flows.stages import generate_stage

        spec, store, _ = _context(campaign_file)
        store.ensure_indexes()
        return generate_stage(spec, store)


@dataclass
class RelaxChunkMaker(Maker):
    """Relax (and, with references, analyse stability of) one chunk of candidates.

    Stability runs in the same job by default: it needs the model that is already loaded
    and costs one phase-diagram construction per chunk, not a GPU round trip.
    """

    name: str = "relax chunk"
    with_stability: bool = True

    @job
    def make(self, campaign_file: str, ids: list[str]) -> dict:
        from screening.flows.stages import relax_chunk, stability_chunk

        spec, store, model = _context(campaign_file)
        m = model()
        out = relax_chunk(ids, store, m, spec)
        if self.with_stability and spec.has_references:
            out.update(stability_chunk(ids, store, m, spec))
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
class MDChunkMaker(Maker):
    """MD + diffusion + score for a chunk of selected candidates."""

    name: str = "md chunk"

    @job
    def make(self, campaign_file: str, ids: list[str]) -> dict:
        from screening.flows.stages import md_candidate

        spec, store, model = _context(campaign_file)
        m = model()
        scores = {i: md_candidate(i, store, m, spec)["score"] for i in ids}
        store.flush()
        return {"scored": len(scores)}


@dataclass
class ScreenChunkMaker(Maker):
    """Conduction screen (one batched short MD) for a chunk of candidates."""

    name: str = "screen chunk"

    @job
    def make(self, campaign_file: str, ids: list[str]) -> dict:
        from screening.flows.screen import screen_chunk

        spec, store, model = _context(campaign_file)
        out = screen_chunk(ids, store, model(), spec)
        store.flush()
        return out


@dataclass
class FanOutMaker(Maker):
    """Replace itself by one chunk job per ``chunk_size`` candidates at a stage."""

    name: str = ""  # default: "<stage> fan-out"
    stage: str = "relax"
    category: str = "gpu"
    priority: int = 1000

    def __post_init__(self) -> None:
        if self.stage not in ("relax", "screen", "md"):
            raise ValueError(f"stage must be 'relax', 'screen' or 'md', got {self.stage!r}")
        if self.priority < 0:
            raise ValueError(f"priority must be >= 0, got {self.priority}")
        self.name = self.name or f"{self.stage} fan-out"

    @job
    def make(self, campaign_file: str, upstream: dict | None = None) -> Response:
        from screening.flows.screen import ids_for_screen, select_after_screen, select_for_screen
        from screening.flows.stages import GENERATED, ids_at, ids_selected, select_for_md

        spec, store, _ = _context(campaign_file)
        if self.stage == "md":
            if spec.funnel.screen_temperature_k:
                select_after_screen(store, spec)
            else:
                select_for_md(store, spec)
            store.flush()
            ids = ids_selected(store, spec.name)  # best screen (or pre-MD) score first
        elif self.stage == "screen":
            select_for_screen(store, spec)
            store.flush()
            ids = ids_for_screen(store, spec.name)
        else:
            ids = ids_at(store, spec.name, GENERATED)
        size = 1 if self.stage == "md" else spec.funnel.chunk_size
        maker = {"relax": RelaxChunkMaker, "screen": ScreenChunkMaker, "md": MDChunkMaker}[
            self.stage
        ]()
        jobs = [maker.make(campaign_file, ids[i : i + size]) for i in range(0, len(ids), size)]
        for k, j in enumerate(jobs):
            j.name = f"{self.stage} {k + 1}/{len(jobs)}"  # the Firework's name in lpad
            # FireWorks runs the highest _priority first: best candidates, earliest chunks
            j.update_config(
                {
                    "manager_config": {
                        "_category": self.category,
                        "_priority": self.priority + len(jobs) - k,
                    }
                }
            )
        summary = {"chunks": len(jobs), "candidates": len(ids)}
        if not jobs:
            return Response(output=summary)
        return Response(replace=Flow(jobs, output=[j.output for j in jobs]), output=summary)


@dataclass
class ScreeningFlowMaker(Maker):
    """generate -> relax/stability chunks -> [screen chunks] -> select top-K -> MD chunks ->
    rank."""

    name: str = "screening"
    gpu_category: str = "gpu"
    relax_fanout: FanOutMaker = field(default_factory=lambda: FanOutMaker(stage="relax"))
    screen_fanout: FanOutMaker = field(
        default_factory=lambda: FanOutMaker(stage="screen", priority=1500)
    )
    md_fanout: FanOutMaker = field(default_factory=lambda: FanOutMaker(stage="md", priority=2000))
    rank: RankMaker = field(default_factory=RankMaker)

    def make(self, campaign_file: str) -> Flow:
        """Build the funnel for a campaign file (validated now, not on a worker)."""
        spec = load_campaign(campaign_file)
        gen = GenerateMaker().make(campaign_file)
        gpu = {"category": self.gpu_category}  # model-bound chunks go to GPU workers
        relax = replace(self.relax_fanout, **gpu).make(campaign_file, gen.output)
        jobs = [gen, relax]
        if spec.funnel.screen_temperature_k:  # the conduction screen between relax and MD
            jobs.append(replace(self.screen_fanout, **gpu).make(campaign_file, relax.output))
        md = replace(self.md_fanout, **gpu).make(campaign_file, jobs[-1].output)
        ranked = self.rank.make(campaign_file, md.output)
        return Flow([*jobs, md, ranked], output=ranked.output, name=f"{self.name}: {spec.name}")
