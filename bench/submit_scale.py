"""Submission of a ~1e5-candidate campaign to the embedded LaunchPad.

The funnel fans out dynamically: at submission the workflow has 4 Fireworks (generate,
relax fan-out, MD fan-out, rank); the relax fan-out later adds one Firework per chunk and
the MD fan-out one per selected candidate (top_k_md), so the total is
ceil(candidates / chunk_size) + 4 + top_k_md. That total is *computed* here from the
counted space (running the generate stage on 6e5 candidates takes longer than a bench may);
the fan-out itself is exercised by the end-to-end FireWorks test.
Last line: {"bench": "submit_scale", "candidates": ..., "fireworks": ..., "seconds": ...}
"""

from __future__ import annotations

import math
import os
import tempfile
import time

import yaml
from _common import report


def main() -> None:
    tmp = tempfile.mkdtemp()
    os.environ["SCREENING_DATA_DIR"] = tmp
    os.environ["MONGOMOCK_SERVERSTORE_FILE"] = os.path.join(tmp, "db.json")
    doc = {
        "name": "submit-scale",
        "mobile_ion": "Li",
        "prototypes": [{"pymatgen": "LiFePO4"}],
        "substitutions": {
            "Fe": [
                "Fe",
                "Mn",
                "Co",
                "Ni",
                "Mg",
                "Zn",
                "Cu",
                "Ca",
                "Sr",
                "Ti",
                "V",
                "Cr",
                "Zr",
                "Sn",
                "Ge",
                "Si",
                "Al",
                "Ga",
                "Y",
                "Sc",
            ],
            "P": ["P", "V", "Si", "Ge", "S", "Mo"],
        },
        "mixing": {"max_species_per_site": 2, "fractions": [0.25, 0.5], "max_orderings": 6},
        "compensation": {"enabled": True, "max_orderings": 4},
        "funnel": {"chunk_size": 100},
    }
    path = os.path.join(tmp, "campaign.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump(doc, fh)
    from screening.flows.submit import get_launchpad, submit_campaign
    from screening.generate.enumerate import Enumerator
    from screening.generate.parents import load_prototypes
    from screening.schemas.campaign import load_campaign

    spec = load_campaign(path)
    counts = Enumerator(spec, load_prototypes(spec)).count()
    lp = get_launchpad()
    t0 = time.perf_counter()
    out = submit_campaign(path, launchpad=lp)
    seconds = time.perf_counter() - t0
    chunks = math.ceil(counts["passed"] / spec.funnel.chunk_size)
    report(
        {
            "bench": "submit_scale",
            "candidates": counts["passed"],
            "enumerated": counts["enumerated"],
            "fireworks_at_submit": out["fireworks"],
            "fireworks": chunks + out["fireworks"] + spec.funnel.top_k_md,
            "seconds": seconds,
        }
    )


if __name__ == "__main__":
    main()
