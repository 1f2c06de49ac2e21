"""The path follower: turns a planned ``Path`` into simulator actions and notices arrival or blockage."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from sim.errors import NavigationError
from sim.planner import Path
from sim.types import Action, Pose, wrap_angle

if TYPE_CHECKING:
    from sim.simulator import SimConfig

log = logging.getLogger(__name__)

__all__ = ["FollowerConfig", "PathFollower"]


@dataclass(frozen=True, kw_only=True)
class FollowerConfig:
    """How a path becomes motion commands."""

    mode: Literal["discrete", "velocity"] = "discrete"
    forward_step: float = 0.25  # metres per forward action (the simulator's step)
    turn_deg: float = 15.0  # largest turn per action (the simulator's step)
    goal_tolerance: float = 0.25  # arrived when this close to the goal
    lookahead: float = 0.5  # metres along the path to steer at
    heading_tolerance_deg: float = 8.0  # turn in place when the target is further off than this
    max_speed: float = 1.0  # velocity mode
    max_turn_rate: float = 2.0  # velocity mode, rad/s
    dt: float = 0.25  # velocity mode, seconds per command
    stuck_after: int = 3  # collisions in a row without progress that make the follower give up

    def __post_init__(self) -> None:
        if self.mode not in ("discrete", "velocity"):
            raise NavigationError(f"follower mode must be 'discrete' or 'velocity', got {self.mode!r}")

    @classmethod
    def from_sim(cls, config: SimConfig, **overrides) -> FollowerConfig:
        """Step sizes and speed limits of a simulator config."""
        base = dict(forward_step=config.forward_step, turn_deg=config.turn_deg, max_speed=config.max_speed,
                    max_turn_rate=config.max_turn_rate)
        base.update(overrides)
        return cls(**base)


class PathFollower:
    """Turns a ``Path`` into actions: steer at a lookahead point, turn in place when far off.

    ``status`` is ``idle`` (no path), ``following``, ``arrived`` (within the goal tolerance) or
    ``blocked`` (collisions without progress, or off the route's floors); the caller replans.
    """

    def __init__(self, config: FollowerConfig | None = None) -> None:
        self.config = config or FollowerConfig()
        self.path: Path | None = None
        self.status = "idle"
        self._seg = 0
        self._progress = 0
        self._stuck = 0
        self._last: Pose | None = None

    def set_path(self, path: Path) -> None:
        """Start following ``path`` from its beginning."""
        self.path = path
        self.status = "following"
        self._seg = 0
        self._progress = 0
        self._stuck = 0
        self._last = None

    def clear(self) -> None:
        """Drop the path (status ``idle``)."""
        self.path = None
        self.status = "idle"

    def remaining(self, pose: Pose) -> np.ndarray:
        """Points of the current floor's segment still ahead of the robot."""
        if self.path is None or self._seg >= len(self.path.segments):
            return np.zeros((0, 2))
        pts = self.path.segments[self._seg].points
        return np.vstack([pose.xy[None, :], pts[self._progress + 1:]])

    def act(self, pose: Pose, collided: bool = False) -> Action | None:
        """The next action, or None when arrived, blocked or without a path (see ``status``)."""
        if self.path is None or self.status in ("arrived", "blocked"):
            return None
        cfg = self.config
        if collided and self._last is not None and pose.floor == self._last.floor \
                and math.hypot(pose.x - self._last.x, pose.y - self._last.y) < 0.02:
            self._stuck += 1
        elif not collided:
            self._stuck = 0
        self._last = pose
        if self._stuck >= cfg.stuck_after:
            self.status = "blocked"
            return None
        segs = self.path.segments
        while self._seg < len(segs) and segs[self._seg].floor != pose.floor:
            self._seg += 1
            self._progress = 0
        if self._seg >= len(segs):
            log.debug("follower: robot on floor %d is off the route %s", pose.floor, self.path.floors)
            self.status = "blocked"
            return None
        seg = segs[self._seg]
        last = self._seg == len(segs) - 1
        pts = seg.points
        self._advance(pts, pose)
        end = pts[-1]
        d_end = math.hypot(end[0] - pose.x, end[1] - pose.y)
        if last and d_end <= cfg.goal_tolerance:
            self.status = "arrived"
            return None
        if not last and d_end < 0.03:  # at a portal's centre without being carried: walk out and re-enter
            self.status = "blocked"
            return None
        tx, ty = self._target(pts, pose)
        dist_t = math.hypot(tx - pose.x, ty - pose.y)
        err = wrap_angle(math.atan2(ty - pose.y, tx - pose.x) - pose.yaw)
        if cfg.mode == "velocity":
            omega = max(-cfg.max_turn_rate, min(cfg.max_turn_rate, 2.5 * err))
            v = 0.0 if abs(err) > math.pi / 4 else cfg.max_speed * math.cos(err)
            if last:
                v = min(v, d_end / cfg.dt)
            return Action.velocity(v, omega, cfg.dt)
        tol = max(math.radians(cfg.heading_tolerance_deg), math.atan2(0.6 * cfg.goal_tolerance, max(dist_t, 1e-3)))
        if abs(err) > tol:
            deg = min(math.degrees(abs(err)), cfg.turn_deg)
            return Action.turn_left(deg) if err > 0 else Action.turn_right(deg)
        step = cfg.forward_step if not last else min(cfg.forward_step, d_end)
        return Action.forward(max(step, 0.02))

    def _advance(self, pts: np.ndarray, pose: Pose) -> None:
        """Move the progress index past waypoints the robot has reached or passed."""
        p = pose.xy
        while self._progress < len(pts) - 1:
            a, b = pts[self._progress], pts[self._progress + 1]
            ab = b - a
            L2 = float(ab @ ab)
            t = 1.0 if L2 < 1e-12 else float((p - a) @ ab) / L2
            if t >= 1.0 or float(np.linalg.norm(b - p)) < 0.5 * self.config.goal_tolerance:
                self._progress += 1
            else:
                break

    def _target(self, pts: np.ndarray, pose: Pose) -> tuple[float, float]:
        """The point ``lookahead`` metres along the path ahead of the robot's projection onto it."""
        rest = pts[self._progress:]
        cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(rest, axis=0), axis=1))])
        t = 0.0
        if len(rest) > 1 and cum[1] > 1e-9:
            ab = rest[1] - rest[0]
            t = min(max(float((pose.xy - rest[0]) @ ab) / float(ab @ ab), 0.0), 1.0) * cum[1]
        s = t + self.config.lookahead
        return float(np.interp(s, cum, rest[:, 0])), float(np.interp(s, cum, rest[:, 1]))
