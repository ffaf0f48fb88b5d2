"""Checks of a campaign before any work.

Warnings name a campaign that is valid but would give uninformative results (`campaign
validate` and `campaign run` print them as ``warning: ...``); the ``check_*`` functions
refuse what cannot run, in one line naming the field.
"""

from __future__ import annotations

from screening.analysis.diffusion import MIN_PRODUCTION_PS
from screening.generate.enumerate import Enumerator
from screening.schemas.campaign import CampaignSpec


def campaign_warnings(spec: CampaignSpec, enumerator: Enumerator | None = None) -> list[str]:
    """One line per problem: no reference phases, MD runs too short for a diffusive fit,
    campaign elements that ``filters.exclude_elements`` removes.

    Parameters
    ----------
    spec : CampaignSpec
        The validated campaign.
    enumerator : Enumerator, optional
        Built on the campaign's prototypes; with it, excluded elements are named.
    """
    out = []
    f = spec.funnel
    if not spec.has_references:
        out.append(
            "no reference phases (references / references_mp): E_hull is only a stand-in "
            "(energy above the lowest relaxed candidate of the same formula), so candidates "
            "of different formulas tie before MD; ties go to the higher mobile-ion density"
        )
    if f.prescreen and not spec.has_references:
        out.append(
            "prescreen without reference phases: its E_hull estimate is the unrelaxed energy "
            "above the lowest candidate of the same formula in the shard, so it only ranks "
            "orderings of one composition; a composition alone in its shard always passes"
        )
    runs = [("funnel.md_steps", f.md_steps)]
    if f.screen_temperature_k:
        runs.append(("funnel.screen_steps", f.screen_steps))
    for key, steps in runs:
        ps = steps * f.md_timestep_fs / 1000
        if ps < MIN_PRODUCTION_PS:
            need = int(-(-MIN_PRODUCTION_PS * 1000 // f.md_timestep_fs))
            out.append(
                f"{key} x funnel.md_timestep_fs = {ps:g} ps is below the {MIN_PRODUCTION_PS:g} "
                f"ps a diffusive MSD fit needs: every run will be too_short (no D, no bound, "
                f"not scored); use >= {need} steps"
            )
    if enumerator is not None and (gone := enumerator.excluded_present()):
        out.append(
            f"filters.exclude_elements removes {', '.join(gone)}: candidates containing "
            f"{'it' if len(gone) == 1 else 'them'} are rejected (edit filters.exclude_elements "
            "to keep them)"
        )
    return out


def check_references(spec: CampaignSpec, prototypes) -> None:
    """Refuse ``references: auto`` when an element of the prototypes or the substitutions
    has no ground-state structure in the reference library (before anything is relaxed or
    stored; `validate`, `run`, `submit` and `plan` call it).

    Raises
    ------
    ScreeningInputError
        Naming the field (``references``) and the elements.
    """
    if spec.references != "auto":
        return
    from screening.schemas.errors import ScreeningInputError
    from screening.stability.prototypes import ELEMENTS

    present = {el.symbol for p in prototypes for el in p.structure.composition}
    used = {el for k, vs in spec.substitutions.items() for el in (k, *vs)}
    for where, els in (("in the prototypes", present), ("substitutions", used)):
        if missing := sorted(els - set(ELEMENTS)):
            raise ScreeningInputError(
                f"references: auto, but the reference library has no ground-state structure "
                f"for {', '.join(missing)} ({where}); give a reference folder instead"
            )


def check_memory(spec: CampaignSpec, prototypes) -> None:
    """Refuse, before any work, a campaign whose cells cannot fit one model call: each
    prototype (candidates keep its atom count, or lose compensating ions) and the MD cell
    cap ``funnel.md_max_atoms`` when MD runs (screening.mlff.memory).

    Raises
    ------
    CellTooLarge
        Naming the prototype (or the field).
    """
    from screening.mlff.memory import check_atoms

    for k, p in enumerate(prototypes):
        check_atoms(len(p.structure), f"prototypes[{k}] ({p.name})")
    if spec.funnel.top_k_md > 0 or spec.funnel.screen_temperature_k:
        check_atoms(spec.funnel.md_max_atoms, "funnel.md_max_atoms")


COUNT_AT_VALIDATE = 100_000
"""Largest substitution space that `validate` counts through the filters (cheap below it)."""


def check_campaign(
    spec: CampaignSpec, prototypes, model_name: str | None, enumerator: Enumerator | None = None
) -> None:
    """Refuse, before anything is relaxed or stored, a campaign that cannot give results:
    no prototype holding the mobile ion, an element the model was not trained on (in the
    prototypes or the substitutions), a reference folder that is not there, or no
    candidate at all (no substitution map, or -- for spaces up to
    :data:`COUNT_AT_VALIDATE` maps -- none passing the filters). ``enumerator``: one already
    built on these prototypes (its counts are reset after counting).

    Raises
    ------
    ScreeningInputError
        One line naming the field.
    """
    from screening.mlff.registry import unsupported_elements
    from screening.schemas.errors import ScreeningInputError
    from screening.settings import get_settings

    present = {el.symbol for p in prototypes for el in p.structure.composition}
    if spec.mobile_ion not in present:
        raise ScreeningInputError(
            f"mobile_ion: {spec.mobile_ion} is in no prototype (prototype elements: "
            f"{', '.join(sorted(present))}); no candidate could conduct it"
        )
    name = model_name or spec.model or get_settings().default_model
    used = present | {el for vs in spec.substitutions.values() for el in vs}
    if missing := unsupported_elements(name, used):
        raise ScreeningInputError(
            f"substitutions/prototypes: model {name} was not trained on "
            f"{', '.join(missing)}; remove {'it' if len(missing) == 1 else 'them'}"
        )
    if spec.references and spec.references != "auto":
        folder = spec.base_dir / spec.references
        if not folder.is_dir():
            raise ScreeningInputError(f"references: folder {folder} not found")
    enum = enumerator or Enumerator(spec, prototypes)
    n_maps = sum(enum.n_maps(p) for p in range(len(prototypes)))
    if n_maps == 0:
        raise ScreeningInputError("substitutions: the campaign has no candidate")
    if n_maps <= COUNT_AT_VALIDATE:
        counted = enum.count()
        enum.reset_counts()
        if counted["passed"] == 0:
            reasons = ", ".join(f"{k} {v}" for k, v in counted["rejected_by_reason"].items())
            raise ScreeningInputError(
                f"filters: no candidate passes them (rejected: {reasons or 'none'}); "
                "loosen the filters"
            )
