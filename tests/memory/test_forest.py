"""Semantic forest: incremental insertion, region repair, batch build, persistence."""
from __future__ import annotations

import numpy as np
import pytest

from memory.forest import ForestConfig, SemanticForest
from memory.summarize import ExtractiveSummariser, RoomModel
from memory.types import Leaf, NodeKind


class StripRegions:
    """Rooms are vertical strips of width 4 m along x (region = strip index), per floor."""

    def __init__(self, width: float = 4.0, version: int = 1) -> None:
        self.width = width
        self.version = version

    def region_of(self, x: float, y: float, floor: int) -> int | None:
        return floor * 100 + int(x // self.width)


def _unit(rng, d=16):
    v = rng.normal(size=d)
    return (v / np.linalg.norm(v)).astype(np.float32)


def _leaves(n=120, seed=0, floors=(0,), xmax=12.0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        f = floors[i % len(floors)]
        x, y = rng.uniform(0.1, xmax - 0.1), rng.uniform(0.1, 4.0)
        label = ("bed", "chair", "sofa")[int(x // 4.0) % 3]
        out.append(Leaf(f"obj/{label}/{i}", NodeKind.OBJECT, (x, y, 0.5), f, f"a {label}", label, float(i),
                        _unit(rng)))
    return out


def _partition(forest: SemanticForest, level: int) -> dict[str, str]:
    """leaf id -> id of its ancestor at ``level``."""
    out = {}
    for c in forest.clusters(level):
        for lid in forest.leaves_under(c.id):
            out[lid] = c.id
    return out


def _same_grouping(a: dict[str, str], b: dict[str, str]) -> bool:
    """Two partitions of the same leaves are equal up to cluster names."""
    pairs = {(a[k], b[k]) for k in a}
    return len(pairs) == len(set(a.values())) == len(set(b.values()))


def test_leaves_join_nearby_areas_and_floors_never_mix():
    forest = SemanticForest(ForestConfig(area_radius=1.5))
    leaves = _leaves(200, floors=(0, 1))
    for lf in leaves:
        forest.insert(lf)
    forest.refresh()
    counts = forest.level_counts()
    assert counts[0] == 200 and counts[3] == 2 and counts[4] == 1
    for area in forest.clusters(1):
        members = [forest.leaf(i) for i in forest.leaves_under(area.id)]
        assert {m.floor for m in members} == {area.floor}
        cx, cy = area.position[0], area.position[1]
        # every leaf joined within the radius of the area's centroid at the time; after later
        # joins it stays within twice the radius
        assert max(np.hypot(m.position[0] - cx, m.position[1] - cy) for m in members) <= 3.0
    for room in forest.clusters(2):
        assert {forest.leaf(i).floor for i in forest.leaves_under(room.id)} == {room.floor}


def test_regions_separate_rooms():
    forest = SemanticForest(regions=StripRegions())
    for lf in _leaves(150):
        forest.insert(lf)
    forest.refresh()
    rooms = forest.clusters(2)
    assert len(rooms) == 3
    for room in rooms:
        strips = {int(forest.leaf(i).position[0] // 4.0) for i in forest.leaves_under(room.id)}
        assert len(strips) == 1


def test_refresh_summarises_only_dirty_clusters():
    forest = SemanticForest(regions=StripRegions())
    leaves = _leaves(90)
    for lf in leaves[:60]:
        forest.insert(lf)
    forest.refresh()
    assert forest.dirty == set()
    new = Leaf("obj/bed/new", NodeKind.OBJECT, (1.0, 1.0, 0.5), 0, "a bed", "bed", 100.0,
               _unit(np.random.default_rng(5)))
    area = forest.insert(new)
    expected = {area, *forest.ancestors(area)}
    assert forest.dirty == expected
    rep = forest.refresh()
    assert set(rep.summarised) == expected


def test_region_repair_moves_only_what_changed():
    # at first the robot's map has not split the two rooms: one region for everything
    class One:
        version = 1

        def region_of(self, x, y, floor):
            return 7

    forest = SemanticForest(regions=One())
    leaves = _leaves(100, xmax=8.0)
    for lf in leaves:
        forest.insert(lf)
    forest.refresh()
    assert len(forest.clusters(2)) == 1
    forest.set_regions(StripRegions(version=2))
    rep = forest.refresh()
    assert rep.moved_leaves > 0
    rooms = forest.clusters(2)
    assert len(rooms) == 2
    for room in rooms:
        strips = {int(forest.leaf(i).position[0] // 4.0) for i in forest.leaves_under(room.id)}
        assert len(strips) == 1
    # a second refresh with the same map changes nothing
    again = forest.refresh()
    assert again.moved_leaves == 0 and again.summarised == []


def test_incremental_and_batch_agree_on_rooms_and_floors():
    leaves = _leaves(160, seed=3, floors=(0, 1))
    inc = SemanticForest(regions=StripRegions())
    for lf in leaves:  # exploration order
        inc.insert(lf)
    inc.refresh()
    batch = SemanticForest(regions=StripRegions())
    batch.build(list(reversed(leaves)))
    assert _same_grouping(_partition(inc, 2), _partition(batch, 2))
    assert _same_grouping(_partition(inc, 3), _partition(batch, 3))


def test_update_moves_a_leaf_that_left_its_area():
    forest = SemanticForest(ForestConfig(area_radius=1.0))
    rng = np.random.default_rng(1)
    a = Leaf("obj/chair/1", NodeKind.OBJECT, (0.0, 0.0, 0.5), 0, "a chair", "chair", 0.0, _unit(rng))
    b = Leaf("obj/chair/2", NodeKind.OBJECT, (0.3, 0.0, 0.5), 0, "a chair", "chair", 1.0, _unit(rng))
    forest.insert(a)
    forest.insert(b)
    assert forest.parent(a.id) == forest.parent(b.id)
    moved = Leaf(b.id, b.kind, (5.0, 0.0, 0.5), 0, b.text, b.label, 2.0, b.vector)
    forest.update(moved)
    assert forest.parent(a.id) != forest.parent(b.id)
    forest.refresh()
    assert forest.level_counts()[1] == 2


def test_remove_prunes_empty_clusters():
    forest = SemanticForest()
    leaves = _leaves(10, xmax=2.0)
    for lf in leaves:
        forest.insert(lf)
    forest.refresh()
    for lf in leaves:
        forest.remove(lf.id)
    rep = forest.refresh()
    assert forest.level_counts() == {0: 0}
    assert rep.removed


def test_records_round_trip():
    forest = SemanticForest(regions=StripRegions())
    leaves = _leaves(80, floors=(0, 1))
    for lf in leaves:
        forest.insert(lf)
    forest.refresh()
    recs, pairs = forest.to_records()
    back = SemanticForest.from_records(leaves, recs, pairs)
    assert back.level_counts() == forest.level_counts()
    for r in recs:
        assert back.cluster(r.id) == r
        assert back.children(r.id) == forest.children(r.id)
    for lf in leaves:
        assert back.ancestors(lf.id) == forest.ancestors(lf.id)
    # the restored forest keeps growing with fresh ids
    extra = Leaf("obj/bed/x", NodeKind.OBJECT, (30.0, 30.0, 0.5), 0, "a bed", "bed", 9.0, leaves[0].vector)
    back.insert(extra)
    back.refresh()
    ids = [c.id for c in back.clusters()]
    assert len(ids) == len(set(ids))


MODEL = RoomModel(
    weights={
        "bedroom": {"bed": 5, "nightstand": 3, "wardrobe": 2, "lamp": 1},
        "kitchen": {"fridge": 5, "stove": 5, "sink": 3, "table": 1, "chair": 1},
        "bathroom": {"toilet": 5, "sink": 3, "bathtub": 3},
        "hallway": {"coat rack": 2, "cabinet": 1},
        "lawn": {"tree": 3, "bench": 2},
    },
    volumes={"bed": 1.2, "nightstand": 0.1, "wardrobe": 1.5, "lamp": 0.02, "fridge": 1.0, "stove": 0.5,
             "sink": 0.2, "table": 0.6, "chair": 0.2, "toilet": 0.2, "bathtub": 1.0, "coat rack": 0.1,
             "cabinet": 0.4, "tree": 5.0, "bench": 0.6},
    outdoor_types=frozenset({"lawn"}),
)


def test_room_model_infers_room_types():
    assert MODEL.infer({"bed": 1, "nightstand": 2, "lamp": 1})[0] == "bedroom"
    assert MODEL.infer({"fridge": 1, "stove": 1, "table": 1, "chair": 4})[0] == "kitchen"
    assert MODEL.infer({"toilet": 1, "sink": 1})[0] == "bathroom"
    assert MODEL.infer({"tree": 2, "bench": 1}, outdoor=True)[0] == "lawn"
    assert MODEL.infer({}) == ("hallway", 0.3)


def test_summaries_name_rooms_floors_and_site():
    rng = np.random.default_rng(2)
    layout = [("bed", 1.0, 1.0), ("nightstand", 2.0, 0.5), ("wardrobe", 0.5, 3.0),
              ("fridge", 5.0, 1.0), ("stove", 6.0, 1.0), ("sink", 7.0, 1.0),
              ("toilet", 9.0, 1.0), ("bathtub", 10.0, 2.0), ("sink", 11.0, 1.0)]
    forest = SemanticForest(summariser=ExtractiveSummariser(MODEL), regions=StripRegions())
    for i, (lab, x, y) in enumerate(layout):
        forest.insert(Leaf(f"obj/{lab}/{i}", NodeKind.OBJECT, (x, y, 0.5), 0, f"a {lab}", lab, float(i),
                           _unit(rng), extra={"name": f"white {lab}"}))
    forest.refresh()
    types = sorted(r.room_type for r in forest.clusters(2))
    assert types == ["bathroom", "bedroom", "kitchen"]
    for r in forest.clusters(2):
        assert r.name.startswith(r.room_type.capitalize())
        assert r.summary and "None" not in r.summary
    floor = forest.clusters(3)[0]
    assert "three rooms" in floor.summary and "a bedroom" in floor.summary
    site = forest.clusters(4)[0]
    assert site.name == "A single-floor house with three rooms"
    assert "a bathroom, a bedroom and a kitchen" in site.summary


def test_summaries_never_fail_on_empty_or_unknown_content():
    forest = SemanticForest(summariser=ExtractiveSummariser(MODEL))
    forest.insert(Leaf("place/0", NodeKind.PLACE, (0.0, 0.0, 0.0), 0, "a view", "", 0.0, None))
    forest.insert(Leaf("obj/spaceship/1", NodeKind.OBJECT, (0.5, 0.0, 0.5), 0, "a spaceship", "spaceship", 1.0,
                       None))
    forest.refresh()
    for c in forest.clusters():
        assert c.name and c.summary
        for bad in ("None", "unknown", "error", "failed"):
            assert bad not in c.name and bad not in c.summary


@pytest.mark.parametrize("n", [1000])
def test_insert_scales_with_a_spatial_index(n):
    # a correctness check at scale: every leaf lands in an area on its floor and the
    # number of areas stays proportional to the covered area, not to n
    rng = np.random.default_rng(0)
    forest = SemanticForest()
    for i in range(n):
        forest.insert(Leaf(f"obj/x/{i}", NodeKind.OBJECT, (rng.uniform(0, 20), rng.uniform(0, 20), 0.5), 0,
                           "x", "chair", float(i), _unit(rng)))
    forest.refresh()
    areas = forest.level_counts()[1]
    assert 20 <= areas <= 400
    assert sum(c.n_leaves for c in forest.clusters(1)) == n
