"""The generate fan-out at 10^4 shards under FireWorks (embedded LaunchPad): how long it
takes and the largest document it leaves (MongoDB refuses documents over 16 MB).

A LiFePO4-family campaign (20 Fe and 6 P options, mixing, compensation) is submitted; its
``shard_maps`` is set so the space splits into ~10^4 shards. Rockets run the generate
fan-out and the spread jobs it adds (FanOutMaker.max_jobs = 500: a tree), which end with one
Firework per shard; nothing is generated (the shard jobs are not run). Takes ~5 min on the
embedded store (FireWorks appending thousands of Fireworks to one workflow). Measured:
the BSON size of the largest document in each LaunchPad collection and in the job store
(``jobflow_outputs``).
Last line: JSON with ``shards``, ``fireworks``, ``fanout_s`` and ``largest_doc_mb`` by
collection.
"""

from __future__ import annotations

import math
import os
import tempfile
import time

import yaml
from _common import lifepo4_family, report

TARGET_SHARDS = 10_000


def main() -> None:
    tmp = tempfile.mkdtemp()
    os.environ["SCREENING_DATA_DIR"] = tmp
    os.environ["MONGOMOCK_SERVERSTORE_FILE"] = os.path.join(tmp, "db.json")
    doc = {**lifepo4_family("shard-fanout"), "funnel": {"chunk_size": 100}}
    from screening.generate.enumerate import Enumerator
    from screening.generate.parents import load_prototypes
    from screening.schemas.campaign import CampaignSpec

    spec = CampaignSpec.model_validate(doc)
    maps = Enumerator(spec, load_prototypes(spec)).n_maps(0)
    doc["funnel"]["shard_maps"] = max(1, math.ceil(maps / TARGET_SHARDS))
    path = os.path.join(tmp, "campaign.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump(doc, fh)

    import bson
    from fireworks.core.rocket_launcher import launch_rocket

    from screening.flows.submit import get_launchpad, submit_campaign
    from screening.store import ResultStore

    lp = get_launchpad()
    submit_campaign(path, launchpad=lp)
    os.chdir(tmp)
    t0 = time.perf_counter()
    launch_rocket(lp)  # the generate fan-out (highest-priority READY Firework with no parent)
    spreads = 0
    while True:  # the spread jobs it added (a tree: none adds more than max_jobs jobs)
        fw = lp.fireworks.find_one(
            {"name": {"$regex": r"^generate fan-out \d"}, "state": "READY"}, {"fw_id": 1}
        )
        if fw is None:
            break
        launch_rocket(lp, fw_id=fw["fw_id"])
        spreads += 1
    fanout_s = time.perf_counter() - t0
    fanout = lp.fireworks.find_one({"name": "generate fan-out"}, {"state": 1})
    shard_fws = lp.fireworks.count_documents({"name": {"$regex": r"^generate \d+/"}})
    largest = {}
    for name in ("workflows", "fireworks", "launches"):
        largest[name] = max(len(bson.encode(d)) for d in lp.db[name].find()) / 1e6
    outputs = ResultStore().db["jobflow_outputs"]
    largest["jobflow_outputs"] = max(len(bson.encode(d)) for d in outputs.find()) / 1e6
    shards = math.ceil(maps / doc["funnel"]["shard_maps"])
    report(
        {
            "bench": "shard_fanout",
            "substitution_maps": maps,
            "shard_maps": doc["funnel"]["shard_maps"],
            "shards": shards,
            "fanout_state": fanout["state"],
            "spread_jobs": spreads,
            "shard_fireworks": shard_fws,
            "fireworks": lp.fireworks.count_documents({}),
            "fanout_s": round(fanout_s, 1),
            "largest_doc_mb": {k: round(v, 3) for k, v in largest.items()},
        }
    )


if __name__ == "__main__":
    main()
