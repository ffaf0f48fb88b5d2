"""Compact MD record: mobile-ion unwrapped positions plus scalar series, never full frames."""

from __future__ import annotations

import io
from dataclasses import dataclass, field, fields

import numpy as np


@dataclass
class MDTrajectory:
    """What an MD run keeps for analysis.

    Attributes
    ----------
    time_fs : np.ndarray
        Shape (n_frames,), time of each record since production start, fs.
    mobile_positions_a : np.ndarray
        Shape (n_frames, n_mobile, 3), float32, unwrapped Cartesian positions, Å.
    framework_com_a : np.ndarray
        Shape (n_frames, 3), unwrapped framework centre of mass, Å (for drift removal).
    framework_msd_a2 : np.ndarray
        Shape (n_frames,), framework MSD from the first frame, COM drift removed, Å^2.
    temperature_k : np.ndarray
        Shape (n_frames,), instantaneous kinetic temperature, K.
    energy_ev : np.ndarray
        Shape (n_frames,), total (potential + kinetic) energy, eV.
    volume_a3 : float
        Cell volume, Å^3.
    n_atoms : int
        Atoms in the cell.
    lattice_a : np.ndarray
        Shape (3, 3), lattice vectors (rows) of the fixed NVT cell, Å; with the unwrapped
        positions it gives fractional coordinates and the cell's directions (e.g. for
        anisotropic D). NaN in files written before it was stored.
    """

    time_fs: np.ndarray
    mobile_positions_a: np.ndarray
    framework_com_a: np.ndarray
    framework_msd_a2: np.ndarray
    temperature_k: np.ndarray
    energy_ev: np.ndarray
    volume_a3: float
    n_atoms: int
    lattice_a: np.ndarray = field(default_factory=lambda: np.full((3, 3), np.nan))

    def to_bytes(self) -> bytes:
        """Serialise to compressed ``.npz`` bytes (for GridFS)."""
        buf = io.BytesIO()
        np.savez_compressed(buf, **{f.name: getattr(self, f.name) for f in fields(self)})
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> MDTrajectory:
        """Inverse of :meth:`to_bytes`."""
        with np.load(io.BytesIO(data)) as npz:
            kw = {f.name: npz[f.name] for f in fields(cls) if f.name in npz.files}
        kw["volume_a3"] = float(kw["volume_a3"])
        kw["n_atoms"] = int(kw["n_atoms"])
        return cls(**kw)
