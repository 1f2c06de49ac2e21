"""Floor plans: rooms as rectangles tiling a footprint, doors between them, windows outside.

Rooms are laid out by a randomised squarified treemap (a guillotine partition whose cells get
the target areas), rooms that share enough wall become door candidates, a random spanning tree
plus a few extra edges picks the doors (bathrooms and storage rooms preferably as leaves), and
windows are cut into exterior walls. Walls are 0.1 m thick, centred on the room edges; room
``rect``s are the edge centrelines, so they tile the footprint and cover every doorway.

Conventions: a room side is ``S`` (y = y0), ``N`` (y = y1), ``W`` (x = x0) or ``E`` (x = x1); a
position along a side is the world x (S/N) or y (W/E) coordinate.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from sim.errors import SimError

log = logging.getLogger(__name__)

__all__ = ["LayoutError", "Rect", "SIDES", "INWARD_YAW", "WALL_T", "Door", "Window", "RoomPlan", "FloorPlan",
           "Edge", "partition", "adjacency", "door_graph", "place_doors", "place_windows", "front_door",
           "side_of_door", "interior"]

WALL_T = 0.1
SIDES = ("S", "N", "W", "E")
INWARD_YAW = {"S": math.pi / 2, "N": -math.pi / 2, "W": 0.0, "E": math.pi}
DOOR_HEIGHT = 2.1
_EPS = 1e-6


class LayoutError(SimError):
    """No floor plan satisfying the constraints was found."""


@dataclass(frozen=True, slots=True)
class Rect:
    """Axis-aligned rectangle ``[x0, x1] x [y0, y1]``."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def depth(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return self.width * self.depth

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2.0

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2.0

    def shrink(self, m: float) -> Rect:
        """This rectangle inset by ``m`` on every side (negative grows it)."""
        return Rect(self.x0 + m, self.y0 + m, self.x1 - m, self.y1 - m)

    def polygon(self) -> tuple[tuple[float, float], ...]:
        """Corners, counter-clockwise from (x0, y0)."""
        return ((self.x0, self.y0), (self.x1, self.y0), (self.x1, self.y1), (self.x0, self.y1))

    def overlaps(self, o: Rect, gap: float = 0.0) -> bool:
        """True when the rectangles, grown by ``gap``, share interior area."""
        return (self.x0 - gap < o.x1 and o.x0 - gap < self.x1 and self.y0 - gap < o.y1 and o.y0 - gap < self.y1)

    def contains(self, x: float, y: float, margin: float = 0.0) -> bool:
        """True when (x, y) lies at least ``margin`` inside."""
        return self.x0 + margin <= x <= self.x1 - margin and self.y0 + margin <= y <= self.y1 - margin

    def inside(self, o: Rect, margin: float = 0.0) -> bool:
        """True when this rectangle lies within ``o`` shrunk by ``margin``."""
        return (self.x0 >= o.x0 + margin - _EPS and self.x1 <= o.x1 - margin + _EPS
                and self.y0 >= o.y0 + margin - _EPS and self.y1 <= o.y1 - margin + _EPS)

    def side_span(self, side: str) -> tuple[float, float]:
        """Extent of a side along its own direction."""
        return (self.x0, self.x1) if side in ("S", "N") else (self.y0, self.y1)

    def side_coord(self, side: str) -> float:
        """The x (W/E) or y (S/N) coordinate of a side."""
        return {"S": self.y0, "N": self.y1, "W": self.x0, "E": self.x1}[side]

    def minus(self, hole: Rect) -> list[Rect]:
        """This rectangle with ``hole`` cut out, as up to four rectangles."""
        if not self.overlaps(hole):
            return [self]
        h = Rect(max(self.x0, hole.x0), max(self.y0, hole.y0), min(self.x1, hole.x1), min(self.y1, hole.y1))
        out = [Rect(self.x0, self.y0, self.x1, h.y0), Rect(self.x0, h.y1, self.x1, self.y1),
               Rect(self.x0, h.y0, h.x0, h.y1), Rect(h.x1, h.y0, self.x1, h.y1)]
        return [r for r in out if r.width > _EPS and r.depth > _EPS]


def interior(r: Rect) -> Rect:
    """The walkable part of a room: its rectangle without the half walls around it."""
    return r.shrink(WALL_T / 2.0)


@dataclass(frozen=True, slots=True)
class Edge:
    """Two rooms sharing a wall stretch: the wall is at ``coord`` and runs along ``axis`` over [lo, hi]."""

    a: int
    b: int
    axis: str  # "x": a wall along x at y = coord; "y": a wall along y at x = coord
    coord: float
    lo: float
    hi: float

    @property
    def length(self) -> float:
        return self.hi - self.lo


@dataclass(frozen=True, slots=True)
class Door:
    """A doorway between rooms ``a`` and ``b`` (``b == -1``: a closed front door, no opening)."""

    id: int
    a: int
    b: int
    axis: str
    coord: float
    t0: float
    t1: float
    leaf_room: int = -1  # room holding the open door leaf (-1: no leaf)
    leaf_dir: int = 0  # +1: the leaf lies along the wall towards +t from t1; -1: towards -t from t0

    @property
    def width(self) -> float:
        return self.t1 - self.t0

    def leaf_span(self) -> tuple[float, float] | None:
        """Where the open leaf lies along the wall, or None without a leaf."""
        if self.leaf_room < 0:
            return None
        lw = self.width - 0.02
        return (self.t1 + 0.01, self.t1 + 0.01 + lw) if self.leaf_dir > 0 else (self.t0 - 0.01 - lw, self.t0 - 0.01)


@dataclass(frozen=True, slots=True)
class Window:
    """A window opening on ``side`` of a room, ``t0..t1`` along it, ``z0..z1`` above the floor."""

    room: int
    side: str
    t0: float
    t1: float
    z0: float
    z1: float


@dataclass
class RoomPlan:
    """One room of a floor plan with its finishes (palette colour names and a material)."""

    id: int
    type: str
    rect: Rect
    floor: int = 0
    name: str = ""
    wall_colour: str = "white"
    floor_colour: str = "beige"
    floor_material: str = "wood"


@dataclass
class FloorPlan:
    """The rooms, doors and windows of one storey."""

    footprint: Rect
    rooms: list[RoomPlan]
    floor: int = 0
    elevation: float = 0.0
    doors: list[Door] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)

    def room(self, rid: int) -> RoomPlan:
        """The room with id ``rid`` (``LayoutError`` if absent)."""
        for r in self.rooms:
            if r.id == rid:
                return r
        raise LayoutError(f"no room {rid} on floor {self.floor}")

    def exterior_sides(self, r: RoomPlan) -> list[str]:
        """Sides of ``r`` on the footprint's outline."""
        f = self.footprint
        out = []
        for s in SIDES:
            c = r.rect.side_coord(s)
            if abs(c - f.side_coord(s)) < _EPS:
                out.append(s)
        return out


def side_of_door(rect: Rect, door: Door) -> str | None:
    """The side of ``rect`` on which ``door`` lies, if any."""
    if door.axis == "x":
        lo, hi = rect.x0, rect.x1
        side = "S" if abs(door.coord - rect.y0) < _EPS else ("N" if abs(door.coord - rect.y1) < _EPS else None)
    else:
        lo, hi = rect.y0, rect.y1
        side = "W" if abs(door.coord - rect.x0) < _EPS else ("E" if abs(door.coord - rect.x1) < _EPS else None)
    if side is None or door.t0 < lo - _EPS or door.t1 > hi + _EPS:
        return None
    return side


# ---------------------------------------------------------------------------------------- rooms
def partition(rect: Rect, areas: list[float], min_dims: list[float], rng: np.random.Generator,
              tries: int = 80, max_aspect: float = 2.6) -> list[Rect]:
    """Split ``rect`` into cells proportional to ``areas`` (same order), each at least ``min_dims`` wide.

    Tries random orders of a squarified guillotine split and keeps the layout whose worst cell
    is best; raises ``LayoutError`` when no try meets the minimum widths.
    """
    n = len(areas)
    if n == 0:
        raise LayoutError("no rooms to lay out")
    total = float(sum(areas))
    scaled = [a * rect.area / total for a in areas]
    best: tuple[float, list[Rect]] | None = None
    for _ in range(tries):
        order = [int(i) for i in rng.permutation(n)]
        cells: dict[int, Rect] = {}
        _split(rect, order, scaled, cells, rng)
        score = math.inf
        for i in range(n):
            c = cells[i]
            lo, hi = min(c.width, c.depth), max(c.width, c.depth)
            s = min(lo / max(min_dims[i], 1e-6), max_aspect / (hi / lo))
            score = min(score, s)
        if best is None or score > best[0]:
            best = (score, [cells[i] for i in range(n)])
        if score >= 1.3:
            break
    assert best is not None
    if best[0] < 1.0:
        raise LayoutError(f"cannot fit {n} rooms into a {rect.width:.1f} x {rect.depth:.1f} m footprint")
    return best[1]


def _split(rect: Rect, items: list[int], areas: list[float], out: dict[int, Rect], rng: np.random.Generator) -> None:
    if len(items) == 1:
        out[items[0]] = _snap(rect)
        return
    tot = sum(areas[i] for i in items)
    acc, k, best = 0.0, 1, math.inf
    for j in range(1, len(items)):
        acc += areas[items[j - 1]]
        diff = abs(acc - tot / 2.0)
        if diff < best:
            best, k = diff, j
    if len(items) > 3 and rng.random() < 0.3:
        k = int(np.clip(k + (1 if rng.random() < 0.5 else -1), 1, len(items) - 1))
    a_items, b_items = items[:k], items[k:]
    frac = sum(areas[i] for i in a_items) / tot
    if rect.width >= rect.depth:
        xm = _round(rect.x0 + frac * rect.width)
        _split(Rect(rect.x0, rect.y0, xm, rect.y1), a_items, areas, out, rng)
        _split(Rect(xm, rect.y0, rect.x1, rect.y1), b_items, areas, out, rng)
    else:
        ym = _round(rect.y0 + frac * rect.depth)
        _split(Rect(rect.x0, rect.y0, rect.x1, ym), a_items, areas, out, rng)
        _split(Rect(rect.x0, ym, rect.x1, rect.y1), b_items, areas, out, rng)


def _round(v: float) -> float:
    return round(v * 20.0) / 20.0  # 5 cm grid keeps shared edges exactly equal


def _snap(r: Rect) -> Rect:
    return Rect(_round(r.x0), _round(r.y0), _round(r.x1), _round(r.y1))


def adjacency(rooms: list[RoomPlan], min_overlap: float) -> list[Edge]:
    """Pairs of rooms sharing at least ``min_overlap`` metres of wall (room ids, sorted)."""
    out: list[Edge] = []
    for i, ra in enumerate(rooms):
        for rb in rooms[i + 1:]:
            a, b = ra.rect, rb.rect
            for c1, c2 in ((a.x1, b.x0), (a.x0, b.x1)):
                if abs(c1 - c2) < _EPS:
                    lo, hi = max(a.y0, b.y0), min(a.y1, b.y1)
                    if hi - lo >= min_overlap:
                        out.append(Edge(ra.id, rb.id, "y", c1, lo, hi))
            for c1, c2 in ((a.y1, b.y0), (a.y0, b.y1)):
                if abs(c1 - c2) < _EPS:
                    lo, hi = max(a.x0, b.x0), min(a.x1, b.x1)
                    if hi - lo >= min_overlap:
                        out.append(Edge(ra.id, rb.id, "x", c1, lo, hi))
    return out


def door_graph(rooms: list[RoomPlan], edges: list[Edge], rng: np.random.Generator, *,
               private: tuple[str, ...] = ("bathroom", "storage room", "laundry room", "restroom"),
               quiet: tuple[str, ...] = ("kitchen", "bedroom", "office", "meeting room", "kitchenette", "gym"),
               hubs: tuple[str, ...] = ("living room", "hallway", "corridor", "open office", "reception",
                                        "stairwell"),
               extra: int = 1) -> list[Edge]:
    """A random spanning tree over ``edges`` plus up to ``extra`` more doors between public rooms.

    Doors into private rooms cost most and doors into quiet rooms (kitchens, bedrooms) more than
    doors from hubs (living rooms, hallways), so private rooms tend to be leaves reached from a
    hub. Raises ``LayoutError`` if the rooms are not all connected.
    """
    types = {r.id: r.type for r in rooms}
    parent = {r.id: r.id for r in rooms}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    chosen: list[Edge] = []
    weights = rng.random(len(edges))

    def cost(k: int) -> float:
        e = edges[k]
        c = float(weights[k]) - 0.2 * min(e.length, 3.0)
        for t in (types[e.a], types[e.b]):
            c += 2.0 * (t in private) + 0.8 * (t in quiet) - 0.6 * (t in hubs)
        return c

    order = sorted(range(len(edges)), key=lambda k: (cost(k), k))
    rest = []
    for k in order:
        e = edges[k]
        ra, rb = find(e.a), find(e.b)
        if ra != rb:
            parent[ra] = rb
            chosen.append(e)
        else:
            rest.append(e)
    roots = {find(r.id) for r in rooms}
    if len(roots) > 1:
        raise LayoutError("rooms are not connected by shared walls long enough for a door")
    pairs = {(e.a, e.b) for e in chosen}
    for e in rest:
        if extra <= 0:
            break
        if types[e.a] in private or types[e.b] in private or (e.a, e.b) in pairs:
            continue
        if types[e.a] not in hubs and types[e.b] not in hubs:
            continue
        chosen.append(e)
        pairs.add((e.a, e.b))
        extra -= 1
    return chosen


def place_doors(plan: FloorPlan, edges: list[Edge], rng: np.random.Generator, *, first_id: int = 0,
                width: tuple[float, float] = (0.9, 1.1), margin: float = 0.2) -> list[Door]:
    """A doorway on each edge (near one end or centred) and, where the wall allows, an open leaf."""
    doors: list[Door] = []
    for k, e in enumerate(edges):
        w = round(float(rng.uniform(*width)), 2)
        room_len = e.length - 2 * margin
        if room_len < width[0] - _EPS:
            raise LayoutError(f"wall between rooms {e.a} and {e.b} too short for a door")
        w = min(w, math.floor(room_len * 100) / 100)
        mode = rng.random()
        if mode < 0.35:
            t0 = e.lo + margin
        elif mode < 0.7:
            t0 = e.hi - margin - w
        else:
            t0 = (e.lo + e.hi - w) / 2.0
        t0 = round(t0, 3)
        doors.append(Door(first_id + k, e.a, e.b, e.axis, e.coord, t0, round(t0 + w, 3)))
    out: list[Door] = []
    for d in doors:
        out.append(_with_leaf(plan, d, doors + plan.doors, out, rng))
    return out


def _with_leaf(plan: FloorPlan, d: Door, openings: list[Door], leaves: list[Door], rng: np.random.Generator) -> Door:
    options = [(room, sgn) for room in (d.a, d.b) if room >= 0 for sgn in (1, -1)]
    order = [options[int(i)] for i in rng.permutation(len(options))]
    lw = d.width - 0.02
    for room, sgn in order:
        r = plan.room(room).rect
        side = side_of_door(r, d)
        if side is None:
            continue
        lo, hi = r.side_span(side)
        span = (d.t1 + 0.01, d.t1 + 0.01 + lw) if sgn > 0 else (d.t0 - 0.01 - lw, d.t0 - 0.01)
        if span[0] < lo + WALL_T / 2 + 0.05 or span[1] > hi - WALL_T / 2 - 0.05:
            continue
        clash = any(side_of_door(r, o) == side and o.t0 - 0.1 < span[1] and span[0] < o.t1 + 0.1
                    for o in openings if o.id != d.id)
        for o in leaves:
            os_ = o.leaf_span()
            if (os_ is not None and o.leaf_room == room and side_of_door(r, o) == side
                    and os_[0] - 0.05 < span[1] and span[0] < os_[1] + 0.05):
                clash = True
        if not clash:
            return Door(d.id, d.a, d.b, d.axis, d.coord, d.t0, d.t1, room, sgn)
    return d


def _wall_of(r: Rect, side: str) -> tuple[str, float]:
    """(axis, coord) of the wall on ``side`` of ``r``, as a ``Door`` records it."""
    return ("x", r.side_coord(side)) if side in ("S", "N") else ("y", r.side_coord(side))


def front_door(plan: FloorPlan, rng: np.random.Generator, types: tuple[str, ...], door_id: int) -> Door | None:
    """A closed entrance door on an exterior wall of the first room of ``types`` that has one."""
    for t in types:
        for r in plan.rooms:
            if r.type != t:
                continue
            sides = plan.exterior_sides(r)
            if not sides:
                continue
            side = sides[int(rng.integers(len(sides)))]
            lo, hi = r.rect.side_span(side)
            w = 1.0
            if hi - lo < w + 0.8:
                continue
            busy = [(d.t0, d.t1) for d in plan.doors if side_of_door(r.rect, d) == side]
            for _ in range(12):
                t0 = round(float(rng.uniform(lo + 0.4, hi - 0.4 - w)), 3)
                if all(t0 + w + 0.3 < a or t0 - 0.3 > b for a, b in busy):
                    axis, coord = _wall_of(r.rect, side)
                    return Door(door_id, r.id, -1, axis, coord, t0, t0 + w)
    return None


SILLS = {"bathroom": 1.3, "restroom": 1.3, "kitchen": 1.15, "kitchenette": 1.15, "laundry room": 1.15}


def place_windows(plan: FloorPlan, rng: np.random.Generator, *, skip: tuple[str, ...] = ("stairwell",),
                  sill: float = 1.0, top: float = 2.1) -> list[Window]:
    """Windows on the exterior sides of rooms, clear of doors and corners (higher sills over worktops)."""
    out: list[Window] = []
    for r in plan.rooms:
        if r.type in skip:
            continue
        for side in plan.exterior_sides(r):
            lo, hi = r.rect.side_span(side)
            lo, hi = lo + 0.45, hi - 0.45
            length = hi - lo
            if length < 0.9:
                continue
            n = 1 if length < 3.2 else int(rng.integers(1, 3))
            z0 = SILLS.get(r.type, sill)
            busy = [(d.t0 - 0.3, d.t1 + 0.3) for d in plan.doors if side_of_door(r.rect, d) == side]
            slot = length / n
            for i in range(n):
                w = round(float(min(rng.uniform(0.8, 1.4), slot - 0.5)), 2)
                if w < 0.6:
                    continue
                c = lo + (i + 0.5) * slot + float(rng.uniform(-0.15, 0.15)) * (slot - w)
                t0, t1 = round(c - w / 2, 3), round(c + w / 2, 3)
                if any(t0 < b and a < t1 for a, b in busy):
                    continue
                out.append(Window(r.id, side, t0, t1, z0, top))
    return out
