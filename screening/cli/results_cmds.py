"""`screening export CAMPAIGN` and `screening plot CANDIDATE_ID`: results out of the store."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from screening.cli.common import handle_errors, json_safe, write_csv
from screening.schemas.errors import ScreeningInputError

FORMATS = ("cif", "json", "csv")


@handle_errors
def export(
    name: str = typer.Argument(..., help="Campaign name."),
    top: int = typer.Option(20, "--top", help="How many, best first."),
    fmt: str = typer.Option("cif", "--format", help="cif | json | csv"),
    out: Path = typer.Option(..., "--out", help="Folder to write into (created)."),
    where: str | None = typer.Option(None, "--where", help="Filter, as for `rank`."),
) -> None:
    """Write the top candidates: relaxed structures (CIF), full documents (JSON) or the
    ranking table (CSV)."""
    from pymatgen.core import Structure

    from screening.store.query import parse_where
    from screening.store.ranking import rank, rank_rows
    from screening.store.results import ResultStore

    if fmt not in FORMATS:
        raise ScreeningInputError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if top < 1:
        raise ScreeningInputError(f"--top: expected >= 1, got {top}")
    store = ResultStore(read_only=True)
    store.require_campaign(name)
    rows = rank(store, name, top=top, where=parse_where(where) if where else None)
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        flat = rank_rows(rows)
        path = out / f"{name}_top{top}.csv"
        with path.open("w", newline="") as fh:
            write_csv(flat, fh)
        typer.echo(f"wrote {len(flat)} rows to {path}")
        return
    ids = [r["candidate_id"] for r in rows]
    docs = store.candidates(name).load(ids)
    if fmt == "json":
        path = out / f"{name}_top{top}.json"
        path.write_text(
            json.dumps(json_safe([docs[i] for i in ids]), default=str, indent=1, allow_nan=False)
        )
        typer.echo(f"wrote {len(ids)} documents to {path}")
        return
    for k, i in enumerate(ids, 1):
        d = docs[i]
        s = Structure.from_dict((d.get("relax") or {}).get("structure") or d["structure"])
        s.to(filename=str(out / f"{k:03d}_{d['formula']}_{i}.cif"))
    typer.echo(f"wrote {len(ids)} CIF files (relaxed structures) to {out}")


@handle_errors
def plot(
    candidate_id: str = typer.Argument(..., help="Candidate id, or any unique prefix of it."),
    out: Path = typer.Option(..., "--out", help="Folder to write the PNGs into (created)."),
) -> None:
    """Write the MSD and Arrhenius plots stored with a candidate."""
    from screening.store.results import ResultStore

    store = ResultStore(read_only=True)
    candidate_id = store.resolve_candidate_id(candidate_id)
    doc = store.candidates().get(candidate_id, fields=("artifacts",))
    keys = [k for k in doc.get("artifacts", []) if k.endswith(".png")]
    if not keys:
        raise ScreeningInputError(f"candidate {candidate_id!r}: no plots (it did not reach MD)")
    out.mkdir(parents=True, exist_ok=True)
    for k in keys:
        data = store.get_artifact(k)
        if data is None:
            raise ScreeningInputError(f"candidate {candidate_id!r}: artifact {k} is missing")
        (out / Path(k).name).write_bytes(data)
        typer.echo(str(out / Path(k).name))


@handle_errors
def report(
    name: str = typer.Argument(..., help="Campaign name."),
    out: Path = typer.Option(..., "--out", help="Folder for index.html (created)."),
    top: int = typer.Option(20, "--top", help="Candidates in the table, each with a section."),
) -> None:
    """Write a self-contained HTML report of a campaign (opens from disk: funnel, ranking,
    E_hull vs sigma(300 K), the screen's D, one section per top candidate, spec and
    provenance)."""
    from screening.cli.common import check_writable_folder
    from screening.report.page import write_report
    from screening.store.results import ResultStore

    if top < 1:
        raise ScreeningInputError(f"--top: expected >= 1, got {top}")
    check_writable_folder("--out", out)
    store = ResultStore(read_only=True)
    store.require_campaign(name)
    path = write_report(store, name, out, top=top)
    typer.echo(f"wrote {path} (open it in a browser; no server needed)")
