"""The funnel declared once: store/ alone touches collections; a toy stage added to a copy
of the funnel runs under both runners; selection memory does not grow with the campaign."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest
import yaml
from conftest import REPO

from screening.flows.funnel import FUNNEL, Stage

PACKAGE = REPO / "screening"
FORBIDDEN = re.compile(
    r"\.db\[|get_collection\(|^\s*(?:import|from)\s+(?:pymongo|mongomock)", re.MULTILINE
)


def test_only_store_touches_collections():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(PACKAGE / "store"):
            continue
        for m in FORBIDDEN.finditer(path.read_text()):
            line = path.read_text()[: m.start()].count("\n") + 1
            offenders.append(f"{path.relative_to(REPO)}:{line}: {m.group(0).strip()}")
    assert not offenders, "\n".join(offenders)
    # the check itself finds what it bans
    assert FORBIDDEN.search('x = store.db["candidates"]\n')
    assert FORBIDDEN.search("    import mongomock\n")


def tag_chunk(ids, store, model, spec, **_):
    """The toy stage: one pure function (no model) that records a field on its chunk."""
    store.candidates(spec.name).record({i: {"toy_tag": f"chunk of {len(ids)}"} for i in ids})
    return {"tagged": len(ids)}


TOY_FUNNEL = (
    *FUNNEL[:2],
    Stage(
        name="tag",
        run=tag_chunk,
        takes="relaxed",
        gives="relaxed",
        needs_model=False,
        chunk_size=lambda spec: 1,
    ),
    *FUNNEL[2:],
)


def toy_campaign(tmp_path, name: str):
    doc = {
        "name": name,
        "mobile_ion": "Li",
        "prototypes": [{"path": str(REPO / "workflows" / "prototypes" / "Li3YCl6.cif")}],
        "substitutions": {"Y": ["Y", "Sc"], "Cl": ["Cl"]},
        "compensation": {"enabled": True, "max_orderings": 1},
        "funnel": {"chunk_size": 2, "top_k_md": 0, "relax_max_steps": 5},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_toy_stage_runs_under_both_runners(tmp_path, tensornet):
    from jobflow import run_locally

    from screening.flows.local import run_campaign
    from screening.flows.makers import ScreeningFlowMaker
    from screening.schemas.campaign import load_campaign
    from screening.store import ResultStore
    from screening.store.jobstore import screening_job_store

    store = ResultStore()
    local = load_campaign(toy_campaign(tmp_path, "toy-local"))
    summary = run_campaign(local, store, tensornet, funnel=TOY_FUNNEL)
    assert list(summary["timings_s"]) == ["generate", "relax", "tag", "md"]

    flow = ScreeningFlowMaker(funnel="test_funnel:TOY_FUNNEL").make(
        str(toy_campaign(tmp_path, "toy-jobflow"))
    )
    assert [j.name for j in flow.jobs] == [
        "generate fan-out",
        "relax fan-out",
        "tag fan-out",
        "md fan-out",
        "rank",
    ]
    out = run_locally(flow, store=screening_job_store(), ensure_success=True, log=False)
    chunk_outputs = [r[1].output for r in out.values() if r[1].output == {"tagged": 1}]
    assert len(chunk_outputs) == 2  # two jobs "tag 1/2", "tag 2/2" of one candidate each
    for name in ("toy-local", "toy-jobflow"):
        docs = next(iter(store.candidates(name).pages()))
        assert len(docs) == 2 and all(d["toy_tag"] == "chunk of 1" for d in docs), name
        assert all(d["stage"] == "done" and d.get("relax") for d in docs)
    from screening.flows.makers import FanOutMaker

    with pytest.raises(ValueError, match="stage must be one of 'generate', 'relax', 'tag'"):
        FanOutMaker(stage="nonsense", funnel="test_funnel:TOY_FUNNEL")


SELECTION = textwrap.dedent(
    """
    import json, random, sys
    from screening.flows.select import select_for_md
    from screening.schemas.campaign import CampaignSpec
    from screening.store import ResultStore

    n = int(sys.argv[1])
    rng = random.Random(0)
    store = ResultStore()
    site = {"species": [{"element": "Li", "occu": 1}], "abc": [0, 0, 0]}
    # the fields the selection sets, present already: on the embedded store the database
    # lives in this process, and a document that gains fields grows it (that is stored
    # data, not the selection's working memory, and on a server it is not in this process)
    # (one float object each, as the selection writes them)
    def placeholders(i):
        pre = -1e-9 * i
        return {"score_pre_md": pre, "score": pre, "score_e_hull_ev_per_atom": 1e-9 * i,
                "mobile_per_cm3": 2e-9 * i}
    store.upsert("candidates", (
        (f"{i:010d}", {}, {
            "campaign": "mem", "stage": "relaxed", "status": "running",
            "formula": f"Li{i % 97 + 1}Cl", "mobile_ion": "Li", **placeholders(i),
            "relax": {"energy_per_atom_ev": -3 - rng.random(),
                      "structure": {"lattice": {"volume": 500.0}, "sites": [site] * 8}},
        }) for i in range(n)))
    store.flush()  # stored: the selection starts from a checkpointed database
    spec = CampaignSpec(name="mem", mobile_ion="Li",
                        prototypes=[{"path": sys.argv[2]}], substitutions={"Y": ["Y"]},
                        funnel={"top_k_md": 20, "e_hull_max_ev_per_atom": 0.5})

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1])

    open("/proc/self/clear_refs", "w").write("5")  # VmHWM := current RSS
    before = status("VmRSS:")
    chosen = select_for_md(store, spec)
    peak = status("VmHWM:") - before
    counts = store.candidates("mem").counts_by("stage")
    print(json.dumps({"peak_kb": peak, "chosen": len(chosen), "counts": counts}))
    """
)


def _selection_peak(tmp_path, n: int) -> dict:
    env = {
        **os.environ,
        "SCREENING_DATA_DIR": str(tmp_path / f"d{n}"),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    env.pop("MONGOMOCK_SERVERSTORE_FILE", None)
    proto = str(REPO / "workflows" / "prototypes" / "Li3YCl6.cif")
    out = subprocess.run(
        [sys.executable, "-c", SELECTION, str(n), proto],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    return json.loads(out.stdout.splitlines()[-1])


def test_selection_memory_does_not_grow_with_the_campaign(tmp_path):
    """Peak memory added by selecting the top 20 for MD out of 10^4 vs 10^5 stored relaxed
    candidates (documents written directly, no MLFF; VmHWM reset just before; the fields the
    selection writes exist already, so the in-process embedded database does not grow)."""
    small, large = _selection_peak(tmp_path, 10_000), _selection_peak(tmp_path, 100_000)
    print(small, large)
    assert small["chosen"] == large["chosen"] == 20
    assert large["counts"] == {"selected_for_md": 20, "done": 100_000 - 20}
    # within 20 % of the small run, with a 4 MB floor below which peaks are allocator noise
    assert large["peak_kb"] <= 1.2 * max(small["peak_kb"], 4096)


def test_large_fan_out_is_a_tree_of_small_jobs(tmp_path, tensornet):
    """max_jobs=2: 4 shards and 4 relax chunks each become 2 spread jobs of 2 chunk jobs
    (FireWorks stores every job a launch adds in that launch's document, so no launch may
    add the whole campaign); every candidate is generated and relaxed once (jobflow)."""
    from jobflow import run_locally

    from screening.flows.makers import ScreeningFlowMaker
    from screening.store import ResultStore
    from screening.store.jobstore import screening_job_store

    doc = yaml.safe_load(toy_campaign(tmp_path, "tree").read_text())
    doc["substitutions"] = {"Y": ["Y", "Sc", "In", "Zr"], "Cl": ["Cl"]}
    doc["compensation"] = {"enabled": True, "max_orderings": 1}
    doc["funnel"].update(shard_maps=1, chunk_size=1)
    path = tmp_path / "tree.yaml"
    path.write_text(yaml.safe_dump(doc))
    flow = ScreeningFlowMaker(max_jobs=2).make(str(path))
    out = run_locally(flow, store=screening_job_store(), ensure_success=True, log=False)
    store = ResultStore()
    docs = next(iter(store.candidates("tree").pages()))
    assert len(docs) == 4 and all(d.get("relax") for d in docs)
    shards = list(store.db["shards"].find({"campaign": "tree"}))
    assert len(shards) == 4 and all(s["stored"] == 1 for s in shards)
    summaries = [r[1].output for r in out.values()]
    spreads = [s for s in summaries if isinstance(s, dict) and set(s) == {"chunks", "candidates"}]
    # generate fan-out (4 chunks) + 2 spreads, relax fan-out (4) + 2 spreads, md (0)
    assert sorted(s["chunks"] for s in spreads) == [0, 2, 2, 2, 2, 4, 4]
