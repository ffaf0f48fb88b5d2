"""One memory guard for every path that builds a model call (issue 29, item 3): a 3,072-atom
cell with SCREENING_MEMORY_GB=4 (~7.8 GB needed) is refused in one line, before any model
call, by `stability`, by `campaign run`'s preflight (nothing stored), and by the relax tier
itself (what a FireWorks worker runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import rocksalt

SCREENING = str(Path(sys.executable).with_name("screening"))


@pytest.fixture()
def big_cif(tmp_path) -> Path:
    cell = rocksalt(5.13)
    cell.make_supercell([8, 8, 6])  # 8 x 384 = 3,072 atoms
    path = tmp_path / "big.cif"
    cell.to(filename=str(path))
    return path


def _run(args, tmp_path):
    env = {
        **os.environ,
        "SCREENING_MEMORY_GB": "4",
        "SCREENING_DATA_DIR": str(tmp_path / "data"),
        "SCREENING_THREADS": "1",
    }
    return subprocess.run([SCREENING, *args], env=env, capture_output=True, text=True, timeout=300)


def test_stability_and_campaign_refuse_a_cell_that_cannot_fit(tmp_path, big_cif):
    out = _run(["stability", str(big_cif)], tmp_path)
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and len(lines) == 1, out.stderr
    assert "3072 atoms need ~7.8 GB" in lines[0] and "4.0 GB is available" in lines[0]
    camp = tmp_path / "big.yaml"
    camp.write_text(
        yaml.safe_dump(
            {
                "name": "big",
                "mobile_ion": "Li",
                "prototypes": [{"path": "big.cif"}],
                "filters": {"max_atoms": 4000},
                "funnel": {"top_k_md": 0},
            }
        )
    )
    out = _run(["campaign", "run", str(camp)], tmp_path)
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and len(lines) == 1, out.stderr
    assert lines[0].startswith("error: prototypes[0] (big): 3072 atoms need ~7.8 GB")
    db = tmp_path / "data" / "db.results.sqlite"
    if db.exists():  # nothing about the campaign was stored
        from screening.store.embedded import read_collection

        assert not read_collection(db, "candidates")


def test_the_relax_tier_refuses_before_any_model_call(monkeypatch, big_cif, tensornet):
    from pymatgen.core import Structure

    from screening.mlff.memory import CellTooLarge
    from screening.mlff.relax import relax_batch
    from screening.settings import get_settings

    monkeypatch.setenv("SCREENING_MEMORY_GB", "4")
    get_settings.cache_clear()
    try:
        with pytest.raises(CellTooLarge, match="3072 atoms need"):
            relax_batch([rocksalt(5.13), Structure.from_file(big_cif)], tensornet)
    finally:
        monkeypatch.delenv("SCREENING_MEMORY_GB")
        get_settings.cache_clear()
