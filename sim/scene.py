"""A loaded or generated world: one triangle soup with per-triangle semantics, plus truth.

``Scene`` is what the renderer, the navigation map and the exporters consume. Worlds are
assembled with ``SceneBuilder``, which also knows how to cut door and window openings in
walls.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np

from sim import geometry
from sim.types import Pose, SceneInfo

__all__ = ["SurfaceKind", "MATERIALS", "material_index", "SceneMesh", "Portal", "Scene", "SceneBuilder",
           "Opening"]


class SurfaceKind(enum.IntEnum):
    """What a triangle belongs to (for rendering, mapping and exports)."""

    FLOOR = 0
    WALL = 1
    CEILING = 2
    OBJECT = 3
    STAIRS = 4
    GROUND = 5  # outdoor terrain, paths, lawns
    ROOF = 6


# Material names known to the renderer (index = value stored per triangle).
MATERIALS: tuple[str, ...] = (
    "plain", "wood", "metal", "fabric", "leather", "plastic", "glass", "ceramic", "stone", "marble",
    "paper", "grass", "concrete", "brick", "carpet", "tile", "asphalt", "water", "foliage", "rubber",
)
_MATERIAL_INDEX = {m: i for i, m in enumerate(MATERIALS)}


def material_index(name: str) -> int:
    """Index of a material name (unknown names render as ``plain``)."""
    return _MATERIAL_INDEX.get(name, 0)


@dataclass(eq=False)
class SceneMesh:
    """Triangle soup with per-triangle attributes."""

    vertices: np.ndarray  # (V, 3) float32
    triangles: np.ndarray  # (T, 3) int32
    tri_instance: np.ndarray  # (T,) int32, object id or 0
    tri_colour: np.ndarray  # (T, 3) uint8 albedo
    tri_material: np.ndarray  # (T,) uint8 index into MATERIALS
    tri_kind: np.ndarray  # (T,) uint8 SurfaceKind

    def __post_init__(self) -> None:
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float32)
        self.triangles = np.ascontiguousarray(self.triangles, dtype=np.int32)
        self.tri_instance = np.ascontiguousarray(self.tri_instance, dtype=np.int32)
        self.tri_colour = np.ascontiguousarray(self.tri_colour, dtype=np.uint8)
        self.tri_material = np.ascontiguousarray(self.tri_material, dtype=np.uint8)
        self.tri_kind = np.ascontiguousarray(self.tri_kind, dtype=np.uint8)
        n = len(self.triangles)
        for name in ("tri_instance", "tri_colour", "tri_material", "tri_kind"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows for {n} triangles")

    @property
    def n_triangles(self) -> int:
        return int(len(self.triangles))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self.vertices) == 0:
            z = np.zeros(3, dtype=np.float32)
            return z, z
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    def select(self, mask: np.ndarray) -> SceneMesh:
        """Sub-mesh of the triangles where ``mask`` is true (vertices compacted)."""
        tris = self.triangles[mask]
        used, inv = np.unique(tris.ravel(), return_inverse=True)
        return SceneMesh(self.vertices[used], inv.reshape(-1, 3), self.tri_instance[mask],
                         self.tri_colour[mask], self.tri_material[mask], self.tri_kind[mask])


@dataclass(frozen=True, slots=True)
class Portal:
    """Stairs or a lift joining two floors.

    Driving into the disc of radius ``radius`` around ``a`` on ``floor_a`` (from outside it)
    puts the robot at ``b`` on ``floor_b`` facing ``yaw_b``, and the reverse.
    """

    id: int
    kind: str
    floor_a: int
    a: tuple[float, float]
    yaw_a: float
    floor_b: int
    b: tuple[float, float]
    yaw_b: float
    radius: float = 0.35

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "floor_a": self.floor_a, "a": list(self.a),
                "yaw_a": self.yaw_a, "floor_b": self.floor_b, "b": list(self.b), "yaw_b": self.yaw_b,
                "radius": self.radius}

    @classmethod
    def from_dict(cls, d: dict) -> Portal:
        return cls(int(d["id"]), str(d.get("kind", "stairs")), int(d["floor_a"]),
                   (float(d["a"][0]), float(d["a"][1])), float(d.get("yaw_a", 0.0)), int(d["floor_b"]),
                   (float(d["b"][0]), float(d["b"][1])), float(d.get("yaw_b", 0.0)),
                   float(d.get("radius", 0.35)))


@dataclass(eq=False)
class Scene:
    """A world ready to simulate: geometry, semantic truth, start pose and floor links."""

    info: SceneInfo
    mesh: SceneMesh
    start: Pose
    portals: tuple[Portal, ...] = ()
    spec: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.info.name


@dataclass(frozen=True, slots=True)
class Opening:
    """A gap in a wall: ``t0..t1`` metres along the wall from its start, ``z0..z1`` relative height."""

    t0: float
    t1: float
    z0: float = 0.0
    z1: float = 2.1


class SceneBuilder:
    """Accumulates parts with attributes and produces a ``SceneMesh``."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray, int, tuple[int, int, int], int, int]] = []

    def add(self, part: geometry.Part, *, colour: tuple[int, int, int], material: str = "plain",
            kind: SurfaceKind = SurfaceKind.OBJECT, instance: int = 0) -> None:
        v, t = part
        if len(t) == 0:
            return
        self._parts.append((np.asarray(v, dtype=np.float64), np.asarray(t, dtype=np.int64), int(instance),
                            tuple(int(c) for c in colour), material_index(material), int(kind)))  # type: ignore[arg-type]

    def add_floor(self, x0: float, y0: float, x1: float, y1: float, z: float, *, colour: tuple[int, int, int],
                  material: str = "plain", kind: SurfaceKind = SurfaceKind.FLOOR) -> None:
        self.add(geometry.quad(x0, y0, x1, y1, z, up=True), colour=colour, material=material, kind=kind)

    def add_ceiling(self, x0: float, y0: float, x1: float, y1: float, z: float, *,
                    colour: tuple[int, int, int] = (235, 235, 230)) -> None:
        self.add(geometry.quad(x0, y0, x1, y1, z, up=False), colour=colour, kind=SurfaceKind.CEILING)

    def add_wall(self, p0: tuple[float, float], p1: tuple[float, float], *, z0: float, height: float,
                 thickness: float = 0.1, openings: tuple[Opening, ...] | list[Opening] = (),
                 colour: tuple[int, int, int] = (225, 222, 212), material: str = "plain") -> None:
        """A straight wall from ``p0`` to ``p1`` with rectangular openings cut out."""
        x0, y0 = p0
        x1, y1 = p1
        length = math.hypot(x1 - x0, y1 - y0)
        if length < 1e-6:
            return
        yaw = math.atan2(y1 - y0, x1 - x0)
        half = thickness / 2.0
        ops = sorted((max(0.0, o.t0), min(length, o.t1), o.z0, o.z1) for o in openings if o.t1 > o.t0)
        pieces: list[tuple[float, float, float, float]] = []  # (t0, t1, z_lo, z_hi) solid boxes
        t = 0.0
        for a, b, zl, zh in ops:
            if a > t:
                pieces.append((t, a, 0.0, height))
            if zl > 0.0:
                pieces.append((a, b, 0.0, zl))
            if zh < height:
                pieces.append((a, b, zh, height))
            t = max(t, b)
        if t < length:
            pieces.append((t, length, 0.0, height))
        for a, b, zl, zh in pieces:
            if b - a < 1e-4 or zh - zl < 1e-4:
                continue
            part = geometry.transform(geometry.box((a, -half, z0 + zl), (b, half, z0 + zh)), yaw, (x0, y0, 0.0))
            self.add(part, colour=colour, material=material, kind=SurfaceKind.WALL)

    def build(self) -> SceneMesh:
        if not self._parts:
            raise ValueError("scene has no geometry")
        vs, ts, inst, col, mat, kind = [], [], [], [], [], []
        off = 0
        for v, t, i, c, m, k in self._parts:
            vs.append(v)
            ts.append(t + off)
            off += len(v)
            n = len(t)
            inst.append(np.full(n, i, dtype=np.int32))
            col.append(np.tile(np.array(c, dtype=np.uint8), (n, 1)))
            mat.append(np.full(n, m, dtype=np.uint8))
            kind.append(np.full(n, k, dtype=np.uint8))
        return SceneMesh(np.vstack(vs), np.vstack(ts), np.concatenate(inst), np.vstack(col),
                         np.concatenate(mat), np.concatenate(kind))
