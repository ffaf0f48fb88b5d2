"""LaunchPad files as users pass them around (hostile-probe issue, item 2): a server's file
is pinged before any work, an embedded store's file works from any folder; and submitted
work carries its campaign (item 6). Every command in its own process."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml
from test_reliability import SCREENING, campaign, candidates, env_for, load_db, one_error_line, run


def test_2_launchpad_file_server_is_pinged_first(tmp_path):
    env = env_for(tmp_path / "data")
    camp = campaign(tmp_path, "lp", ["Y"], top_k_md=0)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "host": "127.0.0.1",
                "port": 1,
                "name": "x",
                "username": "admin",
                "password": "P@ss:w/rd",
            }
        )
    )
    for args in (["campaign", "submit", camp], ["campaign", "launch"]):
        t0 = time.time()
        out = run([SCREENING, *args, "--launchpad", bad], env=env, check=False, timeout=60)
        line = one_error_line(out, "bad.yaml", "127.0.0.1:1")
        assert "P@ss" not in line and "w/rd" not in line
        assert time.time() - t0 < 15  # 5 s server timeout + interpreter start, not 30 s
    assert not (tmp_path / "data" / "db.json").exists()  # nothing submitted anywhere


def test_2_embedded_launchpad_file_works_from_any_folder(tmp_path):
    home, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    env = env_for(tmp_path / "data")
    run([SCREENING, "db", "launchpad-file", "lp.yaml"], env=env, cwd=home)
    lp_file = home / "lp.yaml"
    # another folder, another data dir in the environment: the file decides
    env_b = env_for(tmp_path / "other-data")
    camp = campaign(tmp_path, "anywhere", ["Y"], top_k_md=0)
    run([SCREENING, "campaign", "submit", camp, "--launchpad", lp_file], env=env_b, cwd=elsewhere)
    run(
        [SCREENING, "campaign", "launch", "--launchpad", lp_file, "--nlaunches", "1"],
        env=env_b,
        cwd=elsewhere,
    )
    assert not (tmp_path / "other-data").exists()
    db = load_db(tmp_path / "data" / "db.json")["screening"]
    (wf,) = [d for _, d in db["workflows"]["documents"]]
    states = {d["name"]: d["state"] for _, d in db["fireworks"]["documents"]}
    assert states["generate fan-out"] == "COMPLETED", states
    assert "anywhere" in wf["name"]
    status = run([SCREENING, "campaign", "status", "anywhere", "--json"], env=env).stdout
    assert json.loads(status)["counts"]["shards_total"] == 1  # the fan-out ran there


def test_6_queued_work_runs_what_was_submitted_not_the_file(tmp_path):
    env = env_for(tmp_path / "data")
    camp = campaign(tmp_path, "frozen", ["Y", "Sc"], top_k_md=0)
    run([SCREENING, "campaign", "submit", camp], env=env, cwd=tmp_path)
    # after submit the file is moved away, and what is left at its path is no campaign
    camp.rename(tmp_path / "moved.yaml")
    camp.write_text("name: [not, a, campaign]\n")
    # the generate fan-out and its shard job (no model needed), in a new process
    run([SCREENING, "campaign", "launch", "--nlaunches", "2"], env=env, cwd=tmp_path, timeout=120)
    db = load_db(tmp_path / "data" / "db.json")["screening"]
    states = {d["name"]: d["state"] for _, d in db["fireworks"]["documents"]}
    assert "FIZZLED" not in states.values(), states
    status = run([SCREENING, "campaign", "status", "frozen", "--json"], env=env).stdout
    counts = json.loads(status)["counts"]
    assert counts["shards_done"] == counts["shards_total"] == 1
    assert counts["passed_filters"] == 2  # the submitted substitutions, from the workflow
    fws = [d for _, d in db["fireworks"]["documents"]]
    assert all(str(camp) not in json.dumps(f["spec"], default=str) for f in fws)


def test_1_worker_refused_while_another_process_writes(tmp_path):
    """A worker started while another process holds the embedded store (here a stand-in
    for `campaign run`: a process that opened the results for writing) is refused in one
    line with a non-zero exit, and the LaunchPad file is left as it was."""
    import subprocess

    env = env_for(tmp_path / "data")
    camp = campaign(tmp_path, "busy", ["Y"], top_k_md=0)
    run([SCREENING, "campaign", "submit", camp], env=env, cwd=tmp_path)
    run([SCREENING, "db", "launchpad-file", "my_launchpad.yaml"], env=env, cwd=tmp_path)
    db = tmp_path / "data" / "db.json"
    before = db.read_bytes()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from screening.store.results import ResultStore; import sys, time; ResultStore(); "
            "print('locked', flush=True); time.sleep(120)",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        rlaunch = Path(sys.executable).parent / "rlaunch"
        out = run(
            [rlaunch, "-l", "my_launchpad.yaml", "singleshot"],
            env=env,
            cwd=tmp_path,
            check=False,
            timeout=120,
        )
        assert out.returncode == 3, out.stderr[-2000:]
        errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and "being written by another process" in errors[0]
        out = run([SCREENING, "campaign", "launch"], env=env, cwd=tmp_path, check=False)
        one_error_line(out, "being written by another process")
        assert db.read_bytes() == before
    finally:
        holder.kill()
        holder.wait()


# -- 10. credentials and duplicate submissions ---------------------------------------------------
def test_10_launchpad_file_is_private_and_submit_is_not_duplicated(tmp_path):
    env = env_for(tmp_path / "data")
    out_file = tmp_path / "lp.yaml"
    run(
        [SCREENING, "db", "launchpad-file", out_file],
        env={**env, "SCREENING_DB_URI": "mongodb://u:pw@db.example:27017/x"},
    )
    assert out_file.stat().st_mode & 0o777 == 0o600
    # hostile-probe issue, item 8: existing files are not overwritten without --force
    one_error_line(
        run([SCREENING, "db", "launchpad-file", tmp_path / "lp2.yaml"], env=env, check=False),
        "FW_config.yaml",
        "--force",
    )
    run([SCREENING, "db", "launchpad-file", tmp_path / "lp2.yaml", "--force"], env=env)
    assert (tmp_path / "lp2.yaml").stat().st_mode & 0o777 == 0o600
    camp = campaign(tmp_path, "dup", ["Y"])
    run([SCREENING, "campaign", "submit", camp], env=env)
    one_error_line(
        run([SCREENING, "campaign", "submit", camp], env=env, check=False), "already", "--force"
    )
    assert "submitted" in run([SCREENING, "campaign", "submit", camp, "--force"], env=env).stdout
    wfs = load_db(tmp_path / "data" / "db.json")["screening"]["workflows"]["documents"]
    assert len(wfs) == 2


def test_1_jobflow_file_makes_the_screening_database_the_job_store(tmp_path):
    """`db jobflow-file`: jobflow's default JOB_STORE becomes the results' database, so a job
    run by plain jobflow in one process leaves its output where another process reads it."""
    env = env_for(tmp_path / "data")
    run([SCREENING, "db", "jobflow-file", tmp_path / "jobflow.yaml"], env=env)
    assert "password" not in (tmp_path / "jobflow.yaml").read_text()
    code = (
        "from jobflow import job, run_locally\n"
        "@job\ndef add(a, b):\n    return a + b\n"
        "run_locally(add(1, 2), log=False, ensure_success=True)\n"
    )
    run(
        [sys.executable, "-c", code],
        env={**env, "JOBFLOW_CONFIG_FILE": str(tmp_path / "jobflow.yaml")},
        cwd=tmp_path,
    )
    outputs = candidates(tmp_path / "data" / "db.json", "jobflow_outputs")
    assert [d["output"] for d in outputs.values()] == [3]
