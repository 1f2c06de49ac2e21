"""The window's status bar: the last result, memory counts, robot step and coverage, 3D frame rate,
and the progress of the running job with its Cancel button.

The last result (``report``) stays on the left until the next one; temporary messages (a job's
progress) cover it while they last. Every result also goes to the activity log.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from app.session import NO_WORLD
from ui.lab_state import SessionFrame
from ui.qt_activity import QtActivityLog

log = logging.getLogger(__name__)

__all__ = ["QtStatusLine"]

_RESULT_COLOURS = {"done": "#8fe3a0", "error": "#ff9c8a"}


class QtStatusLine(QObject):
    """Builds the status bar's widgets and keeps them up to date."""

    def __init__(self, bar: QStatusBar, activity: QtActivityLog) -> None:
        super().__init__(bar)
        self.bar = bar
        self.activity = activity
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setTextVisible(True)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.fps_label = QLabel("3D —")
        self.levels_label = QLabel("no memory")
        self.levels_label.setToolTip("memory nodes per forest level: L0 views and objects … L4 the site")
        self.coverage_label = QLabel("")
        for w in (self.levels_label, self.coverage_label, self.fps_label):
            w.setStyleSheet("padding: 0 6px; color: #b8c0cc;")
        self.result_line = QLabel("")
        self.result_line.setStyleSheet("padding: 0 6px;")
        self.result_line.setMinimumWidth(80)
        self.result_line.installEventFilter(self)  # re-cut the line with "…" when its width changes
        self._result = ""
        bar.addWidget(self.result_line, 1)
        for w in (self.levels_label, self.coverage_label, self.fps_label, self.progress, self.cancel_button):
            bar.addPermanentWidget(w)

    def report(self, text: str, kind: str = "info") -> None:
        """Keep ``text`` as the last result and log it (``kind``: info, done, error)."""
        self.bar.clearMessage()
        self.result_line.setStyleSheet(f"padding: 0 6px; color: {_RESULT_COLOURS.get(kind, '#c8cdd6')};")
        self._result = text
        self._elide()
        self.result_line.setToolTip(text)
        self.activity.add(text, kind)

    def _elide(self) -> None:
        fm = self.result_line.fontMetrics()
        width = max(20, self.result_line.width() - 14)
        self.result_line.setText(fm.elidedText(self._result, Qt.TextElideMode.ElideRight, width))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is self.result_line and event.type() == QEvent.Type.Resize:
            self._elide()
        return False

    # ------------------------------------------------------------------ jobs
    def job_started(self, title: str) -> None:
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.cancel_button.setVisible(True)
        self.bar.showMessage(title + "…")

    def job_progress(self, kind: str, title: str, done: float, total: float | None, message: str) -> None:
        if total:
            self.progress.setRange(0, int(total))
            self.progress.setValue(int(done))
            # steps of a budget, not a percentage: beside "coverage 62%" a "6%" reads as coverage
            self.progress.setFormat("step %v of %m" if kind in ("explore", "go") else "%p%")
        else:
            self.progress.setRange(0, 0)
        self.bar.showMessage(f"{title}: {message}" if message else title)

    def jobs_ended(self) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    # ------------------------------------------------------------------ live figures
    def set_frame(self, frame: SessionFrame) -> None:
        levels = frame.stats.get("levels", {})
        self.levels_label.setText("nodes  " + "  ".join(f"L{k} {v}" for k, v in sorted(levels.items())))
        if not frame.has_world:
            name = Path(frame.memory_path).name if frame.memory_path else "memory"
            self.coverage_label.setText(f"{name}  ·  no world")
            self.coverage_label.setToolTip(NO_WORLD)
            return
        self.coverage_label.setToolTip("")
        cov = f"coverage {frame.coverage:.0%}" if frame.coverage is not None else "coverage —"
        rate = f"  ·  {frame.steps_per_second:.0f} steps/s" if frame.steps_per_second > 0 else ""
        seen_by = f"  ·  {frame.perception} perception" if frame.perception else ""
        self.coverage_label.setText(f"step {frame.step}  ·  {cov}{rate}{seen_by}")

    def set_fps(self, fps: float, last_ms: float | None, points: int) -> None:
        rate = f"3D {fps:.0f} fps" if fps and last_ms is not None else "3D idle"
        self.fps_label.setText(f"{rate} · {points / 1000:.1f}k pts")
        self.fps_label.setToolTip(f"{last_ms:.0f} ms per frame" if fps and last_ms is not None else "")
