"""A MongoDB server as the database: where it is (:class:`DatabaseTarget`), one ping before
any work (:func:`ping_server`), and URIs in messages without credentials (:func:`redact_uri`).
"""

from __future__ import annotations

from dataclasses import dataclass

from screening.schemas.errors import DatabaseError
from screening.settings import get_settings


def redact_uri(uri: str) -> str:
    """The URI with user and password replaced by ``***`` (for messages and logs).

    Everything before the last ``@`` after the scheme is credentials: a password may itself
    hold ``@``, ``:`` or ``/`` (unescaped, as users type them), a host never holds ``@``.
    Works with or without a scheme."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        scheme, rest = "", uri
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return f"{scheme}{sep}{rest}"


def ping_server(uri: str, name: str, *, timeout_s: float, source: str = "SCREENING_DB_URI"):
    """A pymongo Database on ``uri`` after one successful ping.

    Raises
    ------
    DatabaseError
        For a URI that is not ``mongodb://`` / ``mongodb+srv://``, or a server that does not
        answer within ``timeout_s`` (host named, password never).
    """
    if not uri.startswith(("mongodb://", "mongodb+srv://")):
        shown = uri.split("://", 1)[0] if "://" in uri else redact_uri(uri)[:60]
        raise DatabaseError(f"{source}: expected mongodb://… or mongodb+srv://…, got {shown!r}")
    import pymongo
    from pymongo.errors import PyMongoError

    ms = int(timeout_s * 1000)
    try:
        client = pymongo.MongoClient(
            uri, w="majority", serverSelectionTimeoutMS=ms, connectTimeoutMS=ms
        )
        client.admin.command("ping")
    except (PyMongoError, ValueError) as exc:
        raise DatabaseError(
            f"MongoDB at {redact_uri(uri)} did not answer within {timeout_s:g} s "
            f"({type(exc).__name__}); check {source}, the server and the network"
        ) from None
    return client[name]


@dataclass(frozen=True)
class DatabaseTarget:
    """Where results (and the embedded LaunchPad) live: the one place that decides between
    a MongoDB server (``SCREENING_DB_URI``) and the embedded file.

    Attributes
    ----------
    uri : str or None
        MongoDB URI (with credentials; never log it, see :func:`redact_uri`); None: embedded.
    name : str
        Database name.
    """

    uri: str | None
    name: str

    @property
    def embedded(self) -> bool:
        """True for the embedded file store."""
        return self.uri is None

    @classmethod
    def from_settings(cls, uri: str | None = None, name: str | None = None) -> DatabaseTarget:
        """The configured target (``SCREENING_DB_URI``, ``SCREENING_DB_NAME``), optionally
        overridden."""
        settings = get_settings()
        return cls(uri or settings.db_uri or None, name or settings.db_name)
