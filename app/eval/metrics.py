"""Ground-truth measures shared by scenario runs and the evaluation harness.

* ``score_response`` - whether an answer (its hits, or its text for global questions) is right,
  by the rules of ``app.eval.queries``: a hit is right when it is a satisfying object or within 1 m of
  one; global answers are checked programmatically; "when did you last see" answers must also
  state the time.
* ``footprint_distance`` - metres from a point to an object's box footprint (0 inside it).
  Navigation succeeds when the robot ends within ``SUCCESS_RADIUS_M`` of the footprint of an
  object that satisfies the question (on the same floor) - not merely near the goal it was
  sent to, which may be a wrong answer.
* ``region_shortest_length`` - the ground-truth geodesic length from a start pose to the
  success region of a set of objects (for SPL), on the simulator's navigable map.
* ``Navigator`` - drives a robot from one fixed start to many goals on the map it built while
  exploring, in a second simulator of the same world that renders tiny images (nobody looks at
  them) and never touches the memory, so every drive is independent and repeatable.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from app.eval.queries import SUCCESS_RADIUS_M, GroundTruthQuery, score_answer, score_hits
from app.progress import drain
from app.robot.navigation import NavResult, drive_to, spl
from sim.errors import NavigationError, UnreachableGoal
from sim.planner import Planner, PlannerConfig
from sim.simulator import make_simulator
from sim.types import ObjectInfo, Pose

log = logging.getLogger(__name__)

__all__ = ["QueryScore", "score_response", "satisfying_objects", "footprint_distance", "nearest_satisfying",
           "region_shortest_length",
           "NavOutcome", "Navigator", "llm_calls_of", "NAV_RENDER_SIZE"]

NAV_RENDER_SIZE = (32, 24)  # the navigation simulator's camera: only poses and collisions matter there


@dataclass(frozen=True)
class QueryScore:
    """How one answer scored: top-1 / any of top-k right, and the top hit exactly a satisfying object."""

    top1: bool
    topk: bool
    top1_exact: bool


def score_response(q: GroundTruthQuery, hits: Sequence[Any], answer_text: str,
                   instance_of: Mapping[str, int | None] | Callable, *, encoder: Any = None) -> QueryScore:
    """Score one answer to ``q`` (same rules as ``app.bench.retrieval.evaluate_retrievers``)."""
    if q.type == "global":
        ok = score_answer(q, answer_text, encoder=encoder)
        return QueryScore(ok, ok, ok)
    s = score_hits(q, hits, instance_of)
    top1, topk, exact = s.top1, s.topk, s.top1_exact
    if q.type == "temporal" and "time" in q.expected:
        said = score_answer(q, answer_text)
        top1, exact = top1 and said, exact and said
    return QueryScore(bool(top1), bool(topk), bool(exact))


def llm_calls_of(response: Any) -> int:
    """LLM calls one ``QueryResponse`` made: the retriever's, plus the generator's answer call."""
    meta = response.answer.metadata
    return int(response.result.llm_calls) + (1 if meta.get("llm_latency_ms") is not None else 0)


def satisfying_objects(analysis: Any, info: Any) -> list[ObjectInfo] | None:
    """The world objects that satisfy an analysed question (``memory.query.QueryAnalysis``), from the
    world's semantic truth: the target's labels with the colour / material / room / floor it names
    and, for relational questions, the relation to an anchor; for implicit ones every object of a
    category that affords the request. None when the question names no object (global questions,
    rooms, unknown nouns) - then only the answer's own goal can judge a drive."""
    from app.eval.queries import true_relations

    labels = {x.lower() for x in analysis.target_labels}
    if analysis.type.value == "implicit" and analysis.categories:
        labels = {c.lower() for c, _ in analysis.categories}
    if not labels or analysis.type.value == "global" or analysis.target_room:
        return None
    room_type = {r.id: r.type for r in info.rooms}
    out = [o for o in info.objects if o.category.lower() in labels
           and (not analysis.colour or o.colour == analysis.colour)
           and (not analysis.material or o.material == analysis.material)
           and (not analysis.room or room_type.get(o.room_id, "") == analysis.room)
           and (analysis.floor is None or o.floor == analysis.floor)]
    anchors = {x.lower() for x in analysis.anchor_labels}
    if analysis.type.value == "relational" and anchors and out:
        cats = {o.id: o.category.lower() for o in info.objects}
        kinds = {analysis.relation} | ({"next_to"} if analysis.relation == "near" else set())
        related = {a for a, b, k in true_relations(info) if k in kinds and cats.get(b) in anchors}
        out = [o for o in out if o.id in related] or out  # relations the boxes do not show: keep the label match
    return out


def footprint_distance(obj: ObjectInfo, x: float, y: float) -> float:
    """Metres from (x, y) to the object's axis-aligned box footprint (0 inside it)."""
    dx = max(obj.bbox_min[0] - x, 0.0, x - obj.bbox_max[0])
    dy = max(obj.bbox_min[1] - y, 0.0, y - obj.bbox_max[1])
    return math.hypot(dx, dy)


def nearest_satisfying(objects: Iterable[ObjectInfo], pose: Pose) -> tuple[ObjectInfo | None, float]:
    """The object nearest to ``pose`` on its floor (by footprint distance), and that distance (inf: none)."""
    best, dist = None, math.inf
    for o in objects:
        if o.floor != pose.floor:
            continue
        d = footprint_distance(o, pose.x, pose.y)
        if d < dist:
            best, dist = o, d
    return best, dist


def _region_mask(spec, objects: Sequence[ObjectInfo], radius: float) -> np.ndarray:
    """Cells of ``spec`` whose centre lies within ``radius`` of any object's footprint."""
    mask = np.zeros(spec.shape, dtype=bool)
    r = spec.resolution
    for o in objects:
        x0, y0 = o.bbox_min[0] - radius, o.bbox_min[1] - radius
        x1, y1 = o.bbox_max[0] + radius, o.bbox_max[1] + radius
        j0, j1 = max(0, int((x0 - spec.x0) / r)), min(spec.cols, int(math.ceil((x1 - spec.x0) / r)) + 1)
        i0, i1 = max(0, int((y0 - spec.y0) / r)), min(spec.rows, int(math.ceil((y1 - spec.y0) / r)) + 1)
        if i0 >= i1 or j0 >= j1:
            continue
        xs = spec.x0 + (np.arange(j0, j1) + 0.5) * r
        ys = spec.y0 + (np.arange(i0, i1) + 0.5) * r
        dx = np.maximum(np.maximum(o.bbox_min[0] - xs, 0.0), xs - o.bbox_max[0])
        dy = np.maximum(np.maximum(o.bbox_min[1] - ys, 0.0), ys - o.bbox_max[1])
        mask[i0:i1, j0:j1] |= np.hypot(dx[None, :], dy[:, None]) <= radius
    return mask


class _ShortestPaths:
    """Ground-truth shortest paths from one start, with the cost fields cached per floor origin."""

    def __init__(self, navmap, start: Pose) -> None:
        self.navmap = navmap
        self.start = start
        self.planner = Planner(navmap, PlannerConfig(snap_tolerance=3.0))
        self._fields: dict[tuple[int, float, float], Any] = {}

    def _field(self, floor: int, origin: tuple[float, float]):
        key = (floor, round(origin[0], 3), round(origin[1], 3))
        if key not in self._fields:
            self._fields[key] = self.planner.cost_field(floor, origin)
        return self._fields[key]

    def to_region(self, objects: Sequence[ObjectInfo], radius: float) -> float | None:
        best: float | None = None
        for floor in sorted({o.floor for o in objects}):
            if floor not in self.navmap.floors:
                continue
            objs = [o for o in objects if o.floor == floor]
            spec = self.navmap.grid(floor).spec
            region = _region_mask(spec, objs, radius) & self.navmap.navigable(floor)
            if not region.any():
                continue
            prefix, origin = 0.0, (self.start.x, self.start.y)
            if floor != self.start.floor:
                ii, jj = np.nonzero(region)
                target = spec.to_world(int(ii[0]), int(jj[0]))
                try:
                    path = self.planner.plan(self.start, target, floor)
                except (UnreachableGoal, NavigationError):
                    continue
                prefix = sum(s.length for s in path.segments[:-1])
                p0 = path.segments[-1].points[0]
                origin = (float(p0[0]), float(p0[1]))
            try:
                field = self._field(floor, origin)
            except (UnreachableGoal, NavigationError):
                continue
            cost = np.where(region, field.dist, np.inf)
            k = int(np.argmin(cost))
            if not math.isfinite(float(cost.flat[k])):
                continue
            i, j = divmod(k, spec.cols)
            pts = field.path_to(*spec.to_world(i, j))
            length = prefix + (float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum()) if len(pts) > 1 else 0.0)
            best = length if best is None else min(best, length)
        return best


def region_shortest_length(navmap, start: Pose, objects: Sequence[ObjectInfo], *,
                           radius: float = SUCCESS_RADIUS_M) -> float | None:
    """Ground-truth path length from ``start`` to the nearest point within ``radius`` of any object's
    footprint (None when no such point can be reached)."""
    return _ShortestPaths(navmap, start).to_region(objects, radius)


@dataclass(frozen=True)
class NavOutcome:
    """A drive judged against the objects that satisfy the question."""

    success: bool
    spl: float | None
    distance_m: float | None  # final distance to the nearest satisfying footprint (None: other floor / none)
    path_length_m: float
    shortest_m: float | None
    steps: int
    stop_reason: str
    goal: tuple[float, float, float] | None
    goal_floor: int | None
    final: tuple[float, float, int]

    def to_dict(self) -> dict[str, Any]:
        return {"success": self.success, "spl": None if self.spl is None else round(self.spl, 4),
                "distance_m": None if self.distance_m is None else round(self.distance_m, 3),
                "path_length_m": round(self.path_length_m, 3),
                "shortest_m": None if self.shortest_m is None else round(self.shortest_m, 3), "steps": self.steps,
                "stop_reason": self.stop_reason,
                "goal": None if self.goal is None else [round(v, 3) for v in self.goal], "goal_floor": self.goal_floor,
                "final": [round(self.final[0], 3), round(self.final[1], 3), self.final[2]]}


def judge(result: NavResult | None, objects: Sequence[ObjectInfo], shortest: float | None, start: Pose, *,
          goal: tuple[float, float, float] | None = None, goal_floor: int | None = None,
          radius: float = SUCCESS_RADIUS_M) -> NavOutcome:
    """Success = the final pose within ``radius`` of a satisfying object's footprint; SPL against ``shortest``."""
    if result is None:  # the answer gave no goal: a failed episode that never moved
        _, d = nearest_satisfying(objects, start)
        return NavOutcome(False, spl(False, shortest, 0.0), d if math.isfinite(d) else None, 0.0, shortest, 0,
                          "no goal in the answer", goal, goal_floor, (start.x, start.y, start.floor))
    final = result.final
    _, d = nearest_satisfying(objects, final)
    ok = d <= radius
    return NavOutcome(ok, spl(ok, shortest, result.path_length), d if math.isfinite(d) else None,
                      result.path_length, shortest, result.steps, result.stop_reason, result.goal,
                      result.goal_floor, (final.x, final.y, final.floor))


class Navigator:
    """Drives from the world's start to goals on the robot's own map (see the module docstring).

    ``session`` is an explored ``app.session.Session``: its robot map and known stairs are frozen
    when the navigator is made. Drives to the same goal give the same result and are cached.
    """

    def __init__(self, session: Any, *, max_steps: int = 800) -> None:
        cfg = session.sim.config
        w, h = NAV_RENDER_SIZE
        self.sim = make_simulator(replace(cfg, width=w, height=h), session.scene)
        self.scene = session.scene
        self.max_steps = max_steps
        self._grid = session.robot_grid()
        self.observation = self.sim.reset()
        self.start = self.observation.pose
        self._paths = _ShortestPaths(self.sim.navmap, self.start)
        self._drives: dict[tuple[float, float, int], NavResult] = {}
        self._shortest: dict[tuple[int, ...], float | None] = {}

    # what drive_to needs of a session -------------------------------------------------------------
    def robot_grid(self):
        return self._grid

    def step(self, action):
        self.observation = self.sim.step(action)
        return self.observation

    # driving --------------------------------------------------------------------------------------
    def drive(self, goal: Sequence[float], floor: int) -> NavResult:
        """Drive from the start to ``goal`` on ``floor`` (cached per goal)."""
        key = (round(float(goal[0]), 2), round(float(goal[1]), 2), int(floor))
        if key not in self._drives:
            self.observation = self.sim.reset()
            g = (float(goal[0]), float(goal[1]), float(goal[2]) if len(goal) > 2 else 0.0)
            res = drain(drive_to(self, g, int(floor), success_radius=SUCCESS_RADIUS_M, max_steps=self.max_steps))
            if self.observation.true_pose is not None:  # odometry drifts: judge where the robot really stopped
                res = replace(res, final=self.observation.true_pose)
            self._drives[key] = res
        return self._drives[key]

    def shortest(self, objects: Sequence[ObjectInfo]) -> float | None:
        """Ground-truth shortest path from the start to the success region of ``objects`` (cached)."""
        key = tuple(sorted(o.id for o in objects))
        if key not in self._shortest:
            self._shortest[key] = self._paths.to_region(objects, SUCCESS_RADIUS_M)
        return self._shortest[key]

    def episode(self, goal: Sequence[float] | None, floor: int | None, objects: Sequence[ObjectInfo]) -> NavOutcome:
        """Drive to an answer's goal and judge it against ``objects`` (no goal: a failed episode)."""
        shortest = self.shortest(objects)
        if goal is None:
            return judge(None, objects, shortest, self.start)
        f = int(floor) if floor is not None else self.scene.info.floor_of_z(float(goal[2]) if len(goal) > 2 else 0.0)
        res = self.drive(goal, f)
        return judge(res, objects, shortest, self.start, goal=res.goal, goal_floor=f)

    def close(self) -> None:
        self.sim.close()

    def __enter__(self) -> Navigator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
