"""Reference phases for a campaign (folder, the shipped library, or the Materials Project)
and the per-model FERE correction, each relaxed or fitted once and cached.

``references: auto`` draws every chemical system the candidates touch from
:mod:`screening.stability.library`; relaxed energies are cached per (model, weights hash,
structure) in ``reference_phases``, so a second campaign touching a system relaxes nothing.
The FERE fit (:mod:`screening.stability.correction`) is cached per (model, weights hash, fit
set) in ``corrections`` with the model's provenance.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pymatgen.analysis.phase_diagram import PDEntry
from pymatgen.core import Structure

from screening.stability.correction import FIT_ANIONS, FIT_CATIONS, apply_fere, fit_fere

if TYPE_CHECKING:
    from screening.mlff.registry import LoadedModel
    from screening.schemas.campaign import CampaignSpec
    from screening.store.results import ResultStore

logger = logging.getLogger(__name__)
AUTO = "auto"
CORRECTIONS = ("none", "fere")


def _library(chemsys: Iterable[str]) -> list:
    """Library phases of the given chemical systems ('Cl-Li-Y', ...), each once (by name),
    none built yet."""
    from screening.schemas.errors import ScreeningInputError
    from screening.stability.library import library_phases

    seen, out = set(), []
    for system in sorted(set(chemsys)):
        try:
            phases = library_phases(system.split("-"))
        except ValueError as exc:
            raise ScreeningInputError(f"references: auto: {exc}") from None
        for phase in phases:
            if phase.name not in seen:
                seen.add(phase.name)
                out.append(phase)
    return out


def library_structures(chemsys: Iterable[str]) -> list[Structure]:
    """Unrelaxed library phases of the given chemical systems ('Cl-Li-Y', ...), each once."""
    return [phase.structure for phase in _library(chemsys)]


def library_size(chemsys: Iterable[str]) -> int:
    """How many library phases the given chemical systems have (nothing is built)."""
    return len(_library(chemsys))


def campaign_reference_structures(
    spec: CampaignSpec, store: ResultStore | None, chemsys: Iterable[str]
) -> list[Structure]:
    """Every reference phase the campaign names for the candidates' chemical systems."""
    from screening.stability.online import sub_chemsys
    from screening.stability.references import load_reference_structures

    systems = sorted({c for cs in chemsys for c in sub_chemsys(cs.split("-"))})
    structures = []
    if spec.references == AUTO:
        structures += library_structures(systems)
    elif spec.references:
        structures += load_reference_structures(spec.base_dir / spec.references)
    if spec.references_mp:
        from screening.stability.online import mp_reference_structures

        structures += mp_reference_structures(systems, spec.references_mp, store)
    return structures


def campaign_reference_entries(
    spec: CampaignSpec, store: ResultStore | None, model: LoadedModel, chemsys: Iterable[str]
) -> list[PDEntry]:
    """The campaign's reference phases for these chemical systems as entries: relaxed (or
    read from the cache) with ``model`` and corrected as ``spec.references_correction`` says."""
    from screening.stability.references import ReferenceSet

    structures = campaign_reference_structures(spec, store, chemsys)
    entries = ReferenceSet(model, store).entries(structures)
    return corrected_entries(entries, spec.references_correction, model, store)


def fit_set_structures(
    cations: Sequence[str] = FIT_CATIONS, anions: Sequence[str] = FIT_ANIONS
) -> list[Structure]:
    """Library phases of every (cation, anion) pair: the compounds the FERE fit compares
    with experiment (binaries only; ternaries are rarely in the experimental table)."""
    return library_structures(f"{c}-{a}" for c in cations for a in anions if c != a)


def fere_correction(
    model: LoadedModel,
    store: ResultStore | None,
    *,
    cations: Sequence[str] | None = None,
    anions: Sequence[str] | None = None,
) -> dict:
    """The FERE fit for this model (relaxing the fit set once; cached with provenance).

    The fit set is every (cation, anion) pair; default the settings' ``fere_fit_cations`` /
    ``fere_fit_anions``, else the built-in :data:`FIT_CATIONS` x :data:`FIT_ANIONS`.

    Returns
    -------
    dict
        :func:`~screening.stability.correction.fit_fere`'s result plus ``model`` (name,
        version, weights hash), ``fit_set`` and ``created_at``.
    """
    from screening.settings import get_settings
    from screening.stability.references import ReferenceSet, progress

    settings = get_settings()
    cations = cations or settings.fere_fit_cations or FIT_CATIONS
    anions = anions or settings.fere_fit_anions or FIT_ANIONS
    fit_set = {"cations": sorted(cations), "anions": sorted(anions)}
    digest = hashlib.sha256(repr(sorted(fit_set.items())).encode()).hexdigest()[:12]
    fmax = ReferenceSet.fmax  # the fit set's energies depend on how tightly they were relaxed
    key = f"fere:{model.name}:{model.weights_sha256[:16]}:f{fmax:g}:{digest}"

    def compute(_keys: list[str]) -> dict[str, dict]:
        structures = fit_set_structures(cations, anions)
        progress.info(
            "FERE: fitting elemental energies for %s over %d library phases",
            model.name,
            len(structures),
        )
        entries = ReferenceSet(model, store).entries(structures)
        result = fit_fere(entries)
        info = model.info().model_dump(mode="json")
        return {
            key: {
                **result,
                "model": info,
                "fit_set": fit_set,
                "created_at": datetime.now(UTC).isoformat(),
            }
        }

    if store is None:
        return compute([key])[key]
    return store.cached("corrections", [key], compute)[key]


def corrected_entries(
    entries: Sequence[PDEntry],
    correction: str,
    model: LoadedModel,
    store: ResultStore | None,
) -> list[PDEntry]:
    """``entries`` as the named correction wants them (``none``: unchanged)."""
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, got {correction!r}")
    if correction == "none":
        return list(entries)
    return apply_fere(entries, fere_correction(model, store)["mu_ev_per_atom"])
