"""Runs the GL tests (``gl_cases.py``) in a child pytest on a private Xvfb (see conftest.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ui.xvfb import private_display

ROOT = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT_S = 240


@pytest.mark.gl
def test_gl_cases_on_a_private_xvfb():
    with private_display() as display:
        env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", LAB_GL_CHILD="1")
        env.pop("WAYLAND_DISPLAY", None)
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "-rA", str(Path(__file__).with_name("gl_cases.py"))], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    print(r.stdout[-6000:])  # shown with -rA / on failure: the child's own report and figures
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
