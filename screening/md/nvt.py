"""NVT (or NVE) MLFF molecular dynamics with blow-up detection.

Thermostat: equilibration uses Langevin (strong coupling thermalises a tiny cell in a few
hundred fs); production uses a Nosé–Hoover chain (length 3), which is deterministic and
leaves single-particle dynamics — hence diffusivities — unperturbed, while the chain removes
the non-ergodicity of a single Nosé–Hoover thermostat. ``thermostat="langevin"`` keeps
Langevin throughout (more robust, slightly damps hopping at high friction).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from ase import Atoms, units
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.nose_hoover_chain import NoseHooverChainNVT
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet
from ase.neighborlist import neighbor_list
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
from threadpoolctl import threadpool_limits

from screening.mlff.registry import LoadedModel
from screening.schemas.provenance import Provenance
from screening.schemas.results import MDResult, MDStatus
from screening.schemas.trajectory import MDTrajectory

logger = logging.getLogger(__name__)

Thermostat = Literal["nose-hoover-chain", "langevin", "nve"]


def nhc_set_point_k(temperature_k: float, n_atoms: int) -> float:
    """Set point, K, to give ASE's Nosé–Hoover chain so that the cell runs at
    ``temperature_k``.

    ASE's chain drives sum(p^2 / m) towards 3 N k_B T, but with the centre of mass at rest
    (as every run here starts and stays) that kinetic energy is shared by 3 N - 3 degrees
    of freedom: left as asked, a cell runs 3N / (3N - 3) hotter (measured on a 20-atom
    Li3InCl6 cell: 864-895 K for 833 K asked; +11 % at 10 atoms, +2 % at 50), which on tiny
    cells pushes runs past the melting cap they were set below.
    """
    return temperature_k * (3 * n_atoms - 3) / (3 * n_atoms)


class MDBlowUp(RuntimeError):
    """The dynamics became unphysical (NaN, overlapping atoms, temperature runaway)."""


def check_blow_up(
    atoms: Atoms,
    forces: np.ndarray,
    temperature_k: float,
    target_k: float,
    *,
    min_distance_a: float,
    max_temperature_factor: float,
) -> None:
    """Raise :class:`MDBlowUp` on non-finite positions or forces (shape (n_atoms, 3), eV/Å),
    a pair of atoms closer than ``min_distance_a`` (Å), or a kinetic temperature above
    ``max_temperature_factor`` x ``target_k`` (used by every MD engine here)."""
    if not np.all(np.isfinite(atoms.positions)) or not np.all(np.isfinite(forces)):
        raise MDBlowUp("non-finite positions or forces")
    if len(neighbor_list("i", atoms, min_distance_a)):
        raise MDBlowUp(f"atoms closer than {min_distance_a} Å")
    if temperature_k > max_temperature_factor * target_k:
        raise MDBlowUp(
            f"temperature runaway: {temperature_k:.0f} K > "
            f"{max_temperature_factor:g} x {target_k:g} K"
        )


@dataclass
class MDSession:
    """A running MD simulation that can be extended segment by segment.

    Parameters
    ----------
    structure : Structure
        Ordered starting structure.
    model : LoadedModel
        The MLFF.
    temperature_k : float
        Target temperature, K (NVE: initial Maxwell–Boltzmann temperature).
    mobile_ion : str
        Element symbol whose unwrapped positions are recorded.
    timestep_fs, stride, thermostat, friction_per_fs, tdamp_fs, seed, min_distance_a,
    max_temperature_factor
        See :func:`run_md`.
    """

    structure: Structure
    model: LoadedModel
    temperature_k: float
    mobile_ion: str
    timestep_fs: float = 2.0
    stride: int = 10
    thermostat: Thermostat = "nose-hoover-chain"
    friction_per_fs: float = 0.02
    tdamp_fs: float = 100.0
    seed: int = 0
    min_distance_a: float = 0.5
    max_temperature_factor: float = 3.0
    _frames: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.temperature_k <= 0:
            raise ValueError(f"temperature_k must be > 0, got {self.temperature_k}")
        if self.timestep_fs <= 0 or self.stride < 1:
            raise ValueError("timestep_fs must be > 0 and stride >= 1")
        if not self.structure.is_ordered:
            raise ValueError("MD needs an ordered structure (partial occupancy found)")
        self.atoms: Atoms = AseAtomsAdaptor.get_atoms(self.structure)
        symbols = np.array(self.atoms.get_chemical_symbols())
        self.mobile_idx = np.flatnonzero(symbols == self.mobile_ion)
        if self.mobile_idx.size == 0:
            raise ValueError(f"no {self.mobile_ion} atoms in {self.structure.formula}")
        self.frame_idx = np.flatnonzero(symbols != self.mobile_ion)
        self.atoms.calc = self.model.calculator()
        self._fixcom = FixCom()  # Langevin only: 3N-3 degrees of freedom, no COM drift
        rng = np.random.default_rng(self.seed)
        MaxwellBoltzmannDistribution(self.atoms, temperature_K=self.temperature_k, rng=rng)
        Stationary(self.atoms)
        self._rng = rng
        self.dof = 3 * len(self.atoms) - 3  # centre of mass fixed
        self.steps_done = 0
        self.equilibration_steps = 0
        self._frames = {k: [] for k in ("t", "pos", "com", "fmsd", "temp", "etot")}
        self._ref_frame = self.atoms.positions[self.frame_idx].copy()
        self._ref_com = self._framework_com()

    def _framework_com(self) -> np.ndarray:
        if self.frame_idx.size == 0:
            return np.zeros(3)
        m = self.atoms.get_masses()[self.frame_idx]
        return (self.atoms.positions[self.frame_idx] * m[:, None]).sum(0) / m.sum()

    def temperature(self) -> float:
        """Instantaneous kinetic temperature with 3N-3 degrees of freedom, K."""
        return 2.0 * self.atoms.get_kinetic_energy() / (self.dof * units.kB)

    def _dynamics(self, kind: Thermostat):
        dt = self.timestep_fs * units.fs
        # Langevin noise would move the centre of mass: fix it there. The deterministic
        # integrators conserve the (zero) total momentum by themselves, and a FixCom
        # constraint would make ASE's Nose-Hoover chain evaluate forces twice per step.
        self.atoms.set_constraint(self._fixcom if kind == "langevin" else None)
        if kind == "langevin":
            return Langevin(
                self.atoms,
                dt,
                temperature_K=self.temperature_k,
                friction=self.friction_per_fs / units.fs,
                rng=self._rng,
                fixcm=False,
            )
        if kind == "nose-hoover-chain":
            return NoseHooverChainNVT(
                self.atoms,
                dt,
                temperature_K=nhc_set_point_k(self.temperature_k, len(self.atoms)),
                tdamp=self.tdamp_fs * units.fs,
            )
        return VelocityVerlet(self.atoms, dt)

    def _check(self) -> None:
        check_blow_up(
            self.atoms,
            self.atoms.get_forces(),
            self.temperature(),
            self.temperature_k,
            min_distance_a=self.min_distance_a,
            max_temperature_factor=self.max_temperature_factor,
        )

    def equilibrate(self, steps: int) -> None:
        """Run ``steps`` unrecorded steps (Langevin unless NVE); positions restart from here."""
        if steps > 0:
            dyn = self._dynamics("nve" if self.thermostat == "nve" else "langevin")
            for _ in range(0, steps, self.stride):
                dyn.run(min(self.stride, steps))
                self._check()
        self.mark_equilibrated(steps)

    def mark_equilibrated(self, steps: int) -> None:
        """Count ``steps`` (run elsewhere, e.g. by the batched engine) as equilibration;
        framework displacements are measured from here."""
        self.equilibration_steps += max(steps, 0)
        self._ref_frame = self.atoms.positions[self.frame_idx].copy()
        self._ref_com = self._framework_com()

    def check(self) -> None:
        """Blow-up checks on the current state (raises :class:`MDBlowUp`)."""
        self._check()

    def record(self, steps_advanced: int = 0) -> None:
        """Advance the production step count by ``steps_advanced`` and record a frame."""
        self.steps_done += steps_advanced
        self._record()

    def _record(self) -> None:
        com = self._framework_com()
        f = self._frames
        f["t"].append(self.steps_done * self.timestep_fs)
        f["pos"].append(self.atoms.positions[self.mobile_idx].astype(np.float32))
        f["com"].append(com)
        disp = self.atoms.positions[self.frame_idx] - self._ref_frame - (com - self._ref_com)
        f["fmsd"].append(float((disp**2).sum(1).mean()) if disp.size else 0.0)
        f["temp"].append(self.temperature())
        f["etot"].append(self.atoms.get_potential_energy() + self.atoms.get_kinetic_energy())

    def run(self, steps: int) -> None:
        """Run ``steps`` production steps, recording every ``stride``.

        Raises
        ------
        MDBlowUp
            On NaN, overlapping atoms or temperature runaway (checked at every record).
        """
        if not hasattr(self, "_prod"):
            self._prod = self._dynamics(self.thermostat)
            self._record()
        n_records = steps // self.stride
        with threadpool_limits(1, user_api="blas"):  # keep OpenBLAS from spinning vs torch
            for _ in range(n_records):
                self._prod.run(self.stride)
                self.steps_done += self.stride
                self._check()
                self._record()

    def trajectory(self) -> MDTrajectory:
        """Everything recorded so far."""
        f = self._frames
        return MDTrajectory(
            time_fs=np.asarray(f["t"], dtype=float),
            mobile_positions_a=np.asarray(f["pos"], dtype=np.float32),
            framework_com_a=np.asarray(f["com"], dtype=float),
            framework_msd_a2=np.asarray(f["fmsd"], dtype=float),
            temperature_k=np.asarray(f["temp"], dtype=float),
            energy_ev=np.asarray(f["etot"], dtype=float),
            volume_a3=float(self.atoms.get_volume()),
            n_atoms=len(self.atoms),
            lattice_a=np.asarray(self.atoms.cell[:], dtype=float),
        )

    def result(self, wall_time_s: float, failure: str | None = None) -> MDResult:
        """Summarise the run so far into an :class:`MDResult`."""
        traj = self.trajectory()
        pos = traj.mobile_positions_a.astype(float)
        if len(pos) > 1:
            drift = traj.framework_com_a[-1] - traj.framework_com_a[0]
            msd = float((((pos[-1] - pos[0]) - drift) ** 2).sum(1).mean())
            temps = traj.temperature_k[1:]
            drift_e = float(traj.energy_ev[-1] - traj.energy_ev[0]) / traj.n_atoms
        else:
            msd, temps, drift_e = 0.0, traj.temperature_k, 0.0
        info = self.model.info()
        total_steps = self.steps_done + self.equilibration_steps
        return MDResult(
            status=MDStatus.failed if failure else MDStatus.completed,
            failure_reason=failure,
            temperature_target_k=self.temperature_k,
            temperature_mean_k=float(np.mean(temps)) if len(temps) else float("nan"),
            timestep_fs=self.timestep_fs,
            n_steps=self.steps_done,
            n_equilibration_steps=self.equilibration_steps,
            stride=self.stride,
            mobile_ion=self.mobile_ion,
            n_mobile=int(self.mobile_idx.size),
            msd_final_a2=msd,
            energy_drift_ev_per_atom=drift_e,
            wall_time_s=wall_time_s,
            atom_steps_per_s=traj.n_atoms * total_steps / max(wall_time_s, 1e-9),
            ensemble="nve" if self.thermostat == "nve" else f"nvt-{self.thermostat}",
            forcefield_name=self.model.name,
            provenance=Provenance(model=info),
        )


def run_md(
    structure: Structure,
    model: LoadedModel,
    *,
    temperature_k: float,
    steps: int,
    mobile_ion: str = "Li",
    timestep_fs: float = 2.0,
    equilibration_steps: int = 200,
    stride: int = 10,
    thermostat: Thermostat = "nose-hoover-chain",
    friction_per_fs: float = 0.02,
    tdamp_fs: float = 100.0,
    seed: int = 0,
    min_distance_a: float = 0.5,
    max_temperature_factor: float = 3.0,
) -> tuple[MDResult, MDTrajectory]:
    """Run MD and return a summary plus the compact trajectory.

    Parameters
    ----------
    structure : Structure
        Ordered starting structure (relaxed, ideally).
    model : LoadedModel
        The MLFF.
    temperature_k : float
        Target temperature in K.
    steps : int
        Production steps (recorded every ``stride``).
    mobile_ion : str
        Element whose unwrapped positions are recorded.
    timestep_fs : float
        Time step, fs (2 fs is safe for Li with MLFFs at <= 1200 K; use 1 fs for H).
    equilibration_steps : int
        Unrecorded Langevin steps before production.
    stride : int
        Record every ``stride`` steps; blow-up checks run at the same interval.
    thermostat : {"nose-hoover-chain", "langevin", "nve"}
        Production ensemble (see module docstring).
    friction_per_fs : float
        Langevin friction, 1/fs.
    tdamp_fs : float
        Nosé–Hoover chain damping time, fs.
    seed : int
        Seed for initial velocities and Langevin noise.
    min_distance_a : float
        Any pair closer than this (Å) stops the run as ``failed``.
    max_temperature_factor : float
        An instantaneous temperature above this multiple of the target stops the run.

    Returns
    -------
    (MDResult, MDTrajectory)
        A failed run returns status ``failed`` with the reason and what was recorded.
    """
    if steps < stride:
        raise ValueError(f"steps ({steps}) must be >= stride ({stride})")
    t0 = time.perf_counter()
    session = MDSession(
        structure,
        model,
        temperature_k,
        mobile_ion,
        timestep_fs=timestep_fs,
        stride=stride,
        thermostat=thermostat,
        friction_per_fs=friction_per_fs,
        tdamp_fs=tdamp_fs,
        seed=seed,
        min_distance_a=min_distance_a,
        max_temperature_factor=max_temperature_factor,
    )
    failure = None
    try:
        session.equilibrate(equilibration_steps)
        session.run(steps)
    except MDBlowUp as exc:
        failure = str(exc)
        logger.warning("MD of %s at %s K failed: %s", structure.formula, temperature_k, failure)
    return session.result(time.perf_counter() - t0, failure), session.trajectory()
