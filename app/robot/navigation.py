"""Drive the robot to a remembered goal: plan on its own map, follow, replan, report SPL.

``drive_to(session, goal, floor)`` plans with A* on the robot's own occupancy map (the one it
built while exploring, possibly restored from the memory file), across floors through the
stairs it knows, and follows the path with the simulator's actions, remembering what it sees
on the way. Success means ending within ``success_radius`` of the goal (straight-line metres,
``memory.retrieval.distance_to_goal``, the figure answers give); SPL uses the ground-truth shortest
path, which only the evaluation reads. A goal with no free spot within that radius (the centre of
a bed, a window behind one) is driven to the closest free spot, and the result says so.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.progress import CancelToken, Progress
from memory.retrieval import distance_to_goal
from sim.errors import NavigationError, UnreachableGoal
from sim.follower import FollowerConfig, PathFollower
from sim.planner import Path, Planner, PlannerConfig, densify
from sim.types import Pose

log = logging.getLogger(__name__)

__all__ = ["NavResult", "drive_to", "plan_to_goal", "progress_line", "route_left", "shortest_path_length", "spl",
           "CLOSEST_FREE_SPOT", "BLOCKED"]


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
    goal_gap: float = 0.0  # metres from the goal to the end of the last route (its closest free spot)

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
            "seconds": round(self.seconds, 3), "stop_reason": self.stop_reason, "goal_gap_m": round(self.goal_gap, 3),
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


CLOSEST_FREE_SPOT = "closest free spot"
BLOCKED = "blocked by something the map does not show"
_BLOCKS_WITHOUT_PROGRESS = 3  # replans that bump into the same spot before the drive gives up


def plan_to_goal(grid, pose: Pose, goal: Sequence[float], floor: int, *, success_radius: float = 1.0,
                 arrive_tolerance: float = 0.25) -> Path:
    """A route on ``grid`` from ``pose`` to where ``goal`` counts as reached, or else as near as free space allows.

    Goals are object centres, often inside furniture or on a wall. The route ends at a free spot
    within ``success_radius - arrive_tolerance`` of the goal when one can be reached (preferring
    roomy spots there), so that a follower stopping within ``arrive_tolerance`` of its end is within
    ``success_radius``; otherwise at the free spot nearest the goal (within ``max(1, r + 0.5)`` m),
    and ``Path.snapped`` says how far from the goal that is. ``UnreachableGoal`` when neither exists.
    """
    inner = max(0.05, success_radius - arrive_tolerance)
    try:
        return Planner(grid, PlannerConfig(snap_tolerance=inner, preferred_clearance=0.4)).plan(pose, goal, floor)
    except UnreachableGoal:
        pass
    # no free spot that counts: the closest one (not the roomiest within reach, which may be 1.4 m away
    # when a free spot 0.3 m from the goal exists)
    snap = max(1.0, success_radius + 0.5)
    cfg = PlannerConfig(snap_tolerance=snap, preferred_clearance=0.4, goal_margin=0.0)
    return Planner(grid, cfg).plan(pose, goal, floor)


def route_left(planned: Sequence[tuple[float, float, int]], pose: Pose) -> float | None:
    """Metres still to drive along ``planned`` ((x, y, floor) points) from ``pose``: to the nearest
    route point on the robot's floor, then along the route to its end (stair jumps not counted);
    None without a route point on the robot's floor."""
    pts = np.asarray(planned, dtype=np.float64).reshape(-1, 3)
    on_floor = np.flatnonzero(pts[:, 2] == pose.floor)
    if len(on_floor) == 0:
        return None
    k = int(on_floor[np.argmin(np.hypot(pts[on_floor, 0] - pose.x, pts[on_floor, 1] - pose.y))])
    rest = pts[k:]
    legs = np.hypot(np.diff(rest[:, 0]), np.diff(rest[:, 1]))
    legs[np.diff(rest[:, 2]) != 0] = 0.0  # a stair jump between floors
    return float(math.hypot(pts[k, 0] - pose.x, pts[k, 1] - pose.y) + legs.sum())


def progress_line(pose: Pose, goal: Sequence[float], floor: int,
                  planned: Sequence[tuple[float, float, int]]) -> str:
    """"8.2 m from the goal, 9.7 m of route to drive": the straight-line figure is ``distance_to_goal``,
    the one the answer's "about 8.2 m from you" gives for the same pose and goal."""
    d = distance_to_goal(pose, goal, floor)
    left = route_left(planned, pose)
    where = f"{d:.1f} m from the goal" if math.isfinite(d) else "on another floor than the goal"
    return where + (f", {left:.1f} m of route to drive" if left is not None else "")


def drive_to(session, goal: Sequence[float], floor: int, *, success_radius: float = 1.0, max_steps: int = 800,
             replan_every: int = 15, cancel: CancelToken | None = None
             ) -> Generator[Progress, None, NavResult]:
    """Plan and drive ``session``'s robot to ``goal`` (x, y[, z]) on ``floor``.

    Progress messages are ``progress_line``s; the result's ``stop_reason`` is ``arrived``,
    ``closest free spot`` (no free spot within ``success_radius`` of the goal: the robot stands at
    the nearest one, ``goal_gap`` metres from it), ``blocked ...`` (bumping into something the
    robot's map does not show), ``unreachable: ...``, ``cancelled`` or ``step budget``.
    """
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
    gap = [0.0]
    since_plan = replan_every

    def plan() -> Path:
        path = plan_to_goal(session.robot_grid(), session.observation.pose, g, floor,
                            success_radius=success_radius, arrive_tolerance=follower.config.goal_tolerance)
        planned.clear()
        planned.extend((float(x), float(y), seg.floor) for seg in path.segments for x, y in seg.points)
        gap[0] = path.snapped
        follower.set_path(path)
        return path

    try:
        plan()
    except UnreachableGoal as e:
        return NavResult(g, floor, False, distance_to_goal(start, g, floor), 0.0, shortest, 0, time.perf_counter() - t0,
                         f"unreachable: {e}", start, start, [], traj)
    yield Progress("navigate", 0, max_steps, progress_line(start, g, floor, planned), list(planned))
    collided = False
    blocks, blocked_at = 0, None
    while steps < max_steps:
        if cancel is not None and cancel.cancelled:
            reason = "cancelled"
            break
        pose = session.observation.pose
        if distance_to_goal(pose, g, floor) <= success_radius * 0.8 and follower.status == "arrived":
            reason = "arrived"
            break
        action = follower.act(pose, collided)
        if action is None or since_plan >= replan_every:
            if follower.status == "arrived":
                # the route's end: within the success radius, or the closest free spot there is
                reason = "arrived" if distance_to_goal(pose, g, floor) <= success_radius else CLOSEST_FREE_SPOT
                break
            if follower.status == "blocked":
                # the map shows free space where the robot bumps: replanning finds the same route
                same = blocked_at is not None and blocked_at.floor == pose.floor and \
                    math.hypot(pose.x - blocked_at.x, pose.y - blocked_at.y) < 0.1
                blocks = blocks + 1 if same or blocked_at is None else 1
                blocked_at = pose
                if blocks >= _BLOCKS_WITHOUT_PROGRESS:
                    reason = BLOCKED
                    break
            try:
                plan()
            except UnreachableGoal as e:
                reason = f"unreachable: {e}"
                break
            since_plan = 0
            action = follower.act(pose, collided)
            if action is None:
                d = distance_to_goal(pose, g, floor)
                reason = "arrived" if d <= success_radius else (
                    CLOSEST_FREE_SPOT if follower.status == "arrived" else f"stuck ({follower.status})")
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
            yield Progress("navigate", steps, max_steps, progress_line(obs.pose, g, floor, planned), list(planned))
    final = session.observation.pose
    d = distance_to_goal(final, g, floor)
    res = NavResult(g, floor, d <= success_radius, d, driven, shortest, steps, time.perf_counter() - t0, reason,
                    start, final, list(planned), traj, goal_gap=gap[0])
    log.info("navigate: %s after %d steps, %.2f m from the goal, SPL %s", reason, steps, d, res.spl)
    return res
