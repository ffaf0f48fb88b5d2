"""Reliability, as a user meets it: every command in its own process (issue: FireWorks across
processes, one writer per embedded store, campaign-scoped candidates, errors instead of
tracebacks). Test names carry the issue's item numbers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO, rocksalt

BIN = Path(sys.executable).parent
SCREENING = str(BIN / "screening")


def env_for(data: Path, **extra: str) -> dict:
    env = dict(os.environ)
    env.pop("MONGOMOCK_SERVERSTORE_FILE", None)
    env.pop("SCREENING_DB_URI", None)
    env.update(
        SCREENING_DATA_DIR=str(data),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        **extra,
    )
    return env


def run(args, *, env, cwd=None, timeout=600, check=True):
    out = subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert out.returncode == 0, f"{args}: {out.stderr[-3000:]}"
    return out


def one_error_line(out, *needles: str) -> str:
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode != 0, out.stdout
    assert len(lines) == 1 and lines[0].startswith("error:"), out.stderr[-2000:]
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def campaign(tmp_path: Path, name: str, replacements: list[str], **funnel) -> Path:
    doc = {
        "name": name,
        "mobile_ion": "Li",
        "prototypes": [{"path": str(REPO / "workflows" / "prototypes" / "Li3YCl6.cif")}],
        "substitutions": {"Y": replacements, "Cl": ["Cl"]},
        "compensation": {"enabled": True, "max_orderings": 1},
        "funnel": {
            "chunk_size": 2,
            "top_k_md": 2,
            "md_temperatures_k": [800, 1000],
            "md_steps": 20,
            "relax_max_steps": 20,
            "md_max_atoms": 20,
            **funnel,
        },
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def load_db(path: Path) -> dict:
    import bson.json_util

    return bson.json_util.loads(path.read_text())


def candidates(path: Path, collection: str = "candidates") -> dict:
    """Documents of the results file that goes with the LaunchPad file ``path``."""
    from screening.store.embedded import read_collection

    return read_collection(path.with_name("db.results.sqlite"), collection)


# -- 1. FireWorks across processes, SIGKILL, lost-run recovery ------------------------------
def test_1_fireworks_survive_process_boundaries_and_sigkill(tmp_path, tensornet):
    data = tmp_path / "data"
    env = env_for(data)  # FireWorks' tools read FW_config.yaml from their working folder
    camp = campaign(tmp_path, "fw", ["Y", "Sc", "Zr"], chunk_size=1)
    run([SCREENING, "campaign", "submit", camp], env=env, cwd=tmp_path)
    run([SCREENING, "db", "launchpad-file", "my_launchpad.yaml"], env=env, cwd=tmp_path)
    # hostile-probe issue, item 6: the workflow carries its spec; the YAML is moved away and
    # what remains at its path is no campaign, yet the queued work runs as submitted
    camp.rename(tmp_path / "moved.yaml")
    camp.write_text("name: [not, a, campaign]\n")
    lp = ["-l", "my_launchpad.yaml"]
    # the generate fan-out, its shard job, then the relax fan-out, in three processes
    for _ in range(3):
        run([BIN / "rlaunch", *lp, "singleshot"], env=env, cwd=tmp_path)
    fws = json.loads(
        run([BIN / "lpad", *lp, "get_fws", "-d", "more"], env=env, cwd=tmp_path).stdout
    )
    assert "FIZZLED" not in {f["state"] for f in fws}
    assert {f["name"]: f["state"] for f in fws}["generate 1/1"] == "COMPLETED"
    # rapidfire, killed with SIGKILL as soon as a relax chunk is on disk
    db = data / "db.json"
    proc = subprocess.Popen(
        [str(BIN / "rlaunch"), *lp, "rapidfire"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    relaxed_before: dict = {}
    while time.time() < deadline and not relaxed_before:
        time.sleep(0.5)
        try:
            relaxed_before = {
                i: d["relax"]["provenance"]["created_at"]
                for i, d in candidates(db).items()
                if d.get("relax")
            }
        except (ValueError, KeyError, OSError):
            continue
    assert proc.poll() is None, "rapidfire finished before it could be killed"
    # hostile-probe issue, item 1: a second worker on the same embedded store is refused in
    # one line at its first firework and writes nothing (it read the LaunchPad file before
    # the first worker's later writes: writing it back used to lose them)
    before = db.read_bytes()
    second = run([BIN / "rlaunch", *lp, "singleshot"], env=env, cwd=tmp_path, check=False)
    assert second.returncode == 3, second.stderr[-2000:]
    line = [ln for ln in second.stderr.splitlines() if ln.startswith("error:")]
    assert len(line) == 1 and "one worker at a time" in line[0], second.stderr[-2000:]
    assert proc.poll() is None, "the first worker finished while the second was refused"
    assert "FIZZLED" not in db.read_text() or "FIZZLED" in before.decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert relaxed_before
    # a launch counts as lost once its last update is older than --time (1 s): wait that
    # long, or a chunk started just before the kill is not yet lost, stays RUNNING for ever
    # and the next rapidfire waits on it (seen when chunks take < 1 s on a warm machine)
    time.sleep(2.0)
    run([BIN / "lpad", *lp, "detect_lostruns", "--time", "1", "--rerun"], env=env, cwd=tmp_path)
    run([BIN / "rlaunch", *lp, "rapidfire"], env=env, cwd=tmp_path)
    wf = json.loads(
        run([BIN / "lpad", *lp, "get_wflows", "-d", "more"], env=env, cwd=tmp_path).stdout
    )
    assert wf["state"] == "COMPLETED", wf["states"]
    after = candidates(db)
    assert len(after) == 3  # one document per candidate
    for i, stamp in relaxed_before.items():  # no chunk recomputed
        assert after[i]["relax"]["provenance"]["created_at"] == stamp
    assert all(d["stage"] == "done" for d in after.values())
    assert not list(data.glob("*.tmp"))
    # hostile-probe issue, item 8: FW_config.yaml turns FW.json off, so FireWorks' rapidfire
    # leaves its launcher_* folders empty (it removes only those of rockets that did not run)
    assert not [p for p in tmp_path.glob("launcher_*/*")]


# -- 2. campaign launch in a new process -----------------------------------------------------
def test_2_campaign_launch_in_a_new_process(tmp_path, tensornet):
    env = env_for(tmp_path / "data")
    camp = campaign(tmp_path, "launch", ["Y"], top_k_md=0)
    run([SCREENING, "campaign", "submit", camp], env=env, cwd=tmp_path)
    t0 = time.time()
    run([SCREENING, "campaign", "launch"], env=env, cwd=tmp_path, timeout=300)
    assert time.time() - t0 < 240  # no 30 s wait for a server on localhost:27017
    # hostile-probe issue, item 8: nothing piles up in the folder it ran in
    assert not list(tmp_path.glob("launcher_*")) and not (tmp_path / "FW.json").exists()
    status = json.loads(run([SCREENING, "campaign", "status", "launch", "--json"], env=env).stdout)
    assert status["counts"]["relaxed"] == 1


# -- 3. one writer at a time; readers never write ---------------------------------------------
def test_3_second_writer_is_refused_and_readers_do_not_write(tmp_path):
    data = tmp_path / "data"
    env = env_for(data)
    camp = campaign(tmp_path, "w", ["Y"])
    run([SCREENING, "db", "init"], env=env)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from screening.store import ResultStore; ResultStore(); "
            "print('locked', flush=True); time.sleep(60)",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        out = run([SCREENING, "campaign", "run", camp], env=env, check=False, timeout=120)
        one_error_line(out, f"PID {holder.pid}", "one writing command")
        files = sorted(data.iterdir())
        before = [f.read_bytes() for f in files]
        one_error_line(run([SCREENING, "db", "init"], env=env, check=False), "PID")
        for args in (["rank", "w"], ["campaign", "status", "w"]):
            run([SCREENING, *args], env=env, check=False)  # readers: no lock needed
        assert sorted(data.iterdir()) == files
        assert [f.read_bytes() for f in files] == before
    finally:
        holder.kill()
        holder.wait()
    run([SCREENING, "db", "init"], env=env)  # the lock died with its holder


def test_3_read_only_commands_leave_the_file_alone(tmp_path):
    from screening.store import ResultStore, backend

    data = tmp_path / "data"  # this test's SCREENING_DATA_DIR (conftest)
    store = ResultStore()
    store.upsert("campaigns", [("c", {"name": "c"}, {})])
    backend.forget_embedded()  # writes the file and releases the lock
    results = data / "db.results.sqlite"
    before = sorted(data.iterdir()), results.stat().st_mtime_ns, results.read_bytes()
    env = env_for(data)
    run([SCREENING, "rank", "c"], env=env)
    run([SCREENING, "campaign", "status", "c"], env=env)
    assert (sorted(data.iterdir()), results.stat().st_mtime_ns, results.read_bytes()) == before


# -- 4. candidates belong to their campaign ----------------------------------------------------
def test_4_second_campaign_keeps_the_candidates_it_shares(tmp_path):
    from screening.flows.stages import generate_stage
    from screening.schemas.campaign import load_campaign
    from screening.store import ResultStore, backend

    env = env_for(tmp_path / "data")  # this test's SCREENING_DATA_DIR (conftest)
    store = ResultStore()
    a = load_campaign(campaign(tmp_path, "seq-a", ["Y", "Sc"]))
    b = load_campaign(campaign(tmp_path, "seq-b", ["Sc", "Zr"]))
    generate_stage(a, store)
    generate_stage(b, store)
    backend.forget_embedded()
    for name in ("seq-a", "seq-b"):
        st = json.loads(run([SCREENING, "campaign", "status", name, "--json"], env=env).stdout)
        assert st["counts"]["stored"] == st["counts"]["passed_filters"] == 2, (name, st["counts"])
    docs = candidates(tmp_path / "data" / "db.json")
    by_campaign = {}
    for d in docs.values():
        by_campaign.setdefault(d["campaign"], set()).add(d["structure_key"])
    # Li3ScCl6 is in both campaigns, with one document each and the same structure key
    assert len(by_campaign["seq-a"] & by_campaign["seq-b"]) == 1


# -- 5. temp files, empty and corrupt stores ---------------------------------------------------
@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"", "empty (0 bytes)"), (b"{not a database, not json" * 40, "not a readable")],
)
def test_5_empty_or_corrupt_store_is_an_error_and_left_untouched(tmp_path, content, needle):
    data = tmp_path / "data"
    data.mkdir()
    results = data / "db.results.sqlite"
    results.write_bytes(content)
    env = env_for(data)
    for args in (["rank", "x"], ["db", "init"]):
        out = run([SCREENING, *args], env=env, check=False)
        one_error_line(out, str(results), needle)
    assert results.read_bytes() == content


def test_5_failed_write_keeps_the_last_checkpoint(tmp_path):
    """Disk full, simulated (a connection whose row writes fail as SQLite's do when the disk
    is full: an error path). The store keeps its last checkpoint, the change stays pending
    and the next checkpoint writes it; a temp file of the LaunchPad file left by a killed
    write is removed by the next writer."""
    import sqlite3

    from screening.schemas.errors import DatabaseError
    from screening.store import ResultStore, backend
    from screening.store.embedded import read_collection

    data = tmp_path / "data"  # this test's SCREENING_DATA_DIR (conftest)
    results = data / "db.results.sqlite"
    store = ResultStore()
    store.upsert("campaigns", [("c", {"name": "c"}, {})])
    store.flush()
    docfile = backend._RESULTS[str(store.handle.path)][0]
    real = docfile.conn

    class DiskFull:
        def execute(self, sql, *args):
            return real.execute(sql, *args)

        def executemany(self, sql, rows):
            rows = list(rows)
            if rows and sql.startswith("INSERT INTO docs"):
                raise sqlite3.OperationalError("database or disk is full")
            return real.executemany(sql, rows)

    docfile.conn = DiskFull()
    store.upsert("campaigns", [("d", {"name": "d"}, {})])
    with pytest.raises(DatabaseError, match="database or disk is full"):
        store.flush()
    assert set(read_collection(results, "campaigns")) == {"c"}
    docfile.conn = real
    store.flush()
    assert set(read_collection(results, "campaigns")) == {"c", "d"}
    backend.forget_embedded()
    (data / "db.json.stale123.tmp").write_text("left by a killed write")
    ResultStore()
    assert not list(data.glob("*.tmp"))


# -- 6. unreachable or malformed database URIs ------------------------------------------------
@pytest.mark.parametrize(
    ("uri", "needle"),
    [
        ("mongodb://u:secret@127.0.0.1:1/db", "127.0.0.1:1"),
        ("http://example.org/db", "expected mongodb://"),
        ("mongodb+srv://x.invalid", "x.invalid"),
    ],
)
def test_6_bad_database_uri_is_one_line_within_seconds(tmp_path, uri, needle):
    env = env_for(tmp_path / "data", SCREENING_DB_URI=uri)
    t0 = time.time()
    out = run([SCREENING, "rank", "x"], env=env, check=False, timeout=60)
    line = one_error_line(out, needle)
    assert "secret" not in line
    assert time.time() - t0 < 15  # 5 s server timeout + interpreter start


# -- 7. bad input: one line, non-zero exit, before any work -----------------------------------
@pytest.fixture
def licl_cif(tmp_path) -> Path:
    path = tmp_path / "LiCl.cif"
    rocksalt(5.13).to(filename=str(path))
    return path


def test_7_bad_options_are_one_line(tmp_path, licl_cif):
    env = env_for(tmp_path / "data")
    cases = [
        (["md", licl_cif, "--temperature", "0", "--steps", "20"], "--temperature"),
        (["md", licl_cif, "--temperature", "300", "--steps", "20", "--stride", "0"], "--stride"),
        (
            ["md", licl_cif, "--temperature", "300", "--steps", "20", "--timestep", "0"],
            "--timestep",
        ),
        (["relax", licl_cif, "--fmax", "0"], "--fmax"),
        (["diffusion", licl_cif, "--temperatures", "800", "--steps", "0"], "--steps"),
        (["diffusion", licl_cif, "--temperatures", "nan", "--steps", "20"], "--temperatures"),
        (
            [
                "generate",
                REPO / "workflows" / "li-halides.yaml",
                "--limit",
                "2",
                "--out",
                tmp_path / "missing" / "c.jsonl",
            ],
            "does not exist",
        ),
    ]
    for args, needle in cases:
        one_error_line(run([SCREENING, *args], env=env, check=False), needle)


def test_7_bad_files_models_and_devices_are_one_line(tmp_path, licl_cif):
    env = env_for(tmp_path / "data")
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000)
    one_error_line(run([SCREENING, "campaign", "validate", deep], env=env, check=False), "deep")
    cold = campaign(tmp_path, "cold", ["Y"], md_temperatures_k=[0, 800])
    one_error_line(
        run([SCREENING, "campaign", "validate", cold], env=env, check=False), "md_temperatures_k"
    )
    empty = tmp_path / "models" / "TensorNet-MatPES-PBE-v2025.1-PES"
    empty.mkdir(parents=True)
    out = run(
        [SCREENING, "relax", licl_cif],
        env={**env, "SCREENING_MODELS_DIR": str(empty.parent)},
        check=False,
    )
    one_error_line(out, "model.pt")
    out = run([SCREENING, "relax", licl_cif], env={**env, "SCREENING_DEVICE": "cuda"}, check=False)
    one_error_line(out, "SCREENING_DEVICE=cuda")
    am = tmp_path / "AmCl.cif"
    rocksalt(5.13, cation="Am").to(filename=str(am))  # Am: not in TensorNet's 89 elements
    one_error_line(run([SCREENING, "relax", am], env=env, check=False), "Am", "not supported")
    out = run([SCREENING, "db", "init"], env=env_for(Path("/proc/no-such-dir")), check=False)
    one_error_line(out, "cannot create")


# -- 8. nonsense is refused --------------------------------------------------------------------
def test_8_overlapping_atoms_unknown_campaigns_and_failed_md(tmp_path, tensornet):
    env = env_for(tmp_path / "data")
    s = rocksalt(5.13)
    s.append("Li", [0.02, 0, 0])  # 0.1 Å from the Li at the origin
    close = tmp_path / "close.cif"
    s.to(filename=str(close))
    out = run([SCREENING, "relax", close, "--json"], env=env, check=False)
    assert out.returncode == 1
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["status"] == "failed" and "apart in the input" in doc["failure_reason"]
    out = run(
        [
            SCREENING,
            "diffusion",
            close,
            "--temperatures",
            "800",
            "--steps",
            "10",
            "--equilibration",
            "0",
        ],
        env=env,
        check=False,
    )
    assert out.returncode != 0 and "failed at every temperature" in out.stderr
    run([SCREENING, "db", "init"], env=env)
    for args in (["rank", "nope"], ["campaign", "status", "nope"]):
        one_error_line(run([SCREENING, *args], env=env, check=False), "'nope'")
    one_error_line(run([SCREENING, "rank", "nope", "--top", "0"], env=env, check=False), "--top")


# -- 9. large cells ---------------------------------------------------------------------------
def test_9_large_cells_warn_show_progress_or_are_refused(tmp_path, tensornet):
    big = rocksalt(5.13)
    big.make_supercell([3, 3, 3])  # 216 atoms
    path = tmp_path / "big.cif"
    big.to(filename=str(path))
    env = env_for(tmp_path / "data")
    out = run([SCREENING, "relax", path], env={**env, "SCREENING_MEMORY_GB": "0.3"}, check=False)
    one_error_line(out, "216 atoms", "GB")
    out = run(
        [SCREENING, "relax", path, "--max-steps", "12", "--fmax", "1e-6"],
        env={**env, "SCREENING_LARGE_CELL_ATOMS": "100"},
        check=False,
    )
    assert "warning:" in out.stderr and "216 atoms" in out.stderr
    assert "step 10/12" in out.stderr  # progress of a long single run
