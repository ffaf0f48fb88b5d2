"""What a tighter relaxation threshold costs and what it changes, on small library cells.

Relaxes the same cells (the reference library's Li/Na sulfides, phosphides, halides and
one cell per formula, <= 20 atoms, slightly strained as a generated candidate would
be) with FIRE + cell filter at fmax = 0.05, 0.02 and 0.01 eV/Å, against a tight 0.002 eV/Å
reference: steps and wall time per cell, and how far the energy per atom and volume still
are from the tight relaxation. The baseline is the old default, 0.05, in the same run.
Last line: one JSON object.
"""

from __future__ import annotations

import time

import numpy as np
from _common import bench_device, device_label, report, setup_env

FMAX = (0.05, 0.02, 0.01)
TIGHT = 0.002


def cells():
    from screening.stability.auto import library_structures
    from screening.stability.online import sub_chemsys

    out, seen = [], set()
    systems = (["Li", "P", "S"], ["Na", "P", "S"], ["Li", "Cl"], ["Na", "Cl"], ["Li", "N"])
    for system in systems:
        for s in library_structures(sub_chemsys(system)):
            key = s.composition.reduced_formula
            if len(s) <= 20 and len(s.composition.elements) > 1 and key not in seen:
                seen.add(key)
                out.append(s)
    strained = []
    for s in out:
        s = s.copy()
        s.apply_strain(0.03)  # a generated candidate starts off its minimum
        s.perturb(0.05, min_distance=0.0, seed=0)
        strained.append(s)
    return strained


def main() -> None:
    setup_env()
    from screening.mlff import load_model
    from screening.mlff.relax import relax_structure

    device = bench_device()
    model = load_model("tensornet-matpes-pbe", device=device)
    structures = cells()
    relax_structure(structures[0], model, fmax=0.05)  # warm-up
    rows = {}
    tight = [relax_structure(s, model, fmax=TIGHT, max_steps=1000) for s in structures]
    for fmax in FMAX:
        t0 = time.perf_counter()
        res = [relax_structure(s, model, fmax=fmax, max_steps=1000) for s in structures]
        wall = time.perf_counter() - t0
        de = [
            abs(r.energy_per_atom_ev - t.energy_per_atom_ev) * 1000
            for r, t in zip(res, tight, strict=True)
        ]
        dv = [
            abs(r.volume_final_a3 - t.volume_final_a3) / t.volume_final_a3 * 100
            for r, t in zip(res, tight, strict=True)
        ]
        rows[fmax] = {
            "steps_mean": float(np.mean([r.n_steps for r in res])),
            "s_per_cell": wall / len(res),
            "de_mev_atom_max": float(max(de)),
            "de_mev_atom_mean": float(np.mean(de)),
            "dv_pct_max": float(max(dv)),
            "converged": sum(r.converged for r in res),
        }
        print(f"fmax {fmax}: {rows[fmax]}")
    base = rows[0.05]
    report(
        {
            "bench": "relax_fmax",
            "device": device_label(device),
            "cells": len(structures),
            "atoms_max": max(len(s) for s in structures),
            **{
                f"fmax_{f}": {**r, "cost_vs_0.05": r["s_per_cell"] / base["s_per_cell"]}
                for f, r in rows.items()
            },
        }
    )


if __name__ == "__main__":
    main()
