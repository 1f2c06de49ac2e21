"""The app features the GUI calls into, each behind one small function (no Qt here).

Querying (``app.query``), navigation (``app.robot.navigation``) and scenario runs (``app.eval.scenario``)
are separate ``app`` modules. ``available(feature)`` tells whether one can be imported (the GUI
disables its control otherwise, with ``missing(feature)`` as the tooltip); ``ask``,
``drive`` and ``scenario`` adapt each one's API to what the GUI jobs need.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.progress import CancelToken, Progress
from sim.errors import LabError

log = logging.getLogger(__name__)

__all__ = ["FEATURES", "FeatureUnavailable", "available", "missing", "ask", "warm_query", "drive", "scenario",
           "QueryParams", "report_path"]

# feature -> (module, what the control needs, in words)
FEATURES: dict[str, tuple[str, str]] = {
    "query": ("app.query", "asking needs app/query.py (answer_query)"),
    "navigation": ("app.robot.navigation", "'Go there' needs app/robot/navigation.py (drive_to)"),
    "scenario": ("app.eval.scenario", "scenario runs need app/eval/scenario.py (run_scenario)"),
}


class FeatureUnavailable(LabError):
    """An app feature whose module is not installed in this checkout."""


def available(feature: str) -> bool:
    """Whether the module behind ``feature`` can be imported."""
    module, _ = FEATURES[feature]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing(feature: str) -> str | None:
    """None when ``feature`` is available, else one line saying what it needs (a tooltip)."""
    return None if available(feature) else FEATURES[feature][1]


def _module(feature: str):
    if not available(feature):
        raise FeatureUnavailable(FEATURES[feature][1])
    return importlib.import_module(FEATURES[feature][0])


@dataclass(frozen=True)
class QueryParams:
    """What the query pane asks: text and/or an image, and how to answer."""

    text: str = ""
    image: np.ndarray | None = None
    retriever: str = "forest"
    generator: str = "template"
    top_k: int = 5


def ask(memory: Any, params: QueryParams, *, pose: Any = None, llm: Any = None,
        cancel: CancelToken | None = None) -> dict:
    """Answer ``params`` from ``memory`` with ``app.query.answer_query``; returns the response JSON
    (``{"query", "query_type", "answer", "goal", "goal_floor", "latency_ms", "hits": [...], ...}``)."""
    mod = _module("query")
    from memory.retrieval import RobotPose

    robot = RobotPose(float(pose.x), float(pose.y), int(pose.floor)) if pose is not None else None
    request = mod.QueryRequest(text=params.text or None, image=params.image, retriever=params.retriever,
                               generator=params.generator, top_k=params.top_k, robot=robot)
    out = mod.answer_query(memory, request, llm=llm, cancel=cancel).to_json()
    out.setdefault("hits", [])
    return out


def warm_query(memory: Any) -> None:
    """Build the query engine of ``memory`` now (analyser, index), so the first answer is quick."""
    if available("query"):
        _module("query").engine_for(memory).warm()


def drive(session: Any, goal: tuple[float, float, float], floor: int, *,
          cancel: CancelToken | None = None) -> Generator[Progress, None, Any]:
    """Drive the robot to ``goal`` with ``app.robot.navigation.drive_to``; progress snapshots carry the
    planned route as ``(x, y, floor)`` points and the result is a ``NavResult``."""
    mod = _module("navigation")
    return mod.drive_to(session, goal, floor, cancel=cancel)


def scenario(path: str | Path, out_dir: str | Path | None, *,
             cancel: CancelToken | None = None) -> Generator[Progress, None, Any]:
    """Run a scenario file with ``app.eval.scenario.run_scenario``; the result names a report file."""
    mod = _module("scenario")
    return mod.run_scenario(path, out_dir, cancel)


def report_path(result: Any) -> Path | None:
    """The report file a scenario result names (``report_path``, ``report`` or ``path``), if any."""
    for name in ("report_path", "report", "path", "html", "markdown"):
        v = getattr(result, name, None)
        if isinstance(v, (str, Path)) and str(v):
            return Path(v)
    if isinstance(result, Mapping):
        for name in ("report_path", "report", "path"):
            if isinstance(result.get(name), (str, Path)):
                return Path(result[name])
    return None

