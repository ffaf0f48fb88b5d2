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


def bench_device() -> str:
    """Torch device for a bench: ``SCREENING_DEVICE`` when set (``cuda`` on a GPU machine),
    else the CPU, so CPU figures stay comparable between machines with and without a GPU."""
    device = os.environ.get("SCREENING_DEVICE", "cpu")
    return "cpu" if device == "auto" else device


def device_label(device: str) -> str:
    """``cpu (N cores)`` or the GPU's name, for the bench JSON."""
    if device == "cpu":
        return f"cpu ({len(os.sched_getaffinity(0))} cores)"
    import torch

    return torch.cuda.get_device_name(0)


def report(figures: dict) -> None:
    """Print the figures as the last line, one JSON object."""
    sys.stdout.flush()
    print(json.dumps(figures))


def lifepo4_family(name: str) -> dict:
    """A LiFePO4-family campaign (Fe -> 20 cations, P -> 6, mixing at 1/4 and 1/2 with 6
    orderings, Li-vacancy compensation with 4): a large space of 28-atom cells."""
    subs = "Fe Mn Co Ni Mg Zn Cu Ca Sr Ti V Cr Zr Sn Ge Si Al Ga Y Sc".split()
    return {
        "name": name,
        "mobile_ion": "Li",
        "prototypes": [{"pymatgen": "LiFePO4"}],
        "substitutions": {"Fe": subs, "P": ["P", "V", "Si", "Ge", "S", "Mo"]},
        "mixing": {"max_species_per_site": 2, "fractions": [0.25, 0.5], "max_orderings": 6},
        "compensation": {"enabled": True, "max_orderings": 4},
    }
