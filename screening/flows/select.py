"""Selection between tiers: which relaxed candidates deserve MD (or the conduction screen).

Bounded memory: candidates are read a page at a time and the choice is a top-K query, so a
selection over 10^6 relaxed candidates holds one page and K ids, never the campaign.
"""

from __future__ import annotations

import math

from screening.analysis.collective import per_cm3
from screening.analysis.score import evidence_fields
from screening.schemas.campaign import CampaignSpec
from screening.schemas.documents import CandidateStage
from screening.store.results import ResultStore

RELAXED = CandidateStage.relaxed.value
SELECTED = CandidateStage.selected_for_md.value
DONE = CandidateStage.done.value
_FIELDS = (
    "formula",
    "status",
    "mobile_ion",
    "relax.energy_per_atom_ev",
    "relax.structure.lattice.volume",
    "relax.structure.sites",
    "stability.e_hull_ev_per_atom",
)


def select_for_md(
    store: ResultStore, spec: CampaignSpec, *, limit: int | None = None, stage: str = SELECTED
) -> list[str]:
    """Rank relaxed candidates by their pre-MD score and send the top K to MD (or, with
    ``limit`` and ``stage``, the top ``limit`` to the conduction screen).

    The pre-MD score is the evidence model's score with no MD (the prior's quantile, which
    grows with the carrier density n of sigma = n q^2 D / kT, less the hull penalty); it is
    also each candidate's ``score`` until MD says more. Without reference phases, the energy
    per atom above the lowest relaxed candidate of the same formula stands in for E_hull
    (polymorph ordering). Ties are broken by the mobile-ion density (``mobile_per_cm3``),
    then by id. Candidates above the E_hull cut, beyond K, or failed are finished with their
    pre-MD score. Returns the chosen ids, best first (the order MD work and FireWorks
    priorities follow).

    Three streamed passes: the lowest energy per formula; each candidate's E_hull, pre-MD
    score and density (written; failed and above-cut candidates finish here); the top K of
    the rest by those stored fields, then the others finish.
    """
    cands = store.candidates(spec.name)
    lowest = cands.values_by("formula", "relax.energy_per_atom_ev", "min", query={"stage": RELAXED})
    weights, cut = spec.score, spec.funnel.e_hull_max_ev_per_atom
    for page in cands.pages({"stage": RELAXED}, fields=_FIELDS, copy=False):  # read-only
        updates, finished = {}, {}
        for d in page:
            hull = _e_hull(d, lowest)
            fields = {
                "score_e_hull_ev_per_atom": hull,
                "mobile_per_cm3": mobile_density(d, d.get("mobile_ion", spec.mobile_ion)),
            }
            scored = evidence_fields({**d, **fields}, weights)
            fields.update(scored, score_pre_md=scored["score"])
            if d.get("status") == "failed" or hull is None or hull > cut:
                failed = d.get("status") == "failed"
                finished[d["_id"]] = {**fields, "status": "failed" if failed else "completed"}
            else:
                updates[d["_id"]] = fields
        cands.record(updates)
        cands.record(finished, stage=DONE)
        store.flush()  # one checkpoint per page: pending changes stay bounded too
    k = spec.funnel.top_k_md if limit is None else limit
    chosen = cands.top_k({"stage": RELAXED}, [("score_pre_md", -1), ("mobile_per_cm3", -1)], k)
    cands.record({i: {} for i in chosen}, stage=stage)
    for page in cands.pages({"stage": RELAXED}, fields=(), copy=False):
        cands.record({d["_id"]: {"status": "completed"} for d in page}, stage=DONE)
        store.flush()
    return chosen


def _e_hull(doc: dict, lowest: dict[str, float]) -> float | None:
    if doc.get("stability"):
        return doc["stability"]["e_hull_ev_per_atom"]
    if doc.get("relax"):
        return doc["relax"]["energy_per_atom_ev"] - lowest[doc["formula"]]
    return None


def mobile_density(doc: dict, mobile_ion: str) -> float:
    """Mobile ions per cm^3 of the relaxed (else the initial) cell of a candidate document;
    0 when it has no structure (read from the stored dict, no Structure is built)."""
    s = (doc.get("relax") or {}).get("structure") or doc.get("structure")
    if not s:
        return 0.0
    n = sum(
        sp["occu"] for site in s["sites"] for sp in site["species"] if sp["element"] == mobile_ion
    )
    return per_cm3(n, s["lattice"]["volume"])


def best_first(store: ResultStore, campaign: str, stage: str, keys: tuple[str, ...]) -> list[str]:
    """Ids at ``stage`` (a tier's input, at most its K), best first by the first of
    ``keys`` each candidate has, then by id."""
    cands = store.candidates(campaign)
    docs = cands.load(cands.ids_at(stage), fields=keys).values()

    def key(d: dict) -> tuple:
        s = next((d[k] for k in keys if d.get(k) is not None), -math.inf)
        return (-s, d["_id"])

    return [d["_id"] for d in sorted(docs, key=key)]


def ids_selected(store: ResultStore, spec: CampaignSpec) -> list[str]:
    """Candidates waiting for MD, best first: by screen score when they were screened,
    else by pre-MD score."""
    return best_first(store, spec.name, SELECTED, ("score_screen", "score_pre_md"))
