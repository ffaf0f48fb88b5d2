"""Formation energies vs experiment, and fitted elemental reference energies (FERE).

MLFF formation energies of the library's binaries are compared with the experimental
formation enthalpies that pymatgen ships (``exp_compounds.json.gz``: 2,135 compounds, eV per
formula unit at 298 K, with Materials Project ids). The fit (Stevanović et al., Phys. Rev. B
85, 115104 (2012)) finds one energy per element, mu_i, minimising
sum_c (E_c - sum_i n_ci mu_i - H_c^exp)^2 over the compounds c (the lowest MLFF polymorph of
each formula), with a weak pull (``ridge``) of each mu_i towards the MLFF's own elemental
energy so that elements seen in few compounds stay determined. Applied, mu_i replaces the
elemental reference energies: E_hull between compounds is unchanged; formation energies and
voltages move. Never applied silently: callers pass ``correction="fere"``.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from importlib.resources import files

import numpy as np
from pymatgen.analysis.phase_diagram import PDEntry
from pymatgen.core import Composition

logger = logging.getLogger(__name__)

#: Elements of the default fit set: every pair (cation, anion) of these spans the binaries
#: whose experimental enthalpies calibrate the correction.
FIT_CATIONS = (
    "Li", "Na", "K", "Mg", "Ca", "Sr", "Ba", "Zn", "Al", "Ga", "In", "Y", "Sc", "La", "Zr",
    "Hf", "Ti", "Si", "Ge", "Sn", "P",
)  # fmt: skip
FIT_ANIONS = ("F", "Cl", "Br", "I", "O", "S", "Se", "N")
ANION_FAMILIES = {"F": "fluoride", "Cl": "chloride", "Br": "bromide", "I": "iodide",
                  "O": "oxide", "S": "sulfide", "Se": "selenide", "N": "nitride"}  # fmt: skip


def experimental_enthalpies() -> dict[str, float]:
    """Reduced formula -> experimental formation enthalpy, eV per atom (pymatgen's table)."""
    path = files("pymatgen.analysis.compatibility").joinpath("exp_compounds.json.gz")
    with gzip.open(str(path), "rt") as fh:
        rows = json.load(fh)
    out = {}
    for r in rows:
        comp = Composition(r["formula"])
        out.setdefault(comp.reduced_formula, r["exp energy"] / comp.num_atoms)
    return out


def lowest_by_formula(entries: Iterable[PDEntry]) -> dict[str, PDEntry]:
    """The lowest-energy-per-atom entry of each reduced formula."""
    best: dict[str, PDEntry] = {}
    for e in entries:
        f = e.composition.reduced_formula
        if f not in best or e.energy_per_atom < best[f].energy_per_atom:
            best[f] = e
    return best


def formation_per_atom(entry: PDEntry, mu: Mapping[str, float]) -> float:
    """(E - sum_i n_i mu_i) / N, eV/atom."""
    comp = entry.composition
    return (entry.energy - sum(n * mu[str(el)] for el, n in comp.items())) / comp.num_atoms


def fit_fere(
    entries: Sequence[PDEntry],
    experimental: Mapping[str, float] | None = None,
    *,
    ridge: float = 0.05,
) -> dict:
    """Fit elemental reference energies to experimental formation enthalpies.

    Parameters
    ----------
    entries : sequence of PDEntry
        MLFF total energies (eV) of elements and compounds (any number of polymorphs).
    experimental : mapping, optional
        Reduced formula -> formation enthalpy, eV/atom; default pymatgen's table.
    ridge : float, keyword-only
        Weight pulling each mu_i towards the MLFF elemental energy (eV/atom scale).

    Returns
    -------
    dict
        ``mu_ev_per_atom`` (element -> fitted energy), ``mlff_mu_ev_per_atom``, ``compounds``
        (formula -> {mlff, corrected, experiment} formation energies, eV/atom), and
        ``mae_ev_per_atom`` / ``mae_by_family`` before and after.
    """
    experimental = experimental_enthalpies() if experimental is None else experimental
    best = lowest_by_formula(entries)
    mu0 = {f: e.energy_per_atom for f, e in best.items() if e.composition.is_element}
    mu0 = {str(best[f].composition.elements[0]): v for f, v in mu0.items()}
    fit = [
        e
        for f, e in sorted(best.items())
        if not e.composition.is_element
        and f in experimental
        and all(str(el) in mu0 for el in e.composition.elements)
    ]
    if not fit:
        raise ValueError("no compound of the fit set has an experimental formation enthalpy")
    els = sorted({str(el) for e in fit for el in e.composition.elements})
    a = np.zeros((len(fit) + len(els), len(els)))
    b = np.zeros(len(fit) + len(els))
    for r, e in enumerate(fit):
        comp = e.composition
        for el, n in comp.items():
            a[r, els.index(str(el))] = n / comp.num_atoms
        b[r] = e.energy_per_atom - experimental[e.composition.reduced_formula]
    for j, el in enumerate(els):  # ridge rows: mu_j close to the MLFF's own element
        a[len(fit) + j, j] = ridge
        b[len(fit) + j] = ridge * mu0[el]
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    mu = {**mu0, **{el: float(v) for el, v in zip(els, sol, strict=True)}}
    rows = {
        e.composition.reduced_formula: {
            "mlff": formation_per_atom(e, mu0),
            "corrected": formation_per_atom(e, mu),
            "experiment": experimental[e.composition.reduced_formula],
            "family": _family(e.composition),
        }
        for e in fit
    }
    return {
        "mu_ev_per_atom": mu,
        "mlff_mu_ev_per_atom": mu0,
        "compounds": rows,
        "mae_ev_per_atom": {k: _mae(rows.values(), k) for k in ("mlff", "corrected")},
        "mae_by_family": {
            fam: {
                k: _mae([r for r in rows.values() if r["family"] == fam], k)
                for k in ("mlff", "corrected", "n")
            }
            for fam in sorted({r["family"] for r in rows.values()})
        },
    }


def _family(comp: Composition) -> str:
    anion = max(comp.elements, key=lambda el: el.X)
    return ANION_FAMILIES.get(str(anion), str(anion))


def _mae(rows, key: str) -> float:
    rows = list(rows)
    if key == "n":
        return len(rows)
    return float(np.mean([abs(r[key] - r["experiment"]) for r in rows])) if rows else float("nan")


def apply_fere(entries: Sequence[PDEntry], mu: Mapping[str, float]) -> list[PDEntry]:
    """Entries with every elemental reference shifted so the lowest one of each element is at
    its fitted ``mu`` (polymorph differences kept); compounds unchanged."""
    best = lowest_by_formula(e for e in entries if e.composition.is_element)
    shift = {
        str(e.composition.elements[0]): mu[str(e.composition.elements[0])] - e.energy_per_atom
        for e in best.values()
        if str(e.composition.elements[0]) in mu
    }
    out = []
    for e in entries:
        el = str(e.composition.elements[0]) if e.composition.is_element else None
        if el in shift:
            n = e.composition.num_atoms
            e = PDEntry(e.composition, e.energy + shift[el] * n, name=e.name)
        out.append(e)
    return out
