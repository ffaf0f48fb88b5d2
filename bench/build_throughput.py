"""Candidate building: arrays (species + fractional coordinates + lattice from the parent,
``screening.generate.arrays``) vs pymatgen (``build_structure``), same candidates, same run,
one core.

Campaign: LiFePO4 with Fe -> 20 cations and P -> 6, mixing (1/4, 1/2; 6 orderings each) and
Li-vacancy compensation (4 orderings): the first 20,000 surviving candidates. The orderings
are ranked before timing (they are cached per charge pattern in both paths). Reported per
core: arrays only, pymatgen only, and enumeration + arrays (what a shard does before its
model call). Checked: both paths give the same species, coordinates and lattice.
Last line: JSON with ``arrays_per_s``, ``pymatgen_per_s``, ``ratio`` and
``enumerate_and_arrays_per_s``.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from _common import lifepo4_family, report

N = 20_000
N_PYMATGEN = 2_000


def main() -> None:
    from screening.generate.arrays import ArrayBuilder, to_structure
    from screening.generate.enumerate import Enumerator, build_structure
    from screening.generate.parents import load_prototypes
    from screening.schemas.campaign import CampaignSpec

    spec = CampaignSpec.model_validate(lifepo4_family("build-bench"))
    protos = load_prototypes(spec)
    enum = Enumerator(spec, protos)
    refs = list(itertools.islice(enum, N))  # ranks the orderings (cached for both paths)
    builder = ArrayBuilder(enum)

    t0 = time.perf_counter()
    cells = [builder.build(r) for r in refs]
    arrays_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    structures = [build_structure(r, enum) for r in refs[:N_PYMATGEN]]
    pymatgen_s = time.perf_counter() - t0
    for c, s in zip(cells, structures, strict=False):
        assert tuple(x.symbol for x in s.species) == c.species
        assert np.allclose(s.frac_coords, c.frac) and np.allclose(s.lattice.matrix, c.lattice)
    fresh = Enumerator(spec, protos)
    fresh._orderings = enum._orderings  # same cached rankings: time enumeration itself
    fresh_builder = ArrayBuilder(fresh)
    t0 = time.perf_counter()
    n = sum(1 for r in itertools.islice(fresh, N) if fresh_builder.build(r) is not None)
    both_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    stored = [to_structure(c) for c in cells[:N_PYMATGEN]]
    to_structure_s = time.perf_counter() - t0
    assert len(stored) == N_PYMATGEN
    report(
        {
            "bench": "build_throughput",
            "candidates": len(refs),
            "arrays_per_s": round(len(cells) / arrays_s),
            "pymatgen_per_s": round(N_PYMATGEN / pymatgen_s),
            "ratio": round((len(cells) / arrays_s) / (N_PYMATGEN / pymatgen_s), 1),
            "enumerate_and_arrays_per_s": round(n / both_s),
            "to_structure_per_s": round(N_PYMATGEN / to_structure_s),
            "cores": 1,
        }
    )


if __name__ == "__main__":
    main()
