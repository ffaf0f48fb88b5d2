"""`screening relax` / `screening md` command-line behaviour."""

from __future__ import annotations

import json

import pytest
from conftest import rocksalt
from typer.testing import CliRunner

from screening.cli.main import app

runner = CliRunner()


@pytest.fixture
def licl_cif(tmp_path):
    path = tmp_path / "LiCl.cif"
    rocksalt(5.30).to(filename=str(path))
    return path


def test_relax_json(tensornet, licl_cif):
    out = runner.invoke(app, ["relax", str(licl_cif), "--json", "--fmax", "0.02"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["converged"] is True
    assert doc["energy_per_atom_ev"] == pytest.approx(-3.6715, abs=0.003)
    assert doc["n_steps"] > 0
    assert doc["structure"]["@class"] == "Structure"
    assert doc["model"]["name"] == "tensornet-matpes-pbe"
    assert len(doc["model"]["weights_sha256"]) == 64


def test_md_json(tensornet, licl_cif):
    out = runner.invoke(
        app,
        [
            "md",
            str(licl_cif),
            "--temperature",
            "300",
            "--steps",
            "20",
            "--equilibration",
            "0",
            "--mobile-ion",
            "Li",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["status"] == "completed" and doc["n_steps"] == 20
    assert doc["temperature_mean_k"] > 0 and doc["msd_final_a2"] > 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["relax", "BAD"], "no structure could be read"),
        (["relax", "MISSING"], "file not found"),
        (["relax", "LICL", "--model", "nope"], "unknown model 'nope'"),
        (["relax", "DISORDERED"], "partial occupancy"),
        (["md", "LICL", "--temperature", "300", "--steps", "20", "--mobile-ion", "Na"], "no Na"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line(args, expected, tmp_path, licl_cif):
    bad = tmp_path / "bad.cif"
    bad.write_text("this is not a crystal\n")
    disordered = rocksalt(5.3)
    disordered.replace_species({"Cl": {"Cl": 0.5, "Br": 0.5}})
    dis = tmp_path / "dis.cif"
    disordered.to(filename=str(dis))
    paths = {"BAD": bad, "MISSING": tmp_path / "nope.cif", "LICL": licl_cif, "DISORDERED": dis}
    args = [str(paths.get(a, a)) for a in args]
    out = runner.invoke(app, args)
    assert out.exit_code != 0
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and expected in lines[0]


def test_diffusion_json_and_plots(tensornet, licl_cif, tmp_path):
    out = runner.invoke(
        app,
        [
            "diffusion",
            str(licl_cif),
            "--temperatures",
            "600",
            "--temperatures",
            "800",
            "--temperatures",
            "1000",
            "--steps",
            "20",
            "--equilibration",
            "10",
            "--plots",
            str(tmp_path),
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(doc["temperatures"]) == 3
    # an estimate before the MD, then a line per temperature, on stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("diffusion:")]
    assert lines[0].startswith("diffusion: 3 temperature(s) x 30 steps of LiCl"), lines
    assert [ln.split(" done (")[0] for ln in lines[1:]] == [
        "diffusion: 600 K",
        "diffusion: 800 K",
        "diffusion: 1000 K",
    ]
    for t in doc["temperatures"]:
        # 40 fs is vibration only (< 2 ps): neither a number nor a bound
        assert t["status"] == "too_short" and t["diffusivity_cm2_s"] is None
        assert t["diffusivity_upper_cm2_s"] is None and "n_eff" in t
        # collective (charge) estimate: computed, but unusable when nothing was sampled
        assert t["collective_status"] == "not_sampled"
        assert {"conductivity_collective_s_cm", "haven_ratio", "haven_ratio_err"} <= set(t)
    assert doc["haven_status"] == "assumed_1" and doc["haven_ratio"] == 1.0
    assert doc["collective_status"] == "not_sampled"
    assert "haven_ratio_assumed_1" in doc["flags"]
    assert doc["activation_energy_ev"] is None and "no_sampled_temperatures" in doc["flags"]
    assert {
        "conductivity_300k_s_cm",
        "conductivity_300k_lower_s_cm",
        "conductivity_300k_upper_s_cm",
        "activation_energy_err_ev",
    } <= set(doc)
    assert (tmp_path / "msd.png").read_bytes()[:4] == b"\x89PNG"
