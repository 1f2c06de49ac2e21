"""The procedural worlds: determinism, truth tables, overlaps, reachability, stairs and bad specs."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sim.catalog import load_catalog
from sim.errors import SceneSpecError
from sim.loader import load_scene, world_config
from sim.navmap import NavMap
from sim.scene import Scene, SurfaceKind
from sim.spec import parse_spec
from sim.worlds import WORLDS
from sim.worlds.shapes import Style, build_object, shape_names

SPECS = {
    "house": "house:seed=3,rooms=6",
    "office": "office:seed=1",
    "multifloor": "multifloor:seed=2,floors=3",
    "campus": "campus:seed=4",
}
STRUCTURE = (SurfaceKind.FLOOR, SurfaceKind.WALL, SurfaceKind.CEILING, SurfaceKind.GROUND, SurfaceKind.ROOF)
_SCENES: dict[str, Scene] = {}
_NAVMAPS: dict[str, NavMap] = {}


def _scene(spec: str) -> Scene:
    if spec not in _SCENES:
        _SCENES[spec] = load_scene(spec)
    return _SCENES[spec]


def _navmap(spec: str) -> NavMap:
    if spec not in _NAVMAPS:
        _NAVMAPS[spec] = NavMap.from_scene(_scene(spec))
    return _NAVMAPS[spec]


@pytest.fixture(params=list(SPECS), ids=list(SPECS))
def world(request) -> tuple[str, Scene]:
    return SPECS[request.param], _scene(SPECS[request.param])


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _regenerate(spec: str) -> Scene:
    sp = parse_spec(spec)
    w, cfg = world_config(sp)
    return w.generate(cfg)


def _floor_standing(scene: Scene, catalog) -> list:
    return [o for o in scene.info.objects if catalog.category(o.category).floor_standing]


def _in_polygon(xs: np.ndarray, ys: np.ndarray, poly) -> np.ndarray:
    """Even-odd point-in-polygon for arrays of points."""
    inside = np.zeros(xs.shape, dtype=bool)
    n = len(poly)
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        if y1 == y2:
            continue
        cross = (y1 > ys) != (y2 > ys)
        xc = x1 + (ys - y1) * (x2 - x1) / (y2 - y1)
        inside ^= cross & (xs < xc)
    return inside


def _cells_near(nm: NavMap, floor: int, lo, hi, margin: float) -> tuple[slice, slice]:
    g = nm.grid(floor)
    i0, j0 = g.spec.to_cell(lo[0] - margin, lo[1] - margin)
    i1, j1 = g.spec.to_cell(hi[0] + margin, hi[1] + margin)
    return slice(max(0, i0), i1 + 1), slice(max(0, j0), j1 + 1)


# ------------------------------------------------------------------------------------ registry
def test_world_types_are_registered():
    assert {"house", "office", "multifloor", "campus", "rooms"} <= set(WORLDS.names())
    for name in SPECS:
        w = WORLDS.get(name)
        assert w.name == name and w.description


# --------------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("name", list(SPECS))
def test_same_seed_gives_identical_worlds(name):
    a, b = _scene(SPECS[name]), _regenerate(SPECS[name])
    for field in ("vertices", "triangles", "tri_instance", "tri_colour", "tri_material", "tri_kind"):
        assert np.array_equal(getattr(a.mesh, field), getattr(b.mesh, field)), field
    assert a.info.to_dict() == b.info.to_dict()
    assert a.start == b.start and a.portals == b.portals


@pytest.mark.parametrize("name", list(SPECS))
def test_different_seeds_give_different_worlds(name):
    spec = SPECS[name]
    other = spec.replace(spec.split(":")[1].split(",")[0], "seed=11")
    a, b = _scene(spec), _regenerate(other)
    same_mesh = a.mesh.n_triangles == b.mesh.n_triangles and np.array_equal(a.mesh.vertices, b.mesh.vertices)
    assert not same_mesh
    assert [o.category for o in a.info.objects] != [o.category for o in b.info.objects]


# ------------------------------------------------------------------------------- truth tables
def test_object_ids_match_instance_buffer(world, catalog):
    _, s = world
    ids = [o.id for o in s.info.objects]
    assert ids == list(range(1, len(ids) + 1))
    inst, kind = s.mesh.tri_instance, s.mesh.tri_kind
    assert set(np.unique(inst[inst > 0]).tolist()) == set(ids)  # every object has triangles
    assert np.all(inst[np.isin(kind, STRUCTURE)] == 0)
    assert np.all(np.isin(kind[inst > 0], (SurfaceKind.OBJECT, SurfaceKind.STAIRS)))
    rooms = {r.id: r for r in s.info.rooms}
    for o in s.info.objects:
        c = catalog.category(o.category)
        assert o.colour in c.colours and o.material in c.materials, o
        assert o.room_id in rooms and rooms[o.room_id].floor == o.floor, o


def test_bboxes_are_the_true_bounds_of_their_triangles(world):
    _, s = world
    v, t, inst = s.mesh.vertices, s.mesh.triangles, s.mesh.tri_instance
    order = np.argsort(inst, kind="stable")
    starts = np.searchsorted(inst[order], [o.id for o in s.info.objects])
    ends = np.searchsorted(inst[order], [o.id for o in s.info.objects], side="right")
    for o, a, b in zip(s.info.objects, starts, ends, strict=True):
        pts = v[t[order[a:b]].ravel()].astype(np.float64)
        assert np.allclose(pts.min(axis=0), o.bbox_min, atol=1e-5), o
        assert np.allclose(pts.max(axis=0), o.bbox_max, atol=1e-5), o
        assert np.allclose(o.position, (np.array(o.bbox_min) + np.array(o.bbox_max)) / 2, atol=1e-6)


def test_floor_standing_footprints_do_not_overlap(world, catalog):
    _, s = world
    objs = _floor_standing(s, catalog)
    lo = np.array([o.bbox_min[:2] for o in objs])
    hi = np.array([o.bbox_max[:2] for o in objs])
    fl = np.array([o.floor for o in objs])
    ov = ((lo[:, None, 0] < hi[None, :, 0] - 1e-6) & (lo[None, :, 0] < hi[:, None, 0] - 1e-6)
          & (lo[:, None, 1] < hi[None, :, 1] - 1e-6) & (lo[None, :, 1] < hi[:, None, 1] - 1e-6)
          & (fl[:, None] == fl[None, :]))
    np.fill_diagonal(ov, False)
    pairs = [(objs[i].category, objs[j].category) for i, j in zip(*np.nonzero(np.triu(ov)), strict=True)]
    assert not pairs, pairs


def test_small_objects_rest_on_a_support(world, catalog):
    _, s = world
    floor_objs = _floor_standing(s, catalog)
    for o in s.info.objects:
        if catalog.category(o.category).support != "surface":
            continue
        below = [p for p in floor_objs if abs(p.bbox_max[2] - o.bbox_min[2]) < 1e-4
                 and p.bbox_min[0] <= o.bbox_min[0] + 1e-6 and o.bbox_max[0] <= p.bbox_max[0] + 1e-6
                 and p.bbox_min[1] <= o.bbox_min[1] + 1e-6 and o.bbox_max[1] <= p.bbox_max[1] + 1e-6]
        assert below and below[0].category in catalog.category(o.category).placement.targets, o


def test_triangle_budget(world):
    spec, s = world
    per_object = np.bincount(s.mesh.tri_instance)[1:]
    assert per_object.max() <= 320
    assert s.mesh.n_triangles < (60_000 if spec.startswith(("house", "office")) else 90_000)


# ---------------------------------------------------------------------------- navigability
def test_every_room_is_reachable_from_the_start(world):
    spec, s = world
    nm = _navmap(spec)
    reach = nm.reachable(s.start)
    assert nm.clearance_at(s.start.x, s.start.y, s.start.floor) >= 0.4
    for r in s.info.rooms:
        g = nm.grid(r.floor)
        xs, ys = g.spec.centres()
        inside = _in_polygon(xs, ys, r.polygon)
        assert (reach[r.floor] & inside).any(), f"{r.name} (floor {r.floor}) unreachable"


def test_floor_objects_are_approachable_and_seen_by_the_navmap(world, catalog):
    spec, s = world
    nm = _navmap(spec)
    reach = nm.reachable(s.start)
    for o in _floor_standing(s, catalog):
        near = _cells_near(nm, o.floor, o.bbox_min, o.bbox_max, 0.8)
        assert reach[o.floor][near].any(), f"{o.category} {o.id} not approachable"
        inside = _cells_near(nm, o.floor, o.bbox_min, o.bbox_max, 0.0)
        assert nm.grid(o.floor).obstacle[inside].any(), f"{o.category} {o.id} invisible to the navigation raycast"


def test_free_space_lies_inside_rooms(world):
    spec, s = world
    nm = _navmap(spec)
    for f, g in nm.floors.items():
        xs, ys = g.spec.centres()
        inside = np.zeros(xs.shape, dtype=bool)
        for r in s.info.rooms:
            if r.floor == f:
                inside |= _in_polygon(xs, ys, r.polygon)
        stray = g.free & ~inside
        assert not stray.any(), f"floor {f}: {stray.sum()} free cells outside every room"


def test_navigable_area_is_substantial(world):
    spec, s = world
    area = _navmap(spec).navigable_area(s.start)
    floor_area = sum(r.area for r in s.info.rooms)
    assert 0.25 * floor_area < area < floor_area


# ------------------------------------------------------------------------------- per world
@pytest.mark.parametrize("rooms", [2, 4, 6, 9, 12])
def test_house_rooms(rooms):
    s = load_scene(f"house:seed=7,rooms={rooms}")
    types = [r.type for r in s.info.rooms]
    assert len(types) == rooms
    if rooms >= 4:
        assert {"living room", "kitchen", "bathroom", "bedroom"} <= set(types)
    assert s.info.room_at(s.start.x, s.start.y).type in ("living room", "hallway", "kitchen")
    cats = [o.category for o in s.info.objects]
    assert cats.count("window") >= 2 and "door" in cats


def test_required_objects_are_placed_in_nearly_every_room(catalog):
    wanted = placed = 0
    for seed in range(10):
        s = load_scene(f"house:seed={seed},rooms=6")
        by_room: dict[int, set[str]] = {}
        for o in s.info.objects:
            by_room.setdefault(o.room_id, set()).add(o.category)
        for r in s.info.rooms:
            rt = catalog.room_type(r.type)
            for c in rt.required:
                wanted += 1
                placed += c in by_room.get(r.id, set())
            for group in rt.any_of:
                wanted += 1
                placed += bool(set(group) & by_room.get(r.id, set()))
    assert placed / wanted >= 0.95, f"{placed}/{wanted} required objects placed"


def test_house_structure(catalog):
    s = _scene(SPECS["house"])
    kinds = s.mesh.tri_kind
    ceiling_z = s.mesh.vertices[s.mesh.triangles[kinds == SurfaceKind.CEILING]][:, :, 2]
    assert np.allclose(ceiling_z, 2.7)
    assert not s.info.outdoor and len(s.info.floors) == 1
    for o in s.info.objects:
        if o.category == "door":  # open leaves and the front door: 0.9-1.1 m doorways
            assert 0.86 <= max(o.size[0], o.size[1]) <= 1.1
    by_room: dict[int, set[str]] = {}
    for o in s.info.objects:
        by_room.setdefault(o.room_id, set()).add(o.category)
    for r in s.info.rooms:
        for c in catalog.room_type(r.type).required:
            assert c in by_room.get(r.id, set()), f"{r.name} lacks {c}"


def test_office_has_its_rooms_and_desk_clusters():
    s = _scene(SPECS["office"])
    types = {r.type for r in s.info.rooms}
    assert {"open office", "meeting room", "kitchenette", "restroom", "corridor", "reception"} <= types
    cats = [o.category for o in s.info.objects]
    assert cats.count("desk") >= 4 and cats.count("office chair") >= cats.count("desk")
    assert cats.count("monitor") >= 4
    assert {"conference table", "whiteboard", "fridge", "coffee machine", "toilet", "reception desk"} <= set(cats)
    assert s.info.room_at(s.start.x, s.start.y).type == "reception"


def test_multifloor_floors_stairs_and_portals():
    spec = SPECS["multifloor"]
    s = _scene(spec)
    nm = _navmap(spec)
    assert [(f.index, f.elevation) for f in s.info.floors] == [(0, 0.0), (1, 3.0), (2, 6.0)]
    assert len({r.id for r in s.info.rooms}) == len(s.info.rooms)
    for o in s.info.objects:
        assert s.info.floors[o.floor].elevation - 1e-6 <= o.bbox_min[2] < s.info.floors[o.floor].elevation + 3.0
    ground = {r.type for r in s.info.rooms if r.floor == 0}
    upper = {r.type for r in s.info.rooms if r.floor > 0}
    assert {"living room", "kitchen", "dining room"} <= ground and {"bedroom", "bathroom"} <= upper
    stairs = [o for o in s.info.objects if o.category == "stairs"]
    assert len(stairs) == 2 and len(s.portals) == 2
    assert np.any(s.mesh.tri_kind == SurfaceKind.STAIRS)
    reach = nm.reachable(s.start)
    for p, st in zip(s.portals, stairs, strict=True):
        assert p.kind == "stairs" and p.floor_b == p.floor_a + 1
        for f, (x, y) in ((p.floor_a, p.a), (p.floor_b, p.b)):
            assert nm.is_free(x, y, f)
            i, j = nm.grid(f).spec.to_cell(x, y)
            assert reach[f][i, j]
        # a hole in the floor above the flight, steps visible from below
        g = nm.grid(st.floor + 1)
        i, j = g.spec.to_cell(st.position[0], st.position[1])
        assert not g.has_floor[i, j]
        under = nm.grid(st.floor).obstacle[_cells_near(nm, st.floor, st.bbox_min, st.bbox_max, -0.05)]
        assert under.all()


def test_campus_is_outdoor_with_regions_and_street_furniture():
    s = _scene(SPECS["campus"])
    assert s.info.outdoor
    kinds = s.mesh.tri_kind
    assert not np.any(kinds == SurfaceKind.CEILING)
    assert np.any(kinds == SurfaceKind.GROUND) and np.any(kinds == SurfaceKind.ROOF)
    types = {r.type for r in s.info.rooms}
    assert {"plaza", "lawn", "parking lot", "path"} <= types
    cats = [o.category for o in s.info.objects]
    for c in ("fountain", "car", "tree", "bench", "bin", "lamp post", "window", "door", "bus stop"):
        assert c in cats, c
    assert s.info.room_at(s.start.x, s.start.y).type == "plaza"


# ----------------------------------------------------------------------------------- shapes
def test_every_category_has_a_shape_that_stays_in_its_box(catalog):
    assert set(catalog.categories) <= set(shape_names())
    style = Style((200, 30, 30), (30, 30, 200), "wood")
    for c in catalog.categories.values():
        for size in (c.size.minimum, (c.size.w[1], c.size.w[1] if c.square else c.size.d[1], c.size.h[1])):
            yaw = math.pi / 2
            pieces = build_object(c.name, size, style, yaw=yaw, position=(1.0, 2.0, 0.5))
            v = np.vstack([p.part[0] for p in pieces])
            w, d, h = size
            assert v[:, 0].min() >= 1.0 - w / 2 - 1e-9 and v[:, 0].max() <= 1.0 + w / 2 + 1e-9, c.name
            assert v[:, 1].min() >= 2.0 - d / 2 - 1e-9 and v[:, 1].max() <= 2.0 + d / 2 + 1e-9, c.name
            assert v[:, 2].min() >= 0.5 - 1e-9 and v[:, 2].max() <= 0.5 + h + 1e-9, c.name
            assert sum(len(p.part[1]) for p in pieces) <= 320, c.name


# ------------------------------------------------------------------------------- bad specs
@pytest.mark.parametrize("spec, message", [
    ("house:rooms=0", "rooms must be between 2 and 12"),
    ("house:rooms=1000", "rooms must be between 2 and 12"),
    ("house:seed=-1", "seed must be zero or positive"),
    ("multifloor:floors=7", "floors must be 2 or 3"),
    ("multifloor:rooms=20", "between 3 and 8"),
    ("office:width=-3", "width must be between 14 and 40"),
    ("office:depth=500", "depth must be between 11 and 30"),
    ("campus:width=-3", "width must be between 50 and 160"),
    ("house:colour=red", "unknown key 'colour'"),
    ("campus:seed=abc", "seed must be an integer"),
    ("castle:seed=1", "unknown world type 'castle'"),
    # issue 14: 'rooms:n=3.5' used to say "unsupported scene file" (its '.5' read as a file suffix)
    ("rooms:n=3.5", r"bad scene spec 'rooms:n=3\.5': n must be an integer, got 3\.5"),
    ("office:width=nan", "width must be a number, got 'nan'"),
    ("office:width=1e999", "width must be a number, got '1e999'"),
    ("house.5", "unsupported scene file 'house.5'"),
])
def test_bad_specs_raise_clear_errors(spec, message):
    with pytest.raises(SceneSpecError, match=message):
        load_scene(spec)
