"""MD and relaxation loop overhead vs bare calculator calls; batched vs serial relaxation.

Last line: {"bench": "mlff_throughput", "md_ratio": ..., "relax_ratio": ..., "batch_speedup": ...}
ratio = our loop's wall time / (bare calculator time for the same number of force calls).
"""

from __future__ import annotations

import time

import numpy as np
from _common import bench_device, device_label, report, setup_env
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor


def rocksalt(a, cation="Li", anion="Cl"):
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def main() -> None:
    setup_env()
    from screening.md import run_md
    from screening.mlff import load_model, relax_batch, relax_structure

    model = load_model(device=bench_device())
    cell = rocksalt(5.13) * (2, 2, 2)  # 64 atoms
    n = 60

    atoms = AseAtomsAdaptor.get_atoms(cell)
    atoms.calc = model.calculator()
    atoms.get_forces()  # warm-up
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(n):
        atoms.positions += rng.normal(0, 0.01, atoms.positions.shape)
        atoms.get_forces()
        atoms.get_stress()
    bare_per_call = (time.perf_counter() - t0) / n

    t0 = time.perf_counter()
    res, _ = run_md(cell, model, temperature_k=600, steps=n, equilibration_steps=0, stride=10)
    md_time = time.perf_counter() - t0
    md_calls = n + 1

    rattled = cell.copy()
    rattled.perturb(0.05)
    t0 = time.perf_counter()
    rel = relax_structure(rattled, model, fmax=1e-6, max_steps=n)
    relax_time = time.perf_counter() - t0
    relax_calls = rel.n_steps + 1

    smalls = []
    for i in range(16):
        s = rocksalt(5.0 + 0.05 * i, "Li" if i % 2 else "Na", "Cl" if i % 3 else "Br")
        s.perturb(0.05)
        smalls.append(s)
    steps = 20
    t0 = time.perf_counter()
    for s in smalls:
        relax_structure(s, model, fmax=1e-6, max_steps=steps)
    serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    relax_batch(smalls, model, fmax=1e-6, max_steps=steps, batch_size=16)
    batched = time.perf_counter() - t0

    n_atoms = len(cell)
    report(
        {
            "bench": "mlff_throughput",
            "device": device_label(bench_device()),
            "n_atoms": n_atoms,
            "bare_atom_steps_per_s": n_atoms / bare_per_call,
            "md_atom_steps_per_s": n_atoms * n / md_time,
            "relax_atom_steps_per_s": n_atoms * relax_calls / relax_time,
            "md_ratio": md_time / (bare_per_call * md_calls),
            "relax_ratio": relax_time / (bare_per_call * relax_calls),
            "batch_serial_s": serial,
            "batch_batched_s": batched,
            "batch_speedup": serial / batched,
            "md_status": res.status,
        }
    )


if __name__ == "__main__":
    main()
