"""A campaign is bound to its spec and model (issue 29 item 5, issue 28 item 4), as a user
meets it: `campaign run` in a subprocess, the YAML edited between runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO

SCREENING = str(Path(sys.executable).with_name("screening"))


def _campaign(path: Path, **funnel) -> dict:
    doc = {
        "name": "bound",
        "mobile_ion": "Li",
        "prototypes": [{"path": str(REPO / "workflows" / "prototypes" / "Li3YCl6.cif")}],
        "substitutions": {"Y": ["Y", "Sc", "In"], "Cl": ["Cl"]},
        "funnel": {
            "chunk_size": 3,
            "top_k_md": 1,
            "md_temperatures_k": [800],
            "md_steps": 20,
            "relax_max_steps": 10,
            "md_max_atoms": 20,
            **funnel,
        },
    }
    path.write_text(yaml.safe_dump(doc))
    return doc


def _run(camp: Path, tmp_path: Path, *extra: str):
    env = {
        **os.environ,
        "SCREENING_DATA_DIR": str(tmp_path / "data"),
        "SCREENING_THREADS": "1",
    }
    return subprocess.run(
        [SCREENING, "campaign", "run", str(camp), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _docs(tmp_path: Path) -> list[dict]:
    from screening.store.embedded import read_collection

    return list(read_collection(tmp_path / "data" / "db.results.sqlite", "candidates").values())


def _spec(tmp_path: Path) -> dict:
    from screening.store.embedded import read_collection

    return read_collection(tmp_path / "data" / "db.results.sqlite", "campaigns")["bound"]


def test_safe_edits_apply_and_others_are_refused(tmp_path):
    camp = tmp_path / "bound.yaml"
    doc = _campaign(camp)
    out = _run(camp, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert sum("diffusion" in d for d in _docs(tmp_path)) == 1
    model = _spec(tmp_path)["model"]
    assert model["name"] == "tensornet-matpes-pbe" and len(model["weights_sha256"]) == 64

    # more MD: applied, said, and the next candidate goes to MD
    _campaign(camp, top_k_md=2)
    out = _run(camp, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "applied: funnel.top_k_md: 1 -> 2" in out.stdout
    assert "1 more candidate(s) go to the full MD series" in out.stdout
    assert sum("diffusion" in d for d in _docs(tmp_path)) == 2
    assert _spec(tmp_path)["spec"]["funnel"]["top_k_md"] == 2

    # a substitution cannot change in place: one line naming it, nothing changed
    before = {d["_id"]: d.get("updated_at") for d in _docs(tmp_path)}
    doc["substitutions"]["Y"] = ["Y", "Sc", "Zr"]
    doc["funnel"]["top_k_md"] = 2
    camp.write_text(yaml.safe_dump(doc))
    out = _run(camp, tmp_path)
    lines = [ln for ln in out.stderr.splitlines() if not ln.startswith("warning: ")]
    assert out.returncode != 0 and len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "substitutions.Y cannot change in place" in lines[0] and "new name" in lines[0]
    assert {d["_id"]: d.get("updated_at") for d in _docs(tmp_path)} == before
    assert _spec(tmp_path)["spec"]["substitutions"]["Y"] == ["Y", "Sc", "In"]

    # another model never mixes into the ranking
    _campaign(camp, top_k_md=2)
    out = _run(camp, tmp_path, "--model", "chgnet")
    lines = [ln for ln in out.stderr.splitlines() if not ln.startswith("warning: ")]
    assert out.returncode != 0 and len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "tensornet-matpes-pbe" in lines[0] and "chgnet" in lines[0]
    assert {d["_id"]: d.get("updated_at") for d in _docs(tmp_path)} == before

    # the score section is safe: applied and every stored score recomputed
    d2 = yaml.safe_load(camp.read_text())
    d2["score"] = {"quantile": 0.5}
    camp.write_text(yaml.safe_dump(d2))
    out = _run(camp, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "applied: score.quantile: 0.16 -> 0.5" in out.stdout
    assert "rescored" in out.stdout
    assert all(d["evidence"]["quantile"] == 0.5 for d in _docs(tmp_path) if "evidence" in d)
