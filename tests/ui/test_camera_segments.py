"""The camera pane's "Segments" toggle and the status bar's perception name, offscreen (no GL)."""
from __future__ import annotations

import numpy as np

from app.snapshots import CameraViews
from sim.types import Pose
from ui.lab_state import SessionFrame
from ui.qt_camera_pane import QtCameraPane


def _frame(with_segments: bool) -> SessionFrame:
    rgb = np.full((24, 32, 3), 200, np.uint8)
    cam = CameraViews(rgb, np.full_like(rgb, 40), np.full_like(rgb, 90), 3)
    if with_segments:
        labels = np.zeros((24, 32), np.int32)
        labels[4:12, 6:20] = 1
        cam.extra["segments"] = labels
    return SessionFrame(3, Pose(0.0, 0.0), 0.2, {"levels": {}}, cam, perception="geometric")


def test_segments_toggle_tints_the_segments_only(qtbot):
    pane = QtCameraPane()
    qtbot.addWidget(pane)
    pane.set_frame(_frame(True))
    plain = pane.view_image("RGB").copy()
    pane.segments_box.setChecked(True)  # redraws the frame it holds
    tinted = pane.view_image("RGB")
    assert (tinted[5, 7] != plain[5, 7]).any() and (tinted[20, 30] == plain[20, 30]).all()
    pane.set_frame(_frame(False))  # oracle perception cuts no segments of its own: the plain view
    assert (pane.view_image("RGB") == plain).all()


def test_status_bar_names_the_perception(qtbot):
    from PySide6.QtWidgets import QMainWindow

    from ui.qt_status import QtStatusLine

    win = QMainWindow()
    qtbot.addWidget(win)
    line = QtStatusLine(win.statusBar(), None)
    line.set_frame(_frame(False))
    assert "geometric perception" in line.coverage_label.text()
