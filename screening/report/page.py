"""The report page: sections in reading order, and :func:`write_report` for the CLI."""

from __future__ import annotations

import html
import json
from pathlib import Path

import yaml

from screening.report.data import ReportData, funnel_steps, gather
from screening.report.figures import funnel_png, hull_sigma_png, screen_d_png
from screening.report.html import (
    SORT_SCRIPT,
    STYLE,
    candidate_section,
    esc,
    img,
    kv,
    provenance_text,
    ranking_table,
)
from screening.report.text import FLAG_MEANING
from screening.store.ranking import SCORE_LEGEND

SECTIONS = (
    ("funnel", "Funnel"),
    ("ranking", "Ranking"),
    ("hull-sigma", "Stability vs conductivity"),
    ("screen-d", "Conduction screen"),
    ("candidates", "Candidates"),
    ("spec", "Campaign spec and provenance"),
)


def _funnel(data: ReportData) -> str:
    status = data.status
    reasons = [
        (f"rejected: {k}", f"{v:,}") for k, v in sorted(status["rejected_by_reason"].items())
    ]
    reasons += [(f"failed: {k}", f"{v:,}") for k, v in sorted(status["failed_by_reason"].items())]
    c = status["counts"]
    note = (
        f"{c['shards_done']}/{c['shards_total']} generation shards done"
        if c.get("shards_total")
        else ""
    )
    return (
        f"{img(funnel_png(funnel_steps(status)), 'funnel: candidates per tier')}"
        f"<p class=muted>{esc(note)}</p>"
        + (kv(reasons) if reasons else "<p>nothing rejected or failed</p>")
    )


def _ranking(data: ReportData) -> str:
    flags = "".join(
        f"<li>{n} candidate(s) carry <span class=flag>{esc(f)}</span>: {esc(FLAG_MEANING[f])}</li>"
        for f, n in data.flagged.items()
        if n
    )
    return (
        f"<p class=muted>Top {len(data.rows)} by score; click a column heading to sort "
        "(again to reverse). Ids link to the candidate's section.</p>"
        + ranking_table(data.rows)
        + (f"<ul>{flags}</ul>" if flags else "")
        + f"<p class=muted>{esc(SCORE_LEGEND)}</p>"
    )


def _scatter(data: ReportData) -> str:
    shown = [r for r in data.scatter_rows if r["sigma_300k_s_cm"]]
    if not shown:
        return "<p>no candidate has a score yet</p>"
    return (
        img(hull_sigma_png(shown), "E_hull against sigma(300 K)")
        + f"<p class=muted>The best {len(shown)} candidates by score; bars: 95 % intervals "
        "of sigma(300 K); colour: the tier the evidence came from.</p>"
    )


def _screen(data: ReportData) -> str:
    if not data.screen_points:
        return "<p>no candidate was screened (no conduction-screen MD in this campaign)</p>"
    capped = (
        f" (the first {len(data.screen_points):,} read; the campaign has more)"
        if data.screen_points_capped
        else ""
    )
    temps = sorted({round(p["temperature_k"]) for p in data.screen_points})
    span = f"{temps[0]}–{temps[-1]} K" if len(temps) > 1 else f"{temps[0]} K"
    return (
        img(screen_d_png(data.screen_points), "diffusivities from the conduction screen")
        + f"<p class=muted>{len(data.screen_points):,} screened candidates{capped}, "
        f"at {span}.</p>"
    )


def _spec(data: ReportData) -> str:
    prov = next((s.doc["provenance"] for s in data.sections if s.doc.get("provenance")), None)
    model = data.model or {}
    lines = []
    if model:
        lines.append(("model (bound)", esc(json.dumps(model))))
    if prov:
        lines.append(("provenance (best candidate)", provenance_text(prov)))
    spec = yaml.safe_dump(data.spec, sort_keys=False, allow_unicode=True)
    return (kv(lines) if lines else "") + f"<pre>{html.escape(spec)}</pre>"


def render(data: ReportData) -> str:
    """The whole page as one string."""
    nav = "".join(f'<a href="#{k}">{esc(t)}</a>' for k, t in SECTIONS)
    bodies = {
        "funnel": _funnel(data),
        "ranking": _ranking(data),
        "hull-sigma": _scatter(data),
        "screen-d": _screen(data),
        "candidates": "".join(candidate_section(s) for s in data.sections)
        or "<p>no candidate scored yet</p>",
        "spec": _spec(data),
    }
    sections = "".join(
        f'<section id="{k}"><h2>{esc(t)}</h2>{bodies[k]}</section>' for k, t in SECTIONS
    )
    title = f"screening report: {data.campaign}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{esc(data.campaign)}</h1><p class=muted>screening campaign report, "
        f"built {esc(data.built_at)}; {data.status['counts']['stored']:,} candidates stored."
        f"</p><nav>{nav}</nav></header>{sections}<script>{SORT_SCRIPT}</script></body></html>"
    )


def write_report(store, campaign: str, out: Path, *, top: int = 20) -> Path:
    """Build the report of ``campaign`` into folder ``out`` (created) as ``index.html``;
    returns the file's path. The file is written whole (a temporary then a rename)."""
    data = gather(store, campaign, top=top)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(data), encoding="utf-8")
    tmp.replace(path)
    return path
