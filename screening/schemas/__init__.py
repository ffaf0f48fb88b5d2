"""Pydantic documents shared by every stage (the bottom of the dependency graph)."""

from screening.schemas.provenance import ModelInfo, Provenance
from screening.schemas.results import (
    ArrheniusResult,
    DiffusionResult,
    MDResult,
    MDStatus,
    RelaxResult,
    SamplingStatus,
    StabilityResult,
)

__all__ = [
    "ArrheniusResult",
    "DiffusionResult",
    "MDResult",
    "MDStatus",
    "ModelInfo",
    "Provenance",
    "RelaxResult",
    "SamplingStatus",
    "StabilityResult",
]
