"""``python launcher.py [gui]``: open the desktop app.

``run_gui(args)`` builds the ``QApplication`` and the main window, then runs the start-up steps
the command line asks for, one after another as each job finishes: open ``--memory`` (in its
own world, or ``--scene``; an imported memory that names no world opens on its own) or build
``--scene`` (default ``house:seed=3,rooms=6``), explore
``--explore-steps`` steps, ask ``args.query`` when the namespace has one, and with
``--screenshot PNG`` save a picture of the window and quit.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["run_gui", "DEFAULT_SCENE", "StartupScript", "share_gl_contexts"]

DEFAULT_SCENE = "house:seed=3,rooms=6"
SCREENSHOT_TIMEOUT_S = 900


def _qt_environment() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models ship inside packages
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and sys.platform.startswith("linux") \
            and not os.environ.get("QT_QPA_PLATFORM"):
        from sim.errors import LabError

        raise LabError("no display: run the app on a desktop, or under 'xvfb-run -a' for screenshots")


class StartupScript:
    """Runs start-up steps in order; each step submits a job (or returns None to go on at once)."""

    def __init__(self, window: Any, steps: list[tuple[str, Callable[[], Any]]],
                 on_done: Callable[[bool], None]) -> None:
        self.window = window
        self.steps = list(steps)
        self.on_done = on_done
        self.waiting: str | None = None
        self.failed = False
        window.job_done.connect(self._on_job_done)
        window.job_error.connect(self._on_job_error)

    def start(self) -> None:
        self._next()

    def _next(self) -> None:
        while self.steps:
            kind, step = self.steps.pop(0)
            log.info("start-up: %s", kind)
            if step() is not None:
                self.waiting = kind
                return
        self.waiting = None
        self.on_done(not self.failed)

    def _on_job_done(self, kind: str, _result: Any) -> None:
        if kind == self.waiting:
            self.waiting = None
            self._next()

    def _on_job_error(self, kind: str, message: str) -> None:
        if kind == self.waiting:
            log.error("start-up step %s failed: %s", kind, message)
            self.failed = True
            self.waiting = None
            self._next()


def share_gl_contexts() -> None:
    """Make every GL context share resources (call before the QApplication exists).

    pyqtgraph caches its compiled shader programs per item class, not per context; with shared
    contexts a program compiled for one GL view stays valid in any later one.
    """
    from PySide6.QtCore import QCoreApplication, Qt

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


def run_gui(args: Any) -> int:
    """Open the desktop app; returns the process exit code."""
    _qt_environment()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.config import load_lab_config
    from ui import services
    from ui.qt_main_window import QtMainWindow
    from ui.qt_util import apply_dark_theme

    share_gl_contexts()
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "embodied-rag-lab"])
    app.setApplicationName("Embodied-RAG Lab")
    apply_dark_theme(app)
    config = load_lab_config(getattr(args, "config", None))
    win = QtMainWindow(config)
    screen = app.primaryScreen()
    avail = screen.availableGeometry() if screen is not None else None
    # a laptop screen gets the window at its own size (the docks tab and scroll to fit), not 1600×1000
    win.resize(min(1600, avail.width()) if avail else 1600, min(1000, avail.height()) if avail else 1000)
    win.show()

    scene = getattr(args, "scene", None)
    memory = getattr(args, "memory", None)
    steps_n = int(getattr(args, "explore_steps", 0) or 0)
    query = getattr(args, "query", None)
    shot = getattr(args, "screenshot", None)
    steps: list[tuple[str, Callable[[], Any]]] = []
    if memory:
        steps.append(("open", lambda: win.open_memory(str(memory), scene)))
    else:
        steps.append(("world", lambda: win.new_world(scene or DEFAULT_SCENE)))
    if steps_n > 0:
        steps.append(("explore", lambda: win.explore(steps_n, paced=False)))
    if query and services.available("query"):
        steps.append(("ask", lambda: win.ask(services.QueryParams(text=str(query)))))
    elif query:
        log.warning("cannot ask %r: %s", query, services.missing("query"))
    exit_code = [0]

    def finished(ok: bool) -> None:
        if not shot:
            return
        exit_code[0] = 0 if ok else 1

        def save() -> None:
            _save_screenshot(win, shot)
            win.close()
            app.quit()

        QTimer.singleShot(1500, save)  # let the last snapshot reach the panes and repaint

    script = StartupScript(win, steps, finished)
    QTimer.singleShot(0, script.start)
    if shot:
        def give_up() -> None:
            log.error("start-up did not finish in %d s; saving the screenshot anyway", SCREENSHOT_TIMEOUT_S)
            exit_code[0] = 1
            _save_screenshot(win, shot)
            win.close()
            app.quit()

        QTimer.singleShot(SCREENSHOT_TIMEOUT_S * 1000, give_up)
    rc = app.exec()
    win.close()
    return exit_code[0] or int(rc)


def _save_screenshot(window: Any, path: str | Path) -> Path:
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QPainter

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    shot = window.grab()
    # QWidget.grab re-renders the GL scene without the text pyqtgraph paints over it: draw the
    # GL view's own framebuffer (labels included) over its place in the window
    view = window.map_pane.view
    painter = QPainter(shot)
    try:
        painter.drawImage(view.mapTo(window, QPoint(0, 0)), view.grabFramebuffer())
        legend = window.map_pane.legend
        painter.drawPixmap(legend.mapTo(window, QPoint(0, 0)), legend.grab())
    finally:
        painter.end()
    if not shot.save(str(p)):
        from sim.errors import LabError

        raise LabError(f"cannot write the screenshot {p}")
    log.info("saved a screenshot of the window to %s", p)
    print(f"screenshot: {p}")
    return p
