"""The built-in simulator: Open3D raycast rendering plus NavMap-based motion.

Always available (CPU only). One Open3D ``RaycastingScene`` is shared by the renderer and
the ground-truth ``NavMap``; motion and collisions are in ``sim.motion``, rendering in
``sim.raycast``.
"""
from __future__ import annotations

import logging
import math
import time
from types import MappingProxyType

from sim.errors import ConfigError, SimError
from sim.motion import InvalidAction, InvalidPose, MotionModel, MotionResult
from sim.navmap import NavMap, raycast_scene
from sim.raycast import Renderer, RenderStyle
from sim.scene import Scene
from sim.sensors import SensorModel
from sim.simulator import SimConfig
from sim.types import Action, ActionKind, Observation, Pose

log = logging.getLogger(__name__)

__all__ = ["BuiltinSimulator", "InvalidPose", "InvalidAction"]


class BuiltinSimulator:
    """A disc robot with a pinhole RGB-D + instance camera in a ``Scene``.

    Discrete actions move ``forward_step`` metres or turn ``turn_deg`` degrees (an action's
    ``amount`` overrides them) and advance the clock by ``step_seconds``; velocity commands
    are integrated as a unicycle for their ``dt``. Collisions use the NavMap clearance with
    the configured robot radius (``slide`` or ``stop``); portals move the robot between floors.
    """

    def __init__(self, config: SimConfig, scene: Scene, *, style: RenderStyle | None = None) -> None:
        if not isinstance(scene, Scene):
            raise ConfigError(f"the builtin simulator needs a Scene, got {type(scene).__name__}")
        self.config = config
        self.scene = scene
        self.info = scene.info
        self.camera = config.camera
        t0 = time.perf_counter()
        raycaster = raycast_scene(scene)
        self._navmap = NavMap.from_scene(scene, resolution=config.nav_resolution, robot_radius=config.robot_radius,
                                         robot_height=config.robot_height, raycaster=raycaster)
        self._renderer: Renderer | None = Renderer(scene, self.camera, threads=config.render_threads, style=style,
                                                   raycaster=raycaster)
        self._motion = MotionModel(self._navmap, scene.info.floors, radius=config.robot_radius,
                                   collision=config.collision, portals=scene.portals)
        self._objects = MappingProxyType(scene.info.object_table())
        self._start = self._start_pose()
        self._pose = self._start
        self._time = 0.0
        self._step = 0
        self._collided = False
        # depth noise and odometry drift (``sim.sensors``): the robot then sees believed poses
        self._sensors = SensorModel(config.sensors, self.camera) if config.sensors.enabled else None
        if self._sensors is not None:
            self._sensors.reset(self._pose)
        log.info("builtin simulator for %s: %d triangles, navmap and renderer ready in %.2f s",
                 scene.name, scene.mesh.n_triangles, time.perf_counter() - t0)

    # protocol properties ----------------------------------------------------------------------
    @property
    def pose(self) -> Pose:
        """Where the robot is now."""
        return self._pose

    @property
    def navmap(self) -> NavMap:
        """The ground-truth navigable map the collisions use."""
        return self._navmap

    @property
    def renderer(self) -> Renderer:
        """The raycast renderer (``SimError`` once closed)."""
        self._check_open()
        assert self._renderer is not None
        return self._renderer

    @property
    def closed(self) -> bool:
        """True after ``close()``."""
        return self._renderer is None

    # protocol methods ---------------------------------------------------------------------------
    def reset(self, pose: Pose | None = None) -> Observation:
        """Put the robot at ``pose`` (default: the scene's start), zero the clock and observe."""
        self._check_open()
        self._pose = self._start if pose is None else self._motion.check_pose(pose)
        self._time = 0.0
        self._step = 0
        self._collided = False
        if self._sensors is not None:
            self._sensors.reset(self._pose)
        return self.observe()

    def step(self, action: Action) -> Observation:
        """Apply one motion command with collisions, advance the clock and observe."""
        self._check_open()
        result = self._apply(action)
        if self._sensors is not None:
            self._sensors.move(self._pose, result.pose, self._step + 1)
        self._pose = result.pose
        self._collided = result.collided
        self._step += 1
        self._time += action.dt if action.kind is ActionKind.VELOCITY else self.config.step_seconds
        if result.portal is not None:
            log.debug("took portal %d to floor %d", result.portal, result.pose.floor)
        return self.observe()

    def observe(self) -> Observation:
        """Render what the robot sees now, without moving."""
        frame = self.renderer.render(self._pose)
        depth, pose = frame.depth, self._pose
        if self._sensors is not None:
            depth = self._sensors.depth(depth, self._step)
            pose = self._sensors.believed or pose
        return Observation(rgb=frame.rgb, depth=depth, instance=frame.instance, pose=pose,
                           timestamp=self._time, camera=self.camera, step=self._step, collided=self._collided,
                           objects=self._objects, scene=self.info, true_pose=self._pose)

    def set_pose(self, pose: Pose) -> Observation:
        """Teleport to ``pose`` (``InvalidPose`` if inside an obstacle or off the map) and observe."""
        self._check_open()
        self._pose = self._motion.check_pose(pose)
        self._collided = False
        if self._sensors is not None:
            self._sensors.reset(self._pose)
        return self.observe()

    def close(self) -> None:
        """Release the renderer; later calls raise ``SimError``."""
        self._renderer = None

    def __enter__(self) -> BuiltinSimulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # helpers --------------------------------------------------------------------------------------
    def is_free(self, pose: Pose) -> bool:
        """True when the robot could stand at ``pose`` (on its floor, touching nothing)."""
        return self._motion.is_free(pose.x, pose.y, pose.floor)

    def _apply(self, action: Action) -> MotionResult:
        if not isinstance(action, Action):
            raise InvalidAction(f"expected an Action, got {type(action).__name__}")
        cfg = self.config
        kind = action.kind
        if kind is ActionKind.FORWARD or kind is ActionKind.BACKWARD:
            d = cfg.forward_step if action.amount is None else float(action.amount)
            return self._motion.translate(self._pose, d if kind is ActionKind.FORWARD else -d)
        if kind is ActionKind.TURN_LEFT or kind is ActionKind.TURN_RIGHT:
            a = math.radians(cfg.turn_deg if action.amount is None else float(action.amount))
            return self._motion.rotate(self._pose, a if kind is ActionKind.TURN_LEFT else -a)
        if kind is ActionKind.VELOCITY:
            return self._motion.drive(self._pose, action.v, action.omega, action.dt, max_speed=cfg.max_speed,
                                      max_turn_rate=cfg.max_turn_rate)
        if kind is ActionKind.STOP:
            return MotionResult(self._pose)
        raise InvalidAction(f"unknown action kind {kind!r}")

    def _start_pose(self) -> Pose:
        start = self.scene.start
        try:
            return self._motion.check_pose(start)
        except InvalidPose as e:
            spot = (self._navmap.nearest_navigable(start.x, start.y, start.floor)
                    if start.floor in self._navmap.floors else None)
            if spot is None:
                raise InvalidPose(f"scene {self.scene.name!r} has an unusable start pose: {e}") from None
            log.warning("scene %s: start pose not free (%s); using the nearest free spot (%.2f, %.2f)",
                        self.scene.name, e, spot[0], spot[1])
            return self._motion.check_pose(start.moved(x=spot[0], y=spot[1]))

    def _check_open(self) -> None:
        if self._renderer is None:
            raise SimError("the simulator is closed")
