"""Submit a campaign's flow to a FireWorks LaunchPad (file, real MongoDB or embedded)."""

from __future__ import annotations

from pathlib import Path

from screening.schemas.campaign import load_campaign


def get_launchpad(launchpad_file: str | Path | None = None):
    """LaunchPad from a YAML file, from ``SCREENING_DB_URI``, or the embedded store.

    The embedded LaunchPad lives in the same mongomock_persistence file as the results and
    shares this process's in-memory store with them.
    """
    from screening.settings import get_settings
    from screening.store.backend import embedded_path, shared_server_store

    if launchpad_file:
        from fireworks import LaunchPad

        return LaunchPad.from_file(str(launchpad_file))
    settings = get_settings()
    if settings.db_uri:
        from fireworks import LaunchPad

        return LaunchPad(host=settings.db_uri, name=settings.db_name, uri_mode=True)
    path = embedded_path()
    shared_server_store(path)  # sets MONGOMOCK_SERVERSTORE_FILE and shares the store
    import fireworks.fw_config as fw_config
    import mongomock_persistence

    fw_config.MONGOMOCK_SERVERSTORE_FILE = str(path)
    fw_config.MongoClient = mongomock_persistence.MongoClient
    from fireworks import LaunchPad

    return LaunchPad(name=settings.db_name)


def submit_campaign(campaign_file: str | Path, *, launchpad=None) -> dict:
    """Validate, build the flow, convert with ``flow_to_workflow`` and add it.

    Nothing is added when validation fails. Returns the workflow's size.
    """
    from jobflow.managers.fireworks import flow_to_workflow

    from screening.flows.makers import ScreeningFlowMaker
    from screening.generate.parents import load_prototypes

    path = str(Path(campaign_file).resolve())
    spec = load_campaign(path)
    load_prototypes(spec)
    if spec.references_mp:  # fail here, not on a worker
        from screening.stability.online import check_mp_access

        check_mp_access(spec.references_mp)
    flow = ScreeningFlowMaker().make(path)
    wf = flow_to_workflow(flow)
    lp = launchpad or get_launchpad()
    if lp.fw_id_assigner.count_documents({}) == 0 and lp.workflows.count_documents({}) == 0:
        lp.reset("", require_password=False)  # first use of an empty LaunchPad
    lp.add_wf(wf)
    return {"campaign": spec.name, "fireworks": len(wf.fws)}
