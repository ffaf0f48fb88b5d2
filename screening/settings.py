"""Run-time settings, read from ``SCREENING_*`` environment variables.

Settings are read lazily through :func:`get_settings` (cached), never at import time,
so that tests and workers can change the environment before the first use.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScreeningSettings(BaseSettings):
    """All configuration of the screening package.

    Every field can be set through the environment with the ``SCREENING_`` prefix,
    e.g. ``SCREENING_MODELS_DIR=/data/models``.
    """

    model_config = SettingsConfigDict(env_prefix="SCREENING_", extra="ignore")

    models_dir: Path | None = Field(
        None,
        description="Folder holding pretrained model weights, one sub-folder per model "
        "(e.g. TensorNet-MatPES-PBE-v2025.1-PES). Unset: the library's own download (online only).",
    )
    default_model: str = Field(
        "tensornet-matpes-pbe", description="Name of the MLFF used when none is given."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Torch device for the MLFF; 'auto' picks CUDA when available."
    )
    db_uri: str | None = Field(
        None,
        description="MongoDB URI (mongodb:// or mongodb+srv://). Unset: the embedded, "
        "file-backed mongomock_persistence store under data_dir.",
    )
    db_name: str = Field("screening", description="Database name for results and LaunchPad.")
    db_timeout_s: float = Field(
        5.0,
        gt=0,
        description="Seconds to wait for a MongoDB server at the first ping before giving up "
        "with one error line (server selection and connection timeout).",
    )
    threads: int | None = Field(
        None,
        ge=1,
        description="torch intra-op and BLAS threads of each worker process. Unset: "
        "OMP_NUM_THREADS when set, else the node's cores divided by workers_per_node (torch's "
        "own default, one thread per core in every process, made four concurrent workers on 2 "
        "cores ~10x slower each).",
    )
    workers_per_node: int = Field(
        1,
        ge=1,
        description="Worker processes (screening commands, rlaunch) sharing one node; sets the "
        "default of `threads`.",
    )
    large_cell_atoms: int = Field(
        500,
        ge=1,
        description="Cells above this many atoms get a warning, an estimate of the memory one "
        "model call needs, and progress lines during relaxation.",
    )
    memory_gb: float | None = Field(
        None,
        gt=0,
        description="Memory this process may use, GB (default: MemAvailable of /proc/meminfo); "
        "a cell whose estimated model-call memory exceeds it is refused before any work.",
    )
    fere_fit_cations: list[str] | None = Field(
        None,
        description="Cations of the FERE correction's fit set (JSON list); default the built-in "
        "set (screening.stability.correction.FIT_CATIONS).",
    )
    fere_fit_anions: list[str] | None = Field(
        None,
        description="Anions of the FERE correction's fit set (JSON list); default "
        "screening.stability.correction.FIT_ANIONS.",
    )
    data_dir: Path = Field(
        Path.home() / ".screening",
        description="Folder for the embedded database file, plots and scratch data.",
    )


@functools.cache
def get_settings() -> ScreeningSettings:
    """Return the process-wide settings (read once from the environment).

    Returns
    -------
    ScreeningSettings
        The cached settings; call ``get_settings.cache_clear()`` after changing the
        environment (tests do this).
    """
    return ScreeningSettings()
