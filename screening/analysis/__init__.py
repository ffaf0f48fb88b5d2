"""Trajectory analysis: MSD, diffusivity with uncertainty, Arrhenius, conductivity, plots."""

from screening.analysis.arrhenius import fit_arrhenius, nernst_einstein_s_cm
from screening.analysis.diffusion import DiffusionAnalysis, estimate_diffusivity
from screening.analysis.msd import MSDCurve, compute_msd

__all__ = [
    "DiffusionAnalysis",
    "MSDCurve",
    "compute_msd",
    "estimate_diffusivity",
    "fit_arrhenius",
    "nernst_einstein_s_cm",
]
