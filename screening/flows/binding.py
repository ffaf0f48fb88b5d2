"""A campaign is bound to its spec and its model.

The first run (or submit) stores the validated spec and the model's identity (registry
name and weights SHA-256) in the campaign's document. Every later run compares:

* a different model (name or weights) is refused: two models' numbers never mix in one
  ranking;
* safe edits are applied and said: ``funnel.top_k_md`` and ``funnel.screen_top_n`` (raising
  them sends the next-best candidates on; lowering undoes nothing already run),
  ``funnel.chunk_size``, ``funnel.md_seed`` (later runs only) and the ``score`` section (the
  stored scores are recomputed, no MLFF work);
* any other difference is refused in one line naming the fields, with how to start a new
  campaign instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from screening.schemas.campaign import CampaignSpec
from screening.schemas.documents import CandidateStage
from screening.schemas.errors import ScreeningInputError
from screening.store.results import ResultStore

SAFE = ("funnel.top_k_md", "funnel.screen_top_n", "funnel.chunk_size", "funnel.md_seed")
"""Fields a rerun may change in place (plus everything under ``score.``)."""
DONE = CandidateStage.done.value
SCREENED = CandidateStage.screened.value


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def spec_changes(stored: Mapping[str, Any], spec: CampaignSpec) -> dict[str, tuple]:
    """Dotted field -> (stored value, new value), for every field that differs."""
    old, new = _flat(stored), _flat(spec.model_dump(mode="json"))
    return {
        k: (old.get(k), new.get(k))
        for k in sorted(old.keys() | new.keys())
        if old.get(k) != new.get(k)
    }


def _is_safe(field: str) -> bool:
    return field in SAFE or field.startswith("score.")


def bind_campaign(
    store: ResultStore, spec: CampaignSpec, model: Mapping[str, str] | None
) -> list[str]:
    """Check ``spec`` and ``model`` (``{"name": ..., "weights_sha256": ...}``; None: not
    known here, e.g. at submit) against what the campaign was run with; store them on first
    use; apply safe edits. Returns one line per change applied.

    Raises
    ------
    ScreeningInputError
        A different model, or a change to a field that cannot change in place.
    """
    camp = store.campaign(spec.name)
    stored_model = camp.get("model")
    if model is not None and stored_model:
        _check_model(spec.name, stored_model, model)
    if "spec" not in camp:
        fields = {"model": dict(model)} if model and "weights_sha256" in model else {}
        store.save_campaign(spec.name, spec=spec.model_dump(mode="json"), **fields)
        return []
    changes = spec_changes(camp["spec"], spec)
    if bad := [f for f in changes if not _is_safe(f)]:
        shown = ", ".join(bad[:6]) + (f" (+{len(bad) - 6} more)" if len(bad) > 6 else "")
        raise ScreeningInputError(
            f"campaign {spec.name!r} was run with a different spec: {shown} cannot change in "
            "place; give the campaign a new name (name: ...) to start a new one"
        )
    fields: dict[str, Any] = {}
    if model is not None and "weights_sha256" in model and not stored_model:
        fields["model"] = dict(model)  # a campaign stored before models were bound
    if not changes and not fields:
        return []
    store.save_campaign(spec.name, spec=spec.model_dump(mode="json"), replace_spec=True, **fields)
    lines = [f"{f}: {a!r} -> {b!r}" for f, (a, b) in changes.items()]
    lines += _extend(store, spec, changes)
    if any(f.startswith("score.") for f in changes):
        from screening.flows.rescore import rescore_campaign

        out = rescore_campaign(store, spec)
        lines.append(f"score section changed: {out['changed']} of {out['scored']} rescored")
    return lines


def _check_model(name: str, stored: Mapping[str, str], model: Mapping[str, str]) -> None:
    same_name = stored.get("name") == model.get("name")
    weights_known = "weights_sha256" in model  # not at submit: no weights are loaded there
    if same_name and (not weights_known or stored.get("weights_sha256") == model["weights_sha256"]):
        return
    was = f"{stored.get('name')} (weights {str(stored.get('weights_sha256'))[:12]})"
    now = f"{model.get('name')} (weights {str(model.get('weights_sha256'))[:12]})"
    what = "model" if not same_name else "model weights"
    raise ScreeningInputError(
        f"campaign {name!r} was run with {was}; this run's {what} is {now}: two models "
        "never mix in one ranking; use the campaign's model, or a new campaign name"
    )


def _extend(store: ResultStore, spec: CampaignSpec, changes: Mapping[str, tuple]) -> list[str]:
    """Raised ``top_k_md`` / ``screen_top_n``: send the next-best finished candidates on."""
    cands = store.candidates(spec.name)
    f = spec.funnel
    lines = []
    cut = {"score_e_hull_ev_per_atom": {"$lte": f.e_hull_max_ev_per_atom}}
    old, new = changes.get("funnel.screen_top_n", (0, 0))
    if f.screen_temperature_k and old is not None and new > old:
        query = {"stage": DONE, "status": "completed", "screen": {"$exists": False}, **cut}
        more = cands.top_k(query, [("score", -1)], new - old)
        cands.record(
            {i: {"status": "running"} for i in more}, stage=CandidateStage.selected_for_screen.value
        )
        lines.append(f"{len(more)} more candidate(s) go to the screen")
    old, new = changes.get("funnel.top_k_md", (0, 0))
    if old is not None and new > old:
        if f.screen_temperature_k:
            query = {
                "stage": SCREENED,
                "status": "completed",
                "screen.framework_melting": False,
            }
        else:
            query = {"stage": DONE, "status": "completed", "diffusion": {"$exists": False}, **cut}
        more = cands.top_k(query, [("score", -1)], new - old)
        cands.record(
            {i: {"status": "running"} for i in more}, stage=CandidateStage.selected_for_md.value
        )
        lines.append(f"{len(more)} more candidate(s) go to the full MD series")
    store.flush()
    return lines


def model_identity(model) -> dict[str, str]:
    """What binds a campaign to a loaded model: registry name and weights SHA-256."""
    return {"name": model.name, "weights_sha256": model.weights_sha256}
