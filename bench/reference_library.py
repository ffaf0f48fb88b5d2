"""The shipped reference library with the default model: hull positions of known phases,
windows, and formation energies vs experiment before and after the FERE correction.

Everything is relaxed with the MLFF in a fresh store (so the figures include building and
relaxing the library); the FERE fit set is every (cation, anion) pair of
``screening.stability.correction.FIT_CATIONS`` x ``FIT_ANIONS`` (~450 phases, ~2.5 min on 2
CPU cores: this bench runs ~4 min, beyond the 2-minute budget, because the fit is the
figure being measured).

Last line: {"bench": "reference_library", "e_hull": {...}, "polymorph_margin": {...},
"li3ps4_window_v": ..., "licl_oxidation_v": {...}, "mae_ev_per_atom": {...}, ...}
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from _common import bench_device, device_label, report, setup_env

TARGETS = {  # acceptance phase -> (library phase name, chemical system)
    "LiCl": ("LiCl rocksalt", "Cl-Li"),
    "LiF": ("LiF rocksalt", "F-Li"),
    "Li2O": ("Li2O antifluorite", "Li-O"),
    "Li2S": ("Li2S antifluorite", "Li-S"),
    "NaCl": ("NaCl rocksalt", "Cl-Na"),
    "Li3PO4 (beta, enargite type)": ("Li3PO4 wurtzite-1", "Li-O-P"),
    "Li3PO4 (gamma)": ("Li3PO4 Li3PO4-gamma-type", "Li-O-P"),
    "Li3PS4 (gamma, enargite type)": ("Li3PS4 wurtzite-1", "Li-P-S"),
    "Li3PS4 (gamma-Li3PO4 type)": ("Li3PS4 Li3PO4-gamma-type", "Li-P-S"),
    "Li7PS6 (antifluorite model)": ("Li7PS6 A7MX6-antifluorite", "Li-P-S"),
    "Li4GeS4 (antifluorite model)": ("Li4GeS4 A4MX4-antifluorite", "Ge-Li-S"),
    "Li4GeS4 (hcp model)": ("Li4GeS4 A4MX4-hcp-tet-oct", "Ge-Li-S"),
    "Li4SiO4 (antifluorite model)": ("Li4SiO4 A4MX4-antifluorite", "Li-O-Si"),
    "Li10GeP2S12 (ordered)": ("Li10Ge(PS6)2 Li10GeP2S12-type", "Ge-Li-P-S"),
    "Li2MgCl4 (rock-salt model)": ("Li2MgCl4 A2MX4-rocksalt", "Cl-Li-Mg"),
    "LiAlCl4 (ccp model, Al tetrahedral)": ("LiAlCl4 AMX4-ccp-tet-oct", "Al-Cl-Li"),
}
POLYMORPHS = {  # metastable vs stable (library names), chemical system
    "LiCl CsCl type vs rock salt": ("LiCl cscl", "LiCl rocksalt", "Cl-Li"),
    "Li2S anti-CdI2 type vs antifluorite": ("Li2S anti-cdi2", "Li2S antifluorite", "Li-S"),
}


def main() -> None:
    setup_env()
    os.environ["SCREENING_DATA_DIR"] = tempfile.mkdtemp()
    from screening.mlff import load_model
    from screening.stability import ReferenceSet, stability_analysis
    from screening.stability.auto import fere_correction
    from screening.stability.correction import apply_fere
    from screening.stability.library import library_phases
    from screening.stability.online import sub_chemsys
    from screening.store.results import ResultStore

    model = load_model("tensornet-matpes-pbe", device=bench_device())
    store = ResultStore()
    t0 = time.perf_counter()
    fere = fere_correction(model, store)
    fit_s = time.perf_counter() - t0
    mu = fere["mu_ev_per_atom"]

    def system(chemsys):
        phases = [
            p for cs in sub_chemsys(chemsys.split("-")) for p in library_phases(cs.split("-"))
        ]
        entries = ReferenceSet(model, store).entries([p.structure for p in phases])
        return {p.name: e for p, e in zip(phases, entries, strict=True)}, entries

    def analyse(name, chemsys, correction="none"):
        by_name, entries = system(chemsys)
        refs = apply_fere(entries, mu) if correction == "fere" else entries
        e = by_name[name]
        others = [r for r, x in zip(refs, entries, strict=True) if x is not e]
        ion = "Na" if "Na" in chemsys.split("-") else "Li"
        return stability_analysis(
            e.composition,
            e.energy,
            others,
            mobile_ion=ion,
            forcefield_name=model.name,
            correction=correction,
        )

    t0 = time.perf_counter()
    e_hull = {}
    for label, (name, cs) in TARGETS.items():
        res = analyse(name, cs)
        e_hull[label] = round(res.e_hull_ev_per_atom, 4)
        print(f"{label}: E_hull {res.e_hull_ev_per_atom:.4f} eV/atom, decomposition "
              f"{res.decomposition}", file=sys.stderr)  # fmt: skip
    margins = {}
    for label, (meta, stable, cs) in POLYMORPHS.items():
        by_name, _ = system(cs)
        margins[label] = round(by_name[meta].energy_per_atom - by_name[stable].energy_per_atom, 4)
    li3ps4 = analyse("Li3PS4 wurtzite-1", "Li-P-S")
    li3ps4_fere = analyse("Li3PS4 wurtzite-1", "Li-P-S", "fere")
    licl = analyse("LiCl rocksalt", "Cl-Li")
    licl_fere = analyse("LiCl rocksalt", "Cl-Li", "fere")
    for tag, r in (("Li3PS4", li3ps4), ("Li3PS4 fere", li3ps4_fere), ("LiCl", licl),
                   ("LiCl fere", licl_fere)):  # fmt: skip
        print(f"{tag}: window {r.window_v} V, reduction {r.reduction_products}, oxidation "
              f"{r.oxidation_products}", file=sys.stderr)  # fmt: skip
    fams = fere["mae_by_family"]
    report(
        {
            "bench": "reference_library",
            "device": device_label(bench_device()),
            "model": model.name,
            "fit_set_phases_relaxed_and_fit_s": round(fit_s, 1),
            "analysis_s": round(time.perf_counter() - t0, 1),
            "e_hull": e_hull,
            "polymorph_margin_ev_per_atom": margins,
            "li3ps4_window_v": [round(x, 2) for x in li3ps4.window_v or ()],
            "li3ps4_window_v_fere": [round(x, 2) for x in li3ps4_fere.window_v or ()],
            "licl_oxidation_v": {
                "none": round(licl.window_v[1], 2),
                "fere": round(licl_fere.window_v[1], 2),
                "experiment": 4.23,
            },
            "fere_compounds": len(fere["compounds"]),
            "mae_ev_per_atom": {k: round(v, 3) for k, v in fere["mae_ev_per_atom"].items()},
            "mae_by_family": {
                f: {"n": v["n"], "none": round(v["mlff"], 3), "fere": round(v["corrected"], 3)}
                for f, v in fams.items()
            },
        }
    )


if __name__ == "__main__":
    main()
