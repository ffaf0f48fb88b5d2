"""The hostile-probe issue's item 8, grouped: read-only databases, corrupt documents,
campaigns that cannot give results, non-finite numbers, outputs and elements checked before
the work, no silent overwrite, safe campaign names, and the smaller items. Every command in
its own process; each case failed on main before the fix (traceback, exit 0 or silence)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from test_reliability import SCREENING, campaign, env_for, one_error_line, run

PROTO = REPO / "workflows" / "prototypes" / "Li3YCl6.cif"


@pytest.fixture(scope="module")
def stored(tmp_path_factory, tensornet):
    """A finished two-candidate campaign (real model, 5 relaxation steps), copied per test."""
    root = tmp_path_factory.mktemp("stored")
    camp = campaign(root, "p8", ["Y", "Sc"], top_k_md=0, relax_max_steps=5)
    run([SCREENING, "campaign", "run", camp], env=env_for(root / "data"), timeout=300)
    return root


def copy_of(stored: Path, tmp_path: Path) -> Path:
    shutil.copytree(stored / "data", tmp_path / "data")
    shutil.copy(stored / "p8.yaml", tmp_path / "p8.yaml")
    return tmp_path / "data"


def read_only_runner(data: Path):
    """``wrap(args)``: a command prefix under which ``data`` cannot be written.

    Root writes through file modes, so as root the folder is bind-mounted read-only in a
    private mount namespace (``unshare -m``; a real read-only file system), or, where that
    is not allowed, the command runs as an unprivileged user (``setpriv``) if that user can
    run this virtual environment; otherwise the test is skipped, saying why."""
    if os.geteuid() != 0:
        return lambda args: args
    remount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    if shutil.which("unshare"):
        probe = subprocess.run(
            ["unshare", "-m", "sh", "-c", remount, str(data), "true"], capture_output=True
        )
        if probe.returncode == 0:
            return lambda args: ["unshare", "-m", "sh", "-c", remount, str(data), *args]
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if shutil.which("setpriv"):
        probe = subprocess.run([*nobody, sys.executable, "-c", "pass"], capture_output=True)
        if probe.returncode == 0:
            return lambda args: [*nobody, *args]
    pytest.skip(
        "running as root without a private read-only mount (unshare -m) and without an "
        "unprivileged user that can run this virtual environment: cannot make a folder "
        "read-only"
    )


def test_8_read_only_database_is_readable(stored):
    import tempfile

    # a folder an unprivileged user can reach, should that be the way (pytest's is private)
    root = Path(tempfile.mkdtemp(prefix="screening-ro-"))
    try:
        root.chmod(0o755)
        data = copy_of(stored, root)
        for p in data.iterdir():
            p.chmod(0o444)
        data.chmod(0o555)
        wrap = read_only_runner(data)
        env = env_for(data, HOME=str(root))
        rank = run(wrap([SCREENING, "rank", "p8", "--json"]), env=env)
        assert len(json.loads(rank.stdout)) == 2
        status = run(wrap([SCREENING, "campaign", "status", "p8", "--json"]), env=env)
        assert json.loads(status.stdout)["counts"]["relaxed"] == 2
        (root / "out").mkdir(mode=0o777)
        (root / "out").chmod(0o777)
        run(wrap([SCREENING, "export", "p8", "--out", root / "out"]), env=env)
        assert len(list((root / "out").rglob("*.cif"))) == 2
        assert sorted(p.name for p in data.iterdir()) == ["db.json.lock", "db.results.sqlite"]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_8_corrupt_document_is_named_and_skipped_or_refused(stored, tmp_path):
    data = copy_of(stored, tmp_path)
    env = env_for(data)
    with sqlite3.connect(data / "db.results.sqlite") as conn:
        key, doc = conn.execute(
            "SELECT key, doc FROM docs WHERE coll = 'candidates' ORDER BY rowid LIMIT 1"
        ).fetchone()
        conn.execute(
            "UPDATE docs SET doc = ? WHERE coll = 'candidates' AND key = ?",
            (doc[:100] + b"\xff" * 20 + doc[120:], key),
        )
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    import bson

    bad_id = bson.decode(key)["k"]
    rank = run([SCREENING, "rank", "p8", "--json"], env=env)
    assert [r["candidate_id"] for r in json.loads(rank.stdout)] != []
    assert bad_id not in rank.stdout
    warned = [ln for ln in rank.stderr.splitlines() if "corrupt" in ln]
    assert len(warned) == 1 and bad_id in warned[0], rank.stderr
    assert "Traceback" not in rank.stderr
    status = run([SCREENING, "campaign", "status", "p8"], env=env)
    assert "Traceback" not in status.stderr
    again = run([SCREENING, "campaign", "run", tmp_path / "p8.yaml"], env=env, check=False)
    assert again.returncode != 0 and "Traceback" not in again.stderr
    assert bad_id in [ln for ln in again.stderr.splitlines() if "error:" in ln][-1]


def write_campaign(tmp_path: Path, file_stem: str, **changes) -> Path:
    doc = yaml.safe_load(campaign(tmp_path, "c", ["Y"]).read_text())
    for key, value in changes.items():
        *parents, last = key.split(".")
        d = doc
        for p in parents:
            d = d.setdefault(p, {})
        d[last] = value
    path = tmp_path / f"{file_stem}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    ("changes", "needles"),
    [
        ({"mobile_ion": "Na"}, ["mobile_ion", "Na"]),  # no prototype holds it
        ({"filters.max_atoms": 1}, ["filters", "too_many_atoms"]),  # no candidate
        ({"funnel.relax_fmax_ev_a": float("inf")}, ["relax_fmax_ev_a", "finite"]),
        ({"score.hull_per_ev": float("inf")}, ["hull_per_ev", "finite"]),
        ({"references": "no-such-folder"}, ["references", "no-such-folder"]),
        ({"substitutions": {"Y": ["Y", "Og"]}}, ["Og", "not trained"]),
        ({"name": "../../X"}, ["name", "letters"]),
        ({"base_dir": "/tmp"}, ["base_dir"]),
    ],
)
def test_8_campaigns_that_cannot_give_results_are_refused(tmp_path, changes, needles):
    path = write_campaign(tmp_path, "bad", **changes)
    env = env_for(tmp_path / "data")
    if "mobile_ion" in changes:  # validate runs the same checks as run
        one_error_line(
            run([SCREENING, "campaign", "validate", path], env=env, check=False), *needles
        )
    t0 = time.time()
    out = run([SCREENING, "campaign", "run", path], env=env, check=False)
    one_error_line(out, *needles)
    assert time.time() - t0 < 60  # refused before any relaxation
    results = tmp_path / "data" / "db.results.sqlite"
    if results.exists():  # the writer's lock came first; nothing was stored
        from screening.store.embedded import read_collection

        assert read_collection(results, "candidates") == {}


def test_8_outputs_and_elements_checked_before_the_work(tmp_path):
    env = env_for(tmp_path / "data")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    t0 = time.time()
    out = run(
        [
            SCREENING,
            "diffusion",
            PROTO,
            "--temperatures",
            "600",
            "--steps",
            "2000",
            "--plots",
            blocker / "plots",
        ],
        env=env,
        check=False,
    )
    one_error_line(out, "--plots")
    assert time.time() - t0 < 30  # 2,000 MD steps were not run first
    camp = write_campaign(tmp_path, "plan")
    out = run(
        [SCREENING, "campaign", "plan", camp, "--calibrate"],
        env=env_for(blocker / "data"),
        check=False,
    )
    one_error_line(out, "--calibrate")
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "Og.vasp").write_text("Og\n1.0\n5 0 0\n0 5 0\n0 0 5\nOg\n1\ndirect\n0 0 0\n")
    out = run([SCREENING, "stability", PROTO, "--references", refs], env=env, check=False)
    one_error_line(out, "Og", "not supported")


def test_8_no_silent_overwrite_and_the_smaller_items(tmp_path):
    env = env_for(tmp_path / "data")
    camp = write_campaign(tmp_path, "gen")
    text = camp.read_text()
    one_error_line(
        run([SCREENING, "generate", camp, "--out", camp], env=env, check=False),
        "campaign file",
    )
    assert camp.read_text() == text
    other = tmp_path / "c.jsonl"
    other.write_text("keep\n")
    one_error_line(
        run([SCREENING, "generate", camp, "--out", other], env=env, check=False), "--force"
    )
    assert other.read_text() == "keep\n"
    # a POSCAR with a NaN lattice: the error names the file
    poscar = tmp_path / "nan.vasp"
    poscar.write_text(
        "LiCl\n1.0\nnan 0 0\n0 5.13 0\n0 0 5.13\nLi Cl\n1 1\ndirect\n0 0 0\n0.5 0.5 0.5\n"
    )
    one_error_line(run([SCREENING, "relax", poscar], env=env, check=False), "nan.vasp", "NaN")
    # --where on a number field with a word: an error, not an empty table
    one_error_line(
        run([SCREENING, "rank", "x", "--where", "score > abc"], env=env, check=False),
        "score takes a number",
    )
    # strict JSON: no bare NaN from --json
    code = "from screening.cli.common import emit_json; emit_json({'x': float('nan'), 'y': [1.0]})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"x": None, "y": [1.0]}


def test_8_another_programs_lock_fails_fast(stored, tmp_path):
    data = copy_of(stored, tmp_path)
    conn = sqlite3.connect(data / "db.results.sqlite", isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.time()
        out = run(
            [SCREENING, "campaign", "run", tmp_path / "p8.yaml"], env=env_for(data), check=False
        )
        errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
        assert out.returncode != 0 and "Traceback" not in out.stderr
        assert len(errors) == 1 and "locked by another program" in errors[0], out.stderr
        assert time.time() - t0 < 40  # the 5 s database timeout, not minutes
    finally:
        conn.execute("ROLLBACK")
        conn.close()
