"""A campaign as a submitted workflow carries it: the validated spec with its prototypes
inline, so that workers on any node run what was submitted, whatever happens to the YAML
file (moved, edited, absent) after ``campaign submit``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from screening.schemas.campaign import CampaignSpec, load_campaign


def freeze_campaign(campaign: str | Path | dict[str, Any]) -> dict[str, Any]:
    """The campaign's spec as a JSON-able dict with every prototype inline (its ordered
    structure and label, as :func:`screening.generate.parents.load_prototypes` reads it)
    and a reference folder as an absolute path. A dict is returned unchanged (already
    frozen)."""
    if isinstance(campaign, dict):
        return campaign
    from screening.generate.parents import load_prototypes

    spec = load_campaign(campaign)
    out = spec.model_dump(mode="json")
    # without "@module"/"@class": jobflow would revive the dict as a Structure on the worker
    out["prototypes"] = [
        {"name": p.name, "structure": _plain(p.structure.as_dict())} for p in load_prototypes(spec)
    ]
    if spec.references and spec.references != "auto":
        out["references"] = str((spec.base_dir / spec.references).resolve())
    return out


def campaign_spec(campaign: str | Path | dict[str, Any]) -> CampaignSpec:
    """The spec of a campaign file or of a frozen campaign (:func:`freeze_campaign`)."""
    if isinstance(campaign, dict):
        protos = [
            {**p, "structure": _plain(p["structure"].as_dict())}
            if hasattr(p.get("structure"), "as_dict")
            else p
            for p in campaign.get("prototypes", [])
        ]
        return CampaignSpec.model_validate({**campaign, "prototypes": protos})
    return load_campaign(campaign)


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    """A Structure dict as plain data. A charge of 0 is dropped: as_dict writes it for a
    structure whose charge was never set, and an explicit 0 next to oxidation states would
    change pymatgen's warnings (not its numbers) on the worker."""
    return {k: v for k, v in d.items() if not k.startswith("@") and (k, v) != ("charge", 0)}
