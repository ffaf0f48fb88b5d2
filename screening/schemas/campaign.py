"""Campaign specification (what users write in ``workflows/*.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from screening.schemas.errors import ScreeningInputError
from screening.schemas.results import RELAX_FMAX_EV_A


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PrototypeSpec(_Strict):
    """One prototype: a file or folder (``path``), a pymatgen-bundled structure, or an
    inline structure (``structure`` + ``name``: what a submitted workflow carries, so that
    no worker reads the user's files)."""

    path: str | None = Field(None, description="Structure file or folder, relative to the YAML.")
    pymatgen: str | None = Field(None, description="Name in pymatgen.util.structures.")
    structure: dict | None = Field(
        None, description="Inline pymatgen Structure (as_dict), ordered; needs 'name'."
    )
    name: str | None = Field(None, description="Label of an inline structure.")
    order: bool = Field(
        False, description="Order a partially occupied prototype (Ewald, lowest energy)."
    )

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("path", "pymatgen", "structure") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'path' or 'pymatgen'")
        if (self.structure is None) != (self.name is None):
            raise ValueError("'name' goes with an inline 'structure' (and only with it)")
        return self


class MixingSpec(_Strict):
    """Partial substitution: two species share a site in ordered arrangements."""

    max_species_per_site: Literal[1, 2] = Field(2, description="1 disables mixing.")
    fractions: list[float] = Field([0.5], description="Fraction of the second species.")
    max_orderings: int = Field(4, ge=1, description="Ordered arrangements kept per parent.")


class CompensationSpec(_Strict):
    """Aliovalent substitution compensated by removing mobile ions."""

    enabled: bool = Field(True, description="Remove mobile ions to restore neutrality.")
    max_orderings: int = Field(2, ge=1, description="Vacancy arrangements kept per parent.")


class FilterSpec(_Strict):
    """Cheap filters, applied in order of cost."""

    charge_neutral: bool = Field(True, description="Require a neutral oxidation-state assignment.")
    electronegativity: bool = Field(
        True, description="Every cation less electronegative than every anion (Pauling)."
    )
    min_substitution_probability: float = Field(
        0.0, ge=0, description="Minimum pymatgen SubstitutionProbability per replaced species."
    )
    max_atoms: int = Field(200, ge=1, description="Largest cell kept.")
    exclude_elements: list[str] = Field(
        default_factory=lambda: [
            "Tc",
            "Pm",
            "Po",
            "At",
            "Rn",
            "Fr",
            "Ra",
            "Ac",
            "Pa",
            "U",
            "Np",
            "Pu",
            "He",
            "Ne",
            "Ar",
            "Kr",
            "Xe",
            "Hg",
            "Cd",
            "Tl",
            "Pb",
            "As",
            "Be",
        ],
        description="Elements never allowed (radioactive, noble gases, toxic).",
    )


class FunnelSpec(_Strict):
    """How many candidates go how far."""

    chunk_size: int = Field(50, ge=1, description="Candidates per job.")
    shard_maps: int = Field(
        500,
        ge=1,
        description="Substitution maps per generation shard (one job each; a map gives up to "
        "the mixing x compensation orderings candidates).",
    )
    prescreen_e_hull_max_ev_per_atom: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="Prescreen inside each generation shard: one batched, energy-only model "
        "call on the unrelaxed candidates; those whose estimated E_hull (vs the reference "
        "phases, else vs the lowest candidate of the same formula in the shard) exceeds "
        "this, eV/atom, are not stored (counted as rejected 'prescreen'). None (and no "
        "prescreen_keep_fraction): no prescreen.",
    )
    prescreen_keep_fraction: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Prescreen: store only this fraction of each shard's candidates, lowest "
        "estimated E_hull first (with or without the E_hull cut).",
    )

    @property
    def prescreen(self) -> bool:
        """True when a prescreen cut or fraction is set."""
        return (
            self.prescreen_e_hull_max_ev_per_atom is not None
            or self.prescreen_keep_fraction is not None
        )

    relax_fmax_ev_a: float = Field(
        RELAX_FMAX_EV_A,
        gt=0,
        description="Relaxation force threshold, eV/Å (cell stress scaled alike). 0.02 leaves "
        "< 1 meV/atom and < 1.4 % volume to a tight relaxation on small library cells at ~2x "
        "the cost of 0.05, which left up to 10 meV/atom and 3.9 % (bench/relax_fmax.py).",
    )
    relax_max_steps: int = Field(300, ge=1, description="Relaxation step limit.")
    e_hull_max_ev_per_atom: float = Field(0.1, ge=0, description="Stability cut, eV/atom.")
    top_k_md: int = Field(10, ge=0, description="Best candidates sent to MD.")
    md_temperatures_k: list[Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        [800, 1000, 1200], min_length=1, description="MD temperatures, K (each > 0)."
    )
    md_steps: int = Field(2000, ge=10, description="Production steps per temperature.")
    md_timestep_fs: float = Field(2.0, gt=0, description="MD time step, fs.")
    md_max_atoms: int = Field(120, ge=1, description="Supercell size cap for MD.")
    md_target_n_eff: float | None = Field(
        None,
        gt=0,
        description="Adaptive MD: extend each temperature in segments of md_steps until this "
        "many effective jumps (None: fixed length md_steps).",
    )
    md_max_steps: int | None = Field(
        None, ge=10, description="Adaptive MD cap on production steps (default 10 x md_steps)."
    )
    md_min_n_eff: float = Field(
        20.0, gt=0, description="Below this N_eff a D(T) is insufficient_sampling."
    )
    screen_temperature_k: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Conduction screen: one short batched MD at this temperature for the best "
        "screen_top_n stable candidates; the full series runs only for the best top_k_md by "
        "screen score. None: no screen (the series goes to the best top_k_md by E_hull).",
    )
    screen_steps: int = Field(1000, ge=10, description="Production steps of the screen MD.")
    screen_top_n: int = Field(50, ge=1, description="Stable candidates that get the screen.")
    screen_retry_delta_k: float = Field(
        200.0,
        gt=0,
        description="A candidate whose framework melts in the screen is rerun this much "
        "colder (once, not below 300 K); still molten: flagged framework_melting.",
    )

    md_seed: int = Field(
        0,
        ge=0,
        description="Seed of the MD velocities and thermostats (screen and series): two "
        "runs with different seeds sample the noise of every D.",
    )
    melting_margin_k: float = Field(
        50.0,
        ge=0,
        allow_inf_nan=False,
        description="The screen and the series run at most this far below a candidate's "
        "melting estimate (screening.analysis.melting), K.",
    )

    @model_validator(mode="after")
    def _adaptive_cap(self):
        if self.md_max_steps is not None and self.md_max_steps < self.md_steps:
            raise ValueError("md_max_steps must be >= md_steps (one segment)")
        return self


class ScoreSpec(_Strict):
    """How the ranking score is computed from a candidate's evidence (see
    screening.analysis.score and screening.analysis.evidence)."""

    hull_per_ev: float = Field(
        10.0, ge=0, allow_inf_nan=False, description="Decades lost per eV/atom above the hull."
    )
    quantile: float = Field(
        0.16,
        gt=0,
        lt=1,
        description="Quantile of the posterior of log10 sigma(300 K) the score ranks by "
        "(0.16: the lower end of the 1-sigma interval, so ignorance never ranks above "
        "knowledge of a good conductor; 0.5: the median).",
    )
    prior_ea_ev: float = Field(
        0.40, allow_inf_nan=False, description="Prior mean of the activation energy, eV."
    )
    prior_ea_sd_ev: float = Field(
        0.20, gt=0, allow_inf_nan=False, description="Prior standard deviation of Ea, eV."
    )
    prior_log10_d0_cm2_s: float = Field(
        -3.0, allow_inf_nan=False, description="Prior mean of log10 D0 (D0 in cm^2/s)."
    )
    prior_log10_d0_sd: float = Field(
        1.0, gt=0, allow_inf_nan=False, description="Prior standard deviation of log10 D0."
    )

    @model_validator(mode="before")
    @classmethod
    def _legacy_keys(cls, data):
        """Keys of the score before the evidence model (uncertainty, insufficient_penalty,
        reference_ea_ev) no longer mean anything: dropped so older files still load."""
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in _LEGACY_SCORE_KEYS}
        return data


_LEGACY_SCORE_KEYS = ("uncertainty", "insufficient_penalty", "reference_ea_ev")


class MPReferenceSpec(_Strict):
    """Reference phases from the Materials Project (online only; optional)."""

    e_above_hull_max_ev: float = Field(
        0.05, ge=0, description="Fetch MP phases up to this E_hull (MP's own PBE hull), eV/atom."
    )
    api_key_env: str = Field(
        "MP_API_KEY", description="Environment variable holding the Materials Project API key."
    )


class CampaignSpec(_Strict):
    """A screening campaign: prototypes x substitutions, filters and funnel settings."""

    name: str = Field(
        description="Unique campaign name (the key in the database, and a file or folder "
        "name on export): letters, digits, '.', '_', '-', starting with a letter or digit.",
    )
    mobile_ion: Literal["Li", "Na"] = Field(description="Mobile ion of interest.")
    prototypes: list[PrototypeSpec] = Field(min_length=1, description="Parent structures.")
    substitutions: dict[str, list[str]] = Field(
        default_factory=dict, description="Prototype element -> allowed replacements."
    )
    mixing: MixingSpec | None = Field(None, description="Optional partial substitution.")
    compensation: CompensationSpec = Field(
        default_factory=CompensationSpec, description="Charge compensation."
    )
    filters: FilterSpec = Field(default_factory=FilterSpec, description="Cheap filters.")
    references: str | None = Field(
        None,
        description="Folder of reference-phase structures, or 'auto': the shipped reference "
        "library for every chemical system the candidates touch (screening.stability.library).",
    )
    references_correction: Literal["none", "fere"] = Field(
        "none",
        description="Formation-energy correction of the reference phases: 'none', or 'fere' "
        "(elemental reference energies fitted to experimental enthalpies for this model).",
    )
    references_mp: MPReferenceSpec | None = Field(
        None,
        description="Also fetch reference phases of the candidates' chemical systems from the "
        "Materials Project (needs network, an API key and `pip install 'screening[mp]'`).",
    )
    model: str | None = Field(None, description="MLFF name; default from settings.")
    funnel: FunnelSpec = Field(default_factory=FunnelSpec, description="Funnel settings.")
    score: ScoreSpec = Field(default_factory=ScoreSpec, description="Ranking score weights.")
    base_dir: Path = Field(Path("."), exclude=True, description="Folder of the YAML file.")

    @property
    def has_references(self) -> bool:
        """True when the campaign names any source of reference phases (stability stage)."""
        return self.references is not None or self.references_mp is not None

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        import re

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", v):
            raise ValueError(
                f"expected letters, digits, '.', '_' or '-' (starting with a letter or digit, "
                f"at most 100), got {v!r}"
            )
        return v

    @field_validator("substitutions")
    @classmethod
    def _known_elements(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        from pymatgen.core import Element

        for key, values in v.items():
            for el in [key, *values]:
                if not Element.is_valid_symbol(el):
                    raise ValueError(f"unknown element '{el}' in substitutions.{key}")
            if not values:
                raise ValueError(f"substitutions.{key} is empty")
        return v


def load_campaign(path: str | Path) -> CampaignSpec:
    """Read and validate a campaign YAML file.

    Raises
    ------
    ScreeningInputError
        One line naming the file and the line (YAML errors) or the key (schema errors).
    """
    p = Path(path)
    if not p.is_file():
        raise ScreeningInputError(f"{p}: campaign file not found")
    try:
        data = yaml.safe_load(p.read_text())
    except RecursionError:
        raise ScreeningInputError(f"{p}: YAML nested too deeply to be a campaign") from None
    except UnicodeDecodeError:
        raise ScreeningInputError(f"{p}: not a text (UTF-8) YAML file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "?"
        problem = getattr(exc, "problem", exc)
        raise ScreeningInputError(f"{p}: YAML error at {where}: {problem}") from None
    if not isinstance(data, dict):
        raise ScreeningInputError(f"{p}: expected a mapping of campaign keys at the top level")
    if "base_dir" in data:  # set from the file's folder, never by the YAML
        raise ScreeningInputError(f"{p}: unknown key 'base_dir' (paths are relative to the YAML)")
    try:
        return CampaignSpec(**data, base_dir=p.parent.resolve())
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        if err["type"] == "extra_forbidden":
            raise ScreeningInputError(f"{p}: unknown key '{loc}'") from None
        raise ScreeningInputError(f"{p}: {loc}: {err['msg']}") from None
