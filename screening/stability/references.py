"""Reference phases relaxed once per model and cached (``reference_phases`` collection)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pymatgen.analysis.phase_diagram import PDEntry
from pymatgen.core import Composition, Structure

from screening.mlff.registry import LoadedModel
from screening.mlff.relax import relax_batch
from screening.schemas.errors import ScreeningInputError
from screening.schemas.results import RELAX_FMAX_EV_A
from screening.schemas.structures import fingerprint, read_structure

if TYPE_CHECKING:
    from screening.store.results import ResultStore

logger = logging.getLogger(__name__)
progress = logging.getLogger("screening.progress")
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
        Cache (``ResultStore.cached``); without one, results live for this object only.
    fmax : float
        Relaxation threshold, eV/Å.
    """

    model: LoadedModel
    store: ResultStore | None = None
    fmax: float = RELAX_FMAX_EV_A
    relaxed_count: int = field(default=0, init=False)
    _memory: dict = field(default_factory=dict, init=False)

    def _key(self, s: Structure) -> str:
        # the threshold is part of the key: energies relaxed to another fmax are not reused
        return f"{self.model.name}:{self.model.weights_sha256[:16]}:f{self.fmax:g}:{fingerprint(s)}"

    def _relax_with_progress(self, structures: list[Structure], group: int = 8) -> list:
        """Relax in groups of ``group``, one progress line per group (``screening.progress``
        logger: the CLI shows it on stderr) with the time left at the groups' pace."""
        n, out, t0 = len(structures), [], time.perf_counter()
        progress.info(
            "references: relaxing %d phase(s) with %s (once per model; cached after)",
            n,
            self.model.name,
        )
        for start in range(0, n, group):
            out += relax_batch(
                structures[start : start + group], self.model, fmax=self.fmax, max_steps=300
            )
            elapsed = time.perf_counter() - t0
            left = elapsed / len(out) * (n - len(out))
            progress.info(
                "references: %d/%d relaxed (%.0f s, ~%.0f s left)", len(out), n, elapsed, left
            )
        return out

    def entries(self, structures: list[Structure]) -> list[PDEntry]:
        """PDEntries (total MLFF energy of the relaxed cell) for the given phases."""
        keys = [self._key(s) for s in structures]
        by_key = dict(zip(keys, structures, strict=True))

        def relax(missing: list[str]) -> dict[str, dict]:
            results = self._relax_with_progress([by_key[k] for k in missing])
            self.relaxed_count += len(missing)
            logger.info("relaxed %d reference phase(s) with %s", len(missing), self.model.name)
            return {
                k: {
                    "formula": by_key[k].composition.formula,
                    "energy_ev": r.energy_ev,
                    "energy_per_atom_ev": r.energy_per_atom_ev,
                    "model": self.model.name,
                    "structure_hash": k.split(":")[-1],
                    "chemsys": by_key[k].composition.chemical_system,
                    "structure": r.structure,
                    "converged": r.converged,
                    "relaxed_at": datetime.now(UTC).isoformat(),
                }
                for k, r in zip(missing, results, strict=True)
            }

        todo = [k for k in by_key if k not in self._memory]
        cached = {k: self._memory[k] for k in keys if k in self._memory}
        if todo:
            if self.store is None:
                cached.update(relax(todo))
            else:
                cached.update(self.store.cached("reference_phases", todo, relax))
        self._memory.update({k: cached[k] for k in keys})
        return [
            PDEntry(
                Composition(cached[k]["formula"]),
                cached[k]["energy_ev"],
                name=Composition(cached[k]["formula"]).reduced_formula,
            )
            for k in keys
        ]
