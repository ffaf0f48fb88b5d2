"""The embedded results store (SQLite, one row per document): every kind of mongomock write
is persisted, order is kept, and ``kill -9`` during a checkpoint loses at most that chunk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from screening.store import ResultStore, backend
from screening.store.embedded import read_collection


def test_every_write_kind_is_persisted_in_order(tmp_path):
    store = ResultStore()  # this test's SCREENING_DATA_DIR (conftest)
    store.ensure_indexes()
    store.upsert("candidates", [(f"c{i}", {"stage": "generated"}, {"n": i}) for i in range(5)])
    store.flush()
    col = store.db["candidates"]
    col.update_one({"_id": "c1"}, {"$set": {"stage": "relaxed"}})  # in place in mongomock
    col.update_many({"n": {"$gte": 3}}, {"$set": {"stage": "done"}})
    col.replace_one({"_id": "c0"}, {"n": 0, "stage": "replaced"})
    col.delete_one({"_id": "c2"})
    store.db["scratch"].insert_one({"_id": "x"})
    store.db["scratch"].drop()
    backend.forget_embedded()
    docs = read_collection(tmp_path / "data" / "db.results.sqlite", "candidates")
    assert list(docs) == ["c0", "c1", "c3", "c4"]  # insertion order, c2 deleted
    assert [d["stage"] for d in docs.values()] == ["replaced", "relaxed", "done", "done"]
    assert read_collection(tmp_path / "data" / "db.results.sqlite", "scratch") == {}
    reopened = ResultStore(read_only=True)
    assert "campaign_stage" in reopened.db["candidates"].index_information()


WRITER = """
import sys
from screening.store import ResultStore
store = ResultStore()
pad = "x" * 4000
for k in range(1000):
    store.upsert("candidates", [(f"{k:04d}-{i:04d}", {"pad": pad, "chunk": k}, {})
                                for i in range(2000)])
    print(k, flush=True)  # chunk k is about to be checkpointed
    store.flush()
"""


def test_kill_9_during_a_checkpoint_loses_at_most_that_chunk(tmp_path):
    env = {
        **os.environ,
        "SCREENING_DATA_DIR": str(tmp_path / "data"),
        "OMP_NUM_THREADS": "1",
    }
    env.pop("MONGOMOCK_SERVERSTORE_FILE", None)
    backend.forget_embedded()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        while int(proc.stdout.readline()) < 3:
            pass
        time.sleep(0.05)  # inside chunk 3's checkpoint (8 MB in one transaction)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    path = tmp_path / "data" / "db.results.sqlite"
    docs = read_collection(path, "candidates")  # opens cleanly: the transaction rolls back
    chunks = {}
    for d in docs.values():
        chunks[d["chunk"]] = chunks.get(d["chunk"], 0) + 1
    assert sorted(chunks)[:3] == [0, 1, 2]  # every checkpoint before the kill is there
    assert set(chunks.values()) == {2000}  # whole chunks only
    assert len(chunks) in (3, 4, 5)  # at most the chunk in flight (and the next) lost
    out = subprocess.run(  # a writer opens it again and goes on
        [
            sys.executable,
            "-c",
            "from screening.store import ResultStore; s = ResultStore(); "
            "print(s.db['candidates'].count_documents({}))",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(out.stdout) == len(docs)
