"""Provenance: which model, which weights, which package versions, when."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata

from pydantic import BaseModel, Field

_TRACKED_PACKAGES = ("screening", "matgl", "chgnet", "torch", "pymatgen", "ase", "jobflow")


def utcnow() -> _dt.datetime:
    """Return the current time, timezone-aware UTC (what every document stores)."""
    return _dt.datetime.now(_dt.UTC)


def package_versions() -> dict[str, str]:
    """Return installed versions of the packages that determine a result."""
    out = {}
    for name in _TRACKED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


class ModelInfo(BaseModel):
    """Identity of the MLFF that produced a number."""

    name: str = Field(description="Registry name of the model, e.g. 'tensornet-matpes-pbe'.")
    package: str = Field(description="Python package implementing the model (matgl, chgnet).")
    version: str = Field(description="Version of that package.")
    weights_sha256: str = Field(description="SHA-256 over the weight files, sorted by name.")
    weights_path: str = Field(description="Where the weights were loaded from.")
    device: str = Field(description="Torch device the model ran on.")


class Provenance(BaseModel):
    """Provenance block carried by every stored result."""

    model: ModelInfo | None = Field(None, description="The MLFF, if one was used.")
    packages: dict[str, str] = Field(
        default_factory=package_versions, description="Installed package versions."
    )
    created_at: _dt.datetime = Field(default_factory=utcnow, description="UTC creation time.")
