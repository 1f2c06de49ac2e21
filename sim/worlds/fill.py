"""Furnishing a room from the catalog: what goes in it, then where, rule by rule.

``choose`` draws the categories of one room (required ones, one of each ``any_of`` group and
optional ones by their probability, capped by the room type's density); ``fill_room`` places
them: big anchors first, each followed by the objects that depend on it (chairs around a table,
nightstands beside a bed, a coffee table before the sofa and a tv stand facing it), then rugs,
small objects on supporting surfaces and finally objects on the walls.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from sim.catalog import Catalog, Category
from sim.worlds.assembly import Look, pick_look
from sim.worlds.furnish import Furnisher, Placed, footprint
from sim.worlds.layout import INWARD_YAW, SIDES

log = logging.getLogger(__name__)

__all__ = ["Want", "choose", "fill_room", "place_on_top"]

_ANCHOR_RULES = ("wall", "corner", "centre")
_DEPENDENT_RULES = ("around", "beside", "front", "facing")


@dataclass
class Want:
    """``count`` objects of ``category`` wanted in a room."""

    category: str
    count: int
    required: bool
    prob: float
    placed: int = 0


def choose(catalog: Catalog, room_type: str, area: float, rng: np.random.Generator,
           exclude: tuple[str, ...] = ()) -> list[Want]:
    """The categories (with counts) one room of ``room_type`` gets."""
    rt = catalog.room_type(room_type)
    required = list(rt.required)
    for group in rt.any_of:
        p = np.array([catalog.category(c).rooms.get(room_type, 1.0) for c in group], dtype=np.float64)
        required.append(group[int(rng.choice(len(group), p=p / p.sum()))])
    wants: list[Want] = []
    for name, p in catalog.categories_for_room(room_type):
        draw = float(rng.random())
        if name in exclude:
            continue
        c = catalog.category(name)
        count = int(rng.integers(c.count[0], c.count[1] + 1))
        if name in required:
            wants.append(Want(name, count, True, 1.0))
        elif draw < p:
            wants.append(Want(name, count, False, p))
    budget = max(1, int(round(area * rt.density)))
    optional_floor = [w for w in wants if not w.required and catalog.category(w.category).floor_standing
                      and catalog.category(w.category).placement.rule not in ("around", "front")]
    optional_floor.sort(key=lambda w: -w.prob)
    used = 0
    for w in optional_floor:
        if used + w.count > budget:
            w.count = max(0, budget - used)
        used += w.count
    return [w for w in wants if w.count > 0]


def _size(cat: Category, rng: np.random.Generator, small: bool = False) -> tuple[float, float, float]:
    if small:
        w, d, h = cat.size.minimum
        return (w, w if cat.square else d, h)
    return cat.size.sample(rng, cat.square)


def fill_room(f: Furnisher, catalog: Catalog, room_type: str, *, exclude: tuple[str, ...] = ()) -> list[Want]:
    """Choose and place a room's objects; returns the wants with how many of each were placed."""
    rng = f.rng
    wants = choose(catalog, room_type, f.site.rect.area, rng, exclude)
    by_name = {w.category: w for w in wants}
    anchors = []
    for w in wants:
        c = catalog.category(w.category)
        rule = c.placement.rule
        if rule in _ANCHOR_RULES:
            anchors.append(w)
        elif rule in _DEPENDENT_RULES and not any(t in by_name for t in c.placement.targets) and c.placement.fallback:
            anchors.append(w)
    anchors.sort(key=lambda w: (not w.required, -_area(catalog.category(w.category))))
    for required in (True, False):
        phase = [w for w in anchors if w.required == required]
        for w in phase:  # one of each first: a second counter must not crowd out the sink
            if w.placed == 0 and _place_one(f, catalog, wants, w, rng) is None:
                log.debug("room %d (%s): no place for %s", f.site.room_id, room_type, w.category)
        for w in wants:  # dependents whose targets are missing or left them no room
            c = catalog.category(w.category)
            if (w.required == required and c.placement.rule in _DEPENDENT_RULES and w.placed == 0
                    and c.placement.fallback):
                for _ in range(w.count):
                    if _place_anchor(f, c, c.placement.fallback, rng) is None:
                        log.debug("room %d (%s): no place for %s", f.site.room_id, room_type, c.name)
                        break
                    w.placed += 1
        for w in phase:
            while 0 < w.placed < w.count and _place_one(f, catalog, wants, w, rng) is not None:
                pass
    for w in wants:
        c = catalog.category(w.category)
        rule = c.placement.rule
        if rule == "flat":
            for _ in range(w.count):
                w.placed += _place_flat(f, c, rng)
    for w in wants:
        c = catalog.category(w.category)
        if c.placement.rule == "on_top":
            for _ in range(w.count):
                w.placed += place_on_top(f, c, rng)
    for w in wants:
        c = catalog.category(w.category)
        if c.placement.rule in ("wall_mounted", "above"):
            for _ in range(w.count):
                w.placed += _place_on_wall(f, c, rng)
    return wants


def _place_one(f: Furnisher, catalog: Catalog, wants: list[Want], w: Want, rng: np.random.Generator) -> Placed | None:
    """One more instance of an anchor want, followed by the objects that depend on it."""
    c = catalog.category(w.category)
    rule = c.placement.rule if c.placement.rule in _ANCHOR_RULES else c.placement.fallback
    p = _place_anchor(f, c, rule, rng, _side_deps(catalog, wants, c.name))
    if p is not None:
        w.placed += 1
        _place_dependents(f, catalog, wants, p)
    return p


def _area(c: Category) -> float:
    return c.size.w[1] * c.size.d[1]


def _side_deps(catalog: Catalog, wants: list[Want], target: str) -> list[tuple[Category, int, bool]]:
    """Unplaced wants that go beside ``target`` (nightstands by a bed, a stove by a counter)."""
    out = []
    for w in wants:
        c = catalog.category(w.category)
        if c.placement.rule == "beside" and target in c.placement.targets and w.placed < w.count:
            out.append((c, w.count - w.placed, w.required))
    return out


def _place_anchor(f: Furnisher, c: Category, rule: str, rng: np.random.Generator,
                  deps: list[tuple[Category, int, bool]] = ()) -> Placed | None:
    """Place one object by ``rule``; against a wall, first look for a stretch with room for ``deps`` too."""
    required = [d for d in deps if d[2]]
    plans = [(False, list(deps)), (False, required), (True, required), (False, []), (True, [])]
    seen = []
    for small, ds in plans:
        key = (small, tuple(d[0].name for d in ds))
        if key in seen or (rule == "centre" and ds):
            continue
        seen.append(key)
        size = _size(c, rng, small)
        look = pick_look(f.asm.catalog, c.name, rng)
        if rule == "centre":
            p = f.try_centre(c.name, size, look)
        elif ds:
            p = _wall_with_room(f, c, size, look, ds, rng)
        else:
            p = f.try_wall(c.name, size, look, corner=(rule == "corner"))
        if p is not None:
            return p
    return None


def _wall_with_room(f: Furnisher, c: Category, size: tuple[float, float, float], look: Look,
                    deps: list[tuple[Category, int, bool]], rng: np.random.Generator) -> Placed | None:
    """Against a wall where the dependents fit beside it: split them left and right of the anchor."""
    widths = [d.size.w[0] + d.placement.gap[1] for d, n, _ in deps for _ in range(n)]
    depth = max([size[1]] + [d.size.d[0] for d, _, _ in deps])
    height = max([size[2]] + [d.size.h[0] for d, _, _ in deps])
    total = size[0] + sum(widths)
    if len(widths) >= 2 and all(d.name == deps[0][0].name for d, _, _ in deps):
        left = sum(widths[: len(widths) // 2])  # a pair (nightstands) goes on both sides
    else:
        left = sum(widths) if rng.random() < 0.5 else 0.0
    for side, t in f.wall_candidates((total, depth, height), corner=False)[:10]:
        t_obj = t - total / 2 + left + size[0] / 2
        x, y, yaw = f.wall_slot(side, t_obj, size)
        p = f.try_commit(c.name, size, x, y, yaw, look, side=side)
        if p is not None:
            return p
    return None


def _place_dependents(f: Furnisher, catalog: Catalog, wants: list[Want], target: Placed) -> None:
    rng = f.rng
    for w in wants:
        c = catalog.category(w.category)
        pl = c.placement
        if pl.rule not in _DEPENDENT_RULES or target.category not in pl.targets:
            continue
        if pl.rule == "around":
            n = _around(f, c, target, rng)
            w.placed += n
            continue
        if w.placed >= w.count:
            continue
        if pl.rule == "beside":
            # next to the target or next to what already stands beside it (a run of kitchen units)
            chain = [target] + [p for p in f.placed if p.side is not None and p.side == target.side
                                and p is not target and p.beside_of is target and p.category != c.name]
            for sgn in ([1.0, -1.0] if rng.random() < 0.5 else [-1.0, 1.0]):
                for member in chain:
                    if w.placed >= w.count:
                        break
                    for small in (False, True):
                        size = _size(c, rng, small)
                        gap = float(rng.uniform(*pl.gap))
                        lat = sgn * (member.size[0] / 2 + gap + size[0] / 2)
                        p = f.try_relative(c.name, size, pick_look(catalog, c.name, rng), member, lateral=lat,
                                           forward=0.0, gap=min(gap, 0.06) * 0.5, side=member.side)
                        if p is not None:
                            p.beside_of = target
                            w.placed += 1
                            break
        elif pl.rule == "front":
            for small in (False, True):
                size = _size(c, rng, small)
                gap = float(rng.uniform(*pl.gap))
                p = f.try_relative(c.name, size, pick_look(catalog, c.name, rng), target,
                                   lateral=0.0, forward=target.size[1] + gap, face=pl.face, gap=min(gap, 0.06) * 0.5)
                if p is not None:
                    w.placed += 1
                    break
        elif pl.rule == "facing":
            if _facing(f, c, target, rng):
                w.placed += 1


def _around(f: Furnisher, c: Category, table: Placed, rng: np.random.Generator) -> int:
    """Chairs around a table, one look and size for the set."""
    size = _size(c, rng)
    look = pick_look(f.asm.catalog, c.name, rng)
    gap = float(rng.uniform(*c.placement.gap))
    r = table.rect
    long_x = r.width >= r.depth
    n_placed = 0
    for side in SIDES:
        length = r.width if side in ("S", "N") else r.depth
        along_long = (side in ("S", "N")) == long_x
        if along_long:
            n = max(1, int((length + 0.05) / 0.62))
        else:
            n = 1 if length >= 0.7 and max(r.width, r.depth) >= 1.4 else 0
        lo = r.x0 if side in ("S", "N") else r.y0
        for k in range(n):
            t = lo + (k + 0.5) * length / n
            off = gap + size[1] / 2
            x, y = {"S": (t, r.y0 - off), "N": (t, r.y1 + off), "W": (r.x0 - off, t), "E": (r.x1 + off, t)}[side]
            yaw = INWARD_YAW[side] + math.pi  # facing the table
            if f.try_commit(c.name, size, x, y, yaw, look, gap=0.02) is not None:
                n_placed += 1
    return n_placed


def _facing(f: Furnisher, c: Category, target: Placed, rng: np.random.Generator) -> bool:
    """Against the wall ``target`` looks at, centred on it when possible."""
    hx, hy = target.heading
    side = "N" if hy > 0.5 else "S" if hy < -0.5 else "E" if hx > 0.5 else "W"
    t0 = target.info.position[0] if side in ("S", "N") else target.info.position[1]
    lo, hi = f.side_span(side)
    for small in (False, True):
        size = _size(c, rng, small)
        look = pick_look(f.asm.catalog, c.name, rng)
        for dt in (0.0, 0.3, -0.3, 0.6, -0.6, 0.9, -0.9):
            t = min(max(t0 + dt, lo + size[0] / 2 + 0.02), hi - size[0] / 2 - 0.02)
            x, y, yaw = f.wall_slot(side, t, size)
            if f.try_commit(c.name, size, x, y, yaw, look, side=side) is not None:
                return True
    return f.try_wall(c.name, _size(c, rng, True), pick_look(f.asm.catalog, c.name, rng)) is not None


def _place_flat(f: Furnisher, c: Category, rng: np.random.Generator) -> int:
    """A rug (may lie under furniture) or a mat (on free floor)."""
    r = f.site.rect
    under = {"rug": ("coffee table", "dining table", "bed"), "bath mat": ("bathtub", "shower", "sink")}
    anchors = [p for p in f.placed if p.category in under.get(c.name, ())]
    for k in range(16):
        w, d, h = _size(c, rng, small=k >= 8)
        yaw = math.pi / 2 if r.width >= r.depth else 0.0
        if c.name == "rug":
            w = min(w, max(r.width, r.depth) - 0.8)
            d = min(d, min(r.width, r.depth) - 0.8)
        if w < 0.4 or d < 0.3:
            return 0
        if anchors and k < 6:
            a = anchors[k % len(anchors)]
            if c.name == "rug":
                x, y = a.info.position[0], a.info.position[1]
            else:  # a mat in front of the fixture
                hx, hy = a.heading
                x = a.info.position[0] + hx * (a.size[1] / 2 + 0.05 + d / 2)
                y = a.info.position[1] + hy * (a.size[1] / 2 + 0.05 + d / 2)
                yaw = a.yaw
        else:
            x = r.cx + float(rng.uniform(-0.3, 0.3)) * max(0.0, r.width - w)
            y = r.cy + float(rng.uniform(-0.3, 0.3)) * max(0.0, r.depth - d)
        rect = footprint(x, y, (w, d, h), yaw)
        if not rect.inside(r, 0.05) or any(rect.overlaps(o, 0.05) for o in f.flats):
            continue
        if any(rect.overlaps(o) for o in f.site.blocked):
            continue
        if c.name != "rug" and any(rect.overlaps(p.rect, 0.02) for p in f.placed):
            continue
        f.asm.add_object(c.name, (w, d, h), x=x, y=y, z=f.site.z, yaw=yaw, look=pick_look(f.asm.catalog, c.name, rng),
                         room_id=f.site.room_id, floor=f.site.floor)
        f.flats.append(rect)
        return 1
    return 0


def place_on_top(f: Furnisher, c: Category, rng: np.random.Generator) -> int:
    """On a free spot of a supporting surface (against its back edge for ``at: back``)."""
    supports = [p for p in f.placed if p.category in c.placement.targets]
    if not supports:
        return 0
    order = sorted(range(len(supports)), key=lambda k: (len(supports[k].items), float(rng.random())))
    for k in order:
        s = supports[k]
        surf = s.rect.shrink(0.03)
        for attempt in range(10):
            size = _size(c, rng, small=attempt >= 6)
            if c.placement.at == "back" or not c.square:
                yaw = s.yaw
            else:
                yaw = s.yaw + math.pi / 2 * int(rng.integers(4))
            hx, hy = s.heading
            if c.placement.at == "back":
                room = s.size[0] / 2 - size[0] / 2 - 0.03
                if room < 0:
                    continue
                u = float(rng.uniform(-room, room))
                back = s.size[1] / 2 - 0.03 - size[1] / 2
                x = s.info.position[0] - hx * back + (-hy) * u
                y = s.info.position[1] - hy * back + hx * u
            else:
                ex, ey = (size[1], size[0]) if abs(math.cos(yaw)) > 0.5 else (size[0], size[1])
                if surf.width < ex or surf.depth < ey:
                    continue
                x = float(rng.uniform(surf.x0 + ex / 2, surf.x1 - ex / 2))
                y = float(rng.uniform(surf.y0 + ey / 2, surf.y1 - ey / 2))
            rect = footprint(x, y, size, yaw)
            if not rect.inside(surf, -1e-6) or any(rect.overlaps(o, 0.03) for o in s.items):
                continue
            f.asm.add_object(c.name, size, x=x, y=y, z=s.top, yaw=yaw, look=pick_look(f.asm.catalog, c.name, rng),
                             room_id=f.site.room_id, floor=f.site.floor)
            s.items.append(rect)
            return 1
    return 0


def _place_on_wall(f: Furnisher, c: Category, rng: np.random.Generator) -> int:
    """On a free stretch of wall: clear of doors, windows, other wall objects and tall furniture."""
    pl = c.placement
    targets = [p for p in f.placed if p.category in pl.targets and p.side is not None] if pl.rule == "above" else []
    for attempt in range(30):
        size = _size(c, rng, small=attempt >= 20)
        w, _, h = size
        if targets and attempt < 6:
            t_obj = targets[attempt % len(targets)]
            side = t_obj.side
            assert side is not None
            t = t_obj.info.position[0] if side in ("S", "N") else t_obj.info.position[1]
            z0 = max(float(rng.uniform(*pl.mount)), t_obj.top - f.site.z + 0.12)
        else:
            side = SIDES[int(rng.integers(4))]
            lo, hi = f.side_span(side)
            if hi - lo < w + 0.2:
                continue
            t = float(rng.uniform(lo + w / 2 + 0.1, hi - w / 2 - 0.1))
            z0 = float(rng.uniform(*pl.mount))
        if z0 + h > 2.6 or not _wall_free(f, side, t - w / 2, t + w / 2, z0, z0 + h, ignore=targets):
            continue
        x, y, yaw = f.wall_slot(side, t, size)
        f.asm.add_object(c.name, size, x=x, y=y, z=f.site.z + z0, yaw=yaw, look=pick_look(f.asm.catalog, c.name, rng),
                         room_id=f.site.room_id, floor=f.site.floor)
        f.wall_items.append((side, t - w / 2, t + w / 2, z0, z0 + h))
        return 1
    return 0


def _wall_free(f: Furnisher, side: str, t0: float, t1: float, z0: float, z1: float,
               ignore: list[Placed]) -> bool:
    lo, hi = f.side_span(side)
    if t0 < lo + 0.05 or t1 > hi - 0.05:
        return False
    for ft in f.site.features:
        if ft.side == side and t0 < ft.t1 + 0.1 and ft.t0 - 0.1 < t1 and z0 < ft.z1 + 0.1 and ft.z0 - 0.1 < z1:
            return False
    for s, a, b, za, zb in f.wall_items:
        if s == side and t0 < b + 0.15 and a - 0.15 < t1 and z0 < zb + 0.1 and za - 0.1 < z1:
            return False
    band = f.wall_band(side, 0.35)
    for p in f.placed:
        if p in ignore or p.top - f.site.z < z0 - 0.03:
            continue
        if p.rect.overlaps(band):
            lo2, hi2 = (p.rect.x0, p.rect.x1) if side in ("S", "N") else (p.rect.y0, p.rect.y1)
            if lo2 < t1 + 0.05 and t0 - 0.05 < hi2:
                return False
    for b in f.site.blocked:
        if b.overlaps(band):
            lo2, hi2 = (b.x0, b.x1) if side in ("S", "N") else (b.y0, b.y1)
            if lo2 < t1 + 0.05 and t0 - 0.05 < hi2:
                return False
    return True
