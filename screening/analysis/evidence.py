"""One evidence model for every candidate's conductivity, whatever tier it reached.

Model
    ln D(T) = ln D0 - Ea / (k_B T), with a stated Gaussian prior on (log10 D0, Ea)
    (:class:`ArrheniusPrior`, the campaign's ``score:`` section). Every usable MD run of a
    candidate, in the conduction screen or the full series, is one observation:

    * a measured D (status ``ok``): ln D_obs ~ N(ln D(T), (err / D)^2);
    * an upper bound (``insufficient_sampling``): the bound was built from the squared
      displacement S reached over the run, S ~ 2 D t chi2(3 n); the observation is the
      censored event "S at most what was seen", likelihood F_chi2(3n)(c / D(T)) with
      c = D_upper * chi2_0.05(3 n) (vibrations only raise S, so this never claims more
      than the run showed);
    * a graded run (every status ``ok`` or ``insufficient_sampling`` run that records its
      fit: the fitted D and jump exposure, or N_eff, run length and mobile ions): the fit's
      N_eff effective jumps are a Poisson count with mean kappa D, kappa = N_eff / D_fit
      (6 t n / a^2), so L(D) ~ D^N exp(-kappa D) (a Gamma shape in D; ln D has sd
      1/sqrt(N) for large N). N is the smaller of N_eff and (D_fit / GLS error)^2: the GLS
      error rules where the walk's shape is the noise (Gaussian walks), the count where
      rare hops are (there the GLS error was overconfident). N_eff = 0 leaves exp(-kappa
      D), an upper bound. This has no cliff at ``min_n_eff``: a run with N_eff 19 and one
      with 21 say nearly the same, where a bound and a measurement differed by decades.
    * failed, too_short and molten runs are no observation at all.

    The posterior of (ln D0, Ea) is evaluated on a grid (deterministic: a rerun gives the
    same numbers), and log10 sigma(300 K) = log10(n e^2 D(300 K) / (k_B 300 K) / H) follows
    from it; a measured Haven ratio H enters with its error.
Score
    One quantile of that posterior (``score.quantile``, default 0.16: the lower end of the
    1-sigma interval) minus ``hull_per_ev`` decades per eV/atom above the hull. A
    candidate with no MD has the prior alone, so ignorance ranks below knowledge of a good
    conductor; more data consistent with the current estimate narrows the interval and
    raises a lower quantile; a colder rerun is scored at its own temperature, so being
    colder gains nothing by itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from scipy import special, stats

from screening.analysis.collective import A2_PER_FS_TO_CM2_PER_S, nernst_einstein_s_cm

K_B_EV = 8.617333262e-5
ROOM_T_K = 300.0
LN10 = math.log(10.0)
LEVER_ARM_MAX = 3.0
"""Flag ``lever_arm`` when 1/300 K lies more than this many fitted 1/T spans beyond the
coldest temperature observed (a single temperature has no span: always flagged)."""
DEFAULT_BOUND_IONS = 8
"""Mobile ions assumed for a bound stored before ``n_mobile`` was recorded (3 n = 24 dof:
a wider, more cautious censoring than most real cells)."""
HOP_A = 3.0
"""Hop distance (Å) that N_eff counts jumps of (:func:`screening.analysis.estimate_diffusivity`
default)."""
_GRID = 101
_RANGE = 6.0


@dataclass(frozen=True)
class ArrheniusPrior:
    """Gaussian prior on the Arrhenius parameters.

    Attributes
    ----------
    ea_ev, ea_sd_ev : float
        Mean and standard deviation of the activation energy, eV.
    log10_d0_cm2_s, log10_d0_sd : float
        Mean and standard deviation of log10 of the prefactor D0 in cm^2/s
        (D0 = f a^2 nu / 6 with hop length a ~ 2.5-3.5 Å and attempt frequency
        nu ~ 1-10 THz gives 1e-4 to 1e-2 cm^2/s).
    """

    ea_ev: float = 0.40
    ea_sd_ev: float = 0.20
    log10_d0_cm2_s: float = -3.0
    log10_d0_sd: float = 1.0


@dataclass(frozen=True)
class Observation:
    """One MD run's evidence about D at one temperature.

    Attributes
    ----------
    temperature_k : float
        Temperature of the run, K.
    kind : str
        ``measured`` (D with a 1-sigma error), ``bound`` (a 95 % upper bound) or
        ``graded`` (a Poisson count of effective jumps, module docstring).
    diffusivity_cm2_s : float
        The measured D, the upper bound, or the fitted D of a graded run (0 when the fit
        rose by nothing), cm^2/s.
    err_cm2_s : float
        1-sigma error of a measured D, cm^2/s (0 for a bound).
    n_mobile : int
        Mobile ions of the run (the bound's chi^2 has 3 n degrees of freedom).
    source : str
        ``screen`` or ``series``.
    n_jumps, exposure_s_cm2 : float
        Graded: the effective jump count N the likelihood rests on, and kappa (s/cm^2), so
        that L(D) ~ D^N exp(-kappa D).
    sampled : bool
        Graded: the run's status was ok (N_eff at or above ``min_n_eff``).
    """

    temperature_k: float
    kind: str
    diffusivity_cm2_s: float
    err_cm2_s: float = 0.0
    n_mobile: int = DEFAULT_BOUND_IONS
    source: str = "series"
    n_jumps: float = 0.0
    exposure_s_cm2: float = 0.0
    sampled: bool = False

    @property
    def is_measured(self) -> bool:
        """A measured D (status ok), as opposed to a bound or a graded under-sampled run."""
        return self.kind == "measured" or (self.kind == "graded" and self.sampled)


@dataclass(frozen=True)
class Posterior:
    """Posterior summary of log10 sigma(300 K) (S/cm) and Ea (eV)."""

    median: float
    lower_1s: float
    upper_1s: float
    lower_95: float
    upper_95: float
    lower_2s: float
    upper_2s: float
    score_quantile: float
    quantile: float
    ea_ev: float
    ea_err_ev: float
    n_measured: int
    n_bounds: int
    temperatures_k: tuple[float, ...]
    lever_arm: float | None
    flags: tuple[str, ...] = field(default=())

    @property
    def width_95_decades(self) -> float:
        """Width of the 95 % interval of log10 sigma(300 K), decades."""
        return self.upper_95 - self.lower_95


def observations(results: Iterable, source: str) -> list[Observation]:
    """Observations from :class:`DiffusionResult`-like objects or dicts: graded for runs
    that record their fit (:func:`_graded`); else (bare dicts without N_eff and run
    length) measured D for status ``ok`` and bounds for ``insufficient_sampling``;
    failed, too_short and molten runs are left out."""
    out = []
    for r in results:
        r = r if isinstance(r, dict) else r.model_dump(mode="json")
        if r.get("framework_mobile") or r.get("status") not in ("ok", "insufficient_sampling"):
            continue
        n = int(r.get("n_mobile") or DEFAULT_BOUND_IONS)
        t = float(r["temperature_k"])
        if (g := _graded(r, t, n, source)) is not None:
            out.append(g)
            continue
        d, err = r.get("diffusivity_cm2_s"), r.get("diffusivity_cm2_s_err")
        if r["status"] == "ok" and d and d > 0 and err and err > 0 and math.isfinite(err):
            out.append(Observation(t, "measured", float(d), float(err), n, source))
        elif (up := r.get("diffusivity_upper_cm2_s")) and up > 0 and math.isfinite(up):
            out.append(Observation(t, "bound", float(up), 0.0, n, source))
    return out


def jump_exposure_s_cm2(run_fs: float, n_ions: int, hop_a: float = HOP_A) -> float:
    """Effective jumps per unit D, s/cm^2: a run of ``run_fs`` with ``n_ions`` mobile ions
    sees N_eff = exposure x D jumps of ``hop_a`` Å on average (6 t n / a^2)."""
    return 6.0 * run_fs * n_ions / (hop_a**2 * A2_PER_FS_TO_CM2_PER_S)


def _graded(r: dict, t: float, n_mobile: int, source: str) -> Observation | None:
    """The graded observation of a run (module docstring), or None when the run records
    neither the fitted D and jump exposure nor what they follow from (N_eff, run length,
    mobile ions: results stored before the fields existed, with the analysis' 3 Å hop).

    A significantly poor line fit is graded too: its GLS error was inflated by
    sqrt(chi2_red), which lowers N through (D_fit / error)^2."""
    kappa, d_fit = r.get("jump_exposure_s_cm2"), r.get("diffusivity_fit_cm2_s")
    if kappa is None or "diffusivity_fit_cm2_s" not in r:
        t_ps, n_eff = r.get("simulated_time_ps"), r.get("n_eff")
        if not (t_ps and r.get("n_mobile") and n_eff is not None):
            return None
        kappa = jump_exposure_s_cm2(t_ps * 1000.0, n_mobile)
        d_fit = max(n_eff, 0.0) / kappa
    d_fit = d_fit or 0.0
    if not (math.isfinite(kappa) and kappa > 0 and math.isfinite(d_fit)):
        return None
    n_jumps = max(d_fit, 0.0) * kappa  # = N_eff
    gls = r.get("diffusivity_gls_err_cm2_s")
    if d_fit > 0 and gls and gls > 0 and math.isfinite(gls):
        n_jumps = min(n_jumps, (d_fit / gls) ** 2)
    if d_fit > 0 and n_jumps > 0:
        kappa = n_jumps / d_fit  # keeps the likelihood's mode at the fitted D
    else:
        n_jumps, d_fit = 0.0, 0.0
    return Observation(
        t,
        "graded",
        float(d_fit),
        0.0,
        n_mobile,
        source,
        n_jumps=float(n_jumps),
        exposure_s_cm2=float(kappa),
        sampled=r.get("status") == "ok",
    )


GAUSSIAN_MIN_JUMPS = 1.0
"""Graded observations with at least this many jumps enter the grid's Gaussian proposal
(ln D ~ N(ln D_fit, 1/N)); every graded term is then weighed exactly on the grid."""


def _row(t: float) -> np.ndarray:
    """Design row of ln D(T) in (ln D0, Ea)."""
    return np.array([1.0, -1.0 / (K_B_EV * t)])


def _gaussian_part(obs: Sequence[Observation], prior: ArrheniusPrior):
    """Mean and covariance of (ln D0, Ea) from the prior and the measured points (exact)."""
    m0 = np.array([prior.log10_d0_cm2_s * LN10, prior.ea_ev])
    p = np.diag([1.0 / (prior.log10_d0_sd * LN10) ** 2, 1.0 / prior.ea_sd_ev**2])
    b = p @ m0
    for o in obs:
        if o.kind == "measured":
            s = o.err_cm2_s / o.diffusivity_cm2_s
        elif o.kind == "graded" and o.n_jumps >= GAUSSIAN_MIN_JUMPS:
            s = 1.0 / math.sqrt(o.n_jumps)  # the Gamma likelihood's curvature at its mode
        else:
            continue
        x = _row(o.temperature_k)
        p = p + np.outer(x, x) / s**2
        b = b + x * math.log(o.diffusivity_cm2_s) / s**2
    cov = np.linalg.inv(p)
    return cov @ b, cov


def _log_weights(theta: np.ndarray, mean, cov, bounds: Sequence[Observation]) -> np.ndarray:
    """Unnormalised log posterior at grid points ``theta`` (shape (n, 2)): the Gaussian
    part, then the exact terms of bounds and graded runs (a graded run's Gaussian
    approximation, when it entered the Gaussian part, is taken out again)."""
    diff = theta - mean
    logw = -0.5 * np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
    for o in bounds:
        if o.kind == "graded":
            u = theta @ _row(o.temperature_k)
            logw = logw + o.n_jumps * u - o.exposure_s_cm2 * np.exp(np.clip(u, -700, 700))
            if o.n_jumps >= GAUSSIAN_MIN_JUMPS:
                logw = logw + 0.5 * o.n_jumps * (u - math.log(o.diffusivity_cm2_s)) ** 2
            continue
        k = 3 * o.n_mobile
        c = o.diffusivity_cm2_s * stats.chi2.ppf(0.05, k)
        ln_d = theta @ _row(o.temperature_k)
        # F_chi2(k)(c / D): the regularised lower incomplete gamma, in logs
        x = np.exp(np.clip(math.log(c) - ln_d, -700, 700)) / 2.0
        logw = logw + np.log(np.maximum(special.gammainc(k / 2.0, x), 1e-300))
    return logw


def _grid(mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    z = np.linspace(-_RANGE, _RANGE, _GRID)
    zz = np.stack(np.meshgrid(z, z, indexing="ij"), axis=-1).reshape(-1, 2)
    return mean + zz @ np.linalg.cholesky(cov).T


def _weighted_quantiles(values: np.ndarray, w: np.ndarray, qs, smear: float) -> list[float]:
    """Quantiles of sum_i w_i N(values_i, smear^2) (smear > 0: a measured Haven ratio's
    error, else a tiny kernel that only interpolates the grid)."""
    order = np.argsort(values)
    v, w = values[order], w[order] / w.sum()
    out = []
    for q in qs:
        lo, hi = v[0] - 6 * smear - 1.0, v[-1] + 6 * smear + 1.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            cdf = float(w @ special.ndtr((mid - v) / smear))
            lo, hi = (mid, hi) if cdf < q else (lo, mid)
        out.append(0.5 * (lo + hi))
    return out


def posterior(
    obs: Sequence[Observation],
    *,
    n_mobile_per_cm3: float,
    prior: ArrheniusPrior = ArrheniusPrior(),
    quantile: float = 0.16,
    haven_ratio: float = 1.0,
    haven_ratio_err: float = 0.0,
) -> Posterior:
    """Posterior of log10 sigma(300 K) given the observations (module docstring).

    Parameters
    ----------
    obs : sequence of Observation
        The candidate's usable runs (any tier); empty: the prior alone.
    n_mobile_per_cm3 : float
        Mobile-ion number density, cm^-3 (> 0).
    prior : ArrheniusPrior
        Prior on (log10 D0, Ea).
    quantile : float
        The score's quantile of log10 sigma(300 K), in (0, 1).
    haven_ratio, haven_ratio_err : float
        Haven ratio H (sigma = sigma_NE(D_tracer) / H) and its 1-sigma error.

    Returns
    -------
    Posterior
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must lie in (0, 1), got {quantile}")
    if not n_mobile_per_cm3 > 0:
        raise ValueError(f"n_mobile_per_cm3 must be > 0, got {n_mobile_per_cm3}")
    obs = tuple(obs)
    theta, w, cov = _weighted_grid(obs, prior)
    offset = math.log10(
        nernst_einstein_s_cm(1.0, n_mobile_per_cm3=n_mobile_per_cm3, temperature_k=ROOM_T_K)
        / haven_ratio
    )
    values = theta @ _row(ROOM_T_K) / LN10 + offset
    spacing = float(np.sqrt(_row(ROOM_T_K) @ cov @ _row(ROOM_T_K))) / LN10 * 2 * _RANGE / _GRID
    smear = math.hypot(haven_ratio_err / haven_ratio / LN10, 0.5 * spacing)
    qs = (0.5, 0.15865, 0.84135, 0.025, 0.975, 0.02275, 0.97725, quantile)
    med, l1, u1, l95, u95, l2, u2, qv = _weighted_quantiles(values, w, qs, smear)
    ea = float(w @ theta[:, 1])
    ea_err = float(np.sqrt(max(w @ (theta[:, 1] - ea) ** 2, 0.0)))
    temps = tuple(sorted({o.temperature_k for o in obs}))
    lever = lever_arm(temps)
    flags = []
    if obs and (lever is None or lever > LEVER_ARM_MAX):
        flags.append("lever_arm")
    if obs and not any(o.is_measured for o in obs):
        flags.append("bounds_only")
    return Posterior(
        median=med,
        lower_1s=l1,
        upper_1s=u1,
        lower_95=l95,
        upper_95=u95,
        lower_2s=l2,
        upper_2s=u2,
        score_quantile=qv,
        quantile=quantile,
        ea_ev=ea,
        ea_err_ev=ea_err,
        n_measured=sum(o.is_measured for o in obs),
        n_bounds=sum(not o.is_measured for o in obs),
        temperatures_k=temps,
        lever_arm=lever,
        flags=tuple(flags),
    )


def _weighted_grid(obs: Sequence[Observation], prior: ArrheniusPrior):
    """Grid points (n, 2) of (ln D0, Ea), their normalised posterior weights, and the
    covariance of the Gaussian part."""
    mean, cov = _gaussian_part(obs, prior)
    bounds = [o for o in obs if o.kind in ("bound", "graded")]  # weighed exactly on the grid
    theta = _grid(mean, cov)
    logw = _log_weights(theta, mean, cov, bounds)
    if bounds:  # re-centre the grid where the censored posterior lies, then weigh again
        w = np.exp(logw - logw.max())
        w /= w.sum()
        m1 = w @ theta
        c1 = (theta - m1).T @ ((theta - m1) * w[:, None]) + 1e-12 * np.eye(2)
        theta = _grid(m1, c1 * 1.2)
        logw = _log_weights(theta, mean, cov, bounds)
    w = np.exp(logw - logw.max())
    return theta, w / w.sum(), cov


def predictive_median_ln_d(
    obs: Sequence[Observation], temperature_k: float, prior: ArrheniusPrior = ArrheniusPrior()
) -> float:
    """Posterior median of ln D(T) (D in cm^2/s) at ``temperature_k``: what a run there is
    expected to measure, given the evidence so far."""
    theta, w, cov = _weighted_grid(tuple(obs), prior)
    row = _row(temperature_k)
    spacing = float(np.sqrt(row @ cov @ row)) * 2 * _RANGE / _GRID
    return _weighted_quantiles(theta @ row, w, (0.5,), 0.5 * spacing)[0]


def predictive_mean_d(
    obs: Sequence[Observation], temperature_k: float, prior: ArrheniusPrior = ArrheniusPrior()
) -> float:
    """Posterior mean of D(T) (cm^2/s) at ``temperature_k``: the D whose expected jump
    count a run there would see (a count consistent with the evidence so far)."""
    theta, w, _ = _weighted_grid(tuple(obs), prior)
    return float(w @ np.exp(theta @ _row(temperature_k)))


def lever_arm(temperatures_k: Sequence[float]) -> float | None:
    """(1/300 K - 1/T_min) / (1/T_min - 1/T_max): how many fitted 1/T spans 300 K lies
    beyond the data; None for fewer than two temperatures (no span)."""
    if len(temperatures_k) < 2:
        return None
    lo, hi = min(temperatures_k), max(temperatures_k)
    return (1.0 / ROOM_T_K - 1.0 / lo) / (1.0 / lo - 1.0 / hi)


def prior_only(prior: ArrheniusPrior, n_mobile_per_cm3: float, quantile: float) -> Posterior:
    """The posterior of a candidate with no MD evidence: the prior's, shifted by the
    carrier density (computed once per prior and quantile: millions of candidates share
    it)."""
    unit = _prior_only_unit(prior, quantile)
    shift = math.log10(n_mobile_per_cm3)
    moved = {
        k: getattr(unit, k) + shift
        for k in (
            "median",
            "lower_1s",
            "upper_1s",
            "lower_95",
            "upper_95",
            "lower_2s",
            "upper_2s",
            "score_quantile",
        )
    }
    return replace(unit, **moved)


@lru_cache(maxsize=16)
def _prior_only_unit(prior: ArrheniusPrior, quantile: float) -> Posterior:
    return posterior((), n_mobile_per_cm3=1.0, prior=prior, quantile=quantile)
