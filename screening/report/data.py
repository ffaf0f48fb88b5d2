"""What the report shows, gathered from the store with bounded queries.

The ranking, the scatter and the per-candidate sections come from top-K queries (the
``(campaign, score)`` index on a server); the screen's D histogram reads at most
``screen_points`` projected documents; the funnel counts are the ``campaign status``
counts. Nothing loads every candidate document whole.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from screening.store.ranking import (
    campaign_status,
    flag_counts,
    rank,
    rank_rows,
    screen_diffusivities,
)
from screening.store.results import ResultStore

SECTION_FIELDS = (
    "candidate_id",
    "formula",
    "prototype",
    "substitution",
    "ordering",
    "mobile_ion",
    "n_atoms",
    "structure",
    "relax.structure",
    "relax.energy_per_atom_ev",
    "relax.volume_change_frac",
    "relax.converged",
    "relax.n_steps",
    "stability",
    "score_e_hull_ev_per_atom",
    "screen.temperature_k",
    "screen.framework_melting",
    "screen.melted_at_k",
    "screen.diffusion",
    "diffusion.per_temperature",
    "diffusion.arrhenius",
    "diffusion.haven_status",
    "evidence",
    "artifacts",
    "provenance",
    "stage",
    "status",
)


@dataclass
class Section:
    """One candidate of the report: its ranking row, its document (``SECTION_FIELDS``) and
    its stored plots (artifact name -> PNG bytes)."""

    row: dict
    doc: dict
    plots: dict[str, bytes] = field(default_factory=dict)


@dataclass
class ReportData:
    """Everything the page shows (plain data; :mod:`screening.report.html` renders it)."""

    campaign: str
    spec: dict
    model: dict
    status: dict
    rows: list[dict]
    scatter_rows: list[dict]
    sections: list[Section]
    screen_points: list[dict]
    screen_points_capped: bool
    flagged: dict[str, int]
    built_at: str


def funnel_steps(status: dict) -> list[tuple[str, int]]:
    """(label, candidates) per tier, widest first, from :func:`campaign_status` counts."""
    c = status["counts"]
    steps = [
        ("enumerated", c["enumerated"]),
        ("passed composition filters", c["passed_filters"]),
        ("stored (prescreen kept, unique)", c["stored"] - c["duplicates"]),
        ("relaxed", c["relaxed"]),
        ("stable (E_hull within the cut)", c["stable"]),
        ("conduction screen (MD)", c["screened"]),
        ("full MD series", c["md_done"]),
    ]
    return [(label, int(n or 0)) for label, n in steps]


def gather(
    store: ResultStore,
    campaign: str,
    *,
    top: int = 20,
    scatter: int = 500,
    screen_points: int = 20_000,
) -> ReportData:
    """Read what the report of ``campaign`` shows.

    Parameters
    ----------
    top : int
        Candidates in the table and with a section of their own.
    scatter : int
        Best candidates in the E_hull vs sigma(300 K) figure.
    screen_points : int
        Most screened candidates in the D histogram.
    """
    store.require_campaign(campaign)
    camp = store.campaign(campaign, fields=("spec", "model", "created_at"))
    best = rank_rows(rank(store, campaign, top=max(top, scatter)))
    rows = best[:top]
    ids = [r["candidate_id"] for r in rows]
    docs = store.candidates(campaign).load(ids, fields=SECTION_FIELDS)
    sections = []
    for r in rows:
        doc = docs.get(r["candidate_id"], {})
        plots = {}
        for key in doc.get("artifacts") or []:
            if key.endswith(".png"):
                data = store.get_artifact(key)
                if data is not None:
                    plots[key.rsplit("/", 1)[-1]] = data
        sections.append(Section(row=r, doc=doc, plots=plots))
    points = screen_diffusivities(store, campaign, limit=screen_points)
    from screening.report.text import FLAG_MEANING

    return ReportData(
        campaign=campaign,
        spec=camp.get("spec") or {},
        model=camp.get("model") or {},
        status=campaign_status(store, campaign),
        rows=rows,
        scatter_rows=best,
        sections=sections,
        screen_points=points,
        screen_points_capped=len(points) >= screen_points,
        flagged=flag_counts(store, campaign, tuple(FLAG_MEANING)),
        built_at=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
