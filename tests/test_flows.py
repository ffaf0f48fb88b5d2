"""End-to-end funnel: FireWorks rapidfire on the embedded LaunchPad, jobflow, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from screening.cli.main import app

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture
def tiny_campaign(tmp_path):
    doc = {
        "name": "tiny",
        "mobile_ion": "Li",
        "prototypes": [{"path": str(REPO / "workflows" / "prototypes" / "Li3YCl6.cif")}],
        "substitutions": {"Y": ["Y", "Sc", "Zr"], "Cl": ["Cl"]},
        "compensation": {"enabled": True, "max_orderings": 1},
        "funnel": {
            "chunk_size": 2,
            "top_k_md": 2,
            "md_temperatures_k": [800, 1000],
            "md_steps": 20,
            "relax_max_steps": 20,
            "md_max_atoms": 20,
        },
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    from screening.store import backend

    monkeypatch.setenv("MONGOMOCK_SERVERSTORE_FILE", str(tmp_path / "db.json"))
    backend.forget_embedded()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _fw_tool(tool: str, *args: str, cwd: Path, env: dict) -> str:
    """Run a FireWorks command-line tool (``lpad``, ``rlaunch``) in its own process."""
    exe = Path(sys.executable).with_name(tool)
    out = subprocess.run(
        [str(exe), "-l", "my_launchpad.yaml", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_fireworks_rlaunch_end_to_end(tensornet, tiny_campaign, embedded):
    """Submit with our CLI; run with FireWorks' own ``rlaunch rapidfire`` and inspect with
    ``lpad`` in separate processes on the embedded file; then rank and status."""
    import json

    from screening.schemas.documents import CandidateDoc
    from screening.store import ResultStore, backend

    out = runner.invoke(app, ["campaign", "submit", str(tiny_campaign)])
    assert out.exit_code == 0 and "4 fireworks" in out.stdout, out.output
    out = runner.invoke(app, ["db", "launchpad-file", "my_launchpad.yaml"])
    assert out.exit_code == 0 and "MONGOMOCK_SERVERSTORE_FILE" in out.stdout
    ResultStore().flush()
    backend.forget_embedded()
    env = {**os.environ, "MONGOMOCK_SERVERSTORE_FILE": str(embedded / "db.json")}
    _fw_tool("rlaunch", "rapidfire", cwd=embedded, env=env)
    wf = json.loads(_fw_tool("lpad", "get_wflows", "-d", "more", cwd=embedded, env=env))
    assert wf["state"] == "COMPLETED"
    assert set(wf["states"].values()) == {"COMPLETED"}
    _fw_tool("lpad", "detect_lostruns", cwd=embedded, env=env)
    fws = json.loads(_fw_tool("lpad", "get_fws", "-d", "all", cwd=embedded, env=env))
    names = sorted(f["name"] for f in fws)
    # Fireworks are named by stage and chunk (two relax chunks of 2, one MD per candidate)
    assert {"relax 1/2", "relax 2/2", "md 1/2", "md 2/2", "relax fan-out", "md fan-out"} <= set(
        names
    ), names
    md = [f for f in fws if f["name"] in ("md 1/2", "md 2/2")]
    assert all(f["spec"]["_category"] == "gpu" for f in md)

    store = ResultStore()
    docs = list(store.db["candidates"].find())
    assert len(docs) == 3
    for d in docs:  # the stored shape is the documented one
        CandidateDoc.model_validate(d)
    assert {d["status"] for d in docs} <= {"completed", "failed"}
    assert all(d["stage"] == "done" for d in docs)
    # MD went to the best pre-MD candidates, the best one with the highest priority
    by_id = {d["_id"]: d for d in docs}
    prio = {
        f["spec"]["_priority"]: by_id[f["spec"]["_tasks"][0]["job"]["function_args"][1][0]]
        for f in md
    }
    ordered = [prio[p]["score_pre_md"] for p in sorted(prio, reverse=True)]
    assert ordered == sorted(ordered, reverse=True)
    for d in (d for d in docs if d.get("md")):
        assert {f"{d['_id']}/msd.png", f"{d['_id']}/arrhenius.png"} <= set(d["artifacts"])
        assert store.get_artifact(f"{d['_id']}/msd.png")[:8] == b"\x89PNG\r\n\x1a\n"
    out = runner.invoke(app, ["rank", "tiny", "--json"])
    scores = [r["score"] for r in json.loads(out.stdout)]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    status = json.loads(runner.invoke(app, ["campaign", "status", "tiny", "--json"]).stdout)
    assert status["counts"]["stored"] == 3 == status["counts"]["stage_done"]
    assert status["counts"]["passed_filters"] == 3
    assert status["counts"]["relaxed"] == 3 and status["counts"]["md_done"] == 2
    assert status["counts"]["failed"] == sum(status["failed_by_reason"].values()) == 0
    assert status["throughput"]["remaining"] == 0 and status["eta"]["eta_s"] == 0
    assert status["eta"]["complete"] and {r["stage"] for r in status["eta"]["stages"]} >= {"md"}
    _check_export_and_plot(embedded, docs)
    _check_rescore(tiny_campaign, store)


def _check_rescore(campaign: Path, store) -> None:
    """Same weights: nothing written. The tiny campaign's MD (20 steps) is too_short, no
    evidence: a different Ea prior moves every score by the same prior shift (the prior's
    effect on real evidence is checked in tests/test_evidence.py)."""
    import json

    def scores() -> dict:
        return {d["_id"]: d["score"] for d in store.db["candidates"].find({}, {"score": 1})}

    before = scores()
    out = runner.invoke(app, ["campaign", "rescore", str(campaign), "--json"])
    assert json.loads(out.stdout) == {"scored": 3, "changed": 0}, out.output
    spec = yaml.safe_load(campaign.read_text())
    spec["score"] = {"insufficient_penalty": 3.0}  # a key of the old score: dropped, no change
    campaign.write_text(yaml.safe_dump(spec))
    out = runner.invoke(app, ["campaign", "rescore", str(campaign), "--json"])
    assert json.loads(out.stdout)["changed"] == 0 and scores() == before
    spec["score"] = {"prior_ea_ev": 0.5}
    campaign.write_text(yaml.safe_dump(spec))
    out = runner.invoke(app, ["campaign", "rescore", str(campaign), "--json"])
    assert json.loads(out.stdout)["changed"] == 3
    shift = {k: v - before[k] for k, v in scores().items()}
    assert max(shift.values()) < 0 and max(shift.values()) - min(shift.values()) < 1e-9
    assert all(
        t["status"] == "too_short"
        for d in store.db["candidates"].find({"diffusion": {"$exists": True}})
        for t in d["diffusion"]["per_temperature"]
    )


def _check_export_and_plot(tmp: Path, docs: list[dict]) -> None:
    """`screening export` in three formats and `screening plot` on the finished campaign."""
    import csv
    import json

    from pymatgen.core import Structure

    res = runner.invoke(app, ["export", "tiny", "--top", "2", "--format", "cif", "--out", "x"])
    assert res.exit_code == 0, res.output
    cifs = sorted((tmp / "x").glob("*.cif"))
    assert [p.name[:4] for p in cifs] == ["001_", "002_"]
    by_id = {d["_id"]: d for d in docs}
    for p in cifs:
        d = by_id[p.stem.split("_")[-1]]
        assert Structure.from_file(p).composition.reduced_formula == d["formula"]
    runner.invoke(app, ["export", "tiny", "--top", "3", "--format", "json", "--out", "x"])
    exported = json.loads((tmp / "x" / "tiny_top3.json").read_text())
    assert [e["_id"] for e in exported] == [
        r["candidate_id"] for r in json.loads(runner.invoke(app, ["rank", "tiny", "--json"]).stdout)
    ]
    runner.invoke(app, ["export", "tiny", "--top", "3", "--format", "csv", "--out", "x"])
    rows = list(csv.DictReader((tmp / "x" / "tiny_top3.csv").open()))
    assert len(rows) == 3 and float(rows[0]["score"]) >= float(rows[-1]["score"])
    bad = runner.invoke(app, ["export", "tiny", "--format", "xyz", "--out", "x"])
    assert bad.exit_code != 0 and "--format" in bad.stderr
    bad = runner.invoke(app, ["export", "nope", "--out", "x"])
    assert bad.exit_code != 0 and "campaign 'nope'" in bad.stderr
    md_id = next(d["_id"] for d in docs if d.get("md"))
    res = runner.invoke(app, ["plot", md_id, "--out", "plots"])
    assert res.exit_code == 0, res.output
    for name in ("msd.png", "arrhenius.png"):
        assert (tmp / "plots" / name).read_bytes()[:4] == b"\x89PNG"
    bad = runner.invoke(app, ["plot", "0000", "--out", "plots"])
    assert bad.exit_code != 0 and "candidate '0000'" in bad.stderr


def test_bad_campaign_submits_nothing(tiny_campaign, embedded):
    bad = tiny_campaign.read_text() + "colour: red\n"
    tiny_campaign.write_text(bad)
    out = runner.invoke(app, ["campaign", "submit", str(tiny_campaign)])
    assert out.exit_code != 0 and "unknown key 'colour'" in out.stderr
    from screening.flows.submit import get_launchpad

    assert get_launchpad().workflows.count_documents({}) == 0


def test_killed_run_resumes_without_duplicates(tensornet, tiny_campaign, embedded):
    env = {**os.environ, "MONGOMOCK_SERVERSTORE_FILE": str(embedded / "db.json")}
    cmd = [sys.executable, "-m", "screening.cli.main", "campaign", "run", str(tiny_campaign)]
    proc = subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    from screening.store.embedded import read_collection

    db = embedded / "db.results.sqlite"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:  # wait for the relax checkpoint
        if db.exists() and any(d.get("relax") for d in read_collection(db, "candidates").values()):
            break
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    from screening.store import ResultStore, backend

    backend.forget_embedded()
    first = {d["_id"]: d["created_at"] for d in ResultStore().db["candidates"].find()}
    assert len(first) == 3
    backend.forget_embedded()
    subprocess.run(cmd, env=env, cwd=REPO, check=True, capture_output=True, timeout=600)
    backend.forget_embedded()
    docs = list(ResultStore().db["candidates"].find())
    assert len(docs) == 3
    assert all(d["stage"] == "done" for d in docs)
    assert {d["_id"]: d["created_at"] for d in docs} == first


def test_atomate2_relax_feeds_our_diffusion_maker(chgnet_model, embedded):
    """atomate2's ForceFieldRelaxMaker (CHGNet) -> our DiffusionMaker -> a user job that
    reads typed fields of our task document (provenance included), in one jobflow Flow."""
    from atomate2.forcefields.jobs import ForceFieldRelaxMaker
    from conftest import rocksalt
    from jobflow import Flow, job, run_locally

    from screening.flows.structure_makers import DiffusionMaker
    from screening.schemas.tasks import DiffusionTaskDocument

    @job
    def summarise(doc: DiffusionTaskDocument) -> dict:
        assert isinstance(doc, DiffusionTaskDocument)  # typed, not a plain dict
        return {
            "flags": doc.diffusion.arrhenius.flags,
            "n_temperatures": len(doc.diffusion.per_temperature),
            "weights_sha256": doc.provenance.model.weights_sha256,
            "a": doc.structure["lattice"]["a"],
            "mobile_ion": doc.mobile_ion,
        }

    relax = ForceFieldRelaxMaker(force_field_name="CHGNet", steps=20).make(rocksalt(5.3))
    diff = DiffusionMaker(
        temperatures_k=[800, 1000], steps=10, equilibration_steps=0, model="chgnet"
    ).make(relax.output.structure)
    user = summarise(diff.output)
    responses = run_locally(Flow([relax, diff, user]), ensure_success=True, log=False)
    out = responses[user.uuid][1].output
    relaxed_a = responses[relax.uuid][1].output.structure.lattice.a
    assert out["a"] == pytest.approx(relaxed_a) and relaxed_a < 5.3  # relaxed cell reached MD
    assert out["n_temperatures"] == 2 and out["mobile_ion"] == "Li"  # inferred, not given
    assert "no_sampled_temperatures" in out["flags"]  # 10 steps: too short to sample
    assert out["weights_sha256"] == chgnet_model.weights_sha256  # provenance travelled


def test_maker_configuration_fails_early():
    from screening.flows.makers import FanOutMaker
    from screening.flows.structure_makers import DiffusionMaker

    with pytest.raises(ValueError, match="stage"):
        FanOutMaker(stage="nonsense")
    with pytest.raises(ValueError, match="temperatures_k"):
        DiffusionMaker(temperatures_k=[-5])


def test_failed_candidate_does_not_stop_its_chunk(tensornet, tiny_campaign, embedded, monkeypatch):
    """A candidate that breaks the relaxation (fake error on Zr only) fails with its reason;
    the rest of its chunk is relaxed by the real model. An MD error is recorded likewise."""
    from screening.flows import md_stage, stages
    from screening.flows.select import select_for_md
    from screening.schemas.campaign import load_campaign
    from screening.store import ResultStore
    from screening.store.ranking import campaign_status

    spec = load_campaign(tiny_campaign)
    store = ResultStore()
    stages.generate_stage(spec, store)
    ids = store.candidates("tiny").ids_at(stages.GENERATED)
    real = stages.relax_batch

    def breaks_on_zr(structs, model, **kw):
        if any("Zr" in s.composition for s in structs):
            raise RuntimeError("boom on Zr")
        return real(structs, model, **kw)

    monkeypatch.setattr(stages, "relax_batch", breaks_on_zr)
    out = stages.relax_chunk(ids, store, tensornet, spec)
    assert out["relaxed"] == 2 and out["failed"] == 1
    docs = {d["formula"]: d for d in store.db["candidates"].find()}
    zr = next(d for f, d in docs.items() if "Zr" in f)
    assert zr["status"] == "failed" and zr["errors"] == ["relax: RuntimeError: boom on Zr"]
    assert all(
        "relax" in d and d["relax"]["energy_per_atom_ev"] < 0 for d in docs.values() if d is not zr
    )

    chosen = select_for_md(store, spec)
    assert zr["_id"] not in chosen and len(chosen) == 2

    def md_breaks(*a, **kw):
        raise ValueError("no thermostat")

    monkeypatch.setattr(md_stage, "diffusion_series", md_breaks)
    assert md_stage.md_candidate(chosen[0], store, tensornet, spec)["failed"]
    doc = store.db["candidates"].find_one({"_id": chosen[0]})
    assert doc["status"] == "failed" and doc["errors"] == ["md: ValueError: no thermostat"]
    assert doc["score"] == doc["score_pre_md"]
    assert campaign_status(store, "tiny")["failed_by_reason"] == {"relax": 1, "md": 1}


def test_stability_and_rank_makers(tensornet, embedded):
    """StabilityChunkMaker and RankMaker as jobflow jobs on relaxed candidates; ids are known
    before anything runs because candidate_id is deterministic."""
    from jobflow import Flow, run_locally

    from screening.flows import stages
    from screening.flows.makers import RankMaker, StabilityChunkMaker
    from screening.flows.select import select_for_md
    from screening.generate.enumerate import Enumerator
    from screening.generate.parents import load_prototypes
    from screening.schemas.campaign import load_campaign
    from screening.store import ResultStore

    path = embedded / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "stab",
                "mobile_ion": "Li",
                "prototypes": [{"path": str(REPO / "workflows" / "prototypes" / "Li3YCl6.cif")}],
                "substitutions": {"Cl": ["Cl", "Br"]},
                "references": str(REPO / "workflows" / "references" / "li-halides"),
                "funnel": {"relax_max_steps": 60},
            }
        )
    )
    spec = load_campaign(path)
    ids = sorted(r.candidate_id for r in Enumerator(spec, load_prototypes(spec)))
    store = ResultStore()
    stages.generate_stage(spec, store)
    stages.relax_chunk(ids, store, tensornet, spec)
    stab = StabilityChunkMaker().make(str(path), ids)
    ranked = RankMaker(top=5).make(str(path), stab.output)
    out = run_locally(Flow([stab, ranked]), ensure_success=True, log=False)
    assert out[stab.uuid][1].output == {"analysed": 2}
    docs = {d["formula"]: d for d in store.db["candidates"].find()}
    assert set(docs) == {"Li3YCl6", "Li3YBr6"}
    for f, d in docs.items():
        st = d["stability"]
        print(f, st["e_hull_ev_per_atom"], st["decomposition"])
        assert 0.0 <= st["e_hull_ev_per_atom"] < 0.2
        assert set(st["decomposition"]) <= {"LiCl", "YCl3", "LiBr", "YBr3", f}
    select_for_md(
        store, spec.model_copy(update={"funnel": spec.funnel.model_copy(update={"top_k_md": 0})})
    )
    summary = run_locally(RankMaker(top=5).make(str(path)), ensure_success=True, log=False)
    top = next(iter(summary.values()))[1].output["top"]
    assert len(top) == 2 and top[0]["score"] >= top[1]["score"]
    with pytest.raises(ValueError, match="top"):
        RankMaker(top=0)


def test_campaign_launch_runs_submitted_workflow_in_process(tensornet, tiny_campaign, embedded):
    """`campaign submit` then `campaign launch` (rapidfire in this process) on one file."""
    import json

    spec = yaml.safe_load(tiny_campaign.read_text())
    spec["substitutions"] = {"Y": ["Y"], "Cl": ["Cl"]}
    spec["funnel"]["top_k_md"] = 1
    tiny_campaign.write_text(yaml.safe_dump(spec))
    assert runner.invoke(app, ["campaign", "submit", str(tiny_campaign)]).exit_code == 0
    out = runner.invoke(app, ["campaign", "launch"])
    assert out.exit_code == 0, out.output
    from screening.flows.submit import get_launchpad

    lp = get_launchpad()
    assert {lp.get_fw_by_id(i).state for i in lp.get_fw_ids()} == {"COMPLETED"}
    rows = json.loads(runner.invoke(app, ["rank", "tiny", "--json"]).stdout)
    # MD ran and was recorded (20 steps: too short to give D or a bound)
    assert [r["formula"] for r in rows] == ["Li3YCl6"] and rows[0]["sampling"] == "too_short"
