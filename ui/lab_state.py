"""What the GUI's worker thread owns: the session, the fused cloud and the view state (no Qt here).

``LabState`` is touched by one thread only (the ``SessionWorker``'s); viewers get immutable
snapshots from it: ``frame()`` (robot, camera images, counts) and ``map_snapshot()`` (every 3D
layer). Layers are rebuilt only when their source changed, and each carries a version so the 3D
pane re-uploads only what is new.

A session may hold a memory without a world (an imported one): then there is no robot, camera
or point cloud, and the map is sized from what the memory holds (``memory_bounds``).
"""
from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.config import LabConfig
from app.session import NO_WORLD, NoWorld, Session
from app.snapshots import (
    CameraViews,
    CloudSnapshot,
    ForestLayer,
    ForestTree,
    GraphSnapshot,
    HitsLayer,
    PointCloudAccumulator,
    RobotLayer,
    camera_views,
    empty_points,
    forest_layer,
    forest_tree,
    graph_snapshot,
    hits_layer,
    layer_heights,
    memory_bounds,
    robot_layer,
)
from sim.errors import LabError

log = logging.getLogger(__name__)

__all__ = ["SessionFrame", "MapSnapshot", "LabState", "default_autosave_dir"]


def default_autosave_dir() -> Path:
    """Where new memories are autosaved (``$XDG_DATA_HOME/embodied-rag-lab/autosave``)."""
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "embodied-rag-lab" / "autosave"


@dataclass(frozen=True, eq=False)
class SessionFrame:
    """One update for the camera pane and the status bar."""

    step: int
    pose: Any
    coverage: float | None
    stats: dict
    camera: CameraViews | None
    steps_per_second: float = 0.0
    scene: str = ""
    memory_path: str | None = None
    has_world: bool = True
    perception: str = ""  # which perception builds the memory (status bar)


@dataclass(frozen=True, eq=False)
class MapSnapshot:
    """Every layer of the 3D map; unchanged layers are the same objects as in the previous snapshot."""

    cloud: CloudSnapshot
    graph: GraphSnapshot
    tree: ForestTree
    forest: ForestLayer
    robot: RobotLayer | None
    hits: HitsLayer
    path: np.ndarray
    path_version: int
    bounds: tuple[tuple[float, float, float], tuple[float, float, float]]
    scene_version: int = 0
    extra: dict = field(default_factory=dict)


FLOOR_BANDS = 2.5  # levels' heights (dz) between the room bands of two floors


def _empty_hits() -> HitsLayer:
    return hits_layer([])


class LabState:
    """The session and everything drawn from it, owned by the worker thread."""

    def __init__(self, config: LabConfig | None = None, *, autosave: bool = True,
                 autosave_dir: str | Path | None = None, cloud_points: int = 40_000) -> None:
        self.config = config or LabConfig()
        self.autosave = autosave
        self.autosave_dir = Path(autosave_dir) if autosave_dir is not None else default_autosave_dir()
        self.session: Session | None = None
        self.cloud = PointCloudAccumulator(max_points=cloud_points)
        self.scene_version = 0
        self.hits: list[dict] = []
        self.last_response: dict | None = None
        self.path = empty_points()
        self.path_version = 0
        self.coverage: float | None = None
        self.llm = self.config.llm
        self._fused_step = -1
        self._graph: GraphSnapshot | None = None
        self._graph_key: tuple | None = None
        self._tree: ForestTree | None = None
        self._tree_at = 0.0
        self._tree_obs = -1
        self._forest: ForestLayer | None = None
        self._hits_layer: HitsLayer = _empty_hits()
        self._hits_key: tuple | None = None
        self._cloud: CloudSnapshot | None = None
        self._bounds: tuple | None = None
        self._rate: list[tuple[float, int]] = []

    # ------------------------------------------------------------------ session lifecycle
    def attach(self, session: Session) -> None:
        """Make ``session`` the current one (closing the previous one) and reset every view."""
        self.close()
        self.session = session
        self.cloud.clear()
        self.scene_version += 1
        self.clear_query()
        self.coverage = None
        self._fused_step = -1
        self._graph = self._tree = self._forest = self._cloud = None
        self._graph_key = self._bounds = None
        self._tree_obs = -1
        self._rate.clear()
        self.sync()

    def close(self) -> None:
        """Close the current session (its memory checkpoints on close)."""
        if self.session is not None:
            s, self.session = self.session, None
            s.close()

    def require(self) -> Session:
        """The current session (with or without a world); ``NoSession`` when nothing is open."""
        if self.session is None:
            raise NoSession("nothing is open: create a new world, or open a scene or a memory file first")
        return self.session

    def require_world(self) -> Session:
        """The current session when it has a world to drive in; ``NoSession`` when nothing is open,
        ``NoWorld`` when its memory is open without a world."""
        if self.session is None:
            raise NoSession("no world is open: create a new world or open a scene first")
        if not self.session.has_world:
            raise NoWorld(NO_WORLD)
        return self.session

    @property
    def has_world(self) -> bool:
        return self.session is not None and self.session.has_world

    def new_memory_path(self, name: str) -> Path | None:
        """A fresh autosave file for a new session (None when autosave is off)."""
        if not self.autosave:
            return None
        self.autosave_dir.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-") or "world"
        return self.autosave_dir / f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}.db"

    @property
    def memory_path(self) -> str | None:
        s = self.session
        if s is None or s.memory.store is None:
            return None
        return str(s.memory.store.path)

    # ------------------------------------------------------------------ view state
    def sync(self) -> bool:
        """Fuse the current observation into the cloud if the robot moved since the last call."""
        s = self.session
        if s is None or not s.has_world or s.steps == self._fused_step:
            return False
        self._fused_step = s.steps
        self.cloud.add(s.observation)
        self._rate.append((time.perf_counter(), s.steps))
        del self._rate[:-30]
        return True

    def set_query(self, response: dict) -> None:
        self.last_response = response
        self.hits = list(response.get("hits") or [])
        self._hits_key = None

    def clear_query(self) -> None:
        self.last_response = None
        self.hits = []
        self._hits_key = None
        self.set_path(empty_points())

    def set_path(self, points: np.ndarray) -> None:
        self.path = np.asarray(points, dtype=np.float32).reshape(-1, 3)
        self.path_version += 1

    def floor_elevations(self) -> dict[int, float]:
        s = self.session
        if s is None or s.scene is None:
            return {}
        return {int(f.index): float(f.elevation) for f in s.scene.info.floors}

    def route_points(self, planned: Any, lift: float = 0.12) -> np.ndarray:
        """``(x, y, floor)`` route points as 3D points at each floor's elevation."""
        elev = self.floor_elevations()
        rows = [(float(x), float(y), elev.get(int(f), 0.0) + lift) for x, y, f in planned or ()]
        return np.asarray(rows, dtype=np.float32).reshape(-1, 3)

    def steps_per_second(self, window: float = 2.0) -> float:
        """Steps per second over the last ``window`` seconds (0 when the robot stands still): samples
        from before a pause would drag a drive at 21 steps/s down to 1."""
        now = time.perf_counter()
        recent = [(t, n) for t, n in self._rate if now - t <= window]
        if len(recent) < 2:
            return 0.0
        (t0, s0), (t1, s1) = recent[0], recent[-1]
        if now - t1 > 1.0 or t1 <= t0:
            return 0.0
        return (s1 - s0) / (t1 - t0)

    # ------------------------------------------------------------------ snapshots
    def frame(self, *, camera: bool = True) -> SessionFrame | None:
        """The robot, its camera views and the memory counts now (None without a session)."""
        s = self.session
        if s is None:
            return None
        obs = s.observation
        if s.scene is None or obs is None:
            return SessionFrame(0, None, None, s.memory.stats(), None, 0.0, "", self.memory_path, has_world=False)
        views = camera_views(obs) if camera else None
        labels = getattr(s.memory.perceiver, "last_labels", None)  # segments of perception that cuts its own
        if views is not None and isinstance(labels, np.ndarray) and labels.shape == views.rgb.shape[:2]:
            views.extra["segments"] = labels
        return SessionFrame(s.steps, obs.pose, self.coverage, s.memory.stats(), views, self.steps_per_second(),
                            s.scene.spec or s.scene.name, self.memory_path, perception=s.perception)

    def bounds(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """The box the map frames: the world's, or around what the memory holds when it has none."""
        s = self.session
        if s is None:
            return (-0.5, -0.5, 0.0), (0.5, 0.5, 1.0)
        if s.scene is not None:
            info = s.scene.info
            return tuple(info.bounds_min), tuple(info.bounds_max)  # type: ignore[return-value]
        if self._bounds is None:  # a memory without a world does not grow: measured once per session
            self._bounds = memory_bounds(self._graph or graph_snapshot(s.memory.graph), self.tree())
        return self._bounds

    def layer_heights(self) -> tuple[float, float]:
        """(height of forest level 1, height between levels) for the current scene."""
        if self.session is None:
            return 3.2, 1.6
        return layer_heights(self.bounds())

    def tree(self, *, max_age: float = 1.0, force: bool = False) -> ForestTree:
        """The forest as a plain tree, rebuilt when the memory changed and at most every ``max_age`` s."""
        s = self.require()
        obs = s.memory.observations
        stale = self._tree is None or (obs != self._tree_obs and (force or time.monotonic() - self._tree_at >= max_age))
        if stale:
            tree = forest_tree(s.memory)
            if self._tree is None or tree.digest != self._tree.digest:
                self._tree = tree
                self._forest = None
            self._tree_obs = obs
            self._tree_at = time.monotonic()
        assert self._tree is not None
        return self._tree

    def map_snapshot(self, *, force: bool = False) -> MapSnapshot | None:
        """Every 3D layer now (None without a session); ``force`` rebuilds the forest immediately."""
        s = self.session
        if s is None:
            return None
        if self._cloud is None or self._cloud.version != self.cloud.version:
            self._cloud = self.cloud.snapshot()
        g = s.memory.graph
        key = (len(g.places()), len(g.objects()), len(g))
        if self._graph is None or key != self._graph_key:
            self._graph = graph_snapshot(g, version=(self._graph.version + 1) if self._graph else 0)
            self._graph_key = key
        tree = self.tree(force=force)
        bounds = self.bounds()
        base_z, dz = layer_heights(bounds)
        if self._forest is None:
            # several floors: each floor's areas and rooms in a band of their own, in the floors' order
            self._forest = forest_layer(tree, base_z=base_z, dz=dz, version=self.scene_version * 100000
                                        + self._tree_obs, floor_step=FLOOR_BANDS * dz)
        hk = (id(self.hits), len(self.hits), tree.digest)
        if hk != self._hits_key:
            f = self._forest
            self._hits_layer = hits_layer(self.hits, tree, base_z=base_z, dz=dz, floor_step=f.floor_step,
                                          floors=f.floors)
            self._hits_key = hk
        robot = robot_layer(s.observation.pose, s.trajectory) if s.observation is not None else None
        return MapSnapshot(self._cloud, self._graph, tree, self._forest, robot, self._hits_layer, self.path,
                           self.path_version, bounds, self.scene_version,
                           {"floor_elevations": self.floor_elevations()})


class NoSession(LabError):
    """An action needs an open session (a world, or a memory file)."""


def distance_xy(a: Any, b: Any) -> float:
    """Planar distance between two poses."""
    return math.hypot(a.x - b.x, a.y - b.y)


__all__ += ["NoSession", "NoWorld", "distance_xy"]
