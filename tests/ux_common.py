"""Shared helpers of the user-experience tests (test_ux.py, test_ux_results.py): the CLI in a
subprocess with threads limited, a small campaign file, a synthetic random walk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from conftest import REPO

BIN = Path(sys.executable).parent
SCREENING = str(BIN / "screening")
PROTO = REPO / "workflows" / "prototypes" / "Li3YCl6.cif"


def env_for(data: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MONGOMOCK_SERVERSTORE_FILE",)}
    env.update(SCREENING_DATA_DIR=str(data), OMP_NUM_THREADS="1", **extra)
    return env


def run(args, *, env, cwd=None, check=True, timeout=600):
    out = subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert out.returncode == 0, out.stderr[-3000:]
    return out


def write_campaign(tmp_path: Path, name: str = "ux", **changes) -> Path:
    doc = {
        "name": name,
        "mobile_ion": "Li",
        "prototypes": [{"path": str(PROTO)}],
        "substitutions": {"Y": ["Y", "Sc"], "Cl": ["Cl"]},
        "compensation": {"enabled": False},
        "funnel": {"md_steps": 1000, "md_temperatures_k": [800, 1000, 1200]},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def walk(seed: int, n_frames: int, d_cm2_s: float, n_ions: int = 16, dt_fs: float = 10.0):
    rng = np.random.default_rng(seed)
    step_sd = np.sqrt(2 * (d_cm2_s / 0.1) * dt_fs)
    steps = rng.normal(0, step_sd, (n_frames - 1, n_ions, 3))
    return np.concatenate([np.zeros((1, n_ions, 3)), np.cumsum(steps, axis=0)]), (
        np.arange(n_frames) * dt_fs
    )
