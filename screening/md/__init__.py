"""MLFF molecular dynamics that records only what diffusion analysis needs."""

from screening.md.nvt import MDBlowUp, MDSession, run_md
from screening.schemas.trajectory import MDTrajectory

__all__ = ["MDBlowUp", "MDSession", "MDTrajectory", "run_md"]
