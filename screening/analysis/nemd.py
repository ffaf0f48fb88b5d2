"""Conductivity from NEMD: sigma = <J> / E from the steady-state polarisation current, with
block-averaged errors, and a linear-response check across fields.

J = (1/V) dP/dt with P = sum_i q_i x_i . e_E. The production run is cut into ``n_blocks``
equal blocks; each gives a mean current as the least-squares slope of P(t) over the block
(a slope rather than the end-point difference, so the bounded vibrational part of P, which
dominates in a poor conductor, averages out instead of entering each block twice). The mean
and standard error of the block currents are <J> and its 1-sigma error (Student t with
n_blocks - 1 degrees of freedom: ~66 % / ~92 % coverage at 1 / 2 sigma for 10 blocks).

Units: 1 e / (fs Å V) = 1.602176634e4 S/cm.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

S_CM_PER_E_FS_A_V = 1.602176634e4


class NEMDResult(BaseModel):
    """Conductivity from one field strength."""

    field_v_per_a: float = Field(description="Applied field, V/Å.")
    conductivity_s_cm: float | None = Field(
        None, description="sigma = <J>/E from the steady-state current, S/cm (None if failed)."
    )
    conductivity_err_s_cm: float | None = Field(
        None, description="1-sigma error from block averaging of the current, S/cm."
    )
    linear_response: bool | None = Field(
        None,
        description="True when sigma at this field agrees within 2 combined sigma with sigma at "
        "the weakest field (the weakest field: True when another field agrees with it); None "
        "when it cannot be told (one field, or no other field agrees with the weakest).",
    )
    temperature_mean_k: float | None = Field(None, description="Mean kinetic temperature, K.")
    simulated_time_ps: float = Field(description="Production time analysed, ps.")
    n_blocks: int = Field(description="Blocks used for the error.")
    framework_msd_final_a2: float | None = Field(
        None, description="Framework MSD at the end, Å^2 (melting check)."
    )
    status: str = Field(description="completed or failed.")
    failure_reason: str | None = Field(None, description="Why the run stopped, if it failed.")


def block_current(
    time_fs: np.ndarray, polarisation_e_a: np.ndarray, *, n_blocks: int = 10
) -> tuple[float, float]:
    """Mean dP/dt and its 1-sigma block error, e Å / fs.

    Parameters
    ----------
    time_fs : np.ndarray
        Shape (n_frames,), evenly spaced times, fs.
    polarisation_e_a : np.ndarray
        Shape (n_frames,), polarisation along the field, e Å.
    n_blocks : int
        Equal blocks (>= 2); fewer when there are too few frames.
    """
    t = np.asarray(time_fs, dtype=float)
    p = np.asarray(polarisation_e_a, dtype=float)
    n_blocks = int(min(n_blocks, t.size - 1))
    if n_blocks < 2:
        raise ValueError("need at least 3 frames for a block error")
    edges = np.linspace(0, t.size - 1, n_blocks + 1).round().astype(int)
    rates = np.array(
        [np.polyfit(t[a : b + 1], p[a : b + 1], 1)[0] for a, b in itertools.pairwise(edges)]
    )
    return float(rates.mean()), float(rates.std(ddof=1) / np.sqrt(n_blocks))


def nemd_conductivity(
    runs: Sequence, *, n_blocks: int = 10, agreement_sigma: float = 2.0
) -> list[NEMDResult]:
    """sigma per field and the linear-response verdict (see :class:`NEMDResult`).

    Parameters
    ----------
    runs : sequence of screening.md.nemd.NEMDRun
        One run per field strength (any order).
    n_blocks : int
        Blocks for the current's error.
    agreement_sigma : float
        sigma(E) counts as linear response when within this many combined 1-sigma errors of
        sigma at the weakest field.
    """
    out = []
    for r in runs:
        ok = r.status == "completed" and r.time_fs.size >= 3 and r.field_v_per_a != 0
        sigma = err = None
        if ok:
            rate, rate_err = block_current(r.time_fs, r.polarisation_e_a, n_blocks=n_blocks)
            conv = S_CM_PER_E_FS_A_V / (r.volume_a3 * r.field_v_per_a)
            sigma, err = rate * conv, abs(rate_err * conv)
        out.append(
            NEMDResult(
                field_v_per_a=r.field_v_per_a,
                conductivity_s_cm=sigma,
                conductivity_err_s_cm=err,
                temperature_mean_k=float(r.temperature_k.mean()) if r.temperature_k.size else None,
                simulated_time_ps=float(r.time_fs[-1] / 1000) if r.time_fs.size else 0.0,
                n_blocks=min(n_blocks, max(r.time_fs.size - 1, 0)),
                framework_msd_final_a2=float(r.framework_msd_a2[-1])
                if r.framework_msd_a2.size
                else None,
                status="completed" if ok else "failed",
                failure_reason=r.failure_reason
                if r.status == "failed"
                else (None if ok else "no field or too few frames"),
            )
        )
    good = [o for o in out if o.conductivity_s_cm is not None]
    if len(good) >= 2:
        ref = min(good, key=lambda o: abs(o.field_v_per_a))
        for o in good:
            if o is ref:
                continue
            tol = agreement_sigma * float(
                np.hypot(o.conductivity_err_s_cm, ref.conductivity_err_s_cm)
            )
            o.linear_response = abs(o.conductivity_s_cm - ref.conductivity_s_cm) <= tol
        if any(o.linear_response for o in good if o is not ref):
            ref.linear_response = True
    return out
