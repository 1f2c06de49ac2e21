"""``campus``: an outdoor campus, ``campus:seed=4`` (optional ``width=80,depth=60`` in metres).

Paths divide the site into blocks: a paved plaza with a fountain near the middle, a parking lot
with rows of parked cars, lawns with a building at their back, courtyards between two
buildings. Buildings are closed solid boxes with a roof; their entrance doors and windows are
objects on the facades. Trees, benches, bins, bike racks, lamp posts, signs, picnic tables, a
statue and a bus stop furnish the regions (plaza, lawn, parking lot, courtyard, path), which are
the scene's ``RoomInfo``s. Every region is reachable from the start on the plaza.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from pydantic import ConfigDict

from sim import geometry
from sim.catalog import Catalog, load_catalog
from sim.errors import SceneSpecError
from sim.scene import Scene, SurfaceKind
from sim.types import FloorInfo, RoomInfo
from sim.worlds import WorldType
from sim.worlds.assembly import WorldAssembler, pick_look
from sim.worlds.campus_regions import furnish_region, region_anchors
from sim.worlds.furnish import Furnisher, RoomSite
from sim.worlds.layout import Rect

log = logging.getLogger(__name__)

__all__ = ["CampusConfig", "generate", "WORLD"]

STOREY = 3.6
_FACADES = ("beige", "cream", "white", "light grey", "terracotta", "tan", "grey")


@dataclass(frozen=True, kw_only=True)
class CampusConfig:
    """Parameters of ``campus:...`` specs; ``width`` and ``depth`` are the site's size in metres."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    seed: int = 0
    width: float = 80.0
    depth: float = 60.0

    def validate(self) -> None:
        """Raise ``SceneSpecError`` for sizes or seeds out of range."""
        if not 50.0 <= self.width <= 160.0:
            raise SceneSpecError(f"campus: width must be between 50 and 160 metres, got {self.width}")
        if not 40.0 <= self.depth <= 120.0:
            raise SceneSpecError(f"campus: depth must be between 40 and 120 metres, got {self.depth}")
        if self.seed < 0:
            raise SceneSpecError(f"campus: seed must be zero or positive, got {self.seed}")


@dataclass
class Region:
    """A walkable region of the site (one ``RoomInfo``)."""

    id: int
    type: str
    rect: Rect
    name: str = ""
    door: tuple[float, float, float] | None = None  # a building entrance facing this region (x, y, yaw)


@dataclass(frozen=True)
class Building:
    """A closed block standing at the back of a lawn or beside a courtyard."""

    rect: Rect
    storeys: int
    front: str  # side of the rect facing the open region
    region: int


def _intervals(length: float, n: int, path_w: float, rng: np.random.Generator) -> list[tuple[float, float]]:
    """``n`` blocks separated by paths of ``path_w``, block sizes jittered, snapped to 0.5 m."""
    usable = length - (n - 1) * path_w
    w = rng.uniform(0.8, 1.2, n)
    w = w / w.sum() * usable
    out, x = [], 0.0
    for k in range(n):
        b = length if k == n - 1 else round((x + w[k]) * 2) / 2
        out.append((x, b))
        x = b + path_w
    return out


def _layout(cfg: CampusConfig, rng: np.random.Generator) -> tuple[list[Region], list[Building]]:
    W, D = round(cfg.width * 2) / 2, round(cfg.depth * 2) / 2
    pw = round(float(rng.uniform(3.0, 4.0)) * 2) / 2
    nx = int(np.clip(round(W / 28.0), 2, 5))
    ny = int(np.clip(round(D / 28.0), 2, 4))
    xs = _intervals(W, nx, pw, rng)
    ys = _intervals(D, ny, pw, rng)
    blocks = [Rect(x0, y0, x1, y1) for (y0, y1) in ys for (x0, x1) in xs]
    centre = np.array([W / 2, D / 2])
    dist = [float(np.hypot(b.cx - centre[0], b.cy - centre[1])) for b in blocks]
    plaza = int(np.argmin(dist))
    corners = [k for k, b in enumerate(blocks) if k != plaza and (b.x0 == 0.0 or b.x1 == W) and
               (b.y0 == 0.0 or b.y1 == D)]
    parking = corners[int(rng.integers(len(corners)))] if corners else max(
        (k for k in range(len(blocks)) if k != plaza), key=lambda k: dist[k])
    regions: list[Region] = []
    buildings: list[Building] = []
    kinds = ["lawn", "courtyard"]
    n_other = 0
    for k, b in enumerate(blocks):
        rid = len(regions)
        if k == plaza:
            regions.append(Region(rid, "plaza", b))
            continue
        if k == parking:
            regions.append(Region(rid, "parking lot", b))
            continue
        kind = kinds[n_other % 2] if rng.random() < 0.8 else kinds[(n_other + 1) % 2]
        n_other += 1
        edges = [s for s, on in (("S", b.y0 == 0.0), ("N", b.y1 == D), ("W", b.x0 == 0.0), ("E", b.x1 == W)) if on]
        if kind == "courtyard":
            axis = "y" if b.depth >= b.width else "x"
            span = b.depth if axis == "y" else b.width
            bd = min(float(rng.uniform(9.0, 12.0)), (span - 9.0) / 2)
            if bd >= 7.0:
                lo_side, hi_side = ("S", "N") if axis == "y" else ("W", "E")
                inner = _cut(b, lo_side, bd)
                inner = _cut(inner, hi_side, bd)
                regions.append(Region(rid, "courtyard", inner))
                for side in (lo_side, hi_side):
                    buildings.append(Building(_strip_of(b, side, bd), int(rng.integers(1, 4)), _opposite(side), rid))
                continue
        side = edges[int(rng.integers(len(edges)))] if edges else ("N" if rng.random() < 0.5 else "S")
        span = b.depth if side in ("S", "N") else b.width
        bd = min(float(rng.uniform(10.0, 15.0)), span - 9.0)
        if bd >= 7.0:
            regions.append(Region(rid, "lawn", _cut(b, side, bd)))
            buildings.append(Building(_strip_of(b, side, bd), int(rng.integers(1, 4)), _opposite(side), rid))
        else:
            regions.append(Region(rid, "lawn", b))
    for (_, x1) in xs[:-1]:  # vertical path segments between the horizontal paths
        for (y0, y1) in ys:
            regions.append(Region(len(regions), "path", Rect(x1, y0, x1 + pw, y1)))
    for (_, y1) in ys[:-1]:
        regions.append(Region(len(regions), "path", Rect(0.0, y1, W, y1 + pw)))
    counts: dict[str, int] = {}
    for r in regions:
        counts[r.type] = counts.get(r.type, 0) + 1
    seen: dict[str, int] = {}
    for r in regions:
        seen[r.type] = seen.get(r.type, 0) + 1
        r.name = r.type if counts[r.type] == 1 else f"{r.type} {seen[r.type]}"
    return regions, buildings


def _opposite(side: str) -> str:
    return {"S": "N", "N": "S", "W": "E", "E": "W"}[side]


def _strip_of(b: Rect, side: str, d: float) -> Rect:
    return {"S": Rect(b.x0, b.y0, b.x1, b.y0 + d), "N": Rect(b.x0, b.y1 - d, b.x1, b.y1),
            "W": Rect(b.x0, b.y0, b.x0 + d, b.y1), "E": Rect(b.x1 - d, b.y0, b.x1, b.y1)}[side]


def _cut(b: Rect, side: str, d: float) -> Rect:
    return {"S": Rect(b.x0, b.y0 + d, b.x1, b.y1), "N": Rect(b.x0, b.y0, b.x1, b.y1 - d),
            "W": Rect(b.x0 + d, b.y0, b.x1, b.y1), "E": Rect(b.x0, b.y0, b.x1 - d, b.y1)}[side]


_OUT_YAW = {"S": -math.pi / 2, "N": math.pi / 2, "W": math.pi, "E": 0.0}


def _build(asm: WorldAssembler, bld: Building, rng: np.random.Generator, regions: list[Region]) -> None:
    """A closed block with a roof slab, windows on every facade and an entrance on the front."""
    cat = asm.catalog
    r = bld.rect
    h = bld.storeys * STOREY + 0.5
    facade = _FACADES[int(rng.integers(len(_FACADES)))]
    material = ("brick", "concrete", "stone")[int(rng.integers(3))]
    v, t = geometry.box((r.x0, r.y0, 0.0), (r.x1, r.y1, h))
    asm.add_structure((v, t[[0, 1] + list(range(4, 12))]), colour=cat.colour(facade), material=material,
                      kind=SurfaceKind.WALL)
    asm.add_structure((v, t[2:4]), colour=(80, 80, 84), material="concrete", kind=SurfaceKind.ROOF)
    # the roof slab floats a hair above the block so that a ray cast up from inside the block meets
    # the block's own top (an obstacle for the navigation map), never the slab's underside first
    asm.add_structure(geometry.box((r.x0 - 0.15, r.y0 - 0.15, h + 0.002), (r.x1 + 0.15, r.y1 + 0.15, h + 0.3)),
                      colour=(70, 70, 74), material="concrete", kind=SurfaceKind.ROOF)
    frame = pick_look(cat, "window", rng)
    door_look = pick_look(cat, "door", rng)
    ww, wh = 1.0, 1.5
    for side in ("S", "N", "W", "E"):
        lo, hi = r.side_span(side)
        n = int((hi - lo - 2.0) // 4.0)
        if n <= 0:
            continue
        yaw = _OUT_YAW[side]
        c = r.side_coord(side)
        out = {"S": -1.0, "N": 1.0, "W": -1.0, "E": 1.0}[side]
        door_t = (lo + hi) / 2 if side == bld.front else None
        for s in range(bld.storeys):
            for k in range(n):
                tk = lo + (hi - lo) * (k + 0.5) / n
                if door_t is not None and s == 0 and abs(tk - door_t) < 1.6:
                    continue
                x, y = (tk, c + out * 0.05) if side in ("S", "N") else (c + out * 0.05, tk)
                asm.add_object("window", (ww, 0.1, wh), x=x, y=y, z=s * STOREY + 1.0, yaw=yaw, look=frame,
                               room_id=bld.region, floor=0)
        if door_t is not None:
            x, y = (door_t, c + out * 0.05) if side in ("S", "N") else (c + out * 0.05, door_t)
            asm.add_object("door", (1.0, 0.1, 2.1), x=x, y=y, z=0.0, yaw=yaw, look=door_look, room_id=bld.region,
                           floor=0)
            regions[bld.region].door = (x, y, yaw)


def generate(cfg: CampusConfig) -> Scene:
    """Build the campus for ``cfg``."""
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    catalog: Catalog = load_catalog()
    asm = WorldAssembler(catalog)
    regions, buildings = _layout(cfg, rng)
    for reg in regions:
        rt = catalog.room_type(reg.type)
        colour = rt.floor_colours[int(rng.integers(len(rt.floor_colours)))]
        material = rt.floor_materials[int(rng.integers(len(rt.floor_materials)))]
        r = reg.rect
        asm.add_structure(geometry.quad(r.x0, r.y0, r.x1, r.y1, 0.0), colour=catalog.colour(colour), material=material,
                          kind=SurfaceKind.GROUND)
    for b in buildings:
        _build(asm, b, rng, regions)
    start = None
    bus_stop_done = False
    site_rect = Rect(0.0, 0.0, round(cfg.width * 2) / 2, round(cfg.depth * 2) / 2)
    for reg in regions:
        keepout = []
        if reg.door is not None:
            x, y, yaw = reg.door
            dx, dy = math.cos(yaw), math.sin(yaw)
            keepout.append(Rect(min(x, x + dx * 2.5) - 1.2 * abs(dy) - 0.2 * abs(dx),
                                min(y, y + dy * 2.5) - 1.2 * abs(dx) - 0.2 * abs(dy),
                                max(x, x + dx * 2.5) + 1.2 * abs(dy) + 0.2 * abs(dx),
                                max(y, y + dy * 2.5) + 1.2 * abs(dx) + 0.2 * abs(dy)))
        anchors = region_anchors(reg.rect, [o.rect for o in regions if o is not reg])
        if reg.door is not None:
            x, y, yaw = reg.door
            anchors.append((x + math.cos(yaw) * 1.2, y + math.sin(yaw) * 1.2))
        site = RoomSite(reg.id, reg.type, 0, 0.0, reg.rect, keepout=tuple(keepout), anchors=tuple(anchors))
        f = Furnisher(site, asm, rng, res=0.1)
        want_bus = not bus_stop_done and reg.type in ("lawn", "courtyard")
        bus_stop_done |= furnish_region(f, catalog, reg.type, site_rect, bus_stop=want_bus)
        if reg.type == "plaza":
            start = f.start_pose(0.6)
    if start is None:
        raise SceneSpecError(f"campus: seed {cfg.seed} produced no free start pose")
    rooms = [RoomInfo(r.id, r.type, 0, r.rect.polygon(), r.name) for r in regions]
    return asm.scene(name=f"campus-{cfg.seed}", kind="campus", rooms=rooms, floors=(FloorInfo(0, 0.0, 12.0),),
                     start=start, outdoor=True, spec=f"campus:seed={cfg.seed},width={cfg.width:g},depth={cfg.depth:g}",
                     meta={"generator": "campus", "seed": cfg.seed, "buildings": len(buildings)})


WORLD = WorldType("campus", CampusConfig, generate,
                  "an outdoor campus: plaza with fountain, parking lot, lawns, courtyards, buildings and paths")
