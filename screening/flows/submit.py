"""Submit a campaign's flow to a FireWorks LaunchPad (file, real MongoDB or embedded)."""

from __future__ import annotations

from pathlib import Path

from screening.schemas.campaign import load_campaign

QUIET = "WARNING"  # FireWorks' stream level in our commands (its own tools keep theirs)


def get_launchpad(launchpad_file: str | Path | None = None):
    """LaunchPad from a YAML file, from ``SCREENING_DB_URI``, or the embedded store.

    The embedded LaunchPad lives in the same mongomock_persistence file as the results and
    shares this process's in-memory store with them. FireWorks binds its ``MongoClient`` when
    ``fireworks.fw_config`` is first imported, which may happen before the embedded file is
    known (any ``from fireworks import ...``): both bindings are replaced here, so the
    LaunchPad never looks for a server on localhost:27017.
    """
    import logging

    from screening.settings import get_settings
    from screening.store.backend import (
        DatabaseTarget,
        embedded_path,
        ping_server,
        shared_server_store,
    )

    # FireWorks logs every step at INFO to stdout *and* lets the record propagate to the
    # root handler (each line twice); our commands show its warnings only, once
    logging.getLogger("launchpad").propagate = False
    if launchpad_file:
        import yaml
        from fireworks import LaunchPad

        from screening.schemas.errors import ScreeningInputError

        try:
            doc = yaml.safe_load(Path(launchpad_file).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ScreeningInputError(f"{launchpad_file}: cannot read ({exc})") from None
        if not isinstance(doc, dict) or "host" not in doc:
            raise ScreeningInputError(f"{launchpad_file}: expected a launchpad YAML with 'host'")
        return LaunchPad.from_dict({"strm_lvl": QUIET, **doc})
    settings = get_settings()
    target = DatabaseTarget.from_settings()
    if not target.embedded:
        from fireworks import LaunchPad

        ping_server(target.uri, target.name, timeout_s=settings.db_timeout_s)
        ms = int(settings.db_timeout_s * 1000)
        return LaunchPad(
            host=target.uri,
            name=target.name,
            uri_mode=True,
            strm_lvl=QUIET,
            mongoclient_kwargs={"serverSelectionTimeoutMS": ms},
        )
    path = embedded_path()
    shared_server_store(path)  # lock, MONGOMOCK_SERVERSTORE_FILE, one shared store
    import fireworks.core.launchpad as launchpad_module
    import fireworks.fw_config as fw_config
    import mongomock_persistence

    fw_config.MONGOMOCK_SERVERSTORE_FILE = str(path)
    fw_config.MongoClient = mongomock_persistence.MongoClient
    launchpad_module.MongoClient = mongomock_persistence.MongoClient
    return launchpad_module.LaunchPad(name=target.name, strm_lvl=QUIET)


def submit_campaign(campaign_file: str | Path, *, launchpad=None, force: bool = False) -> dict:
    """Validate, build the flow, convert with ``flow_to_workflow`` and add it.

    Nothing is added when validation fails, or when the campaign's workflow is already on
    the LaunchPad (unless ``force``). The job store that travels with every Firework is
    :func:`screening.store.jobstore.screening_job_store` (the results' database, resolved on
    the worker). Returns the workflow's size.
    """
    from jobflow.managers.fireworks import flow_to_workflow

    from screening.flows.makers import ScreeningFlowMaker
    from screening.generate.parents import load_prototypes
    from screening.schemas.errors import ScreeningInputError
    from screening.store.jobstore import screening_job_store

    path = str(Path(campaign_file).resolve())
    spec = load_campaign(path)
    load_prototypes(spec)
    if spec.references_mp:  # fail here, not on a worker
        from screening.stability.online import check_mp_access

        check_mp_access(spec.references_mp)
    flow = ScreeningFlowMaker().make(path)
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
