"""The topological graph: keyframes, traverse edges, object merging, relations, persistence."""
from __future__ import annotations

import math
from collections import Counter

import networkx as nx
import numpy as np
import pytest

from memory.perception import PerceptionConfig
from memory.perception.oracle import OraclePerceiver
from memory.summarize import RoomModel
from memory.topo_graph import NodeNotFound, NoPath, TopoGraph, TopoGraphConfig
from memory.types import Percept, Sighting
from sim import geometry
from sim.scene import Scene, SceneBuilder, SurfaceKind
from sim.simulator import SimConfig, make_simulator
from sim.types import FloorInfo, ObjectInfo, Pose, RoomInfo, SceneInfo

ROOMS = RoomModel({"bedroom": {"bed": 3.0, "nightstand": 2.0, "lamp": 1.0},
                   "dining room": {"table": 3.0, "chair": 3.0}}, {})


# --------------------------------------------------------------------------- hand-built data
def sighting(label, centre, size, *, pixels=1000, colour="", instance=None, conf=1.0):
    c = np.asarray(centre, float)
    h = np.asarray(size, float) / 2.0
    lo, hi = tuple(c - h), tuple(c + h)
    crop = np.full((8, 8, 3), min(pixels // 10, 255), np.uint8)
    return Sighting(label=label, centroid=tuple(c), bbox_min=lo, bbox_max=hi, pixels=pixels, bbox2d=(0, 0, 10, 10),
                    colour=colour, confidence=conf, depth=1.0, instance=instance, crop=crop)


def percept(pose, sightings=(), *, step=0, t=None, keyframe=True, room=""):
    return Percept(pose=pose, timestamp=float(step if t is None else t), step=step, sightings=tuple(sightings),
                   caption=f"view at step {step}", room_guess=room, room_confidence=0.9 if room else 0.0,
                   image=np.zeros((6, 8, 3), np.uint8), keyframe=keyframe)


def furnished_room() -> Scene:
    """One 6 x 5 m room: a table with four chairs, a bed between nightstands with lamps, three boxes."""
    w, d = 6.0, 5.0
    b = SceneBuilder()
    b.add_floor(0, 0, w, d, 0.0, colour=(170, 160, 150), material="wood")
    b.add_ceiling(0, 0, w, d, 2.7)
    for p0, p1 in (((0, 0), (w, 0)), ((w, 0), (w, d)), ((w, d), (0, d)), ((0, d), (0, 0))):
        b.add_wall(p0, p1, z0=0.0, height=2.7)
    objs: list[ObjectInfo] = []

    def put(cat, lo, hi, colour, rgb, mat):
        oid = len(objs) + 1
        b.add(geometry.box(lo, hi), colour=rgb, material=mat, kind=SurfaceKind.OBJECT, instance=oid)
        centre = tuple((p + q) / 2 for p, q in zip(lo, hi, strict=True))
        objs.append(ObjectInfo(oid, cat, colour, mat, 0, 0, centre, lo, hi))

    put("table", (1.4, 1.6, 0.0), (2.6, 2.4, 0.75), "brown", (120, 80, 45), "wood")
    for cx, cy in ((1.75, 1.2), (2.25, 1.2), (1.75, 2.8), (2.25, 2.8)):
        put("chair", (cx - 0.2, cy - 0.2, 0.0), (cx + 0.2, cy + 0.2, 0.9), "green", (40, 140, 60), "wood")
    put("bed", (4.0, 3.0, 0.0), (5.6, 4.95, 0.5), "red", (170, 40, 40), "fabric")
    for x in (3.5, 5.8):
        put("nightstand", (x - 0.2, 4.5, 0.0), (x + 0.2, 4.9, 0.55), "white", (235, 235, 235), "wood")
        put("lamp", (x - 0.1, 4.6, 0.55), (x + 0.1, 4.8, 0.95), "yellow", (230, 200, 40), "metal")
    for x in (3.6, 4.3, 5.0):
        put("box", (x - 0.2, 0.1, 0.0), (x + 0.2, 0.5, 0.4), "blue", (50, 80, 170), "paper")
    mesh = b.build()
    lo, hi = mesh.bounds()
    info = SceneInfo(name="furnished", kind="test",
                     rooms=(RoomInfo(0, "bedroom", 0, ((0, 0), (w, 0), (w, d), (0, d)), "room"),),
                     floors=(FloorInfo(0, 0.0, 2.7),), objects=tuple(objs),
                     bounds_min=tuple(float(v) for v in lo), bounds_max=tuple(float(v) for v in hi))
    return Scene(info, mesh, Pose(1.0, 4.0, 0.0, 0.0), ())


@pytest.fixture(scope="module")
def explored():
    """The furnished room seen from 160 random free poses: (graph, simulator, instances seen, percepts)."""
    sim = make_simulator(SimConfig(), furnished_room())
    perceiver = OraclePerceiver(PerceptionConfig(), room_model=ROOMS)
    graph = TopoGraph()
    rng = np.random.default_rng(7)
    seen: Counter = Counter()
    n = 0
    while n < 160:
        pose = Pose(float(rng.uniform(0.3, 5.7)), float(rng.uniform(0.3, 4.7)), 0.0, float(rng.uniform(-3.14, 3.14)))
        if not sim.is_free(pose):
            continue
        obs = sim.set_pose(pose)
        p = perceiver.perceive(obs)
        p = Percept(pose=p.pose, timestamp=float(n), step=n, sightings=p.sightings, caption=p.caption,
                    room_guess=p.room_guess, room_confidence=p.room_confidence, image=p.image)
        graph.add(p)
        seen.update(s.instance for s in p.sightings)
        n += 1
    yield graph, sim, seen
    sim.close()


# ------------------------------------------------------------------------------ merging
def test_objects_merge_across_views_into_one_node_each(explored):
    graph, sim, seen = explored
    table = sim.info.object_table()
    objects = graph.objects()
    assert abs(len(objects) - len(seen)) <= 0.15 * len(seen), (len(objects), len(seen))
    hints = Counter(o.instance_hint for o in objects)
    assert all(n == 1 for n in hints.values()), hints  # no object split in two
    for rec in objects:
        truth = table[rec.instance_hint]
        assert rec.label == truth.category and rec.colour == truth.colour and rec.material == truth.material
        centre = 0.5 * (np.array(truth.bbox_min) + np.array(truth.bbox_max))
        err = np.array(rec.position) - centre
        assert math.hypot(err[0], err[1]) < 0.15, (rec.id, err)
        assert np.linalg.norm(err) < 0.35, (rec.id, err)  # height suffers when the lower part is hidden
        assert rec.n_views >= 2 and rec.first_step <= rec.last_step
        assert graph.crop(rec.id) is not None and graph.crop(rec.id).shape == (64, 64, 3)
    assert len([o for o in objects if o.label == "chair"]) == 4
    assert len([o for o in objects if o.label == "box"]) == 3


def test_sees_edges_and_place_records_agree(explored):
    graph, _, _ = explored
    for place in graph.places()[:40]:
        ids = {o.id for o in graph.objects_seen_from(place.id)}
        assert ids == set(place.object_ids)
        for oid in ids:
            assert place.id in {p.id for p in graph.places_seeing(oid)}
            data = graph.graph.edges[place.id, oid, "sees"]
            assert data["pixels"] > 0 and data["distance"] >= 0
        assert graph.thumbnail(place.id).shape == (72, 96, 3)


def test_spatial_relations_found_in_the_simulated_room(explored):
    graph, _, _ = explored
    by_label = {}
    for o in graph.objects():
        by_label.setdefault(o.label, []).append(o)
    for lamp in by_label["lamp"]:
        on = [r for r in graph.relations(lamp.id) if r.kind == "on" and r.src == lamp.id]
        assert len(on) == 1 and graph.object(on[0].dst).label == "nightstand"
        assert on[0].place in {p.id for p in graph.places_seeing(lamp.id)}
    table = by_label["table"][0]
    assert any(r.kind == "next_to" and {graph.object(r.src).label, graph.object(r.dst).label} == {"table", "chair"}
               for r in graph.relations(table.id))


# ---------------------------------------------------------------------------- keyframes
def test_keyframe_rule():
    g = TopoGraph()
    chair = sighting("chair", (2.0, 0.0, 0.45), (0.4, 0.4, 0.9))
    u = g.add(percept(Pose(0, 0, 0, 0), [chair], step=0))
    assert u.place == "place/1" and u.new_objects == ("obj/chair/1",)
    assert g.add(percept(Pose(0, 0, 0, 0), [chair], step=1)).place is None
    u = g.add(percept(Pose(0.3, 0, 0, 0), [chair], step=2))
    assert u.place is None and u.updated_objects == ("obj/chair/1",)
    assert g.add(percept(Pose(0.6, 0, 0, 0), [chair], step=3)).place == "place/2"
    assert g.add(percept(Pose(0.6, 0, 0, math.radians(20)), [chair], step=4)).place is None
    assert g.add(percept(Pose(0.6, 0, 0, math.radians(35)), [chair], step=5)).place == "place/3"
    lamp = sighting("lamp", (1.0, 2.0, 0.8), (0.2, 0.2, 0.4))
    u = g.add(percept(Pose(0.6, 0, 0, math.radians(35)), [chair, lamp], step=6))
    assert u.place == "place/4" and u.new_objects == ("obj/lamp/1",)
    assert g.add(percept(Pose(3.0, 0, 0, 0), [chair], step=7, keyframe=False)).place is None
    assert g.add(percept(Pose(0.6, 0, 0, math.radians(35), floor=1), step=8)).place == "place/5"
    assert [p.step for p in g.places()] == [0, 3, 5, 6, 8]
    assert g.place("place/4").object_ids == ("obj/chair/1", "obj/lamp/1")
    assert g.object("obj/chair/1").n_views == 8 and g.object("obj/chair/1").last_step == 7
    strict = TopoGraph(TopoGraphConfig(keyframe_on_new_objects=False))
    strict.add(percept(Pose(0, 0, 0, 0), [chair], step=0))
    assert strict.add(percept(Pose(0, 0, 0, 0), [chair, lamp], step=1)).place is None


def test_traverse_edges_have_lengths_and_give_paths():
    g = TopoGraph()
    route = [(0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (1, 2), (0, 2), (0, 1), (0.1, 0.1)]
    for k, (x, y) in enumerate(route):
        g.add(percept(Pose(float(x), float(y)), step=k))
    rows = {(a, b): d for a, b, kind, d in g.edge_rows(["traverse"])}
    assert rows[("place/1", "place/2")]["length"] == pytest.approx(1.0)
    assert rows[("place/8", "place/9")]["length"] == pytest.approx(math.hypot(0.1, 0.9), abs=1e-4)
    assert rows[("place/1", "place/9")]["revisit"] is True  # back within 0.3 m of the start
    assert g.place_path("place/2", "place/8") == ["place/2", "place/1", "place/9", "place/8"]
    assert g.nearest_place(1.9, 1.2).id == "place/4"
    with pytest.raises(NodeNotFound, match="no place on floor 3"):
        g.nearest_place(0, 0, floor=3)
    g.add(percept(Pose(9.0, 9.0, 0.0, 0.0, floor=1), step=20))
    other = TopoGraph.from_snapshot([g.place("place/1"), g.place("place/10")], [], [])
    with pytest.raises(NoPath):
        other.place_path("place/1", "place/10")
    with pytest.raises(NodeNotFound, match="no place 'place/99'"):
        g.place_path("place/1", "place/99")


def test_coming_back_to_one_spot_links_only_the_nearest_places():
    # a robot turning on the spot again and again: a new place per turn, all at one position;
    # linking each to every place there grew the traverse edges with the square of the places
    g = TopoGraph()
    for k in range(60):
        g.add(percept(Pose(0.01 * (k % 3), 0.0, math.radians(40.0 * k)), step=k))
    rows = g.edge_rows(["traverse"])
    revisits = [(a, b) for a, b, _, d in rows if d.get("revisit")]
    assert len(g.places()) == 60
    assert len(rows) <= 60 * (1 + TopoGraphConfig().revisit_links)
    assert len(revisits) >= 50  # still closes the loops, through the nearest places
    assert nx.is_connected(nx.Graph([(a, b) for a, b, _, _ in rows]))


# ---------------------------------------------------------------------------- merging rules
def test_merge_needs_same_label_floor_and_nearness():
    g = TopoGraph()
    g.add(percept(Pose(0, 0), [sighting("chair", (2.0, 0.0, 0.45), (0.4, 0.4, 0.9), pixels=1000)], step=0))
    u = g.add(percept(Pose(0, 0), [sighting("chair", (2.1, 0.1, 0.45), (0.4, 0.4, 0.9), pixels=3000)], step=1))
    assert u.updated_objects == ("obj/chair/1",)
    rec = g.object("obj/chair/1")
    assert rec.position[0] == pytest.approx((2.0 * 1000 + 2.1 * 3000) / 4000)  # pixel-weighted mean
    assert rec.bbox_max[0] == pytest.approx(2.3) and rec.n_views == 2
    assert g.crop("obj/chair/1")[0, 0, 0] == 255  # the crop of the bigger sighting is kept
    u = g.add(percept(Pose(0, 0), [sighting("table", (2.0, 0.0, 0.4), (0.8, 0.8, 0.8))], step=2))
    assert u.new_objects == ("obj/table/1",)
    u = g.add(percept(Pose(0, 0), [sighting("chair", (2.9, 0.0, 0.45), (0.4, 0.4, 0.9))], step=3))
    assert u.new_objects == ("obj/chair/2",)
    upstairs = Pose(0, 0, 3.0, floor=1)
    u = g.add(percept(upstairs, [sighting("chair", (2.05, 0.0, 3.45), (0.4, 0.4, 0.9))], step=4))
    assert u.new_objects == ("obj/chair/3",) and g.object("obj/chair/3").floor == 1
    # From the stairs (already counted as floor 1) the robot sees the chair downstairs: same object.
    u = g.add(percept(upstairs, [sighting("chair", (2.05, 0.0, 0.45), (0.4, 0.4, 0.9))], step=5))
    assert u.updated_objects == ("obj/chair/1",) and g.object("obj/chair/1").floor == 0
    # Two chairs in one view are two objects even when one would merge with both.
    u = g.add(percept(Pose(0, 0), [sighting("chair", (2.2, 0.0, 0.45), (0.4, 0.4, 0.9)),
                                   sighting("chair", (2.5, 0.0, 0.45), (0.4, 0.4, 0.9))], step=6))
    assert sorted(u.updated_objects) == ["obj/chair/1", "obj/chair/2"] and not u.new_objects


def test_partial_views_of_one_object_are_fused():
    g = TopoGraph()
    u1 = g.add(percept(Pose(-1, -3, 0, math.pi / 2), [sighting("bed", (-0.85, 0, 0.25), (0.3, 2.0, 0.5))], step=0))
    u2 = g.add(percept(Pose(1, -3, 0, math.pi / 2), [sighting("bed", (0.85, 0, 0.25), (0.3, 2.0, 0.5))], step=1))
    assert u1.new_objects == ("obj/bed/1",) and u2.new_objects == ("obj/bed/2",)
    u3 = g.add(percept(Pose(0, -3.5, 0, math.pi / 2), [sighting("bed", (0, 0, 0.25), (2.0, 2.0, 0.5))], step=2))
    assert u3.removed_objects == ("obj/bed/2",) and "obj/bed/1" in u3.updated_objects
    assert [o.id for o in g.objects()] == ["obj/bed/1"]
    bed = g.object("obj/bed/1")
    assert bed.n_views == 3 and bed.bbox_min[0] == pytest.approx(-1.0) and bed.bbox_max[0] == pytest.approx(1.0)
    assert abs(bed.position[0]) < 0.3
    assert g.place("place/2").object_ids == ("obj/bed/1",)
    assert {p.id for p in g.places_seeing("obj/bed/1")} == {"place/1", "place/2", "place/3"}
    with pytest.raises(NodeNotFound):
        g.object("obj/bed/2")


# ---------------------------------------------------------------------------- relations
def test_lamp_on_nightstand_and_sides_from_the_viewpoint():
    g = TopoGraph()
    stand = sighting("nightstand", (0.0, 0.0, 0.275), (0.4, 0.4, 0.55))
    lamp = sighting("lamp", (0.0, 0.02, 0.75), (0.2, 0.2, 0.4))
    chair = sighting("chair", (-0.9, 0.0, 0.45), (0.4, 0.4, 0.9))
    table = sighting("table", (0.9, 0.0, 0.375), (0.8, 0.6, 0.75))
    far = sighting("sofa", (0.0, 6.0, 0.4), (2.0, 0.9, 0.8))
    u = g.add(percept(Pose(0, -2, 0, math.pi / 2), [stand, lamp, chair, table, far], step=0))
    ids = {g.object(i).label: i for i in u.new_objects}
    rel = {(g.object(r.src).label, r.kind, g.object(r.dst).label): r for r in u.new_relations}
    assert ("lamp", "on", "nightstand") in rel and ("nightstand", "under", "lamp") in rel
    assert rel[("lamp", "on", "nightstand")].place == "place/1"
    assert ("chair", "left_of", "table") in rel and ("table", "right_of", "chair") in rel
    assert ("chair", "right_of", "table") not in rel
    assert not any("sofa" in (a, c) for a, _, c in rel)  # too far from everything
    assert ("chair", "left_of", "nightstand") in rel
    kinds = {r.kind for r in g.relations(ids["chair"])}
    assert {"left_of", "right_of", "near"} <= kinds
    # From the other side the chair is on the right; the relation now records that place.
    u = g.add(percept(Pose(0, 2, 0, -math.pi / 2), [chair, table], step=1))
    new = {(g.object(r.src).label, r.kind, g.object(r.dst).label, r.place) for r in u.new_relations}
    gone = {(g.object(r.src).label, r.kind, g.object(r.dst).label) for r in u.removed_relations}
    assert ("chair", "right_of", "table", "place/2") in new and ("chair", "left_of", "table") in gone
    assert all(r.kind != "on" for r in u.removed_relations)  # the lamp was not in view: kept
    assert g.graph.edges[ids["chair"], ids["table"], "right_of"]["place"] == "place/2"


def test_next_to_and_above():
    g = TopoGraph()
    a = sighting("box", (0.0, 0.0, 0.2), (0.4, 0.4, 0.4))
    b = sighting("crate", (0.5, 0.0, 0.2), (0.4, 0.4, 0.4))  # 0.1 m gap
    shelf = sighting("shelf", (0.0, 0.0, 1.6), (0.6, 0.3, 0.05))  # well above the box
    u = g.add(percept(Pose(0, -2, 0, math.pi / 2), [a, b, shelf], step=0))
    rel = {(g.object(r.src).label, r.kind, g.object(r.dst).label) for r in u.new_relations}
    assert ("box", "next_to", "crate") in rel or ("crate", "next_to", "box") in rel
    assert ("shelf", "above", "box") in rel and ("box", "under", "shelf") in rel
    assert ("box", "left_of", "crate") in rel


# --------------------------------------------------------------------------- persistence
def _same_graph(a: TopoGraph, b: TopoGraph) -> None:
    assert a.places() == b.places() and a.objects() == b.objects()
    assert sorted((s, d, k, sorted(x.items())) for s, d, k, x in a.edge_rows()) == \
        sorted((s, d, k, sorted(x.items())) for s, d, k, x in b.edge_rows())
    for rec in a.objects():
        np.testing.assert_array_equal(a.crop(rec.id), b.crop(rec.id))
    for rec in a.places():
        np.testing.assert_array_equal(a.thumbnail(rec.id), b.thumbnail(rec.id))


def test_records_round_trip_through_the_persistence_hooks(explored):
    graph, _, _ = explored
    places, objects = graph.to_records()
    back = TopoGraph.from_snapshot(places, objects, graph.edge_rows(), graph.image_rows())
    _same_graph(graph, back)
    assert back.last_place == graph.last_place
    # The rebuilt graph keeps merging and numbering where the original left off.
    chair = graph.objects()[0]
    u = back.add(percept(graph.place(graph.last_place).pose,
                         [sighting(chair.label, chair.position, np.subtract(chair.bbox_max, chair.bbox_min))],
                         step=999))
    assert u.updated_objects == (chair.id,) and not u.new_objects
    u = back.add(percept(Pose(30.0, 30.0), [sighting("piano", (31, 30, 0.5), (1.5, 0.6, 1.0))], step=1000))
    assert u.place == f"place/{len(places) + 1}" and u.new_objects == ("obj/piano/1",)


def test_round_trip_through_the_memory_store(explored, tmp_path):
    from memory.store import MemoryStore

    graph, _, _ = explored
    with MemoryStore.open(tmp_path / "mem.db") as store:
        graph.write_to(store)
        store.checkpoint()
    with MemoryStore.open(tmp_path / "mem.db", readonly=True) as store:
        back = TopoGraph.load_from(store)
    _same_graph(graph, back)


def test_write_to_deletes_fused_objects_from_the_store(tmp_path):
    from memory.store import MemoryStore

    g = TopoGraph()
    g.add(percept(Pose(-1, -3, 0, math.pi / 2), [sighting("bed", (-0.85, 0, 0.25), (0.3, 2.0, 0.5))], step=0))
    g.add(percept(Pose(1, -3, 0, math.pi / 2), [sighting("bed", (0.85, 0, 0.25), (0.3, 2.0, 0.5))], step=1))
    with MemoryStore.open(tmp_path / "mem.db") as store:
        g.write_to(store)
        assert store.node_count("object") == 2
        g.add(percept(Pose(0, -3.5, 0, math.pi / 2), [sighting("bed", (0, 0, 0.25), (2.0, 2.0, 0.5))], step=2))
        g.write_to(store)
        store.checkpoint()
        snap = store.load()
    assert [o.id for o in snap.objects] == ["obj/bed/1"]
    assert all("obj/bed/2" not in (e.src, e.dst) for e in snap.edges)
    assert {e.src for e in snap.edges if e.kind == "sees"} == {"place/1", "place/2", "place/3"}


def test_a_checkpoint_writes_only_new_or_changed_images_and_rewrites_after_a_failure(tmp_path, monkeypatch):
    from memory.store import MemoryStore

    g = TopoGraph()
    g.add(percept(Pose(0, 0), [sighting("bed", (1, 0, 0.25), (2.0, 1.0, 0.5), pixels=1000)], step=0))
    written: list[tuple[str, str]] = []
    real = MemoryStore.put_image
    monkeypatch.setattr(MemoryStore, "put_image", lambda self, n, k, im: written.append((n, k)) or real(self, n, k, im))
    with MemoryStore.open(tmp_path / "mem.db") as store:
        g.write_to(store)
        store.checkpoint()
        g.images_committed(store)
        assert sorted(written) == [("obj/bed/1", "crop"), ("place/1", "thumb")]
        written.clear()
        # a new place, and a larger view of the bed (a better crop): only those two are encoded again
        g.add(percept(Pose(3, 0), [sighting("bed", (1, 0, 0.25), (2.0, 1.0, 0.5), pixels=2000)], step=1))
        g.write_to(store)
        assert sorted(written) == [("obj/bed/1", "crop"), ("place/2", "thumb")]
        written.clear()
        g.write_to(store)  # the last write was never committed (a failed checkpoint): written again
        assert sorted(written) == [("obj/bed/1", "crop"), ("place/2", "thumb")]
        store.checkpoint()
        g.images_committed(store)
        written.clear()
        g.write_to(store)
        assert written == []
    with MemoryStore.open(tmp_path / "other.db") as other:  # another store gets every image
        g.write_to(other)
        assert len(written) == 3
    with MemoryStore.open(tmp_path / "mem.db", readonly=True) as store:
        back = TopoGraph.load_from(store)
    assert np.array_equal(back.crop("obj/bed/1"), g.crop("obj/bed/1"))
