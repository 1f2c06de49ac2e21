"""Plain value types shared by the simulator and the memory.

Conventions (used everywhere in the project):

* World frame is right-handed and **z-up**: x east, y north, z up, metres.
* ``yaw`` is the heading about +z in radians, 0 along +x, counter-clockwise positive.
* A robot ``Pose`` is its base on the floor; the camera sits ``CameraSpec.sensor_height``
  above it, looking along the heading with zero pitch.
* Depth images hold **z-depth** (distance along the optical axis), not ray length.
* Instance images hold object ids from ``SceneInfo.objects``; 0 means "no object"
  (walls, floors, sky).

This module depends on numpy only, so ``memory`` can use it without the simulator.
"""
from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Pose",
    "ActionKind",
    "Action",
    "CameraSpec",
    "ObjectInfo",
    "RoomInfo",
    "FloorInfo",
    "SceneInfo",
    "Observation",
    "wrap_angle",
]


def wrap_angle(a: float) -> float:
    """Wrap an angle to [-pi, pi)."""
    return (a + math.pi) % (2.0 * math.pi) - math.pi


@dataclass(frozen=True, slots=True)
class Pose:
    """Robot base pose: position on its floor and heading."""

    x: float
    y: float
    z: float = 0.0
    yaw: float = 0.0
    floor: int = 0

    @property
    def position(self) -> np.ndarray:
        return np.array([self.x, self.y, self.z], dtype=np.float64)

    @property
    def xy(self) -> np.ndarray:
        return np.array([self.x, self.y], dtype=np.float64)

    @property
    def heading(self) -> np.ndarray:
        """Unit forward vector in the world frame."""
        return np.array([math.cos(self.yaw), math.sin(self.yaw), 0.0])

    def distance_to(self, other: Pose) -> float:
        return float(math.hypot(self.x - other.x, self.y - other.y) + abs(self.z - other.z))

    def moved(self, *, x: float | None = None, y: float | None = None, z: float | None = None,
              yaw: float | None = None, floor: int | None = None) -> Pose:
        return Pose(
            self.x if x is None else float(x),
            self.y if y is None else float(y),
            self.z if z is None else float(z),
            self.yaw if yaw is None else wrap_angle(float(yaw)),
            self.floor if floor is None else int(floor),
        )

    def to_list(self) -> list[float]:
        return [self.x, self.y, self.z, self.yaw, float(self.floor)]


class ActionKind(str, enum.Enum):
    FORWARD = "forward"
    BACKWARD = "backward"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    VELOCITY = "velocity"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class Action:
    """A motion command.

    Discrete actions carry an ``amount`` (metres for forward/backward, degrees for turns);
    ``None`` means the simulator's configured default (0.25 m, 15 degrees).
    ``VELOCITY`` carries a linear speed ``v`` (m/s), an angular speed ``omega`` (rad/s)
    and a duration ``dt`` (s).
    """

    kind: ActionKind
    amount: float | None = None
    v: float = 0.0
    omega: float = 0.0
    dt: float = 0.0

    @classmethod
    def forward(cls, metres: float | None = None) -> Action:
        return cls(ActionKind.FORWARD, metres)

    @classmethod
    def backward(cls, metres: float | None = None) -> Action:
        return cls(ActionKind.BACKWARD, metres)

    @classmethod
    def turn_left(cls, degrees: float | None = None) -> Action:
        return cls(ActionKind.TURN_LEFT, degrees)

    @classmethod
    def turn_right(cls, degrees: float | None = None) -> Action:
        return cls(ActionKind.TURN_RIGHT, degrees)

    @classmethod
    def velocity(cls, v: float, omega: float, dt: float = 0.1) -> Action:
        return cls(ActionKind.VELOCITY, None, float(v), float(omega), float(dt))

    @classmethod
    def stop(cls) -> Action:
        return cls(ActionKind.STOP)


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """Pinhole camera mounted on the robot (zero pitch)."""

    width: int = 320
    height: int = 240
    hfov_deg: float = 90.0
    sensor_height: float = 1.25
    max_depth: float = 20.0

    @property
    def fx(self) -> float:
        return 0.5 * self.width / math.tan(math.radians(self.hfov_deg) / 2.0)

    @property
    def fy(self) -> float:
        return self.fx  # square pixels

    @property
    def cx(self) -> float:
        return (self.width - 1) / 2.0

    @property
    def cy(self) -> float:
        return (self.height - 1) / 2.0

    @property
    def vfov_deg(self) -> float:
        return math.degrees(2.0 * math.atan(0.5 * self.height / self.fy))

    def camera_position(self, pose: Pose) -> np.ndarray:
        return np.array([pose.x, pose.y, pose.z + self.sensor_height])

    def pixel_rays(self, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel world-frame ray directions (H, W, 3) whose forward component is 1.

        Because the forward component is 1, the ray parameter at a hit equals the z-depth.
        Returns ``(origin (3,), directions (H, W, 3))``.
        """
        u = np.arange(self.width, dtype=np.float64)
        v = np.arange(self.height, dtype=np.float64)
        uu, vv = np.meshgrid(u, v)
        right = (uu - self.cx) / self.fx
        up = -(vv - self.cy) / self.fy
        f, r = _basis(pose.yaw)
        d = f[None, None, :] + right[..., None] * r[None, None, :] + up[..., None] * np.array([0.0, 0.0, 1.0])
        return self.camera_position(pose), d

    def backproject(self, depth: np.ndarray, pose: Pose, mask: np.ndarray | None = None) -> np.ndarray:
        """World points (N, 3) for the valid depth pixels (optionally within ``mask``)."""
        valid = np.isfinite(depth) & (depth > 0.0) & (depth < self.max_depth)
        if mask is not None:
            valid &= mask
        vv, uu = np.nonzero(valid)
        d = depth[vv, uu].astype(np.float64)
        right = (uu - self.cx) / self.fx * d
        up = -(vv - self.cy) / self.fy * d
        f, r = _basis(pose.yaw)
        pts = (self.camera_position(pose)[None, :] + d[:, None] * f[None, :] + right[:, None] * r[None, :])
        pts[:, 2] += up
        return pts

    def project(self, points: np.ndarray, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
        """Project world points (N, 3) to pixel coordinates (N, 2) and z-depth (N,)."""
        f, r = _basis(pose.yaw)
        rel = np.asarray(points, dtype=np.float64) - self.camera_position(pose)[None, :]
        z = rel @ f
        x = rel @ r
        y = rel[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.cx + self.fx * x / z
            v = self.cy - self.fy * y / z
        return np.stack([u, v], axis=1), z


def _basis(yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """Forward and right unit vectors for a heading."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([c, s, 0.0]), np.array([s, -c, 0.0])


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """Ground truth for one object instance in a scene."""

    id: int
    category: str
    colour: str = ""
    material: str = ""
    room_id: int = -1
    floor: int = 0
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    bbox_min: tuple[float, float, float] = (0.0, 0.0, 0.0)
    bbox_max: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw: float = 0.0

    @property
    def size(self) -> tuple[float, float, float]:
        return tuple(float(b - a) for a, b in zip(self.bbox_min, self.bbox_max, strict=True))  # type: ignore[return-value]

    @property
    def description(self) -> str:
        """Natural name, e.g. ``"red wooden chair"``."""
        parts = [p for p in (self.colour, self.material, self.category) if p]
        return " ".join(parts)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "category": self.category, "colour": self.colour, "material": self.material,
            "room_id": self.room_id, "floor": self.floor, "position": list(self.position),
            "bbox_min": list(self.bbox_min), "bbox_max": list(self.bbox_max), "yaw": self.yaw,
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> ObjectInfo:
        return cls(
            id=int(d["id"]), category=str(d["category"]), colour=str(d.get("colour", "")),
            material=str(d.get("material", "")), room_id=int(d.get("room_id", -1)),
            floor=int(d.get("floor", 0)), position=_vec3(d.get("position", (0, 0, 0))),
            bbox_min=_vec3(d.get("bbox_min", d.get("position", (0, 0, 0)))),
            bbox_max=_vec3(d.get("bbox_max", d.get("position", (0, 0, 0)))),
            yaw=float(d.get("yaw", 0.0)),
        )


def _vec3(v) -> tuple[float, float, float]:
    a = [float(x) for x in v]
    if len(a) != 3:
        raise ValueError(f"expected 3 numbers, got {len(a)}")
    return (a[0], a[1], a[2])


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """A room (or an outdoor region) with its footprint polygon on one floor."""

    id: int
    type: str
    floor: int = 0
    polygon: tuple[tuple[float, float], ...] = ()
    name: str = ""

    @property
    def centroid(self) -> tuple[float, float]:
        p = np.asarray(self.polygon, dtype=np.float64)
        return (float(p[:, 0].mean()), float(p[:, 1].mean())) if len(p) else (0.0, 0.0)

    @property
    def area(self) -> float:
        p = np.asarray(self.polygon, dtype=np.float64)
        if len(p) < 3:
            return 0.0
        x, y = p[:, 0], p[:, 1]
        return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))

    def contains(self, x: float, y: float) -> bool:
        """Point-in-polygon (even-odd rule)."""
        poly = self.polygon
        inside = False
        n = len(poly)
        for i in range(n):
            x1, y1 = poly[i]
            x2, y2 = poly[(i + 1) % n]
            if (y1 > y) != (y2 > y):
                xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
                if x < xc:
                    inside = not inside
        return inside

    def to_dict(self) -> dict:
        return {"id": self.id, "type": self.type, "floor": self.floor, "name": self.name,
                "polygon": [list(p) for p in self.polygon]}

    @classmethod
    def from_dict(cls, d: Mapping) -> RoomInfo:
        return cls(id=int(d["id"]), type=str(d["type"]), floor=int(d.get("floor", 0)),
                   polygon=tuple((float(a), float(b)) for a, b in d.get("polygon", ())),
                   name=str(d.get("name", "")))


@dataclass(frozen=True, slots=True)
class FloorInfo:
    """One storey: its index, the elevation of its walking surface and its clear height."""

    index: int
    elevation: float = 0.0
    height: float = 2.8

    def to_dict(self) -> dict:
        return {"index": self.index, "elevation": self.elevation, "height": self.height}

    @classmethod
    def from_dict(cls, d: Mapping) -> FloorInfo:
        return cls(index=int(d["index"]), elevation=float(d.get("elevation", 0.0)),
                   height=float(d.get("height", 2.8)))


@dataclass(frozen=True, slots=True)
class SceneInfo:
    """Semantic truth of a scene: rooms, floors, objects and bounds."""

    name: str
    kind: str = "mesh"
    rooms: tuple[RoomInfo, ...] = ()
    floors: tuple[FloorInfo, ...] = (FloorInfo(0),)
    objects: tuple[ObjectInfo, ...] = ()
    bounds_min: tuple[float, float, float] = (0.0, 0.0, 0.0)
    bounds_max: tuple[float, float, float] = (0.0, 0.0, 0.0)
    outdoor: bool = False

    def object_table(self) -> dict[int, ObjectInfo]:
        return {o.id: o for o in self.objects}

    def room(self, room_id: int) -> RoomInfo | None:
        for r in self.rooms:
            if r.id == room_id:
                return r
        return None

    def room_at(self, x: float, y: float, floor: int = 0) -> RoomInfo | None:
        for r in self.rooms:
            if r.floor == floor and r.contains(x, y):
                return r
        return None

    def floor_of_z(self, z: float) -> int:
        """Index of the floor whose walking surface is nearest below ``z``."""
        best = self.floors[0].index
        for f in sorted(self.floors, key=lambda f: f.elevation):
            if z >= f.elevation - 0.5:
                best = f.index
        return best

    def to_dict(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "outdoor": self.outdoor,
            "rooms": [r.to_dict() for r in self.rooms], "floors": [f.to_dict() for f in self.floors],
            "objects": [o.to_dict() for o in self.objects],
            "bounds_min": list(self.bounds_min), "bounds_max": list(self.bounds_max),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> SceneInfo:
        floors = tuple(FloorInfo.from_dict(f) for f in d.get("floors", ())) or (FloorInfo(0),)
        return cls(
            name=str(d.get("name", "scene")), kind=str(d.get("kind", "mesh")),
            outdoor=bool(d.get("outdoor", False)),
            rooms=tuple(RoomInfo.from_dict(r) for r in d.get("rooms", ())), floors=floors,
            objects=tuple(ObjectInfo.from_dict(o) for o in d.get("objects", ())),
            bounds_min=_vec3(d.get("bounds_min", (0, 0, 0))), bounds_max=_vec3(d.get("bounds_max", (0, 0, 0))),
        )


@dataclass(frozen=True, eq=False)
class Observation:
    """What the robot senses after one step.

    ``objects`` (id -> ObjectInfo), ``scene`` and ``true_pose`` are ground truth; perception
    backends other than the oracle must not read them.
    """

    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32, metres, z-depth; 0 where nothing was hit
    instance: np.ndarray  # (H, W) int32, 0 = none
    pose: Pose
    timestamp: float
    camera: CameraSpec
    step: int = 0
    collided: bool = False
    objects: Mapping[int, ObjectInfo] = field(default_factory=dict)
    scene: SceneInfo | None = None  # ground truth, for the oracle perceiver and evaluation only
    # the robot's true pose when ``pose`` is what it believes (odometry drift, ``sim.sensors``); ground
    # truth for scoring only, never read by the memory. None: ``pose`` is true.
    true_pose: Pose | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.depth.shape[0]), int(self.depth.shape[1]))
