"""``house``: a furnished single-storey house, ``house:seed=3,rooms=6``.

Rooms (2..12) are drawn from realistic types — with at least a living room, a kitchen, a
bathroom and a bedroom from four rooms up — laid out to tile a rectangular footprint, joined
by 0.9–1.1 m doors along a random spanning tree plus extra doors, lit by windows in the outer
walls and furnished from the catalog. Every room is reachable from the start pose in the living
room and every floor object is approachable.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from pydantic import ConfigDict

from sim.catalog import load_catalog
from sim.errors import SceneSpecError
from sim.scene import Scene
from sim.types import FloorInfo
from sim.worlds import WorldType
from sim.worlds.assembly import WorldAssembler
from sim.worlds.building import add_openings, build_structure, exterior_colour, furnish_floor, plan_floor, room_infos
from sim.worlds.layout import front_door, place_windows

log = logging.getLogger(__name__)

__all__ = ["HouseConfig", "generate", "house_types", "WORLD", "WALL_HEIGHT"]

WALL_HEIGHT = 2.7
_CORE = ("living room", "kitchen", "bathroom", "bedroom")
# extra room types with (weight, most allowed in one house, counting the core rooms)
_EXTRA = {"bedroom": (3.0, 6), "dining room": (2.0, 1), "office": (1.5, 2), "hallway": (1.0, 1),
          "bathroom": (0.6, 2), "laundry room": (0.6, 1), "storage room": (0.5, 1), "gym": (0.4, 1)}


@dataclass(frozen=True, kw_only=True)
class HouseConfig:
    """Parameters of ``house:...`` specs."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    seed: int = 0
    rooms: int = 6

    def validate(self) -> None:
        """Raise ``SceneSpecError`` for room counts or seeds out of range."""
        if not 2 <= self.rooms <= 12:
            raise SceneSpecError(f"house: rooms must be between 2 and 12, got {self.rooms}")
        if self.seed < 0:
            raise SceneSpecError(f"house: seed must be zero or positive, got {self.seed}")


def house_types(n: int, rng: np.random.Generator, *, core: tuple[str, ...] = _CORE,
                extra: dict[str, tuple[float, int]] | None = None) -> list[str]:
    """Room types of an ``n``-room house: the core rooms first, then weighted extras."""
    extra = _EXTRA if extra is None else extra
    types = list(core[:n])
    names = list(extra)
    while len(types) < n:
        weights = np.array([extra[t][0] if types.count(t) < extra[t][1] else 0.0 for t in names])
        if weights.sum() <= 0:
            types.append("bedroom")
            continue
        types.append(names[int(rng.choice(len(names), p=weights / weights.sum()))])
    return types


def generate(cfg: HouseConfig) -> Scene:
    """Build the house world for ``cfg``."""
    cfg.validate()
    t_start = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    catalog = load_catalog()
    asm = WorldAssembler(catalog)
    types = house_types(cfg.rooms, rng)
    spine = cfg.rooms >= 9 or (cfg.rooms >= 7 and rng.random() < 0.5)
    if spine and "hallway" not in types:
        types[-1] = "hallway"
    plan = plan_floor(types, catalog, rng, extra_doors=1 if cfg.rooms >= 5 else 0, spine=spine)
    fd = front_door(plan, rng, ("hallway", "living room", "kitchen"), door_id=len(plan.doors))
    if fd is not None:
        plan.doors.append(fd)
    plan.windows = place_windows(plan, rng)
    build_structure(asm, plan, wall_height=WALL_HEIGHT, ceiling_height=WALL_HEIGHT,
                    exterior_colour=exterior_colour(rng))
    add_openings(asm, plan, rng)
    furnishers = furnish_floor(asm, plan, rng)
    start = None
    for t in ("living room", "hallway", "kitchen"):
        for r in plan.rooms:
            if r.type == t and start is None:
                start = furnishers[r.id].start_pose()
    if start is None:
        start = next(p for p in (f.start_pose(0.45) for f in furnishers.values()) if p is not None)
    scene = asm.scene(name=f"house-{cfg.seed}", kind="house", rooms=room_infos(plan),
                      floors=(FloorInfo(0, 0.0, WALL_HEIGHT),), start=start,
                      spec=f"house:seed={cfg.seed},rooms={cfg.rooms}",
                      meta={"generator": "house", "seed": cfg.seed, "rooms": cfg.rooms,
                            "doors": len([d for d in plan.doors if d.b >= 0]), "windows": len(plan.windows)})
    log.info("house seed=%d rooms=%d built in %.2f s", cfg.seed, cfg.rooms, time.perf_counter() - t_start)
    return scene


WORLD = WorldType("house", HouseConfig, generate, "a furnished single-storey house of 2-12 rooms")
