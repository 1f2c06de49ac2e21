"""``launcher.py bench soak [--quick]``: a long exploration with checkpoints, then the file reopened.

The robot explores a large office (``office:seed=1,width=40,depth=30``) for 10,000 steps (``--quick``:
300 steps of a small house) through ``Session.explore`` - the same render / perceive / ingest loop and
checkpoints as ``explore`` and the GUI. When the frontier explorer has nothing left to see, a seeded
random walk keeps the robot moving, so every step still renders and ingests. At 1k, 5k and 10k steps it
records the process's peak and current RSS and the memory's node counts (growth should follow the nodes:
no leak in the loop). At the end the file is reopened read-only: its node counts and the answers to a few
questions must be identical to those of the memory that wrote it.
"""
from __future__ import annotations

import logging
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.types import Action, ActionKind, Observation

log = logging.getLogger(__name__)

__all__ = ["run_soak_bench", "soak", "RandomWalk"]

LARGE_OFFICE = "office:seed=1,width=40,depth=30"
QUICK_SCENE = "rooms:n=3"
MARKS = (1_000, 5_000, 10_000)
QUESTIONS = ("where is the printer?", "where can I sit?", "where is the kitchenette?", "where is a plant?",
             "where did you see a desk?")


class RandomWalk:
    """Forward until blocked, then a random turn (seeded); never finishes, so a soak keeps rendering."""

    stop_reason = ""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._last: tuple[float, float] | None = None

    def act(self, obs: Observation) -> Action | None:
        here = (round(obs.pose.x, 3), round(obs.pose.y, 3))
        blocked = self._last == here
        self._last = here
        if blocked or self._rng.random() < 0.1:
            return Action(self._rng.choice((ActionKind.TURN_LEFT, ActionKind.TURN_RIGHT)))
        return Action(ActionKind.FORWARD)


def _rss_mb() -> tuple[float, float | None]:
    """Peak RSS so far and the current RSS of this process, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            current = int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        current = None
    return peak, current


def _counts(memory: Any) -> dict[str, Any]:
    s = memory.stats()
    return {"places": s["places"], "objects": s["objects"], "rooms": s["rooms"], "floors": s["floors"],
            "levels": dict(s["levels"]), "edges": memory.graph.graph.number_of_edges()}


def _answers(memory: Any, config: Any) -> list[dict[str, Any]]:
    from app.query import QueryEngine, QueryRequest

    engine = QueryEngine(memory, config=config.query)
    out = []
    for q in QUESTIONS:
        d = engine.ask(QueryRequest(text=q, top_k=3)).to_json()
        out.append({"query": q, "answer": d["answer"], "hits": [h["id"] for h in d["hits"]]})
    return out


def soak(scene: str, steps: int, out: Path, *, marks: tuple[int, ...] = MARKS,
         report: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Explore ``scene`` for ``steps`` steps into ``out``, recording RSS and counts at ``marks`` (and at the
    end), then reopen ``out`` and compare counts and answers."""
    from app.config import LabConfig
    from app.progress import drain
    from app.session import Session
    from memory.core import EmbodiedMemory

    config = LabConfig()
    stops = sorted({m for m in marks if m < steps} | {steps})
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    explorer_done_at: int | None = None
    with Session(scene, config=config, memory_path=out) as session:
        walk = RandomWalk(seed=1)
        for stop in stops:
            while session.steps < stop:
                policy = walk if explorer_done_at is not None else None
                before = session.steps
                drain(session.explore(stop - session.steps, policy=policy))  # ends with refresh + checkpoint
                if session.steps == before or (policy is None and session.steps < stop):
                    explorer_done_at = session.steps if explorer_done_at is None else explorer_done_at
                    if session.steps == before and policy is walk:
                        raise RuntimeError(f"the robot cannot move in {scene} (stuck at step {before})")
            peak, current = _rss_mb()
            row = {"steps": session.steps, "seconds": round(time.perf_counter() - t0, 1),
                   "peak_rss_mb": round(peak, 1), "rss_mb": round(current, 1) if current is not None else None,
                   **_counts(session.memory)}
            rows.append(row)
            if report is not None:
                report(f"soak: {row}")
        written = {"counts": _counts(session.memory), "answers": _answers(session.memory, config)}
    file_mb = out.stat().st_size / 2**20
    with EmbodiedMemory.open(out, config.memory, create=False, readonly=True) as memory:
        reopened = {"counts": _counts(memory), "answers": _answers(memory, config)}
    return {
        "scene": scene, "steps": rows[-1]["steps"] if rows else 0, "explorer_finished_at": explorer_done_at,
        "marks": rows, "file_mb": round(file_mb, 2),
        "reopened_counts_identical": reopened["counts"] == written["counts"],
        "reopened_answers_identical": reopened["answers"] == written["answers"],
        "written": written, "reopened": reopened,
    }


def run_soak_bench(quick: bool = False) -> dict[str, Any]:
    """``bench soak``: 10,000 steps of a large office (``quick``: 300 steps of a small world)."""
    scene, steps = (QUICK_SCENE, 300) if quick else (LARGE_OFFICE, 10_000)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        result = soak(scene, steps, Path(tmp) / "soak.db", marks=(100, 200) if quick else MARKS,
                      report=lambda line: print(line, file=sys.stderr, flush=True))
    # the full answers are long; keep one line each in the table
    for side in ("written", "reopened"):
        result[side]["answers"] = [f"{a['query']} -> {a['answer'][:80]}" for a in result[side]["answers"]]
    return result
