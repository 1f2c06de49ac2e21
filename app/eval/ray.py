"""Worlds of an evaluation as Ray tasks: a local Ray by default, a cluster when an address is given.

``run_on_ray(jobs, workers=N)`` starts a private local Ray with ``N`` CPUs (no dashboard), runs
one task per world (``app.eval.harness.evaluate_world``, one CPU each), reports progress as worlds
finish and returns the results in job order, so the table is the serial run's. With
``address`` it joins a running cluster (``ray start --head`` ...) and ships this checkout as the
tasks' working directory; the cluster's nodes need the project's Python packages.

Local workers run at the driver's priority (Ray's default lowers it by 15 nice levels). Each
task runs with one BLAS/torch thread (``OMP_NUM_THREADS=1``), as the serial run's encoder
does, so the embeddings - and with them every ranking - are bit-identical.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from app.eval.suites import EvalError, WorldJob
from app.eval.world import UNITS, WorldResult
from app.progress import Cancelled, CancelToken, Progress, drain
from sim.errors import BackendUnavailable, LabError

log = logging.getLogger(__name__)

__all__ = ["run_on_ray", "world_task"]

ROOT = Path(__file__).resolve().parents[2]
_EXCLUDES = [".venv/", ".git/", "out/", "results/", ".hypothesis/", ".pytest_cache/", ".ruff_cache/", "**/__pycache__/",
             "*.db", "*.db-wal", "*.db-shm"]
_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def world_task(job: WorldJob) -> list[WorldResult]:
    """Evaluate one world in the job's perception modes (the body of a Ray task; also callable in-process)."""
    from app.eval.world import evaluate_world

    return drain(evaluate_world(job))


def _init(ray: Any, workers: int, address: str | None) -> None:
    if address:
        env = dict(_ENV)
        ray.init(address=address, log_to_driver=False,
                 runtime_env={"working_dir": str(ROOT), "excludes": _EXCLUDES, "env_vars": env})
        return
    path = os.environ.get("PYTHONPATH", "")
    env = {**_ENV, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}
    # Ray lowers its workers' priority by 15 nice levels by default: on a busy machine they would
    # starve beside the driver and other jobs, and run slower than the serial evaluation
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
             runtime_env={"env_vars": env}, _system_config={"worker_niceness": 0})


def _failure(job: WorldJob, e: Exception) -> LabError:
    cause = getattr(e, "cause", None)
    if isinstance(cause, LabError):
        return type(cause)(f"{job.world.spec}: {cause}")
    if isinstance(cause, Cancelled):
        return EvalError("cancelled")
    what = f"{cause.__class__.__name__}: {cause}" if cause is not None else str(e).splitlines()[0]
    return EvalError(f"world {job.world.spec} failed on Ray ({what})")


def run_on_ray(jobs: Sequence[WorldJob], *, workers: int = 2, address: str | None = None,
               cancel: CancelToken | None = None) -> Generator[Progress, None, list[list[WorldResult]]]:
    """Run ``jobs`` as Ray tasks, longest exploration first; yields ``Progress`` (``UNITS`` per
    finished world), returns the results in job order. Starts (and stops) a local Ray unless one is running or
    ``address`` is set."""
    try:
        import ray
        from ray.exceptions import RayError, RayTaskError
    except ImportError:
        raise BackendUnavailable("--workers > 1 and --ray-address need Ray: pip install 'ray==2.60.0'") from None
    total = UNITS * len(jobs)
    started = False
    if not ray.is_initialized():
        yield Progress("eval", 0, total, "starting Ray" if not address else f"connecting to Ray at {address}")
        try:
            _init(ray, workers, address)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise EvalError(f"cannot start Ray{f' at {address}' if address else ''}: {e}") from None
        started = True
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(world_task)
        # the longest worlds (most exploration steps) first: the wall time is then about the longest
        # world's, not the longest plus whatever was queued behind it; results stay in job order
        first = sorted(range(len(jobs)), key=lambda i: (-jobs[i].world.steps, i))
        submitted = {i: task.remote(jobs[i]) for i in first}
        refs = [submitted[i] for i in range(len(jobs))]
        by_ref = dict(zip(refs, jobs, strict=True))
        pending = list(refs)
        finished = 0
        yield Progress("eval", 0, total, f"{len(jobs)} worlds on Ray ({workers} workers)")
        while pending:
            if cancel is not None and cancel.cancelled:
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise Cancelled()
            done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for ref in done:
                job = by_ref[ref]
                try:
                    ray.get(ref)
                except RayTaskError as e:
                    raise _failure(job, e) from None
                except RayError as e:
                    raise EvalError(f"world {job.world.spec} failed on Ray: {e}") from None
                finished += 1
                yield Progress("eval", UNITS * finished, total,
                               f"{finished}/{len(jobs)} worlds done on Ray (last: {job.world.spec})")
        return list(ray.get(refs))
    finally:
        if started:
            ray.shutdown()
