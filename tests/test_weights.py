"""Weights verified at load (issue 29, item 7): a model folder whose SHA256SUMS fails is
refused in one line naming the file, before any energy is computed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import rocksalt

SCREENING = str(Path(sys.executable).with_name("screening"))
FOLDER = "TensorNet-MatPES-PBE-v2025.1-PES"


def _models() -> Path:
    d = os.environ.get("SCREENING_MODELS_DIR")
    if not d or not (Path(d) / FOLDER / "SHA256SUMS").is_file():
        pytest.skip("SCREENING_MODELS_DIR with the TensorNet folder and its SHA256SUMS not set")
    return Path(d)


def test_corrupted_weights_are_refused_with_the_file_named(tmp_path):
    src = _models() / FOLDER
    bad = tmp_path / "models" / FOLDER
    shutil.copytree(src, bad)
    (bad / "state.pt").chmod(0o644)
    data = bytearray((bad / "state.pt").read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit: the file still loads, the energies change
    (bad / "state.pt").write_bytes(bytes(data))
    cif = tmp_path / "LiCl.cif"
    rocksalt(5.13).to(filename=str(cif))
    env = {
        **os.environ,
        "SCREENING_MODELS_DIR": str(tmp_path / "models"),
        "SCREENING_DATA_DIR": str(tmp_path / "data"),
        "SCREENING_THREADS": "1",
    }
    out = subprocess.run(
        [SCREENING, "relax", str(cif)], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "state.pt" in lines[0] and "SHA-256" in lines[0]
    assert out.stdout == ""  # no energy was printed


def test_intact_copy_verifies(tmp_path):
    from screening.mlff.registry import verify_checksums

    verify_checksums(_models() / FOLDER)  # raises on any mismatch
