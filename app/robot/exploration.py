"""Run a driving policy in a simulator: the episode loop shared by the GUI, the CLI and benchmarks.

``explore(sim, policy, max_steps)`` is a generator that yields ``Progress`` reports (with an
``ExploreSnapshot`` for viewers) and returns an ``ExploreResult``: trajectory, keyframes,
coverage per floor, collisions, distance and timings. The robot's map used for coverage is the
policy's own (``policy.mapper``) when it has one, else one the loop builds from depth.
Coverage is measured against the simulator's ground-truth NavMap, which only the evaluation
reads.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Generator
from dataclasses import dataclass, field

from app.progress import CancelToken, Progress, drain
from sim.explore import FrontierExplorer, Policy
from sim.keyframes import Keyframe, KeyframeDetector
from sim.mapping import Coverage, CoverageEvaluator, OccupancyMapper
from sim.simulator import SimConfig, Simulator, make_simulator
from sim.types import Pose

log = logging.getLogger(__name__)

__all__ = ["ExploreSnapshot", "ExploreResult", "explore", "run_episode", "steps_to_coverage"]

STAGE = "drive"


@dataclass(frozen=True)
class ExploreSnapshot:
    """State of a running episode, attached to progress reports for viewers."""

    step: int
    pose: Pose
    coverage: float | None
    collisions: int
    distance: float
    keyframe: Keyframe | None = None


@dataclass
class ExploreResult:
    """Outcome of one episode."""

    steps: int
    trajectory: list[Pose]
    keyframes: list[Keyframe]
    coverage: Coverage | None  # None when the simulator has no ground-truth map
    collisions: int
    distance: float  # metres driven (floor changes through portals not counted)
    wall_time: float  # seconds
    stop_reason: str
    policy_seconds: float = 0.0  # time spent choosing actions (mapping, planning)
    sim_seconds: float = 0.0  # time spent in the simulator (motion, rendering)
    mapper: OccupancyMapper | None = field(default=None, repr=False)
    coverage_curve: list[tuple[int, float]] = field(default_factory=list)

    @property
    def floors_visited(self) -> list[int]:
        """Floors the robot stood on, sorted."""
        return sorted({p.floor for p in self.trajectory})

    def to_dict(self) -> dict:
        """A JSON-ready summary (the trajectory as [x, y, z, yaw, floor] rows)."""
        per_step = 1000.0 / max(1, self.steps)
        return {
            "steps": self.steps, "stop_reason": self.stop_reason,
            "coverage": self.coverage.to_dict() if self.coverage is not None else None,
            "collisions": self.collisions, "distance_m": round(self.distance, 3),
            "wall_time_s": round(self.wall_time, 3), "policy_ms_per_step": round(self.policy_seconds * per_step, 3),
            "sim_ms_per_step": round(self.sim_seconds * per_step, 3), "floors_visited": self.floors_visited,
            "keyframes": [k.to_dict() for k in self.keyframes],
            "trajectory": [[round(v, 4) for v in p.to_list()] for p in self.trajectory],
        }


def explore(sim: Simulator, policy: Policy, max_steps: int, cancel: CancelToken | None = None, *,
            keyframes: KeyframeDetector | None = None, report_every: int = 10,
            target_coverage: float | None = None) -> Generator[Progress, None, ExploreResult]:
    """Drive ``policy`` in ``sim`` from its current pose for at most ``max_steps`` steps.

    Stops early when the policy finishes, ``cancel`` is set (the result says ``cancelled``) or
    coverage reaches ``target_coverage``. Yields a ``Progress`` every ``report_every`` steps.
    """
    if max_steps < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")
    t0 = time.perf_counter()
    obs = sim.observe()
    start = obs.pose
    mapper = getattr(policy, "mapper", None)
    if not isinstance(mapper, OccupancyMapper):
        nm = sim.navmap
        origin = nm.grid(start.floor).spec if nm is not None and start.floor in nm.floors else None
        mapper = OccupancyMapper(sim.camera, origin=origin)
    evaluator = CoverageEvaluator(sim.navmap, start) if sim.navmap is not None else None
    kf = keyframes or KeyframeDetector()
    kf.reset()
    kf.update(start, obs.step)
    mapper.update(obs)
    trajectory = [start]
    collisions = 0
    distance = 0.0
    t_policy = t_sim = 0.0
    curve: list[tuple[int, float]] = []
    cov = evaluator(mapper).total if evaluator is not None else None
    if cov is not None:
        curve.append((0, cov))
    yield Progress(STAGE, 0, max_steps, "starting", ExploreSnapshot(0, start, cov, 0, 0.0))
    reason = "step budget"
    steps = 0
    while steps < max_steps:
        if cancel is not None and cancel.cancelled:
            reason = "cancelled"
            break
        t = time.perf_counter()
        action = policy.act(obs)
        t_policy += time.perf_counter() - t
        if action is None:
            reason = policy.stop_reason or "policy finished"
            break
        t = time.perf_counter()
        prev = obs.pose
        obs = sim.step(action)
        t_sim += time.perf_counter() - t
        steps += 1
        t = time.perf_counter()
        mapper.update(obs)  # a no-op when the policy already fused this observation
        t_policy += time.perf_counter() - t
        pose = obs.pose
        trajectory.append(pose)
        collisions += int(obs.collided)
        if pose.floor == prev.floor:
            distance += math.hypot(pose.x - prev.x, pose.y - prev.y)
        new_kf = kf.update(pose, obs.step)
        check = target_coverage is not None or steps % report_every == 0
        if evaluator is not None and check:
            cov = evaluator(mapper).total
            if steps % report_every == 0:
                curve.append((steps, cov))
            if target_coverage is not None and cov >= target_coverage:
                reason = f"coverage {cov:.1%} reached"
                break
        if steps % report_every == 0 or new_kf is not None and new_kf.reason == "floor":
            msg = f"coverage {cov:.0%}" if cov is not None else ""
            yield Progress(STAGE, steps, max_steps, msg, ExploreSnapshot(steps, pose, cov, collisions, distance,
                                                                         new_kf))
    # the last observation may not have been fused by the policy
    mapper.update(obs)
    final = evaluator(mapper) if evaluator is not None else None
    if final is not None and (not curve or curve[-1][0] != steps):
        curve.append((steps, final.total))
    result = ExploreResult(steps, trajectory, list(kf.keyframes), final, collisions, distance,
                           time.perf_counter() - t0, reason, t_policy, t_sim, mapper, curve)
    log.info("episode: %d steps, %s, coverage %s, %d collisions, %.1f m", steps, reason,
             f"{final.total:.1%}" if final is not None else "n/a", collisions, distance)
    return result


def run_episode(sim: Simulator, policy: Policy, max_steps: int, **kwargs) -> ExploreResult:
    """``explore`` without progress reports."""
    return drain(explore(sim, policy, max_steps, **kwargs))


def steps_to_coverage(spec: str, target: float = 0.95, max_steps: int = 3000, *,
                      config: SimConfig | None = None) -> dict:
    """Frontier-explore the world ``spec`` until coverage reaches ``target``; for the simulator benchmark.

    Returns ``{"spec", "target", "reached", "steps", "coverage", "per_floor", "seconds",
    "policy_ms_per_step", "sim_ms_per_step", "stop_reason"}`` (seconds exclude building the world).
    """
    sim = make_simulator(config or SimConfig(), spec)
    with sim:
        sim.reset()
        explorer = FrontierExplorer.for_simulator(sim)
        res = run_episode(sim, explorer, max_steps, target_coverage=target)
    cov = res.coverage
    total = cov.total if cov is not None else 0.0
    per_step = 1000.0 / max(1, res.steps)
    return {"spec": spec, "target": target, "reached": total >= target, "steps": res.steps,
            "coverage": round(total, 4),
            "per_floor": {str(k): round(v, 4) for k, v in (cov.per_floor.items() if cov is not None else ())},
            "seconds": round(res.wall_time, 3), "policy_ms_per_step": round(res.policy_seconds * per_step, 3),
            "sim_ms_per_step": round(res.sim_seconds * per_step, 3), "stop_reason": res.stop_reason}
