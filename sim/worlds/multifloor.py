"""``multifloor``: a house of 2-3 storeys joined by stairs, ``multifloor:seed=2,floors=2``.

Every storey shares one footprint. A stairwell in the south-west corner holds one straight
flight per pair of floors, side by side (a flight climbs north on even floors and south on odd
ones, so each arrives on a landing clear of the next one's foot), next to a 1.2 m walkway that
every door of the stairwell opens onto. The floor above a flight has a hole with a railing, the
ceiling below it too. A ``Portal(kind="stairs")`` per flight joins a free spot at its foot to a
free spot on its landing. Living room, kitchen and dining room are on the ground floor with an
entrance hall; bedrooms, a bathroom and a study are upstairs. Floor ``f`` stands at ``3.0 f`` m.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from pydantic import ConfigDict

from sim import geometry
from sim.catalog import load_catalog
from sim.errors import SceneSpecError
from sim.scene import Portal, Scene, SurfaceKind
from sim.types import FloorInfo, RoomInfo
from sim.worlds import WorldType
from sim.worlds.assembly import WorldAssembler, pick_look
from sim.worlds.building import (
    CEILING_RGB,
    SiteExtras,
    add_openings,
    build_structure,
    exterior_colour,
    furnish_floor,
    plan_floor,
    room_infos,
)
from sim.worlds.house import house_types
from sim.worlds.layout import FloorPlan, LayoutError, Rect, RoomPlan, front_door, place_windows

log = logging.getLogger(__name__)

__all__ = ["MultifloorConfig", "generate", "WORLD", "STOREY", "CEILING"]

STOREY = 3.0
CEILING = 2.7
WALL = STOREY - 0.01  # walls stop just under the next floor's surface
FLIGHT_W = 1.0  # width of a stair column
WALKWAY = 1.2
RISERS = 15
GOING = 0.24
FOOT = 1.0  # free zone before the first step
# the stairs portal at a foot sits this close to the first step, so that a robot crossing the foot
# zone (from the landing of the flight below, in the next column) can pass beside its disc
FOOT_SPOT = 0.3
LANDING = 1.14  # free zone beyond the last step
_GROUND = ("living room", "kitchen", "dining room")
_GROUND_EXTRA = {"office": (1.5, 1), "bathroom": (1.2, 1), "laundry room": (0.8, 1), "storage room": (0.6, 1),
                 "gym": (0.5, 1), "bedroom": (0.6, 1)}
_UPPER = ("bedroom", "bedroom", "office")
_UPPER_EXTRA = {"bedroom": (2.5, 4), "office": (1.5, 1), "bathroom": (0.7, 2), "storage room": (0.5, 1),
                "laundry room": (0.5, 1), "gym": (0.4, 1)}


@dataclass(frozen=True, kw_only=True)
class MultifloorConfig:
    """Parameters of ``multifloor:...`` specs (``rooms`` per storey, besides the stairwell and hall)."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    seed: int = 0
    floors: int = 2
    rooms: int = 4

    def validate(self) -> None:
        """Raise ``SceneSpecError`` for counts or seeds out of range."""
        if not 2 <= self.floors <= 3:
            raise SceneSpecError(f"multifloor: floors must be 2 or 3, got {self.floors}")
        if not 3 <= self.rooms <= 8:
            raise SceneSpecError(f"multifloor: rooms (per floor) must be between 3 and 8, got {self.rooms}")
        if self.seed < 0:
            raise SceneSpecError(f"multifloor: seed must be zero or positive, got {self.seed}")


@dataclass(frozen=True)
class _Flight:
    """The straight flight from floor ``lower`` to ``lower + 1`` in stair column ``lower``."""

    lower: int
    rect: Rect  # footprint of the steps (also the hole in the floor above)
    north: bool  # climbing towards +y
    foot: tuple[float, float]
    landing: tuple[float, float]


def _flights(n_floors: int, inner: Rect) -> list[_Flight]:
    run = (RISERS - 1) * GOING
    out = []
    for k in range(n_floors - 1):
        x0 = inner.x0 + k * FLIGHT_W + 0.01
        x1 = x0 + FLIGHT_W - 0.02
        cx = (x0 + x1) / 2
        if k % 2 == 0:
            rect = Rect(x0, inner.y0 + FOOT, x1, inner.y0 + FOOT + run)
            foot, landing = (cx, rect.y0 - FOOT_SPOT), (cx, rect.y1 + (inner.y1 - rect.y1) / 2)
        else:
            rect = Rect(x0, inner.y1 - FOOT - run, x1, inner.y1 - FOOT)
            foot, landing = (cx, rect.y1 + FOOT_SPOT), (cx, inner.y0 + (rect.y0 - inner.y0) / 2)
        out.append(_Flight(k, rect, k % 2 == 0, foot, landing))
    return out


def _zone(spot: tuple[float, float], flight: Rect) -> Rect:
    """The free zone (a column wide, 0.9 m deep) around a stair foot or landing spot."""
    return Rect(flight.x0, spot[1] - 0.45, flight.x1, spot[1] + 0.45)


def _railings(asm: WorldAssembler, fl: _Flight, z: float, inner: Rect) -> list[Rect]:
    """Railings around the hole of ``fl`` on the floor above, except at the arrival end and along walls."""
    h = fl.rect
    t = 0.05
    rails = []
    if h.x0 > inner.x0 + 0.05:
        rails.append(Rect(h.x0 - t, h.y0, h.x0, h.y1))
    rails.append(Rect(h.x1, h.y0, h.x1 + t, h.y1))
    rails.append(Rect(h.x0 - (t if h.x0 > inner.x0 + 0.05 else 0.0), h.y0 - t, h.x1 + t, h.y0) if fl.north
                 else Rect(h.x0 - (t if h.x0 > inner.x0 + 0.05 else 0.0), h.y1, h.x1 + t, h.y1 + t))
    for r in rails:
        asm.add_structure(geometry.box((r.x0, r.y0, z), (r.x1, r.y1, z + 1.0)), colour=(90, 60, 40), material="wood",
                          kind=SurfaceKind.WALL)
    return rails


def _rims(asm: WorldAssembler, hole: Rect, z_ceiling: float, z_floor: float) -> None:
    """Close the gap between a ceiling and the floor above around a stair hole."""
    t = 0.02
    for lo, hi in (((hole.x0 - t, hole.y0 - t), (hole.x1 + t, hole.y0)),
                   ((hole.x0 - t, hole.y1), (hole.x1 + t, hole.y1 + t)),
                   ((hole.x0 - t, hole.y0), (hole.x0, hole.y1)),
                   ((hole.x1, hole.y0), (hole.x1 + t, hole.y1))):
        asm.add_structure(geometry.box((lo[0], lo[1], z_ceiling), (hi[0], hi[1], z_floor - 0.001)), colour=CEILING_RGB,
                          kind=SurfaceKind.WALL)


def generate(cfg: MultifloorConfig) -> Scene:
    """Build the multi-storey house for ``cfg``."""
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    catalog = load_catalog()
    asm = WorldAssembler(catalog)
    nf = cfg.floors
    sw = 2 * 0.05 + (nf - 1) * FLIGHT_W + WALKWAY
    ls = round((0.1 + FOOT + (RISERS - 1) * GOING + LANDING) * 20) / 20
    floor_types = [house_types(cfg.rooms, rng, core=_GROUND, extra=_GROUND_EXTRA)]
    for _ in range(1, nf):
        floor_types.append(house_types(cfg.rooms, rng, core=_UPPER, extra=_UPPER_EXTRA))
    area = max(sum(catalog.room_type(t).sample_area(rng) for t in ts) for ts in floor_types)
    aspect = float(rng.uniform(1.0, 1.3))
    well = Rect(0.0, 0.0, sw, ls)
    inner = well.shrink(0.05)
    flights = _flights(nf, inner)
    plans: list[FloorPlan] = []
    for attempt in range(8):  # grow the footprint until every storey's rooms fit
        a = area * 1.12 ** attempt
        depth = round(float(np.clip(math.sqrt(a / aspect), ls + 2.6, 14.0)) * 20) / 20
        width = round((sw + max(a / depth, 4.0)) * 20) / 20
        footprint = Rect(0.0, 0.0, width, depth)
        hall_rect = Rect(0.0, ls, sw, depth)
        try:
            plans = []
            next_id = 0
            for f in range(nf):
                hall_type = "hallway" if f == 0 else "bathroom"
                fixed = [RoomPlan(0, "stairwell", well, f), RoomPlan(0, hall_type, hall_rect, f)]
                plans.append(plan_floor(floor_types[f], catalog, rng, floor=f, elevation=f * STOREY,
                                        first_room_id=next_id, footprint=footprint, fixed=fixed, extra_doors=1,
                                        tries=12))
                next_id += len(plans[-1].rooms)
            break
        except LayoutError as e:
            log.debug("multifloor: footprint %.1f x %.1f too small (%s)", width, depth, e)
            plans = []
    if not plans:
        raise LayoutError(f"multifloor: no floor plans for seed {cfg.seed}")
    ext = exterior_colour(rng)
    door_look = pick_look(catalog, "door", rng)
    rooms: list[RoomInfo] = []
    start = None
    for f, plan in enumerate(plans):
        z = f * STOREY
        well_id = plan.rooms[0].id
        if f == 0:
            fd = front_door(plan, rng, ("hallway", "living room"), door_id=len(plan.doors))
            if fd is not None:
                plan.doors.append(fd)
        plan.windows = place_windows(plan, rng)
        up = [fl for fl in flights if fl.lower == f]
        down = [fl for fl in flights if fl.lower == f - 1]
        build_structure(asm, plan, wall_height=WALL, ceiling_height=CEILING, exterior_colour=ext,
                        floor_holes=tuple(fl.rect for fl in down), ceiling_holes=tuple(fl.rect for fl in up))
        add_openings(asm, plan, rng, door_look=door_look)
        extras = SiteExtras()
        stairs_look = pick_look(catalog, "stairs", rng)
        for fl in up:
            r = fl.rect
            asm.add_object("stairs", (r.width, r.depth, STOREY), x=r.cx, y=r.cy, z=z,
                           yaw=math.pi / 2 if fl.north else -math.pi / 2, look=stairs_look, room_id=well_id,
                           floor=f, kind=SurfaceKind.STAIRS)
            extras.blocked.append(r)
            extras.anchors.append(fl.foot)
            extras.keepout.append(_zone(fl.foot, r))
            _rims(asm, r, z + CEILING, z + STOREY)
        for fl in down:
            extras.blocked += [fl.rect] + _railings(asm, fl, z, inner)
            extras.anchors.append(fl.landing)
            extras.keepout.append(_zone(fl.landing, fl.rect))
        furnishers = furnish_floor(asm, plan, rng, extras={well_id: extras})
        if f == 0:
            for t in ("living room", "hallway", "kitchen"):
                for r in plan.rooms:
                    if r.type == t and start is None:
                        start = furnishers[r.id].start_pose()
        rooms += room_infos(plan)
    if start is None:
        raise SceneSpecError(f"multifloor: seed {cfg.seed} produced no free start pose")
    portals = [Portal(k, "stairs", fl.lower, fl.foot, math.pi / 2 if fl.north else -math.pi / 2, fl.lower + 1,
                      fl.landing, math.pi / 2 if fl.north else -math.pi / 2) for k, fl in enumerate(flights)]
    floors = tuple(FloorInfo(f, f * STOREY, CEILING) for f in range(nf))
    return asm.scene(name=f"multifloor-{cfg.seed}", kind="multifloor", rooms=rooms, floors=floors, start=start,
                     portals=portals, spec=f"multifloor:seed={cfg.seed},floors={nf},rooms={cfg.rooms}",
                     meta={"generator": "multifloor", "seed": cfg.seed, "floors": nf, "rooms": cfg.rooms})


WORLD = WorldType("multifloor", MultifloorConfig, generate,
                  "a 2-3 storey furnished house with a stairwell and stairs portals between floors")
