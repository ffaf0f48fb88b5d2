"""NEMD conductivity vs the equilibrium collective (Green-Kubo/Einstein) conductivity.

Fast conductor: ordered Li10GeP2S12 (50 atoms; screening.generate.prototypes.ordered_lgps)
at 1000 K with the default model. Equilibrium: one Nose-Hoover-chain run analysed for the
tracer D, the collective sigma and the Haven ratio (the baseline of this bench). NEMD: the
same cell under 0.05 and 0.1 V/Å along x (Langevin on the perpendicular components only),
sigma = <J>/E with block errors and the linear-response check. Poor conductor: rock-salt
LiCl (8 atoms, a = 5.13 Å) at 600 K under 0.1 V/Å, whose sigma should be consistent with 0.

``--scale K`` multiplies every run length (default 1: about 2 minutes on 2 CPU cores).
Short runs give wide intervals: agreement is then easy and says little; the closing note
quotes a longer run as well.

Last line: {"bench": "nemd_vs_equilibrium", "sigma_collective_s_cm": ..., "nemd": [...],
"z_nemd_vs_collective": ..., "licl_consistent_with_zero": ..., ...}
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import report, setup_env

TEMPERATURE_K = 1000.0
FIELDS_V_PER_A = (0.05, 0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="multiply run lengths")
    args = parser.parse_args()
    setup_env()
    from pymatgen.core import Lattice, Structure

    from screening.analysis.diffusion import analyse_trajectory
    from screening.analysis.nemd import nemd_conductivity
    from screening.generate.prototypes import ordered_lgps
    from screening.md.nemd import run_nemd
    from screening.md.nvt import run_md
    from screening.mlff import load_model

    t_start = time.perf_counter()
    model = load_model("tensornet-matpes-pbe", device="cpu")
    lgps = ordered_lgps()
    eq_steps, ne_steps = int(800 * args.scale), int(400 * args.scale)

    t0 = time.perf_counter()
    md, traj = run_md(
        lgps,
        model,
        temperature_k=TEMPERATURE_K,
        steps=eq_steps,
        equilibration_steps=100,
        stride=5,
        seed=1,
    )
    eq = analyse_trajectory(traj, temperature_k=md.temperature_mean_k, min_n_eff=5).result
    eq_wall = time.perf_counter() - t0

    t0 = time.perf_counter()
    runs = [
        run_nemd(
            lgps,
            model,
            field_v_per_a=e,
            temperature_k=TEMPERATURE_K,
            steps=ne_steps,
            mobile_ion="Li",
            equilibration_steps=100,
            seed=2,
        )
        for e in FIELDS_V_PER_A
    ]
    nemd = nemd_conductivity(runs)
    ne_wall = time.perf_counter() - t0

    licl = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    poor = nemd_conductivity(
        [
            run_nemd(
                licl,
                model,
                field_v_per_a=0.1,
                temperature_k=600.0,
                steps=ne_steps,
                mobile_ion="Li",
                equilibration_steps=100,
                seed=3,
            )
        ]
    )[0]

    sc, sc_err = eq.conductivity_collective_s_cm, eq.conductivity_collective_err_s_cm
    linear = [r for r in nemd if r.linear_response is not False and r.conductivity_s_cm]
    ref = min(linear or nemd, key=lambda r: r.field_v_per_a)
    z = (ref.conductivity_s_cm - sc) / float(np.hypot(ref.conductivity_err_s_cm, sc_err))
    report(
        {
            "bench": "nemd_vs_equilibrium",
            "formula": lgps.composition.reduced_formula,
            "temperature_k": TEMPERATURE_K,
            "equilibrium_ps": eq.simulated_time_ps,
            "nemd_ps_per_field": ne_steps * 2.0 / 1000,
            "sigma_tracer_s_cm": eq.conductivity_tracer_s_cm,
            "sigma_collective_s_cm": sc,
            "sigma_collective_err_s_cm": sc_err,
            "haven_ratio": eq.haven_ratio,
            "haven_ratio_err": eq.haven_ratio_err,
            "nemd": [
                {
                    "field_v_per_a": r.field_v_per_a,
                    "sigma_s_cm": r.conductivity_s_cm,
                    "sigma_err_s_cm": r.conductivity_err_s_cm,
                    "linear_response": r.linear_response,
                    "temperature_mean_k": r.temperature_mean_k,
                }
                for r in nemd
            ],
            "compared_field_v_per_a": ref.field_v_per_a,
            "z_nemd_vs_collective": z,
            "agree_within_combined_1sigma": abs(z) <= 1.0,
            "agree_within_combined_2sigma": abs(z) <= 2.0,
            "licl_600k_sigma_s_cm": poor.conductivity_s_cm,
            "licl_600k_sigma_err_s_cm": poor.conductivity_err_s_cm,
            "licl_consistent_with_zero": abs(poor.conductivity_s_cm)
            <= 2 * poor.conductivity_err_s_cm,
            "equilibrium_wall_s": eq_wall,
            "nemd_wall_s": ne_wall,
            "wall_s": time.perf_counter() - t_start,
        }
    )


if __name__ == "__main__":
    main()
