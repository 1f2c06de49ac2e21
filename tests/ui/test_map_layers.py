"""The 3D map pane's line layers, offscreen (the items' data, not their pixels: see gl_cases.py)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from ui.qt_map_pane import QtMapPane


def test_route_and_trail_keep_their_colour_after_being_empty(qtbot, explored_state):
    state = explored_state
    pane = QtMapPane()
    qtbot.addWidget(pane)
    state.set_path(np.zeros((0, 3), np.float32))  # no route yet: the item is hidden by transparency
    pane.set_snapshot(state.map_snapshot())
    (path,) = pane.items["path"]
    assert path.color[3] == 0.0
    route = np.array([[0.0, 0.0, 0.12], [1.0, 0.5, 0.12], [2.0, 1.5, 0.12]], np.float32)
    try:
        state.set_path(route)  # a drive planned its route
        snap = state.map_snapshot()
        pane.set_snapshot(snap)
    finally:
        state.set_path(np.zeros((0, 3), np.float32))
    assert np.array_equal(path.pos, route) and path.color[3] > 0.5 and path.visible()
    trail = pane.items["robot"][0]
    assert len(snap.robot.trajectory) >= 2
    assert np.array_equal(trail.pos, snap.robot.trajectory) and trail.color[3] > 0.5 and trail.visible()


def _two_floor_tree():
    from app.snapshots import ForestNode, ForestTree

    n = {"site": ForestNode("site", 4, "cluster", "A two-floor house", "", (0.0, 0.0, 0.0),
                            children=("f0", "f1"))}
    for f in (0, 1):
        n[f"f{f}"] = ForestNode(f"f{f}", 3, "cluster", f"{'Ground' if f == 0 else 'First'} floor: a kitchen", "",
                                (0.0, 0.0, 3.0 * f), floor=f, parent="site", children=(f"r{f}",))
        n[f"r{f}"] = ForestNode(f"r{f}", 2, "cluster", "Kitchen with sink", "", (1.0, 1.0, 3.0 * f), floor=f,
                                parent=f"f{f}", children=(f"a{f}",), room_type="kitchen")
        n[f"a{f}"] = ForestNode(f"a{f}", 1, "cluster", "Sink area", "", (1.0, 1.0, 3.0 * f), floor=f,
                                parent=f"r{f}", children=(f"obj/sink/{f}",))
        n[f"obj/sink/{f}"] = ForestNode(f"obj/sink/{f}", 0, "object", "sink", "", (1.0, 1.0, 3.0 * f + 0.9),
                                        floor=f, parent=f"a{f}")
    return ForestTree(n, ("site",), "two-floors")


def test_each_floor_has_its_band_and_label_and_the_floor_filter_shows_one():
    from app.snapshots import forest_layer

    tree = _two_floor_tree()
    flat = forest_layer(tree, base_z=7.0, dz=1.5)
    layer = forest_layer(tree, base_z=7.0, dz=1.5, floor_step=4.0)
    z = {i: layer.positions[k, 2] for k, i in enumerate(layer.ids)}
    assert flat.floors == 1 and layer.floors == 2
    assert z["r0"] == 8.5 and z["r1"] == 12.5 and z["a1"] == 11.0  # the first floor's rooms above the ground's
    assert z["f0"] == z["f1"] == 14.0 and z["site"] == 15.5  # floors and site above every room band
    assert {lab.text for lab in layer.labels} == {"kitchen", "Ground floor", "First floor"}


def test_floor_filter_and_labels_apart(qtbot, explored_state):
    import dataclasses

    from ui.qt_map_pane import declutter

    pane = QtMapPane()
    qtbot.addWidget(pane)
    pane.resize(800, 600)
    snap = explored_state.map_snapshot()
    two = dataclasses.replace(snap, extra={"floor_elevations": {0: 0.0, 1: 1.0}})  # pretend: a storey at 1 m
    pane.set_snapshot(two)
    assert not pane.floor_box.isHidden() and pane.floor_box.count() == 3
    (cloud,) = pane.items["cloud"]
    everything = len(cloud.pos)
    pane.set_floor(0)
    assert pane.floor == 0 and 0 < len(cloud.pos) < everything and cloud.pos[:, 2].max() < 0.7
    places = pane.items["graph"][1]
    assert np.all(places.pos[:, 2] < 0.7)
    pane.set_floor(None)
    assert len(cloud.pos) == everything
    pane.set_snapshot(snap)  # one floor: no filter to offer
    assert pane.floor_box.isHidden()
    # labels: a later label that would cover an earlier one climbs above it
    def rise(n: int, k: int = 12) -> np.ndarray:  # 6 pixels a step, steps 0..k, for n labels
        return np.tile(6.0 * np.arange(k + 1), (n, 1))

    steps = declutter(np.array([[100.0, 200.0], [110.0, 202.0], [400.0, 200.0]]),
                      np.array([[80.0, 14.0], [80.0, 14.0], [80.0, 14.0]]), rise(3))
    assert steps[0] == 0 and steps[2] == 0 and steps[1] * 6.0 >= 14.0 + 2.0
    # a marker is an obstacle like a placed label; a label with no clear place is not drawn (-1)
    one = (np.array([[100.0, 200.0]]), np.array([[80.0, 14.0]]))
    assert declutter(*one, rise(1), obstacles=np.array([[150.0, 190.0, 170.0, 210.0]]))[0] * 6.0 >= 10.0
    assert declutter(*one, rise(1, 3), obstacles=np.array([[0.0, 0.0, 999.0, 999.0]]))[0] == -1


def test_orbit_stays_above_the_floor(qtbot):
    from ui.qt_map_pane import MIN_ELEVATION

    pane = QtMapPane()
    qtbot.addWidget(pane)
    pane.view.orbit(10.0, -200.0)
    assert pane.view.opts["elevation"] == MIN_ELEVATION
    pane.view.orbit(0.0, 30.0)
    assert pane.view.opts["elevation"] == MIN_ELEVATION + 30.0


@pytest.fixture(scope="module")
def multifloor_state(tmp_path_factory, multifloor_memory):
    """The shared explored two-floor world, opened in the app's state (its rooms on both floors labelled)."""
    from app.progress import CancelToken, drain
    from tests.explored_worlds import MULTIFLOOR_SPEC
    from ui import jobs
    from ui.lab_state import LabState

    copy = tmp_path_factory.mktemp("multifloor-ui") / "multifloor.db"
    shutil.copy(multifloor_memory[0], copy)
    state = LabState(autosave_dir=tmp_path_factory.mktemp("autosave-mf"))
    drain(jobs.open_memory(state, CancelToken(), str(copy), scene=MULTIFLOOR_SPEC))
    yield state
    state.close()


def _overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def test_no_hit_marker_sits_under_a_label_on_a_multifloor_map(qtbot, multifloor_state):
    from app.progress import CancelToken
    from ui import jobs, services

    state = multifloor_state
    pane = QtMapPane()
    qtbot.addWidget(pane)
    pane.resize(900, 640)
    pane.set_snapshot(state.map_snapshot(force=True))  # the default view of a new map
    assert pane.snapshot.forest.floors == 2 and len(pane._labels) >= 3
    # a real question, then the worst case: a hit at every labelled node, where its label is anchored
    jobs.ask(state, CancelToken(), services.QueryParams(text="where is the bed?"))
    real = state.map_snapshot(force=True)
    tree = real.tree
    worst = [{"id": lab.id, "level": tree.nodes[lab.id].level, "position": list(tree.nodes[lab.id].position),
              "score": 1.0} for lab in real.forest.labels if lab.id in tree.nodes]
    for hits in (state.hits, worst):
        state.set_query({"hits": hits})
        snap = state.map_snapshot(force=True)
        pane.set_snapshot(snap)
        markers = pane.hit_rects(snap)
        assert len(markers) == len(hits)
        covered = [(text, k) for text, rect in pane.label_rects() for k, m in enumerate(markers)
                   if _overlaps(rect, m)]
        assert covered == [], covered
        rects = [r for _, r in pane.label_rects()]
        assert not any(_overlaps(a, b) for i, a in enumerate(rects) for b in rects[i + 1:])
    state.clear_query()
