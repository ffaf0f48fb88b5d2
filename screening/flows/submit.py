"""Submit a campaign's flow to a FireWorks LaunchPad (file, real MongoDB or embedded)."""

from __future__ import annotations

from pathlib import Path

from screening.schemas.campaign import load_campaign


def get_launchpad(launchpad_file: str | Path | None = None):
    """The LaunchPad (see :func:`screening.store.launchpad.open_launchpad`)."""
    from screening.store.launchpad import open_launchpad

    return open_launchpad(launchpad_file)


def submit_campaign(campaign_file: str | Path, *, launchpad=None, force: bool = False) -> dict:
    """Validate, build the flow, convert with ``flow_to_workflow`` and add it.

    Nothing is added when validation fails, or when the campaign's workflow is already on
    the LaunchPad (unless ``force``). The job store that travels with every Firework is
    :func:`screening.store.jobstore.screening_job_store` (the results' database, resolved on
    the worker). Returns the workflow's size.
    """
    from jobflow.managers.fireworks import flow_to_workflow

    from screening.flows.checks import check_campaign, check_memory, check_references
    from screening.flows.frozen import freeze_campaign
    from screening.flows.makers import ScreeningFlowMaker
    from screening.generate.parents import load_prototypes
    from screening.schemas.errors import ScreeningInputError
    from screening.store.jobstore import screening_job_store

    path = str(Path(campaign_file).resolve())
    spec = load_campaign(path)
    protos = load_prototypes(spec)
    check_campaign(spec, protos, None)  # fail here, not on a worker
    check_references(spec, protos)
    check_memory(spec, protos)
    if spec.references_mp:
        from screening.stability.online import check_mp_access

        check_mp_access(spec.references_mp)
    from screening.flows.binding import bind_campaign
    from screening.settings import get_settings
    from screening.store.results import ResultStore

    # the results' database: refuse a changed spec or another model before anything queues
    bind_campaign(ResultStore(), spec, {"name": spec.model or get_settings().default_model})
    flow = ScreeningFlowMaker().make(freeze_campaign(path))  # no job reads the file
    wf = flow_to_workflow(flow, store=screening_job_store())
    lp = launchpad or get_launchpad()
    if lp.fw_id_assigner.count_documents({}) == 0 and lp.workflows.count_documents({}) == 0:
        lp.reset("", require_password=False)  # first use of an empty LaunchPad
    existing = lp.workflows.find_one({"name": wf.name}, {"nodes": 1, "state": 1})
    if existing and not force:
        raise ScreeningInputError(
            f"campaign {spec.name!r} is already on the LaunchPad (workflow of fw_id "
            f"{min(existing['nodes'])}, {existing.get('state', '?')}); "
            "use --force to add another copy"
        )
    lp.add_wf(wf)
    return {"campaign": spec.name, "fireworks": len(wf.fws)}
