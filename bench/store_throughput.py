"""Candidate documents/s through our store vs raw insert_many on the same (embedded)
backend, and a top-100 ranking query on 1e5 documents with and without indexes.

Both sides write the same final documents (raw insert_many is given the created_at /
updated_at timestamps our store adds); each side is timed best-of-3, alternating.
On the embedded mongomock backend indexes do not speed up queries (it scans); the
indexed/unindexed figures are measured anyway so the comparison is honest. Run with
SCREENING_DB_URI set to measure a real server.
Last line: one JSON object with ours_docs_per_s, raw_docs_per_s, ratio and query times.
"""

from __future__ import annotations

import gc
import os
import random
import tempfile
import time

from _common import report


def docs(n, seed=0):
    rng = random.Random(seed)
    for i in range(n):
        yield {
            "_id": f"cand{i:08d}",
            "candidate_id": f"cand{i:08d}",
            "campaign": "bench",
            "formula": "Li3YCl6",
            "chemsys": "Cl-Li-Y",
            "stage": "done",
            "status": "completed",
            "score": rng.uniform(-10, 0),
            "relax": {"energy_per_atom_ev": -3.5},
        }


def main() -> None:
    from screening.schemas.provenance import utcnow

    tmp = tempfile.mkdtemp()
    os.environ.setdefault("MONGOMOCK_SERVERSTORE_FILE", os.path.join(tmp, "bench.json"))
    os.environ.setdefault("SCREENING_DATA_DIR", tmp)
    from screening.store import ResultStore

    store = ResultStore(chunk_size=1000)
    n = 20_000
    raw_s = ours_s = float("inf")
    for rep in range(3):  # best of 3, alternating, fresh collections each time
        now = utcnow()  # raw gets the timestamps our store adds: identical final documents
        gc.collect()
        t0 = time.perf_counter()
        store.db[f"raw{rep}"].insert_many(
            [{**d, "created_at": now, "updated_at": now} for d in docs(n)]
        )
        raw_s = min(raw_s, time.perf_counter() - t0)
        gc.collect()
        t0 = time.perf_counter()
        store.upsert(
            f"ours{rep}",
            ((d["_id"], {k: v for k, v in d.items() if k != "_id"}, {}) for d in docs(n)),
        )
        ours_s = min(ours_s, time.perf_counter() - t0)
    a, b = (
        store.db["raw0"].find_one({"_id": "cand00000007"}),
        store.db["ours0"].find_one({"_id": "cand00000007"}),
    )
    assert set(a) == set(b), set(a) ^ set(b)

    big = store.db["rank_noindex"]
    big.insert_many(list(docs(100_000, seed=1)))
    t0 = time.perf_counter()
    top = list(big.find({"campaign": "bench"}).sort("score", -1).limit(100))
    q_noindex = time.perf_counter() - t0
    big.create_index([("campaign", 1), ("score", -1)])
    t0 = time.perf_counter()
    top2 = list(big.find({"campaign": "bench"}).sort("score", -1).limit(100))
    q_index = time.perf_counter() - t0
    assert [d["_id"] for d in top] == [d["_id"] for d in top2]
    report(
        {
            "bench": "store_throughput",
            "backend": "embedded" if store.handle.embedded else "mongodb",
            "docs": n,
            "ours_docs_per_s": n / ours_s,
            "raw_docs_per_s": n / raw_s,
            "ratio": raw_s / ours_s,
            "rank_top100_1e5_noindex_s": q_noindex,
            "rank_top100_1e5_index_s": q_index,
        }
    )


if __name__ == "__main__":
    main()
