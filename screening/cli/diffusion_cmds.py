"""`screening diffusion FILE --temperatures ...` (MD + analysis for one structure)."""

from __future__ import annotations

from pathlib import Path

import typer

from screening.cli.common import (
    check_number,
    check_writable_folder,
    emit_json,
    handle_errors,
    parse_temperatures,
    quiet_load_model,
)

MOBILE_HELP = "Li or Na; default: the one the structure contains."


@handle_errors
def diffusion(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Structure file (ideally relaxed)."),
    temperatures: list[str] = typer.Option(
        ..., "--temperatures", help="K: '600 800 1000', '600,800,1000' or repeated flags."
    ),
    steps: int = typer.Option(..., "--steps", help="Production steps per temperature."),
    mobile_ion: str | None = typer.Option(None, "--mobile-ion", help=MOBILE_HELP),
    model: str | None = typer.Option(None, "--model"),
    timestep: float = typer.Option(2.0, "--timestep", help="fs"),
    equilibration: int = typer.Option(200, "--equilibration"),
    min_n_eff: float = typer.Option(20.0, "--min-n-eff"),
    plots: Path | None = typer.Option(None, "--plots", help="Folder for MSD/Arrhenius PNGs."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """MD at each temperature -> D(T) with errors -> Ea and sigma(300 K)."""
    from screening.md.series import (
        diffusion_doc,
        diffusion_series,
        msd_curves,
        n_mobile_per_cm3,
        plot_title,
    )
    from screening.schemas.errors import ScreeningInputError

    temperatures = parse_temperatures("--temperatures", temperatures, ctx.args)
    check_number("--timestep", timestep)
    check_number("--equilibration", equilibration, strict=False)
    check_number("--min-n-eff", min_n_eff, strict=False)
    if steps < 5:
        raise ScreeningInputError(f"--steps: expected >= 5 (one record every 5 steps), got {steps}")
    from screening.analysis.score import evidence_fields
    from screening.schemas.structures import mobile_ion_of, read_structure

    structure = read_structure(file)
    mobile_ion = mobile_ion_of(structure, mobile_ion, file)
    if plots:
        check_writable_folder("--plots", plots)  # before the MD, not after it
    mlff = quiet_load_model(model, structure=structure, source=file)
    done = _Pace(
        "diffusion",
        structure,
        mlff,
        runs=len(temperatures),
        steps_per_run=equilibration + steps,
        what=f"{len(temperatures)} temperature(s)",
    )
    runs, fit = diffusion_series(
        structure,
        mlff,
        temperatures_k=temperatures,
        steps=steps,
        mobile_ion=mobile_ion,
        timestep_fs=timestep,
        equilibration_steps=equilibration,
        min_n_eff=min_n_eff,
        on_temperature=lambda t: done(f"{t:.0f} K"),
    )
    per_t = [r.diffusion for r in runs]
    n = n_mobile_per_cm3(structure, mobile_ion)
    if plots:
        from screening.analysis.plots import arrhenius_plot, msd_plot

        plots.mkdir(parents=True, exist_ok=True)
        title = plot_title(structure.composition.reduced_formula, file.name, mlff.name)
        (plots / "msd.png").write_bytes(msd_plot(msd_curves(runs), title=title))
        (plots / "arrhenius.png").write_bytes(arrhenius_plot(per_t, fit, title=title))
    ddoc = diffusion_doc(runs, fit, n_mobile_per_cm3=n).model_dump(mode="json")
    evidence = evidence_fields(
        {
            "diffusion": ddoc,
            "formula": structure.composition.reduced_formula,
            "mobile_ion": mobile_ion,
        }
    )["evidence"]
    doc = {
        "temperatures": [
            {**d, "md_status": r.md.status, "temperature_target_k": r.md.temperature_target_k}
            for d, r in zip(ddoc.pop("per_temperature"), runs, strict=True)
        ],
        **ddoc.pop("arrhenius"),
        **ddoc,
        "evidence": evidence,
    }
    if json_out:
        emit_json(doc)
    else:
        for r in per_t:
            d = (
                f"{r.diffusivity_cm2_s:.2e} ± {r.diffusivity_cm2_s_err:.1e}"
                if r.diffusivity_cm2_s
                else f"< {r.diffusivity_upper_cm2_s:.1e}"
                if r.diffusivity_upper_cm2_s is not None
                else "-"
            )
            coll = (
                f"  sigma_coll = {r.conductivity_collective_s_cm:.2e} ± "
                f"{r.conductivity_collective_err_s_cm:.1e} S/cm"
                if r.collective_status == "ok"
                else f"  sigma_coll: {r.collective_status}"
                if r.collective_status is not None
                else ""
            )
            typer.echo(
                f"{r.temperature_k:7.0f} K  D = {d} cm2/s  N_eff = {r.n_eff:.1f}  {r.status}{coll}"
            )
        for line in _summary(fit, evidence, doc["haven_status"]):
            typer.echo(line)
    if all(r.md.status == "failed" for r in runs):
        typer.echo(f"error: {file}: MD failed at every temperature", err=True)
        raise typer.Exit(1)


@handle_errors
def nemd(
    file: Path = typer.Argument(..., help="Structure file (ideally relaxed)."),
    fields: list[float] = typer.Option(
        ..., "--field-v-per-a", help="Field strength, V/Å; repeat for a linearity check."
    ),
    temperature: float = typer.Option(..., "--temperature", help="K."),
    steps: int = typer.Option(..., "--steps", help="Production steps per field."),
    mobile_ion: str | None = typer.Option(None, "--mobile-ion", help=MOBILE_HELP),
    model: str | None = typer.Option(None, "--model"),
    timestep: float = typer.Option(2.0, "--timestep", help="fs"),
    equilibration: int = typer.Option(200, "--equilibration", help="Steps under the field."),
    stride: int = typer.Option(5, "--stride", help="Record every N steps."),
    direction: str = typer.Option("x", "--direction", help="Field along x, y or z."),
    blocks: int = typer.Option(10, "--blocks", help="Blocks for the current's error."),
    seed: int = typer.Option(0, "--seed"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Non-equilibrium MD under a constant field: sigma = <J>/E per field, linearity check."""
    import math

    from screening.analysis.nemd import nemd_conductivity
    from screening.md.nemd import nominal_charges, run_nemd
    from screening.schemas.errors import ScreeningInputError

    axes = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}
    if direction not in axes:
        raise ScreeningInputError(f"--direction: expected x, y or z, got {direction!r}")
    if any(not math.isfinite(e) or e == 0 for e in fields):
        raise ScreeningInputError("--field-v-per-a: expected finite, non-zero fields (V/Å)")
    check_number("--temperature", temperature)
    check_number("--timestep", timestep)
    check_number("--stride", stride, minimum=1, strict=False)
    check_number("--blocks", blocks, minimum=2, strict=False)
    check_number("--steps", steps, minimum=2 * stride, strict=False)
    from screening.schemas.structures import mobile_ion_of, read_structure

    structure = read_structure(file)
    mobile_ion = mobile_ion_of(structure, mobile_ion, file)
    try:
        charges = nominal_charges(structure)
    except ValueError as exc:
        raise ScreeningInputError(f"{file}: {exc}") from None
    mlff = quiet_load_model(model, structure=structure, source=file)
    done = _Pace(
        "nemd",
        structure,
        mlff,
        runs=len(fields),
        steps_per_run=equilibration + steps,
        what=f"{len(fields)} field(s)",
    )
    runs = []
    for e in sorted(fields, key=abs):
        runs.append(
            run_nemd(
                structure,
                mlff,
                field_v_per_a=e,
                temperature_k=temperature,
                steps=steps,
                mobile_ion=mobile_ion,
                direction=axes[direction],
                timestep_fs=timestep,
                equilibration_steps=equilibration,
                stride=stride,
                seed=seed,
                charges=charges,
            )
        )
        done(f"E = {e:g} V/Å")
    results = nemd_conductivity(runs, n_blocks=blocks)
    if json_out:
        emit_json(
            {
                "formula": structure.composition.reduced_formula,
                "temperature_k": temperature,
                "direction": direction,
                "thermostat": "langevin-perpendicular-to-field",
                "charges": {
                    site.specie.symbol: float(c) for site, c in zip(structure, charges, strict=True)
                },
                "fields": [r.model_dump(mode="json") for r in results],
            }
        )
    else:
        for r in results:
            s = (
                f"sigma = {r.conductivity_s_cm:.3e} ± {r.conductivity_err_s_cm:.1e} S/cm"
                if r.conductivity_s_cm is not None
                else f"failed: {r.failure_reason}"
            )
            typer.echo(
                f"E = {r.field_v_per_a:g} V/Å  {s}  <T> = {r.temperature_mean_k or 0:.0f} K  "
                f"linear_response={r.linear_response}"
            )
    if all(r.conductivity_s_cm is None for r in results):
        raise typer.Exit(1)


def _summary(fit, evidence: dict, haven_status: str) -> list[str]:
    """The fit and the evidence model's sigma(300 K), each as x ± y / c [lo, hi] or
    'no fit' (never a bare None)."""
    if fit.status == "ok":
        arr = (
            f"Arrhenius fit: Ea = {fit.activation_energy_ev:.3f} ± "
            f"{fit.activation_energy_err_ev:.3f} eV, sigma(300 K) = "
            f"{fit.conductivity_300k_s_cm:.1e} [{fit.conductivity_300k_lower_s_cm:.0e}, "
            f"{fit.conductivity_300k_upper_s_cm:.0e}] S/cm (95 %)"
        )
    else:
        arr = f"Arrhenius fit: no fit ({', '.join(fit.flags) or fit.status})"
    ev = evidence
    ea = (
        "no MD evidence"
        if ev["ea_ev"] is None
        else f"Ea = {ev['ea_ev']:.3f} ± {ev['ea_err_ev']:.3f} eV"
    )
    post = (
        f"evidence model (the ranking's; prior Ea {ev['prior']['ea_ev']} ± "
        f"{ev['prior']['ea_sd_ev']} eV): {ea}, sigma(300 K) = {ev['sigma300_s_cm']:.1e} "
        f"[{ev['sigma300_lower_s_cm']:.0e}, {ev['sigma300_upper_s_cm']:.0e}] S/cm (95 %)"
    )
    flags = ", ".join(sorted(set(fit.flags) | set(ev["flags"]))) or "none"
    return [arr, post, f"Haven ratio = {fit.haven_ratio:.2f} ({haven_status})  flags: {flags}"]


class _Pace:
    """Progress of a command that runs several MD runs: an estimate before the first (one
    timed force call times the steps), then a line per finished run with the time left at
    the measured pace. Lines go to stderr (stdout stays the result, e.g. --json)."""

    def __init__(self, command: str, structure, mlff, *, runs: int, steps_per_run: int, what: str):
        import time

        from screening.flows.eta import time_force_call

        self.command, self.runs, self.done = command, runs, 0
        per_step = time_force_call(structure, mlff)
        typer.echo(
            f"{command}: {what} x {steps_per_run:,} steps of "
            f"{structure.composition.reduced_formula} ({len(structure)} atoms); one step takes "
            f"{per_step * 1000:.0f} ms -> ~{per_step * steps_per_run * runs / 60:.1f} min",
            err=True,
        )
        self._clock = time.perf_counter
        self.t0 = self._clock()

    def __call__(self, label: str) -> None:
        self.done += 1
        elapsed = self._clock() - self.t0
        left = elapsed / self.done * (self.runs - self.done)
        typer.echo(
            f"{self.command}: {label} done ({self.done}/{self.runs}, {elapsed / 60:.1f} min, "
            f"~{left / 60:.1f} min left)",
            err=True,
        )
