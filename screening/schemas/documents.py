"""The stored documents: one ``candidates`` document per candidate, one ``campaigns`` document
per campaign. Users query these collections directly, so the field names are the interface.

Per-stage results are sub-documents (``relax``, ``stability``, ``md``, ``diffusion``) that only
their stage writes; large arrays (mobile-ion trajectories, MSD curves, PNG plots) live in the
``artifacts`` collection, keyed ``<candidate_id>/<name>`` and listed in ``artifacts``.
``db/schema/*.schema.json`` is generated from these models (``screening db schema``).
"""

from __future__ import annotations

import datetime as _dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from screening.schemas.provenance import Provenance, utcnow
from screening.schemas.results import (
    ArrheniusResult,
    CollectiveStatus,
    DiffusionResult,
    EvidenceResult,
    HavenStatus,
    MDResult,
    RelaxResult,
    StabilityResult,
)


class CandidateStage(StrEnum):
    """How far a candidate has gone through the funnel."""

    generated = "generated"
    prescreened = "prescreened"
    relaxed = "relaxed"
    selected_for_screen = "selected_for_screen"
    screened = "screened"
    selected_for_md = "selected_for_md"
    done = "done"


class CandidateStatus(StrEnum):
    """Outcome so far: ``completed`` and ``duplicate`` are terminal, so is ``failed``."""

    pending = "pending"
    running = "running"
    completed = "completed"
    failed = "failed"
    duplicate = "duplicate"


class DiffusionDoc(BaseModel):
    """Diffusion results of one candidate (all temperatures)."""

    per_temperature: list[DiffusionResult] = Field(description="D(T) with errors per T.")
    arrhenius: ArrheniusResult = Field(description="Arrhenius fit and sigma(300 K).")
    haven_ratio: float = Field(
        1.0, description="Haven ratio used for sigma(300 K) (1 unless measured precisely)."
    )
    haven_ratio_err: float = Field(0.0, description="1-sigma error of the used Haven ratio.")
    haven_status: HavenStatus = Field(
        HavenStatus.assumed_1,
        description="measured: the collective-displacement H (relative error <= 0.25) is "
        "used; assumed_1: too noisy or not sampled, H = 1.",
    )
    collective_status: CollectiveStatus = Field(
        CollectiveStatus.not_sampled,
        description="Overall collective (charge) estimate: ok when any temperature gave a "
        "usable collective conductivity, too_noisy when none did, not_sampled when no "
        "temperature was sampled.",
    )
    haven_ratio_measured: float | None = Field(
        None, description="Inverse-variance mean of the per-temperature Haven ratios."
    )
    haven_ratio_measured_err: float | None = Field(
        None, description="1-sigma error of haven_ratio_measured."
    )
    n_mobile_per_cm3: float = Field(description="Mobile-ion number density, cm^-3.")
    at_t_max: DiffusionResult | None = Field(
        None,
        description="D(T) at the hottest usable temperature (not failed, too_short or "
        "molten): what the score uses when there is no Arrhenius fit, and the ranking "
        "table's D column. None when no temperature is usable.",
    )
    sampling: str | None = Field(
        None,
        description="One word for tables and queries: arrhenius (sigma(300 K) fitted), ok or "
        "insufficient_sampling (status of at_t_max), else framework_melting, too_short or "
        "failed.",
    )


class ScreenDoc(BaseModel):
    """Result of the conduction screen (one short MD at one temperature)."""

    temperature_k: float = Field(description="Temperature whose result is used, K.")
    diffusion: DiffusionResult = Field(description="D or its upper bound at that temperature.")
    framework_melting: bool = Field(
        description="True when the framework melted at every temperature tried (no run of "
        "the screen then enters the score)."
    )
    melted_at_k: list[float] = Field(
        default_factory=list, description="Temperatures at which the framework melted, K."
    )
    md_status: str = Field(description="completed or failed (MD blow-up).")
    score: float = Field(description="Score after the screen (decades of S/cm).")
    temperature_cap_k: float | None = Field(
        None, description="Melting cap the screen respected (estimate - margin), K."
    )


class PrescreenDoc(BaseModel):
    """The prescreen's single point of the unrelaxed candidate (energy only)."""

    energy_ev: float = Field(description="MLFF total energy of the unrelaxed cell, eV.")
    energy_per_atom_ev: float = Field(description="The same per atom, eV/atom.")
    e_hull_est_ev_per_atom: float = Field(
        description="Estimated E_hull, eV/atom: above the reference phases' hull when they "
        "cover the candidate (e_hull_vs_references), else above the lowest unrelaxed "
        "candidate of the same formula in its shard."
    )
    e_hull_vs_references: bool = Field(
        description="True when the estimate is against the reference phases."
    )


class ShardDoc(BaseModel):
    """Counts of one generation shard (``shards`` collection, ``_id`` = campaign/key); a
    rerun replaces them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(alias="_id", description="'<campaign>/<prototype>:<start>:<stop>'.")
    campaign: str = Field(description="Campaign name.")
    key: str = Field(
        description="'<prototype index>:<first map>:<end map>' (maps = index "
        "range of substitution maps of that prototype)."
    )
    enumerated: int = Field(ge=0, description="Candidates enumerated in the shard.")
    passed: int = Field(ge=0, description="Candidates that passed the composition filters.")
    rejected_by_reason: dict[str, int] = Field(
        description="Candidates set aside, by filter (and 'prescreen')."
    )
    prescreened: int = Field(ge=0, description="Candidates given a prescreen single point.")
    stored: int = Field(ge=0, description="Survivors stored as candidate documents.")
    updated_at: _dt.datetime | None = Field(None, description="UTC time of last write.")


class CandidateDoc(BaseModel):
    """One candidate of one campaign (``candidates`` collection, ``_id`` = candidate_id)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(alias="_id", description="Same as candidate_id (upsert key).")
    candidate_id: str = Field(
        description="blake2b of (campaign, prototype fingerprint, substitution, ordering): "
        "a candidate belongs to its campaign."
    )
    structure_key: str | None = Field(
        None,
        description="blake2b of (prototype fingerprint, substitution, ordering): the same "
        "structure in every campaign (find earlier results for it across campaigns).",
    )
    campaign: str = Field(description="Campaign name.")
    formula: str = Field(description="Reduced formula.")
    chemsys: str = Field(description="Chemical system, e.g. 'Cl-Li-Y'.")
    prototype: str = Field(description="Prototype label.")
    substitution: str = Field(description="Canonical substitution, e.g. 'Cl>Br;Y>Zr;-Li1'.")
    ordering: int = Field(
        ge=0,
        description="Ordering index of mixed sites / vacancies: digits (one per mixed "
        "element, then the vacancies) are ranks among symmetry-distinct arrangements by "
        "Ewald energy, 0 = lowest (0 when nothing is mixed or removed).",
    )
    ordering_ewald_ev: float | None = Field(
        None,
        description="Ewald (point-charge) energy of this arrangement above the lowest "
        "arrangement of the same substitution, eV per cell (0 for rank 0).",
    )
    mobile_ion: str = Field(
        description="Mobile element of this candidate (Li or Na): what the campaign's "
        "mobile-ion sites hold after substitution (Li -> Na swaps give Na); MD, the screen, "
        "the carrier density and the voltage window use it."
    )
    n_atoms: int = Field(ge=1, description="Atoms in the candidate cell.")
    structure: dict[str, Any] = Field(description="Unrelaxed structure (Structure.as_dict()).")
    stage: CandidateStage = Field(description="Funnel stage reached.")
    status: CandidateStatus = Field(description="Outcome so far.")
    errors: list[str] = Field(default_factory=list, description="'stage: reason' per failure.")
    duplicate_of: str | None = Field(None, description="Kept twin, when status=duplicate.")
    prescreen: PrescreenDoc | None = Field(None, description="Single point before relaxation.")
    relax: RelaxResult | None = Field(None, description="MLFF relaxation.")
    screen: ScreenDoc | None = Field(None, description="Short conduction-screen MD.")
    score_screen: float | None = Field(
        None, description="Ranking score from the screen alone (orders the full MD series)."
    )
    stability: StabilityResult | None = Field(None, description="E_form, E_hull, window.")
    md: dict[str, MDResult] | None = Field(None, description="MD run per temperature (K).")
    diffusion: DiffusionDoc | None = Field(None, description="Diffusivity and conductivity.")
    score: float | None = Field(
        None,
        description="Ranking score: evidence.log10_sigma300_quantile minus the hull penalty "
        "(decades of S/cm; screening.analysis.score).",
    )
    evidence: EvidenceResult | None = Field(
        None,
        description="What the score knows: posterior of sigma(300 K) from every tier "
        "reached, Ea, tier, sampling, flags, melting estimate.",
    )
    score_pre_md: float | None = Field(
        None, description="Score before MD (hull only); orders MD work and priorities."
    )
    score_e_hull_ev_per_atom: float | None = Field(
        None,
        description="E_hull used by the score, eV/atom (without reference phases: energy "
        "above the lowest relaxed candidate of the same formula).",
    )
    mobile_per_cm3: float | None = Field(
        None,
        description="Mobile ions per cm^3 of the relaxed cell: breaks pre-MD ties (carrier "
        "density of Nernst-Einstein) when E_hull does not distinguish candidates.",
    )
    artifacts: list[str] = Field(
        default_factory=list, description="Keys in the artifacts collection (plots, arrays)."
    )
    provenance: Provenance | None = Field(None, description="Model, versions, timestamps.")
    created_at: _dt.datetime | None = Field(None, description="UTC time of first insert.")
    updated_at: _dt.datetime | None = Field(None, description="UTC time of last write.")


class CampaignDoc(BaseModel):
    """One campaign (``campaigns`` collection, ``_id`` = name)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(alias="_id", description="Campaign name.")
    name: str = Field(description="Campaign name.")
    spec: dict[str, Any] = Field(description="The validated campaign specification.")
    counts: dict[str, Any] = Field(
        default_factory=dict, description="Per-stage counts (enumerated, rejected by reason)."
    )
    created_at: _dt.datetime = Field(default_factory=utcnow, description="UTC creation time.")
    updated_at: _dt.datetime | None = Field(None, description="UTC time of last write.")


def new_candidate(**fields: Any) -> dict[str, Any]:
    """Validated insert-only fields of a new candidate document (no None values)."""
    doc = CandidateDoc(
        _id=fields["candidate_id"],
        stage=CandidateStage.generated,
        status=CandidateStatus.pending,
        **fields,
    )
    return doc.model_dump(
        mode="json", exclude_none=True, exclude={"id", "created_at", "updated_at"}
    )


def json_schemas() -> dict[str, dict]:
    """JSON Schemas of the stored documents, by collection (what ``db/schema/`` holds)."""
    return {
        "candidates": CandidateDoc.model_json_schema(by_alias=True),
        "campaigns": CampaignDoc.model_json_schema(by_alias=True),
        "shards": ShardDoc.model_json_schema(by_alias=True),
    }
