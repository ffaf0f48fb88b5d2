"""The single-structure path without dead ends (issue 28, item 3): `stability` infers the
mobile ion like `md` does, so a Na compound gets a Na window, not Li's `none`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import rocksalt

SCREENING = str(Path(sys.executable).with_name("screening"))


def test_stability_of_a_na_cell_reports_a_na_window(tmp_path):
    cif = tmp_path / "NaCl.cif"
    rocksalt(5.64, cation="Na").to(filename=str(cif))
    env = {**os.environ, "SCREENING_DATA_DIR": str(tmp_path / "data"), "SCREENING_THREADS": "1"}
    out = subprocess.run(
        [SCREENING, "stability", str(cif), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout)
    assert res["mobile_ion"] == "Na"
    low, high = res["window_v"]  # NaCl: reduced at 0 V vs Na, oxidised to Cl2 at ~3-4 V
    assert low == 0.0 and 2.5 < high < 4.5


def test_relax_out_round_trips_and_never_overwrites(tmp_path):
    """`relax --out` writes the relaxed cell (CIF and POSCAR), which reads back with the
    relaxed volume; an existing file is refused before any work unless --force."""
    from pymatgen.core import Structure

    cif = tmp_path / "LiCl.cif"
    rocksalt(5.3).to(filename=str(cif))  # expanded: the relaxation changes the volume
    env = {**os.environ, "SCREENING_DATA_DIR": str(tmp_path / "data"), "SCREENING_THREADS": "1"}

    def relax(*args, check=True):
        out = subprocess.run(
            [SCREENING, "relax", str(cif), "--json", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert not check or out.returncode == 0, out.stderr[-2000:]
        return out

    for name in ("relaxed.cif", "POSCAR"):
        res = json.loads(relax("--out", str(tmp_path / name)).stdout)
        back = Structure.from_file(tmp_path / name)
        assert back.volume == pytest.approx(res["volume_final_a3"], rel=1e-4)
        assert abs(res["volume_change_frac"]) > 0.01 and back.composition.reduced_formula == "LiCl"
    again = relax("--out", str(tmp_path / "relaxed.cif"), check=False)
    lines = again.stderr.strip().splitlines()
    assert again.returncode != 0 and lines == [
        f"error: --out {tmp_path / 'relaxed.cif'}: file exists (use --force to overwrite)"
    ]
    assert relax("--out", str(tmp_path / "relaxed.cif"), "--force").returncode == 0
    bad = relax("--out", str(tmp_path / "relaxed.xyz"), check=False)
    assert bad.returncode != 0 and "expected a .cif, .json, .vasp or POSCAR" in bad.stderr
