"""MLFF layer: model registry, batched evaluation and relaxation."""

from screening.mlff.batch import Evaluation, evaluate
from screening.mlff.registry import LoadedModel, ModelLoadError, available_models, load_model
from screening.mlff.relax import relax_batch, relax_structure

__all__ = [
    "Evaluation",
    "LoadedModel",
    "ModelLoadError",
    "available_models",
    "evaluate",
    "load_model",
    "relax_batch",
    "relax_structure",
]
