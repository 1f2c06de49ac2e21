"""``Session``: a robot in a world with its memory - the use case the GUI and the CLI share.

The session owns the simulator, the memory (``memory.core.EmbodiedMemory``) and the current
driving policy. Every observation the robot makes, by exploring, teleoperation or navigation,
goes through ``memory.ingest``. Long work (``explore``) is a generator of ``Progress`` reports
that honours a ``CancelToken``.

A session may also hold a memory without its world (``Session(None, memory_path=...)``): a
memory imported from elsewhere (the authors' Building99 or street-view graphs) was never built
in one of our worlds. It answers questions and shows what it holds; everything that drives the
robot raises ``NoWorld``.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

from app.config import LabConfig
from app.priors import pack_for_scene
from app.progress import CancelToken, Progress
from app.robot.exploration import ExploreResult, ExploreSnapshot
from app.robot.exploration import explore as explore_loop
from app.robot.occupancy import load_robot_map, save_robot_map
from memory.core import EmbodiedMemory
from sim.errors import LabError
from sim.explore import FrontierExplorer, Policy
from sim.loader import load_scene
from sim.mapping import MapperConfig, OccupancyMapper, RobotMap
from sim.scene import Scene
from sim.simulator import Simulator, make_simulator
from sim.types import Action, Observation, Pose

log = logging.getLogger(__name__)

__all__ = ["Session", "SessionSnapshot", "ExploreSummary", "NoWorld", "NO_WORLD"]

NO_WORLD = "this memory has no world: open a scene to drive"

_GOLDEN = math.pi * (3.0 - math.sqrt(5.0))


@dataclass(frozen=True)
class SessionSnapshot:
    """What viewers need after a few steps: the robot, the last observation, memory counts."""

    step: int
    pose: Pose
    observation: Observation | None
    coverage: float | None
    stats: dict
    collisions: int = 0


@dataclass
class ExploreSummary:
    episode: ExploreResult
    stats: dict
    memory_path: str | None
    seconds: float
    steps_per_second: float
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        ep = self.episode
        return {
            "steps": ep.steps, "stop_reason": ep.stop_reason,
            "coverage": ep.coverage.to_dict() if ep.coverage is not None else None,
            "collisions": ep.collisions, "distance_m": round(ep.distance, 2), "seconds": round(self.seconds, 2),
            "steps_per_second": round(self.steps_per_second, 2), "memory": self.stats, "out": self.memory_path,
        }


class _IngestingSimulator:
    """A simulator proxy that feeds every observation into the memory."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def __getattr__(self, name):
        return getattr(self._s.sim, name)

    def step(self, action: Action) -> Observation:
        return self._s.step(action)

    def observe(self) -> Observation:
        return self._s.observation


class NoWorld(LabError):
    """Driving was asked of a session whose memory is open without a world."""


class Session:
    """A robot in a world with its memory; or, with ``scene=None``, a memory on its own."""

    def __init__(self, scene: Scene | str | None, *, config: LabConfig | None = None,
                 memory: EmbodiedMemory | None = None, memory_path: str | Path | None = None, seed: int = 0,
                 simulator: Simulator | None = None) -> None:
        self.config = config or LabConfig()
        self.policy: Policy | None = None
        self.steps = 0
        if scene is None:
            if memory is None and memory_path is None:
                raise LabError("a session without a world needs a memory (a memory file or an open memory)")
            self.scene: Scene | None = None
            self.sim: Simulator | None = None
            self.memory = memory if memory is not None else EmbodiedMemory.open(memory_path, self.config.memory,
                                                                                create=False)
            self.mapper: OccupancyMapper | None = None
            self.observation: Observation | None = None
            self.trajectory: list[Pose] = []
            return
        self.scene = load_scene(scene) if isinstance(scene, str) else scene
        self.sim = simulator or make_simulator(self.config.sim, self.scene)
        try:
            if memory is not None:
                self.memory = memory
            elif memory_path is not None:
                # an existing file keeps the prior pack it was built with
                self.memory = EmbodiedMemory.open(memory_path, self.config.memory,
                                                  default_priors=pack_for_scene(self.scene))
            else:
                self.memory = EmbodiedMemory(self.config.memory, priors=pack_for_scene(self.scene))
        except BaseException:
            self.sim.close()
            raise
        self.memory.meta.setdefault("scene", self.scene.spec or self.scene.name)
        self._record_perception()
        self.mapper = self._robot_mapper()
        self.memory.checkpoint_hooks.append(lambda store: save_robot_map(store, self.mapper))
        start = self.scene.start
        if seed:
            start = start.moved(yaw=start.yaw + seed * _GOLDEN)
        self.observation = self.sim.reset(start)
        self.memory.ingest(self.observation)
        self.mapper.update(self.observation)
        self.trajectory = [self.observation.pose]

    def _record_perception(self) -> None:
        """Name in the memory's meta the perception that builds it (``memory info``, the status bar)."""
        mine = self.config.memory.perception.type
        built = str(self.memory.meta.get("perception") or "")
        if mine not in built.split("+"):
            self.memory.meta["perception"] = f"{built}+{mine}" if built else mine

    @property
    def perception(self) -> str:
        """Which perception built this memory (``oracle``, ``geometric``, ...; ``+`` joins several)."""
        return str(self.memory.meta.get("perception") or "")

    @property
    def has_world(self) -> bool:
        """Whether there is a world to drive in (False for a memory opened on its own)."""
        return self.sim is not None

    def require_world(self) -> Simulator:
        """The simulator; ``NoWorld`` when this memory is open without a world."""
        if self.sim is None:
            raise NoWorld(NO_WORLD)
        return self.sim

    # ------------------------------------------------------------------ driving
    def step(self, action: Action) -> Observation:
        """Move the robot and remember what it sees."""
        obs = self.require_world().step(action)
        self.memory.ingest(obs)
        self.mapper.update(obs)  # the explorer fuses the same observation only once
        self.observation = obs
        self.trajectory.append(obs.pose)
        self.steps += 1
        return obs

    def explorer(self) -> FrontierExplorer:
        """The frontier explorer of this session (created on first use, kept between runs)."""
        sim = self.require_world()
        if not isinstance(self.policy, FrontierExplorer):
            self.policy = FrontierExplorer.for_simulator(sim, config=self.config.explorer, mapper=self.mapper)
        return self.policy

    def _robot_mapper(self) -> OccupancyMapper:
        """The robot's own map: the one saved in the memory file, or a new one."""
        cfg = self.sim.config
        mc = MapperConfig(robot_radius=cfg.robot_radius, robot_height=cfg.robot_height, resolution=cfg.nav_resolution)
        store = self.memory.store
        if store is not None:
            restored = load_robot_map(store, self.sim.camera, mc)
            if restored is not None:
                return restored
        nm = self.sim.navmap
        pose = self.scene.start
        # only the grid origin is taken from the ground truth, so that evaluation cells coincide
        origin = nm.grid(pose.floor).spec if nm is not None and pose.floor in nm.floors else None
        return OccupancyMapper(self.sim.camera, mc, origin=origin)

    def known_portals(self) -> list:
        """Stairs the robot knows: it has seen one of their ends, or the explorer noticed them."""
        nm = self.require_world().navmap
        portals = list(nm.portals) if nm is not None else []
        noticed = self.policy.known_portals if isinstance(self.policy, FrontierExplorer) else set()
        out = []
        for p in portals:
            seen = False
            for f, end in ((p.floor_a, p.a), (p.floor_b, p.b)):
                fm = self.mapper.floors.get(f)
                if fm is not None and bool(fm.seen_at(end[0], end[1])[0]):
                    seen = True
            if seen or p.id in noticed:
                out.append(p)
        return out

    def robot_grid(self) -> RobotMap:
        """The robot's own map as a planner grid, with the stairs it knows."""
        self.require_world()
        return self.mapper.as_grid(self.known_portals())

    def explore(self, max_steps: int, cancel: CancelToken | None = None, *, policy: Policy | None = None,
                report_every: int = 10) -> Generator[Progress, None, ExploreSummary]:
        """Explore (or run ``policy``) for at most ``max_steps`` steps; returns a summary."""
        self.require_world()
        t0 = time.perf_counter()
        pol = policy or self.explorer()
        gen = explore_loop(_IngestingSimulator(self), pol, max_steps, cancel, report_every=report_every)
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                episode: ExploreResult = stop.value
                break
            snap = p.snapshot
            cov = snap.coverage if isinstance(snap, ExploreSnapshot) else None
            stats = self.memory.stats()
            msg = f"{stats['objects']} objects, {stats['rooms']} rooms" + (f", coverage {cov:.0%}" if cov else "")
            yield Progress("explore", p.done, p.total, msg,
                           SessionSnapshot(self.steps, self.observation.pose, self.observation, cov, stats,
                                           snap.collisions if isinstance(snap, ExploreSnapshot) else 0))
        yield Progress("explore", episode.steps, max_steps, "summarising the memory")
        self.memory.refresh()
        self.memory.checkpoint()
        dt = time.perf_counter() - t0
        path = str(self.memory.store.path) if self.memory.store is not None else None
        return ExploreSummary(episode, self.memory.stats(), path, dt, episode.steps / max(dt, 1e-9))

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        try:
            self.memory.close()
        finally:
            if self.sim is not None:
                self.sim.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
