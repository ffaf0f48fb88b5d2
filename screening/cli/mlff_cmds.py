"""`screening relax` and `screening md`."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from screening.cli.common import (
    check_number,
    emit_json,
    handle_errors,
    is_large_cell,
    quiet_load_model,
)


@handle_errors
def relax(
    file: Path = typer.Argument(..., help="Structure file (CIF, POSCAR, pymatgen JSON, ...)."),
    model: str | None = typer.Option(None, "--model", help="MLFF name (default from settings)."),
    fmax: float = typer.Option(
        0.01,
        "--fmax",
        help="Force threshold, eV/Å (0.01: < 0.5 meV/atom and < 0.6 % volume from a tight "
        "relaxation on small cells, at ~2x the steps of 0.05; bench/relax_fmax.py).",
    ),
    max_steps: int = typer.Option(300, "--max-steps", help="Optimizer step limit."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Write the relaxed structure: .cif, .json (pymatgen), POSCAR or .vasp by name.",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --out file."),
) -> None:
    """Relax positions and cell of one structure with the MLFF."""
    from screening.mlff.relax import relax_structure

    check_number("--fmax", fmax)
    check_number("--max-steps", max_steps, strict=False)
    if out is not None:
        _check_out_file(out, force)  # before the work, not after it
    from screening.schemas.structures import read_structure

    structure = read_structure(file)
    mlff = quiet_load_model(model, structure=structure, source=file)
    res = relax_structure(
        structure,
        mlff,
        fmax=fmax,
        max_steps=max_steps,
        progress_every=10 if is_large_cell(structure) else 0,
    )
    doc = res.model_dump(mode="json")
    doc["model"] = doc["provenance"]["model"]
    if out is not None and res.status != "failed":
        from pymatgen.core import Structure

        fmt = "poscar" if _is_poscar(out) else ""
        Structure.from_dict(res.structure).to(filename=str(out), fmt=fmt)
    if json_out:
        emit_json(doc)
    elif res.status == "failed":
        typer.echo(f"error: {file}: relaxation failed: {res.failure_reason}", err=True)
    else:
        typer.echo(
            f"{structure.composition.reduced_formula}: E = {res.energy_per_atom_ev:.4f} eV/atom, "
            f"converged={res.converged} after {res.n_steps} steps, "
            f"ΔV = {100 * res.volume_change_frac:+.1f}%"
        )
    if res.status == "failed":
        raise typer.Exit(1)


def _is_poscar(path: Path) -> bool:
    return path.suffix.lower() == ".vasp" or path.name.upper().startswith(("POSCAR", "CONTCAR"))


def _check_out_file(path: Path, force: bool) -> None:
    """Refuse an --out the relaxed structure could not be written to, before any work."""
    from screening.schemas.errors import ScreeningInputError

    if path.suffix.lower() not in (".cif", ".json") and not _is_poscar(path):
        raise ScreeningInputError(
            f"--out {path}: expected a .cif, .json, .vasp or POSCAR file name"
        )
    if path.exists() and not force:
        raise ScreeningInputError(f"--out {path}: file exists (use --force to overwrite)")
    parent = path.resolve().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ScreeningInputError(f"--out {path}: folder {parent} is missing or not writable")


@handle_errors
def md(
    file: Path = typer.Argument(..., help="Structure file."),
    temperature: float = typer.Option(..., "--temperature", help="Temperature, K."),
    steps: int = typer.Option(..., "--steps", help="Production steps."),
    mobile_ion: str | None = typer.Option(
        None, "--mobile-ion", help="Recorded element; default: the Li or Na of the structure."
    ),
    model: str | None = typer.Option(None, "--model", help="MLFF name."),
    timestep: float = typer.Option(2.0, "--timestep", help="Time step, fs."),
    equilibration: int = typer.Option(100, "--equilibration", help="Equilibration steps."),
    stride: int = typer.Option(10, "--stride", help="Record every N steps."),
    thermostat: str = typer.Option("nose-hoover-chain", help="nose-hoover-chain|langevin|nve"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Run MLFF MD and report temperature, MSD and status."""
    from screening.md.nvt import run_md
    from screening.schemas.errors import ScreeningInputError

    if thermostat not in ("nose-hoover-chain", "langevin", "nve"):
        raise ScreeningInputError(
            f"--thermostat: expected nose-hoover-chain|langevin|nve, got {thermostat}"
        )
    check_number("--temperature", temperature)
    check_number("--timestep", timestep)
    check_number("--stride", stride, minimum=1, strict=False)
    check_number("--equilibration", equilibration, strict=False)
    if steps < stride:
        raise ScreeningInputError(f"--steps must be >= --stride ({stride}), got {steps}")
    from screening.schemas.structures import mobile_ion_of, read_structure

    structure = read_structure(file)
    mobile_ion = mobile_ion_of(structure, mobile_ion, file)
    mlff = quiet_load_model(model, structure=structure, source=file)
    res, _ = run_md(
        structure,
        mlff,
        temperature_k=temperature,
        steps=steps,
        mobile_ion=mobile_ion,
        timestep_fs=timestep,
        equilibration_steps=equilibration,
        stride=stride,
        thermostat=thermostat,
    )
    if json_out:
        emit_json(res.model_dump(mode="json"))
    else:
        typer.echo(
            f"{res.status}: <T> = {res.temperature_mean_k:.0f} K, {mobile_ion} MSD = "
            f"{res.msd_final_a2:.3f} Å², {res.n_steps} steps in {res.wall_time_s:.1f} s"
        )
    if res.status == "failed":
        raise typer.Exit(1)
