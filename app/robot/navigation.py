"""Drive the robot to a remembered goal: plan on its own map, follow, replan, report SPL.

``drive_to(session, goal, floor)`` plans with A* on the robot's own occupancy map (the one it
built while exploring, possibly restored from the memory file), across floors through the
stairs it knows, and follows the path with the simulator's actions, remembering what it sees
on the way. Success means ending within ``success_radius`` of the goal; SPL uses the
ground-truth shortest path, which only the evaluation reads.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.progress import CancelToken, Progress
from sim.errors import NavigationError, UnreachableGoal
from sim.follower import FollowerConfig, PathFollower
from sim.planner import Path, Planner, PlannerConfig, densify
from sim.types import Pose

log = logging.getLogger(__name__)

__all__ = ["NavResult", "drive_to", "shortest_path_length", "spl"]


@dataclass
class NavResult:
    """Outcome of one drive to a goal."""

    goal: tuple[float, float, float]
    goal_floor: int
    success: bool
    final_distance: float  # metres from the final pose to the goal (same floor; inf otherwise)
    path_length: float  # metres driven
    shortest_length: float | None  # ground-truth shortest path from the start (None: unknown)
    steps: int
    seconds: float
    stop_reason: str
    start: Pose
    final: Pose
    planned: list[tuple[float, float, int]] = field(default_factory=list)
    trajectory: list[Pose] = field(default_factory=list)

    @property
    def spl(self) -> float | None:
        return spl(self.success, self.shortest_length, self.path_length)

    def to_dict(self) -> dict:
        return {
            "goal": [round(v, 3) for v in self.goal], "goal_floor": self.goal_floor, "success": self.success,
            "final_distance_m": round(self.final_distance, 3) if math.isfinite(self.final_distance) else None,
            "path_length_m": round(self.path_length, 3),
            "shortest_length_m": None if self.shortest_length is None else round(self.shortest_length, 3),
            "spl": None if self.spl is None else round(self.spl, 4), "steps": self.steps,
            "seconds": round(self.seconds, 3), "stop_reason": self.stop_reason,
            "final_pose": [round(v, 3) for v in self.final.to_list()],
        }


def spl(success: bool, shortest: float | None, taken: float) -> float | None:
    """Success weighted by path length (Anderson et al., 2018): S * l / max(p, l)."""
    if shortest is None:
        return None
    if not success:
        return 0.0
    if shortest <= 1e-6:
        return 1.0
    return float(shortest / max(taken, shortest))


def shortest_path_length(navmap, start: Pose, goal: Sequence[float], floor: int, *,
                         tolerance: float = 1.0) -> float | None:
    """Ground-truth shortest path length from ``start`` to the goal region (None when unreachable)."""
    if navmap is None:
        return None
    try:
        path = Planner(navmap, PlannerConfig(snap_tolerance=tolerance)).plan(start, (goal[0], goal[1]), floor)
    except (UnreachableGoal, NavigationError, KeyError):
        return None
    # the success region is the disc of ``tolerance`` around the goal: stop where the path enters it
    total = 0.0
    for seg in path.segments:
        pts = densify(seg.points, 0.02)
        steps = np.linalg.norm(np.diff(pts, axis=0), axis=1) if len(pts) > 1 else np.zeros(0)
        if seg.floor == floor:
            inside = np.hypot(pts[:, 0] - goal[0], pts[:, 1] - goal[1]) <= tolerance
            if inside.any():
                k = int(np.argmax(inside))
                return total + float(steps[:k].sum())
        total += float(steps.sum())
    return total


def _planner(session, success_radius: float) -> Planner:
    # goals are object centres, often inside furniture or on a wall: stand at the nearest free spot
    snap = max(1.0, success_radius + 0.5)
    return Planner(session.robot_grid(), PlannerConfig(snap_tolerance=snap, preferred_clearance=0.4))


def _distance(pose: Pose, goal: Sequence[float], floor: int) -> float:
    if pose.floor != floor:
        return math.inf
    return math.hypot(pose.x - goal[0], pose.y - goal[1])


def drive_to(session, goal: Sequence[float], floor: int, *, success_radius: float = 1.0, max_steps: int = 800,
             replan_every: int = 15, cancel: CancelToken | None = None
             ) -> Generator[Progress, None, NavResult]:
    """Plan and drive ``session``'s robot to ``goal`` (x, y[, z]) on ``floor``."""
    t0 = time.perf_counter()
    g = (float(goal[0]), float(goal[1]), float(goal[2]) if len(goal) > 2 else 0.0)
    start = session.observation.pose
    shortest = shortest_path_length(session.sim.navmap, start, g, floor, tolerance=success_radius)
    follower = PathFollower(FollowerConfig.from_sim(session.sim.config))
    traj = [start]
    driven = 0.0
    steps = 0
    reason = "step budget"
    planned: list[tuple[float, float, int]] = []
    since_plan = replan_every

    def plan() -> Path:
        path = _planner(session, success_radius).plan(session.observation.pose, (g[0], g[1]), floor)
        planned.clear()
        planned.extend((float(x), float(y), seg.floor) for seg in path.segments for x, y in seg.points)
        follower.set_path(path)
        return path

    try:
        plan()
    except UnreachableGoal as e:
        return NavResult(g, floor, False, _distance(start, g, floor), 0.0, shortest, 0, time.perf_counter() - t0,
                         f"unreachable: {e}", start, start, [], traj)
    yield Progress("navigate", 0, max_steps, "planned", list(planned))
    collided = False
    while steps < max_steps:
        if cancel is not None and cancel.cancelled:
            reason = "cancelled"
            break
        pose = session.observation.pose
        if _distance(pose, g, floor) <= success_radius * 0.8 and follower.status == "arrived":
            reason = "arrived"
            break
        action = follower.act(pose, collided)
        if action is None or since_plan >= replan_every:
            if follower.status == "arrived" and _distance(pose, g, floor) <= success_radius:
                reason = "arrived"
                break
            try:
                plan()
            except UnreachableGoal as e:
                reason = f"unreachable: {e}"
                break
            since_plan = 0
            action = follower.act(pose, collided)
            if action is None:
                reason = "arrived" if _distance(pose, g, floor) <= success_radius else f"stuck ({follower.status})"
                break
        prev = pose
        obs = session.step(action)
        collided = obs.collided
        steps += 1
        since_plan += 1
        traj.append(obs.pose)
        if obs.pose.floor == prev.floor:
            driven += math.hypot(obs.pose.x - prev.x, obs.pose.y - prev.y)
        if steps % 10 == 0:
            yield Progress("navigate", steps, max_steps, f"{_distance(obs.pose, g, floor):.1f} m to go",
                           list(planned))
    final = session.observation.pose
    d = _distance(final, g, floor)
    res = NavResult(g, floor, d <= success_radius, d, driven, shortest, steps, time.perf_counter() - t0, reason,
                    start, final, list(planned), traj)
    log.info("navigate: %s after %d steps, %.2f m from the goal, SPL %s", reason, steps, d, res.spl)
    return res
