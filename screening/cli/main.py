"""Entry point: ``screening`` (Typer app)."""

from __future__ import annotations

import warnings

import typer

from screening.cli import (
    campaign_cmds,
    db_cmds,
    diffusion_cmds,
    generate_cmds,
    mlff_cmds,
    plan_cmds,
    results_cmds,
    stability_cmds,
)
from screening.cli.common import setup_logging

app = typer.Typer(
    help="High-throughput MLFF screening of Li/Na solid electrolytes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress.")) -> None:
    setup_logging(verbose)
    warnings.filterwarnings("ignore", category=UserWarning)


app.command("relax")(mlff_cmds.relax)
app.command("md")(mlff_cmds.md)
app.command("generate")(generate_cmds.generate)
app.command("rank")(campaign_cmds.rank_cmd)
app.command("stability")(stability_cmds.stability)
app.command("diffusion", context_settings={"allow_extra_args": True})(diffusion_cmds.diffusion)
app.command("nemd")(diffusion_cmds.nemd)
app.command("export")(results_cmds.export)
app.command("plot")(results_cmds.plot)
app.command("report")(results_cmds.report)
campaign_cmds.campaign_app.command("plan")(plan_cmds.plan)
app.add_typer(campaign_cmds.campaign_app, name="campaign")
app.add_typer(db_cmds.db_app, name="db")


if __name__ == "__main__":
    app()
