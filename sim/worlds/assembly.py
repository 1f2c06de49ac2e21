"""``WorldAssembler``: structure and objects accumulated into one ``Scene`` with its truth table.

Every object gets the next id (from 1), its triangles carry that id, and its ``ObjectInfo``
bounds are measured from the float32 vertices the mesh will store, so bboxes always hold their
triangles exactly.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sim.catalog import Catalog, load_catalog
from sim.geometry import Part
from sim.scene import Portal, Scene, SceneBuilder, SurfaceKind
from sim.types import FloorInfo, ObjectInfo, Pose, RoomInfo, SceneInfo
from sim.worlds.shapes import Style, build_object

log = logging.getLogger(__name__)

__all__ = ["Look", "WorldAssembler", "pick_look"]


@dataclass(frozen=True, slots=True)
class Look:
    """Colour names (from the catalog palette) and the material of one object."""

    colour: str
    material: str
    secondary: str


def pick_look(catalog: Catalog, category: str, rng: np.random.Generator) -> Look:
    """A random look for ``category`` drawn from its catalog colours and materials."""
    c = catalog.category(category)
    colour = c.colours[int(rng.integers(len(c.colours)))]
    material = c.materials[int(rng.integers(len(c.materials)))]
    secondary = c.secondary[int(rng.integers(len(c.secondary)))]
    if secondary == colour and len(c.secondary) > 1:  # keep parts distinguishable from the body
        secondary = c.secondary[(c.secondary.index(secondary) + 1) % len(c.secondary)]
    return Look(colour, material, secondary)


class WorldAssembler:
    """Collects structure and objects; ``scene()`` produces the finished ``Scene``."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or load_catalog()
        self.builder = SceneBuilder()
        self.objects: list[ObjectInfo] = []

    @property
    def next_id(self) -> int:
        return len(self.objects) + 1

    def add_structure(self, part: Part, *, colour: tuple[int, int, int], material: str = "plain",
                      kind: SurfaceKind = SurfaceKind.WALL) -> None:
        """Walls, floors, ground and other geometry that belongs to no object (instance 0)."""
        self.builder.add(part, colour=colour, material=material, kind=kind, instance=0)

    def add_object(self, category: str, size: tuple[float, float, float], *, x: float, y: float, z: float,
                   yaw: float, look: Look, room_id: int, floor: int,
                   kind: SurfaceKind = SurfaceKind.OBJECT) -> ObjectInfo:
        """Draw one catalog object and record it; returns its ``ObjectInfo``."""
        self.catalog.category(category)  # unknown categories fail here with the list of valid ones
        style = Style(self.catalog.colour(look.colour), self.catalog.colour(look.secondary), look.material)
        pieces = build_object(category, size, style, yaw=yaw, position=(x, y, z))
        oid = self.next_id
        lo = np.full(3, np.inf)
        hi = np.full(3, -np.inf)
        for p in pieces:
            v32 = np.asarray(p.part[0], dtype=np.float32).astype(np.float64)
            lo = np.minimum(lo, v32.min(axis=0))
            hi = np.maximum(hi, v32.max(axis=0))
            self.builder.add(p.part, colour=p.colour, material=p.material, kind=kind, instance=oid)
        bmin = tuple(float(v) for v in lo)
        bmax = tuple(float(v) for v in hi)
        centre = tuple(float((a + b) / 2.0) for a, b in zip(bmin, bmax, strict=True))
        info = ObjectInfo(id=oid, category=category, colour=look.colour, material=look.material, room_id=room_id,
                          floor=floor, position=centre, bbox_min=bmin, bbox_max=bmax,  # type: ignore[arg-type]
                          yaw=float(np.arctan2(np.sin(yaw), np.cos(yaw))))
        self.objects.append(info)
        return info

    def scene(self, *, name: str, kind: str, rooms: Iterable[RoomInfo], floors: Iterable[FloorInfo], start: Pose,
              portals: Iterable[Portal] = (), outdoor: bool = False, spec: str = "",
              meta: dict | None = None) -> Scene:
        """Build the mesh and wrap everything into a ``Scene``."""
        mesh = self.builder.build()
        lo, hi = mesh.bounds()
        info = SceneInfo(name=name, kind=kind, rooms=tuple(rooms), floors=tuple(floors), objects=tuple(self.objects),
                         bounds_min=tuple(float(v) for v in lo), bounds_max=tuple(float(v) for v in hi),  # type: ignore
                         outdoor=outdoor)
        log.info("%s: %d rooms, %d objects, %d triangles", name, len(info.rooms), len(info.objects),
                 mesh.n_triangles)
        return Scene(info, mesh, start, tuple(portals), spec=spec, meta=dict(meta or {}))
