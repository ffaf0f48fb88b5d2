"""Non-equilibrium MD under a constant electric field (colour-field conductivity).

Field
    Every atom feels F_i = q_i e E on top of the MLFF force, with q_i its nominal oxidation
    state (pymatgen's guess unless the structure carries oxidation states). The charges sum
    to zero, so the field adds no net force and the cell does not drift; the potential-
    energy term -q E.x is not added (it is not periodic), so only forces feel the field.
Thermostat
    Langevin (BAOAB splitting) acting only on the velocity components *perpendicular* to the
    field: friction and noise never touch the current, and the Joule heat flows out through
    the perpendicular components, to which collisions pass it. (A thermostat on all
    components would damp the drift velocity directly and bias sigma low at first order in
    the friction.)
Observable
    The polarisation P(t) = sum_i q_i x_i . e_E (unwrapped positions, e Å) is recorded every
    ``stride`` steps; it is invariant under a uniform translation because sum q_i = 0.
    sigma = <dP/dt> / (V E) (:mod:`screening.analysis.nemd`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from ase import units
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from screening.md.nvt import MDBlowUp, check_blow_up
from screening.mlff.registry import LoadedModel

logger = logging.getLogger(__name__)


def nominal_charges(structure: Structure) -> np.ndarray:
    """Per-site nominal charges (oxidation states), shape (n_sites,), units of e.

    Raises
    ------
    ValueError
        When no charge-balanced assignment exists or the charges do not sum to zero.
    """
    try:
        q = np.array([float(s.specie.oxi_state) for s in structure])
    except AttributeError:
        guesses = structure.composition.oxi_state_guesses(max_sites=-50)
        if not guesses:
            raise ValueError(
                f"no charge-balanced oxidation states for {structure.composition.reduced_formula}"
            ) from None
        ox = guesses[0]
        q = np.array([float(ox[s.specie.symbol]) for s in structure])
    if abs(q.sum()) > 1e-6:
        raise ValueError(f"nominal charges sum to {q.sum():g} e, not 0")
    return q


@dataclass
class NEMDRun:
    """What one NEMD run keeps.

    Attributes
    ----------
    field_v_per_a : float
        Field strength, V/Å.
    direction : np.ndarray
        Shape (3,), unit vector of the field.
    time_fs : np.ndarray
        Shape (n_frames,), time since production start, fs.
    polarisation_e_a : np.ndarray
        Shape (n_frames,), sum_i q_i x_i . direction, e Å.
    temperature_k : np.ndarray
        Shape (n_frames,), instantaneous kinetic temperature, K.
    framework_msd_a2 : np.ndarray
        Shape (n_frames,), framework MSD from the first frame, Å^2 (melting check).
    volume_a3 : float
        Cell volume, Å^3.
    n_atoms : int
        Atoms in the cell.
    status : str
        ``completed`` or ``failed``.
    failure_reason : str or None
        Why a failed run stopped.
    wall_time_s : float
        Wall time, s.
    """

    field_v_per_a: float
    direction: np.ndarray
    time_fs: np.ndarray
    polarisation_e_a: np.ndarray
    temperature_k: np.ndarray
    framework_msd_a2: np.ndarray
    volume_a3: float
    n_atoms: int
    status: str
    failure_reason: str | None
    wall_time_s: float


def run_nemd(
    structure: Structure,
    model: LoadedModel,
    *,
    field_v_per_a: float,
    temperature_k: float,
    steps: int,
    mobile_ion: str,
    direction: tuple[float, float, float] = (1.0, 0.0, 0.0),
    timestep_fs: float = 2.0,
    equilibration_steps: int = 200,
    stride: int = 5,
    friction_per_fs: float = 0.02,
    seed: int = 0,
    charges: np.ndarray | None = None,
    min_distance_a: float = 0.5,
    max_temperature_factor: float = 3.0,
) -> NEMDRun:
    """Constant-field NEMD with a perpendicular Langevin thermostat (module docstring).

    Parameters
    ----------
    structure : Structure
        Ordered cell (relaxed, ideally).
    model : LoadedModel
        The MLFF.
    field_v_per_a : float
        Field strength, V/Å (0 gives equilibrium dynamics with the same thermostat).
    temperature_k : float
        Thermostat temperature, K.
    steps : int
        Production steps (recorded every ``stride``).
    mobile_ion : str
        Mobile element; the rest is the framework (melting check).
    direction : (float, float, float)
        Field direction (Cartesian, normalised here).
    timestep_fs : float
        Time step, fs.
    equilibration_steps : int
        Steps under the field before recording (reaches the steady state).
    stride : int
        Record and check every ``stride`` steps.
    friction_per_fs : float
        Langevin friction on the perpendicular components, 1/fs.
    seed : int
        Seed of the initial velocities and the noise.
    charges : np.ndarray, optional
        Shape (n_sites,), charges in e; default :func:`nominal_charges`.
    min_distance_a, max_temperature_factor : float
        Blow-up checks, as in :func:`screening.md.run_md`.

    Returns
    -------
    NEMDRun
        A run that blew up returns status ``failed`` with what was recorded.
    """
    if temperature_k <= 0 or timestep_fs <= 0 or stride < 1 or steps < 2 * stride:
        raise ValueError("need temperature_k > 0, timestep_fs > 0, stride >= 1, steps >= 2 stride")
    if not structure.is_ordered:
        raise ValueError("NEMD needs an ordered structure (partial occupancy found)")
    e_hat = np.asarray(direction, dtype=float)
    if np.linalg.norm(e_hat) == 0:
        raise ValueError("field direction must be non-zero")
    e_hat = e_hat / np.linalg.norm(e_hat)
    q = nominal_charges(structure) if charges is None else np.asarray(charges, dtype=float)
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = model.calculator()
    symbols = np.array(atoms.get_chemical_symbols())
    frame = np.flatnonzero(symbols != mobile_ion)
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_k, rng=rng)
    Stationary(atoms)
    m = atoms.get_masses()[:, None]
    dt = timestep_fs * units.fs
    c1 = np.exp(-friction_per_fs * timestep_fs)
    c2 = np.sqrt(1.0 - c1**2)
    kt = units.kB * temperature_k
    f_field = field_v_per_a * q[:, None] * e_hat[None, :]  # eV/Å
    dof = 3 * len(atoms) - 3
    pos = atoms.get_positions()
    vel = atoms.get_velocities()
    force = atoms.get_forces() + f_field

    def kinetic_t() -> float:
        return float((m * vel**2).sum() / (dof * units.kB))

    def check() -> None:
        check_blow_up(
            atoms,
            force,
            kinetic_t(),
            temperature_k,
            min_distance_a=min_distance_a,
            max_temperature_factor=max_temperature_factor,
        )

    def step() -> None:
        nonlocal pos, vel, force
        vel = vel + 0.5 * dt * force / m
        pos = pos + 0.5 * dt * vel
        v_par = (vel @ e_hat)[:, None] * e_hat[None, :]
        noise = rng.standard_normal(vel.shape)
        noise -= (noise @ e_hat)[:, None] * e_hat[None, :]
        vel = v_par + c1 * (vel - v_par) + c2 * np.sqrt(kt / m) * noise
        pos = pos + 0.5 * dt * vel
        atoms.set_positions(pos)
        force = atoms.get_forces() + f_field
        vel = vel + 0.5 * dt * force / m

    rec: dict[str, list] = {"t": [], "p": [], "temp": [], "fmsd": []}
    ref_frame = None
    failure = None
    t0 = time.perf_counter()
    try:
        for k in range(equilibration_steps):
            step()
            if (k + 1) % stride == 0:
                check()
        ref_frame = pos[frame].copy()
        for k in range(steps + 1):
            if k % stride == 0:
                if k:
                    check()
                disp = pos[frame] - ref_frame
                disp -= disp.mean(axis=0)
                rec["t"].append(k * timestep_fs)
                rec["p"].append(float(q @ (pos @ e_hat)))
                rec["temp"].append(kinetic_t())
                rec["fmsd"].append(float((disp**2).sum(1).mean()) if disp.size else 0.0)
            if k < steps:
                step()
    except MDBlowUp as exc:
        failure = str(exc)
        logger.warning("NEMD of %s at %g V/Å failed: %s", structure.formula, field_v_per_a, failure)
    return NEMDRun(
        field_v_per_a=float(field_v_per_a),
        direction=e_hat,
        time_fs=np.asarray(rec["t"], dtype=float),
        polarisation_e_a=np.asarray(rec["p"], dtype=float),
        temperature_k=np.asarray(rec["temp"], dtype=float),
        framework_msd_a2=np.asarray(rec["fmsd"], dtype=float),
        volume_a3=float(atoms.get_volume()),
        n_atoms=len(atoms),
        status="failed" if failure else "completed",
        failure_reason=failure,
        wall_time_s=time.perf_counter() - t0,
    )
