"""The session worker through its Qt signals, offscreen: jobs run off the GUI thread, one at a time."""
from __future__ import annotations

import threading

import pytest

from ui import jobs
from ui.lab_state import LabState
from ui.worker import QtSessionController, run_in_background

SMALL_WORLD = "rooms:n=3,seed=1"


@pytest.fixture
def controller(qtbot, tmp_path):
    c = QtSessionController(LabState(autosave_dir=tmp_path))
    yield c
    c.stop()
    assert not c.worker.running


def _run(qtbot, c, kind, fn, timeout=60000, **kw):
    with qtbot.waitSignal(c.worker.job_finished, timeout=timeout, check_params_cb=lambda j, r: j.kind == kind) as sig:
        job = c.submit(kind, fn, **kw)
    return job, sig.args[1]


def test_jobs_run_on_the_worker_thread_and_stream_views(qtbot, controller):
    threads = []
    frames, maps = [], []
    controller.worker.frame_ready.connect(frames.append)
    controller.worker.map_ready.connect(maps.append)
    _, info = _run(qtbot, controller, "world", jobs.new_world, spec=SMALL_WORLD)
    assert info.scene == SMALL_WORLD
    _, where = _run(qtbot, controller, "probe", lambda s, c: threading.current_thread().name)
    threads.append(where)
    assert threads == ["session-worker"]
    _, summary = _run(qtbot, controller, "explore", jobs.explore, steps=25)
    assert summary.episode.steps == 25
    qtbot.waitUntil(lambda: bool(frames and maps))
    assert frames[-1].step >= 25 and len(maps[-1].cloud) > 0
    assert len(frames) <= 25 + 10  # throttled: not one frame per step plus the forced ones


def test_short_jobs_run_between_steps_and_cancel_pauses(qtbot, controller):
    _run(qtbot, controller, "world", jobs.new_world, spec=SMALL_WORLD)
    controller.set_speed(20.0)  # paced: about 20 steps per second
    explore = controller.submit("explore", jobs.explore, paced=True, steps=10_000)
    qtbot.waitUntil(lambda: explore.id in controller.running, timeout=10000)
    _, details = _run(qtbot, controller, "details", lambda s, c: s.frame().step, exclusive=False, timeout=5000)
    assert 0 <= details < 10_000  # answered while exploring
    with qtbot.waitSignal(controller.worker.job_finished, timeout=20000,
                          check_params_cb=lambda j, r: j is explore) as sig:
        explore.cancel.cancel()
    assert sig.args[1].episode.stop_reason == "cancelled"


def test_failures_reach_the_gui_with_a_traceback(qtbot, controller):
    def boom(state, cancel):
        raise RuntimeError("kaput")

    with qtbot.waitSignal(controller.worker.job_failed, timeout=10000) as sig:
        controller.submit("boom", boom)
    job, err = sig.args
    assert str(err) == "kaput" and "RuntimeError" in job.error_trace
    with qtbot.waitSignal(controller.worker.job_failed, timeout=10000) as sig:
        controller.submit("teleop", jobs.teleop, exclusive=False, key="forward")
    assert "no world is open" in str(sig.args[1])


def test_run_in_background_calls_back_on_the_gui_thread(qtbot):
    got = []
    run_in_background(lambda: 41 + 1, lambda r, e: got.append((r, e, threading.current_thread().name)))
    qtbot.waitUntil(lambda: bool(got), timeout=5000)
    assert got[0][:2] == (42, None) and got[0][2] == threading.main_thread().name
