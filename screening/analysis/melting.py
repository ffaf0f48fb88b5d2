"""Melting judged once, the same way in the screen and the series.

Criterion (:func:`framework_molten`)
    From the framework's MSD over the whole run, not one frame: molten when its mean over
    the second half of the run exceeds the threshold (1.5 Å^2: an RMS displacement of
    ~1.2 Å, far beyond any vibration), or when over that half it keeps growing like a
    liquid's (framework diffusivity above ``FRAMEWORK_D_MAX_CM2_S``, judged only over a
    half-run of at least ``MIN_SLOPE_WINDOW_PS``, whose end already exceeds half the
    threshold).
Estimate (:func:`melting_estimate`)
    Small perfect cells superheat (a 64-atom rock-salt LiCl cell stays solid for 1.2 ps at
    1,400 K with TensorNet; LiCl melts at 883 K), so a run that stays solid proves nothing.
    Every candidate gets an estimate: the lowest of (a) the measured melting point of the
    mobile ion's binary with each anion it contains (LiBr 825 K for a Li bromide: the
    mobile-ion sublattice of Li-rich halides and sulfides is LiX-like, and a eutectic with
    LiX lies below LiX's melting point) and (b) the lowest temperature at which any run of
    the candidate melted. Runs above it are flagged; the screen and the series run at most
    ``funnel.melting_margin_k`` below it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from screening.analysis.collective import A2_PER_FS_TO_CM2_PER_S

FRAMEWORK_MSD_THRESHOLD_A2 = 1.5
FRAMEWORK_D_MAX_CM2_S = 1e-5
"""Framework diffusivity above which a framework flows (molten salts: 1e-5 to 1e-4; a
solid LGPS framework at 1200 K reached 5.5e-6 over 2 ps from local rearrangements)."""
MIN_SLOPE_WINDOW_PS = 0.5

BINARY_MELTING_K = {
    "Li": {"F": 1121, "Cl": 883, "Br": 825, "I": 742, "O": 1711, "S": 1645, "N": 1086},
    "Na": {"F": 1269, "Cl": 1074, "Br": 1020, "I": 934, "O": 1405, "S": 1449},
}
"""Melting points, K (CRC Handbook of Chemistry and Physics): LiF, LiCl, LiBr, LiI, Li2O,
Li2S, Li3N; NaF, NaCl, NaBr, NaI, Na2O, Na2S."""


@dataclass(frozen=True)
class MeltingVerdict:
    """Framework mobility over one run."""

    molten: bool
    late_mean_a2: float | None
    framework_d_cm2_s: float | None


def framework_molten(
    framework_msd_a2: np.ndarray | None,
    time_fs: np.ndarray,
    *,
    threshold_a2: float = FRAMEWORK_MSD_THRESHOLD_A2,
) -> MeltingVerdict:
    """Whether the framework melted over a run (module docstring).

    Parameters
    ----------
    framework_msd_a2 : np.ndarray or None
        Shape (n_frames,), framework MSD from the first frame, Å^2.
    time_fs : np.ndarray
        Shape (n_frames,), times of the frames, fs.
    threshold_a2 : float
        Mean framework MSD over the second half above which the run is molten, Å^2.
    """
    if framework_msd_a2 is None or len(framework_msd_a2) == 0:
        return MeltingVerdict(False, None, None)
    f = np.asarray(framework_msd_a2, dtype=float)
    t = np.asarray(time_fs, dtype=float)[: f.size]
    half = f.size // 2
    late, tl = f[half:], t[half:]
    mean = float(late.mean())
    slope_d = None
    if late.size >= 3 and (tl[-1] - tl[0]) >= MIN_SLOPE_WINDOW_PS * 1000:
        slope_d = float(np.polyfit(tl, late, 1)[0]) / 6.0 * A2_PER_FS_TO_CM2_PER_S
    flows = slope_d is not None and slope_d > FRAMEWORK_D_MAX_CM2_S and f[-1] > threshold_a2 / 2
    return MeltingVerdict(mean > threshold_a2 or flows, mean, slope_d)


@dataclass(frozen=True)
class MeltingEstimate:
    """A candidate's melting estimate and where it came from (None: nothing known)."""

    temperature_k: float | None
    source: str | None

    def cap(self, margin_k: float) -> float | None:
        """The hottest temperature a later run may use: the estimate less ``margin_k``."""
        return None if self.temperature_k is None else self.temperature_k - margin_k


def melting_estimate(
    formula: str | None, mobile_ion: str | None, melted_at_k: Iterable[float] = ()
) -> MeltingEstimate:
    """The lowest of the mobile ion's binaries' melting points and the temperatures at
    which a run of the candidate melted (module docstring)."""
    options: list[tuple[float, str]] = [
        (float(t), f"melted at {float(t):g} K in a run of it") for t in melted_at_k
    ]
    if formula and mobile_ion in BINARY_MELTING_K:
        from pymatgen.core import Composition

        elements = {el.symbol for el in Composition(formula).elements}
        for anion, tm in BINARY_MELTING_K[mobile_ion].items():
            if anion in elements:
                options.append((float(tm), f"{_binary(mobile_ion, anion)} melts at {tm} K"))
    if not options:
        return MeltingEstimate(None, None)
    t, src = min(options)
    return MeltingEstimate(t, src)


def _binary(cation: str, anion: str) -> str:
    n = {"F": 1, "Cl": 1, "Br": 1, "I": 1, "O": 2, "S": 2, "N": 3}[anion]
    return f"{cation}{n if n > 1 else ''}{anion}"


def capped_temperatures(temperatures_k: Iterable[float], cap_k: float | None) -> list[float]:
    """Temperatures that respect a cap: unchanged when all lie at or below it, else all
    scaled by cap / max (same ratios, so the same spacing in 1/T), the hottest at the cap."""
    temps = [float(t) for t in temperatures_k]
    if cap_k is None or not temps or max(temps) <= cap_k:
        return temps
    scale = cap_k / max(temps)
    return [round(t * scale, 1) for t in temps]
