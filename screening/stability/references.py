"""Reference phases relaxed once per model and cached (``reference_phases`` collection)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from pymatgen.analysis.phase_diagram import PDEntry
from pymatgen.core import Composition, Structure

from screening.mlff.registry import LoadedModel
from screening.mlff.relax import relax_batch
from screening.schemas.errors import ScreeningInputError
from screening.schemas.structures import fingerprint, read_structure

logger = logging.getLogger(__name__)
_SUFFIXES = {".cif", ".json", ".vasp", ".poscar"}


def load_reference_structures(folder: str | Path) -> list[Structure]:
    """Read every structure file of a folder (one phase per file)."""
    p = Path(folder)
    if not p.is_dir():
        raise ScreeningInputError(f"{p}: reference folder not found")
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in _SUFFIXES)
    if not files:
        raise ScreeningInputError(f"{p}: no structure files in the reference folder")
    return [read_structure(f) for f in files]


@dataclass
class ReferenceSet:
    """MLFF energies of reference phases, computed once per (model, structure).

    Parameters
    ----------
    model : LoadedModel
        The same MLFF as the candidates (errors cancel).
    store : ResultStore, optional
        Cache; without one, results live for this object only.
    fmax : float
        Relaxation threshold, eV/Å.
    """

    model: LoadedModel
    store: object | None = None
    fmax: float = 0.05
    relaxed_count: int = field(default=0, init=False)
    _memory: dict = field(default_factory=dict, init=False)

    def _key(self, s: Structure) -> str:
        return f"{self.model.name}:{self.model.weights_sha256[:16]}:{fingerprint(s)}"

    def entries(self, structures: list[Structure]) -> list[PDEntry]:
        """PDEntries (total MLFF energy of the relaxed cell) for the given phases."""
        keys = [self._key(s) for s in structures]
        cached = dict(self._memory)
        if self.store is not None:
            for d in self.store.db["reference_phases"].find({"_id": {"$in": keys}}):
                cached[d["_id"]] = d
        todo = [(k, s) for k, s in zip(keys, structures, strict=True) if k not in cached]
        if todo:
            results = relax_batch([s for _, s in todo], self.model, fmax=self.fmax, max_steps=300)
            self.relaxed_count += len(todo)
            new = {}
            for (k, s), r in zip(todo, results, strict=True):
                new[k] = {
                    "formula": s.composition.formula,
                    "energy_ev": r.energy_ev,
                    "energy_per_atom_ev": r.energy_per_atom_ev,
                    "model": self.model.name,
                    "structure_hash": k.split(":")[-1],
                    "chemsys": s.composition.chemical_system,
                    "structure": r.structure,
                    "converged": r.converged,
                }
            cached.update(new)
            if self.store is not None:
                self.store.upsert("reference_phases", ((k, v, {}) for k, v in new.items()))
                self.store.flush()
        self._memory.update({k: cached[k] for k in keys})
        return [
            PDEntry(
                Composition(cached[k]["formula"]),
                cached[k]["energy_ev"],
                name=Composition(cached[k]["formula"]).reduced_formula,
            )
            for k in keys
        ]
