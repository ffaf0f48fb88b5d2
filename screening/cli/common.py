"""Shared CLI plumbing: error reporting, JSON output, model loading without stdout noise."""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

import typer
from pydantic import ValidationError

from screening.schemas.errors import ScreeningInputError

EXIT_INPUT = 2


def fail(message: str) -> None:
    """Print a one-line error to stderr and exit non-zero."""
    typer.echo(f"error: {message.splitlines()[0] if message else 'unknown error'}", err=True)
    raise typer.Exit(EXIT_INPUT)


def handle_errors(func: Callable) -> Callable:
    """Turn expected errors into one-line messages and a non-zero exit."""
    from screening.mlff.registry import ModelLoadError

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any):
        try:
            return func(*args, **kwargs)
        except (ScreeningInputError, ModelLoadError) as exc:
            fail(str(exc))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            fail(f"{exc.title}: field '{loc}': {err['msg']}")

    return wrapper


def emit_json(obj: Any) -> None:
    """Print one JSON object on stdout."""
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def write_csv(rows: list[dict], fh: TextIO) -> None:
    """Write flat rows as CSV with a header (nothing for no rows)."""
    if rows:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def quiet_load_model(name: str | None):
    """Load an MLFF with library banners (warp prints on import) sent to stderr."""
    from screening.mlff.registry import check_model_name, load_model

    if name is not None:
        check_model_name(name)
    with contextlib.redirect_stdout(sys.stderr):
        return load_model(name)


def setup_logging(verbose: bool) -> None:
    """Configure logging once, from the CLI entry point (never at import)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
