"""`screening generate CAMPAIGN.yaml --count | --limit N --out FILE.jsonl`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from screening.cli.common import check_out_folder, emit_json, handle_errors


@handle_errors
def generate(
    campaign: Path = typer.Argument(..., help="Campaign YAML."),
    count: bool = typer.Option(False, "--count", help="Size the space; build nothing."),
    limit: int = typer.Option(0, "--limit", help="Write at most N candidates (0: all)."),
    out: Path | None = typer.Option(None, "--out", help="JSONL file for candidates."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --out file."),
) -> None:
    """Enumerate a campaign's candidates (streamed) and report per-filter counts."""
    from screening.generate.enumerate import Enumerator, build_structure
    from screening.generate.parents import load_prototypes
    from screening.schemas.campaign import load_campaign
    from screening.schemas.errors import ScreeningInputError

    spec = load_campaign(campaign)
    enum = Enumerator(spec, load_prototypes(spec))
    if count:
        summary = enum.count()
    else:
        if out is None:
            raise ScreeningInputError("--out FILE.jsonl is required unless --count is given")
        check_out_folder(out)
        if out.resolve() == campaign.resolve():
            raise ScreeningInputError(f"--out {out}: that is the campaign file")
        if out.exists() and not force:
            raise ScreeningInputError(f"--out {out}: file exists; use --force to overwrite it")
        tmp = out.with_suffix(out.suffix + ".part")
        written = 0
        with open(tmp, "w") as fh:
            for ref in enum:
                s = build_structure(ref, enum)
                fh.write(
                    json.dumps(
                        {
                            "candidate_id": ref.candidate_id,
                            "formula": ref.formula,
                            "prototype": enum.prototypes[ref.prototype].name,
                            "substitution": ref.substitution,
                            "ordering": ref.ordering,
                            "structure": s.as_dict(),
                        }
                    )
                    + "\n"
                )
                written += 1
                if limit and written >= limit:
                    break
        tmp.replace(out)  # never leave a half-written file under the final name
        summary = {**enum.summary(), "written": written, "out": str(out)}
        if limit and written >= limit:
            summary["note"] = "counts cover the part of the space enumerated before --limit"
    if json_out:
        emit_json(summary)
    else:
        typer.echo(f"enumerated {summary['enumerated']:,}, passed {summary['passed']:,}")
        for reason, n in summary["rejected_by_reason"].items():
            typer.echo(f"  rejected {reason}: {n:,}")
        if summary["excluded_elements"]:
            typer.echo(
                f"  filters.exclude_elements removed: {', '.join(summary['excluded_elements'])}"
            )
