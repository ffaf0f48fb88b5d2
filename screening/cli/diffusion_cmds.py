"""`screening diffusion FILE --temperatures ...` (MD + analysis for one structure)."""

from __future__ import annotations

from pathlib import Path

import typer

from screening.cli.common import emit_json, handle_errors, quiet_load_model
from screening.generate.readers import read_structure, require_element


@handle_errors
def diffusion(
    file: Path = typer.Argument(..., help="Structure file (ideally relaxed)."),
    temperatures: list[float] = typer.Option(..., "--temperatures", help="K, repeatable."),
    steps: int = typer.Option(..., "--steps", help="Production steps per temperature."),
    mobile_ion: str = typer.Option("Li", "--mobile-ion"),
    model: str | None = typer.Option(None, "--model"),
    timestep: float = typer.Option(2.0, "--timestep", help="fs"),
    equilibration: int = typer.Option(200, "--equilibration"),
    min_n_eff: float = typer.Option(20.0, "--min-n-eff"),
    plots: Path | None = typer.Option(None, "--plots", help="Folder for MSD/Arrhenius PNGs."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """MD at each temperature -> D(T) with errors -> Ea and sigma(300 K)."""
    from screening.md.series import diffusion_series, n_mobile_per_cm3
    from screening.schemas.errors import ScreeningInputError

    structure = read_structure(file)
    require_element(structure, mobile_ion, file)
    if any(t <= 0 for t in temperatures):
        raise ScreeningInputError("--temperatures must be > 0 K")
    mlff = quiet_load_model(model)
    runs, fit = diffusion_series(
        structure,
        mlff,
        temperatures_k=temperatures,
        steps=steps,
        mobile_ion=mobile_ion,
        timestep_fs=timestep,
        equilibration_steps=equilibration,
        min_n_eff=min_n_eff,
    )
    per_t = [r.diffusion for r in runs]
    curves = [(r.md.temperature_target_k, r.analysis.curve) for r in runs if r.analysis]
    n = n_mobile_per_cm3(structure, mobile_ion)
    if plots:
        from screening.analysis.plots import arrhenius_plot, msd_plot

        plots.mkdir(parents=True, exist_ok=True)
        (plots / "msd.png").write_bytes(msd_plot(curves))
        (plots / "arrhenius.png").write_bytes(arrhenius_plot(per_t, fit))
    doc = {
        "temperatures": [
            {**r.diffusion.model_dump(mode="json"), "md_status": r.md.status} for r in runs
        ],
        **fit.model_dump(mode="json"),
        "haven_ratio": 1.0,
        "n_mobile_per_cm3": n,
    }
    if json_out:
        emit_json(doc)
    else:
        for r in per_t:
            d = (
                f"{r.diffusivity_cm2_s:.2e} ± {r.diffusivity_cm2_s_err:.1e}"
                if r.diffusivity_cm2_s
                else f"< {r.diffusivity_upper_cm2_s:.1e}"
            )
            typer.echo(
                f"{r.temperature_k:7.0f} K  D = {d} cm2/s  N_eff = {r.n_eff:.1f}  {r.status}"
            )
        typer.echo(
            f"Ea = {fit.activation_energy_ev}  sigma(300 K) = "
            f"{fit.conductivity_300k_s_cm} S/cm  flags={fit.flags}"
        )
