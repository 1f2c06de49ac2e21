"""``rooms``: a minimal world of rectangular rooms in a row joined by doors.

Small and fast, with a few plainly shaped objects; used by tests and as a sanity scene.
``rooms:n=2,width=4,depth=4,seed=0``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import ConfigDict

from sim import geometry
from sim.errors import SceneSpecError
from sim.scene import Opening, Scene, SceneBuilder, SurfaceKind
from sim.types import FloorInfo, ObjectInfo, Pose, RoomInfo, SceneInfo
from sim.worlds import WorldType

WALL_HEIGHT = 2.7
DOOR_WIDTH = 1.0


@dataclass(frozen=True, kw_only=True)
class RoomsConfig:
    __pydantic_config__ = ConfigDict(extra="forbid")
    seed: int = 0
    n: int = 2
    width: float = 4.0
    depth: float = 4.0

    def validate(self) -> None:
        if not 1 <= self.n <= 8:
            raise SceneSpecError(f"rooms: n must be between 1 and 8, got {self.n}")
        for name in ("width", "depth"):
            v = getattr(self, name)
            if not 2.0 <= v <= 30.0:
                raise SceneSpecError(f"rooms: {name} must be between 2 and 30 metres, got {v}")


_TYPES = ("living room", "kitchen", "bedroom", "office", "bathroom", "dining room", "hallway", "storage room")
_OBJECTS = {  # room type -> (category, size (x, y, z), colour name, rgb, material)
    "living room": [("sofa", (2.0, 0.9, 0.8), "blue", (50, 80, 170), "fabric"),
                    ("table", (1.0, 0.6, 0.45), "brown", (120, 80, 45), "wood")],
    "kitchen": [("fridge", (0.7, 0.7, 1.8), "white", (235, 235, 235), "metal"),
                ("table", (1.2, 0.8, 0.75), "brown", (120, 80, 45), "wood")],
    "bedroom": [("bed", (1.6, 2.0, 0.5), "red", (170, 40, 40), "fabric")],
    "office": [("desk", (1.4, 0.7, 0.75), "black", (30, 30, 30), "wood")],
    "bathroom": [("toilet", (0.4, 0.6, 0.75), "white", (240, 240, 240), "ceramic")],
    "dining room": [("table", (1.6, 0.9, 0.75), "brown", (120, 80, 45), "wood")],
    "hallway": [("cabinet", (0.8, 0.4, 1.0), "grey", (128, 128, 128), "wood")],
    "storage room": [("shelf", (1.0, 0.4, 1.8), "grey", (128, 128, 128), "metal")],
}


def generate(cfg: RoomsConfig) -> Scene:
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    b = SceneBuilder()
    w, d, n = cfg.width, cfg.depth, cfg.n
    rooms: list[RoomInfo] = []
    objects: list[ObjectInfo] = []
    b.add_floor(0.0, 0.0, n * w, d, 0.0, colour=(170, 160, 150), material="wood")
    b.add_ceiling(0.0, 0.0, n * w, d, WALL_HEIGHT)
    # outer walls
    b.add_wall((0.0, 0.0), (n * w, 0.0), z0=0.0, height=WALL_HEIGHT)
    b.add_wall((n * w, d), (0.0, d), z0=0.0, height=WALL_HEIGHT)
    b.add_wall((0.0, d), (0.0, 0.0), z0=0.0, height=WALL_HEIGHT)
    b.add_wall((n * w, 0.0), (n * w, d), z0=0.0, height=WALL_HEIGHT)
    for i in range(1, n):  # partition walls with a centred door
        x = i * w
        c = d / 2.0 + float(rng.uniform(-0.5, 0.5)) * max(0.0, d / 2.0 - DOOR_WIDTH)
        b.add_wall((x, 0.0), (x, d), z0=0.0, height=WALL_HEIGHT,
                   openings=[Opening(c - DOOR_WIDTH / 2.0, c + DOOR_WIDTH / 2.0, 0.0, 2.1)])
    oid = 1
    for i in range(n):
        rtype = _TYPES[(i + cfg.seed) % len(_TYPES)]
        x0 = i * w
        rooms.append(RoomInfo(i, rtype, 0, ((x0, 0.0), (x0 + w, 0.0), (x0 + w, d), (x0, d)), f"{rtype} {i}"))
        for cat, (sx, sy, sz), cname, rgb, mat in _OBJECTS[rtype]:
            # against the +y wall (away from doors), jittered along x
            cx = x0 + w / 2.0 + float(rng.uniform(-0.3, 0.3)) * max(0.0, w - sx - 0.4)
            cy = d - 0.15 - sy / 2.0 if cat != "table" else d / 2.0 - 0.6
            lo = (cx - sx / 2, cy - sy / 2, 0.0)
            hi = (cx + sx / 2, cy + sy / 2, sz)
            b.add(geometry.box(lo, hi), colour=rgb, material=mat, kind=SurfaceKind.OBJECT, instance=oid)
            objects.append(ObjectInfo(oid, cat, cname, mat, i, 0, (cx, cy, sz / 2.0), lo, hi))
            oid += 1
    mesh = b.build()
    lo, hi = mesh.bounds()
    info = SceneInfo(name=f"rooms-{cfg.seed}", kind="rooms", rooms=tuple(rooms),
                     floors=(FloorInfo(0, 0.0, WALL_HEIGHT),), objects=tuple(objects),
                     bounds_min=tuple(float(v) for v in lo), bounds_max=tuple(float(v) for v in hi))
    start = Pose(w / 2.0, 0.8, 0.0, math.pi / 2.0, 0)
    return Scene(info, mesh, start, (), spec=f"rooms:seed={cfg.seed},n={n}")


WORLD = WorldType("rooms", RoomsConfig, generate, "rectangular rooms in a row joined by doors (tests)")
