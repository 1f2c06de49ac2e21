"""``ui.app``: the start-up script that chains the command line's steps, and its errors."""
from __future__ import annotations

import argparse

import pytest
from PySide6.QtCore import QObject, Signal

from sim.errors import LabError
from ui.app import StartupScript, _qt_environment, run_gui


class _FakeWindow(QObject):
    job_done = Signal(str, object)
    job_error = Signal(str, str)


def test_startup_steps_run_in_order_and_wait_for_their_jobs(qtbot):
    win = _FakeWindow()
    calls, finished = [], []
    steps = [("world", lambda: calls.append("world") or "job"), ("sync", lambda: calls.append("sync")),
             ("explore", lambda: calls.append("explore") or "job")]
    script = StartupScript(win, steps, finished.append)
    script.start()
    assert calls == ["world"] and script.waiting == "world"
    win.job_done.emit("details", None)  # other jobs do not advance the script
    assert calls == ["world"]
    win.job_done.emit("world", None)
    assert calls == ["world", "sync", "explore"] and script.waiting == "explore"
    win.job_error.emit("explore", "boom")
    assert finished == [False]


def test_no_display_is_one_clear_error(monkeypatch):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(LabError, match="no display"):
        _qt_environment()
    with pytest.raises(LabError, match="no display"):
        run_gui(argparse.Namespace(scene=None, memory=None, screenshot=None, explore_steps=0))
