"""FireWorks' LaunchPad on the configured database: a launchpad YAML, a MongoDB server
(``SCREENING_DB_URI``) or the embedded ``db.json``."""

from __future__ import annotations

from pathlib import Path

QUIET = "WARNING"  # FireWorks' stream level in our commands (its own tools keep theirs)


def open_launchpad(launchpad_file: str | Path | None = None):
    """LaunchPad from a YAML file, from ``SCREENING_DB_URI``, or the embedded store.

    The embedded LaunchPad lives in its own mongomock_persistence file (``db.json``, next
    to the results file) and shares this process's in-memory store of it with FireWorks.
    FireWorks binds its ``MongoClient`` when ``fireworks.fw_config`` is first imported,
    which may happen before the embedded file is known (any ``from fireworks import ...``):
    both bindings are replaced here, so the LaunchPad never looks for a server on
    localhost:27017.
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
