"""`screening report`: a static HTML page of a campaign, checked in a real headless browser
(Chromium from Debian), and built from top-K queries (bounded at 10^5 documents)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from browser import Browser, chromium

SCREENING = str(Path(sys.executable).with_name("screening"))
SECTIONS = ("funnel", "ranking", "hull-sigma", "screen-d", "candidates", "spec")


def _cli(env, *args, timeout=300):
    out = subprocess.run(
        [SCREENING, *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _png_array(png: bytes) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(png), format="png")


def test_report_opens_in_a_browser_sorts_and_shows_every_section(screened_campaign, tmp_path):
    if chromium() is None:
        pytest.skip("no Chromium: `apt-get install chromium` (Debian) to run the browser test")
    folder, env, run = screened_campaign
    assert run.returncode == 0, run.stderr[-3000:]
    out = tmp_path / "report"
    text = _cli(env, "report", "screened", "--out", str(out))
    page = out / "index.html"
    assert str(page) in text and page.stat().st_size > 10_000
    html = page.read_text()
    assert "http://" not in html and "https://" not in html  # nothing fetched from a network
    table = json.loads(_cli(env, "rank", "screened", "--json", "--top", "20"))

    with Browser(width=1280, height=900) as b:
        b.open(page.as_uri())
        # every section is there and has content; every figure decoded
        heights = dict(
            b.js("[...document.querySelectorAll('section')].map(s => [s.id, s.offsetHeight])")
        )
        assert tuple(heights) == SECTIONS and all(h > 80 for h in heights.values()), heights
        images = b.js("[...document.images].map(i => i.complete ? i.naturalWidth : 0)")
        # funnel, scatter, screen histogram + per candidate a structure picture and its plots
        n_plots = sum(
            1 + sum(k.endswith(".png") for k in d.get("artifacts", [])) for d in _docs(folder)
        )
        assert len(images) == 3 + n_plots and min(images) > 100, images
        # the table is the ranking `rank` prints, ids link to their candidate's section
        rows = b.js(
            "[...document.querySelectorAll('#ranking-table tbody tr')]"
            ".map(r => [r.cells[1].textContent, Number(r.cells[3].dataset.v)])"
        )
        assert [r[0] for r in rows] == [t["formula"] for t in table]
        assert [r[1] for r in rows] == pytest.approx([t["score"] for t in table], abs=1e-3)
        assert b.js(
            "[...document.querySelectorAll('#ranking-table a')]"
            ".every(a => document.getElementById(a.hash.slice(1)) !== null)"
        )

        # sorting: a number column both ways, a text column, missing values last
        def column(i):
            return b.js(
                f"[...document.querySelectorAll('#ranking-table tbody tr')].map(r => "
                f"r.cells[{i}].dataset.v === undefined ? r.cells[{i}].textContent : "
                f"(r.cells[{i}].dataset.v === '' ? null : Number(r.cells[{i}].dataset.v)))"
            )

        def click(i):
            b.js(f"document.querySelectorAll('#ranking-table th')[{i}].click()")

        click(3)
        assert column(3) == sorted(column(3))
        click(3)
        assert column(3) == sorted(column(3), reverse=True)
        click(1)
        assert column(1) == sorted(column(1))
        click(8)  # N_eff: candidates without MD evidence have none and go last
        n_eff = column(8)
        known = [v for v in n_eff if v is not None]
        assert n_eff == sorted(known) + [None] * (len(n_eff) - len(known))
        assert b.errors == [], b.errors

        # the screenshot shows each section: its region is not blank and holds a figure
        # or a table (many distinct colours), its heading rule is drawn
        shot = _png_array(b.screenshot())
        rects = b.js(
            "[...document.querySelectorAll('section')].map(s => {const r = "
            "s.getBoundingClientRect(); return [r.top + window.scrollY, r.height];})"
        )
        assert shot.shape[0] >= sum(h for _, h in rects)
        for sid, (top, height) in zip(SECTIONS, rects, strict=True):
            region = shot[int(top) : int(top + height), :, :3]
            assert region.std() > 0.05, sid
            colours = {tuple(p) for p in (region[::4, ::4] * 255).astype(int).reshape(-1, 3)}
            assert len(colours) > 20, sid
            rule = np.all(np.abs(region[:80] * 255 - (27, 108, 168)) < 30, axis=-1)
            assert rule.sum() > 200, sid  # the section's blue heading rule


def _docs(folder: Path) -> list[dict]:
    from screening.store.embedded import read_collection

    return list(read_collection(folder / "data" / "db.results.sqlite", "candidates").values())


# -- scale: a report of 10^5 documents reads top-K, not the campaign ----------------------
def _synthetic_campaign(n: int) -> None:
    """``n`` candidate documents with scores and evidence (synthetic numbers: this measures
    the report's queries, not physics), written through the store."""
    import random

    from screening.store.results import ResultStore

    rng = random.Random(0)
    store = ResultStore()
    store.save_campaign("big", spec={"name": "big"})

    def doc(i: int) -> dict:
        score, screened = rng.uniform(-12, -2), i % 10 == 0
        d = {
            "campaign": "big",
            "candidate_id": f"c{i:08d}",
            "formula": "Li3YCl6",
            "stage": "screened" if screened else "stable",
            "status": "completed",
            "score": score,
            "score_e_hull_ev_per_atom": rng.uniform(0, 0.1),
            "evidence": {
                "tier": "screen" if screened else None,
                "sampling": "ok" if screened else "no_md",
                "sigma300_s_cm": 10 ** (score + 2),
                "sigma300_lower_s_cm": 10**score,
                "sigma300_upper_s_cm": 10 ** (score + 4),
                "flags": ["lever_arm"] if screened else [],
            },
        }
        if screened:
            d["screen"] = {
                "temperature_k": 900.0,
                "framework_melting": False,
                "diffusion": {
                    "temperature_k": 900.0,
                    "status": "ok",
                    "diffusivity_cm2_s": 10 ** rng.uniform(-6, -4),
                },
            }
        return d

    store.candidates("big").add((f"c{i:08d}", {}, doc(i)) for i in range(n))
    store.flush()


PEAK_RSS = (
    "import sys\n"
    "from screening.cli.main import app\n"
    "try:\n"
    "    app(sys.argv[1:])\n"
    "finally:\n"
    "    hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')]\n"
    "    print(hwm[0].split()[1], file=sys.stderr)\n"
)
"""Run the CLI and print its own peak RSS (kB, VmHWM: reset at exec, unlike ru_maxrss,
which a child inherits from a large parent such as a pytest worker holding the models)."""


def _timed_report(env: dict, out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `screening report` process."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, "report", "big", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - t0
    assert "wrote" in proc.stdout, proc.stderr[-2000:]
    return seconds, int(proc.stderr.strip().splitlines()[-1]) / 1024


def test_report_of_1e5_documents_is_bounded_in_time_and_memory(tmp_path, monkeypatch):
    figures = {}
    for n in (10_000, 100_000):
        data = tmp_path / f"data{n}"
        monkeypatch.setenv("SCREENING_DATA_DIR", str(data))
        from screening.settings import get_settings
        from screening.store import backend

        get_settings.cache_clear()
        backend.forget_embedded()
        _synthetic_campaign(n)
        env = {**os.environ, "SCREENING_DATA_DIR": str(data), "OMP_NUM_THREADS": "1"}
        figures[n] = _timed_report(env, tmp_path / f"report{n}")
        html = (tmp_path / f"report{n}" / "index.html").read_text()
        assert html.count("<article") == 20  # the top 20 get sections, nobody else
        assert f"{n:,} candidates stored" in html
    print("report seconds, peak MB:", figures)
    (_, m4), (t5, m5) = figures[10_000], figures[100_000]
    # the embedded store scans for the counts (a server uses its indexes), so time grows,
    # but memory does not follow the documents: loading all 10^5 whole took +330 MB and
    # 60 s before the top-k queries (measured: 10^4 6.7 s / 182 MB, 10^5 10.6 s / 196 MB)
    assert t5 < 60, figures
    assert m5 - m4 < 100 and m5 < 600, figures
