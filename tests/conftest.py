"""Shared fixtures: real models (loaded once per session), tiny cells, isolated data dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

REPO = Path(__file__).resolve().parents[1]
_SHARED = REPO.parent / "shared" / "models"
if "SCREENING_MODELS_DIR" not in os.environ and _SHARED.is_dir():
    os.environ["SCREENING_MODELS_DIR"] = str(_SHARED)
if os.environ.get("PYTEST_XDIST_WORKER") and "SCREENING_THREADS" not in os.environ:
    # `pytest -n N`: the cores are shared between N worker processes; torch would start
    # one thread per core in each (set before torch is imported; the subprocesses the
    # tests start set their own)
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    _n = max(1, (_cores or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    os.environ["SCREENING_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(_n)


def rocksalt(a: float, cation: str = "Li", anion: str = "Cl") -> Structure:
    """Conventional rock-salt cell (Fm-3m, cation 4a, anion 4b), 8 atoms."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


SHARED_FIXTURES = ("lgps_1000k", "screened_campaign")
LONG_TESTS = ("test_series_consistent_with_its_screen_does_not_lose_rank",)
"""Minutes-long tests started right after the shared fixtures' (so that no worker is left
with one at the end of the run)."""


def pytest_collection_modifyitems(config, items):
    """The tests on an expensive shared session fixture (the 4 ps LGPS trajectory
    :func:`lgps_1000k`, the screen + series campaign :func:`screened_campaign`) first, each
    group together: under ``pytest -n 2`` they land in the first worker's first batch, so
    each fixture is computed once (xdist's ``loadgroup`` does not group under pytest 9);
    then :data:`LONG_TESTS`."""

    def key(item) -> int:
        names = getattr(item, "fixturenames", ())
        shared = next((i for i, f in enumerate(SHARED_FIXTURES) if f in names), None)
        if shared is not None:
            return shared
        return len(SHARED_FIXTURES) + (item.name not in LONG_TESTS)

    items.sort(key=key)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Every test gets its own data dir (hence its own embedded database file) and freshly
    read settings; no embedded store carries over from an earlier test."""
    from screening.settings import get_settings
    from screening.store import backend

    monkeypatch.setenv("SCREENING_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SCREENING_DB_URI", raising=False)
    monkeypatch.delenv("MONGOMOCK_SERVERSTORE_FILE", raising=False)
    backend.forget_embedded()
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    backend.forget_embedded()


@pytest.fixture(scope="session")
def tensornet():
    from screening.mlff import load_model

    return load_model("tensornet-matpes-pbe", device="cpu")


@pytest.fixture(scope="session")
def chgnet_model():
    from screening.mlff import load_model

    return load_model("chgnet", device="cpu")


@pytest.fixture
def licl() -> Structure:
    return rocksalt(5.13)


@pytest.fixture(scope="session")
def lgps_1000k(tensornet):
    """(MDResult, MDTrajectory): ordered Li10GeP2S12 (50 atoms) at 1000 K, 4 ps, TensorNet,
    Nose-Hoover chain, positions every 10 fs (shared by the diffusion and kinisi tests)."""
    from screening.generate.prototypes import ordered_lgps
    from screening.md import run_md

    return run_md(
        ordered_lgps(),
        tensornet,
        temperature_k=1000,
        steps=2000,
        equilibration_steps=100,
        stride=5,
        seed=0,
    )


SCREENED_CAMPAIGN = {
    "name": "screened",
    "mobile_ion": "Li",
    "prototypes": [{"path": str(REPO / "workflows" / "prototypes" / "Li3YCl6.cif")}],
    "substitutions": {"Y": ["Y", "Sc", "In"], "Cl": ["Cl", "Br"]},
    "funnel": {
        "chunk_size": 6,
        "relax_max_steps": 15,
        "e_hull_max_ev_per_atom": 1.0,
        "screen_temperature_k": 900,
        "screen_steps": 40,
        "screen_top_n": 6,
        "top_k_md": 2,
        "md_temperatures_k": [800, 1000],
        "md_steps": 20,
        "md_max_atoms": 20,
    },
}


@pytest.fixture(scope="session")
def screened_campaign(tmp_path_factory):
    """Six Li3MX6 candidates (M = Y, Sc, In; X = Cl, Br) run by ``screening campaign run``
    in a subprocess (real model): all six screened at 900 K (40 batched MD steps), the best
    two given the full series. Returns ``(folder, env, completed process)``; the data are in
    ``folder / "data"``. Tests only read it."""
    folder = tmp_path_factory.mktemp("screened")
    env, out = run_campaign(SCREENED_CAMPAIGN, folder)
    return folder, env, out


def run_campaign(spec: dict, folder: Path, timeout: int = 900):
    """Write ``spec`` to ``folder`` and run ``screening campaign run`` on it in a subprocess
    with one thread, data in ``folder / "data"``. Returns ``(env, completed process)``."""
    import subprocess
    import sys

    import yaml

    camp = folder / f"{spec['name']}.yaml"
    camp.write_text(yaml.safe_dump(spec))
    env = {
        **os.environ,
        "SCREENING_DATA_DIR": str(folder / "data"),
        "OMP_NUM_THREADS": "1",
        "SCREENING_THREADS": "1",
    }
    screening = str(Path(sys.executable).with_name("screening"))
    out = subprocess.run(
        [screening, "campaign", "run", str(camp)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return env, out
