"""A campaign run whose output goes to a file (make, nohup, a batch script) writes plain
progress lines as it goes, not rich bars at the end (the user-view issue, item 2)."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
from test_reliability import SCREENING, campaign, env_for


def test_redirected_campaign_run_logs_progress_while_it_runs(tmp_path, tensornet):
    camp = campaign(
        tmp_path, "logged", ["Y", "Sc", "Zr"], top_k_md=0, chunk_size=1, relax_max_steps=5
    )
    log = tmp_path / "run.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [SCREENING, "campaign", "run", str(camp)],
            env=env_for(tmp_path / "data"),
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
        seen_while_running = False
        deadline = time.time() + 300
        while proc.poll() is None and time.time() < deadline:
            if re.search(r"relax.*: 1/3 ", log.read_text()):
                seen_while_running = proc.poll() is None
                break
            time.sleep(0.05)
        assert proc.wait(timeout=300) == 0, log.read_text()[-2000:]
    text = log.read_text()
    assert seen_while_running, text  # the first chunk's line was in the file before the end
    relax = [ln for ln in text.splitlines() if re.match(r"relax.*: \d/3 ", ln)]
    assert [re.search(r": (\d)/3", ln).group(1) for ln in relax] == ["0", "1", "2", "3"]
    assert "ETA" in relax[1] and "\x1b[" not in text  # no terminal escape codes in a file
    assert len(set(text.splitlines())) == len(text.splitlines())


def test_status_eta_comes_from_the_running_stage_s_own_cost(tmp_path, tensornet):
    """`campaign status` while relax runs (8 candidates, one per chunk, 40 FIRE steps each):
    its ETA is the relax backlog times relax's measured time per candidate, within 2x of
    the time the run then actually needed."""
    import json

    import yaml
    from conftest import REPO

    doc = {
        "name": "timed",
        "mobile_ion": "Li",
        "prototypes": [{"path": str(REPO / "workflows" / "prototypes" / "Li3YCl6.cif")}],
        "substitutions": {"Y": ["Y", "Sc", "In", "Lu"], "Cl": ["Cl", "Br"]},
        "funnel": {
            "chunk_size": 1,
            "relax_max_steps": 40,
            "relax_fmax_ev_a": 1e-5,  # every relaxation runs its 40 steps: equal chunks
            "top_k_md": 0,
        },
    }
    camp = tmp_path / "timed.yaml"
    camp.write_text(yaml.safe_dump(doc))
    env = env_for(tmp_path / "data")
    log = tmp_path / "run.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [SCREENING, "campaign", "run", str(camp)], env=env, stdout=fh, stderr=subprocess.STDOUT
        )
        deadline = time.time() + 600
        while not re.search(r"relax.*: 2/8 ", log.read_text()) and time.time() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.05)
        t0 = time.time()
        out = subprocess.run(
            [SCREENING, "campaign", "status", "timed", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        t_sample = (t0 + time.time()) / 2  # the status read the store between the two
        assert proc.wait(timeout=600) == 0, log.read_text()[-2000:]
        actual = time.time() - t_sample
    assert out.returncode == 0, out.stderr
    eta = json.loads(out.stdout)["eta"]
    relax = next(r for r in eta["stages"] if r["stage"] == "relax")
    assert relax["source"].startswith("measured over") and 2 <= relax["remaining"] <= 6
    assert eta["complete"] and eta["eta_s"] == pytest.approx(relax["eta_s"])
    assert 0.5 < eta["eta_s"] / actual < 2.0, (eta, actual)
    text = subprocess.run(
        [SCREENING, "campaign", "status", "timed"], env=env, capture_output=True, text=True
    ).stdout
    assert "ETA 0.0 min" in text  # finished: nothing left in any stage
