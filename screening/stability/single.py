"""Stability of one structure against a folder of reference phases (the `screening
stability` command and `StabilityMaker` both call this)."""

from __future__ import annotations

from collections.abc import Sequence

from pymatgen.core import Structure

from screening.mlff.registry import LoadedModel
from screening.schemas.results import StabilityResult
from screening.stability.auto import corrected_entries
from screening.stability.hull import stability_analysis
from screening.stability.references import ReferenceSet


def structure_stability(
    structure: Structure,
    model: LoadedModel,
    references: Sequence[Structure],
    *,
    mobile_ion: str,
    store,
    relax: bool = True,
    correction: str = "none",
) -> tuple[Structure, float, StabilityResult]:
    """E_form, E_hull and window of ``structure`` with one MLFF for it and the references.

    Parameters
    ----------
    structure : Structure
        The candidate.
    model : LoadedModel
        The MLFF (references are relaxed with it; energies cached in ``store``).
    references : sequence of Structure
        Reference phases (:func:`load_reference_structures` of a folder).
    mobile_ion : str, keyword-only
        Element whose chemical potential defines the window.
    store : ResultStore, keyword-only
        Where reference energies are cached.
    relax : bool, keyword-only
        Relax the candidate first (else its single-point energy is used).
    correction : str, keyword-only
        ``none`` or ``fere`` (:mod:`screening.stability.correction`); with ``fere`` the
        result also carries the uncorrected formation energy and window.

    Returns
    -------
    (Structure, float, StabilityResult)
        The structure used (relaxed or given), its total energy in eV, and the result.
    """
    from screening.mlff.relax import relax_structure

    entries = ReferenceSet(model, store).entries(references)
    if relax:
        res = relax_structure(structure, model)
        structure, energy = Structure.from_dict(res.structure), res.energy_ev
    else:
        from pymatgen.io.ase import AseAtomsAdaptor

        from screening.mlff.batch import evaluate

        energy = evaluate([AseAtomsAdaptor.get_atoms(structure)], model)[0].energy_ev

    def analyse(refs, corr):
        return stability_analysis(
            structure.composition,
            energy,
            refs,
            mobile_ion=mobile_ion,
            forcefield_name=model.name,
            correction=corr,
        )

    result = analyse(entries, "none")
    if correction != "none":
        plain = result
        result = analyse(corrected_entries(entries, correction, model, store), correction)
        result.uncorrected_formation_energy_ev_per_atom = plain.formation_energy_ev_per_atom
        result.uncorrected_window_v = plain.window_v
    return structure, energy, result
