"""Task documents returned by the structure-in Makers (what an atomate2 user composes).

Field names follow atomate2's ``ForceFieldTaskDocument`` where they overlap
(``structure``, ``forcefield_name``, ``forcefield_version``, ``task_label``); every
document carries :class:`~screening.schemas.provenance.Provenance` (model, weights hash,
package versions, time).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from screening.schemas.documents import DiffusionDoc
from screening.schemas.provenance import Provenance
from screening.schemas.results import MDResult, RelaxResult, StabilityResult, StructureDict


class ForceFieldTask(BaseModel):
    """Fields shared by every task document."""

    task_label: str = Field(description="Name of the job that produced the document.")
    formula: str = Field(description="Reduced formula of the structure.")
    structure: StructureDict = Field(
        description="Output structure (pymatgen Structure.as_dict()): relaxed for a "
        "relaxation, the input otherwise."
    )
    forcefield_name: str = Field(description="MLFF registry name (atomate2 field name).")
    forcefield_version: str = Field(description="Version of the MLFF package.")
    provenance: Provenance = Field(description="Model, weights hash, versions, timestamps.")


class RelaxTaskDocument(ForceFieldTask):
    """Positions + cell relaxation of one structure."""

    input_structure: StructureDict = Field(description="Structure before relaxation.")
    relax: RelaxResult = Field(description="Energies, volumes, forces, convergence.")


class StabilityTaskDocument(ForceFieldTask):
    """E_form, E_hull and electrochemical window of one (relaxed) structure."""

    energy_per_atom_ev: float = Field(description="Relaxed energy per atom used, eV/atom.")
    stability: StabilityResult = Field(description="E_form, E_hull, window, products.")


class DiffusionTaskDocument(ForceFieldTask):
    """MD at several temperatures, D(T) with errors, Arrhenius and sigma(300 K)."""

    mobile_ion: str = Field(description="Mobile element whose diffusion was measured.")
    md: dict[str, MDResult] = Field(description="MD run summary per temperature (K, as text).")
    diffusion: DiffusionDoc = Field(description="D(T), collective conductivity, Arrhenius.")
