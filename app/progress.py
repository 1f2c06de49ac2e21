"""Progress reports and cancellation for long work.

Long work in ``app`` is written as generators that yield ``Progress`` and check a
``CancelToken``, so the GUI (a Qt worker) and the CLI (a ``rich`` progress bar on a terminal, plain
lines in logs and CI) run the same code.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

__all__ = ["Progress", "CancelToken", "Cancelled", "run_with_progress", "progress_style", "drain"]

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """One report: ``done`` of ``total`` units of ``stage``; ``snapshot`` is optional state for viewers."""

    stage: str
    done: int = 0
    total: int | None = None
    message: str = ""
    snapshot: Any = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, max(0.0, self.done / self.total))


class Cancelled(Exception):
    """Raised inside a job when its ``CancelToken`` was set."""


class CancelToken:
    """A thread-safe flag a job checks between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def drain(gen: Generator[Progress, None, T]) -> T:
    """Run a progress generator to the end and return its result (``return`` value)."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def progress_style(stream: TextIO | None = None) -> str:
    """``bar`` on an interactive terminal, ``lines`` when the output is a file, a pipe or CI (``CI`` set).

    ``LAB_PROGRESS=bar|lines|off`` in the environment chooses instead (``off``: no progress at all).
    """
    chosen = os.environ.get("LAB_PROGRESS", "").strip().lower()
    if chosen in ("bar", "lines", "off"):
        return chosen
    stream = stream if stream is not None else sys.stderr
    interactive = hasattr(stream, "isatty") and stream.isatty()
    return "bar" if interactive and not os.environ.get("CI") else "lines"


def run_with_progress(gen: Generator[Progress, None, T], *, show: bool = True, desc: str = "",
                      stream: TextIO | None = None, every_s: float = 15.0) -> T:
    """Run a progress generator and return its result, reporting on ``stream`` (stderr).

    A ``rich`` bar per stage on a terminal; otherwise plain lines - one when a stage starts, one at
    most every ``every_s`` seconds or 10 % of the stage, one when it ends. ``show=False``: silent.
    """
    stream = stream if stream is not None else sys.stderr
    style = progress_style(stream) if show else "off"
    if style == "off":
        return drain(gen)
    if style == "bar":
        return _run_with_bar(gen, desc, stream)
    return _run_with_lines(gen, desc, stream, every_s)


def _run_with_bar(gen: Generator[Progress, None, T], desc: str, stream: TextIO) -> T:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[note]}"))
    with Bar(*columns, console=Console(file=stream), transient=False) as bar:
        task, stage = None, None
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                return stop.value
            if p.stage != stage:
                stage = p.stage
                task = bar.add_task(desc or p.stage, total=p.total, note="")
            bar.update(task, completed=p.done, total=p.total, note=p.message or "")


def _run_with_lines(gen: Generator[Progress, None, T], desc: str, stream: TextIO, every_s: float) -> T:
    stage: str | None = None
    last_t, last_frac = 0.0, -1.0
    last: Progress | None = None
    printed: Progress | None = None

    def say(p: Progress) -> None:
        name = desc or p.stage
        if desc and p.stage and p.stage != desc:
            name = f"{desc}: {p.stage}"
        done = f"{p.done}/{p.total}" if p.total else str(p.done)
        pct = f" ({100 * p.done / p.total:.0f}%)" if p.total else ""
        note = f" - {p.message}" if p.message else ""
        print(f"{name} {done}{pct}{note}", file=stream, flush=True)

    try:
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                return stop.value
            now, frac = time.monotonic(), p.fraction
            if p.stage != stage:
                if last is not None and last is not printed:
                    say(last)  # the previous stage's final state
                stage, last_t, last_frac = p.stage, now, frac if frac is not None else 0.0
                say(p)
                printed = p
            elif now - last_t >= every_s or (frac is not None and frac - last_frac >= 0.1) or \
                    (frac is not None and frac >= 1.0 > last_frac):
                say(p)
                printed, last_t, last_frac = p, now, frac if frac is not None else last_frac
            last = p
    finally:
        if last is not None and last is not printed:
            say(last)


def iterate(gen: Generator[Progress, None, T]) -> Iterator[Progress]:
    """Iterate the reports of a progress generator (the result is discarded)."""
    yield from gen
