"""MD of many candidates at once: one batched model call per step for all of them.

Each candidate keeps its own :class:`screening.md.MDSession` (initial velocities from its
seed, blow-up checks, recording, summary), so the physics is the serial path's:

* equilibration: Langevin (BAOAB splitting, friction ``friction_per_fs``, centre-of-mass
  momentum removed after every noise kick, as ASE's FixCom does in the serial path);
* production: the Nosé–Hoover chain of ASE's ``NoseHooverChainNVT`` (its own
  ``NoseHooverChainThermostat`` object per candidate, same splitting: NHC half-step, velocity
  Verlet, NHC half-step), so from the same initial velocities batched and serial trajectories
  agree to float precision (test: 1e-4 Å after 50 steps); or Langevin, or NVE.

Forces come from :func:`screening.mlff.batch.evaluate` for all running candidates together
(a PyG batch for matgl). A candidate that blows up is recorded ``failed`` with its reason and
leaves the batch; the others go on. torch-sim was the alternative engine: it would bring its
own model wrappers and integrators, and we keep ASE's NHC to stay identical to the serial
path (README, "Batched MD").
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from ase import units
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.nose_hoover_chain import NoseHooverChainThermostat
from pymatgen.core import Structure
from threadpoolctl import threadpool_limits

from screening.md.nvt import MDBlowUp, MDSession, Thermostat, nhc_set_point_k
from screening.mlff.batch import evaluate
from screening.mlff.registry import LoadedModel
from screening.schemas.results import MDResult
from screening.schemas.trajectory import MDTrajectory


def _per_system(value, n: int, name: str) -> list:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value] * n
    if len(value) != n:
        raise ValueError(f"{name}: expected one value or {n}, got {len(value)}")
    return list(value)


class _Batch:
    """Integrator state of the running candidates (momenta, forces, thermostats)."""

    def __init__(self, sessions: list[MDSession], model: LoadedModel, batch_size: int) -> None:
        self.s = sessions
        self.model = model
        self.batch_size = batch_size
        self.active = list(range(len(sessions)))
        self.failure: dict[int, str] = {}
        self.m = [x.atoms.get_masses()[:, None] for x in sessions]
        self.p = [x.atoms.get_momenta() for x in sessions]
        self.f: list = [None] * len(sessions)
        self.nhc: list = [None] * len(sessions)
        self.forces()

    def forces(self) -> None:
        """One batched model call for every running candidate."""
        atoms = [self.s[k].atoms for k in self.active]
        for k, ev in zip(
            self.active, evaluate(atoms, self.model, batch_size=self.batch_size), strict=True
        ):
            a = self.s[k].atoms
            a.calc = SinglePointCalculator(a, energy=ev.energy_ev, forces=ev.forces_ev_a)
            self.f[k] = ev.forces_ev_a

    def _drift(self, k: int, dt: float) -> None:
        a = self.s[k].atoms
        a.set_positions(a.get_positions() + dt * self.p[k] / self.m[k])

    def step(self, mode: Thermostat, dt: float) -> None:
        """One time step of ``dt`` (ASE units) for every running candidate."""
        for k in self.active:
            if mode == "nose-hoover-chain":
                self.p[k] = self.nhc[k].integrate_nhc(self.p[k], dt / 2)
            self.p[k] = self.p[k] + 0.5 * dt * self.f[k]
            if mode == "langevin":
                self._drift(k, dt / 2)
                self._kick(k, dt)
                self._drift(k, dt / 2)
            else:
                self._drift(k, dt)
        self.forces()
        for k in self.active:
            self.p[k] = self.p[k] + 0.5 * dt * self.f[k]
            if mode == "nose-hoover-chain":
                self.p[k] = self.nhc[k].integrate_nhc(self.p[k], dt / 2)
            self.s[k].atoms.set_momenta(self.p[k], apply_constraint=False)

    def _kick(self, k: int, dt: float) -> None:
        sess, m = self.s[k], self.m[k]
        c1 = np.exp(-sess.friction_per_fs / units.fs * dt)
        kt = units.kB * sess.temperature_k
        noise = sess._rng.standard_normal(self.p[k].shape)
        p = c1 * self.p[k] + np.sqrt((1 - c1**2) * m * kt) * noise
        self.p[k] = p - m * (p.sum(axis=0) / m.sum())

    def check(self) -> None:
        """Blow-up checks; failing candidates leave the batch with their reason."""
        for k in list(self.active):
            try:
                self.s[k].check()
            except MDBlowUp as exc:
                self.failure[k] = str(exc)
                self.active.remove(k)


def run_md_batch(
    structures: Sequence[Structure],
    model: LoadedModel,
    *,
    temperature_k: float | Sequence[float],
    steps: int,
    mobile_ion: str | Sequence[str],
    timestep_fs: float = 2.0,
    equilibration_steps: int = 200,
    stride: int = 10,
    thermostat: Thermostat = "nose-hoover-chain",
    friction_per_fs: float = 0.02,
    tdamp_fs: float = 100.0,
    seed: int | Sequence[int] = 0,
    min_distance_a: float = 0.5,
    max_temperature_factor: float = 3.0,
    batch_size: int = 32,
) -> list[tuple[MDResult, MDTrajectory]]:
    """Run MD for several structures together (module docstring).

    Parameters
    ----------
    structures : sequence of Structure
        Ordered cells (any sizes).
    model : LoadedModel
        The MLFF.
    temperature_k, mobile_ion, seed
        One value for all, or one per structure.
    steps, timestep_fs, equilibration_steps, stride, thermostat, friction_per_fs, tdamp_fs,
    min_distance_a, max_temperature_factor
        As in :func:`screening.md.run_md` (same meaning, same defaults).
    batch_size : int
        Structures per model call.

    Returns
    -------
    list of (MDResult, MDTrajectory)
        In input order; a candidate that blew up has status ``failed`` and its reason.
    """
    n = len(structures)
    if steps < stride or stride < 1:
        raise ValueError(f"need stride >= 1 and steps >= stride, got {steps}, {stride}")
    temps = _per_system(temperature_k, n, "temperature_k")
    ions = _per_system(mobile_ion, n, "mobile_ion")
    seeds = _per_system(seed, n, "seed")
    t0 = time.perf_counter()
    sessions = [
        MDSession(
            s,
            model,
            t,
            ion,
            timestep_fs=timestep_fs,
            stride=stride,
            thermostat=thermostat,
            friction_per_fs=friction_per_fs,
            tdamp_fs=tdamp_fs,
            seed=sd,
            min_distance_a=min_distance_a,
            max_temperature_factor=max_temperature_factor,
        )
        for s, t, ion, sd in zip(structures, temps, ions, seeds, strict=True)
    ]
    dt = timestep_fs * units.fs
    with threadpool_limits(1, user_api="blas"):
        batch = _Batch(sessions, model, batch_size)
        equil_mode = "nve" if thermostat == "nve" else "langevin"
        for done in range(0, equilibration_steps, stride):
            for _ in range(min(stride, equilibration_steps - done)):
                batch.step(equil_mode, dt)
            batch.check()
        for k, sess in enumerate(sessions):
            sess.mark_equilibrated(equilibration_steps)
            batch.nhc[k] = NoseHooverChainThermostat(
                num_atoms_global=len(sess.atoms),
                masses=batch.m[k],
                temperature_K=nhc_set_point_k(sess.temperature_k, len(sess.atoms)),
                tdamp=tdamp_fs * units.fs,
            )
            if k in batch.active:
                sess.record()
        for _ in range(steps // stride):
            if not batch.active:
                break
            for _ in range(stride):
                batch.step(thermostat, dt)
            batch.check()
            for k in batch.active:
                sessions[k].record(stride)
    wall = time.perf_counter() - t0
    return [
        (sess.result(wall, batch.failure.get(k)), sess.trajectory())
        for k, sess in enumerate(sessions)
    ]
