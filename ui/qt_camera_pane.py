"""The camera pane: what the robot sees - RGB, colour-mapped depth and instance (semantic) views.

With perception that cuts its own segments (``geometric``), the "Segments" toggle draws them over
the RGB view."""
from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.snapshots import colorize_instances
from ui.lab_state import SessionFrame
from ui.qt_util import QtImageLabel

log = logging.getLogger(__name__)

__all__ = ["QtCameraPane", "VIEW_MODES"]

VIEW_MODES = ("RGB", "Depth", "Semantic", "Side by side")


class QtCameraPane(QWidget):
    """Shows the latest camera frame one view at a time or all three side by side."""

    mode_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frame: SessionFrame | None = None
        self.mode_box = QComboBox()
        self.mode_box.addItems(VIEW_MODES)
        self.mode_box.setToolTip("Which camera view to show")
        self.info = QLabel("no world open")
        self.info.setStyleSheet("color: #9aa3b2;")
        self.info.setMinimumWidth(40)  # growing numbers must not widen the dock while exploring
        top = QHBoxLayout()
        top.addWidget(QLabel("View"))
        top.addWidget(self.mode_box)
        self.segments_box = QCheckBox("Segments")
        self.segments_box.setToolTip("Draw perception's own segments over the RGB view (geometric perception)")
        self.segments_box.toggled.connect(lambda _on: self.set_frame(self.frame))
        top.addWidget(self.segments_box)
        top.addStretch(1)
        # live frames: fast scaling (smooth scaling of three views 20 times a second costs the GUI thread)
        self.views = {name: QtImageLabel(f"{name.lower()} view", smooth=False) for name in VIEW_MODES[:3]}
        self.captions = {name: QLabel(name) for name in VIEW_MODES[:3]}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        # side by side: RGB across the top, depth and semantic under it (the dock is narrow)
        for name, row, col, span in (("RGB", 0, 0, 2), ("Depth", 2, 0, 1), ("Semantic", 2, 1, 1)):
            self.captions[name].setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.captions[name].setStyleSheet("color: #9aa3b2; font-size: 11px;")
            grid.addWidget(self.captions[name], row, col, 1, span)
            grid.addWidget(self.views[name], row + 1, col, 1, span)
        grid.setRowStretch(1, 3)
        grid.setRowStretch(3, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(top)
        lay.addWidget(self.info)  # its own line: beside the view choices the narrow dock cut it ("step 400 · x")
        lay.addLayout(grid, 1)
        self.mode_box.currentTextChanged.connect(self._on_mode_change)
        self.mode_box.setCurrentText("Side by side")
        self._on_mode_change(self.mode_box.currentText())

    @property
    def mode(self) -> str:
        return self.mode_box.currentText()

    def set_mode(self, mode: str) -> None:
        if mode not in VIEW_MODES:
            raise ValueError(f"unknown camera view {mode!r}; expected one of {', '.join(VIEW_MODES)}")
        self.mode_box.setCurrentText(mode)

    def _on_mode_change(self, mode: str) -> None:
        both = mode == "Side by side"
        for name in VIEW_MODES[:3]:
            visible = both or name == mode
            self.views[name].setVisible(visible)
            self.captions[name].setVisible(both)
        self.mode_changed.emit(mode)

    def set_frame(self, frame: SessionFrame | None) -> None:
        """Show a new frame (None: no world)."""
        self.frame = frame
        if frame is None or frame.camera is None:
            for v in self.views.values():
                v.set_image(None)
            self.info.setText("no world open" if frame is None or frame.has_world else "memory only: no camera")
            return
        cam = frame.camera
        segments = cam.extra.get("segments") if self.segments_box.isChecked() else None
        self.views["RGB"].set_image(cam.rgb if segments is None else segment_overlay(cam.rgb, segments))
        self.views["Depth"].set_image(cam.depth)
        self.views["Semantic"].set_image(cam.semantic)
        p = frame.pose
        self.info.setText(f"step {frame.step}  ·  x {p.x:.1f}  y {p.y:.1f}  floor {p.floor}")

    def view_image(self, name: str):
        """The array shown in one view (for tests and screenshots)."""
        return self.views[name].image


def segment_overlay(rgb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``rgb`` with each segment of ``labels`` (0 = none) tinted in its own colour."""
    tint = colorize_instances(labels)
    on = (np.asarray(labels) > 0)[..., None]
    return np.where(on, (0.45 * rgb + 0.55 * tint).astype(np.uint8), rgb)
