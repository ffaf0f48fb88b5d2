"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def setup_env() -> None:
    """Point SCREENING_MODELS_DIR at ../shared/models when it is not set."""
    shared = REPO.parent / "shared" / "models"
    if "SCREENING_MODELS_DIR" not in os.environ and shared.is_dir():
        os.environ["SCREENING_MODELS_DIR"] = str(shared)


def report(figures: dict) -> None:
    """Print the figures as the last line, one JSON object."""
    sys.stdout.flush()
    print(json.dumps(figures))
