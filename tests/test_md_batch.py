"""Batched MD: same trajectories as the serial path, failures isolated (real model)."""

from __future__ import annotations

import numpy as np
from conftest import rocksalt

from screening.md import run_md
from screening.md.batched import run_md_batch


def _cells():
    a = rocksalt(5.13)
    b = rocksalt(5.60, anion="Br")
    b.make_supercell([2, 1, 1])
    return [a, b]


def test_batched_and_serial_agree_after_50_deterministic_steps(tensornet):
    """Same seeds (same initial velocities), no Langevin: NHC production for 50 steps."""
    cells = _cells()
    opts = dict(temperature_k=900, steps=50, equilibration_steps=0, stride=10)
    batched = run_md_batch(cells, tensornet, mobile_ion="Li", seed=[3, 4], **opts)
    for cell, seed, (res_b, traj_b) in zip(cells, [3, 4], batched, strict=True):
        res_s, traj_s = run_md(cell, tensornet, mobile_ion="Li", seed=seed, **opts)
        assert res_b.status == res_s.status == "completed"
        diff = np.abs(traj_b.mobile_positions_a - traj_s.mobile_positions_a).max()
        print(f"{cell.composition.reduced_formula}: max |dx| after 50 steps {diff:.2e} Å")
        assert (
            traj_b.mobile_positions_a.shape
            == traj_s.mobile_positions_a.shape
            == (6, 4 if len(cell) == 8 else 8, 3)
        )
        assert diff < 1e-4
        assert np.allclose(traj_b.temperature_k, traj_s.temperature_k, rtol=1e-3)


def test_a_blow_up_leaves_the_batch_and_the_others_go_on(tensornet):
    bad = rocksalt(5.13)
    bad.append("Li", [0.03, 0, 0])  # 0.15 Å from the Li at the origin
    good = _cells()
    out = run_md_batch(
        [good[0], bad, good[1]],
        tensornet,
        temperature_k=[600, 600, 800],
        steps=40,
        mobile_ion="Li",
        equilibration_steps=20,
        stride=10,
    )
    status = [r.status for r, _ in out]
    assert status == ["completed", "failed", "completed"]
    assert out[1][0].failure_reason  # e.g. temperature runaway from the overlapping pair
    assert out[0][0].n_steps == 40 and len(out[0][1].time_fs) == 5
    assert out[2][0].temperature_target_k == 800
