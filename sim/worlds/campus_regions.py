"""Furnishing the outdoor regions of the campus (plaza, parking lot, lawn, courtyard, path).

Each region gets a ``Furnisher`` over its rectangle, so every object keeps the region crossable
between its entry points and stays approachable; which categories appear follows the catalog's
per-region probabilities, where they stand follows simple outdoor conventions (benches around
the fountain, cars in marked bays, lamp posts along paths).
"""
from __future__ import annotations

import math

from sim import geometry
from sim.catalog import Catalog
from sim.scene import SurfaceKind
from sim.worlds.assembly import pick_look
from sim.worlds.furnish import Furnisher, Placed
from sim.worlds.layout import INWARD_YAW, SIDES, Rect

__all__ = ["region_anchors", "furnish_region"]

_EPS = 1e-6


def region_anchors(rect: Rect, others: list[Rect], inset: float = 0.7) -> list[tuple[float, float]]:
    """Points just inside ``rect`` in the middle of every stretch of edge it shares with another region."""
    out = []
    for o in others:
        for side in SIDES:
            c = rect.side_coord(side)
            opp = {"S": o.y1, "N": o.y0, "W": o.x1, "E": o.x0}[side]
            if abs(c - opp) > _EPS:
                continue
            lo = max(rect.side_span(side)[0], o.side_span(side)[0])
            hi = min(rect.side_span(side)[1], o.side_span(side)[1])
            if hi - lo < 1.0:
                continue
            t = (lo + hi) / 2
            out.append({"S": (t, rect.y0 + inset), "N": (t, rect.y1 - inset), "W": (rect.x0 + inset, t),
                        "E": (rect.x1 - inset, t)}[side])
    return out


def _prob(catalog: Catalog, category: str, region: str) -> float:
    return catalog.category(category).rooms.get(region, 0.0)


def _put(f: Furnisher, category: str, x: float, y: float, yaw: float, *, gap: float = 0.3,
         size: tuple[float, float, float] | None = None) -> Placed | None:
    c = f.asm.catalog.category(category)
    rng = f.rng
    for small in (False, True):
        sz = size or (c.size.sample(rng, c.square) if not small else (c.size.w[0], c.size.w[0] if c.square
                                                                      else c.size.d[0], c.size.h[0]))
        occupy = None
        if category == "tree":  # only the trunk blocks the way; the canopy is overhead
            occupy = Rect(x - 0.25, y - 0.25, x + 0.25, y + 0.25)
        p = f.try_commit(category, sz, x, y, yaw, pick_look(f.asm.catalog, category, rng), gap=gap, occupy=occupy)
        if p is not None or size is not None:
            return p
    return None


def _scatter(f: Furnisher, category: str, n: int, margin: float = 1.0, gap: float = 0.5, tries: int = 12) -> int:
    """``n`` objects at random spots (random right-angle headings)."""
    r = f.site.rect
    c = f.asm.catalog.category(category)
    placed = 0
    for _ in range(n):
        for _ in range(tries):
            half = max(c.size.w[1], c.size.d[1]) / 2 + margin
            if r.width <= 2 * half or r.depth <= 2 * half:
                return placed
            x = float(f.rng.uniform(r.x0 + half, r.x1 - half))
            y = float(f.rng.uniform(r.y0 + half, r.y1 - half))
            yaw = math.pi / 2 * int(f.rng.integers(4))
            if _put(f, category, x, y, yaw, gap=gap) is not None:
                placed += 1
                break
    return placed


def _along_edge(f: Furnisher, category: str, side: str, t: float, inset: float, facing_out: bool,
                gap: float = 0.3) -> Placed | None:
    """An object with its back ``inset`` metres inside edge ``side``, at ``t`` along it."""
    r = f.site.rect
    c = f.asm.catalog.category(category)
    d = c.size.d[1]
    off = inset + d / 2
    x, y = {"S": (t, r.y0 + off), "N": (t, r.y1 - off), "W": (r.x0 + off, t), "E": (r.x1 - off, t)}[side]
    yaw = INWARD_YAW[side] + (math.pi if facing_out else 0.0)
    return _put(f, category, x, y, yaw, gap=gap)


def _bin_beside(f: Furnisher, p: Placed) -> None:
    hx, hy = p.heading
    lx, ly = -hy, hx
    off = p.size[0] / 2 + 0.45
    for s in (1.0, -1.0):
        if _put(f, "bin", p.info.position[0] + lx * off * s, p.info.position[1] + ly * off * s, p.yaw, gap=0.1):
            return


def _plaza(f: Furnisher, catalog: Catalog) -> None:
    r = f.site.rect
    rng = f.rng
    fountain = _put(f, "fountain", r.cx, r.cy, 0.0, gap=0.5)
    rad = (fountain.size[0] / 2 if fountain else 1.0) + 2.2
    for k in range(4):
        a = k * math.pi / 2
        b = _put(f, "bench", r.cx + math.cos(a) * (rad + 0.35), r.cy + math.sin(a) * (rad + 0.35), a + math.pi)
        if b is not None and k % 2 == 0:
            _bin_beside(f, b)
    for sx in (-1, 1):
        for sy in (-1, 1):
            _put(f, "lamp post", r.cx + sx * (r.width / 2 - 1.2), r.cy + sy * (r.depth / 2 - 1.2), 0.0)
    quads = [(sx, sy) for sx in (-1, 1) for sy in (-1, 1)]
    order = [quads[int(i)] for i in rng.permutation(4)]
    if rng.random() < _prob(catalog, "statue", "plaza"):
        sx, sy = order[0]
        _put(f, "statue", r.cx + sx * r.width * 0.3, r.cy + sy * r.depth * 0.3, math.atan2(-sy, -sx))
    if rng.random() < _prob(catalog, "bike rack", "plaza"):
        side = SIDES[int(rng.integers(4))]
        lo, hi = r.side_span(side)
        _along_edge(f, "bike rack", side, float(rng.uniform(lo + 3.0, hi - 3.0)), 1.0, False)
    if rng.random() < _prob(catalog, "tree", "plaza") + 0.3:
        for sx, sy in order[1:3]:
            _put(f, "tree", r.cx + sx * r.width * 0.32, r.cy + sy * r.depth * 0.32, 0.0, gap=0.4)


def _parking(f: Furnisher, catalog: Catalog) -> None:
    r = f.site.rect.shrink(1.3)
    rng = f.rng
    asm = f.asm
    bay_w, bay_d, aisle = 2.5, 5.0, 6.5
    n = int(r.width // bay_w)
    x0 = r.cx - n * bay_w / 2
    rows = []
    y, facing = r.y0, 1
    while y + bay_d <= r.y1 + _EPS:
        if facing == 1:
            if y + bay_d + aisle > r.y1:
                break
            rows.append((y, 1))
            y += bay_d + aisle
            facing = -1
        else:
            rows.append((y, -1))
            y += bay_d
            facing = 1
    line = (240, 240, 232)
    for y0, facing in rows:
        for k in range(n + 1):
            xk = x0 + k * bay_w
            asm.add_structure(geometry.quad(xk - 0.05, y0 + 0.1, xk + 0.05, y0 + bay_d - 0.1, 0.004), colour=line,
                              kind=SurfaceKind.GROUND)
        for k in range(n):
            if rng.random() < 0.7:
                _put(f, "car", x0 + (k + 0.5) * bay_w, y0 + bay_d / 2, math.pi / 2 if facing == 1 else -math.pi / 2,
                     gap=0.2)
    for y0, facing in rows:
        if facing == 1:  # lamp posts at the ends of each aisle
            ya = y0 + bay_d + aisle / 2
            for xa in (r.x0 - 0.6, r.x1 + 0.6):
                if rng.random() < _prob(catalog, "lamp post", "parking lot") + 0.3:
                    _put(f, "lamp post", xa, ya, 0.0, gap=0.2)
    if rng.random() < _prob(catalog, "sign", "parking lot"):
        _along_edge(f, "sign", "S" if rng.random() < 0.5 else "N", r.x0 + 0.6, 0.2, True, gap=0.1)


def _lawn(f: Furnisher, catalog: Catalog, region: str, site: Rect, bus_stop: bool) -> bool:
    r = f.site.rect
    rng = f.rng
    n_trees = max(2, int(r.width * r.depth / 110))
    if region == "courtyard":
        n_trees = int(rng.integers(1, 4)) if rng.random() < _prob(catalog, "tree", region) else 0
    done = False
    if bus_stop:
        for side in SIDES:
            if abs(r.side_coord(side) - site.side_coord(side)) < _EPS:
                lo, hi = r.side_span(side)
                if hi - lo > 6.0 and _along_edge(f, "bus stop", side, (lo + hi) / 2, 0.3, True, gap=0.3):
                    done = True
                    break
    _scatter(f, "tree", n_trees, margin=0.6, gap=0.4)
    n_bench = int(rng.integers(2, 5)) if region == "courtyard" else int(rng.integers(1, 4))
    for _ in range(n_bench):
        if rng.random() > _prob(catalog, "bench", region):
            continue
        side = SIDES[int(rng.integers(4))]
        lo, hi = r.side_span(side)
        if hi - lo < 4.0:
            continue
        b = _along_edge(f, "bench", side, float(rng.uniform(lo + 2.0, hi - 2.0)), 0.6, region == "lawn")
        if b is not None and rng.random() < _prob(catalog, "bin", region) + 0.2:
            _bin_beside(f, b)
    if rng.random() < _prob(catalog, "picnic table", region):
        _scatter(f, "picnic table", int(rng.integers(1, 3)), margin=1.2)
    for cat in ("bike rack", "statue", "sign", "lamp post"):
        if rng.random() < _prob(catalog, cat, region):
            _scatter(f, cat, 1 if cat != "lamp post" else 2, margin=1.0)
    return done


def _path(f: Furnisher, catalog: Catalog) -> None:
    r = f.site.rect
    rng = f.rng
    along_x = r.width >= r.depth
    length = r.width if along_x else r.depth
    n = max(1, int(length // 14.0))
    for k in range(n):
        t = (r.x0 if along_x else r.y0) + (k + 0.5) * length / n
        side = ("S", "N")[k % 2] if along_x else ("W", "E")[k % 2]
        p = _along_edge(f, "lamp post", side, t, 0.15, False, gap=0.2)
        if p is not None and rng.random() < _prob(catalog, "bin", "path") * 0.5:
            _bin_beside(f, p)
    for _ in range(2):
        if rng.random() < _prob(catalog, "bench", "path") * 0.6 and length > 10:
            side = ("S", "N")[int(rng.integers(2))] if along_x else ("W", "E")[int(rng.integers(2))]
            lo, hi = r.side_span(side)
            _along_edge(f, "bench", side, float(rng.uniform(lo + 3.0, hi - 3.0)), 0.1, False, gap=0.3)
    if rng.random() < _prob(catalog, "sign", "path"):
        side = ("S", "N")[int(rng.integers(2))] if along_x else ("W", "E")[int(rng.integers(2))]
        lo, hi = r.side_span(side)
        _along_edge(f, "sign", side, lo + 2.0 if rng.random() < 0.5 else hi - 2.0, 0.1, False, gap=0.2)


def furnish_region(f: Furnisher, catalog: Catalog, region: str, site: Rect, *, bus_stop: bool = False) -> bool:
    """Furnish one region; returns True when it received the campus's bus stop."""
    if region == "plaza":
        _plaza(f, catalog)
    elif region == "parking lot":
        _parking(f, catalog)
    elif region in ("lawn", "courtyard"):
        return _lawn(f, catalog, region, site, bus_stop)
    elif region == "path":
        _path(f, catalog)
    return False
