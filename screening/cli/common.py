"""Shared CLI plumbing: error reporting, JSON output, model loading without stdout noise."""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import logging
import os
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

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any):
        from screening.mlff.registry import ModelLoadError

        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            # the reader went away (`screening rank ... | head`): stop quietly; stdout points
            # at devnull so the interpreter's final flush cannot complain either
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(0) from None
        except (ScreeningInputError, ModelLoadError) as exc:
            fail(str(exc))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            fail(f"{exc.title}: field '{loc}': {err['msg']}")
        except (ValueError, OSError) as exc:
            # library validation (raised before any work) or a file the OS refused
            fail(f"{type(exc).__name__}: {exc}")

    return wrapper


def check_number(option: str, value: float, *, minimum: float = 0.0, strict: bool = True) -> None:
    """Raise a one-line input error unless ``value`` is finite and above ``minimum``
    (``>=`` when ``strict`` is False)."""
    import math

    ok = math.isfinite(value) and (value > minimum if strict else value >= minimum)
    if not ok:
        rel = ">" if strict else ">="
        raise ScreeningInputError(
            f"{option}: expected a finite number {rel} {minimum:g}, got {value}"
        )


def parse_temperatures(option: str, values: list[str], extra: list[str] = ()) -> list[float]:
    """Temperatures from repeated flags, commas (``600,800``) or spaces (``600 800``, which
    arrive as ``extra`` arguments), each checked finite and > 0 K."""
    out = []
    for token in [*values, *extra]:
        for part in str(token).replace(",", " ").split():
            try:
                t = float(part)
            except ValueError:
                raise ScreeningInputError(
                    f"{option}: expected temperatures in K (e.g. 600 800 or 600,800), got {part!r}"
                ) from None
            check_number(option, t)
            out.append(t)
    if not out:
        raise ScreeningInputError(f"{option}: expected at least one temperature in K")
    return out


def check_out_folder(path) -> None:
    """The folder an output file goes into must exist (it is never created silently)."""
    parent = path.resolve().parent
    if not parent.is_dir():
        raise ScreeningInputError(f"--out: folder {parent} does not exist")


def check_writable_folder(option: str, folder) -> None:
    """Create ``folder`` if needed and prove it takes a file, before any work whose output
    goes there (not after minutes of MD).

    Raises
    ------
    ScreeningInputError
        Naming the option and the OS's reason.
    """
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".screening-check"):
            pass
    except OSError as exc:
        raise ScreeningInputError(
            f"{option}: cannot write in {folder} ({exc.strerror or exc})"
        ) from None


def is_large_cell(structure) -> bool:
    """More atoms than SCREENING_LARGE_CELL_ATOMS (warned about; progress is shown)."""
    from screening.settings import get_settings

    return len(structure) > get_settings().large_cell_atoms


def check_cell_size(structure, source) -> None:
    """Refuse a cell whose model call would not fit in memory; warn about a large one."""
    from screening.mlff.memory import check_atoms, need_gb
    from screening.settings import get_settings

    n = len(structure)
    check_atoms(n, str(source))
    if is_large_cell(structure):
        typer.echo(
            f"warning: {source}: {n} atoms (> SCREENING_LARGE_CELL_ATOMS="
            f"{get_settings().large_cell_atoms}); one model call needs ~{need_gb(n):.1f} GB and "
            "each step takes seconds on a CPU",
            err=True,
        )


def json_safe(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by None: strict JSON (``NaN`` is
    not JSON; many readers reject it)."""
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def emit_json(obj: Any) -> None:
    """Print one JSON object on stdout (strict JSON: no bare NaN or Infinity)."""
    sys.stdout.write(json.dumps(json_safe(obj), default=str, allow_nan=False) + "\n")
    sys.stdout.flush()


def write_csv(rows: list[dict], fh: TextIO) -> None:
    """Write flat rows as CSV with a header (nothing for no rows)."""
    if rows:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def quiet_load_model(name: str | None, *, structure=None, source=None, others=()):
    """Load an MLFF with library banners (warp prints on import, CHGNet on load) kept out of
    the terminal: captured and logged at DEBUG (``-v`` shows them).

    With ``structure``, its elements are first checked against the model's element list
    (read without loading the model), so an unsupported element is one error line naming
    ``source`` before any work; so are those of ``others`` (``(structure, source)`` pairs,
    e.g. reference phases), without the size check.
    """
    from screening.mlff.registry import check_model_name, load_model, unsupported_elements
    from screening.settings import get_settings

    name = check_model_name(name or get_settings().default_model)
    if structure is not None:
        check_cell_size(structure, source or "structure")
    for s, src in [(structure, source), *others] if structure is not None else others:
        if missing := unsupported_elements(name, {el.symbol for el in s.composition}):
            raise ScreeningInputError(
                f"{src or 'structure'}: element(s) {', '.join(missing)} not supported by "
                f"model {name!r}"
            )
    banner = io.StringIO()
    with contextlib.redirect_stdout(banner):
        model = load_model(name)
    for line in banner.getvalue().splitlines():
        logging.getLogger(__name__).debug("%s", line)
    return model


PROGRESS_LOGGER = "screening.progress"


def setup_logging(verbose: bool) -> None:
    """Configure logging once, from the CLI entry point (never at import)."""
    logging.basicConfig(
        level=logging.WARNING,  # third-party INFO lines stay out, with or without -v
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("screening").setLevel(logging.INFO if verbose else logging.WARNING)
    # progress of long single commands (reference relaxations, FERE fit): always shown,
    # as plain lines on stderr (stdout stays the result, e.g. --json)
    progress = logging.getLogger(PROGRESS_LOGGER)
    progress.setLevel(logging.INFO)
    progress.propagate = False
    if not progress.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        progress.addHandler(handler)
