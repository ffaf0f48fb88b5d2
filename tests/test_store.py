"""Results store on the embedded backend (and on a real server when one is configured)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from screening.store import ResultStore, connect
from screening.store.query import WhereError, parse_where

REPO = Path(__file__).resolve().parents[1]
MONGO_URI = os.environ.get("SCREENING_TEST_MONGO_URI")


@pytest.fixture(params=["embedded", "mongodb"])
def store(request, tmp_path, monkeypatch):
    if request.param == "mongodb":
        if not MONGO_URI:
            pytest.skip("real-server run: SCREENING_TEST_MONGO_URI is not set")
        handle = connect(MONGO_URI, db_name=f"screening_test_{os.getpid()}")
        yield ResultStore(handle, chunk_size=7)
        handle.db.client.drop_database(handle.db.name)
        return
    monkeypatch.setenv("MONGOMOCK_SERVERSTORE_FILE", str(tmp_path / "db.json"))
    from screening.store import backend

    backend.forget_embedded()
    yield ResultStore(chunk_size=7)


def _ops(n, stage="generated"):
    return [(f"c{i:04d}", {"stage": stage}, {"campaign": "t", "formula": "LiCl"}) for i in range(n)]


def test_upsert_twice_gives_one_document(store):
    store.upsert("candidates", _ops(20))
    store.upsert("candidates", _ops(20))
    assert store.db["candidates"].count_documents({}) == 20


def test_stage_update_keeps_other_stages(store):
    store.upsert("candidates", _ops(3))
    store.set_fields(
        "candidates", {"c0001": {"relax.energy_per_atom_ev": -3.67, "relax.converged": True}}
    )
    store.set_fields("candidates", {"c0001": {"md.1000": {"status": "completed"}, "stage": "done"}})
    doc = store.db["candidates"].find_one({"_id": "c0001"})
    assert doc["relax"] == {"energy_per_atom_ev": -3.67, "converged": True}
    assert doc["md"]["1000"]["status"] == "completed"
    assert doc["formula"] == "LiCl" and doc["stage"] == "done"


def test_crash_mid_bulk_then_rerun_gives_exactly_n(store):
    n = 50

    def failing():
        for k, op in enumerate(_ops(n)):
            if k == 23:  # after 3 chunks of 7
                raise RuntimeError("simulated crash")
            yield op

    with pytest.raises(RuntimeError):
        store.upsert("candidates", failing())
    assert 0 < store.db["candidates"].count_documents({}) < n
    created = {d["_id"]: d["created_at"] for d in store.db["candidates"].find()}
    store.upsert("candidates", _ops(n))
    assert store.db["candidates"].count_documents({}) == n
    for d in store.db["candidates"].find({"_id": {"$in": list(created)}}):
        assert d["created_at"] == created[d["_id"]]  # reruns never reset insert-only fields


def test_data_written_by_one_process_is_read_by_another(tmp_path):
    path = tmp_path / "shared.json"
    env = {
        **os.environ,
        "MONGOMOCK_SERVERSTORE_FILE": str(path),
        "SCREENING_DATA_DIR": str(tmp_path),
    }
    env.pop("SCREENING_DB_URI", None)
    write = (
        "from screening.store import ResultStore; s = ResultStore(); "
        "s.upsert('candidates', [('x%d' % i, {'score': float(i)}, {'campaign': 'p'}) "
        "for i in range(100)]); s.flush()"
    )
    read = (
        "from screening.store import ResultStore; "
        "print(ResultStore().db['candidates'].count_documents({'campaign': 'p'}))"
    )
    subprocess.run([sys.executable, "-c", write], env=env, check=True, cwd=REPO)
    out = subprocess.run(
        [sys.executable, "-c", read], env=env, check=True, cwd=REPO, capture_output=True, text=True
    )
    assert out.stdout.strip() == "100"


def test_indexes_from_db_folder(store):
    names = store.ensure_indexes()
    assert {"campaign_stage", "campaign_score", "campaign_status", "formula", "chemsys"} <= set(
        names
    )


def test_artifacts_round_trip(store):
    store.put_artifact("c1/md_1000K.npz", b"\x00\x01" * 1000, candidate_id="c1")
    assert store.get_artifact("c1/md_1000K.npz") == b"\x00\x01" * 1000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "e_hull_ev_per_atom<0.05 and mobile_ion=Li",
            {
                "$and": [
                    {"stability.e_hull_ev_per_atom": {"$lt": 0.05}},
                    {"mobile_ion": {"$eq": "Li"}},
                ]
            },
        ),
        ("score >= -3", {"score": {"$gte": -3.0}}),
        (
            "formula = 'Li3YCl6' or formula = \"Li3InCl6\"",
            {"$or": [{"formula": {"$eq": "Li3YCl6"}}, {"formula": {"$eq": "Li3InCl6"}}]},
        ),
        (
            "(score > 1 or stage = done) and status != failed",
            {
                "$and": [
                    {"$or": [{"score": {"$gt": 1.0}}, {"stage": {"$eq": "done"}}]},
                    {"status": {"$ne": "failed"}},
                ]
            },
        ),
    ],
)
def test_where_valid(text, expected):
    assert parse_where(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$where: 1", "'$where' is not allowed"),
        ("score < 1 and $function", "'$function' is not allowed"),
        ("formula = $accumulator", "'$accumulator' is not allowed"),
        ("password < 3", "unknown field 'password'"),
        ("score <", "ends too early"),
        ("score < 1 score", "unexpected"),
        ("", "empty"),
    ],
)
def test_where_refused(text, message):
    with pytest.raises(WhereError, match=message.replace("$", r"\$")):
        parse_where(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_where_fuzz_only_raises_its_own_error(text):
    try:
        result = parse_where(text)
    except WhereError:
        return
    assert isinstance(result, dict)
    assert "$where" not in str(result)


def test_rank_orders_unsampled_below_measured():
    """Same temperature: a candidate with no hops (an upper bound at the measured D) ranks
    below one with that D measured, and below one never simulated (a bound is evidence of
    slowness; no MD is the prior)."""
    from screening.analysis.score import evidence_fields
    from screening.schemas.results import DiffusionResult

    common = {
        "temperature_k": 1000,
        "rsd_empirical": 0.3,
        "simulated_time_ps": 20,
        "fit_window_ps": (1, 10),
    }
    measured = DiffusionResult(
        status="ok",
        diffusivity_cm2_s=2e-6,
        diffusivity_cm2_s_err=6e-7,
        diffusivity_upper_cm2_s=3e-6,
        n_eff=40,
        **common,
    )
    no_hops = DiffusionResult(
        status="insufficient_sampling", diffusivity_upper_cm2_s=2e-6, n_eff=0.3, **common
    )

    def score(run):
        screen = {"diffusion": run.model_dump(mode="json")} if run else None
        return evidence_fields({"screen": screen, "mobile_per_cm3": 2e22})["score"]

    assert score(measured) > score(no_hops) and score(None) > score(no_hops)


def test_db_schema_files_match_the_models():
    """db/schema/*.schema.json are what `screening db schema` generates (no drift)."""
    from screening.schemas.documents import json_schemas

    folder = Path(__file__).resolve().parents[1] / "db" / "schema"
    for name, schema in json_schemas().items():
        stored = json.loads((folder / f"{name}.schema.json").read_text())
        assert stored == json.loads(json.dumps(schema)), f"regenerate {name}: screening db schema"
        key = {"candidates": "candidate_id", "campaigns": "name", "shards": "key"}[name]
        assert "description" in stored["properties"][key]


def test_indexes_ship_inside_the_package(tmp_path):
    """A copy of the package outside the repository (as an installed wheel would be: no
    db/ folder beside it) creates the declared indexes."""
    import shutil

    from conftest import REPO

    shutil.copytree(REPO / "screening", tmp_path / "site" / "screening")
    code = (
        "import screening, json; from screening.store import ResultStore;"
        "s = ResultStore(); names = s.ensure_indexes(); s.flush();"
        "print(json.dumps([screening.__file__, names]))"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "OMP_NUM_THREADS": "1"}
    env["SCREENING_DATA_DIR"] = str(tmp_path / "data")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    where, names = json.loads(out.stdout.strip().splitlines()[-1])
    assert where.startswith(str(tmp_path / "site")) and "campaign_score" in names


def test_candidate_store_operations(store):
    """The candidate store's named operations give the same answers on both backends."""
    ops = [
        (
            f"c{i:04d}",
            {},
            {"campaign": "t", "formula": f"F{i % 3}", "stage": "generated", "score_pre_md": -i},
        )
        for i in range(25)
    ]
    other = [("x0000", {}, {"campaign": "other", "formula": "F0", "stage": "generated"})]
    cands = store.candidates("t", page_size=4)
    assert cands.add(ops) == 25 and cands.add(ops) == 0  # a rerun adds nothing
    store.upsert("candidates", other)
    pages = list(cands.pages(fields=("formula",)))
    assert [len(p) for p in pages] == [4, 4, 4, 4, 4, 4, 1]
    assert sorted(d["_id"] for p in pages for d in p) == [f"c{i:04d}" for i in range(25)]
    assert set(pages[0][0]) == {"_id", "formula"}
    assert cands.ids_at("generated") == [f"c{i:04d}" for i in range(25)]
    assert set(cands.load(["c0001", "x0000"], fields=())) == {"c0001", "x0000"}
    assert cands.load(["c0001"], fields=())["c0001"] == {"_id": "c0001"}
    assert cands.top_k({"stage": "generated"}, [("score_pre_md", -1)], 3) == [
        "c0000",
        "c0001",
        "c0002",
    ]
    cands.record({"c0000": {"relax": {"energy_ev": -1.0}}}, stage="relaxed")
    assert cands.load(["c0000"], stage="generated") == {}
    assert cands.counts_by("stage") == {"generated": 24, "relaxed": 1}
    assert cands.values_by("formula", "score_pre_md", "min") == {"F0": -24, "F1": -22, "F2": -23}
    assert cands.mark_duplicates({"c0003": "c0006", "c0000": "c0006"}) == 1  # c0000 relaxed
    assert cands.count({"status": "duplicate"}) == 1
