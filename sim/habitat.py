"""Adapter from habitat-sim's Python API to our ``Simulator`` protocol.

habitat-sim is optional (it has no installable Linux build here): it is imported inside
``HabitatSimulator.__init__`` and a missing package raises ``BackendUnavailable`` with the
install command.

Frames. habitat is y-up; an agent looks along its local -z. Our world is z-up with yaw
counter-clockwise from +x. The map ``(x, y, z)_habitat -> (x, -z, y)_ours`` is a proper
rotation; an agent rotated by ``theta`` about +y faces our yaw ``theta + pi/2`` (the identity
rotation faces our +y). The conversions are the pure functions below.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from sim.errors import BackendUnavailable, ConfigError, SceneLoadError, SimError
from sim.motion import InvalidAction, InvalidPose
from sim.simulator import SimConfig
from sim.types import Action, ActionKind, FloorInfo, ObjectInfo, Observation, Pose, RoomInfo, SceneInfo, wrap_angle

log = logging.getLogger(__name__)

__all__ = [
    "INSTALL_COMMAND", "HabitatSimulator", "habitat_to_world", "world_to_habitat", "yaw_to_habitat_rotation",
    "habitat_rotation_to_yaw", "pose_to_agent_state", "agent_state_to_pose", "quaternion_coeffs",
    "build_configuration", "scene_info_from_semantic", "SENSOR_UUIDS", "ACTION_NAMES",
]

INSTALL_COMMAND = "conda install habitat-sim -c conda-forge -c aihabitat"
SENSOR_UUIDS = {"rgb": "rgb", "depth": "depth", "semantic": "semantic"}
ACTION_NAMES = {
    ActionKind.FORWARD: "move_forward", ActionKind.BACKWARD: "move_backward",
    ActionKind.TURN_LEFT: "turn_left", ActionKind.TURN_RIGHT: "turn_right",
}
# semantic categories that are structure, not objects: they map to instance 0 like our walls
STRUCTURE = frozenset({"", "wall", "floor", "ceiling", "void", "unknown", "unlabeled", "unlabelled", "objects"})


# frame conversions (pure) ------------------------------------------------------------------------
def habitat_to_world(p: Sequence[float]) -> np.ndarray:
    """habitat (y-up) point -> our z-up world point."""
    x, y, z = (float(v) for v in p)
    return np.array([x, -z, y])


def world_to_habitat(p: Sequence[float]) -> np.ndarray:
    """Our z-up world point -> habitat (y-up) point."""
    x, y, z = (float(v) for v in p)
    return np.array([x, z, -y])


def yaw_to_habitat_rotation(yaw: float) -> list[float]:
    """Quaternion coefficients ``[x, y, z, w]`` (habitat's coefficient order) for our yaw."""
    theta = yaw - math.pi / 2.0
    return [0.0, math.sin(theta / 2.0), 0.0, math.cos(theta / 2.0)]


def quaternion_coeffs(q: Any) -> tuple[float, float, float, float]:
    """``(x, y, z, w)`` of a numpy-quaternion, a magnum ``Quaternion`` or a ``[x, y, z, w]`` sequence."""
    if all(hasattr(q, a) for a in ("w", "x", "y", "z")):
        return float(q.x), float(q.y), float(q.z), float(q.w)
    if hasattr(q, "scalar") and hasattr(q, "vector"):
        v = q.vector
        return float(v[0]), float(v[1]), float(v[2]), float(q.scalar)
    c = [float(v) for v in q]
    if len(c) != 4:
        raise ValueError(f"a quaternion needs 4 coefficients, got {len(c)}")
    return c[0], c[1], c[2], c[3]


def habitat_rotation_to_yaw(q: Any) -> float:
    """Our yaw of an agent rotation (only its heading counts; tilt is ignored)."""
    x, y, z, w = quaternion_coeffs(q)
    n = x * x + y * y + z * z + w * w
    s = 2.0 / n if n > 0.0 else 0.0
    # habitat forward is -(third column of the rotation matrix); our heading is (fx, -fz)
    fx = -s * (x * z + w * y)
    minus_fz = 1.0 - s * (x * x + y * y)
    return wrap_angle(math.atan2(minus_fz, fx))


def pose_to_agent_state(pose: Pose) -> tuple[np.ndarray, list[float]]:
    """Our pose -> habitat agent ``(position, rotation [x, y, z, w])``."""
    return world_to_habitat((pose.x, pose.y, pose.z)), yaw_to_habitat_rotation(pose.yaw)


def agent_state_to_pose(position: Sequence[float], rotation: Any, floor: int = 0) -> Pose:
    """habitat agent position and rotation -> our pose on ``floor``."""
    x, y, z = habitat_to_world(position)
    return Pose(float(x), float(y), float(z), habitat_rotation_to_yaw(rotation), int(floor))


# configuration (pure given the module) ----------------------------------------------------------
def build_configuration(hs: Any, config: SimConfig, scene_path: str) -> Any:
    """``habitat_sim.Configuration`` for our settings: RGB, depth and semantic cameras, 4 actions."""
    sim_cfg = hs.SimulatorConfiguration()
    sim_cfg.scene_id = scene_path
    opts = config.habitat
    if opts.scene_dataset_config:
        sim_cfg.scene_dataset_config_file = opts.scene_dataset_config
    if opts.gpu_device_id >= 0:
        sim_cfg.gpu_device_id = opts.gpu_device_id
    sim_cfg.enable_physics = opts.enable_physics
    try:
        import magnum as mn

        hfov: Any = mn.Deg(config.hfov_deg)
    except ImportError:  # magnum comes with habitat-sim; the test double takes plain degrees
        hfov = float(config.hfov_deg)
    specs = []
    for key, kind in (("rgb", "COLOR"), ("depth", "DEPTH"), ("semantic", "SEMANTIC")):
        spec = hs.CameraSensorSpec()
        spec.uuid = SENSOR_UUIDS[key]
        spec.sensor_type = getattr(hs.SensorType, kind)
        spec.resolution = [config.height, config.width]
        spec.position = [0.0, config.sensor_height, 0.0]
        spec.hfov = hfov
        if hasattr(hs, "SensorSubType"):
            spec.sensor_subtype = hs.SensorSubType.PINHOLE
        specs.append(spec)
    agent_cfg = hs.AgentConfiguration()
    agent_cfg.height = config.robot_height
    agent_cfg.radius = config.robot_radius
    agent_cfg.sensor_specifications = specs
    agent_cfg.action_space = {
        "move_forward": hs.ActionSpec("move_forward", hs.ActuationSpec(amount=config.forward_step)),
        "move_backward": hs.ActionSpec("move_backward", hs.ActuationSpec(amount=config.forward_step)),
        "turn_left": hs.ActionSpec("turn_left", hs.ActuationSpec(amount=config.turn_deg)),
        "turn_right": hs.ActionSpec("turn_right", hs.ActuationSpec(amount=config.turn_deg)),
    }
    return hs.Configuration(sim_cfg, [agent_cfg])


# semantic scene -> SceneInfo ----------------------------------------------------------------------
def _name(category: Any) -> str:
    if category is None:
        return ""
    n = getattr(category, "name", "")
    n = n() if callable(n) else n
    return str(n or "").strip().lower()


def _aabb(box: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(min, max) in habitat coordinates of a magnum ``Range3D`` or a habitat ``BBox``."""
    if box is None:
        return None
    if hasattr(box, "min") and hasattr(box, "max") and not callable(box.min):
        lo, hi = np.asarray(list(box.min), float), np.asarray(list(box.max), float)
    elif hasattr(box, "center") and hasattr(box, "sizes"):
        c, s = box.center, box.sizes
        c, s = np.asarray(list(c() if callable(c) else c), float), np.asarray(list(s() if callable(s) else s), float)
        lo, hi = c - s / 2.0, c + s / 2.0
    else:
        return None
    if lo.shape != (3,) or not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        return None
    return np.minimum(lo, hi), np.maximum(lo, hi)


def _world_box(lo: np.ndarray, hi: np.ndarray) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    a, b = habitat_to_world(lo), habitat_to_world(hi)
    wlo, whi = np.minimum(a, b), np.maximum(a, b)
    return (float(wlo[0]), float(wlo[1]), float(wlo[2])), (float(whi[0]), float(whi[1]), float(whi[2]))


def _list(x: Any) -> list:
    return [] if x is None else list(x)


def scene_info_from_semantic(semantic_scene: Any, name: str, *,
                             default_elevation: float = 0.0) -> tuple[SceneInfo, np.ndarray]:
    """Our ``SceneInfo`` from habitat's semantic scene, and a lookup table semantic id -> object id.

    Levels become floors (elevation = the level box's bottom), regions become rooms (their box
    footprint), objects keep their semantic id as our object id; structure categories (wall,
    floor, ceiling ...) are left out and map to instance 0.
    """
    levels = [lv for lv in _list(getattr(semantic_scene, "levels", None)) if lv is not None]
    boxes = [(lv, _aabb(getattr(lv, "aabb", None))) for lv in levels]
    boxes = sorted((b for b in boxes if b[1] is not None), key=lambda b: float(b[1][0][1]))
    floors: list[FloorInfo] = []
    level_index: dict[str, int] = {}
    for i, (lv, (lo, hi)) in enumerate(boxes):
        floors.append(FloorInfo(i, float(lo[1]), max(float(hi[1] - lo[1]), 0.1)))
        level_index[str(getattr(lv, "id", i))] = i
    if not floors:
        floors = [FloorInfo(0, float(default_elevation))]
    info_floors = tuple(floors)

    def floor_of(level: Any, z: float) -> int:
        if level is not None and str(getattr(level, "id", "")) in level_index:
            return level_index[str(level.id)]
        return SceneInfo("tmp", floors=info_floors).floor_of_z(z)

    rooms: list[RoomInfo] = []
    region_index: dict[str, int] = {}
    for region in _list(getattr(semantic_scene, "regions", None)):
        box = _aabb(getattr(region, "aabb", None)) if region is not None else None
        if box is None:
            continue
        (x0, y0, z0), (x1, y1, _) = _world_box(*box)
        rid = len(rooms)
        region_index[str(getattr(region, "id", rid))] = rid
        rtype = _name(getattr(region, "category", None)) or "room"
        rooms.append(RoomInfo(rid, rtype, floor_of(getattr(region, "level", None), z0),
                              ((x0, y0), (x1, y0), (x1, y1), (x0, y1)), f"{rtype} {rid}"))

    objects: list[ObjectInfo] = []
    for obj in _list(getattr(semantic_scene, "objects", None)):
        if obj is None:
            continue
        sid = getattr(obj, "semantic_id", None)
        if sid is None:
            try:
                sid = int(str(getattr(obj, "id", "")).split("_")[-1])
            except ValueError:
                continue
        sid = int(sid)
        category = _name(getattr(obj, "category", None))
        box = _aabb(getattr(obj, "aabb", None))
        if sid <= 0 or category in STRUCTURE or box is None:
            continue
        lo, hi = _world_box(*box)
        region = getattr(obj, "region", None)
        room = region_index.get(str(getattr(region, "id", None)), -1) if region is not None else -1
        floor = floor_of(getattr(region, "level", None) if region is not None else None, lo[2])
        centre = tuple((a + b) / 2.0 for a, b in zip(lo, hi, strict=True))
        objects.append(ObjectInfo(sid, category, "", "", room, floor, centre, lo, hi))  # type: ignore[arg-type]

    lut = np.zeros(max([o.id for o in objects], default=0) + 2, dtype=np.int32)  # last entry: unknown ids
    for o in objects:
        lut[o.id] = o.id
    scene_box = _aabb(getattr(semantic_scene, "aabb", None))
    if scene_box is not None:
        bmin, bmax = _world_box(*scene_box)
    elif objects:
        bmin = tuple(float(min(o.bbox_min[k] for o in objects)) for k in range(3))  # type: ignore[assignment]
        bmax = tuple(float(max(o.bbox_max[k] for o in objects)) for k in range(3))  # type: ignore[assignment]
    else:
        bmin = bmax = (0.0, 0.0, 0.0)
    info = SceneInfo(name=name, kind="habitat", rooms=tuple(rooms), floors=info_floors, objects=tuple(objects),
                     bounds_min=bmin, bounds_max=bmax)
    return info, lut


def _whole_steps(total: float, step: float) -> int:
    """Whole steps of ``step`` in ``total``, rounded towards zero (tolerating float noise)."""
    q = total / step
    return int(math.copysign(math.floor(abs(q) + 1e-9), q))


def _import_habitat() -> Any:
    try:
        import habitat_sim
    except (ImportError, OSError) as e:  # OSError: a build whose native libraries do not load
        raise BackendUnavailable(
            f"habitat-sim is not installed ({e}); install it with: {INSTALL_COMMAND} "
            "(or use the built-in simulator, type 'builtin')") from e
    return habitat_sim


class HabitatSimulator:
    """habitat-sim behind the ``Simulator`` protocol.

    Discrete actions map to habitat's ``move_forward`` / ``move_backward`` / ``turn_left`` /
    ``turn_right`` (an action's own ``amount`` temporarily changes that action's actuation);
    velocity commands become a sequence of discrete actions whose remainders carry over to the
    next command. ``navmap`` is None: habitat has its own navmesh (``sim.pathfinder``).
    """

    def __init__(self, config: SimConfig, scene: str | Path) -> None:
        if not isinstance(scene, (str, Path)):
            raise ConfigError(f"the habitat simulator needs a scene file path, got {type(scene).__name__}")
        hs = _import_habitat()
        path = str(scene)
        if not config.habitat.scene_dataset_config and not Path(path).exists():
            raise SceneLoadError(f"habitat scene file not found: {path}")
        self.config = config
        self.camera = config.camera
        self._hs = hs
        sim_config = build_configuration(hs, config, path)
        try:
            self._sim = hs.Simulator(sim_config)
        except (RuntimeError, OSError) as e:  # no GPU / EGL context, unreadable scene ...
            raise BackendUnavailable(f"habitat-sim could not start on {path}: {e}") from e
        self._agent = self._sim.get_agent(0)
        state = self._agent.get_state()
        start_y = float(np.asarray(state.position, dtype=float)[1])
        self.info, self._lut = scene_info_from_semantic(getattr(self._sim, "semantic_scene", None), Path(path).stem,
                                                        default_elevation=start_y)
        self._objects = MappingProxyType(self.info.object_table())
        self._time = 0.0
        self._step = 0
        self._collided = False
        self._residual = [0.0, 0.0]  # metres and degrees of velocity commands not yet executed
        self._closed = False
        log.info("habitat simulator for %s: %d objects, %d rooms, %d floors", path, len(self.info.objects),
                 len(self.info.rooms), len(self.info.floors))

    # protocol -------------------------------------------------------------------------------------
    @property
    def pose(self) -> Pose:
        """The agent's pose in our frame (floor from its height)."""
        self._check_open()
        state = self._agent.get_state()
        p = habitat_to_world(state.position)
        return agent_state_to_pose(state.position, state.rotation, self.info.floor_of_z(float(p[2])))

    @property
    def navmap(self) -> None:
        """habitat keeps its own navmesh; there is no ground-truth ``NavMap`` here."""
        return None

    def reset(self, pose: Pose | None = None) -> Observation:
        """Reset habitat (agent back to its initial state), optionally move it to ``pose``, observe."""
        self._check_open()
        self._sim.reset()
        self._time = 0.0
        self._step = 0
        self._collided = False
        self._residual = [0.0, 0.0]
        if pose is not None:
            self._place(pose)
        return self.observe()

    def step(self, action: Action) -> Observation:
        """Run the habitat actions for ``action`` and observe."""
        self._check_open()
        if not isinstance(action, Action):
            raise InvalidAction(f"expected an Action, got {type(action).__name__}")
        obs, collided = self._run(self._plan(action))
        self._collided = collided
        self._step += 1
        self._time += action.dt if action.kind is ActionKind.VELOCITY else self.config.step_seconds
        return self._observation(obs)

    def observe(self) -> Observation:
        """habitat's current sensor readings as an ``Observation``, without moving."""
        self._check_open()
        return self._observation(self._sim.get_sensor_observations())

    def set_pose(self, pose: Pose) -> Observation:
        """Teleport (``InvalidPose`` where habitat's navmesh says the spot is not navigable) and observe."""
        self._check_open()
        self._place(pose)
        self._collided = False
        return self.observe()

    def close(self) -> None:
        """Close habitat-sim (idempotent); later calls raise ``SimError``."""
        if not self._closed:
            self._closed = True
            self._sim.close()

    def __enter__(self) -> HabitatSimulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # internals ------------------------------------------------------------------------------------
    def _plan(self, action: Action) -> list[tuple[str, float | None]]:
        """(habitat action name, actuation amount or None for the configured one) to run."""
        kind = action.kind
        if kind is ActionKind.STOP:
            return []
        if kind in (ActionKind.FORWARD, ActionKind.BACKWARD, ActionKind.TURN_LEFT, ActionKind.TURN_RIGHT):
            name = ACTION_NAMES[kind]
            if action.amount is None:
                return [(name, None)]
            amount = float(action.amount)
            if not math.isfinite(amount):
                raise InvalidAction(f"action amount must be finite, got {amount}")
            if amount < 0:  # forward(-x) is backward(x), turn_left(-a) is turn_right(a)
                flip = {"move_forward": "move_backward", "move_backward": "move_forward",
                        "turn_left": "turn_right", "turn_right": "turn_left"}
                name, amount = flip[name], -amount
            return [(name, amount)]
        if kind is ActionKind.VELOCITY:
            return self._velocity_plan(action)
        raise InvalidAction(f"unknown action kind {kind!r}")

    def _velocity_plan(self, action: Action) -> list[tuple[str, float | None]]:
        cfg = self.config
        v, w, dt = action.v, action.omega, action.dt
        if not all(math.isfinite(a) for a in (v, w, dt)) or dt <= 0.0:
            raise InvalidAction(f"velocity command must be finite with dt > 0, got v={v}, omega={w}, dt={dt}")
        v = max(-cfg.max_speed, min(cfg.max_speed, v))
        w = max(-cfg.max_turn_rate, min(cfg.max_turn_rate, w))
        dist = self._residual[0] + v * dt
        turn = self._residual[1] + math.degrees(w * dt)
        n_move = _whole_steps(dist, cfg.forward_step)  # the remainders carry over
        n_turn = _whole_steps(turn, cfg.turn_deg)
        self._residual = [dist - n_move * cfg.forward_step, turn - n_turn * cfg.turn_deg]
        move = "move_forward" if n_move >= 0 else "move_backward"
        rot = "turn_left" if n_turn >= 0 else "turn_right"
        first = abs(n_turn) // 2  # half the turns, the moves, then the rest: a midpoint arc
        return ([(rot, None)] * first + [(move, None)] * abs(n_move)
                + [(rot, None)] * (abs(n_turn) - first))

    def _run(self, plan: Iterable[tuple[str, float | None]]) -> tuple[dict, bool]:
        obs = None
        collided = False
        for name, amount in plan:
            if amount is None:
                obs = self._sim.step(name)
            else:
                spec = self._agent.agent_config.action_space[name]
                default = spec.actuation.amount
                spec.actuation.amount = amount
                try:
                    obs = self._sim.step(name)
                finally:
                    spec.actuation.amount = default
            hit = obs.get("collided") if isinstance(obs, dict) else None
            if hit is None:
                hit = getattr(self._sim, "previous_step_collided", False)
            collided |= bool(hit)
        if obs is None:
            obs = self._sim.get_sensor_observations()
        return obs, collided

    def _place(self, pose: Pose) -> None:
        if not all(math.isfinite(v) for v in (pose.x, pose.y, pose.z, pose.yaw)):
            raise InvalidPose(f"pose has a non-finite value: {pose}")
        floors = {f.index: f.elevation for f in self.info.floors}
        z = floors.get(pose.floor, pose.z)
        position, rotation = pose_to_agent_state(Pose(pose.x, pose.y, z, pose.yaw, pose.floor))
        pf = getattr(self._sim, "pathfinder", None)
        if pf is not None and getattr(pf, "is_loaded", False) and not pf.is_navigable(position):
            raise InvalidPose(f"pose ({pose.x:.2f}, {pose.y:.2f}) on floor {pose.floor} is not navigable "
                              "in habitat's navmesh")
        state = self._hs.AgentState()
        state.position = position.astype(np.float32)
        state.rotation = rotation
        self._agent.set_state(state)

    def _observation(self, obs: dict) -> Observation:
        try:
            rgb = np.asarray(obs[SENSOR_UUIDS["rgb"]])
            depth = np.asarray(obs[SENSOR_UUIDS["depth"]], dtype=np.float32)
            sem = np.asarray(obs[SENSOR_UUIDS["semantic"]])
        except KeyError as e:
            raise SimError(f"habitat returned no {e.args[0]!r} observation; got {sorted(obs)}") from None
        rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)  # habitat colour sensors give RGBA
        if depth.ndim == 3:
            depth = depth[..., 0]
        depth = np.where(np.isfinite(depth) & (depth > 0) & (depth <= self.camera.max_depth), depth,
                         np.float32(0.0)).astype(np.float32)
        if sem.ndim == 3:
            sem = sem[..., 0]
        instance = self._lut[np.clip(sem.astype(np.int64), 0, len(self._lut) - 1)]  # unknown ids -> last -> 0
        instance = np.where(depth > 0, instance, 0).astype(np.int32)
        return Observation(rgb=rgb, depth=depth, instance=instance, pose=self.pose, timestamp=self._time,
                           camera=self.camera, step=self._step, collided=self._collided, objects=self._objects,
                           scene=self.info)

    def _check_open(self) -> None:
        if self._closed:
            raise SimError("the simulator is closed")
