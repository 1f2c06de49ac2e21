"""Robot motion on the ground-truth ``NavMap``: sub-stepped, collision-checked, portal-aware.

The robot is a disc of radius ``radius`` on one floor. A position is free when the NavMap's
clearance there is at least the radius (the same test as ``NavMap.is_free`` and the planner's
navigable cells, so every planned cell can be driven). Every translation is cut into
sub-steps of at most 5 cm (and at most one grid cell), so nothing thin is ever skipped.
When a sub-step is blocked, ``slide`` removes the motion component that points into the
obstacle (the clearance gradient gives its normal) and, failing that, tries the x and y
components alone; ``stop`` ends the translation at the last free sub-step.

Entering a ``Portal`` disc from outside moves the robot to the portal's other end (other
floor, that end's heading) and ends the motion, so there is no bounce back: the robot must
leave the destination disc before it can enter it again.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from sim.errors import SimError
from sim.navmap import NavMap
from sim.scene import Portal
from sim.types import FloorInfo, Pose, wrap_angle

log = logging.getLogger(__name__)

__all__ = ["InvalidPose", "InvalidAction", "MotionResult", "MotionModel"]

MAX_SUBSTEP = 0.05  # metres per collision check
MAX_SUBTURN = 0.1  # radians per integration sub-step of a velocity command
MAX_DURATION = 60.0  # seconds: longest velocity command accepted
# slide directions tried: the tangent, then turned 15, 30, 45 degrees away from the obstacle
_OUTWARD = tuple((math.cos(math.radians(a)), math.sin(math.radians(a))) for a in (0.0, 15.0, 30.0, 45.0))


class InvalidPose(SimError, ValueError):
    """A pose is inside an obstacle, off the map or on a floor that does not exist."""


class InvalidAction(SimError, ValueError):
    """A motion command has a non-finite or out-of-range value."""


@dataclass(frozen=True, slots=True)
class MotionResult:
    """Where a motion ended, whether it touched anything, and the portal taken (if any)."""

    pose: Pose
    collided: bool = False
    portal: int | None = None


@dataclass(frozen=True, slots=True)
class _Grid:
    x0: float
    y0: float
    inv_res: float
    rows: int
    cols: int
    clearance: np.ndarray


@dataclass(frozen=True, slots=True)
class _PortalEnd:
    portal: int
    centre: tuple[float, float]
    radius: float
    to_floor: int
    to_xy: tuple[float, float]
    to_yaw: float


class MotionModel:
    """Moves a disc robot over a ``NavMap`` with collisions and floor portals."""

    def __init__(self, navmap: NavMap, floors: Iterable[FloorInfo], *, radius: float,
                 collision: Literal["slide", "stop"] = "slide", portals: Sequence[Portal] = (),
                 max_substep: float = MAX_SUBSTEP) -> None:
        if collision not in ("slide", "stop"):
            raise ValueError(f"collision must be 'slide' or 'stop', got {collision!r}")
        self.navmap = navmap
        self.radius = float(radius)
        self.collision = collision
        self._elevation = {f.index: float(f.elevation) for f in floors}
        self._grids: dict[int, _Grid] = {}
        res = max_substep
        for index, g in navmap.floors.items():
            s = g.spec
            self._grids[index] = _Grid(s.x0, s.y0, 1.0 / s.resolution, s.rows, s.cols, g.clearance)
            res = min(res, s.resolution)
            self._elevation.setdefault(index, float(g.floor.elevation))
        self.max_substep = float(res)
        self._ends: dict[int, list[_PortalEnd]] = {}
        for p in portals:
            self._ends.setdefault(p.floor_a, []).append(_PortalEnd(p.id, p.a, p.radius, p.floor_b, p.b, p.yaw_b))
            self._ends.setdefault(p.floor_b, []).append(_PortalEnd(p.id, p.b, p.radius, p.floor_a, p.a, p.yaw_a))

    # queries --------------------------------------------------------------------------------------
    def clearance(self, x: float, y: float, floor: int) -> float:
        """Clearance (metres) of the cell under (x, y); 0 off the map or on an unknown floor."""
        g = self._grids.get(floor)
        if g is None:
            return 0.0
        j = math.floor((x - g.x0) * g.inv_res)
        i = math.floor((y - g.y0) * g.inv_res)
        if 0 <= i < g.rows and 0 <= j < g.cols:
            return float(g.clearance[i, j])
        return 0.0

    def is_free(self, x: float, y: float, floor: int) -> bool:
        """True when the robot disc centred at (x, y) on ``floor`` touches nothing."""
        return self.clearance(x, y, floor) >= self.radius

    def elevation(self, floor: int) -> float:
        """Height of a floor's walking surface (0 for an unknown floor)."""
        return self._elevation.get(floor, 0.0)

    def check_pose(self, pose: Pose) -> Pose:
        """The pose placed on its floor (``z`` = floor elevation); ``InvalidPose`` if it is not free."""
        if not all(math.isfinite(v) for v in (pose.x, pose.y, pose.yaw)):
            raise InvalidPose(f"pose has a non-finite value: {pose}")
        if pose.floor not in self._grids:
            raise InvalidPose(f"pose is on floor {pose.floor}; this scene has floors {sorted(self._grids)}")
        c = self.clearance(pose.x, pose.y, pose.floor)
        if c < self.radius:
            where = "off the map (no floor there)" if c == 0.0 else f"too close to an obstacle ({c:.2f} m clear)"
            raise InvalidPose(f"pose ({pose.x:.2f}, {pose.y:.2f}) on floor {pose.floor} is {where}; "
                              f"the robot needs {self.radius:.2f} m of clearance")
        return Pose(pose.x, pose.y, self.elevation(pose.floor), wrap_angle(pose.yaw), pose.floor)

    # motions --------------------------------------------------------------------------------------
    def rotate(self, pose: Pose, angle: float) -> MotionResult:
        """Turn in place by ``angle`` radians (counter-clockwise positive); a disc never collides."""
        if not math.isfinite(angle):
            raise InvalidAction(f"turn angle must be finite, got {angle}")
        return MotionResult(pose.moved(yaw=pose.yaw + angle))

    def translate(self, pose: Pose, distance: float) -> MotionResult:
        """Drive ``distance`` metres along the heading (negative: backwards)."""
        if not math.isfinite(distance):
            raise InvalidAction(f"distance must be finite, got {distance}")
        n = max(1, math.ceil(abs(distance) / self.max_substep))
        step = distance / n
        dx, dy = step * math.cos(pose.yaw), step * math.sin(pose.yaw)
        x, y, floor = pose.x, pose.y, pose.floor
        collided = False
        for _ in range(n):
            nx, ny, hit = self._try_move(x, y, floor, dx, dy)
            collided |= hit
            if nx == x and ny == y:
                break  # fully blocked: later sub-steps are blocked too
            jump = self._portal(x, y, nx, ny, floor)
            if jump is not None:
                return MotionResult(jump[0], collided, jump[1])
            x, y = nx, ny
        return MotionResult(Pose(x, y, self.elevation(floor), pose.yaw, floor), collided)

    def drive(self, pose: Pose, v: float, omega: float, dt: float, *, max_speed: float = math.inf,
              max_turn_rate: float = math.inf) -> MotionResult:
        """Follow a unicycle command (``v`` m/s, ``omega`` rad/s) for ``dt`` seconds.

        Speeds are clamped to the limits. Each sub-step follows the exact circular arc, so in
        free space the end pose is the closed-form unicycle solution.
        """
        if not all(math.isfinite(a) for a in (v, omega, dt)):
            raise InvalidAction(f"velocity command must be finite, got v={v}, omega={omega}, dt={dt}")
        if not 0.0 < dt <= MAX_DURATION:
            raise InvalidAction(f"velocity command duration must be in (0, {MAX_DURATION:g}] s, got {dt}")
        v = max(-max_speed, min(max_speed, v))
        omega = max(-max_turn_rate, min(max_turn_rate, omega))
        n = max(1, math.ceil(abs(v) * dt / self.max_substep), math.ceil(abs(omega) * dt / MAX_SUBTURN))
        h = dt / n
        x, y, yaw, floor = pose.x, pose.y, pose.yaw, pose.floor
        collided = False
        blocked = False  # "stop" mode: translation ends at the first contact, turning goes on
        for _ in range(n):
            if abs(omega) > 1e-9:
                r = v / omega
                dx = r * (math.sin(yaw + omega * h) - math.sin(yaw))
                dy = -r * (math.cos(yaw + omega * h) - math.cos(yaw))
            else:
                dx, dy = v * h * math.cos(yaw), v * h * math.sin(yaw)
            yaw += omega * h
            if blocked or (dx == 0.0 and dy == 0.0):
                continue
            nx, ny, hit = self._try_move(x, y, floor, dx, dy)
            collided |= hit
            jump = self._portal(x, y, nx, ny, floor)
            if jump is not None:
                return MotionResult(jump[0], collided, jump[1])
            x, y = nx, ny
            blocked = hit and self.collision == "stop"
        return MotionResult(Pose(x, y, self.elevation(floor), wrap_angle(yaw), floor), collided)

    # internals ------------------------------------------------------------------------------------
    def _try_move(self, x: float, y: float, floor: int, dx: float, dy: float) -> tuple[float, float, bool]:
        """One sub-step: (new x, new y, collided)."""
        if self.is_free(x + dx, y + dy, floor):
            return x + dx, y + dy, False
        if self.collision == "stop":
            return x, y, True
        g = self._gradient(x, y, floor)
        if g is None:
            for cx, cy in ((dx, 0.0), (0.0, dy)):
                if abs(cx) + abs(cy) > 1e-12 and self.is_free(x + cx, y + cy, floor):
                    return x + cx, y + cy, True
            return x, y, True
        into = dx * g[0] + dy * g[1]  # < 0: moving towards lower clearance
        if into >= 0.0:
            return x, y, True
        tx, ty = dx - into * g[0], dy - into * g[1]  # the motion with its into-obstacle part removed
        length = math.hypot(tx, ty)
        if length < 1e-6:
            return x, y, True  # head-on: nothing to slide along
        # the clearance grid is coarse, so round a convex corner by turning the slide a little outwards
        side = 1.0 if (-ty * g[0] + tx * g[1]) > 0.0 else -1.0  # rotating by +side turns towards g
        for k in range(len(_OUTWARD)):
            c, s = _OUTWARD[k]
            s *= side
            cx, cy = tx * c - ty * s, tx * s + ty * c
            if self.is_free(x + cx, y + cy, floor):
                return x + cx, y + cy, True
        return x, y, True

    def _gradient(self, x: float, y: float, floor: int) -> tuple[float, float] | None:
        """Unit direction of increasing clearance (away from the nearest obstacle) at (x, y)."""
        g = self._grids.get(floor)
        if g is None:
            return None
        j = math.floor((x - g.x0) * g.inv_res)
        i = math.floor((y - g.y0) * g.inv_res)
        if not (1 <= i < g.rows - 1 and 1 <= j < g.cols - 1):
            return None
        w = g.clearance[i - 1:i + 2, j - 1:j + 2].astype(np.float64)
        # Sobel: smoother than a central difference on the quantised distance field
        gx = (w[0, 2] + 2.0 * w[1, 2] + w[2, 2]) - (w[0, 0] + 2.0 * w[1, 0] + w[2, 0])
        gy = (w[2, 0] + 2.0 * w[2, 1] + w[2, 2]) - (w[0, 0] + 2.0 * w[0, 1] + w[0, 2])
        norm = math.hypot(gx, gy)
        if norm < 1e-9:
            return None
        return float(gx / norm), float(gy / norm)

    def _portal(self, x0: float, y0: float, x1: float, y1: float, floor: int) -> tuple[Pose, int] | None:
        """The pose at the far end of a portal whose disc (x1, y1) enters from outside, if any."""
        for e in self._ends.get(floor, ()):
            cx, cy = e.centre
            r2 = e.radius * e.radius
            if (x1 - cx) ** 2 + (y1 - cy) ** 2 < r2 <= (x0 - cx) ** 2 + (y0 - cy) ** 2:
                dest = Pose(e.to_xy[0], e.to_xy[1], self.elevation(e.to_floor), wrap_angle(e.to_yaw), e.to_floor)
                if not self.is_free(dest.x, dest.y, dest.floor):
                    log.warning("portal %d: destination (%.2f, %.2f) on floor %d is not free; not taken",
                                e.portal, dest.x, dest.y, dest.floor)
                    continue
                return dest, e.portal
        return None
