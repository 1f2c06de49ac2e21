"""Perception without ground truth: RGB-D segments, cross-view fusion, the graph following tracks,
and an exploration whose observations raise if anything touches the simulator's answers."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from memory.perception import PERCEIVERS, PerceptionConfig
from memory.perception.fusion import ObjectFusion
from memory.perception.geo_config import FusionConfig, SegmenterConfig
from memory.perception.geometric import GeoSegment, _flat_regions, segment_rgbd
from memory.perception.segments import Segment
from memory.perception.voxels import voxel_centres, voxel_components, voxel_keys
from memory.topo_graph import TopoGraph
from memory.types import Percept, Sighting
from sim.errors import ConfigError
from sim.types import Pose

VOCAB = ("chair", "table", "lamp")


# ------------------------------------------------------------------------------------- voxels
def test_voxel_keys_round_trip_and_components_split_separate_blobs():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.0, 0.3, (200, 3))
    b = rng.uniform(0.0, 0.3, (200, 3)) + [1.0, 0.0, 0.0]  # 0.7 m away
    c = rng.uniform(0.0, 0.3, (200, 3)) + [0.32, 0.0, 0.0]  # touches a
    keys = voxel_keys(np.vstack([a, [[-3.17, 4.12, 0.73]]]), 0.1)
    assert np.allclose(voxel_centres(keys[-1:], 0.1), [[-3.15, 4.15, 0.75]])
    labels = voxel_components(np.vstack([a, b, c]), 0.06)
    la, lb, lc = labels[:200], labels[200:400], labels[400:]
    assert len(set(la)) == 1 and len(set(lb)) == 1
    assert la[0] != lb[0] and lc[0] == la[0]
    assert len(voxel_components(np.zeros((0, 3)), 0.1)) == 0


def test_bad_segmenter_and_fusion_settings_say_which():
    with pytest.raises(ConfigError, match="perception.segmenter: voxel"):
        SegmenterConfig(voxel=2.0)
    with pytest.raises(ConfigError, match="perception.fusion"):
        FusionConfig(min_overlap=0.01, weak_overlap=0.5)
    assert "geometric" in PERCEIVERS.names()


# ------------------------------------------------------------------------------------- segmenter
def test_segmenter_finds_objects_without_the_instance_buffer():
    from sim.simulator import SimConfig, make_simulator
    from sim.types import Action

    cfg = PerceptionConfig(type="geometric")
    ious, found = [], 0
    with make_simulator(SimConfig(), "rooms:n=3,seed=1") as sim:
        obs = sim.reset()
        for k in range(16):
            obs = sim.step(Action.turn_left(45) if k % 4 else Action.forward())
            blank = dataclasses.replace(obs, instance=np.zeros_like(obs.instance), objects={})
            segs, labels = segment_rgbd(blank, cfg, cfg.segmenter)
            assert labels.shape == obs.instance.shape
            inst = obs.instance
            for iid in np.unique(inst[inst > 0]):
                gt = inst == iid
                if gt.sum() < 400:
                    continue
                found += 1
                ious.append(max(((labels == g.label_image) & gt).sum() / ((labels == g.label_image) | gt).sum()
                                for g in segs) if segs else 0.0)
    assert found >= 5
    assert np.mean(ious) > 0.5  # masks cut from geometry alone cover the objects the camera sees


def test_flat_regions_need_the_surface_or_a_frame_around_them():
    wall = np.zeros((40, 60), bool)
    wall[:, :40] = True  # a wall on the left, a doorway on the right
    rgb = np.full((40, 60, 3), 200, np.uint8)
    rgb[10:20, 10:20] = (60, 40, 20)  # a picture in the middle of the wall
    rgb[:, 30:40] = (90, 90, 150)  # a strip of wall in another light, floor to ceiling beside the doorway
    owner = np.zeros((40, 60), np.int64)
    wall[25:35, 5:25] = True
    rgb[27:33, 8:22] = (150, 200, 255)  # a window pane ...
    owner[25:35, 5:25] = 3  # ... inside its frame, cluster 2 (index + 1)
    owner[27:33, 8:22] = 0
    wall[25:35, 5:25] &= owner[25:35, 5:25] == 0  # the frame sticks out of the wall: not wall points
    cfg = SegmenterConfig(flat_colour=45.0, flat_enclosed=0.6, flat_frame=0.3)
    found = _flat_regions((wall,), rgb, cfg, 20, owner)
    boxes = {(int(m.min() // 60), int(m.min() % 60)): into for m, into in found}
    assert boxes == {(10, 10): None, (27, 8): 2}  # the picture alone, the pane into its frame, no strip


def test_perceiver_segments_a_frame_only_once_the_view_changed():
    from memory.perception.geometric import build
    from sim.simulator import SimConfig, make_simulator
    from sim.types import Action

    cfg = PerceptionConfig(type="geometric", segmenter=SegmenterConfig(keyframe_m=0.3, keyframe_deg=20.0))
    perceiver = build(cfg)
    with make_simulator(SimConfig(), "rooms:n=3,seed=1") as sim:
        first = perceiver.perceive(sim.reset())
        assert first.keyframe and perceiver.last_labels.shape == sim.observe().depth.shape
        same = perceiver.perceive(sim.step(Action.turn_left(10)))  # 10 degrees: nearly the same view
        assert not same.keyframe and same.sightings == () and perceiver.last_labels.size == 0
        assert same.caption == first.caption
        turned = perceiver.perceive(sim.step(Action.turn_left(15)))  # 25 degrees since the last look
        assert turned.keyframe and perceiver.last_labels.size > 0


# ------------------------------------------------------------------------------------- fusion
def _geo(points: np.ndarray, *, cut: bool = False) -> GeoSegment:
    lo, hi = points.min(axis=0), points.max(axis=0)
    c = 0.5 * (lo + hi)
    seg = Segment(1, len(points), (0, 0, 10, 10), tuple(c), tuple(lo), tuple(hi), 2.0, cut,
                  np.zeros((8, 8, 3), np.uint8), np.ones((10, 10), bool))
    return GeoSegment(seg, points, 1)


def _box(x: float, y: float, size: float = 0.4, n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, size, (n, 3)) + [x, y, 0.3]


def _probs(k: int) -> np.ndarray:
    p = np.full(len(VOCAB), 0.05, dtype=np.float32)
    p[k] = 0.9
    return p


def _vec(k: int) -> np.ndarray:
    v = np.zeros(4, np.float32)
    v[k] = 1.0
    return v


def _update(fusion: ObjectFusion, segs, vectors, probs, colours, pose: Pose, step: int, asked=None):
    vectors, probs = np.asarray(vectors), np.asarray(probs)

    def embed(idx):
        if asked is not None:
            asked.extend(idx)
        return vectors[idx], probs[idx], [colours[i] for i in idx]

    return fusion.update(segs, pose, step, embed=embed)


def test_fusion_associates_votes_merges_and_retires():
    fusion = ObjectFusion(FusionConfig(min_views=2, ghost_frames=2), VOCAB)
    pose = Pose(0.0, 0.0)
    f1 = _update(fusion, [_geo(_box(1, 0, seed=1)), _geo(_box(3, 0, seed=2))], np.stack([_vec(0), _vec(1)]),
                       np.stack([_probs(0), _probs(1)]), ["red", "white"], pose, 1)
    assert f1.seen == []  # nothing reported after one view
    # the chair again (a vote for 'table' from a worse view), from another bearing
    f2 = _update(fusion, [_geo(_box(1.05, 0.02, seed=3)), _geo(_box(1.1, 0.0, seed=4), cut=True)],
                       np.stack([_vec(0), _vec(0)]), np.stack([_probs(0), _probs(1)]), ["red", "red"],
                       Pose(0.0, 2.0), 2)
    assert len(f2.seen) == 1
    obj, idx = f2.seen[0]
    assert sorted(idx) == [0, 1]  # both segments of the view went to the one object
    assert fusion.label_of(obj)[0] == "chair" and obj.colour() == "red"
    assert obj.n_views == 2 and obj.n_images == 2
    # the one-view 'table' is a ghost: retired once unseen for ghost_frames frames
    for step in range(3, 6):
        _update(fusion, [_geo(_box(1, 0, seed=step))], _vec(0)[None], _probs(0)[None], ["red"], pose, step)
    assert len(fusion) == 1
    # two objects that grow together become one; the merge is reported
    _update(fusion, [_geo(_box(1.45, 0, seed=9))], _vec(2)[None], _probs(2)[None], ["blue"], pose, 6)
    _update(fusion, [_geo(_box(1.45, 0, seed=10))], _vec(2)[None], _probs(2)[None], ["blue"], pose, 7)
    assert len(fusion) == 2
    big = np.vstack([_box(1.0, 0, seed=11), _box(1.2, 0, seed=12), _box(1.45, 0, seed=13)])
    frame = _update(fusion, [_geo(big)], _vec(0)[None], _probs(0)[None], ["red"], pose, 8)
    assert len(fusion) == 1 and frame.merged
    assert fusion.label_of(next(iter(fusion.objects.values())))[0] == "chair"


def test_fusion_labels_a_known_object_again_only_from_a_new_bearing():
    fusion = ObjectFusion(FusionConfig(label_views=2, bearing_deg=30.0), VOCAB)
    asked: list[int] = []
    for step in range(6):  # the same view over and over: labelled until it has two votes
        _update(fusion, [_geo(_box(1, 0, seed=step))], _vec(0)[None], _probs(0)[None], ["red"], Pose(0.0, 0.0),
                step, asked)
    assert len(asked) == 2
    _update(fusion, [_geo(_box(1, 0, seed=9))], _vec(0)[None], _probs(0)[None], ["red"], Pose(1.2, 2.0), 7, asked)
    assert len(asked) == 3  # seen from the side: worth a look
    (obj,) = fusion.objects.values()
    assert obj.n_views == 7 and obj.n_votes == 3 and obj.n_images == 2


# ------------------------------------------------------------------------------------- the graph follows tracks
def _sighting(label: str, x: float, track: int | None) -> Sighting:
    return Sighting(label=label, centroid=(x, 0.0, 0.5), bbox_min=(x - 0.2, -0.2, 0.3),
                    bbox_max=(x + 0.2, 0.2, 0.7), pixels=500, bbox2d=(0, 0, 10, 10), track=track)


def _percept(step: int, *sightings: Sighting, merged=()) -> Percept:
    return Percept(pose=Pose(0.0, 0.0, yaw=0.3 * step), timestamp=float(step), step=step, sightings=sightings,
                   caption="", merged_tracks=tuple(merged))


def test_graph_follows_tracks_relabels_and_folds_merged_tracks():
    g = TopoGraph()
    u1 = g.add(_percept(1, _sighting("chair", 1.0, 7)))
    (chair,) = u1.new_objects
    # the same track seen elsewhere (drift, a fuller view) stays the same node
    u2 = g.add(_percept(2, _sighting("chair", 2.5, 7)))
    assert u2.updated_objects == (chair,) and not u2.new_objects
    # another track of the same label close by is another object: the perceiver said so
    u3 = g.add(_percept(3, _sighting("chair", 2.6, 8)))
    assert len(u3.new_objects) == 1 and len(g.objects()) == 2
    other = u3.new_objects[0]
    # perception's vote turns track 7 into a table: the node is re-made under the new label
    u4 = g.add(_percept(4, _sighting("table", 2.5, 7)))
    assert chair in u4.removed_objects
    (table,) = u4.new_objects
    assert g.object(table).label == "table" and g.object(table).n_views == 3
    # perception folds track 8 into track 7: so does the graph
    u5 = g.add(_percept(5, _sighting("table", 2.5, 7), merged=[(8, 7)]))
    assert other in u5.removed_objects
    assert [o.id for o in g.objects()] == [table]


# ------------------------------------------------------------------------------------- no ground truth, end to end
class _Forbidden:
    """Stands in for ground truth in an observation: any use raises."""

    def __init__(self, what: str) -> None:
        self._what = what

    def _fail(self, *a, **k):
        raise AssertionError(f"ground truth touched: {self._what}")

    __array__ = __getitem__ = __iter__ = __len__ = __contains__ = __bool__ = _fail

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        self._fail()


class _NoTruthSimulator:
    """A simulator proxy whose observations carry no usable ground truth."""

    def __init__(self, sim) -> None:
        self._sim = sim

    def __getattr__(self, name: str):
        return getattr(self._sim, name)

    def _clean(self, obs):
        return dataclasses.replace(obs, instance=_Forbidden("instance buffer"), objects=_Forbidden("object table"),
                                   scene=_Forbidden("scene"), true_pose=_Forbidden("true pose"))

    def reset(self, pose=None):
        return self._clean(self._sim.reset(pose))

    def step(self, action):
        return self._clean(self._sim.step(action))

    def observe(self):
        return self._clean(self._sim.observe())

    def set_pose(self, pose):
        return self._clean(self._sim.set_pose(pose))

    def close(self) -> None:
        self._sim.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def test_geometric_exploration_reads_no_ground_truth(tmp_path: Path):
    from app.cli.memory import format_memory_info, memory_info
    from app.config import load_lab_config
    from app.progress import drain
    from app.session import Session
    from sim.loader import load_scene
    from sim.simulator import make_simulator

    config = load_lab_config(Path(__file__).resolve().parents[2] / "assets" / "configs" / "geometric.yaml")
    assert config.memory.perception.type == "geometric" and config.sim.sensors.enabled
    scene = load_scene("rooms:n=3,seed=1")
    sim = _NoTruthSimulator(make_simulator(config.sim, scene))
    out = tmp_path / "g.db"
    with Session(scene, config=config, simulator=sim, memory_path=out) as session:
        assert session.perception == "geometric"
        drain(session.explore(30))
        objects = session.memory.graph.objects()
        vocab = set(session.memory.priors.vocabulary())
        assert objects and all(o.label in vocab for o in objects)
        assert all(o.instance_hint is None and not o.material for o in objects)
        truth = session.sim._sim.pose
        believed = session.observation.pose
        assert math.hypot(truth.x - believed.x, truth.y - believed.y) > 0.0  # it drove on a drifting belief
    info = memory_info(out)
    assert info["perception"] == "geometric"
    assert "perception   geometric" in format_memory_info(info)


def test_graph_folds_tracks_seen_together_and_fuses_on():
    g = TopoGraph()
    u1 = g.add(_percept(1, _sighting("chair", 1.0, 1), _sighting("chair", 1.5, 2)))  # one object, two segments
    a, b = u1.new_objects
    u2 = g.add(_percept(2, _sighting("chair", 1.2, 1), merged=[(2, 1)]))
    assert b in u2.removed_objects and [o.id for o in g.objects()] == [a]
    g.add(_percept(3, _sighting("chair", 4.0, 3)))
    u4 = g.add(_percept(4, _sighting("chair", 1.2, 3), merged=[(1, 3)]))  # no stale ids left behind
    assert a in u4.removed_objects and len(g.objects()) == 1


def test_scenarios_select_the_geometric_config(tmp_path: Path):
    from app.eval.scenario import ScenarioError, load_scenario

    root = Path(__file__).resolve().parents[2]
    sc = load_scenario(root / "assets" / "scenarios" / "three-rooms-geometric.yaml")
    assert Path(sc.config).resolve() == (root / "assets" / "configs" / "geometric.yaml").resolve()
    bad = tmp_path / "bad.yaml"
    bad.write_text("world: rooms:n=3,seed=1\nconfig: nowhere.yaml\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml:2: config file 'nowhere.yaml' not found"):
        load_scenario(bad)


@pytest.mark.slow
def test_fused_category_accuracy_on_a_small_house_stays_above_its_floor():
    """The bench's scoring on a world none of the settings were tuned on (house seed 1, three rooms).

    Measured 0.38 (29 nodes for 35 seen objects); before flat regions had to be enclosed by their
    surface and frames were chosen by motion it was 0.24 with 45 nodes. 0.3 keeps a margin for small
    changes while failing on a return of the structure and duplicate nodes (80-way chance: 0.0125).
    """
    from app.bench.perception import evaluate_perception

    r = evaluate_perception("house:seed=1,rooms=3", 300)
    objects = r["objects"]
    assert objects["category_accuracy"] >= 0.3, objects
    assert 0.6 <= objects["node_ratio"] <= 1.3, objects
    assert objects["not_an_object"] <= 2, objects
    assert r["rooms"]["found"] == r["rooms"]["world"]
    # "where is the <category>?" for each category seen, answered in a room that holds one: measured 20 of 28
    # (kitchen things answered in the wrong room); a random room of three would give about a third
    assert r["answered_in_right_room"]["asked"] >= 20 and r["answered_in_right_room"]["rate"] >= 0.6, r
    # the per-view label check: 35 pure, uncut segments measured, labelled right 0.60 from their own crops
    # and 0.74 from their instance's whole box (a check that compared the wrong names would give about 0)
    labels = r["labels"]
    assert labels["pure_segments"] >= 20, labels
    assert labels["whole_box_accuracy"] >= 0.5 and 0.3 <= labels["per_view_accuracy"] <= 1.0, labels
    assert 0.0 <= labels["part_of_object"] <= 1.0, labels

