"""`screening stability FILE --references DIR`."""

from __future__ import annotations

from pathlib import Path

import typer

from screening.cli.common import emit_json, handle_errors, quiet_load_model


@handle_errors
def stability(
    file: Path = typer.Argument(..., help="Candidate structure file."),
    references: Path = typer.Option(..., "--references", help="Folder of reference phases."),
    model: str | None = typer.Option(None, "--model", help="MLFF name."),
    mobile_ion: str = typer.Option("Li", "--mobile-ion", help="Ion defining the window."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Relax the candidate and the references with one MLFF; E_form, E_hull, window."""
    from screening.schemas.structures import read_structure
    from screening.stability import load_reference_structures
    from screening.stability.single import structure_stability
    from screening.store.results import ResultStore

    structure = read_structure(file)
    ref_structures = load_reference_structures(references)
    mlff = quiet_load_model(model)
    _, _, res = structure_stability(
        structure, mlff, ref_structures, mobile_ion=mobile_ion, store=ResultStore()
    )
    if json_out:
        emit_json(res.model_dump(mode="json"))
    else:
        typer.echo(
            f"E_form = {res.formation_energy_ev_per_atom:.3f} eV/atom, E_hull = "
            f"{res.e_hull_ev_per_atom:.3f} eV/atom, window = {res.window_v} V"
        )
