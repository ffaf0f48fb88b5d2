"""Candidates/s for enumerate + charge filter + id on one core, vs a per-candidate baseline.

Baseline: the same candidates, each checked with Composition.oxi_state_guesses() (what a
naive pipeline does per candidate) plus the same id hash.
Last line: {"bench": "generate_throughput", "ours_per_s": ..., "baseline_per_s": ..., "ratio": ...}
"""

from __future__ import annotations

import itertools
import time

from _common import REPO, report


def main() -> None:
    from pymatgen.core import Composition

    from screening.generate.enumerate import Enumerator, candidate_id
    from screening.generate.parents import load_prototypes
    from screening.schemas.campaign import load_campaign

    spec = load_campaign(REPO / "workflows" / "large-space.yaml")
    protos = load_prototypes(spec)
    n = 500_000
    enum = Enumerator(spec, protos)
    t0 = time.perf_counter()
    got = sum(1 for _ in itertools.islice(enum, n))
    ours = time.perf_counter() - t0
    considered = enum.enumerated  # includes candidates rejected on the way

    refs = list(itertools.islice(Enumerator(spec, protos), 0, 400_000, 200))[:300]
    t0 = time.perf_counter()
    for r in refs:
        comp = Composition(r.formula)
        comp.oxi_state_guesses(max_sites=-50)
        candidate_id(protos[r.prototype].fingerprint, r.substitution, r.ordering)
    base = (time.perf_counter() - t0) / len(refs)
    ours_rate = considered / ours
    report(
        {
            "bench": "generate_throughput",
            "candidates_yielded": got,
            "candidates_considered": considered,
            "ours_per_s": ours_rate,
            "ours_yielded_per_s": got / ours,
            "baseline_per_s": 1.0 / base,
            "ratio": ours_rate * base,
        }
    )


if __name__ == "__main__":
    main()
