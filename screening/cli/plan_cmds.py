"""`screening campaign plan`: counts per tier and what they cost on this machine."""

from __future__ import annotations

from pathlib import Path

import typer

from screening.cli.common import emit_json, handle_errors, quiet_load_model


@handle_errors
def plan(
    campaign: Path = typer.Argument(..., help="Campaign YAML."),
    cpus: int = typer.Option(1, "--cpus", help="CPU workers for the wall-time estimate."),
    gpus: int = typer.Option(0, "--gpus", help="GPU workers for the wall-time estimate."),
    calibrate: bool = typer.Option(
        False, "--calibrate", help="Time each tier on a few candidates here first (cached)."
    ),
    model: str | None = typer.Option(None, "--model", help="MLFF name (calibration)."),
    calibration: Path | None = typer.Option(
        None,
        "--calibration",
        help="Use this calibration file (one written by --calibrate elsewhere, e.g. on a GPU "
        "node) instead of this machine's cache.",
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Candidates per tier, seconds per candidate, CPU/GPU hours, wall time, database size."""
    from screening.flows.plan import cached_calibration
    from screening.flows.plan import calibrate as run_calibration
    from screening.flows.plan import plan as make_plan
    from screening.schemas.campaign import load_campaign
    from screening.schemas.errors import ScreeningInputError

    if cpus < 1 or gpus < 0:
        raise ScreeningInputError(f"--cpus must be >= 1 and --gpus >= 0, got {cpus}, {gpus}")
    spec = load_campaign(campaign)
    from screening.flows.checks import check_references
    from screening.generate.parents import load_prototypes

    prototypes = load_prototypes(spec)
    check_references(spec, prototypes)  # as validate / run / submit do
    if calibration is not None and not calibration.is_file():
        raise ScreeningInputError(f"--calibration {calibration}: no such file")
    if calibrate:
        from screening.cli.common import check_writable_folder
        from screening.settings import get_settings

        # the calibration is cached in the data dir: refuse now, not after timing the tiers
        check_writable_folder("--calibrate (SCREENING_DATA_DIR)", get_settings().data_dir)
        calib = run_calibration(spec, quiet_load_model(model or spec.model))
    else:
        try:
            calib = cached_calibration(spec, model, path=calibration, gpu=gpus > 0 or None)
        except ValueError as exc:
            raise ScreeningInputError(str(exc)) from None
        if calibration is not None and calib is None:
            raise ScreeningInputError(
                f"--calibration {calibration}: no calibration of campaign '{spec.name}'"
                + (f" with model '{model}'" if model else "")
            )
    doc = make_plan(spec, cpus=cpus, gpus=gpus, calibration=calib, prototypes=prototypes)
    if json_out:
        emit_json(doc)
        return

    def fmt(x, spec_: str) -> str:
        return "unknown" if x is None else format(x, spec_)

    typer.echo(
        f"{spec.name}: {doc['enumerated']:,} enumerated, {doc['passed_filters']:,} pass the "
        "composition filters"
    )
    typer.echo(f"{'tier':<22}{'candidates':>14}{'s/candidate':>14}{'CPU h':>12}{'GPU h':>12}")
    for t in doc["tiers"]:
        typer.echo(
            f"{t['name']:<22}{fmt(t['count'], ','):>14}"
            f"{fmt(t['seconds_per_candidate'], '.3g'):>14}"
            f"{fmt(t['cpu_hours'], '.3g'):>12}{fmt(t['gpu_hours'], '.3g'):>12}"
        )
    typer.echo(
        f"wall time on {cpus} CPU / {gpus} GPU worker(s): {fmt(doc['wall_hours'], '.3g')} h; "
        f"database: {fmt(doc['database_gb'], '.3g')} GB of candidate documents"
    )
    if calib is None:
        typer.echo("times unknown: run with --calibrate (times a few candidates here)")
    else:
        typer.echo(f"calibrated on {calib['sample']} candidate(s), {calib['device']}")
    typer.echo(doc["anchor"])
