"""`screening stability FILE [--references DIR] [--correction none|fere]`."""

from __future__ import annotations

from pathlib import Path

import typer

from screening.cli.common import check_cell_size, emit_json, handle_errors, quiet_load_model


@handle_errors
def stability(
    file: Path = typer.Argument(..., help="Candidate structure file."),
    references: Path | None = typer.Option(
        None,
        "--references",
        help="Folder of reference phases; without it, the shipped reference library for the "
        "structure's chemical system (relaxed once per model, cached).",
    ),
    correction: str = typer.Option(
        "none",
        "--correction",
        help="none, or fere: elemental energies fitted to experimental formation enthalpies "
        "for this model (fitted once, cached; the uncorrected values are printed beside).",
    ),
    model: str | None = typer.Option(None, "--model", help="MLFF name."),
    mobile_ion: str | None = typer.Option(
        None,
        "--mobile-ion",
        help="Ion defining the window (default: the one of Li/Na the structure holds).",
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Relax the candidate and the references with one MLFF; E_form, E_hull, window."""
    from screening.schemas.errors import ScreeningInputError
    from screening.schemas.structures import mobile_ion_of, read_structure
    from screening.stability import load_reference_structures
    from screening.stability.auto import CORRECTIONS, library_structures
    from screening.stability.online import sub_chemsys
    from screening.stability.single import structure_stability
    from screening.store.results import ResultStore

    if correction not in CORRECTIONS:
        raise ScreeningInputError(
            f"--correction: expected one of {', '.join(CORRECTIONS)}, got '{correction}'"
        )
    structure = read_structure(file)
    check_cell_size(structure, file)  # the memory guard relax and md apply
    mobile_ion = mobile_ion_of(structure, mobile_ion, file)  # as `md` infers it
    if references is not None:
        ref_structures = load_reference_structures(references)
        label = f"--references {references}"
    else:
        elements = [str(el) for el in structure.composition.elements]
        ref_structures = library_structures(sub_chemsys(elements))
        label = "reference library"
    others = [(s, f"{label} ({s.composition.reduced_formula})") for s in ref_structures]
    mlff = quiet_load_model(model, structure=structure, source=file, others=others)
    _, _, res = structure_stability(
        structure,
        mlff,
        ref_structures,
        mobile_ion=mobile_ion,
        store=ResultStore(),
        correction=correction,
    )
    if json_out:
        emit_json(res.model_dump(mode="json"))
        return
    line = (
        f"E_form = {res.formation_energy_ev_per_atom:.3f} eV/atom, E_hull = "
        f"{res.e_hull_ev_per_atom:.3f} eV/atom, window = {_window(res.window_v)}"
    )
    if res.correction != "none":
        line += (
            f" ({res.correction}; uncorrected: E_form = "
            f"{res.uncorrected_formation_energy_ev_per_atom:.3f} eV/atom, window = "
            f"{_window(res.uncorrected_window_v)})"
        )
    typer.echo(line)


def _window(w) -> str:
    return "none" if w is None else f"{w[0]:.2f}-{w[1]:.2f} V"
