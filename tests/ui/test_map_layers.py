"""The 3D map pane's line layers, offscreen (the items' data, not their pixels: see gl_cases.py)."""
from __future__ import annotations

import numpy as np

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
