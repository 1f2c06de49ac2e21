"""One-line outcomes (no Qt), and the query pane reading well: answer room, link contrast, hits, image well."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.robot.navigation import BLOCKED, CLOSEST_FREE_SPOT, NavResult, route_left
from sim.mapping import Coverage
from sim.types import Pose
from ui.jobs import QueryOutcome
from ui.outcomes import explore_outcome, nav_outcome, plain_name, world_fields
from ui.qt_query_pane import QtQueryPane
from ui.qt_util import BASE_COLOUR, LINK_COLOUR, contrast_ratio


def _summary(steps: int, reason: str) -> SimpleNamespace:
    ep = SimpleNamespace(steps=steps, stop_reason=reason, coverage=Coverage(total=0.62), distance=12.34)
    return SimpleNamespace(episode=ep, stats={"objects": 44, "rooms": 6})


def test_exploration_outcome_says_where_it_stopped_and_why():
    assert explore_outcome(_summary(562, "cancelled"), 2000) == \
        "Exploration paused after 562 of 2000 steps; 44 objects, 6 rooms, coverage 62%, 12.3 m driven"
    assert explore_outcome(_summary(300, "step budget"), 300).startswith("Exploration used its whole step budget "
                                                                          "(300 of 300 steps)")
    assert "nothing left to explore" in explore_outcome(_summary(90, "policy finished"), 2000)
    assert "(coverage 95.0% reached)" in explore_outcome(_summary(90, "coverage 95.0% reached"))


def _nav(success: bool, final: float, driven: float, shortest: float | None, reason: str) -> NavResult:
    return NavResult((1.0, 2.0, 0.0), 0, success, final, driven, shortest, 40, 2.0, reason, Pose(0, 0), Pose(1, 2))


def test_navigation_outcome_has_distance_and_spl():
    assert nav_outcome(_nav(True, 0.61, 11.3, 10.2, "arrived")) == \
        "Arrived 0.6 m from the goal after driving 11.3 m in 40 steps (shortest 10.2 m, SPL 0.90)"
    closest = nav_outcome(_nav(False, 1.3, 5.0, 6.0, CLOSEST_FREE_SPOT))
    assert closest.startswith("Stopped at the closest free spot, 1.3 m from the goal after driving 5.0 m")
    assert "SPL 0.00" in closest
    assert nav_outcome(_nav(False, 1.7, 2.0, 6.0, BLOCKED)).startswith(f"Stopped 1.7 m from the goal: {BLOCKED}")
    assert "another floor" in nav_outcome(_nav(False, math.inf, 3.0, None, "cancelled"))


def test_route_left_world_fields_and_plain_names():
    route = [(0, 0, 0), (3, 4, 0), (3, 8, 0), (3, 8, 1), (3, 9, 1)]
    assert route_left(route, Pose(0.0, 0.0)) == pytest.approx(10.0)  # the stair jump is not driven
    assert route_left(route, Pose(3.0, 4.5)) == pytest.approx(0.5 + 4.0 + 1.0, abs=0.01)
    assert route_left(route, Pose(3.0, 9.0, floor=1)) == pytest.approx(0.0)
    assert route_left(route, Pose(0.0, 0.0, floor=2)) is None
    assert world_fields("multifloor:seed=2,floors=2") == ("multifloor", 2, {"floors": 2})
    assert world_fields("scenes/flat.glb") is None and world_fields("habitat:x.glb") is None
    assert plain_name("cluster/4/0", "site") == "site (not summarised yet)" and plain_name("Kitchen") == "Kitchen"


def test_query_pane_reads_well(qtbot):
    assert contrast_ratio(LINK_COLOUR, BASE_COLOUR) >= 4.5
    q = QtQueryPane()
    qtbot.addWidget(q)
    q.resize(420, 640)
    q.show()
    assert q.image_well.isHidden() and not q.clear_image_button.isEnabled()  # no image: no empty well
    q.set_query_image(np.zeros((8, 8, 3), np.uint8), "x.png")
    assert not q.image_well.isHidden() and q.clear_image_button.isEnabled()
    q.set_query_image(None)
    assert q.image_well.isHidden()
    short = q.answer.minimumHeight()
    hits = [{"id": f"cluster/2/{i}", "name": f"cluster/2/{i}", "kind": "cluster", "level": 2, "text": "a room",
             "score": 0.5, "position": [0, 0, 0]} for i in range(5)]
    long = "The black plastic tv is in the living room at (4.3, 4.0), about 8.5 m from you. " * 6
    q.set_outcome(QueryOutcome({"answer": long, "hits": hits, "goal": [4.3, 4.0, 0.0]}, {}))
    qtbot.waitUntil(lambda: q.answer.minimumHeight() > short)  # the answer grows with its text
    page = q.answer.toHtml()
    assert LINK_COLOUR in page and "cluster/2/" not in q.answer.toPlainText()
    assert all("cluster/" not in q.hits.item(i).text() for i in range(q.hits.count()))
    # every hit listed; the list keeps room for a few and scrolls for the rest
    assert q.hits.count() == 5 and q.hits.height() >= 90
    assert q.hits.verticalScrollBarPolicy() != Qt.ScrollBarPolicy.ScrollBarAlwaysOff
