"""`screening db ...`: the database's indexes, launchpad and jobflow files, and schemas."""

from __future__ import annotations

from pathlib import Path

import typer

from screening.cli.common import handle_errors
from screening.schemas.errors import ScreeningInputError

db_app = typer.Typer(help="Database administration.", no_args_is_help=True)


@db_app.command("init")
@handle_errors
def db_init() -> None:
    """Create the indexes declared in screening/data/indexes.json (shipped in the package)."""
    from screening.store.results import ResultStore

    store = ResultStore()
    names = store.ensure_indexes()
    store.flush()
    typer.echo(f"indexes: {', '.join(names)}")


@db_app.command("launchpad-file")
@handle_errors
def launchpad_file(
    out: Path = typer.Argument(Path("my_launchpad.yaml"), help="File to write."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
) -> None:
    """Write a FireWorks launchpad YAML for this database (for `lpad -l` / `rlaunch -l`).

    Real MongoDB: the file holds the URI (with its password) and is written with mode 0600.
    Embedded: FW_config.yaml is written beside it, naming the database file, so FireWorks'
    tools run from that folder find it without any exported variable (one writing process at
    a time on the file). Either way the file carries this shell's SCREENING_MODELS_DIR (and
    data dir, default model) under ``screening_env`` for rlaunch workers that lack them.
    """
    import os

    import yaml

    from screening.flows.worker_env import KEY, carried_env
    from screening.settings import get_settings
    from screening.store.backend import embedded_path
    from screening.store.launchpad import EMBEDDED_KEY
    from screening.store.server import DatabaseTarget

    def write_private(path: Path, text: str) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
        except OSError as exc:
            raise ScreeningInputError(f"cannot write {path}: {exc.strerror}") from None

    settings = get_settings()
    target = DatabaseTarget.from_settings()
    carried = {KEY: carried_env()}  # what rlaunch workers need without exports
    config = out.resolve().parent / "FW_config.yaml"
    if not force and (existing := [str(p) for p in (out, config) if p.exists()]):
        raise ScreeningInputError(
            f"{' and '.join(existing)} already exist(s); use --force to overwrite"
        )
    # our jobs write to the database, not the launch folder: no FW.json in each launcher_*
    # folder (FireWorks' rapidfire still leaves the empty folders of the rockets it ran)
    fw_config = {"LAUNCHPAD_LOC": str(out.resolve()), "PRINT_FW_JSON": False}
    if not target.embedded:
        doc = {"host": target.uri, "uri_mode": True, "name": target.name, **carried}
        write_private(out, yaml.safe_dump(doc))
        write_private(config, yaml.safe_dump(fw_config))
        typer.echo(f"wrote {out} and {config} (mode 0600: it holds the database password)")
        return
    db_file = embedded_path()
    # `screening_embedded` opens the file from any folder (`--launchpad`); FireWorks' own
    # tools find it through FW_config.yaml, and outside that folder fail on a host that
    # cannot exist instead of writing to a server that happens to listen on localhost
    doc = {
        "host": "embedded.invalid",
        "port": 27017,
        "name": target.name,
        "mongoclient_kwargs": {"serverSelectionTimeoutMS": int(settings.db_timeout_s * 1000)},
        EMBEDDED_KEY: str(db_file),
        **carried,
    }
    write_private(out, yaml.safe_dump(doc))
    write_private(config, yaml.safe_dump({"MONGOMOCK_SERVERSTORE_FILE": str(db_file), **fw_config}))
    typer.echo(
        f"wrote {out} and {config} (MONGOMOCK_SERVERSTORE_FILE={db_file}: FireWorks' "
        f"tools started in {config.parent} need nothing exported)"
    )


@db_app.command("jobflow-file")
@handle_errors
def jobflow_file(
    out: Path = typer.Argument(Path("jobflow.yaml"), help="File to write."),
) -> None:
    """Write a jobflow.yaml whose JOB_STORE is the screening database (no credentials in it).

    `campaign submit` already puts this store inside every Firework; the file makes it
    jobflow's default elsewhere (export JOBFLOW_CONFIG_FILE=<file>), e.g. for
    `run_locally` of our Makers or for Fireworks built by other tools.
    """
    import yaml

    from screening.store.jobstore import screening_job_store

    doc = {"JOB_STORE": screening_job_store().as_dict()}
    try:
        out.write_text(yaml.safe_dump(doc, sort_keys=False))
    except OSError as exc:
        raise ScreeningInputError(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(f"wrote {out}: export JOBFLOW_CONFIG_FILE={out.resolve()}")


@db_app.command("schema")
@handle_errors
def db_schema(
    out: Path = typer.Argument(Path("db/schema"), help="Folder for <collection>.schema.json."),
) -> None:
    """Write the JSON Schemas of the stored documents (generated from the pydantic models)."""
    import json

    from screening.schemas.documents import json_schemas

    out.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        typer.echo(str(path))
