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


def pytest_collection_modifyitems(config, items):
    """The tests on the shared 4 ps LGPS trajectory (:func:`lgps_1000k`) first: under
    ``pytest -n 2`` they all land in the first worker's first batch, so the trajectory is
    computed once (xdist's ``loadgroup`` does not group under pytest 9)."""
    items.sort(key=lambda item: "lgps_1000k" not in getattr(item, "fixturenames", ()))


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
