"""Camera, query and controls panes and the LLM dialog, offscreen (no GL)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.snapshots import CameraViews
from sim.types import Pose
from ui.jobs import QueryOutcome
from ui.lab_state import SessionFrame
from ui.qt_camera_pane import VIEW_MODES, QtCameraPane
from ui.qt_controls import SPEED_MAX, QtControlsPane, QtLLMDialog
from ui.qt_query_pane import HIT_ID_ROLE, QtQueryPane
from ui.qt_util import load_image, to_qimage


def _frame() -> SessionFrame:
    rgb = np.zeros((24, 32, 3), np.uint8)
    rgb[..., 1] = 255
    cam = CameraViews(rgb, np.full_like(rgb, 40), np.full_like(rgb, 90), 7)
    return SessionFrame(7, Pose(1.0, 2.0), 0.5, {"levels": {"0": 3}}, cam)


def test_camera_pane_modes(qtbot):
    pane = QtCameraPane()
    qtbot.addWidget(pane)
    pane.show()
    pane.set_frame(_frame())
    assert pane.mode == "Side by side"
    assert all(pane.views[n].isVisible() for n in VIEW_MODES[:3])
    pane.set_mode("Depth")
    assert pane.views["Depth"].isVisible() and not pane.views["RGB"].isVisible()
    assert pane.view_image("RGB")[0, 0, 1] == 255 and "step 7" in pane.info.text()
    assert not pane.views["Depth"].pixmap().isNull()
    with pytest.raises(ValueError):
        pane.set_mode("Thermal")
    pane.set_frame(None)
    assert pane.view_image("RGB") is None


def test_query_pane_enter_asks_and_shows_the_outcome(qtbot):
    pane = QtQueryPane()
    qtbot.addWidget(pane)
    pane.set_features(None, None)
    pane.retriever.setCurrentText("flat")
    qtbot.keyClicks(pane.text, "where is the sink?")
    with qtbot.waitSignal(pane.ask_requested) as sig:
        qtbot.keyClick(pane.text, Qt.Key.Key_Return)
    params = sig.args[0]
    assert (params.text, params.retriever, params.top_k) == ("where is the sink?", "flat", 5)
    assert not pane.go_button.isEnabled()
    hits = [{"id": "obj/sink/1", "name": "white sink", "text": "a white sink", "score": 0.9, "level": 0,
             "position": [1, 2, 0.9]},
            {"id": "cluster/2/0", "name": "kitchen", "text": "a kitchen", "score": 0.5, "level": 2,
             "position": [1, 1, 0]}]
    response = {"answer": "The sink is in the kitchen.", "query_type": "explicit", "goal": [1, 2, 0.9],
                "goal_floor": 0, "latency_ms": 12.0, "hits": hits}
    pane.set_outcome(QueryOutcome(response, {"obj/sink/1": np.zeros((8, 8, 3), np.uint8)}))
    assert "sink is in the kitchen" in pane.answer.toPlainText() and "obj/sink/1" in pane.answer.toHtml()
    assert pane.hits.count() == 2 and pane.hits.item(0).data(HIT_ID_ROLE) == "obj/sink/1"
    assert not pane.hits.item(0).icon().isNull() and pane.hits.item(1).icon().isNull()
    assert pane.go_button.isEnabled()
    with qtbot.waitSignal(pane.go_requested) as sig:
        pane.go_button.click()
    assert sig.args == [[1, 2, 0.9], 0]
    with qtbot.waitSignal(pane.hit_selected) as sig:
        pane.hits.setCurrentRow(1)
    assert sig.args == ["cluster/2/0"]


def test_query_pane_features_and_image_query(qtbot, tmp_path):
    pane = QtQueryPane()
    qtbot.addWidget(pane)
    pane.set_features("asking needs app/query.py", "'Go there' needs app/robot/navigation.py")
    assert not pane.ask_button.isEnabled() and "app/query.py" in pane.ask_button.toolTip()
    from PIL import Image

    path = tmp_path / "q.png"
    Image.fromarray(np.full((10, 12, 3), 77, np.uint8)).save(path)
    pane._on_image_drop(str(path))
    assert pane.params().image.shape == (10, 12, 3)
    with qtbot.assertNotEmitted(pane.ask_requested):
        pane.set_query_image(None)
        pane._on_ask_click()  # nothing to ask
    assert "type a question" in pane.status.text()


def test_controls_pane_spec_speed_and_state(qtbot):
    c = QtControlsPane()
    qtbot.addWidget(c)
    c.set_scene_spec("office", 4, 30)
    assert c.scene_spec() == "office:seed=4,width=30"
    c.world_type.setCurrentText("multifloor")
    assert c.size.maximum() == 3 and c.scene_spec().endswith("floors=2")
    with qtbot.waitSignal(c.new_world_requested) as sig:
        c.new_world_button.click()
    assert sig.args == ["multifloor:seed=4,floors=2"]
    assert not c.explore_button.isEnabled()
    c.set_session_open(True)
    with qtbot.waitSignal(c.explore_toggled) as sig:
        c.explore_button.click()
    assert sig.args == [True] and c.explore_button.text() == "Pause"
    c.set_exploring(False)
    assert c.explore_button.text() == "Start" and c.step_button.isEnabled()
    with qtbot.waitSignal(c.speed_changed) as sig:
        c.speed.setValue(10)
    assert sig.args == [10.0]
    c.speed.setValue(SPEED_MAX)
    assert c.speed_value() == 0.0
    with qtbot.waitSignal(c.teleop_requested) as sig:
        c.teleop_buttons["left"].click()
    assert sig.args == ["left"]


def test_panes_of_a_memory_without_a_world(qtbot):
    from app.session import NO_WORLD
    from ui.qt_map_pane import grid_spacing, marker_size

    c = QtControlsPane()
    qtbot.addWidget(c)
    c.set_session_open(True, NO_WORLD)
    drive = (c.explore_button, c.step_button, *c.teleop_buttons.values())
    assert not any(w.isEnabled() for w in drive) and all(w.toolTip() == NO_WORLD for w in drive)
    assert c.save_button.isEnabled() and c.world_hint.text() == NO_WORLD and not c.world_hint.isHidden()
    c.set_session_open(True)  # a world again
    assert all(w.isEnabled() for w in drive) and c.world_hint.isHidden()

    q = QtQueryPane()
    qtbot.addWidget(q)
    q.set_features(None, None)
    q.set_no_world(NO_WORLD)
    caption = "A quiet street with a coffee shop on the corner, " * 6
    hits = [{"id": "place/7", "name": "view 7", "text": caption, "score": 0.7, "level": 0, "position": [1, 2, 0]}]
    q.set_outcome(QueryOutcome({"answer": "Try view 7.", "goal": [1, 2, 0], "hits": hits}, {}))
    assert not q.go_button.isEnabled() and q.go_button.toolTip() == NO_WORLD
    assert "coffee shop on the corner" in q.answer.toPlainText()  # the caption quoted under the answer
    assert len(q.hits.item(0).text()) > 200  # no picture: more of the caption where it would be
    q.set_no_world(None)
    assert q.go_button.isEnabled()

    cam = QtCameraPane()
    qtbot.addWidget(cam)
    cam.set_frame(SessionFrame(0, None, None, {}, None, has_world=False))
    assert "no camera" in cam.info.text()

    assert grid_spacing(20) == 1.0 and 1500 / grid_spacing(1500) <= 60 and grid_spacing(3000) >= 50
    assert marker_size(13.0, 100) == 13.0 and 13.0 / 3 <= marker_size(13.0, 5000) < 6.0


def test_llm_dialog_test_connection_reports_a_failure(qtbot):
    from memory.llm import LLMConfig

    dlg = QtLLMDialog(LLMConfig(base_url="http://127.0.0.1:9/v1", timeout_s=2.0))
    qtbot.addWidget(dlg)
    dlg.test_button.click()
    qtbot.waitUntil(lambda: dlg.result.text().startswith("failed"), timeout=15000)
    dlg.base_url.setText("not a url")
    dlg._on_accept()
    assert dlg.result.text().startswith("invalid")


def test_llm_dialog_test_connection_with_a_real_server(qtbot, llm_server):
    dlg = QtLLMDialog(llm_server)
    qtbot.addWidget(dlg)
    dlg.test_button.click()
    qtbot.waitUntil(lambda: dlg.result.text().startswith(("ok", "failed")), timeout=60000)
    assert dlg.result.text().startswith("ok:"), dlg.result.text()
    dlg._on_accept()
    assert dlg.chosen is not None and dlg.chosen.base_url == llm_server.base_url


def test_image_helpers(tmp_path):
    img = to_qimage(np.zeros((5, 7), np.uint8))
    assert (img.width(), img.height()) == (7, 5)
    from sim.errors import LabError

    (tmp_path / "x.png").write_text("not an image")
    with pytest.raises(LabError):
        load_image(tmp_path / "x.png")
