"""Progress reports and cancellation for long work.

Long work in ``app`` is written as generators that yield ``Progress`` and check a
``CancelToken``, so the GUI (a Qt worker) and the CLI (a progress bar) run the same code.
"""
from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Progress", "CancelToken", "Cancelled", "run_with_progress", "drain"]

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


def run_with_progress(gen: Generator[Progress, None, T], *, show: bool = True, desc: str = "") -> T:
    """Run a progress generator in a terminal with a tqdm bar (stderr); return its result."""
    if not show:
        return drain(gen)
    from tqdm import tqdm

    bar = None
    stage = None
    try:
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                return stop.value
            if p.stage != stage:
                if bar is not None:
                    bar.close()
                stage = p.stage
                bar = tqdm(total=p.total, desc=desc or p.stage, unit="step", dynamic_ncols=True, leave=True)
            if bar is not None:
                if p.total is not None and bar.total != p.total:
                    bar.total = p.total
                bar.n = p.done
                if p.message:
                    bar.set_postfix_str(p.message, refresh=False)
                bar.refresh()
    finally:
        if bar is not None:
            bar.close()


def iterate(gen: Generator[Progress, None, T]) -> Iterator[Progress]:
    """Iterate the reports of a progress generator (the result is discarded)."""
    yield from gen
