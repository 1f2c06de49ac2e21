"""What a first-time user meets: the window on a laptop screen, the first lead, help, the World panel
following the world that is open, results that stay. Offscreen: geometry and text, no GL pixels."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QMenu

from ui import jobs
from ui.lab_state import LabState
from ui.qt_help import FIRST_HINT, QtHelpDialog
from ui.qt_main_window import QtMainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    win = QtMainWindow(state=LabState(autosave_dir=tmp_path / "auto"))
    qtbot.addWidget(win)
    yield win
    win.close()


def _open(qtbot, win, w: int, h: int) -> None:
    win.resize(w, h)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win._laid_out)
    qtbot.wait(50)  # default_layout runs on the next turn of the event loop


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768)])
def test_key_buttons_fit_a_laptop_screen(qtbot, window, size):
    win = window
    _open(qtbot, win, *size)
    assert (win.width(), win.height()) == size  # the window's minimum size lets it be this small
    q, c = win.query_pane, win.controls
    keys = {"Start": c.explore_button, "Ask": q.ask_button, "Go there": q.go_button,
            "Open…": c.open_memory_button, "Save": c.save_button}
    inside = win.rect()
    for text, b in keys.items():
        assert b.text() == text and b.isVisible(), text
        r = QRect(b.mapTo(win, QPoint(0, 0)), b.size())
        assert inside.contains(r), (text, r, inside)
        assert b.visibleRegion().boundingRect() == b.rect(), text  # nothing covers or clips it
        assert b.width() >= b.sizeHint().width() and b.height() >= b.sizeHint().height(), text  # its text fits
    # nothing overlaps: the key buttons, and the status bar's labels, stay apart
    rects = [QRect(b.mapTo(win, QPoint(0, 0)), b.size()) for b in keys.values()]
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])
    labels = [win.result_line, win.levels_label, win.coverage_label, win.fps_label]
    lrects = [QRect(w.mapTo(win, QPoint(0, 0)), w.size()) for w in labels if w.isVisible()]
    assert not any(a.intersects(b) for i, a in enumerate(lrects) for b in lrects[i + 1:])


def test_first_screen_leads_to_start_and_help_is_there(qtbot, window):
    win = window
    _open(qtbot, win, 1600, 1000)
    c = win.controls
    assert c.explore_button.isDefault() and not win.query_pane.ask_button.isDefault()
    assert c.first_hint.text() == FIRST_HINT and c.first_hint.isVisible()
    help_menu = next(m for m in win.menuBar().findChildren(QMenu) if m.title() == "&Help")
    texts = [a.text() for a in help_menu.actions()]
    assert "How to…" in texts and "Keyboard shortcuts" in texts
    next(a for a in help_menu.actions() if a.text() == "Keyboard shortcuts").trigger()
    dlg = win.findChild(QtHelpDialog, "helpDialog")
    page = dlg.text.toPlainText()
    assert "Ctrl+O" in page and "Open memory" in page and "W / ↑" in page and "F1" in page
    dlg.close()


@pytest.mark.parametrize(("spec", "kind", "seed", "size"), [
    ("office:seed=1", "office", 1, None),
    ("multifloor:seed=2,floors=3", "multifloor", 2, 3),
    ("house:seed=7,rooms=9", "house", 7, 9),
])
def test_world_panel_title_and_log_follow_the_open_world(qtbot, window, spec, kind, seed, size):
    win = window
    _open(qtbot, win, 1280, 720)
    info = jobs.WorldInfo(spec, kind, "/tmp/x/world.db", 2 if kind == "multifloor" else 1,
                          ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)))
    win._on_world_change(info)
    c = win.controls
    assert c.world_type.currentText() == kind and c.seed.value() == seed
    if size is not None:
        assert c.size.value() == size
    assert c.scene_spec().startswith(f"{kind}:seed={seed}")  # New world builds this world again
    assert spec in c.world_open.text() and spec in win.windowTitle() and "world.db" in win.windowTitle()
    assert win.activity.lines()[-1].startswith(f"Opened {spec}") and win.result_line.toolTip().startswith("Opened")
    shown = win.result_line.text()  # the whole line, or cut with "…" where the status bar is narrow
    assert shown == win.result_line.toolTip() or (shown.endswith("…") and win.result_line.toolTip().startswith(
        shown[:-1]))
    win._on_world_change(jobs.WorldInfo("scenes/room.glb", "room", None, 1, info.bounds))
    assert c.world_type.currentText() == kind and "scenes/room.glb" in c.world_open.text()


def test_world_panel_offers_every_perception_and_starts_on_the_configs(qtbot, tmp_path):
    from app.config import PERCEPTION_MODES, LabConfig, with_perception

    win = QtMainWindow(state=LabState(with_perception(LabConfig(), "clip"), autosave_dir=tmp_path))
    qtbot.addWidget(win)
    c = win.controls
    modes = [c.perception_mode.itemText(i) for i in range(c.perception_mode.count())]
    assert modes == list(PERCEPTION_MODES) and c.perception() == "clip"
    c.set_perception("geometric")
    assert c.perception() == "geometric"
    win.close()
