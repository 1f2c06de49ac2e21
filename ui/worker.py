"""The session worker: one thread that owns the ``LabState`` and runs jobs one at a time.

The memory is not thread-safe, so only this thread touches it. Jobs (``ui.jobs``) are plain
functions or ``Progress`` generators; the worker advances a generator one report per turn of its
loop, so short jobs (teleop, node details, queries) run between two steps of a long one
(exploration) and a cancel or a pace change takes effect at once.

The thread is a Python ``threading.Thread``, not a ``QThread`` event loop: Open3D objects freed in
a PySide slot re-acquire the GIL through pybind11 with a second thread state and deadlock. Viewers get immutable
snapshots, throttled: camera frames at most 20 Hz, map snapshots at most 5 Hz.

Signals carry Python objects across threads (queued connections); nothing here blocks the GUI.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.progress import Cancelled, CancelToken, Progress
from ui.lab_state import LabState

log = logging.getLogger(__name__)

__all__ = ["Job", "SessionWorker", "QtSessionController", "run_in_background"]

_ids = itertools.count(1)

# software GL (Xvfb, VMs) redraws 50k points in ~20-40 ms on the GUI thread: 5 map updates a second
# keep it responsive; camera frames are cheap
FRAME_INTERVAL = 1.0 / 20.0
MAP_INTERVAL = 1.0 / 5.0
PROGRESS_INTERVAL = 1.0 / 20.0


@dataclass(eq=False)
class Job:
    """One unit of work for the worker.

    ``exclusive`` jobs run one after another; the others run between two steps of the exclusive
    job in progress. ``paced`` jobs wait ``1 / speed`` seconds between steps (exploration).
    """

    kind: str
    fn: Callable[..., Any]
    kwargs: dict = field(default_factory=dict)
    title: str = ""
    exclusive: bool = True
    paced: bool = False
    changes_session: bool = False
    cancel: CancelToken = field(default_factory=CancelToken)
    id: int = field(default_factory=lambda: next(_ids))
    error_trace: str = ""


class SessionWorker(QObject):
    """Runs jobs on its own thread; see the module docstring."""

    job_started = Signal(object)  # Job
    job_progress = Signal(object, object)  # Job, Progress (without its snapshot)
    job_finished = Signal(object, object)  # Job, result
    job_failed = Signal(object, object)  # Job, exception (job.error_trace has the traceback)
    job_cancelled = Signal(object)  # Job
    frame_ready = Signal(object)  # SessionFrame
    map_ready = Signal(object)  # MapSnapshot

    def __init__(self, state: LabState) -> None:
        super().__init__()
        self.state = state
        self.speed = 0.0  # steps per second for paced jobs; 0 = as fast as possible
        self._cond = threading.Condition()
        self._queue: deque[Job] = deque()
        self._quick: deque[Job] = deque()
        self._current: Job | None = None
        self._gen: Generator | None = None
        self._last_frame = self._last_map = self._last_progress = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="session-worker", daemon=True)

    # ------------------------------------------------------------------ any thread
    def start(self) -> None:
        self._thread.start()

    def submit(self, job: Job) -> None:
        with self._cond:
            if self._closed:
                return
            (self._queue if job.exclusive else self._quick).append(job)
            self._cond.notify_all()

    def set_speed(self, steps_per_second: float) -> None:
        with self._cond:
            self.speed = max(0.0, float(steps_per_second))
            self._cond.notify_all()

    def stop(self, timeout: float = 20.0) -> bool:
        """Cancel every job, close the session on the worker thread and end it; False on timeout."""
        with self._cond:
            self._closed = True
            for job in [*self._queue, *self._quick] + ([self._current] if self._current else []):
                job.cancel.cancel()
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # ------------------------------------------------------------------ the worker thread
    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._closed or self._quick or self._queue or self._current is not None):
                    self._cond.wait()
                if self._closed:
                    break
                quick = list(self._quick)
                self._quick.clear()
                start = self._queue.popleft() if self._current is None and self._queue and not quick else None
            for job in quick:
                self._run_quick(job)
            if start is not None:
                self._start(start)
            elif self._current is not None and not quick:
                self._advance()
                self._pace()
        self._shutdown()

    def _pace(self) -> None:
        job = self._current
        if job is None or not job.paced or self.speed <= 0:
            return
        deadline = time.monotonic() + 1.0 / self.speed
        with self._cond:  # a new short job or a speed change ends the wait early
            while not (self._closed or self._quick) and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
                if self.speed <= 0:
                    break

    def _shutdown(self) -> None:
        if self._gen is not None:
            try:
                self._gen.close()
            except Exception:  # noqa: BLE001 - closing at exit must not stop the rest
                log.exception("closing the running job")
        self._current = self._gen = None
        try:
            self.state.close()  # the memory checkpoints on close
        except Exception:  # noqa: BLE001
            log.exception("closing the session at exit")

    def _run_quick(self, job: Job) -> None:
        self.job_started.emit(job)
        try:
            out = job.fn(self.state, job.cancel, **job.kwargs)
            if isinstance(out, Generator):
                while True:
                    try:
                        next(out)
                    except StopIteration as stop:
                        out = stop.value
                        break
        except Exception as e:  # noqa: BLE001 - reported to the GUI
            self._fail(job, e)
            return
        self.job_finished.emit(job, out)
        self._emit_views(force=True)

    def _start(self, job: Job) -> None:
        if job.cancel.cancelled:
            self.job_cancelled.emit(job)
            return
        self._current = job
        self.job_started.emit(job)
        try:
            out = job.fn(self.state, job.cancel, **job.kwargs)
        except Exception as e:  # noqa: BLE001
            self._fail(job, e)
            return
        if isinstance(out, Generator):
            self._gen = out
        else:
            self._done(job, out)

    def _advance(self) -> None:
        job, gen = self._current, self._gen
        assert job is not None and gen is not None
        try:
            p = next(gen)
        except StopIteration as stop:
            self._done(job, stop.value)
            return
        except Exception as e:  # noqa: BLE001
            self._fail(job, e)
            return
        now = time.perf_counter()
        if isinstance(p, Progress) and now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            self.job_progress.emit(job, Progress(p.stage, p.done, p.total, p.message))
        self._emit_views()

    def _done(self, job: Job, result: Any) -> None:
        self._current = self._gen = None
        if job.cancel.cancelled and result is None:
            self.job_cancelled.emit(job)
        else:
            self.job_finished.emit(job, result)
        self._emit_views(force=True)

    def _fail(self, job: Job, e: BaseException) -> None:
        if job is self._current:
            self._current = self._gen = None
        if isinstance(e, Cancelled):
            self.job_cancelled.emit(job)
            self._emit_views(force=True)
            return
        job.error_trace = traceback.format_exc()
        log.error("%s failed: %s\n%s", job.title or job.kind, e, job.error_trace)
        self.job_failed.emit(job, e)
        self._emit_views(force=True)

    def _emit_views(self, force: bool = False) -> None:
        now = time.perf_counter()
        try:
            if force or now - self._last_frame >= FRAME_INTERVAL:
                frame = self.state.frame()
                if frame is not None:
                    self.frame_ready.emit(frame)
                self._last_frame = now
            if force or now - self._last_map >= MAP_INTERVAL:
                snap = self.state.map_snapshot(force=force)
                if snap is not None:
                    self.map_ready.emit(snap)
                self._last_map = time.perf_counter()
        except Exception:  # noqa: BLE001 - a drawing problem must not stop the job
            log.exception("building a snapshot")


class QtSessionController(QObject):
    """The GUI side of the worker: starts it, submits jobs, tracks the running ones."""

    def __init__(self, state: LabState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.worker = SessionWorker(state)
        self.running: dict[int, Job] = {}
        self.worker.job_started.connect(self._on_job_start)
        for sig in (self.worker.job_finished, self.worker.job_failed):
            sig.connect(lambda j, *_: self.running.pop(j.id, None))
        self.worker.job_cancelled.connect(lambda j: self.running.pop(j.id, None))
        self.worker.start()
        self._stopped = False

    def _on_job_start(self, job: Job) -> None:
        self.running[job.id] = job

    def submit(self, kind: str, fn: Callable[..., Any], *, title: str = "", exclusive: bool = True,
               paced: bool = False, changes_session: bool = False, **kwargs: Any) -> Job:
        """Queue ``fn(state, cancel, **kwargs)`` on the worker; returns the job (for cancelling)."""
        job = Job(kind, fn, kwargs, title or kind, exclusive, paced, changes_session)
        self.worker.submit(job)
        return job

    def set_speed(self, steps_per_second: float) -> None:
        self.worker.set_speed(steps_per_second)

    def cancel_all(self) -> None:
        for job in list(self.running.values()):
            job.cancel.cancel()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Cancel the jobs, close the session on the worker thread and end the thread."""
        if self._stopped:
            return
        self._stopped = True
        if not self.worker.stop(timeout_s):
            log.error("the session worker did not stop in %.0f s", timeout_s)


class _Call(QObject):
    done = Signal(object, object)  # result, exception


class _Runnable(QRunnable):
    def __init__(self, fn: Callable[[], Any], call: _Call) -> None:
        super().__init__()
        self.fn, self.call = fn, call

    def run(self) -> None:
        try:
            out = self.fn()
        except Exception as e:  # noqa: BLE001 - handed to the callback
            log.warning("background call failed: %s", e)
            self.call.done.emit(None, e)
            return
        self.call.done.emit(out, None)


_keep: set[_Call] = set()


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any, BaseException | None], None],
                      parent: QObject | None = None) -> None:
    """Run ``fn`` on the global thread pool (work that does not touch the session, e.g. testing an
    LLM server) and call ``on_done(result, error)`` on the GUI thread."""
    call = _Call(parent)
    _keep.add(call)

    def finish(result: Any, error: BaseException | None) -> None:
        _keep.discard(call)
        on_done(result, error)

    call.done.connect(finish)
    QThreadPool.globalInstance().start(_Runnable(fn, call))
