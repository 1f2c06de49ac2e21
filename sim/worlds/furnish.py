"""Placing objects in a room without overlaps while keeping doors, walkways and objects reachable.

A ``Furnisher`` holds a 5 cm occupancy raster of one room's walkable interior. Every floor
object it commits must (1) fit inside the room, (2) keep a gap to other objects, (3) stay out of
keep-out zones (in front of doors), (4) keep every anchor (door entries, stair landings)
connected for a robot with some margin and (5) leave every object it has placed approachable.
Small objects go on the tops of supporting objects; wall objects hang on free wall stretches.
The catalog-driven choice of what goes in a room lives in ``sim.worlds.fill``.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from sim.types import ObjectInfo, Pose
from sim.worlds.assembly import Look, WorldAssembler
from sim.worlds.layout import INWARD_YAW, SIDES, Rect
from sim.worlds.shapes import footprint_extent

log = logging.getLogger(__name__)

__all__ = ["WallFeature", "RoomSite", "Placed", "Furnisher", "ROBOT_CLEARANCE", "REACH"]

RES = 0.05
ROBOT_CLEARANCE = 0.26  # robot radius 0.18 m plus a margin for the navigation grid's discretisation
REACH = 0.5  # a walkable cell must lie within this distance of every floor object
WALL_GAP = 0.01


@dataclass(frozen=True, slots=True)
class WallFeature:
    """Something on a wall of the room: a doorway, a window or a door leaf (positions along the side)."""

    side: str
    t0: float
    t1: float
    z0: float
    z1: float
    kind: str


@dataclass(frozen=True)
class RoomSite:
    """Everything the furnisher needs to know about one room."""

    room_id: int
    type: str
    floor: int
    z: float  # floor elevation
    rect: Rect  # walkable interior (inside the walls)
    features: tuple[WallFeature, ...] = ()
    keepout: tuple[Rect, ...] = ()  # free space that must stay free (in front of doors)
    blocked: tuple[Rect, ...] = ()  # already occupied (door leaves, stair flights, floor holes)
    anchors: tuple[tuple[float, float], ...] = ()  # points that must stay mutually reachable


@dataclass
class Placed:
    """An object committed by the furnisher."""

    info: ObjectInfo
    rect: Rect  # footprint reserved for it
    size: tuple[float, float, float]
    yaw: float
    look: Look
    side: str | None = None  # wall it stands against
    items: list[Rect] = field(default_factory=list)  # footprints of things standing on it
    beside_of: Placed | None = None  # the object it was placed beside, if any

    @property
    def category(self) -> str:
        return self.info.category

    @property
    def top(self) -> float:
        return self.info.bbox_max[2]

    @property
    def heading(self) -> tuple[float, float]:
        return (math.cos(self.yaw), math.sin(self.yaw))


def _snap_yaw(yaw: float) -> float:
    q = round(yaw / (math.pi / 2)) % 4
    return (0.0, math.pi / 2, math.pi, -math.pi / 2)[q]


def footprint(x: float, y: float, size: tuple[float, float, float], yaw: float) -> Rect:
    """World rectangle covered by a ``(w, d, h)`` object centred at (x, y) facing ``yaw``."""
    ex, ey = footprint_extent(size, yaw)
    return Rect(x - ex / 2, y - ey / 2, x + ex / 2, y + ey / 2)


class Furnisher:
    """Commits objects into one room (see the module docstring)."""

    def __init__(self, site: RoomSite, asm: WorldAssembler, rng: np.random.Generator, res: float = RES) -> None:
        self.site = site
        self.asm = asm
        self.rng = rng
        self.res = res
        r = site.rect
        self.cols = max(1, int(round(r.width / res)))
        self.rows = max(1, int(round(r.depth / res)))
        self.occ = np.zeros((self.rows, self.cols), dtype=bool)
        for b in site.blocked:
            self.occ[self._slices(b)] = True
        self.placed: list[Placed] = []
        self.solid: list[Rect] = list(site.blocked)  # footprints nothing may overlap
        self.flats: list[Rect] = []  # rugs and mats
        self.wall_items: list[tuple[str, float, float, float, float]] = []  # side, t0, t1, z0, z1
        self._anchor_cells = [self._cell(x, y) for x, y in site.anchors]

    # raster -----------------------------------------------------------------------------------
    def _cell(self, x: float, y: float) -> tuple[int, int]:
        r = self.site.rect
        i = int(np.clip((y - r.y0) / self.res, 0, self.rows - 1))
        j = int(np.clip((x - r.x0) / self.res, 0, self.cols - 1))
        return i, j

    def _slices(self, rect: Rect, grow: float = 0.0) -> tuple[slice, slice]:
        r = self.site.rect
        res = self.res
        j0 = int(math.floor((rect.x0 - grow - r.x0) / res + 1e-6))
        j1 = int(math.ceil((rect.x1 + grow - r.x0) / res - 1e-6))
        i0 = int(math.floor((rect.y0 - grow - r.y0) / res + 1e-6))
        i1 = int(math.ceil((rect.y1 + grow - r.y0) / res - 1e-6))
        return slice(max(0, i0), max(0, min(self.rows, i1))), slice(max(0, j0), max(0, min(self.cols, j1)))

    def free_nav(self, occ: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(distance to the nearest obstacle or wall in metres, component labels of navigable cells)."""
        o = self.occ if occ is None else occ
        free = np.zeros((self.rows + 2, self.cols + 2), dtype=bool)
        free[1:-1, 1:-1] = ~o
        dist = ndimage.distance_transform_edt(free)[1:-1, 1:-1] * self.res - self.res / 2
        labels, _ = ndimage.label(dist >= ROBOT_CLEARANCE)
        return dist, labels

    def _anchor_label(self, labels: np.ndarray) -> int:
        """The component holding every anchor, or 0 when they are split (or there are none)."""
        found = set()
        for i, j in self._anchor_cells:  # the anchor's cell or a direct neighbour must be navigable
            win = labels[max(0, i - 1):i + 2, max(0, j - 1):j + 2]
            vals = win[win > 0]
            if len(vals) == 0:
                return 0
            found.add(int(np.bincount(vals).argmax()))
        if len(found) != 1:
            return 0
        return found.pop()

    def main_component(self) -> np.ndarray:
        """Navigable cells connected to the anchors (all navigable cells when there are no anchors)."""
        _, labels = self.free_nav()
        if not self._anchor_cells:
            return labels > 0
        lab = self._anchor_label(labels)
        return labels == lab if lab else np.zeros_like(labels, dtype=bool)

    def _reachable_ok(self, occ: np.ndarray, rects: list[Rect]) -> bool:
        _, labels = self.free_nav(occ)
        if self._anchor_cells:
            lab = self._anchor_label(labels)
            if lab == 0:
                return False
            main = labels == lab
        else:
            main = labels > 0
            if not main.any():
                return False
        for rect in rects + [p.rect for p in self.placed]:
            if not main[self._slices(rect, REACH)].any():
                return False
        return True

    # checks -----------------------------------------------------------------------------------
    def fits(self, rect: Rect, gap: float = 0.08) -> bool:
        """Inside the room, clear of other footprints by ``gap`` and out of keep-out zones."""
        if not rect.inside(self.site.rect, -1e-6):
            return False
        if any(rect.overlaps(o, gap) for o in self.solid):
            return False
        return not any(rect.overlaps(k) for k in self.site.keepout)

    def blocks_window(self, rect: Rect, height: float) -> bool:
        """True when a tall object against a wall would stand in front of a window."""
        r = self.site.rect
        for f in self.site.features:
            if f.kind != "window" or height < f.z0 - 0.02:
                continue
            near = {"S": rect.y0 < r.y0 + 0.4, "N": rect.y1 > r.y1 - 0.4,
                    "W": rect.x0 < r.x0 + 0.4, "E": rect.x1 > r.x1 - 0.4}[f.side]
            lo, hi = (rect.x0, rect.x1) if f.side in ("S", "N") else (rect.y0, rect.y1)
            if near and lo < f.t1 + 0.05 and f.t0 - 0.05 < hi:
                return True
        return False

    # commits ----------------------------------------------------------------------------------
    def try_commit(self, category: str, size: tuple[float, float, float], x: float, y: float, yaw: float,
                   look: Look, *, gap: float = 0.08, side: str | None = None,
                   occupy: Rect | None = None) -> Placed | None:
        """Check one floor object at (x, y, yaw) and commit it if it passes every rule.

        ``occupy`` is the part of the footprint that blocks the robot when it is smaller than
        the footprint (a tree's trunk under its canopy).
        """
        group = self.try_group([(category, size, x, y, yaw, look, side)], gap=gap, occupy=[occupy])
        return group[0] if group else None

    def try_group(self, specs: list[tuple[str, tuple[float, float, float], float, float, float, Look, str | None]],
                  *, gap: float = 0.08, inner_gap: float = 0.02,
                  occupy: list[Rect | None] | None = None) -> list[Placed] | None:
        """Commit several floor objects together (a desk with its chair) or none of them."""
        rects = []
        for _cat, size, x, y, yaw, _look, _side in specs:
            yaw = _snap_yaw(yaw)
            rect = footprint(x, y, size, yaw)
            if not self.fits(rect, gap) or self.blocks_window(rect, size[2]):
                return None
            if any(rect.overlaps(o, inner_gap) for o in rects):
                return None
            rects.append(rect)
        occ = self.occ.copy()
        for k, rect in enumerate(rects):
            block = occupy[k] if occupy and k < len(occupy) and occupy[k] is not None else rect
            occ[self._slices(block)] = True
        if not self._reachable_ok(occ, rects):
            return None
        out = []
        for (cat, size, x, y, yaw, look, side), rect in zip(specs, rects, strict=True):
            info = self.asm.add_object(cat, size, x=x, y=y, z=self.site.z, yaw=_snap_yaw(yaw), look=look,
                                       room_id=self.site.room_id, floor=self.site.floor)
            p = Placed(info, rect, size, _snap_yaw(yaw), look, side)
            self.placed.append(p)
            self.solid.append(rect)
            out.append(p)
        self.occ = occ
        return out

    def reserve(self, rect: Rect) -> None:
        """Mark an area as occupied without an object (used by generators for fixed structure)."""
        self.occ[self._slices(rect)] = True
        self.solid.append(rect)

    # rules ------------------------------------------------------------------------------------
    def wall_slot(self, side: str, t: float, size: tuple[float, float, float]) -> tuple[float, float, float]:
        """Centre (x, y) and yaw of an object of ``size`` with its back against ``side`` at ``t``."""
        r = self.site.rect
        w, d, _ = size
        off = WALL_GAP + d / 2
        if side == "S":
            return t, r.y0 + off, INWARD_YAW["S"]
        if side == "N":
            return t, r.y1 - off, INWARD_YAW["N"]
        if side == "W":
            return r.x0 + off, t, INWARD_YAW["W"]
        return r.x1 - off, t, INWARD_YAW["E"]

    def side_span(self, side: str) -> tuple[float, float]:
        """Extent of the room's interior along one wall."""
        return self.site.rect.side_span(side)

    def wall_band(self, side: str, depth: float) -> Rect:
        """The strip of the room within ``depth`` of the wall on ``side``."""
        r = self.site.rect
        return {"S": Rect(r.x0, r.y0, r.x1, r.y0 + depth), "N": Rect(r.x0, r.y1 - depth, r.x1, r.y1),
                "W": Rect(r.x0, r.y0, r.x0 + depth, r.y1), "E": Rect(r.x1 - depth, r.y0, r.x1, r.y1)}[side]

    def wall_candidates(self, size: tuple[float, float, float], *, sides: tuple[str, ...] = SIDES,
                        gap: float = 0.08, corner: bool = False) -> list[tuple[str, float]]:
        """Positions (side, t) along the walls where an object of ``size`` could stand.

        Free stretches are found per wall by removing what stands in the object's band (other
        footprints, keep-out zones, windows it would block); candidates sit flush against either
        end of each stretch or somewhere inside it, shuffled, corners first when ``corner``.
        """
        w, d, h = size
        flush: list[tuple[str, float]] = []
        inner: list[tuple[str, float]] = []
        for side in sides:
            lo, hi = self.side_span(side)
            band = self.wall_band(side, WALL_GAP + d + gap)
            blocks: list[tuple[float, float]] = []
            along = (lambda q: (q.x0, q.x1)) if side in ("S", "N") else (lambda q: (q.y0, q.y1))
            for o in self.solid:
                if o.overlaps(band, gap):
                    a, b = along(o)
                    blocks.append((a - gap, b + gap))
            for k in self.site.keepout:
                if k.overlaps(band):
                    blocks.append(along(k))
            for ft in self.site.features:
                if ft.kind == "window" and ft.side == side and h >= ft.z0 - 0.02:
                    blocks.append((ft.t0 - 0.05, ft.t1 + 0.05))
            free = [(lo + WALL_GAP, hi - WALL_GAP)]
            for a, b in sorted(blocks):
                nxt = []
                for fa, fb in free:
                    if b <= fa or a >= fb:
                        nxt.append((fa, fb))
                        continue
                    if a > fa:
                        nxt.append((fa, a))
                    if b < fb:
                        nxt.append((b, fb))
                free = nxt
            for fa, fb in free:
                if fb - fa < w - 1e-9:
                    continue
                at_corner = (fa <= lo + WALL_GAP + 1e-6, fb >= hi - WALL_GAP - 1e-6)
                for t, is_corner in ((fa + w / 2, at_corner[0]), (fb - w / 2, at_corner[1])):
                    (flush if (is_corner or not corner) else inner).append((side, t))
                if fb - fa > w + 0.1:
                    inner.append((side, float(self.rng.uniform(fa + w / 2, fb - w / 2))))
        flush = [flush[int(i)] for i in self.rng.permutation(len(flush))]
        inner = [inner[int(i)] for i in self.rng.permutation(len(inner))]
        return flush + inner if (corner or self.rng.random() < 0.6) else inner + flush

    def try_wall(self, category: str, size: tuple[float, float, float], look: Look, *, corner: bool = False,
                 sides: tuple[str, ...] = SIDES, tries: int = 14, gap: float = 0.08) -> Placed | None:
        """Against a wall (``corner``: preferably at one end of it), facing into the room."""
        for side, t in self.wall_candidates(size, sides=sides, gap=gap, corner=corner)[:tries]:
            x, y, yaw = self.wall_slot(side, t, size)
            p = self.try_commit(category, size, x, y, yaw, look, gap=gap, side=side)
            if p is not None:
                return p
        return None

    def try_centre(self, category: str, size: tuple[float, float, float], look: Look, *, tries: int = 24,
                   gap: float = 0.1) -> Placed | None:
        """Free-standing near the room centre, long side along the room's long axis."""
        r = self.site.rect
        base = math.pi / 2 if r.width >= r.depth else 0.0
        for k in range(tries):
            spread = min(1.0, k / 12.0)
            x = r.cx + float(self.rng.uniform(-0.5, 0.5)) * spread * max(0.0, r.width - size[1])
            y = r.cy + float(self.rng.uniform(-0.5, 0.5)) * spread * max(0.0, r.depth - size[1])
            yaw = base + (math.pi if self.rng.random() < 0.5 else 0.0)
            if k > tries // 2 and self.rng.random() < 0.3:
                yaw += math.pi / 2
            p = self.try_commit(category, size, round(x * 20) / 20, round(y * 20) / 20, yaw, look, gap=gap)
            if p is not None:
                return p
        return None

    def try_relative(self, category: str, size: tuple[float, float, float], look: Look, target: Placed, *,
                     lateral: float, forward: float, face: str = "same", gap: float = 0.06,
                     side: str | None = None) -> Placed | None:
        """At an offset from ``target`` in its own frame: ``lateral`` to its left, ``forward`` ahead.

        ``forward`` runs from the target's back edge to the near edge of this object, so
        ``forward=0`` aligns their backs and ``forward=depth+gap`` puts it in front of the target.
        ``face="toward"`` turns it to look back at the target (a chair at a desk).
        """
        hx, hy = target.heading
        lx, ly = -hy, hx
        bx_ = target.info.position[0] - hx * target.size[1] / 2
        by_ = target.info.position[1] - hy * target.size[1] / 2
        yaw = target.yaw if face == "same" else target.yaw + math.pi
        cx = bx_ + hx * (forward + size[1] / 2) + lx * lateral
        cy = by_ + hy * (forward + size[1] / 2) + ly * lateral
        return self.try_commit(category, size, cx, cy, yaw, look, gap=gap, side=side)

    def start_pose(self, min_clearance: float = 0.6) -> Pose | None:
        """A pose in the anchors' component with the most room, preferring the room centre."""
        dist, labels = self.free_nav()
        main = self.main_component()
        r = self.site.rect
        for need in (min_clearance, 0.5, 0.45):
            ok = main & (dist >= need)
            if ok.any():
                ii, jj = np.nonzero(ok)
                xs = r.x0 + (jj + 0.5) * self.res
                ys = r.y0 + (ii + 0.5) * self.res
                d2 = (xs - r.cx) ** 2 + (ys - r.cy) ** 2 - 0.5 * dist[ii, jj]
                k = int(np.argmin(d2))
                yaw = math.atan2(r.cy - ys[k], r.cx - xs[k]) if d2[k] > 0.01 else 0.0
                return Pose(float(xs[k]), float(ys[k]), self.site.z, float(yaw), self.site.floor)
        return None
