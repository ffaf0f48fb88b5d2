"""Campaign cost planner: how many candidates reach each tier and what that costs here.

Counts of enumeration and the composition filters are exact (orderings counted by their
upper bound, as ``generate --count``); the prescreen's and the stability cut's pass rates,
and the seconds per candidate of each tier, come from a calibration: a short run of the
campaign's first candidates on this machine (``--calibrate``), cached per (campaign, model,
weights hash, device) under the data dir. Without one the times are unknown (null).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from screening.schemas.campaign import CampaignSpec
from screening.settings import get_settings

ANCHOR = (
    "anchor: Chen et al. 2024 (Microsoft + PNNL) took 32 M generated candidates to 18 in "
    "~80 h on ~1,000 VMs by putting cheap model filters before expensive ones"
)


def _calibration_file() -> Path:
    return get_settings().data_dir / "calibration.json"


def _key(spec: CampaignSpec, model) -> str:
    return f"{spec.name}|{model.name}|{model.weights_sha256[:16]}|{model.device}"


def cached_calibration(
    spec: CampaignSpec,
    model_name: str | None = None,
    *,
    path: Path | None = None,
    gpu: bool | None = None,
) -> dict | None:
    """The newest cached calibration of this campaign (any model when not named).

    Parameters
    ----------
    spec : CampaignSpec
        The campaign (matched by name).
    model_name : str, optional
        Only calibrations of this model.
    path : Path, keyword-only, optional
        A calibration file (the cache's format, e.g. copied from a GPU node); default the
        cache in ``$SCREENING_DATA_DIR``. A file that is not such a cache raises ValueError.
    gpu : bool, keyword-only, optional
        Prefer calibrations made on a GPU (True) or on a CPU (False); either when None.
    """
    path = path or _calibration_file()
    if not path.exists():
        return None
    try:
        entries = json.loads(path.read_text())
        hits = [
            v
            for k, v in entries.items()
            if k.split("|")[0] == spec.name
            and (model_name is None or k.split("|")[1] == model_name)
        ]
        if gpu is not None:
            hits = [v for v in hits if str(v["device"]).startswith("cuda") is gpu] or hits
        return max(hits, key=lambda v: v["measured_at"]) if hits else None
    except (ValueError, AttributeError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{path}: not a calibration file (expected the JSON object that "
            f"`campaign plan --calibrate` writes; {type(exc).__name__})"
        ) from None


def calibrate(spec: CampaignSpec, model, *, sample: int = 8) -> dict:
    """Time each tier on the campaign's first ``sample`` candidates (build, prescreen single
    point, relaxation, one MD force call) and measure the pass rates; cached."""
    import itertools

    from pymatgen.core import Structure

    from screening.flows.eta import time_md_step
    from screening.flows.prescreen import prescreen, reference_hull, single_points
    from screening.generate.arrays import ArrayBuilder, to_structure
    from screening.generate.enumerate import Enumerator
    from screening.generate.parents import load_prototypes
    from screening.mlff.relax import relax_batch

    enum = Enumerator(spec, load_prototypes(spec))
    t0 = time.perf_counter()
    refs = list(itertools.islice(enum, sample))
    builder = ArrayBuilder(enum)
    cells = [builder.build(r) for r in refs]
    build_s = (time.perf_counter() - t0) / max(len(refs), 1)
    structures = [to_structure(c) for c in cells]
    n = len(structures)
    single_points(cells[:1], model)  # warm-up
    t0 = time.perf_counter()
    kept, _ = prescreen(cells, spec, model, None) if spec.funnel.prescreen else ([], 0)
    if not spec.funnel.prescreen:
        single_points(cells, model)
    prescreen_s = (time.perf_counter() - t0) / n
    f = spec.funnel
    t0 = time.perf_counter()
    relaxed = relax_batch(structures, model, fmax=f.relax_fmax_ev_a, max_steps=f.relax_max_steps)
    relax_s = (time.perf_counter() - t0) / n
    hull = reference_hull(spec, None, model, {s.composition.chemical_system for s in structures})
    stable = [
        r.status != "failed"
        and (
            hull is None
            or (hull.e_above_hull(s.composition, r.energy_ev) or 0.0) <= f.e_hull_max_ev_per_atom
        )
        for s, r in zip(structures, relaxed, strict=True)
    ]
    md_step_s, cell = time_md_step(Structure.from_dict(relaxed[0].structure), model, f.md_max_atoms)
    import bson

    out = {
        "campaign": spec.name,
        "model": model.name,
        "device": str(model.device),
        "sample": n,
        "build_s": build_s,
        "prescreen_s": prescreen_s,
        "relax_s": relax_s,
        "md_step_s": md_step_s,
        "md_atoms": len(cell),
        "prescreen_pass": (sum(d is not None for d in kept) / n) if spec.funnel.prescreen else 1.0,
        "stable_pass": sum(stable) / n,
        "doc_bytes": len(bson.encode({"structure": structures[0].as_dict()})) + 600,
        "measured_at": time.time(),
    }
    path = _calibration_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = json.loads(path.read_text()) if path.exists() else {}
    entries[_key(spec, model)] = out
    path.write_text(json.dumps(entries, indent=1))
    return out


def _library_size(systems: set[str]) -> int:
    """Reference-library phases (each relaxed once per model) for these chemical systems."""
    from screening.stability.auto import library_size

    return library_size(systems)


def plan(
    spec: CampaignSpec,
    *,
    cpus: int = 1,
    gpus: int = 0,
    calibration: dict | None,
    prototypes: list | None = None,
) -> dict:
    """Counts, hours and wall time per tier (see the module docstring); ``prototypes``:
    the campaign's, when the caller has loaded them already (else loaded here).

    Returns ``{"tiers": [{name, count, seconds_per_candidate, cpu_hours, gpu_hours}],
    "wall_hours", "database_gb", "calibration", "anchor"}``; times are None without a
    calibration, and GPU hours are None unless the calibration ran on a GPU.
    """
    from screening.flows.eta import md_steps_per_candidate
    from screening.flows.md_stage import equilibration_steps
    from screening.generate.enumerate import Enumerator
    from screening.generate.parents import load_prototypes

    if cpus < 1 or gpus < 0:
        raise ValueError(f"--cpus must be >= 1 and --gpus >= 0, got {cpus} and {gpus}")
    f = spec.funnel
    enum = Enumerator(spec, load_prototypes(spec) if prototypes is None else prototypes)
    counts = enum.count()
    c = calibration or {}
    passed = counts["passed"]
    if f.prescreen_keep_fraction is not None:
        relax_n = math.ceil(f.prescreen_keep_fraction * passed)
    elif f.prescreen:
        relax_n = None if not c else round(passed * c["prescreen_pass"])
    else:
        relax_n = passed
    stable_n = None if relax_n is None or not c else round(relax_n * c["stable_pass"])
    if not spec.has_references and relax_n is not None:
        stable_n = relax_n
    md_steps = md_steps_per_candidate(f)
    screen_n = None if stable_n is None else min(f.screen_top_n, stable_n)
    md_n = (
        None
        if stable_n is None
        else min(f.top_k_md, screen_n if f.screen_temperature_k else stable_n)
    )
    step = c.get("md_step_s")
    rows = [
        ("generate", passed, c.get("build_s")),
        *(
            [
                (
                    "references (library, once per system)",
                    _library_size(enum.systems),
                    c.get("relax_s"),
                )
            ]
            if spec.references == "auto"
            else []
        ),
        *([("prescreen", passed, c.get("prescreen_s"))] if f.prescreen else []),
        ("relax" + (" + stability" if spec.has_references else ""), relax_n, c.get("relax_s")),
        *(
            [
                (
                    "screen",
                    screen_n,
                    None
                    if step is None
                    else step * (f.screen_steps + equilibration_steps(f.screen_steps)),
                )
            ]
            if f.screen_temperature_k
            else []
        ),
        ("md + diffusion", md_n, None if step is None else step * md_steps),
    ]
    on_gpu = str(c.get("device", "cpu")).startswith("cuda")
    tiers = []
    for name, n, s in rows:
        hours = None if n is None or s is None else n * s / 3600
        tiers.append(
            {
                "name": name,
                "count": n,
                "seconds_per_candidate": s,
                "cpu_hours": None if on_gpu else hours,
                "gpu_hours": hours if on_gpu else None,
            }
        )
    cpu = [t["cpu_hours"] for t in tiers]
    gpu = [t["gpu_hours"] for t in tiers]
    if on_gpu:
        wall = None if None in gpu or gpus < 1 else sum(gpu) / gpus
    else:
        wall = None if None in cpu else sum(cpu) / cpus
    stored = relax_n if relax_n is not None else passed
    return {
        "campaign": spec.name,
        "enumerated": counts["enumerated"],
        "passed_filters": passed,
        "rejected_by_reason": counts["rejected_by_reason"],
        "tiers": tiers,
        "cpus": cpus,
        "gpus": gpus,
        "wall_hours": wall,
        "database_gb": None if not c else stored * c["doc_bytes"] / 1e9,
        "calibration": c or None,
        "anchor": ANCHOR,
    }
