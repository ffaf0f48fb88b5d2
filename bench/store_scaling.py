"""Per-chunk checkpoint time of the embedded store with 10^3 vs 10^5 documents stored.

Each size gets a fresh data dir filled with candidate-shaped documents (a 20-site
structure, ~2.5 KB of BSON each; written directly, no MLFF). Then 10 rounds of what a relax
chunk does: ``set_fields`` on 100 stored candidates (a ~1 KB ``relax`` block and a stage
change) followed by ``flush()``; the median flush time is reported. Baseline, same run: the
previous mechanism (``mongomock_persistence``: the whole store as Extended JSON to a temp
file, then rename), timed once per size on the same in-memory data.

Last line: one JSON object with ``flush_ms_small``, ``flush_ms_large``, ``ratio`` (large ÷
small; goal ≤ 2) and the JSON-rewrite baseline at both sizes.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import report

SMALL, LARGE, CHUNK, ROUNDS = 1_000, 100_000, 100, 10


def structure(rng: random.Random) -> dict:
    sites = [
        {
            "species": [{"element": el, "occu": 1}],
            "abc": [rng.random(), rng.random(), rng.random()],
            "properties": {},
            "label": el,
        }
        for el in ["Li"] * 6 + ["Y"] * 2 + ["Cl"] * 12
    ]
    m = [[10.5, 0.0, 0.0], [0.0, 10.5, 0.0], [0.0, 0.0, 6.1]]
    return {"@class": "Structure", "lattice": {"matrix": m, "volume": 672.5}, "sites": sites}


def fill(store, n: int, rng: random.Random) -> None:
    def ops():
        for i in range(n):
            yield (
                f"{i:032x}",
                {},
                {
                    "campaign": "bench",
                    "formula": "Li3YCl6",
                    "chemsys": "Cl-Li-Y",
                    "prototype": "Li3YCl6",
                    "stage": "generated",
                    "status": "pending",
                    "mobile_ion": "Li",
                    "n_atoms": 20,
                    "structure": structure(rng),
                },
            )

    store.upsert("candidates", ops())
    store.flush()


def relax_block(rng: random.Random) -> dict:
    return {
        "relax": {
            "energy_ev": rng.uniform(-80, -60),
            "energy_per_atom_ev": rng.uniform(-4, -3),
            "converged": True,
            "n_steps": 37,
            "forces_max_ev_a": 0.04,
            "stress_gpa": [rng.random() for _ in range(6)],
            "lattice_abc_a": [10.5, 10.5, 6.1],
            "volume_a3": 672.5,
            "positions_frac": [[rng.random() for _ in range(3)] for _ in range(20)],
        },
        "stage": "relaxed",
        "status": "running",
    }


def json_rewrite_ms(path: Path) -> float:
    """The previous checkpoint: the whole store as Extended JSON, temp file + rename."""
    import bson.json_util

    from screening.store import backend

    _, store, _ = backend._RESULTS[str(path)]
    t0 = time.perf_counter()
    tmp = path.with_suffix(".json.tmp")
    dump = {
        db: {c: {"documents": list(col._documents.items())} for c, col in d._collections.items()}
        for db, d in store._databases.items()
    }
    tmp.write_text(bson.json_util.dumps(dump))
    os.replace(tmp, path.with_suffix(".json"))
    return (time.perf_counter() - t0) * 1000


def measure(n: int) -> dict:
    from screening.store import ResultStore, backend
    from screening.store.backend import _json_path, results_file

    os.environ["SCREENING_DATA_DIR"] = tempfile.mkdtemp()
    os.environ.pop("MONGOMOCK_SERVERSTORE_FILE", None)
    from screening.settings import get_settings

    get_settings.cache_clear()
    rng = random.Random(n)
    store = ResultStore()
    t0 = time.perf_counter()
    fill(store, n, rng)
    fill_s = time.perf_counter() - t0
    ids = [f"{i:032x}" for i in range(n)]
    flushes = []
    for r in range(ROUNDS):
        chunk = ids[r * CHUNK : (r + 1) * CHUNK]
        store.set_fields("candidates", {i: relax_block(rng) for i in chunk})
        t0 = time.perf_counter()
        store.flush()
        flushes.append((time.perf_counter() - t0) * 1000)
    path = results_file(_json_path().resolve())
    out = {
        "flush_ms": statistics.median(flushes),
        "json_rewrite_ms": json_rewrite_ms(path),
        "fill_s": fill_s,
        "file_mb": path.stat().st_size / 1e6,
    }
    backend.forget_embedded()
    return out


def main() -> None:
    small, large = measure(SMALL), measure(LARGE)
    for label, m in (("1e3", small), ("1e5", large)):
        print(
            f"{label} documents: flush {m['flush_ms']:.1f} ms (median of {ROUNDS} chunks of "
            f"{CHUNK}); whole-file JSON rewrite {m['json_rewrite_ms']:.0f} ms; fill "
            f"{m['fill_s']:.1f} s; file {m['file_mb']:.1f} MB",
            file=sys.stderr,
        )
    report(
        {
            "bench": "store_scaling",
            "documents_small": SMALL,
            "documents_large": LARGE,
            "chunk": CHUNK,
            "flush_ms_small": round(small["flush_ms"], 2),
            "flush_ms_large": round(large["flush_ms"], 2),
            "ratio": round(large["flush_ms"] / small["flush_ms"], 2),
            "json_rewrite_ms_small": round(small["json_rewrite_ms"], 1),
            "json_rewrite_ms_large": round(large["json_rewrite_ms"], 1),
        }
    )


if __name__ == "__main__":
    main()
