"""The main window: the 3D map in the middle, docks around it, menus and a status bar.

The window never touches the session: every action becomes a job for the ``SessionWorker``
(``ui.jobs``), and the worker's signals bring back results, progress, camera frames and map
snapshots. Docks (napari-style): controls and camera on the left, query and forest on the right.

A memory file that names no world (an imported one) opens on its own: the map, forest and query
panes work; Start, Step, teleop and 'Go there' are disabled with ``NO_WORLD`` as their reason,
and the title and status bar say "no world".
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QTextEdit,
    QWidget,
)

from app.config import LabConfig
from app.session import NO_WORLD, NoWorld
from sim.spec import MESH_SUFFIXES as _MESH_SUFFIXES
from ui import jobs, services
from ui.lab_state import LabState, MapSnapshot, SessionFrame
from ui.outcomes import explore_outcome, nav_outcome
from ui.qt_activity import QtActivityLog
from ui.qt_camera_pane import QtCameraPane
from ui.qt_controls import QtControlsPane, QtLLMDialog
from ui.qt_forest_pane import QtForestPane
from ui.qt_help import FIRST_HINT, HOW_TO_HTML, MEMORY_HINT, QtHelpDialog, shortcuts_html
from ui.qt_map_pane import QtMapPane
from ui.qt_query_pane import QtQueryPane, QtViewPicker
from ui.qt_status import QtStatusLine
from ui.qt_util import show_error
from ui.worker import Job, QtSessionController

log = logging.getLogger(__name__)

__all__ = ["QtMainWindow"]

_KEYS = {Qt.Key.Key_W: "forward", Qt.Key.Key_Up: "forward", Qt.Key.Key_S: "backward", Qt.Key.Key_Down: "backward",
         Qt.Key.Key_A: "left", Qt.Key.Key_Left: "left", Qt.Key.Key_D: "right", Qt.Key.Key_Right: "right"}
_TEXT_INPUTS = (QLineEdit, QTextEdit, QAbstractSpinBox, QComboBox, QAbstractItemView)
COMPACT_HEIGHT = 900  # window heights below this tab the camera and forest docks
_EXCLUSIVE_KINDS = ("world", "open", "explore", "step", "go", "scenario", "save", "save_as", "refresh")


class QtMainWindow(QMainWindow):
    """Embodied-RAG Lab's desktop window."""

    job_done = Signal(str, object)  # kind, result (tests and the start-up script wait on it)
    job_error = Signal(str, str)  # kind, message

    def __init__(self, config: LabConfig | None = None, *, state: LabState | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Embodied-RAG Lab")
        self.state = state or LabState(config)
        self.controller = QtSessionController(self.state, self)
        self.map_pane = QtMapPane()
        self.camera_pane = QtCameraPane()
        self.controls = QtControlsPane()
        self.controls.set_perception(self.state.config.memory.perception.type)
        self.query_pane = QtQueryPane()
        self.forest_pane = QtForestPane()
        self.activity = QtActivityLog()
        self.setCentralWidget(self.map_pane)
        self.docks: dict[str, QDockWidget] = {}
        # the controls scroll rather than push the window past a laptop screen's height
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.controls)
        scroll.setMinimumWidth(self.controls.minimumSizeHint().width() + 14)
        self._dock("Controls", scroll, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Camera", self.camera_pane, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Activity", self.activity, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Query", self.query_pane, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Forest", self.forest_pane, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.docks["Camera"], self.docks["Activity"])
        self.docks["Camera"].raise_()
        self._laid_out = False
        self._build_status_bar()
        self._build_menus()
        self._wire()
        self.frame: SessionFrame | None = None
        self.snapshot: MapSnapshot | None = None
        self.world: jobs.WorldInfo | None = None
        self.memory_path: str | None = None
        self.last_result: dict[str, Any] = {}
        self._explore_job: Job | None = None
        self._explore_budget: int | None = None
        self._teleop_pending = 0
        self._fps_timer = QTimer(self)
        self._fps_timer.timeout.connect(self._on_fps_tick)
        self._fps_timer.start(500)
        self.query_pane.set_features(services.missing("query"), services.missing("navigation"))
        self.controls.set_first_hint(FIRST_HINT)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    # ------------------------------------------------------------------ construction
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        d = QDockWidget(title, self)
        d.setObjectName(f"dock-{title.lower()}")
        d.setWidget(widget)
        f = QDockWidget.DockWidgetFeature
        d.setFeatures(f.DockWidgetMovable | f.DockWidgetFloatable | f.DockWidgetClosable)
        self.addDockWidget(area, d)
        self.docks[title] = d

    def _build_status_bar(self) -> None:
        self.status_line = QtStatusLine(self.statusBar(), self.activity)
        st = self.status_line
        self.progress, self.cancel_button, self.result_line = st.progress, st.cancel_button, st.result_line
        self.levels_label, self.coverage_label, self.fps_label = st.levels_label, st.coverage_label, st.fps_label
        self.cancel_button.clicked.connect(self._on_cancel_click)

    def _action(self, menu, text: str, slot, shortcut: str | None = None, tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setToolTip(tip)
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        menu.addAction(a)
        return a

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self.new_world_action = self._action(f, "New world", lambda: self.new_world(self.controls.scene_spec()),
                                             "Ctrl+N")
        self._action(f, "Open scene file…", self._on_open_scene_click)
        f.addSeparator()
        self._action(f, "Open memory…", self._on_open_memory_click, "Ctrl+O")
        self.save_action = self._action(f, "Save memory", self._on_save_click, "Ctrl+S")
        self.save_as_action = self._action(f, "Save memory as…", self._on_save_as_click, "Ctrl+Shift+S")
        self.autosave_action = QAction("Autosave", self, checkable=True, checked=self.state.autosave)
        self.autosave_action.toggled.connect(self._on_autosave_change)
        f.addAction(self.autosave_action)
        f.addSeparator()
        self.scenario_action = self._action(f, "Run scenario…", self._on_scenario_click)
        why = services.missing("scenario")
        self.scenario_action.setEnabled(why is None)
        self.scenario_action.setToolTip(why or "run a scenario file and open its report")
        f.setToolTipsVisible(True)
        self.controls.set_scenario_missing(why)
        f.addSeparator()
        self._action(f, "Quit", self.close, "Ctrl+Q")
        s = mb.addMenu("&Settings")
        self._action(s, "LLM server…", self._on_llm_click)
        v = mb.addMenu("&View")
        for d in self.docks.values():
            v.addAction(d.toggleViewAction())
        v.addSeparator()
        self._action(v, "Fit 3D view", self.map_pane.fit_view, "F")
        self._action(v, "Refresh forest summaries", self._on_refresh_click, "F5")
        h = mb.addMenu("&Help")
        self._action(h, "How to…", self._on_howto_click, "F1")
        self._action(h, "Keyboard shortcuts", self._on_shortcuts_click)
        h.addSeparator()
        self._action(h, "About", self._on_about_click)

    def _wire(self) -> None:
        w = self.controller.worker
        w.job_started.connect(self._on_job_start)
        w.job_progress.connect(self._on_job_progress)
        w.job_finished.connect(self._on_job_finish)
        w.job_failed.connect(self._on_job_fail)
        w.job_cancelled.connect(self._on_job_cancel)
        w.frame_ready.connect(self._on_frame_change)
        w.map_ready.connect(self._on_map_change)
        c = self.controls
        c.new_world_requested.connect(self.new_world)
        c.open_scene_requested.connect(self._on_open_scene_click)
        c.explore_toggled.connect(self._on_explore_toggle)
        c.step_requested.connect(lambda: self._submit("step", jobs.step_once, "step"))
        c.speed_changed.connect(self.controller.set_speed)
        c.teleop_requested.connect(self.teleop)
        c.open_memory_requested.connect(self._on_open_memory_click)
        c.save_memory_requested.connect(self._on_save_click)
        c.save_memory_as_requested.connect(self._on_save_as_click)
        c.autosave_toggled.connect(self.autosave_action.setChecked)
        c.llm_settings_requested.connect(self._on_llm_click)
        c.scenario_requested.connect(self._on_scenario_click)
        self.controller.set_speed(c.speed_value())
        q = self.query_pane
        q.ask_requested.connect(self.ask)
        q.go_requested.connect(self.go_to)
        q.hit_selected.connect(self._on_node_select)
        q.pick_view_requested.connect(lambda: self._submit("views", jobs.past_views, "past views", exclusive=False))
        self.forest_pane.node_selected.connect(self._on_node_select)
        self.forest_pane.go_requested.connect(self.go_to)

    # ------------------------------------------------------------------ public actions
    def _submit(self, kind: str, fn, title: str, *, exclusive: bool | None = None, paced: bool = False,
                **kwargs: Any) -> Job:
        excl = kind in _EXCLUSIVE_KINDS if exclusive is None else exclusive
        return self.controller.submit(kind, fn, title=title, exclusive=excl, paced=paced, **kwargs)

    def _stop_driving(self) -> None:
        # a new session replaces the robot: stop exploring or driving instead of queueing behind it
        for job in list(self.controller.running.values()):
            if job.kind in ("explore", "step", "go"):
                job.cancel.cancel()

    def new_world(self, spec: str) -> Job:
        """Build the world ``spec`` and start a fresh session in it."""
        self._stop_driving()
        perception = self.controls.perception()
        return self._submit("world", jobs.new_world, f"new world {spec} ({perception} perception)", spec=spec,
                            perception=perception)

    def open_memory(self, path: str, scene: str | None = None) -> Job:
        """Open a memory file in the world it was built in (or ``scene``)."""
        self._stop_driving()
        return self._submit("open", jobs.open_memory, f"open {Path(path).name}", path=path, scene=scene)

    def explore(self, steps: int, *, paced: bool = True) -> Job | None:
        """Explore for ``steps`` steps (the Start/Pause button follows); None when no world is open."""
        if self._hint_no_world():
            self.controls.set_exploring(False)
            return None
        self.controls.set_exploring(True)
        self.controls.set_first_hint(None)
        if self.controls.steps.value() != steps:
            self.controls.steps.setValue(steps)  # the Steps field shows the budget this run has
        self._explore_budget = steps
        self._explore_job = self._submit("explore", jobs.explore, "exploring", paced=paced, steps=steps)
        return self._explore_job

    def pause(self) -> None:
        if self._explore_job is not None:
            self._explore_job.cancel.cancel()

    @property
    def drivable(self) -> bool:
        """Whether a world is open to drive in (not just a memory)."""
        return self.world is not None and self.world.has_world

    def _hint_no_world(self) -> bool:
        """Say why driving is off (status bar, not a dialog); True when there is nothing to drive."""
        if self.world is not None and not self.world.has_world:
            self.statusBar().showMessage(NO_WORLD, 5000)
            return True
        return False

    def teleop(self, key: str) -> None:
        if self._hint_no_world():
            return
        if self._teleop_pending >= 2 or self._explore_job is not None:
            return  # key auto-repeat must not pile up steps; exploration owns the robot
        self._teleop_pending += 1
        self._submit("teleop", jobs.teleop, "drive", exclusive=False, key=key)

    def ask(self, params: services.QueryParams) -> Job:
        if params.text and self.query_pane.text.text() != params.text:
            self.query_pane.text.setText(params.text)  # questions asked from code show like typed ones
        self.query_pane.set_busy(True)
        if self.controls.first_hint.text() == MEMORY_HINT:
            self.controls.set_first_hint(None)  # done what it said
        return self._submit("ask", jobs.ask, "asking", exclusive=False, params=params)

    def go_to(self, goal: list[float], floor: int | None = None) -> Job | None:
        """Drive the robot to ``goal`` (the answer's goal; ``floor`` None: from its height); None
        when no world is open."""
        if self._hint_no_world():
            return None
        return self._submit("go", jobs.go_to, "driving to the goal", paced=True, goal=tuple(goal), floor=floor)

    def save_memory_as(self, path: str) -> Job:
        return self._submit("save_as", jobs.save_memory_as, f"saving {Path(path).name}", path=path)

    def run_scenario(self, path: str) -> Job:
        return self._submit("scenario", jobs.run_scenario, f"scenario {Path(path).name}", path=path)

    @property
    def busy(self) -> bool:
        return any(j.exclusive for j in self.controller.running.values())

    # ------------------------------------------------------------------ worker signals
    def _on_job_start(self, job: Job) -> None:
        if job.exclusive:
            self.status_line.job_started(job.title)

    def report(self, text: str, kind: str = "info") -> None:
        """Keep ``text`` as the last result (status bar) and in the activity log (``kind``: info, done,
        error)."""
        self.status_line.report(text, kind)

    def _on_job_progress(self, job: Job, p) -> None:
        self.status_line.job_progress(job.kind, job.title, p.done, p.total, p.message)

    def _end_job(self, job: Job) -> None:
        if job.exclusive and not any(j.exclusive for j in self.controller.running.values()):
            self.status_line.jobs_ended()
        if job.kind == "teleop":
            self._teleop_pending = max(0, self._teleop_pending - 1)
        if job.kind == "explore" and job is self._explore_job:
            self._explore_job = None
            self.controls.set_exploring(False)
        if job.kind == "ask":
            self.query_pane.set_busy(False)

    def _on_job_finish(self, job: Job, result: Any) -> None:
        self._end_job(job)
        self.last_result[job.kind] = result
        kind = job.kind
        if kind in ("world", "open"):
            self._on_world_change(result)
        elif kind == "explore" and result is not None:
            self.report(explore_outcome(result, self._explore_budget), "done")
        elif kind == "details":
            if result.id == self.forest_pane.selected or result.id == self.map_pane.selected:
                self.forest_pane.show_details(result)
        elif kind == "views":
            self._pick_view(result)
        elif kind == "ask":
            self.query_pane.set_outcome(result)
            hits = result.response.get("hits") or []
            if hits:
                self._on_node_select(str(hits[0]["id"]))
                self.forest_pane.select_node(str(hits[0]["id"]))
        elif kind == "go":
            ok = bool(getattr(result, "success", False))
            self.report(nav_outcome(result) if hasattr(result, "stop_reason") else f"navigation: {result}",
                        "done" if ok else "error")
        elif kind in ("save", "save_as"):
            self.memory_path = result
            self.controls.set_memory_path(result)
            self.report(f"Memory saved to {result}", "done")
            self._update_title()
        elif kind == "scenario":
            report = services.report_path(result)
            self.report(f"Scenario finished; report {report}", "done")
            if report is not None and report.exists():
                QDesktopServices.openUrl(QUrl.fromLocalFile(str(report.resolve())))
        self.job_done.emit(kind, result)

    def _on_job_fail(self, job: Job, error: BaseException) -> None:
        self._end_job(job)
        if isinstance(error, NoWorld):  # a hint, not a failure: the controls already say so
            self.statusBar().showMessage(str(error), 8000)
            self.job_error.emit(job.kind, str(error))
            return
        self.report(f"{job.title.capitalize()} failed: {error}", "error")
        from sim.errors import LabError

        details = "" if isinstance(error, LabError) else job.error_trace
        show_error(self, f"{job.title.capitalize()} failed", error, details)
        self.job_error.emit(job.kind, str(error))

    def _on_job_cancel(self, job: Job) -> None:
        self._end_job(job)
        self.report(f"{job.title.capitalize()}: cancelled")
        self.job_done.emit(job.kind, None)

    def _on_world_change(self, info: jobs.WorldInfo) -> None:
        self.world = info
        self.memory_path = info.memory_path
        no_world = None if info.has_world else NO_WORLD
        self.controls.set_session_open(True, no_world)
        self.controls.set_memory_path(info.memory_path)
        self.query_pane.clear()
        self.query_pane.set_no_world(no_world)
        self.forest_pane.set_go_blocked(no_world or services.missing("navigation"))
        self.forest_pane.set_tree(None)
        self.map_pane.highlight(None)
        self.controls.show_world(info.scene, info.name)
        if self.controls.first_hint.text():  # nothing done yet: the lead fits what is open (Start needs a world)
            self.controls.set_first_hint(FIRST_HINT if info.has_world else MEMORY_HINT)
        self._update_title()
        if info.has_world:
            floors = f", {info.floors} floors" if info.floors > 1 else ""
            self.report(f"Opened {info.scene}{floors}" + (f" with {Path(info.memory_path).name}"
                                                         if info.memory_path else ""))
        else:
            self.report(f"Opened {info.name} — no world: its graph and forest are shown where they were recorded; "
                        "ask it anything, open a scene to drive")

    def _update_title(self) -> None:
        info = self.world
        path = self.memory_path
        if info is not None and not info.has_world:
            parts = ["Embodied-RAG Lab", Path(path).name if path else info.name, "no world"]
        else:
            parts = ["Embodied-RAG Lab"] + ([info.scene] if info else []) + ([Path(path).name] if path else [])
        self.setWindowTitle(" — ".join(parts))

    def _on_frame_change(self, frame: SessionFrame) -> None:
        self.frame = frame
        self.camera_pane.set_frame(frame)
        self.status_line.set_frame(frame)

    def _on_map_change(self, snap: MapSnapshot) -> None:
        self.snapshot = snap
        self.map_pane.set_snapshot(snap)
        self.forest_pane.set_tree(snap.tree)

    def _on_fps_tick(self) -> None:
        n = len(self.snapshot.cloud) if self.snapshot is not None else 0
        ms = self.map_pane.view.paint_ms
        self.status_line.set_fps(self.map_pane.view.fps(), ms[-1] if ms else None, n)

    # ------------------------------------------------------------------ handlers
    def _on_node_select(self, node_id: str) -> None:
        if not node_id:
            return
        self.map_pane.highlight(node_id)
        self._submit("details", jobs.node_details, "node details", exclusive=False, node_id=node_id)

    def _on_explore_toggle(self, on: bool) -> None:
        if on and self._explore_job is None:
            self.explore(self.controls.steps.value())
        elif not on:
            self.pause()

    def _on_cancel_click(self) -> None:
        for job in list(self.controller.running.values()):
            if job.exclusive:
                job.cancel.cancel()

    def _on_open_scene_click(self) -> None:
        pattern = " ".join(f"*{s}" for s in _MESH_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Open scene file", str(Path.home()), f"Scenes ({pattern})")
        if path:
            self.new_world(path)

    def _memory_dir(self) -> Path:
        """Where Open and Save as start: the open memory's folder, else the autosave folder."""
        if self.memory_path:
            return Path(self.memory_path).parent
        return self.state.autosave_dir

    def _on_open_memory_click(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open memory", str(self._memory_dir()), "Memory (*.db)")
        if path:
            self.open_memory(path)

    def _on_save_click(self) -> None:
        if self.world is not None and self.memory_path is None:
            self._on_save_as_click()  # autosave was off: the memory has no file yet
            return
        self._submit("save", jobs.save_memory, "saving the memory")

    def _on_save_as_click(self) -> None:
        name = Path(self.memory_path).name if self.memory_path else (self.world.name if self.world else "memory")
        name = name if name.endswith(".db") else f"{name}.db"
        path, _ = QFileDialog.getSaveFileName(self, "Save memory as", str(self._memory_dir() / name), "Memory (*.db)")
        if path:
            self.save_memory_as(path if path.endswith(".db") else path + ".db")

    def _on_autosave_change(self, on: bool) -> None:
        self.state.autosave = on  # read by the worker when the next world opens
        self.controls.autosave.setChecked(on)

    def _on_scenario_click(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Run scenario", str(Path.cwd()), "Scenario (*.yaml *.yml)")
        if path:
            self.run_scenario(path)

    def _on_refresh_click(self) -> None:
        self._submit("refresh", jobs.refresh_memory, "refreshing the forest")

    def _on_llm_click(self) -> None:
        dlg = QtLLMDialog(self.state.llm, self)
        if dlg.exec():
            self.state.llm = dlg.chosen  # read by the worker at the next query
            self.statusBar().showMessage("LLM: " + (dlg.chosen.base_url if dlg.chosen else "off"), 5000)

    def _pick_view(self, views: list) -> None:
        if not views:
            self.statusBar().showMessage("no remembered views yet", 5000)
            return
        dlg = QtViewPicker(views, self)
        if dlg.exec():
            chosen = dlg.chosen()
            if chosen is not None:
                self.query_pane.set_query_image(chosen[1], chosen[0])

    def _on_howto_click(self) -> None:
        QtHelpDialog("How to use Embodied-RAG Lab", HOW_TO_HTML, self).show()

    def _on_shortcuts_click(self) -> None:
        actions = [a for m in self.menuBar().findChildren(QMenu) for a in m.actions()]
        QtHelpDialog("Keyboard shortcuts", shortcuts_html(dict.fromkeys(actions)), self).show()

    def _on_about_click(self) -> None:
        QMessageBox.about(self, "Embodied-RAG Lab", "A robot explores 3D worlds and builds a non-parametric memory "
                          "(topological graph + semantic forest) that answers questions and sends it back.")

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._laid_out:  # dock sizes only stick once the window has its size
            self._laid_out = True
            QTimer.singleShot(0, self.default_layout)

    def default_layout(self) -> None:
        """Controls over camera (activity as its tab) on the left, query over forest on the right, the
        3D map between; on a laptop screen (under ~900 px high) camera and forest become tabs beside
        controls and query, so that every control keeps its full size."""
        d = self.docks
        compact = self.height() < COMPACT_HEIGHT
        if compact:
            self.tabifyDockWidget(d["Controls"], d["Camera"])
            self.tabifyDockWidget(d["Camera"], d["Activity"])
            self.tabifyDockWidget(d["Query"], d["Forest"])
            d["Controls"].raise_()
            d["Query"].raise_()
        side = max(300, min(450, self.width() // 4))
        self.resizeDocks([d["Controls"], d["Query"]], [min(330, side), side], Qt.Orientation.Horizontal)
        if not compact:
            h = max(600, self.height() - 60)
            # the controls get their full height (no scrolling when the screen has room), the camera the rest
            top = min(self.controls.sizeHint().height() + 30, h - 260)
            self.resizeDocks([d["Controls"], d["Camera"]], [top, h - top], Qt.Orientation.Vertical)
            self.resizeDocks([d["Query"], d["Forest"]], [int(h * 0.58), int(h * 0.42)], Qt.Orientation.Vertical)
        self.controls.explore_button.setFocus()  # Start is the first thing to do (Space or Enter presses it)

    # ------------------------------------------------------------------ keys, closing
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.KeyPress and isinstance(obj, QWidget) and obj.window() is self:
            mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier  # arrows carry it on some systems
            key = _KEYS.get(Qt.Key(event.key())) if mods == Qt.KeyboardModifier.NoModifier else None
            if key is not None and not isinstance(obj, _TEXT_INPUTS) and self.world is not None:
                if self._hint_no_world():
                    return False  # nothing to drive: the 3D view may still use the arrows to orbit
                self.teleop(key)
                return True
        return super().eventFilter(obj, event)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self._fps_timer.stop()
        self.controller.stop()
        super().closeEvent(event)
