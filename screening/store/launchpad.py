"""FireWorks' LaunchPad on the configured database: a launchpad YAML, a MongoDB server
(``SCREENING_DB_URI``) or the embedded ``db.json``."""

from __future__ import annotations

import os
from pathlib import Path

from screening.schemas.errors import ScreeningInputError

EMBEDDED_KEY = "screening_embedded"
"""Key of a launchpad YAML written for the embedded store: the absolute path of its file."""
QUIET = "WARNING"  # FireWorks' stream level in our commands (its own tools keep theirs)


def open_launchpad(launchpad_file: str | Path | None = None):
    """LaunchPad from a YAML file, from ``SCREENING_DB_URI``, or the embedded store.

    A launchpad file's server is pinged first (one error line within
    ``SCREENING_DB_TIMEOUT_S``, never FireWorks' 30 s wait and traceback); a file written
    for the embedded store (``screening_embedded: <db.json>``) opens that store from any
    folder and never a server on localhost.

    The embedded LaunchPad lives in its own mongomock_persistence file (``db.json``, next
    to the results file) and shares this process's in-memory store of it with FireWorks.
    FireWorks binds its ``MongoClient`` when ``fireworks.fw_config`` is first imported,
    which may happen before the embedded file is known (any ``from fireworks import ...``):
    both bindings are replaced here, so the LaunchPad never looks for a server on
    localhost:27017.
    """
    import logging

    from screening.settings import get_settings
    from screening.store.backend import embedded_path
    from screening.store.server import DatabaseTarget, ping_server

    # FireWorks logs every step at INFO to stdout *and* lets the record propagate to the
    # root handler (each line twice); our commands show its warnings only, once
    logging.getLogger("launchpad").propagate = False
    settings = get_settings()
    if launchpad_file:
        doc = _read_launchpad_file(launchpad_file)
        if doc.get(EMBEDDED_KEY):  # the embedded store's file, from any folder
            os.environ["MONGOMOCK_SERVERSTORE_FILE"] = str(doc[EMBEDDED_KEY])
            return _embedded_launchpad(embedded_path())
        from fireworks import LaunchPad

        ms = int(settings.db_timeout_s * 1000)
        ping_server(
            launchpad_uri(doc),
            doc.get("name") or "fireworks",
            timeout_s=settings.db_timeout_s,
            source=str(launchpad_file),
        )
        kwargs = {"serverSelectionTimeoutMS": ms, **(doc.get("mongoclient_kwargs") or {})}
        return LaunchPad.from_dict({"strm_lvl": QUIET, **doc, "mongoclient_kwargs": kwargs})
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
    return _embedded_launchpad(embedded_path())


def _embedded_launchpad(path: Path):
    from screening.store.backend import shared_server_store
    from screening.store.server import DatabaseTarget

    shared_server_store(path)  # lock, MONGOMOCK_SERVERSTORE_FILE, one shared store
    import fireworks.core.launchpad as launchpad_module
    import fireworks.fw_config as fw_config
    import mongomock_persistence

    fw_config.MONGOMOCK_SERVERSTORE_FILE = str(path)
    fw_config.MongoClient = mongomock_persistence.MongoClient
    launchpad_module.MongoClient = mongomock_persistence.MongoClient
    name = DatabaseTarget.from_settings().name
    return launchpad_module.LaunchPad(name=name, strm_lvl=QUIET)


def _read_launchpad_file(launchpad_file: str | Path) -> dict:
    import yaml

    try:
        doc = yaml.safe_load(Path(launchpad_file).read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ScreeningInputError(f"{launchpad_file}: cannot read ({exc})") from None
    if not isinstance(doc, dict) or not ("host" in doc or EMBEDDED_KEY in doc):
        raise ScreeningInputError(f"{launchpad_file}: expected a launchpad YAML with 'host'")
    return doc


def launchpad_uri(doc: dict) -> str:
    """The MongoDB URI a FireWorks launchpad dict connects to (``uri_mode`` or
    host/port/username/password/authsource)."""
    from urllib.parse import quote_plus

    host = str(doc.get("host") or "localhost")
    if doc.get("uri_mode") or host.startswith(("mongodb://", "mongodb+srv://")):
        return host
    auth = ""
    if doc.get("username"):
        auth = f"{quote_plus(str(doc['username']))}:{quote_plus(str(doc.get('password') or ''))}@"
    query = f"?authSource={quote_plus(str(doc['authsource']))}" if doc.get("authsource") else ""
    return f"mongodb://{auth}{host}:{int(doc.get('port') or 27017)}/{query}"
