"""``office``: an office floor, ``office:seed=1`` (optional ``width=24,depth=16`` in metres).

A band of enclosed rooms (meeting rooms, restrooms, a kitchenette, private offices, a storage
room) lines one long side, opening onto a corridor; the rest of the floor is an open-plan area
with desk clusters (desks facing each other, an office chair and a monitor at each) and a
reception by the entrance. Wide openings join the corridor, the open plan and the reception.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from pydantic import ConfigDict

from sim.catalog import Catalog, load_catalog
from sim.errors import SceneSpecError
from sim.scene import Scene
from sim.types import FloorInfo
from sim.worlds import WorldType
from sim.worlds.assembly import WorldAssembler, pick_look
from sim.worlds.building import (
    add_openings,
    build_structure,
    exterior_colour,
    finish_room,
    name_rooms,
    room_infos,
    room_sites,
)
from sim.worlds.fill import fill_room, place_on_top
from sim.worlds.furnish import Furnisher
from sim.worlds.layout import Door, Edge, FloorPlan, Rect, RoomPlan, front_door, place_doors, place_windows

log = logging.getLogger(__name__)

__all__ = ["OfficeConfig", "generate", "WORLD", "WALL_HEIGHT"]

WALL_HEIGHT = 3.0
_BAND = {"meeting room": (4.0, 6.0), "restroom": (2.6, 3.2), "kitchenette": (3.6, 5.0), "office": (3.0, 4.0),
         "storage room": (2.4, 3.0)}


@dataclass(frozen=True, kw_only=True)
class OfficeConfig:
    """Parameters of ``office:...`` specs; ``width`` and ``depth`` are the floor's outer size in metres."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    seed: int = 0
    width: float = 24.0
    depth: float = 16.0

    def validate(self) -> None:
        """Raise ``SceneSpecError`` for sizes or seeds out of range."""
        if not 14.0 <= self.width <= 40.0:
            raise SceneSpecError(f"office: width must be between 14 and 40 metres, got {self.width}")
        if not 11.0 <= self.depth <= 30.0:
            raise SceneSpecError(f"office: depth must be between 11 and 30 metres, got {self.depth}")
        if self.seed < 0:
            raise SceneSpecError(f"office: seed must be zero or positive, got {self.seed}")


def _band_types(width: float, rng: np.random.Generator) -> list[tuple[str, float]]:
    """Enclosed rooms along the band with their widths, scaled to fill ``width`` exactly."""
    types = ["meeting room", "restroom", "restroom", "kitchenette"]
    pool = ["meeting room", "office", "office", "storage room", "meeting room", "office"]
    widths = [float(rng.uniform(*_BAND[t])) for t in types]
    k = 0
    while sum(widths) + _BAND[pool[k % len(pool)]][0] < width - 1.0 and k < 12:
        t = pool[int(rng.integers(len(pool)))]
        types.append(t)
        widths.append(float(rng.uniform(*_BAND[t])))
        k += 1
    order = [int(i) for i in rng.permutation(len(types))]
    # keep the two restrooms side by side
    rest = [i for i in order if types[i] == "restroom"]
    order = [i for i in order if types[i] != "restroom"]
    pos = int(rng.integers(len(order) + 1))
    order[pos:pos] = rest
    scale = width / sum(widths)
    out = []
    x = 0.0
    for n, i in enumerate(order):
        w = widths[i] * scale if n < len(order) - 1 else width - x
        w = round(w * 20) / 20 if n < len(order) - 1 else round(w, 3)
        out.append((types[i], w))
        x += w
    return out


def _layout(cfg: OfficeConfig, catalog: Catalog, rng: np.random.Generator) -> FloorPlan:
    W, D = round(cfg.width * 20) / 20, round(cfg.depth * 20) / 20
    band_d = round(float(rng.uniform(4.2, 5.4)) * 20) / 20
    corr_w = round(float(rng.uniform(1.8, 2.2)) * 20) / 20
    rec_w = round(float(rng.uniform(5.0, 7.0)) * 20) / 20
    y_corr = D - band_d - corr_w
    rooms: list[RoomPlan] = []
    x = 0.0
    for t, w in _band_types(W, rng):
        rooms.append(RoomPlan(len(rooms), t, Rect(x, D - band_d, min(W, x + w), D)))
        x += w
    corridor = RoomPlan(len(rooms), "corridor", Rect(0.0, y_corr, W, D - band_d))
    west = rng.random() < 0.5
    rec_rect = Rect(0.0, 0.0, rec_w, y_corr) if west else Rect(W - rec_w, 0.0, W, y_corr)
    open_rect = Rect(rec_w, 0.0, W, y_corr) if west else Rect(0.0, 0.0, W - rec_w, y_corr)
    reception = RoomPlan(len(rooms) + 1, "reception", rec_rect)
    open_plan = RoomPlan(len(rooms) + 2, "open office", open_rect)
    rooms += [corridor, reception, open_plan]
    plan = FloorPlan(Rect(0.0, 0.0, W, D), rooms)
    for r in rooms:
        finish_room(r, catalog, rng)
    name_rooms(rooms)
    band_edges = [Edge(r.id, corridor.id, "x", r.rect.y0, r.rect.x0, r.rect.x1) for r in rooms[:corridor.id]]
    plan.doors = place_doors(plan, band_edges, rng)
    wide: list[Door] = []

    def opening(a: int, b: int, axis: str, coord: float, t0: float, w: float) -> None:
        wide.append(Door(len(plan.doors) + len(wide), a, b, axis, coord, round(t0, 3), round(t0 + w, 3)))

    lo, hi = open_rect.x0, open_rect.x1
    n = 2 if hi - lo > 12 else 1
    for k in range(n):
        c = lo + (k + 0.5) * (hi - lo) / n + float(rng.uniform(-1.0, 1.0))
        opening(open_plan.id, corridor.id, "x", y_corr, c - 1.1, 2.2)
    opening(reception.id, corridor.id, "x", y_corr, rec_rect.cx - 0.9, 1.8)
    x_rec = rec_rect.x1 if west else rec_rect.x0
    yc = float(rng.uniform(1.6, max(1.7, y_corr - 1.6)))
    opening(reception.id, open_plan.id, "y", x_rec, yc - 1.2, 2.4)
    plan.doors += wide
    fd = front_door(plan, rng, ("reception",), door_id=len(plan.doors))
    if fd is not None:
        plan.doors.append(fd)
    plan.windows = place_windows(plan, rng)
    return plan


def _desk_clusters(f: Furnisher, catalog: Catalog, rng: np.random.Generator) -> int:
    """Rows of desk clusters: desks back to back, a chair at each, aisles between clusters."""
    r = f.site.rect
    dw = round(float(rng.uniform(1.2, 1.5)), 2)
    dd = round(float(rng.uniform(0.65, 0.75)), 2)
    dh = 0.74
    cw = 0.6
    gap = 0.08
    per = int(rng.integers(2, 4))
    cl_w = per * dw + (per - 1) * 0.02
    cl_d = 2 * (dd + gap + cw) + 0.02
    aisle = 1.5
    nx = int((r.width - 2.0 + aisle) // (cl_w + aisle))
    ny = int((r.depth - 2.0 + aisle) // (cl_d + aisle))
    if nx <= 0 or ny <= 0:
        return 0
    x0 = r.x0 + (r.width - (nx * cl_w + (nx - 1) * aisle)) / 2
    y0 = r.y0 + (r.depth - (ny * cl_d + (ny - 1) * aisle)) / 2
    desk_look = pick_look(catalog, "desk", rng)
    placed = 0
    for i in range(ny):
        for j in range(nx):
            chair_look = pick_look(catalog, "office chair", rng)
            cx0 = x0 + j * (cl_w + aisle)
            yc = y0 + i * (cl_d + aisle) + cl_d / 2
            specs = []
            for k in range(per):
                xc = cx0 + k * (dw + 0.02) + dw / 2
                for sgn in (-1.0, 1.0):  # desk backs meet on the centre line, chairs face them
                    yd = yc + sgn * (0.01 + dd / 2)
                    specs.append(("desk", (dw, dd, dh), xc, yd, sgn * math.pi / 2, desk_look, None))
                    yc_ch = yc + sgn * (0.01 + dd + gap + cw / 2)
                    specs.append(("office chair", (cw, cw, 1.0), xc, yc_ch, -sgn * math.pi / 2, chair_look, None))
            group = f.try_group(specs, gap=0.1, inner_gap=0.01)
            if group is None and per > 2:
                group = f.try_group([s for s in specs if abs(s[2] - cx0 - (per - 0.5) * (dw + 0.02)) > dw], gap=0.1,
                                    inner_gap=0.01)
            if group is not None:
                placed += sum(1 for p in group if p.category == "desk")
    for _ in range(placed):
        place_on_top(f, catalog.category("monitor"), rng)
    return placed


def generate(cfg: OfficeConfig) -> Scene:
    """Build the office world for ``cfg``."""
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    catalog = load_catalog()
    asm = WorldAssembler(catalog)
    plan = _layout(cfg, catalog, rng)
    build_structure(asm, plan, wall_height=WALL_HEIGHT, ceiling_height=WALL_HEIGHT,
                    exterior_colour=exterior_colour(rng))
    add_openings(asm, plan, rng)
    start = None
    desks = 0
    for site in room_sites(plan):
        f = Furnisher(site, asm, rng)
        if site.type == "open office":
            desks = _desk_clusters(f, catalog, rng)
            fill_room(f, catalog, site.type, exclude=("desk", "office chair", "monitor"))
        else:
            fill_room(f, catalog, site.type)
        if site.type == "reception":
            start = f.start_pose()
    if start is None:
        raise SceneSpecError(f"office: seed {cfg.seed} produced no free start pose")
    return asm.scene(name=f"office-{cfg.seed}", kind="office", rooms=room_infos(plan),
                     floors=(FloorInfo(0, 0.0, WALL_HEIGHT),), start=start,
                     spec=f"office:seed={cfg.seed},width={cfg.width:g},depth={cfg.depth:g}",
                     meta={"generator": "office", "seed": cfg.seed, "desks": desks})


WORLD = WorldType("office", OfficeConfig, generate,
                  "an office floor: open plan with desk clusters, meeting rooms, kitchenette, restrooms, reception")
