"""`screening campaign ...`, `screening rank`, `screening db init`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from screening.cli.common import emit_json, handle_errors, quiet_load_model, write_csv
from screening.schemas.errors import ScreeningInputError

campaign_app = typer.Typer(help="Validate, run and inspect campaigns.", no_args_is_help=True)


@campaign_app.command("validate")
@handle_errors
def validate(campaign: Path = typer.Argument(..., help="Campaign YAML.")) -> None:
    """Check a campaign file and its prototypes; nothing is stored. Warnings name settings
    that would make results uninformative (no references, MD too short, excluded elements)."""
    from screening.generate.parents import load_prototypes
    from screening.schemas.campaign import load_campaign

    spec = load_campaign(campaign)
    protos = load_prototypes(spec)
    _warn(spec, protos, None)
    typer.echo(f"{spec.name}: valid, {len(protos)} prototype(s)")


def _warn(spec, protos, model: str | None) -> None:
    """Refuse what cannot run (screening.flows.checks: mobile ion, model elements,
    references, memory, no candidate); print the campaign's warnings on stderr."""
    from screening.flows.checks import (
        campaign_warnings,
        check_campaign,
        check_memory,
        check_references,
    )
    from screening.generate.enumerate import Enumerator

    enumerator = Enumerator(spec, protos)
    check_campaign(spec, protos, model, enumerator)
    check_references(spec, protos)
    check_memory(spec, protos)
    for line in campaign_warnings(spec, enumerator):
        typer.echo(f"warning: {line}", err=True)


@campaign_app.command("run")
@handle_errors
def run(
    campaign: Path = typer.Argument(..., help="Campaign YAML."),
    model: str | None = typer.Option(None, "--model", help="MLFF name."),
) -> None:
    """Run the whole funnel locally (resumable: rerun after an interruption)."""
    from screening.flows.local import run_campaign
    from screening.generate.parents import load_prototypes
    from screening.schemas.campaign import load_campaign
    from screening.store.results import ResultStore

    spec = load_campaign(campaign)
    protos = load_prototypes(spec)  # fail on bad prototypes before anything is stored
    if spec.references_mp:
        from screening.stability.online import check_mp_access

        check_mp_access(spec.references_mp)
    store = ResultStore()  # the writer lock first: a second writer fails before any work
    _warn(spec, protos, model)
    mlff = quiet_load_model(model or spec.model)
    from screening.flows.binding import bind_campaign, model_identity

    for line in bind_campaign(store, spec, model_identity(mlff)):
        typer.echo(f"applied: {line}")
    try:
        summary = run_campaign(spec, store, mlff)
    except KeyboardInterrupt:
        typer.echo("interrupted: completed chunks are saved; run again to resume", err=True)
        raise typer.Exit(130) from None
    times = ", ".join(f"{k} {v:.0f} s" for k, v in summary["timings_s"].items())
    typer.echo(f"stage times: {times}")
    from screening.store.ranking import campaign_status

    doc = campaign_status(store, spec.name)
    stored, failed = doc["counts"]["stored"], doc["counts"]["failed"]
    if stored == 0:
        rejected = ", ".join(f"{k} {v}" for k, v in doc["rejected_by_reason"].items())
        raise ScreeningInputError(
            f"campaign {spec.name}: no candidate passed the filters (rejected: "
            f"{rejected or 'none'}); loosen filters or substitutions"
        )
    if failed == stored:
        reasons = ", ".join(f"{k} {v}" for k, v in doc["failed_by_reason"].items())
        raise ScreeningInputError(
            f"campaign {spec.name}: every candidate failed ({reasons}); "
            f"`screening campaign status {spec.name}` shows where"
        )
    typer.echo(f"campaign {spec.name} finished; `screening rank {spec.name}` shows the ranking")


@campaign_app.command("rescore")
@handle_errors
def rescore(
    campaign: Path = typer.Argument(..., help="Campaign YAML (its `score:` weights are used)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Recompute scores from stored results with the campaign's current weights (no MLFF)."""
    from screening.flows.rescore import rescore_campaign
    from screening.schemas.campaign import load_campaign
    from screening.store.results import ResultStore

    spec = load_campaign(campaign)
    out = rescore_campaign(ResultStore(), spec)
    if json_out:
        emit_json(out)
    else:
        typer.echo(f"{spec.name}: {out['scored']} scored, {out['changed']} changed")


@campaign_app.command("submit")
@handle_errors
def submit(
    campaign: Path = typer.Argument(..., help="Campaign YAML."),
    launchpad: Path | None = typer.Option(None, "--launchpad", help="my_launchpad.yaml"),
    force: bool = typer.Option(False, "--force", help="Add even if already submitted."),
) -> None:
    """Add the campaign's workflow to a FireWorks LaunchPad (validated first)."""
    from screening.flows.submit import get_launchpad, submit_campaign

    lp = get_launchpad(launchpad)
    out = submit_campaign(campaign, launchpad=lp, force=force)
    from screening.store.results import ResultStore

    ResultStore().flush()
    typer.echo(
        f"submitted {out['campaign']}: {out['fireworks']} fireworks "
        "(chunk jobs are added as the funnel runs)"
    )


@campaign_app.command("launch")
@handle_errors
def launch(
    launchpad: Path | None = typer.Option(None, "--launchpad", help="my_launchpad.yaml"),
    nlaunches: int = typer.Option(0, "--nlaunches", help="0: until nothing is ready."),
) -> None:
    """Run ready Fireworks in this process until none is left (shares the embedded store
    with the results). Each runs in the current folder, like `rlaunch singleshot`: our jobs
    write to the database, so no launcher_* folder or FW.json is left behind."""
    from screening.flows.submit import get_launchpad
    from screening.store.launchpad import QUIET

    lp = get_launchpad(launchpad)  # before FireWorks binds a MongoClient of its own
    import fireworks.core.rocket as rocket_module
    from fireworks import FWorker
    from fireworks.core.rocket_launcher import launch_rocket

    rocket_module.PRINT_FW_JSON = False
    worker, done = FWorker(), 0
    while (nlaunches == 0 or done < nlaunches) and lp.run_exists(worker):
        if not launch_rocket(lp, worker, strm_lvl=QUIET):
            break
        done += 1
    from screening.store.results import ResultStore

    ResultStore().flush()


@campaign_app.command("status")
@handle_errors
def status(
    name: str = typer.Argument(..., help="Campaign name."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Per-stage counts, failures, and the time left per stage (each stage's own measured
    cost per candidate; before its first chunk, the estimate made when it started)."""
    from screening.flows.remaining import eta_lines, stage_etas
    from screening.store.ranking import campaign_status, stage_counts
    from screening.store.results import ResultStore

    store = ResultStore(read_only=True)
    store.require_campaign(name)
    doc = campaign_status(store, name)
    doc["eta"] = stage_etas(store, name, by_stage=stage_counts(doc))
    if json_out:
        emit_json(doc)
        return
    rows = [(k, str(v)) for k, v in doc["counts"].items()]
    rows += [(f"failed in {k}", str(v)) for k, v in doc["failed_by_reason"].items()]
    rate = doc["throughput"]["candidates_per_hour"]
    rows.append(("finished", f"{'-' if rate is None else f'{rate:.1f}'} candidates/h so far"))
    rows += [("time left" if i == 0 else "", line) for i, line in enumerate(eta_lines(doc["eta"]))]
    width = max(len(k) for k, _ in rows)  # the longest key sets the column: nothing shifts
    for k, v in rows:
        typer.echo(f"{k:>{width}}{':' if k else ' '} {v}")


@handle_errors
def rank_cmd(
    name: str = typer.Argument(..., help="Campaign name."),
    top: int = typer.Option(20, "--top", help="How many."),
    where: str | None = typer.Option(None, "--where", help="e.g. 'e_hull_ev_per_atom<0.05'"),
    json_out: bool = typer.Option(False, "--json"),
    csv_out: bool = typer.Option(False, "--csv"),
) -> None:
    """Rank a campaign's candidates by score."""
    from screening.report.text import FLAG_MEANING
    from screening.store.query import parse_where
    from screening.store.ranking import flag_counts, rank, rank_rows
    from screening.store.results import ResultStore

    if top < 1:
        raise ScreeningInputError(f"--top: expected >= 1, got {top}")
    flt = parse_where(where) if where else None
    store = ResultStore(read_only=True)
    store.require_campaign(name)
    rows = rank(store, name, top=top, where=flt)
    flat = rank_rows(rows)
    if json_out:
        emit_json(flat)
        return
    if csv_out:
        write_csv(flat, sys.stdout)
        return
    _print_table(name, flat, flag_counts(store, name, tuple(FLAG_MEANING)))


ID_PREFIX = 10  # the table shows this much of each id; every command takes any unique prefix


def _print_table(name: str, flat: list[dict], flagged: dict[str, int]) -> None:
    """The ranking as a rich table, the flag counts and the score legend (full ids:
    --json / --csv)."""
    from screening.report.text import FLAG_MEANING, d_text, e_hull_text, ea_text, sigma_text

    table = Table(title=f"{name}: top {len(flat)} by score", title_justify="left")
    cols = ("#", "formula", "ord", "score", "E_hull eV/at", "σ(300 K) S/cm [95 %]", "Ea eV")
    for col in (*cols, "D(T) cm²/s", "N_eff", "tier", "sampling", "flags", "id"):
        # ids and formulas are never cut (an id shown must be an id accepted); others wrap
        table.add_column(col, no_wrap=col in ("id", "formula"), min_width=min(len(col), 8))
    for r in flat:
        table.add_row(
            str(r["rank"]),
            r["formula"],
            "-" if r["ordering"] is None else str(r["ordering"]),
            f"{r['score']:.2f}",
            e_hull_text(r),
            sigma_text(r),
            ea_text(r),
            d_text(r),
            "-" if r["n_eff"] is None else f"{r['n_eff']:.0f}",
            str(r["tier"] or "-"),
            str(r["sampling"] or "-"),
            ", ".join(r["flags"]) or "-",
            r["candidate_id"][:ID_PREFIX],
        )
    # never cut to a narrow terminal or an 80-column pipe: a long line wraps, nothing is lost
    console = Console(width=max(Console().width, 170))
    console.print(table)
    for flag, n in flagged.items():
        if n:
            console.print(f"{n} candidate(s) of {name} carry {flag}: {FLAG_MEANING[flag]}")
    from screening.store.ranking import SCORE_LEGEND

    console.print(SCORE_LEGEND, style="dim")
