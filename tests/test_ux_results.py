"""What a materials scientist sees of results: pre-MD ties, short runs, the ranking table,
direct queries, plots and the demo's sigma (issue 15, one test per item).

Stored candidates are built from real analysis objects (synthetic random walks with a known
D) where a test is about how results are shown rather than how they are computed.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from conftest import REPO, rocksalt
from ux_common import SCREENING, env_for, run, walk, write_campaign


# -- 1. pre-MD ties ------------------------------------------------------------------------
def test_1_pre_md_ties_go_to_carrier_density_and_validate_warns(tmp_path):
    from screening.flows.select import RELAXED, select_for_md
    from screening.schemas.campaign import load_campaign
    from screening.store import ResultStore

    camp = write_campaign(tmp_path, funnel={"top_k_md": 2})
    out = run([SCREENING, "campaign", "validate", camp], env=env_for(tmp_path / "d"))
    assert "warning: no reference phases" in out.stderr and "ux: valid" in out.stdout
    # three formulas, each its own lowest polymorph: all tie at E_hull (stand-in) = 0; the
    # ids are chosen so that the old tie-break (id) would pick the two least dense
    cells = {"a-LiI": rocksalt(6.0, anion="I"), "b-LiBr": rocksalt(5.5, anion="Br")}
    cells["c-LiCl"] = rocksalt(5.13)
    store = ResultStore()
    store.upsert(
        "candidates",
        [
            (
                cid,
                {
                    "stage": RELAXED,
                    "status": "pending",
                    "relax": {"structure": s.as_dict(), "energy_per_atom_ev": -3.0},
                },
                {"campaign": "ux", "formula": s.composition.reduced_formula},
            )
            for cid, s in cells.items()
        ],
    )
    chosen = select_for_md(store, load_campaign(camp))
    assert chosen == ["c-LiCl", "b-LiBr"]  # densest Li first (carriers of sigma = n q^2 D/kT)
    doc = store.db["candidates"].find_one({"_id": "c-LiCl"})
    assert doc["mobile_per_cm3"] == pytest.approx(4 / (5.13**3 * 1e-24), rel=1e-6)
    assert store.db["candidates"].find_one({"_id": "a-LiI"})["stage"] == "done"


# -- 2. too-short runs ---------------------------------------------------------------------
def test_2_too_short_runs_are_neither_bounds_nor_scored(tmp_path):
    from screening.analysis import estimate_diffusivity, fit_arrhenius
    from screening.analysis.score import evidence_fields, pre_md_score

    def scored(results):
        diff = {"per_temperature": [r.model_dump(mode="json") for r in results]}
        return evidence_fields({"diffusion": {**diff, "n_mobile_per_cm3": 1e22}})

    short = [
        estimate_diffusivity(*walk(s, 101, 1e-4), temperature_k=t).result  # 1.0 ps
        for s, t in enumerate((800, 1000, 1200))
    ]
    assert all(r.status == "too_short" and r.diffusivity_upper_cm2_s is None for r in short)
    prior = pre_md_score(None, n_mobile_per_cm3=1e22)
    out = scored(short)  # no evidence: the prior's score, and said so
    assert out["score"] == prior and out["evidence"]["sampling"] == "too_short"
    assert out["evidence"]["n_measured"] == out["evidence"]["n_bounds"] == 0
    fit = fit_arrhenius(short, n_mobile_per_cm3=1e22)
    assert "no_sampled_temperatures" in fit.flags and "too_few_temperatures" not in fit.flags
    # 2 ps is enough for a fit window starting at 1 ps: a bound (or D), and a score
    long = estimate_diffusivity(*walk(0, 201, 1e-7), temperature_k=1200).result
    assert long.status == "insufficient_sampling" and long.diffusivity_upper_cm2_s > 1e-7
    assert 0.6 < long.fit_window_ps[0] < long.fit_window_ps[1]  # a real window, not 3 lags
    out = scored([long])  # a bound is evidence: censored, it lowers the score below the prior
    assert out["evidence"]["n_bounds"] == 1 and out["score"] < prior
    # validate: md_steps x timestep below 2 ps is named, with the steps it needs
    camp = write_campaign(tmp_path, funnel={"md_steps": 200})
    out = run([SCREENING, "campaign", "validate", camp], env=env_for(tmp_path / "d"))
    assert "funnel.md_steps x funnel.md_timestep_fs = 0.4 ps" in out.stderr
    assert "too_short" in out.stderr and ">= 1000 steps" in out.stderr


# -- 3. the ranking table --------------------------------------------------------------------
def _diffusion_doc(seed: int, d_scale: float, n_frames: int):
    """A DiffusionDoc from real analysis of synthetic walks at three temperatures."""
    from screening.analysis import estimate_diffusivity, fit_arrhenius
    from screening.analysis.arrhenius import K_B_EV
    from screening.md.series import sampling_summary, scored_temperature
    from screening.schemas.documents import DiffusionDoc

    per_t = []
    for k, t in enumerate((800.0, 1000.0, 1200.0)):
        d = d_scale * np.exp(-0.25 / (K_B_EV * t))
        per_t.append(estimate_diffusivity(*walk(seed + k, n_frames, d), temperature_k=t).result)
    fit = fit_arrhenius(per_t, n_mobile_per_cm3=2e22)
    return DiffusionDoc(
        per_temperature=per_t,
        arrhenius=fit,
        n_mobile_per_cm3=2e22,
        at_t_max=scored_temperature(per_t),
        sampling=sampling_summary(per_t, fit),
    )


def seed_ranked_store(campaign: str = "shown") -> dict[str, str]:
    """Three scored candidates: Arrhenius fit, a bound only, never simulated."""
    from screening.analysis.score import evidence_fields
    from screening.store import ResultStore

    store = ResultStore()
    store.upsert("campaigns", [(campaign, {"name": campaign, "spec": {}}, {})])
    fast = _diffusion_doc(0, 3e-2, 3000)
    slow = _diffusion_doc(10, 1e-5, 300)
    assert fast.sampling == "arrhenius" and slow.sampling == "insufficient_sampling"
    ids = {"fast": "ab" + "1" * 22, "slow": "ab" + "2" * 22, "none": "cd" + "3" * 22}
    rows = []
    for key, diff in (("fast", fast), ("slow", slow), ("none", None)):
        fields = {
            "stage": "done",
            "status": "completed",
            "score_e_hull_ev_per_atom": 0.0,
            "mobile_per_cm3": 2e22,
        }
        if diff is not None:
            fields["diffusion"] = diff.model_dump(mode="json")
            fields["artifacts"] = [f"{ids[key]}/msd.png"]
        fields.update(evidence_fields({**fields, "formula": "LiCl"}))
        fields["score_pre_md"] = evidence_fields({**fields, "diffusion": None})["score"]
        insert = {"campaign": campaign, "formula": f"Li{key}", "candidate_id": ids[key]}
        rows.append((ids[key], fields, insert))
    store.upsert("candidates", rows)
    store.put_artifact(f"{ids['fast']}/msd.png", b"\x89PNG\r\n\x1a\nfake", candidate_id=ids["fast"])
    from screening.store import backend

    backend.forget_embedded()  # written; the lock goes to the commands the test runs
    return ids


def test_3_ranking_table_columns_legend_where_and_id_prefixes(tmp_path):
    ids = seed_ranked_store()
    env = env_for(tmp_path / "data", COLUMNS="200")
    table = run([SCREENING, "rank", "shown"], env=env).stdout
    for col in ("formula", "score", "E_hull", "σ(300 K)", "Ea eV", "D(T)", "N_eff", "tier"):
        assert col in table
    assert "sampling" in table and "flags" in table
    assert "0.000*" in table and "E_hull* = stand-in" in table  # marked stand-in + legend
    assert "evidence model" in table and "decades" in table
    fast_line = next(ln for ln in table.splitlines() if "Lifast" in ln)
    assert "arrhenius" in fast_line and "[" in fast_line and "series" in fast_line
    assert "±" in fast_line  # Ea with its error
    slow_line = next(ln for ln in table.splitlines() if "Lislow" in ln)
    assert "<" in slow_line and "insufficient_sampling" in slow_line  # a bound, marked
    none_line = next(ln for ln in table.splitlines() if "Linone" in ln)
    assert "no fit" in none_line and "no_md" in none_line and "prior" in none_line
    assert ids["fast"][:10] in fast_line
    # ignorance never ranks above knowledge of a good conductor; a bound below ignorance
    order = [w for ln in table.splitlines() for w in ("fast", "none", "slow") if f"Li{w}" in ln]
    assert order == ["fast", "none", "slow"]

    def where(expr):
        out = run([SCREENING, "rank", "shown", "--json", "--where", expr], env=env).stdout
        return [r["formula"] for r in json.loads(out)]

    assert where("sampling in (arrhenius, insufficient_sampling)") == ["Lifast", "Lislow"]
    assert where("sampling = no_md") == ["Linone"]  # what the table prints is what matches
    assert where("tier = series and n_eff >= 20") == ["Lifast"]
    assert where("activation_energy_ev > 0 and flags = bounds_only") == ["Lislow"]
    assert where("d_tmax_upper_cm2_s > 0 and sampling = insufficient_sampling") == ["Lislow"]
    assert where("e_hull_used_ev_per_atom <= 0 and formula in ('Linone')") == ["Linone"]
    # any unique prefix is an id; an ambiguous one is one error line
    run([SCREENING, "plot", ids["fast"][:10], "--out", tmp_path / "p"], env=env)
    assert (tmp_path / "p" / "msd.png").read_bytes().startswith(b"\x89PNG")
    bad = run([SCREENING, "plot", "ab", "--out", tmp_path / "p"], env=env, check=False)
    assert bad.returncode != 0 and bad.stderr.strip().splitlines() == [
        "error: candidate 'ab': ambiguous prefix, give more characters"
    ]


def test_3_rank_into_a_closed_pipe_exits_quietly(tmp_path):
    """`screening rank ... --csv | head`: the reader is gone before the rows are written;
    the command ends with exit 0 and nothing on stderr (was: error: BrokenPipeError)."""
    import subprocess

    seed_ranked_store("piped")
    proc = subprocess.Popen(
        [SCREENING, "rank", "piped", "--csv"],
        env=env_for(tmp_path / "data"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader leaves before the command has written anything
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and err.decode().strip() == ""


def test_3_rescore_with_the_median_moves_each_score_by_its_own_interval(tmp_path):
    """`campaign rescore` with ``score.quantile: 0.5``: every score becomes its posterior
    median, so each rises by its own lower half-width; the candidate with no MD (the prior
    alone, the widest interval) rises most, the fitted series least."""
    ids = seed_ranked_store("shown")
    env = env_for(tmp_path / "data")
    camp = write_campaign(tmp_path, name="shown")
    out = run([SCREENING, "campaign", "rescore", camp, "--json"], env=env)
    assert json.loads(out.stdout) == {"scored": 3, "changed": 0}

    def ranked():
        out = run([SCREENING, "rank", "shown", "--json"], env=env).stdout
        return {r["candidate_id"]: r for r in json.loads(out)}

    before = ranked()
    camp = write_campaign(tmp_path, name="shown", score={"quantile": 0.5})
    out = run([SCREENING, "campaign", "rescore", camp, "--json"], env=env)
    assert json.loads(out.stdout) == {"scored": 3, "changed": 3}
    after = ranked()
    gain = {k: after[ids[k]]["score"] - before[ids[k]]["score"] for k in ids}
    for k in ids:
        median = np.log10(after[ids[k]]["sigma_300k_s_cm"])
        assert after[ids[k]]["score"] == pytest.approx(median, abs=2e-3)
    assert gain["none"] > gain["slow"] > gain["fast"] > 0


# -- 13. direct queries and files ----------------------------------------------------------------
def _readme_query() -> str:
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- query-example -->", 1)[1]
    return block.split("```python\n", 1)[1].split("```", 1)[0]


def test_13_readme_query_runs_and_trajectories_keep_the_lattice(tmp_path, tensornet):
    """The README's pymongo example, run as written in a fresh process on a store holding a
    matching Li candidate and three that miss one condition each."""
    from screening.analysis.score import evidence_fields
    from screening.md import run_md
    from screening.schemas.results import MDResult
    from screening.schemas.trajectory import MDTrajectory
    from screening.store import ResultStore

    fast = _diffusion_doc(0, 3e-2, 3000).model_dump(mode="json")
    evidence = evidence_fields({"diffusion": fast, "formula": "LiCl"})["evidence"]
    assert evidence["sigma300_s_cm"] > 1e-5
    licl = rocksalt(5.13).as_dict()
    base = {"stage": "done", "status": "completed", "relax": {"structure": licl}}
    rows = [
        ("hit", {**base, "score": 1.0, "stability": {"e_hull_ev_per_atom": 0.01}}, "Li"),
        ("na", {**base, "score": 2.0, "stability": {"e_hull_ev_per_atom": 0.01}}, "Na"),
        ("unstable", {**base, "score": 3.0, "stability": {"e_hull_ev_per_atom": 0.05}}, "Li"),
        ("slow", {**base, "score": 0.0, "stability": {"e_hull_ev_per_atom": 0.0}}, "Li"),
    ]
    store = ResultStore()
    store.upsert(
        "candidates",
        [
            (
                cid,
                {
                    **f,
                    "diffusion": fast,
                    "evidence": evidence if cid != "slow" else {**evidence, "sigma300_s_cm": 1e-6},
                },
                {"campaign": "q", "formula": f"{ion}Cl-{cid}", "mobile_ion": ion},
            )
            for cid, f, ion in rows
        ],
    )
    store.flush()
    out = run([sys.executable, "-c", _readme_query()], env=env_for(tmp_path / "data"), cwd=tmp_path)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hit LiCl-hit E_hull=0.010 sigma300=")
    cif = tmp_path / "LiCl-hit_hit.cif"
    assert cif.is_file() and "Li" in cif.read_text()
    # trajectories keep the lattice; the schema's ensemble text names what is stored
    cell = rocksalt(5.2)
    cell.make_supercell([1, 1, 2])
    md, traj = run_md(cell, tensornet, temperature_k=300, steps=10, equilibration_steps=0)
    back = MDTrajectory.from_bytes(traj.to_bytes())
    assert np.allclose(back.lattice_a, cell.lattice.matrix)
    assert md.ensemble == "nvt-nose-hoover-chain"
    assert f"'{md.ensemble}'" in MDResult.model_fields["ensemble"].description


# -- 14. plots -----------------------------------------------------------------------------------
def test_14_plots_carry_title_fit_window_and_measured_temperature(tensornet):
    from screening.analysis.plots import arrhenius_figure, msd_figure
    from screening.md.series import diffusion_series, msd_curves, plot_title

    cell = rocksalt(5.3)
    runs, fit = diffusion_series(
        cell,
        tensornet,
        temperatures_k=[600, 900],
        steps=1000,
        equilibration_steps=0,
        timestep_fs=2.0,
    )
    title = plot_title("LiCl", "abc123", tensornet.name)
    assert title == "LiCl  abc123  (tensornet-matpes-pbe)"
    fig = msd_figure(msd_curves(runs), title=title)
    ax = fig.axes[0]
    assert ax.get_title() == title
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    mean_t = runs[0].md.temperature_mean_k
    assert f"600 K (⟨T⟩ = {mean_t:.0f} K) tracer" in labels and "fit window" in labels
    lo, hi = runs[0].diffusion.fit_window_ps  # 2 ps run: window [2/3, 1] ps, not shrunk
    assert 0.6 < lo < 0.7 and 0.95 < hi <= 1.0
    thick = [ln for ln in ax.get_lines() if ln.get_linewidth() == 3]
    assert len(thick) == 2  # the fit window drawn over each tracer curve
    x = thick[0].get_xdata()
    assert x.min() == pytest.approx(lo, abs=0.02) and x.max() == pytest.approx(hi, abs=0.02)
    afig = arrhenius_figure([r.diffusion for r in runs], fit, title=title)
    assert afig.axes[0].get_title().startswith(title)
    assert "measured mean MD temperature" in afig.axes[0].get_xlabel()


# -- 4. the demo campaign --------------------------------------------------------------------
def test_4_demo_campaign_can_give_an_arrhenius_sigma():
    """`make demo`'s campaign: three temperatures for the best candidate's evidence (the
    screen's and the series', scored by one model), each run long enough for a diffusive fit
    (no too_short warning), all below the melting estimate (Li2S 1645 K - 50 K), a
    fast-conductor family; the demo run itself (~9 min) is checked on a clean clone, not in
    CI."""
    from screening.flows.checks import campaign_warnings
    from screening.generate.enumerate import Enumerator
    from screening.generate.parents import load_prototypes
    from screening.schemas.campaign import load_campaign

    spec = load_campaign(REPO / "workflows" / "demo.yaml")
    f = spec.funnel
    temps = {*f.md_temperatures_k, f.screen_temperature_k}
    assert len(temps) >= 3 and max(temps) <= 1645 - f.melting_margin_k
    assert f.md_steps * f.md_timestep_fs >= 4000  # 4 ps: fit window 1-2 ps
    assert f.screen_steps * f.md_timestep_fs >= 2000  # 2 ps: the shortest fit
    enum = Enumerator(spec, load_prototypes(spec))
    assert sorted(r.formula for r in enum) == ["Li10Ge(PS6)2", "Li10Si(PS6)2", "Li10Sn(PS6)2"]
    assert spec.references == "auto"  # E_hull against the shipped reference library
    assert campaign_warnings(spec, enum) == []  # no stand-in E_hull, no too-short MD
    make = (REPO / "Makefile").read_text()
    assert "screening rank lgps-demo" in make and "workflows/demo.yaml" in make


def test_every_shipped_campaign_validates_without_a_warning(tmp_path):
    """`campaign validate` on each workflows/*.yaml: exit 0, nothing on stderr (no
    too-short MD, no missing references, no excluded elements)."""
    import subprocess

    files = sorted((REPO / "workflows").glob("*.yaml"))
    assert len(files) >= 3
    for f in files:
        out = subprocess.run(
            [SCREENING, "campaign", "validate", str(f)],
            env=env_for(tmp_path / "data"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0 and out.stderr.strip() == "", (f.name, out.stderr)
        assert out.stdout.strip().endswith("prototype(s)"), out.stdout
