"""What the window says about finished work, in one line each (no Qt here).

Every figure is computed once, here, from the job's own result: the status bar's result line and
the activity log show the same sentence. Exploration says where it stopped and why; navigation
says how it ended, how far the robot drove and how efficient the drive was (SPL, Anderson et al.
2018). Its distance to the goal is the straight-line figure of ``memory.retrieval.distance_to_goal``,
the one the answer ("about 8.2 m from you") and the drive's progress ("8.2 m from the goal, 9.7 m
of route to drive", ``app.robot.navigation.progress_line``) give.
"""
from __future__ import annotations

import math
import re
from typing import Any

from app.robot.navigation import CLOSEST_FREE_SPOT

__all__ = ["explore_outcome", "nav_outcome", "world_fields", "plain_name", "is_internal_id"]

_ID = re.compile(r"^(cluster|place|obj)/")


def is_internal_id(text: str) -> bool:
    """Whether ``text`` is a memory node id (``cluster/4/0``, ``place/17``, ``obj/chair/3``)."""
    return bool(_ID.match(text.strip()))


def plain_name(name: str, level_name: str = "", kind: str = "") -> str:
    """A node's name for people: a cluster not yet summarised is named by its id in the memory; say
    what it is instead ("room (not summarised yet)")."""
    if name and not is_internal_id(name):
        return name
    what = level_name or {"place": "view", "object": "object"}.get(kind, "region")
    return f"{what} (not summarised yet)" if kind not in ("place", "object") else what

def explore_outcome(summary: Any, budget: int | None = None) -> str:
    """"Exploration paused after 562 of 2000 steps: 44 objects, 6 rooms, coverage 62%, 12.3 m driven"."""
    ep = summary.episode
    reason = str(ep.stop_reason)
    steps = f"{ep.steps} of {budget} steps" if budget else f"{ep.steps} steps"
    if reason == "cancelled":
        lead = f"Exploration paused after {steps}"
    elif reason == "step budget":
        lead = f"Exploration used its whole step budget ({steps})"
    elif reason == "policy finished":
        lead = f"Exploration finished after {steps}: nothing left to explore"
    else:
        lead = f"Exploration stopped after {steps} ({reason})"
    stats = summary.stats
    parts = [f"{stats.get('objects', 0)} objects", f"{stats.get('rooms', 0)} rooms"]
    cov = getattr(ep, "coverage", None)
    frac = getattr(cov, "total", None) if cov is not None else None
    if frac is not None:
        parts.append(f"coverage {frac:.0%}")
    parts.append(f"{ep.distance:.1f} m driven")
    return f"{lead}; " + ", ".join(parts)


def _nav_reason(result: Any) -> str:
    reason = str(result.stop_reason)
    if reason.startswith("stuck"):
        return "stuck " + reason[len("stuck"):].strip()
    return reason


def nav_outcome(result: Any) -> str:
    """"Arrived 0.6 m from the goal after 11.3 m (shortest 10.2 m, SPL 0.90)" or why it did not."""
    d = result.final_distance
    where = f"{d:.1f} m from the goal" if math.isfinite(d) else "on another floor than the goal"
    if result.success:
        lead = f"Arrived {where}"
    elif result.stop_reason == CLOSEST_FREE_SPOT:
        # the goal is inside or behind something: no free spot within the success radius
        lead = f"Stopped at the closest free spot, {where}"
    else:
        lead = f"Stopped {where}: {_nav_reason(result)}"
    drive = f" after driving {result.path_length:.1f} m in {result.steps} steps"
    spl = result.spl
    if result.shortest_length is not None and spl is not None:
        drive += f" (shortest {result.shortest_length:.1f} m, SPL {spl:.2f})"
    return lead + drive


def world_fields(spec: str) -> tuple[str, int | None, dict[str, int]] | None:
    """(world type, seed or None, other integer parameters) of a procedural scene spec such as
    ``office:seed=1,width=24``; None for a scene file, a habitat scene or a malformed spec."""
    from sim.errors import LabError
    from sim.spec import parse_spec

    try:
        parsed = parse_spec(spec)
    except LabError:
        return None
    if parsed.kind in ("file", "habitat"):
        return None
    params = {k: int(v) for k, v in parsed.params.items() if isinstance(v, int) and not isinstance(v, bool)}
    return parsed.kind, params.pop("seed", None), params
