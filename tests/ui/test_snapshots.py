"""``app.snapshots``: pure numpy drawing data, tested without Qt on tiny hand-built inputs."""
from __future__ import annotations

import numpy as np
import pytest

from app.snapshots import (
    LEVEL_COLOURS,
    MAX_LABELS,
    ForestNode,
    ForestTree,
    GraphSnapshot,
    PointCloudAccumulator,
    colorize_depth,
    colorize_instances,
    display_position,
    forest_layer,
    forest_tree,
    graph_snapshot,
    hits_layer,
    label_level,
    layer_heights,
    memory_bounds,
    path_points,
    robot_layer,
)
from sim.types import CameraSpec, Observation, Pose


def _obs(depth: float = 2.0, pose: Pose | None = None, w: int = 32, h: int = 24) -> Observation:
    cam = CameraSpec(width=w, height=h, hfov_deg=90.0)
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0] = 200
    d = np.full((h, w), depth, np.float32)
    d[0, :] = 0.0  # no hit
    return Observation(rgb=rgb, depth=d, instance=np.zeros((h, w), np.int32), pose=pose or Pose(0, 0),
                       timestamp=0.0, camera=cam)


def test_cloud_fuses_backprojected_depth_with_colours():
    acc = PointCloudAccumulator(voxel=0.05, stride=1, max_height=10.0)
    added = acc.add(_obs(2.0))
    snap = acc.snapshot()
    assert added > 0 and len(snap) == added
    assert snap.points.dtype == np.float32 and snap.colors.shape == (len(snap), 4)
    # the camera looks along +x from the origin: every point is ~2 m ahead
    assert np.allclose(snap.points[:, 0], 2.0, atol=0.05)
    assert np.allclose(snap.colors[:, 0], 200 / 255, atol=0.02) and np.allclose(snap.colors[:, 3], 1.0)


def test_cloud_does_not_duplicate_voxels_and_versions_change():
    acc = PointCloudAccumulator(voxel=0.1, stride=1, max_height=10.0)
    acc.add(_obs())
    v, n = acc.version, len(acc)
    assert acc.add(_obs()) == 0  # the same view again adds nothing
    assert len(acc) == n and acc.version == v
    acc.add(_obs(pose=Pose(0, 0, yaw=np.pi / 2)))
    assert len(acc) > n and acc.version > v


def test_cloud_drops_points_above_the_ceiling_cut():
    acc = PointCloudAccumulator(voxel=0.05, stride=1, max_height=1.3)
    acc.add(_obs(4.0))
    assert acc.snapshot().points[:, 2].max() < 1.3


def test_cloud_coarsens_to_stay_under_budget():
    acc = PointCloudAccumulator(voxel=0.02, stride=1, max_points=200, max_height=10.0)
    for k in range(4):
        acc.add(_obs(1.0 + k, pose=Pose(0, 0, yaw=k * 0.7)))
    assert len(acc) <= 200
    assert acc.voxel > 0.02
    acc.clear()
    assert len(acc) == 0 and acc.voxel == 0.02


def _tree() -> ForestTree:
    n = {
        "cluster/4/0": ForestNode("cluster/4/0", 4, "cluster", "house", "a house", (2, 2, 0),
                                  children=("cluster/2/0",)),
        "cluster/2/0": ForestNode("cluster/2/0", 2, "cluster", "kitchen", "a kitchen", (1, 1, 0), parent="cluster/4/0",
                                  children=("cluster/1/0",), room_type="kitchen"),
        "cluster/1/0": ForestNode("cluster/1/0", 1, "cluster", "sink area", "", (1, 1, 0), parent="cluster/2/0",
                                  children=("obj/sink/1", "place/1")),
        "obj/sink/1": ForestNode("obj/sink/1", 0, "object", "sink", "a sink", (1.2, 1.0, 0.9), parent="cluster/1/0"),
        "place/1": ForestNode("place/1", 0, "place", "view 1", "kitchen view", (0.5, 0.5, 0.0), parent="cluster/1/0"),
    }
    return ForestTree(n, ("cluster/4/0",), "d1")


def test_forest_layer_stacks_levels_and_links_children():
    tree = _tree()
    layer = forest_layer(tree, base_z=3.0, dz=1.5)
    assert set(layer.ids) == {"cluster/4/0", "cluster/2/0", "cluster/1/0"}
    z = {i: layer.positions[k, 2] for k, i in enumerate(layer.ids)}
    assert z["cluster/1/0"] == pytest.approx(3.0) and z["cluster/2/0"] == pytest.approx(4.5)
    assert z["cluster/4/0"] == pytest.approx(7.5)
    k = layer.ids.index("cluster/2/0")
    assert tuple(layer.colors[k]) == pytest.approx(LEVEL_COLOURS[2])
    # 4->2, 2->1, and 1->sink (objects only: no line to the view)
    assert len(layer.segments) == 6
    assert display_position(tree.node("obj/sink/1"), 3.0, 1.5) == (1.2, 1.0, 0.9)


def _street_tree(regions: int, width: float = 2000.0) -> ForestTree:
    """A site root over ``regions`` level-2 regions (one level-1 area and one view each) spread over
    ``width`` metres: the shape of a street-view forest."""
    rng = np.random.default_rng(0)
    n = {"site": ForestNode("site", 4, "cluster", "site", "", (0.0, 0.0, 0.0), children=("floor",))}
    n["floor"] = ForestNode("floor", 3, "cluster", "Ground floor: streets", "", (0.0, 0.0, 0.0), parent="site",
                            children=tuple(f"r{i}" for i in range(regions)))
    for i in range(regions):
        x, y = rng.uniform(-width / 2, width / 2, 2)
        n[f"r{i}"] = ForestNode(f"r{i}", 2, "cluster", f"region {i}", "", (x, y, 0.0), parent="floor",
                                children=(f"a{i}",), room_type="street")
        n[f"a{i}"] = ForestNode(f"a{i}", 1, "cluster", f"area {i}", "", (x, y, 0.0), parent=f"r{i}",
                                children=(f"place/{i}",))
        n[f"place/{i}"] = ForestNode(f"place/{i}", 0, "place", f"view {i}", "a caption", (x, y, 0.0),
                                     parent=f"a{i}")
    return ForestTree(n, ("site",), f"street{regions}")


def test_labels_go_on_one_upper_level_that_fits_and_lines_fade_in_crowds():
    few = forest_layer(_street_tree(12))
    assert label_level(_street_tree(12)) == 2 and len(few.labels) == 12
    assert {lab.text for lab in few.labels} == {"street"}
    crowd = _street_tree(3000)
    layer = forest_layer(crowd, base_z=80.0, dz=70.0)
    assert label_level(crowd) == 3 and [lab.text for lab in layer.labels] == ["Ground floor"]
    assert len(layer.ids) == 2 + 2 * 3000 and len(layer.labels) <= MAX_LABELS
    assert layer.labels[0].position[2] > 80.0 + 2 * 70.0  # above its node
    # lines into the 3,000 regions fade; the tree of 12 keeps full-strength lines
    assert np.median(layer.segment_colors[:, 3]) < 0.5 * np.median(few.segment_colors[:, 3])
    assert label_level(crowd, max_labels=0) is None and forest_layer(crowd, max_labels=0).labels == ()


def test_memory_bounds_and_layer_heights_scale_with_the_memory():
    tree = _street_tree(50, width=1500.0)
    xy = np.array([n.position for n in tree.nodes.values() if n.level == 0], np.float32)
    g = GraphSnapshot((), np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32), (),
                      np.array([[900.0, 0.0, 12.0]], np.float32), np.zeros((0, 3), np.float32))
    lo, hi = memory_bounds(g, tree)
    assert hi[0] == pytest.approx(900.0) and lo[0] == pytest.approx(xy[:, 0].min()) and hi[2] == 12.0
    base_z, dz = layer_heights((lo, hi))
    assert dz == pytest.approx(0.035 * max(hi[0] - lo[0], hi[1] - lo[1])) and base_z == pytest.approx(12.0 + dz)
    assert layer_heights(((0, 0, 0), (10, 8, 2.5))) == pytest.approx((2.5 + 1.6, 1.6))  # a house keeps its sizes
    assert memory_bounds(GraphSnapshot((), *(np.zeros((0, 3), np.float32),) * 2, (), *(np.zeros((0, 3)),) * 2)) \
        == ((-0.5, -0.5, 0.0), (0.5, 0.5, 1.0))


def test_forest_tree_helpers():
    tree = _tree()
    assert sorted(tree.leaves_under("cluster/4/0")) == ["obj/sink/1", "place/1"]
    assert tree.level_counts() == {0: 2, 1: 1, 2: 1, 4: 1}


def test_hits_are_raised_to_their_level_and_skip_positionless():
    hits = [{"id": "cluster/2/0", "level": 2, "position": [1, 1, 0], "score": 0.9},
            {"id": "obj/sink/1", "level": 0, "position": [1.2, 1.0, 0.9], "score": 0.8},
            {"id": "x", "level": 0, "position": None}]
    layer = hits_layer(hits, _tree(), base_z=3.0, dz=1.5)
    assert layer.ids == ("cluster/2/0", "obj/sink/1")
    assert layer.positions[0, 2] == pytest.approx(4.5) and layer.positions[1, 2] == pytest.approx(0.9)
    assert layer.ground.shape == (4, 3)


def test_robot_layer_heading_and_decimated_trajectory():
    traj = [Pose(i * 0.01, 0) for i in range(10_000)]
    layer = robot_layer(Pose(1, 2, yaw=np.pi / 2), traj, arrow=1.0, max_points=500)
    assert np.allclose(layer.heading[1, :2], [1, 3], atol=1e-5)
    assert len(layer.trajectory) <= 501 and np.allclose(layer.trajectory[-1, 0], 99.99)


def test_path_points_accepts_planner_paths_arrays_and_poses():
    from sim.planner import Path, PathSegment

    p = Path((PathSegment(0, np.array([[0, 0], [1, 0]])), PathSegment(1, np.array([[1, 1], [2, 2]]))), (2, 2), 1)
    pts = path_points(p, {0: 0.0, 1: 3.0}, lift=0.0)
    assert pts.shape == (4, 3) and pts[2, 2] == pytest.approx(3.0)
    assert path_points(np.zeros((3, 2))).shape == (3, 3)
    assert path_points([Pose(0, 0), Pose(1, 1)]).shape == (2, 3)
    assert path_points(None).shape == (0, 3)
    with pytest.raises(ValueError):
        path_points(np.zeros((3, 4)))


def test_colour_maps():
    d = np.array([[0.0, 1.0], [5.0, 10.0]], np.float32)
    rgb = colorize_depth(d, 10.0)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (0, 0, 0)  # no hit
    assert not np.array_equal(rgb[0, 1], rgb[1, 1])
    inst = colorize_instances(np.array([[0, 3], [3, 7]]))
    assert np.array_equal(inst[0, 1], inst[1, 0]) and not np.array_equal(inst[0, 1], inst[1, 1])


def test_snapshots_of_a_real_memory(explored_state):
    mem = explored_state.session.memory
    g = graph_snapshot(mem.graph)
    assert len(g.place_ids) == len(mem.graph.places()) and len(g.traverse) % 2 == 0 and len(g.traverse) > 0
    tree = forest_tree(mem)
    assert tree.roots and all(r in tree.nodes for r in tree.roots)
    assert set(tree.leaves_under(tree.roots[0])) <= {r.id for r in mem.leaf_records()}
    assert forest_tree(mem).digest == tree.digest  # same memory, same digest
