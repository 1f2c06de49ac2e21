"""Turning floor plans into geometry and furnished rooms (shared by house, office and multifloor).

``plan_floor`` lays out typed rooms in a footprint and picks their doors and finishes;
``build_structure`` draws floors, ceilings and walls (each room owns the inner half of its
walls, so every room can have its own wall colour; exterior walls get an outer skin);
``add_openings`` adds the window frames, open door leaves and front doors as objects;
``room_sites`` tells the furnisher where doors, windows and leaves are; ``furnish_floor`` fills
every room from the catalog.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from sim import geometry
from sim.catalog import Catalog
from sim.scene import Opening, SurfaceKind
from sim.types import RoomInfo
from sim.worlds.assembly import Look, WorldAssembler, pick_look
from sim.worlds.fill import fill_room
from sim.worlds.furnish import Furnisher, RoomSite, WallFeature
from sim.worlds.layout import (
    DOOR_HEIGHT,
    INWARD_YAW,
    SIDES,
    WALL_T,
    FloorPlan,
    LayoutError,
    Rect,
    RoomPlan,
    adjacency,
    door_graph,
    interior,
    partition,
    place_doors,
    side_of_door,
)

log = logging.getLogger(__name__)

__all__ = ["plan_floor", "build_structure", "add_openings", "room_sites", "furnish_floor", "room_infos",
           "footprint_for", "finish_room", "name_rooms", "exterior_colour", "SiteExtras", "CEILING_RGB"]

CEILING_RGB = (236, 235, 230)
EXTERIOR = ("beige", "cream", "white", "light grey", "terracotta", "tan")


@dataclass
class SiteExtras:
    """Per-room additions to a ``RoomSite`` (stairs, holes, portal spots)."""

    blocked: list[Rect] = field(default_factory=list)
    anchors: list[tuple[float, float]] = field(default_factory=list)
    keepout: list[Rect] = field(default_factory=list)


def footprint_for(total_area: float, rng: np.random.Generator, origin: tuple[float, float] = (0.0, 0.0),
                  aspect: tuple[float, float] = (1.0, 1.5)) -> Rect:
    """A rectangle of about ``total_area`` with a random aspect ratio, snapped to 5 cm."""
    a = float(rng.uniform(*aspect))
    w = math.sqrt(total_area * a)
    d = total_area / w
    if rng.random() < 0.5:
        w, d = d, w
    w, d = round(w * 20) / 20, round(d * 20) / 20
    return Rect(origin[0], origin[1], origin[0] + w, origin[1] + d)


def finish_room(r: RoomPlan, catalog: Catalog, rng: np.random.Generator) -> None:
    """Pick a room's wall colour, floor colour and floor material from its room type."""
    rt = catalog.room_type(r.type)
    r.wall_colour = rt.wall_colours[int(rng.integers(len(rt.wall_colours)))]
    r.floor_colour = rt.floor_colours[int(rng.integers(len(rt.floor_colours)))]
    r.floor_material = rt.floor_materials[int(rng.integers(len(rt.floor_materials)))]


def plan_floor(types: list[str], catalog: Catalog, rng: np.random.Generator, *, floor: int = 0,
               elevation: float = 0.0, first_room_id: int = 0, footprint: Rect | None = None,
               fixed: list[RoomPlan] | None = None, extra_doors: int = 1, tries: int = 30,
               spine: bool = False) -> FloorPlan:
    """Lay out rooms of ``types`` (plus ``fixed`` rooms already placed) with doors and finishes.

    Without ``footprint`` one is sized from the room types' areas; with ``spine`` (and a
    ``hallway`` among the types) the hallway runs through the middle with rooms on both sides.
    ``fixed`` rooms keep their rectangles and the typed rooms fill the rest of the footprint,
    which must then be the footprint minus a full-depth strip on its west side.
    """
    fixed = fixed or []
    last: Exception | None = None
    for _ in range(tries):
        areas = [catalog.room_type(t).sample_area(rng) for t in types]
        mins = [max(1.6, catalog.room_type(t).min_dim - 0.25) for t in types]
        try:
            if spine and footprint is None and "hallway" in types:
                fp, rects = _spine_layout(types, areas, mins, rng)
            else:
                if footprint is None:
                    fp = footprint_for(sum(areas), rng)
                    free = fp
                else:
                    fp = footprint
                    free = _free_part(fp, fixed)
                rects = partition(free, areas, mins, rng)
        except LayoutError as e:
            last = e
            continue
        rooms = [RoomPlan(first_room_id + len(fixed) + i, t, r, floor)
                 for i, (t, r) in enumerate(zip(types, rects, strict=True))]
        rooms = [RoomPlan(first_room_id + i, f.type, f.rect, floor) for i, f in enumerate(fixed)] + rooms
        plan = FloorPlan(fp, rooms, floor, elevation)
        try:
            edges = door_graph(rooms, adjacency(rooms, 1.35), rng, extra=extra_doors)
            plan.doors = place_doors(plan, edges, rng)
        except LayoutError as e:
            last = e
            continue
        for r in rooms:
            finish_room(r, catalog, rng)
        name_rooms(rooms)
        return plan
    raise LayoutError(f"no floor plan for rooms {types} after {tries} tries: {last}")


def _spine_layout(types: list[str], areas: list[float], mins: list[float],
                  rng: np.random.Generator) -> tuple[Rect, list[Rect]]:
    """A hallway along x through the middle, the other rooms in a band on each side of it."""
    hall = types.index("hallway")
    others = [i for i in range(len(types)) if i != hall]
    band_d = round(float(rng.uniform(3.6, 4.6)) * 20) / 20
    hall_w = round(float(rng.uniform(1.6, 2.0)) * 20) / 20
    # a room may have to span the band's depth: give it at least its minimum width across it
    areas = [max(a, m * band_d * 1.08) for a, m in zip(areas, mins, strict=True)]
    sides: list[list[int]] = [[], []]
    tot = [0.0, 0.0]
    for i in sorted(others, key=lambda k: (-areas[k], k)):
        b = 0 if tot[0] <= tot[1] else 1
        sides[b].append(i)
        tot[b] += areas[i]
    length = round(max(tot) / band_d * 20) / 20
    fp = Rect(0.0, 0.0, length, 2 * band_d + hall_w)
    rects: list[Rect | None] = [None] * len(types)
    rects[hall] = Rect(0.0, band_d, length, band_d + hall_w)
    for b, band in enumerate((Rect(0.0, 0.0, length, band_d), Rect(0.0, band_d + hall_w, length, fp.y1))):
        idx = sides[b]
        cells = partition(band, [areas[i] for i in idx], [mins[i] for i in idx], rng, tries=150)
        for i, c in zip(idx, cells, strict=True):
            rects[i] = c
    return fp, [r for r in rects if r is not None]


def _free_part(fp: Rect, fixed: list[RoomPlan]) -> Rect:
    if not fixed:
        return fp
    x1 = max(r.rect.x1 for r in fixed)
    if all(abs(r.rect.x0 - fp.x0) < 1e-6 for r in fixed):
        return Rect(x1, fp.y0, fp.x1, fp.y1)
    raise LayoutError("fixed rooms must form a strip along the footprint's west side")


def name_rooms(rooms: list[RoomPlan]) -> None:
    """Name rooms after their type, numbered when a type repeats ("bedroom 1", "bedroom 2")."""
    counts: dict[str, int] = {}
    for r in rooms:
        counts[r.type] = counts.get(r.type, 0) + 1
    seen: dict[str, int] = {}
    for r in rooms:
        seen[r.type] = seen.get(r.type, 0) + 1
        r.name = r.type if counts[r.type] == 1 else f"{r.type} {seen[r.type]}"


def room_infos(plan: FloorPlan) -> list[RoomInfo]:
    """The plan's rooms as ``RoomInfo`` truth records."""
    return [RoomInfo(r.id, r.type, plan.floor, r.rect.polygon(), r.name) for r in plan.rooms]


# ------------------------------------------------------------------------------------ structure
def _slab(side: str, r: Rect, inset: float) -> tuple[tuple[float, float], tuple[float, float], float]:
    """Start, end and coordinate origin of a wall slab along ``side`` of ``r``, offset inwards by ``inset``."""
    if side == "S":
        return (r.x0, r.y0 + inset), (r.x1, r.y0 + inset), r.x0
    if side == "N":
        return (r.x0, r.y1 - inset), (r.x1, r.y1 - inset), r.x0
    if side == "W":
        return (r.x0 + inset, r.y0), (r.x0 + inset, r.y1), r.y0
    return (r.x1 - inset, r.y0), (r.x1 - inset, r.y1), r.y0


def build_structure(asm: WorldAssembler, plan: FloorPlan, *, wall_height: float, ceiling_height: float,
                    exterior_colour: str, floor_holes: tuple[Rect, ...] = (),
                    ceiling_holes: tuple[Rect, ...] = ()) -> None:
    """Floors, ceilings and walls of one floor plan (structure, instance 0)."""
    cat = asm.catalog
    z = plan.elevation
    half = WALL_T / 2
    for r in plan.rooms:
        pieces = [r.rect]
        for h in floor_holes:
            pieces = [q for p in pieces for q in p.minus(h)]
        for p in pieces:
            asm.add_structure(geometry.quad(p.x0, p.y0, p.x1, p.y1, z, up=True), colour=cat.colour(r.floor_colour),
                              material=r.floor_material, kind=SurfaceKind.FLOOR)
        pieces = [interior(r.rect)]
        for h in ceiling_holes:
            pieces = [q for p in pieces for q in p.minus(h)]
        for p in pieces:
            asm.add_structure(geometry.quad(p.x0, p.y0, p.x1, p.y1, z + ceiling_height, up=False), colour=CEILING_RGB,
                              kind=SurfaceKind.CEILING)
        wall_rgb = cat.colour(r.wall_colour)
        for side in SIDES:
            p0, p1, origin = _slab(side, r.rect, half / 2)
            ops = [Opening(d.t0 - origin, d.t1 - origin, 0.0, DOOR_HEIGHT) for d in plan.doors
                   if d.b >= 0 and side_of_door(r.rect, d) == side]
            ops += [Opening(w.t0 - origin, w.t1 - origin, w.z0, w.z1) for w in plan.windows
                    if w.room == r.id and w.side == side]
            asm.builder.add_wall(p0, p1, z0=z, height=wall_height, thickness=half, openings=ops, colour=wall_rgb)
    fp = plan.footprint
    ext = fp.shrink(-half)  # outer skin, extended to close the corners
    for side in SIDES:
        p0, p1, origin = _slab(side, ext, half / 2)
        ops = []
        for w in plan.windows:
            if w.side == side and abs(plan.room(w.room).rect.side_coord(side) - fp.side_coord(side)) < 1e-6:
                ops.append(Opening(w.t0 - origin, w.t1 - origin, w.z0, w.z1))
        asm.builder.add_wall(p0, p1, z0=z, height=wall_height, thickness=half, openings=ops,
                             colour=cat.colour(exterior_colour))


def _wall_pose(r: Rect, side: str, t: float, depth: float, centre_on_line: bool = False) -> tuple[float, float, float]:
    """World (x, y, yaw) of an object of ``depth`` at ``t`` along ``side``: on the wall line or against its face."""
    off = 0.0 if centre_on_line else WALL_T / 2 + depth / 2
    c = r.side_coord(side)
    sign = {"S": 1.0, "N": -1.0, "W": 1.0, "E": -1.0}[side]
    if side in ("S", "N"):
        return t, c + sign * off, INWARD_YAW[side]
    return c + sign * off, t, INWARD_YAW[side]


def add_openings(asm: WorldAssembler, plan: FloorPlan, rng: np.random.Generator, *,
                 door_look: Look | None = None) -> None:
    """Window frames in the window openings, open door leaves beside doorways and closed front doors."""
    z = plan.elevation
    frame = pick_look(asm.catalog, "window", rng)
    door = door_look or pick_look(asm.catalog, "door", rng)
    for w in plan.windows:
        r = plan.room(w.room).rect
        x, y, yaw = _wall_pose(r, w.side, (w.t0 + w.t1) / 2, WALL_T, centre_on_line=True)
        # 2 mm clear of the sill so a ray cast up inside the wall below meets the wall's top, not the frame
        asm.add_object("window", (w.t1 - w.t0, WALL_T, w.z1 - w.z0 - 0.004), x=x, y=y, z=z + w.z0 + 0.002, yaw=yaw,
                       look=frame, room_id=w.room, floor=plan.floor)
    for d in plan.doors:
        if d.b < 0:  # closed front door standing against the wall
            r = plan.room(d.a).rect
            side = side_of_door(r, d)
            assert side is not None
            x, y, yaw = _wall_pose(r, side, (d.t0 + d.t1) / 2, 0.1)
            asm.add_object("door", (d.width, 0.1, 2.05), x=x, y=y, z=z, yaw=yaw, look=door, room_id=d.a,
                           floor=plan.floor)
            continue
        span = d.leaf_span()
        if span is None:
            continue
        r = plan.room(d.leaf_room).rect
        side = side_of_door(r, d)
        assert side is not None
        x, y, yaw = _wall_pose(r, side, (span[0] + span[1]) / 2, 0.1)
        asm.add_object("door", (span[1] - span[0], 0.1, 2.04), x=x, y=y, z=z, yaw=yaw, look=door,
                       room_id=d.leaf_room, floor=plan.floor)


def _strip(r: Rect, side: str, t0: float, t1: float, depth: float) -> Rect:
    """The rectangle of ``depth`` inside ``r`` (an interior) along ``side`` over [t0, t1]."""
    t0, t1 = max(t0, r.side_span(side)[0]), min(t1, r.side_span(side)[1])
    if side == "S":
        return Rect(t0, r.y0, t1, r.y0 + depth)
    if side == "N":
        return Rect(t0, r.y1 - depth, t1, r.y1)
    if side == "W":
        return Rect(r.x0, t0, r.x0 + depth, t1)
    return Rect(r.x1 - depth, t0, r.x1, t1)


def _entry(r: Rect, side: str, t: float, depth: float) -> tuple[float, float]:
    if side == "S":
        return t, r.y0 + depth
    if side == "N":
        return t, r.y1 - depth
    if side == "W":
        return r.x0 + depth, t
    return r.x1 - depth, t


def room_sites(plan: FloorPlan, extras: dict[int, SiteExtras] | None = None) -> list[RoomSite]:
    """Doors, windows, leaves, keep-out zones and anchors of every room, for the furnisher."""
    extras = extras or {}
    out = []
    for r in plan.rooms:
        inner = interior(r.rect)
        features: list[WallFeature] = []
        keepout: list[Rect] = []
        blocked: list[Rect] = []
        anchors: list[tuple[float, float]] = []
        for d in plan.doors:
            side = side_of_door(r.rect, d)
            if side is None or (d.b < 0 and d.a != r.id) or r.id not in (d.a, d.b):
                continue
            features.append(WallFeature(side, d.t0, d.t1, 0.0, DOOR_HEIGHT, "door"))
            depth = min(0.8, 0.4 * (inner.depth if side in ("S", "N") else inner.width))
            keepout.append(_strip(inner, side, d.t0 - 0.1, d.t1 + 0.1, depth))
            anchors.append(_entry(inner, side, (d.t0 + d.t1) / 2, 0.4))
            span = d.leaf_span()
            if span is not None and d.leaf_room == r.id:
                features.append(WallFeature(side, span[0], span[1], 0.0, 2.05, "leaf"))
                blocked.append(_strip(inner, side, span[0], span[1], 0.1))
        for w in plan.windows:
            if w.room == r.id:
                features.append(WallFeature(w.side, w.t0, w.t1, w.z0, w.z1, "window"))
        ex = extras.get(r.id)
        if ex is not None:
            blocked += ex.blocked
            anchors += ex.anchors
            keepout += ex.keepout
        out.append(RoomSite(r.id, r.type, plan.floor, plan.elevation, inner, tuple(features), tuple(keepout),
                            tuple(blocked), tuple(anchors)))
    return out


def furnish_floor(asm: WorldAssembler, plan: FloorPlan, rng: np.random.Generator, *,
                  extras: dict[int, SiteExtras] | None = None,
                  exclude: dict[str, tuple[str, ...]] | None = None) -> dict[int, Furnisher]:
    """Fill every room of the plan from the catalog; returns each room's furnisher."""
    out: dict[int, Furnisher] = {}
    for site in room_sites(plan, extras):
        f = Furnisher(site, asm, rng)
        fill_room(f, asm.catalog, site.type, exclude=(exclude or {}).get(site.type, ()))
        out[site.room_id] = f
    return out


def exterior_colour(rng: np.random.Generator) -> str:
    """A palette colour for a building's outside walls."""
    return EXTERIOR[int(rng.integers(len(EXTERIOR)))]
