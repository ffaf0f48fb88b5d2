"""Structure-in Makers returning pydantic task documents (compose with atomate2).

``RelaxMaker().make(structure)`` -> :class:`RelaxTaskDocument`;
``StabilityMaker(references=...).make(structure)`` -> :class:`StabilityTaskDocument`;
``DiffusionMaker(...).make(structure)`` -> :class:`DiffusionTaskDocument`. Each accepts a
pymatgen ``Structure`` or its dict, e.g. ``atomate2``'s ``ForceFieldRelaxMaker`` output
``relax_job.output.structure``. Configuration is checked when the Maker is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jobflow import Maker, job

from screening.schemas.results import RELAX_FMAX_EV_A
from screening.schemas.tasks import (
    DiffusionTaskDocument,
    RelaxTaskDocument,
    StabilityTaskDocument,
)


def _structure(structure):
    from pymatgen.core import Structure

    return structure if isinstance(structure, Structure) else Structure.from_dict(structure)


def _common(name: str, s, model) -> dict:
    from screening.schemas.provenance import Provenance

    info = model.info()
    return {
        "task_label": name,
        "formula": s.composition.reduced_formula,
        "forcefield_name": model.name,
        "forcefield_version": info.version,
        "provenance": Provenance(model=info),
    }


@dataclass
class RelaxMaker(Maker):
    """Relax positions and cell of one structure with the MLFF (FIRE, Frechet cell filter)."""

    name: str = "mlff relax"
    fmax_ev_a: float = RELAX_FMAX_EV_A
    max_steps: int = 300
    relax_cell: bool = True
    model: str | None = None

    def __post_init__(self) -> None:
        if not self.fmax_ev_a > 0 or self.max_steps < 1:
            raise ValueError("fmax_ev_a must be > 0 and max_steps >= 1")

    @job
    def make(self, structure) -> RelaxTaskDocument:
        from screening.mlff.registry import load_model
        from screening.mlff.relax import relax_structure

        s = _structure(structure)
        model = load_model(self.model)
        res = relax_structure(
            s, model, fmax=self.fmax_ev_a, max_steps=self.max_steps, relax_cell=self.relax_cell
        )
        return RelaxTaskDocument(
            **_common(self.name, s, model),
            structure=res.structure,
            input_structure=s.as_dict(),
            relax=res,
        )


@dataclass
class StabilityMaker(Maker):
    """E_form, E_hull and window of one structure against a folder of reference phases
    (relaxed with the same MLFF; their energies are cached in the screening database)."""

    name: str = "mlff stability"
    references: str = ""
    mobile_ion: str = "Li"
    relax: bool = True
    model: str | None = None

    def __post_init__(self) -> None:
        if not self.references or not Path(self.references).is_dir():
            raise ValueError(f"references must be a folder of structures, got {self.references!r}")

    @job
    def make(self, structure) -> StabilityTaskDocument:
        from screening.mlff.registry import load_model
        from screening.stability import load_reference_structures
        from screening.stability.single import structure_stability
        from screening.store.results import ResultStore

        references = load_reference_structures(self.references)
        model = load_model(self.model)
        s, energy, stab = structure_stability(
            _structure(structure),
            model,
            references,
            mobile_ion=self.mobile_ion,
            store=ResultStore(),
            relax=self.relax,
        )
        return StabilityTaskDocument(
            **_common(self.name, s, model),
            structure=s.as_dict(),
            energy_per_atom_ev=energy / len(s),
            stability=stab,
        )


@dataclass
class DiffusionMaker(Maker):
    """MD at several temperatures + diffusion analysis + Arrhenius for one structure.

    Composes with atomate2: ``DiffusionMaker().make(relax_job.output.structure)``.
    """

    name: str = "md diffusion"
    temperatures_k: list[float] = field(default_factory=lambda: [800.0, 1000.0, 1200.0])
    steps: int = 2000
    timestep_fs: float = 2.0
    equilibration_steps: int = 200
    mobile_ion: str | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        if not self.temperatures_k or any(t <= 0 for t in self.temperatures_k):
            raise ValueError("temperatures_k must be a non-empty list of positive values")
        if self.steps < 5 or self.timestep_fs <= 0:
            raise ValueError("steps must be >= 5 and timestep_fs > 0")

    @job
    def make(self, structure) -> DiffusionTaskDocument:
        from screening.md.series import diffusion_doc, diffusion_series, n_mobile_per_cm3
        from screening.mlff.registry import load_model
        from screening.schemas.structures import mobile_ion_of

        s = _structure(structure)
        ion = mobile_ion_of(s, self.mobile_ion, "structure")
        model = load_model(self.model)
        runs, fit = diffusion_series(
            s,
            model,
            temperatures_k=self.temperatures_k,
            steps=self.steps,
            mobile_ion=ion,
            timestep_fs=self.timestep_fs,
            equilibration_steps=self.equilibration_steps,
        )
        return DiffusionTaskDocument(
            **_common(self.name, s, model),
            structure=s.as_dict(),
            mobile_ion=ion,
            md={f"{r.md.temperature_target_k:g}": r.md for r in runs},
            diffusion=diffusion_doc(runs, fit, n_mobile_per_cm3=n_mobile_per_cm3(s, ion)),
        )
