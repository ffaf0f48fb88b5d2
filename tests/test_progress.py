"""A campaign run whose output goes to a file (make, nohup, a batch script) writes plain
progress lines as it goes, not rich bars at the end (the user-view issue, item 2)."""

from __future__ import annotations

import re
import subprocess
import time

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
