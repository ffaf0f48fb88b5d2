"""MD cost of an honest diffusivity: wall time until RSD <= 30 % for a fast conductor.

Ordered Li10GeP2S12 (50 atoms, 20 Li; see screening.generate.prototypes.ordered_lgps) at
1000 K with the default model, 2 fs steps. MD runs in segments through our MDSession; after
each segment the trajectory is analysed and the He et al. (2018) relative error
RSD = 3.43/sqrt(N_eff) + 0.04 is checked against 0.30 (N_eff >= 174 jumps). The bench stops
at that point or at a wall-time budget; if the budget comes first, the time needed is
extrapolated from the measured N_eff(t) slope (N_eff grows linearly with time in the
diffusive regime) and ``extrapolated`` is true.

Baseline, same run: ASE's own Langevin integrator with the same calculator, no recording,
for BASELINE_STEPS steps (atom-steps/s); ``ratio`` = ours / baseline.

Last line: {"bench": "diffusion_cost", "wall_s_to_rsd30": ..., "atom_steps_per_s": ...,
"baseline_atom_steps_per_s": ..., "ratio": ..., ...}
"""

from __future__ import annotations

import time

from _common import report, setup_env

TEMPERATURE_K = 1000.0
TARGET_RSD = 0.30
SEGMENT_STEPS = 200
BUDGET_S = 45.0
BASELINE_STEPS = 100


def main() -> None:
    setup_env()
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from screening.analysis.diffusion import analyse_trajectory
    from screening.generate.prototypes import ordered_lgps
    from screening.md.nvt import MDSession
    from screening.mlff import load_model

    model = load_model(device="cpu")
    s = ordered_lgps()
    n_atoms = len(s)
    n_target = (3.43 / (TARGET_RSD - 0.04)) ** 2

    session = MDSession(s, model, TEMPERATURE_K, "Li", timestep_fs=2.0, stride=5)
    t_eq = time.perf_counter()
    session.equilibrate(200)
    eq_s = time.perf_counter() - t_eq
    t0 = time.perf_counter()
    history = []
    res = None
    while time.perf_counter() - t0 < BUDGET_S:
        session.run(SEGMENT_STEPS)
        traj = session.trajectory()
        res = analyse_trajectory(traj, temperature_k=float(traj.temperature_k.mean())).result
        history.append((time.perf_counter() - t0, session.steps_done, res.n_eff))
        if res.rsd_empirical <= TARGET_RSD:
            break
    md_s, steps, n_eff = history[-1]
    reached = res.rsd_empirical <= TARGET_RSD
    if reached:
        wall_needed = md_s
    else:  # slope of N_eff(t) over the second half of the run (past the ballistic start)
        a = history[len(history) // 2 - 1] if len(history) > 1 else (0.0, 0, 0.0)
        slope = (n_eff - a[2]) / (md_s - a[0])
        wall_needed = md_s + (n_target - n_eff) / slope if slope > 0 else float("inf")
    ours = n_atoms * steps / md_s

    atoms = s.to_ase_atoms()
    atoms.calc = model.calculator()
    MaxwellBoltzmannDistribution(atoms, temperature_K=TEMPERATURE_K)
    dyn = Langevin(atoms, 2.0 * units.fs, temperature_K=TEMPERATURE_K, friction=0.01, fixcm=False)
    dyn.run(5)  # warm-up
    t1 = time.perf_counter()
    dyn.run(BASELINE_STEPS)
    base = n_atoms * BASELINE_STEPS / (time.perf_counter() - t1)

    print(
        f"segments (wall s, steps, N_eff): {[(round(a, 1), b, round(c, 1)) for a, b, c in history]}"
    )
    print(f"D = {res.diffusivity_cm2_s} +- {res.diffusivity_cm2_s_err} cm2/s, status {res.status}")
    report(
        {
            "bench": "diffusion_cost",
            "structure": "Li10GeP2S12 ordered, 50 atoms",
            "temperature_k": TEMPERATURE_K,
            "target_rsd": TARGET_RSD,
            "n_eff_target": round(n_target, 1),
            "wall_s_to_rsd30": round(wall_needed, 1),
            "extrapolated": not reached,
            "simulated_ps": round(steps * 2.0 / 1000, 2),
            "n_eff": round(n_eff, 1),
            "rsd": round(res.rsd_empirical, 3),
            "diffusivity_cm2_s": res.diffusivity_cm2_s,
            "equilibration_s": round(eq_s, 1),
            "atom_steps_per_s": round(ours, 1),
            "baseline_atom_steps_per_s": round(base, 1),
            "ratio": round(ours / base, 3),
        }
    )


if __name__ == "__main__":
    main()
