"""Structural duplicates across prototypes (the last, most expensive filter).

Within one prototype two candidates are different exactly when their ids differ. Two
*prototypes* can however produce the same crystal (the same parent given in two settings, or
two parents related by a substitution), so candidates of equal reduced formula coming from
different prototypes are compared with pymatgen's ``StructureMatcher``. Only survivors of the
composition filters reach this point, and only formula buckets shared by several prototypes are
compared, so the cost is a small fraction of the enumeration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure


@dataclass(frozen=True)
class BucketMember:
    """One candidate of a formula bucket.

    Attributes
    ----------
    candidate_id : str
        Its id (the lowest id of a duplicate group is kept).
    prototype : str
        Prototype label.
    structure : Structure
        Unrelaxed candidate structure (volume-scaled).
    """

    candidate_id: str
    prototype: str
    structure: Structure


def cross_prototype_duplicates(
    members: Sequence[BucketMember],
    *,
    ltol: float = 0.2,
    stol: float = 0.3,
    angle_tol: float = 5.0,
) -> dict[str, str]:
    """Duplicates within one formula bucket, compared only across prototypes.

    Parameters
    ----------
    members : sequence of BucketMember
        Candidates sharing one reduced formula.
    ltol, stol, angle_tol : float
        ``StructureMatcher`` tolerances (fractional length, site, degrees); pymatgen's
        defaults, with ``scale=True`` so a volume guess does not hide a duplicate.

    Returns
    -------
    dict
        duplicate candidate_id -> kept candidate_id. Deterministic: members are visited in
        id order and the first of each group is kept.
    """
    matcher = StructureMatcher(
        ltol=ltol, stol=stol, angle_tol=angle_tol, primitive_cell=True, scale=True
    )
    kept: list[BucketMember] = []
    dup: dict[str, str] = {}
    for m in sorted(members, key=lambda m: m.candidate_id):
        twin = next(
            (
                k
                for k in kept
                if k.prototype != m.prototype and matcher.fit(k.structure, m.structure)
            ),
            None,
        )
        if twin is None:
            kept.append(m)
        else:
            dup[m.candidate_id] = twin.candidate_id
    return dup
