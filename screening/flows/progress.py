"""Progress of a local campaign run: rich bars on a terminal, plain lines elsewhere.

``campaign run > log`` (make, nohup, a batch script) gets no terminal: rich would draw its
bars only when the run ends. :class:`PlainProgress` writes one flushed line per finished
chunk (and per 10 % of a long stage), with elapsed time and the stage's own ETA.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class _Task:
    description: str
    total: float
    completed: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    said_pct: int = -1
    said_completed: float = -1.0


class _Console:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def print(self, line: str, **_: object) -> None:
        self.stream.write(f"{line}\n")
        self.stream.flush()


class PlainProgress:
    """The part of ``rich.progress.Progress`` a campaign run uses, as plain lines.

    Parameters
    ----------
    stream : TextIO
        Where lines go (default: stdout, flushed after every line).
    step_pct : int
        Within a chunk, a line each time the stage passes another ``step_pct`` %.
    """

    def __init__(self, stream: TextIO | None = None, step_pct: int = 10) -> None:
        self.stream = stream or sys.stdout
        self.console = _Console(self.stream)
        self.tasks: list[_Task] = []
        self.step_pct = step_pct

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float) -> int:
        """Start a stage; returns its task id."""
        self.tasks.append(_Task(description, float(total)))
        self._say(len(self.tasks) - 1, force=True)
        return len(self.tasks) - 1

    def advance(self, task: int, n: float = 1) -> None:
        """Some work of the current chunk is done (a line per ``step_pct`` %)."""
        self.tasks[task].completed += n
        self._say(task)

    def update(self, task: int, *, completed: float) -> None:
        """A chunk is done: always a line."""
        self.tasks[task].completed = completed
        self._say(task, force=True)

    def _say(self, task: int, force: bool = False) -> None:
        t = self.tasks[task]
        pct = int(100 * t.completed / t.total) if t.total else 100
        if t.completed == t.said_completed or (
            not force and pct // self.step_pct == t.said_pct // self.step_pct
        ):
            return  # nothing new to say
        t.said_pct, t.said_completed = pct, t.completed
        elapsed = time.perf_counter() - t.started
        eta = elapsed * (t.total - t.completed) / t.completed if t.completed else None
        eta_text = "ETA unknown" if eta is None else f"ETA {eta:.0f} s"
        self.console.print(
            f"{t.description}: {t.completed:g}/{t.total:g} ({pct} %), {elapsed:.0f} s, {eta_text}"
        )
