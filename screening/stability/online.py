"""Reference phases from the Materials Project API (optional; online only).

Structures are fetched once per chemical system and kept in the ``reference_structures``
collection, so later campaigns (and offline reruns) reuse them; their energies are always
recomputed with the campaign's MLFF (:class:`screening.stability.ReferenceSet`), never taken
from MP, so that errors cancel against the candidates.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable

from pymatgen.core import Structure

from screening.mlff.registry import is_online
from screening.schemas.campaign import MPReferenceSpec
from screening.schemas.errors import ScreeningInputError

logger = logging.getLogger(__name__)

MP_HOST = "api.materialsproject.org"


def sub_chemsys(elements: Iterable[str]) -> list[str]:
    """Every chemical system spanned by ``elements`` ('Cl', 'Cl-Li', ..., 'Cl-Li-Y').

    Sorted, hyphen-joined, as the Materials Project writes them.
    """
    els = sorted(set(elements))
    return ["-".join(c) for n in range(1, len(els) + 1) for c in itertools.combinations(els, n)]


def mp_reference_structures(chemsys: Iterable[str], spec: MPReferenceSpec, store=None) -> list:
    """Structures of MP phases within ``spec.e_above_hull_max_ev`` for the given systems.

    Parameters
    ----------
    chemsys : iterable of str
        Chemical systems, e.g. from :func:`sub_chemsys` of each candidate's elements.
    spec : MPReferenceSpec
        Threshold and the name of the API-key variable.
    store : ResultStore, optional
        Cache (``reference_structures``, one document per chemical system).

    Raises
    ------
    ScreeningInputError
        One line: no API key, no network, or mp-api not installed, with the fix.
    """
    wanted = sorted(set(chemsys))

    def fetch(missing: list[str]) -> dict[str, dict]:
        return {
            c: {"structures": v, "e_above_hull_max_ev": spec.e_above_hull_max_ev}
            for c, v in _fetch(missing, spec).items()
        }

    if store is None:
        cached = fetch(wanted)
    else:
        cached = store.cached(
            "reference_structures",
            wanted,
            fetch,
            valid=lambda d: d.get("e_above_hull_max_ev", -1) >= spec.e_above_hull_max_ev,
        )
    return [Structure.from_dict(s) for c in wanted for s in cached[c]["structures"]]


def check_mp_access(spec: MPReferenceSpec) -> str:
    """Fail early (before any work is stored) when MP references cannot be fetched.

    Returns the API key. Raises :class:`ScreeningInputError` with the fix otherwise.
    """
    key = os.environ.get(spec.api_key_env)
    if not key:
        raise ScreeningInputError(
            f"references_mp: no Materials Project API key in ${spec.api_key_env}; "
            "set it, or remove references_mp and list phases in a references folder"
        )
    if not is_online(MP_HOST):
        raise ScreeningInputError(
            f"references_mp: {MP_HOST} is not reachable (offline); "
            "use a references folder on offline machines"
        )
    try:
        import mp_api.client  # noqa: F401
    except ImportError:
        raise ScreeningInputError(
            "references_mp: the mp-api package is not installed (pip install 'screening[mp]')"
        ) from None
    return key


def _fetch(chemsys: list[str], spec: MPReferenceSpec) -> dict[str, list]:
    key = check_mp_access(spec)
    from mp_api.client import MPRester

    out: dict[str, list] = {c: [] for c in chemsys}
    with MPRester(key) as mpr:
        docs = mpr.materials.summary.search(
            chemsys=chemsys,
            energy_above_hull=(0, spec.e_above_hull_max_ev),
            fields=["material_id", "chemsys", "structure"],
        )
    for d in docs:
        out.setdefault(d.chemsys, []).append(d.structure.as_dict())
    logger.info("fetched %d MP phases for %d chemical systems", len(docs), len(chemsys))
    return out
