"""GUI tests.

Widgets without GL run in this process under ``QT_QPA_PLATFORM=offscreen``. The GL tests (3D
pane, the whole window driven through qtbot, screenshots, the GUI benchmark) need a GL context,
which offscreen cannot give: ``test_gl.py`` starts a private Xvfb (``ui.xvfb``, a free display
picked by Xvfb itself, always stopped) and runs ``gl_cases.py`` in a child pytest on it with the
xcb platform. One process can hold only one QApplication on one platform, hence the child.
"""
from __future__ import annotations

import os

if os.environ.get("LAB_GL_CHILD") != "1":
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # even on a desktop: these tests never need GL
else:
    from ui.app import share_gl_contexts

    share_gl_contexts()  # as the app does (before pytest-qt creates the QApplication)

import pytest  # noqa: E402

import ui  # noqa: E402,F401 - loads triton before any GL context (see ui/__init__.py)
from app.progress import CancelToken, drain  # noqa: E402

SMALL_WORLD = "rooms:n=3,seed=1"


@pytest.fixture(scope="session")
def explored_state(tmp_path_factory):
    """A session in a small three-room world after 80 exploration steps (shared, read-mostly)."""
    from ui import jobs
    from ui.lab_state import LabState

    state = LabState(autosave_dir=tmp_path_factory.mktemp("autosave"))
    drain(jobs.new_world(state, CancelToken(), SMALL_WORLD))
    drain(jobs.explore(state, CancelToken(), 80))
    yield state
    state.close()
