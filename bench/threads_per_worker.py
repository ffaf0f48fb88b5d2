"""Two workers on one node: torch's default threads (one per core in *each* process) vs the
default of SCREENING_THREADS (cores / SCREENING_WORKERS_PER_NODE).

Each worker is its own process (as two `rlaunch` or `screening` workers would be): it loads
the default model and runs N single-point evaluations of a 64-atom LiCl cell, timing only
the evaluations. Both workers start together; the figure is the wall time of the slower one.
Baseline (same run): each worker with SCREENING_THREADS = all cores, i.e. what torch does
unconfigured.

Last line: {"bench": "threads_per_worker", "cores": ..., "oversubscribed_s": ...,
"default_s": ..., "speedup": ...}
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from _common import report, setup_env

N_EVALS = 40
CODE = """
import sys, time
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from screening.mlff import load_model
from screening.mlff.batch import evaluate
import torch
s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"],
                              [[0, 0, 0], [0.5, 0.5, 0.5]])
s.make_supercell(2)
atoms = AseAtomsAdaptor.get_atoms(s)
m = load_model(device="cpu")
evaluate([atoms], m)
t0 = time.perf_counter()
for _ in range(int(sys.argv[1])):
    evaluate([atoms], m)
print(time.perf_counter() - t0, torch.get_num_threads())
"""


def pair(env: dict) -> tuple[float, int]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CODE, str(N_EVALS)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate()[0].strip().splitlines()[-1].split() for p in procs]
    return max(float(o[0]) for o in outs), int(outs[0][1])


def main() -> None:
    setup_env()
    cores = len(os.sched_getaffinity(0))
    base = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    t0 = time.perf_counter()
    over, over_threads = pair({**base, "SCREENING_THREADS": str(cores)})
    ours, our_threads = pair({**base, "SCREENING_WORKERS_PER_NODE": "2"})
    report(
        {
            "bench": "threads_per_worker",
            "cores": cores,
            "workers": 2,
            "evaluations_per_worker": N_EVALS,
            "oversubscribed_threads": over_threads,
            "oversubscribed_s": over,
            "default_threads": our_threads,
            "default_s": ours,
            "speedup": over / ours,
            "wall_s": time.perf_counter() - t0,
        }
    )


if __name__ == "__main__":
    main()
