"""Batched MD vs one candidate at a time: 16 cells of 32-48 atoms, same steps, same run.

Cells: rock-salt Li halides (LiCl, LiBr, LiF, LiI and Na-swapped variants at slightly
different lattice constants) as 2x2x1 (32 atoms) or 3x2x1 (48 atoms) supercells, 900 K,
Nose-Hoover chain, 2 fs, STEPS production steps after 10 Langevin steps. Serial: our
run_md (ASE integrators, one model call per step per cell). Batched: run_md_batch (one
batched model call per step for all 16). CPU timings here; absolute times need a GPU.

Last line: {"bench": "md_batch", "cells": 16, "serial_s": ..., "batched_s": ...,
"speedup": ..., "serial_atom_steps_per_s": ..., "batched_atom_steps_per_s": ...,
"model_call_serial_s": ..., "model_call_batched_s": ..., "model_call_speedup": ...}
"""

from __future__ import annotations

import argparse
import time

from _common import bench_device, device_label, report, setup_env

STEPS = 40


def cells(n: int = 16):
    from pymatgen.core import Lattice, Structure

    out = []
    anions = [("F", 4.03), ("Cl", 5.13), ("Br", 5.50), ("I", 6.00)]
    for k, (anion, a) in enumerate(anions[i % 4] for i in range(n)):
        s = Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(a * (1 + 0.005 * k)), ["Li", anion], [[0, 0, 0], [0.5] * 3]
        )
        s.make_supercell([3, 2, 1] if k % 2 else [2, 2, 1])
        out.append(s)
    return out


def model_call_times(structures, model, repeats: int = 3) -> tuple[float, float]:
    """One step's model work alone (graphs built beforehand): every cell in its own call vs
    all cells in one batched call, best of ``repeats``, s. The bound on what batching can
    gain: if one call per cell costs what the batched call does, the work is compute-bound."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.mlff.batch import _matgl_inputs

    if model.package != "matgl":
        return float("nan"), float("nan")
    atoms = [AseAtomsAdaptor.get_atoms(s) for s in structures]
    one_each = [_matgl_inputs([a], model.backend) for a in atoms]
    together = _matgl_inputs(atoms, model.backend)

    def best(call) -> float:
        call()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        return min(times)

    serial = best(lambda: [model.backend(*x) for x in one_each])
    return serial, best(lambda: model.backend(*together))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=16, help="cells run together (16 for the issue)")
    args = ap.parse_args()
    setup_env()
    from screening.md import run_md
    from screening.md.batched import run_md_batch
    from screening.mlff import load_model

    model = load_model(device=bench_device())
    structures = cells(args.cells)
    opts = dict(temperature_k=900, steps=STEPS, equilibration_steps=10, stride=10)
    run_md_batch(structures[:2], model, mobile_ion="Li", **{**opts, "steps": 10})  # warm-up
    t0 = time.perf_counter()
    serial = [run_md(s, model, mobile_ion="Li", seed=k, **opts) for k, s in enumerate(structures)]
    t_serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    batched = run_md_batch(
        structures,
        model,
        mobile_ion="Li",
        seed=list(range(len(structures))),
        batch_size=len(structures),
        **opts,
    )
    t_batched = time.perf_counter() - t0
    model_serial, model_batched = model_call_times(structures, model)
    atom_steps = sum(len(s) for s in structures) * (STEPS + 10)
    report(
        {
            "bench": "md_batch",
            "device": device_label(bench_device()),
            "cells": len(structures),
            "atoms_per_cell": sorted({len(s) for s in structures}),
            "steps": STEPS + 10,
            "completed_serial": sum(r.status == "completed" for r, _ in serial),
            "completed_batched": sum(r.status == "completed" for r, _ in batched),
            "serial_s": t_serial,
            "batched_s": t_batched,
            "speedup": t_serial / t_batched,
            "serial_atom_steps_per_s": atom_steps / t_serial,
            "batched_atom_steps_per_s": atom_steps / t_batched,
            "model_call_serial_s": model_serial,
            "model_call_batched_s": model_batched,
            "model_call_speedup": model_serial / model_batched,
        }
    )


if __name__ == "__main__":
    main()
