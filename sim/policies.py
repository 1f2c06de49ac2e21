"""Simple driving policies: waypoint lists and teleoperation by keys."""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sim.errors import ConfigError, UnreachableGoal
from sim.follower import FollowerConfig, PathFollower
from sim.planner import GridSource, Planner, PlannerConfig
from sim.types import Action, Observation, Pose

log = logging.getLogger(__name__)

__all__ = ["WaypointSpecError", "Waypoint", "parse_waypoints", "WaypointReport", "WaypointFollower", "TeleopPolicy"]


# waypoints ----------------------------------------------------------------------------------------
class WaypointSpecError(ConfigError):
    """A waypoint list is malformed."""


@dataclass(frozen=True, slots=True)
class Waypoint:
    """A goal position in metres, optionally on a given floor."""

    x: float
    y: float
    floor: int | None = None  # None: the robot's floor when the waypoint is started


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def parse_waypoints(text: str) -> list[Waypoint]:
    """Parse ``"x,y;x,y,floor;..."`` (or one ``x y [floor]`` / ``x,y[,floor]`` per line)."""
    items = [s.strip() for s in re.split(r"[;\n]", text) if s.strip() and not s.strip().startswith("#")]
    if not items:
        raise WaypointSpecError("no waypoints given (expected 'x,y;x,y' or lines of 'x y [floor]')")
    out = []
    for k, item in enumerate(items, 1):
        parts = [p for p in re.split(r"[,\s]+", item) if p]
        if len(parts) not in (2, 3) or not all(re.fullmatch(_NUM, p) for p in parts[:2]) \
                or (len(parts) == 3 and not re.fullmatch(r"[-+]?\d+", parts[2])):
            raise WaypointSpecError(f"waypoint {k} {item!r} is malformed: expected 'x,y' or 'x,y,floor' "
                                    f"(metres, integer floor)")
        x, y = float(parts[0]), float(parts[1])
        if not (math.isfinite(x) and math.isfinite(y)):
            raise WaypointSpecError(f"waypoint {k} {item!r} is not finite")
        out.append(Waypoint(x, y, int(parts[2]) if len(parts) == 3 else None))
    return out


@dataclass(frozen=True)
class WaypointReport:
    """What happened to one waypoint: ``reached``, ``unreachable`` or ``blocked``."""

    index: int
    waypoint: Waypoint
    status: str
    error: float | None = None  # metres from the waypoint where the robot stopped
    step: int = 0
    message: str = ""
    snapped: float = 0.0  # metres the goal moved to free space (a waypoint inside furniture)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"index": self.index, "x": self.waypoint.x, "y": self.waypoint.y, "floor": self.waypoint.floor,
                "status": self.status, "error": self.error, "snapped": self.snapped, "step": self.step,
                "message": self.message}


class WaypointFollower:
    """Drives to each waypoint in turn, planning on ``grid`` (usually the simulator's NavMap: a floor plan).

    Unreachable waypoints are reported and skipped; a waypoint is retried ``max_replans``
    times when the robot gets blocked.
    """

    def __init__(self, waypoints: Sequence[Waypoint], grid: GridSource, *, follower: FollowerConfig | None = None,
                 planner: PlannerConfig | None = None, max_replans: int = 3) -> None:
        self.waypoints = list(waypoints)
        self.planner = Planner(grid, planner)
        self.follower = PathFollower(follower)
        self.max_replans = max_replans
        self.reports: list[WaypointReport] = []
        self.stop_reason = ""
        self._index = 0
        self._replans = 0
        self._active = False

    @classmethod
    def for_simulator(cls, sim, waypoints: Sequence[Waypoint], **kwargs) -> WaypointFollower:
        """A follower planning on the simulator's NavMap with its step sizes."""
        if sim.navmap is None:
            raise UnreachableGoal("this simulator has no navigable map to plan waypoints on")
        kwargs.setdefault("follower", FollowerConfig.from_sim(sim.config))
        return cls(waypoints, sim.navmap, **kwargs)

    def _report(self, status: str, pose: Pose, step: int, message: str = "") -> None:
        wp = self.waypoints[self._index]
        err = math.hypot(pose.x - wp.x, pose.y - wp.y) if status != "unreachable" else None
        path = self.follower.path
        snapped = path.snapped if path is not None and status != "unreachable" else 0.0
        self.reports.append(WaypointReport(self._index, wp, status, err, step, message, snapped))
        if status != "reached":
            log.warning("waypoint %d (%.2f, %.2f) %s: %s", self._index, wp.x, wp.y, status, message)
        self._index += 1
        self._replans = 0
        self._active = False
        self.follower.clear()

    def _start(self, pose: Pose, step: int) -> bool:
        wp = self.waypoints[self._index]
        floor = pose.floor if wp.floor is None else wp.floor
        try:
            self.follower.set_path(self.planner.plan(pose, (wp.x, wp.y), floor))
        except UnreachableGoal as e:
            self._report("unreachable", pose, step, str(e))
            return False
        self._active = True
        return True

    def act(self, obs: Observation) -> Action | None:
        """The next action towards the current waypoint (None when every waypoint is done)."""
        pose = obs.pose
        while self._index < len(self.waypoints):
            if not self._active and not self._start(pose, obs.step):
                continue
            a = self.follower.act(pose, obs.collided)
            if a is not None:
                return a
            if self.follower.status == "arrived":
                self._report("reached", pose, obs.step)
            elif self._replans < self.max_replans:
                self._replans += 1
                self._active = False
            else:
                self._report("blocked", pose, obs.step, "blocked after replanning")
        reached = sum(r.status == "reached" for r in self.reports)
        self.stop_reason = f"waypoints done: {reached} of {len(self.waypoints)} reached"
        return None


# keys -----------------------------------------------------------------------------------------------
TELEOP_KEYS = {"w": Action.forward(), "s": Action.backward(), "a": Action.turn_left(), "d": Action.turn_right()}


class TeleopPolicy:
    """Actions from a stream of key characters: w/s forward/back, a/d turn left/right, q quits.

    Whitespace is ignored; other characters are logged and skipped; the end of the stream
    ends the episode.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self._chars: Iterator[str] = (c for chunk in keys for c in chunk)  # lazy: stdin lines as they come
        self.stop_reason = ""
        self.ignored = 0

    def act(self, obs: Observation) -> Action | None:
        """The action of the next key (waits for input on a terminal); None on ``q`` or end of input."""
        for ch in self._chars:
            c = ch.lower()
            if c.isspace():
                continue
            if c == "q":
                self.stop_reason = "quit"
                return None
            a = TELEOP_KEYS.get(c)
            if a is not None:
                return a
            self.ignored += 1
            log.warning("teleop: ignoring key %r (use w/a/s/d, q to quit)", ch)
        self.stop_reason = "end of input"
        return None
