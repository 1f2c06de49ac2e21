"""``launcher.py bench gui``: frames per second of the 3D pane at 20k / 50k / 200k points.

The measurement runs in a child process (a fresh ``QApplication`` and GL context) on the
current ``DISPLAY``, or on a private Xvfb started for it when there is none. Each size draws a
coloured cloud the way the map pane does (``GLScatterPlotItem`` with points sized in metres,
8 cm) in a 1280x800 view that orbits every frame; ``glFinish`` after each repaint makes the software renderer's
work count. Also reported: the time to upload the points (``setData``) and the GL renderer.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["run_gui_bench", "SIZES"]

SIZES = (20_000, 50_000, 200_000)


def run_gui_bench(quick: bool = False, sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    """Frames per second per cloud size (see the module docstring)."""
    seconds = 1.5 if quick else 4.0
    cmd = [sys.executable, "-m", "ui.bench_gui", "--seconds", str(seconds), "--sizes", ",".join(map(str, sizes))]
    env = dict(os.environ, QT_QPA_PLATFORM="xcb")
    root = str(Path(__file__).resolve().parents[1])
    if os.environ.get("DISPLAY"):
        out = _child(cmd, env, root)
        out["display"] = "existing DISPLAY"
        return out
    from ui.xvfb import XVFB_SCREEN, private_display

    with private_display() as display:
        env["DISPLAY"] = display
        out = _child(cmd, env, root)
    out["display"] = f"private Xvfb ({XVFB_SCREEN})"
    return out


def _child(cmd: list[str], env: dict, cwd: str) -> dict[str, Any]:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        from sim.errors import LabError

        raise LabError(f"GUI benchmark failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return json.loads(lines[-1])


def _cloud(n: int, rng) -> tuple:
    """A house-like cloud: floor, walls and clutter in a 12 m x 10 m box."""
    import numpy as np

    k = n // 3
    floor = np.column_stack([rng.uniform(0, 12, k), rng.uniform(0, 10, k), np.zeros(k)])
    wall_x = rng.choice([0.0, 4.0, 8.0, 12.0], k)
    walls = np.column_stack([wall_x, rng.uniform(0, 10, k), rng.uniform(0, 2.1, k)])
    m = n - 2 * k
    clutter = np.column_stack([rng.uniform(0, 12, m), rng.uniform(0, 10, m), rng.uniform(0, 1.2, m)])
    pts = np.concatenate([floor, walls, clutter]).astype(np.float32)
    cols = np.ones((n, 4), dtype=np.float32)
    cols[:, :3] = rng.uniform(0.2, 1.0, (n, 3))
    return pts, cols


def _measure(sizes: list[int], seconds: float) -> dict[str, Any]:
    import numpy as np
    import pyqtgraph.opengl as gl
    from OpenGL import GL
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["bench-gui"])
    view = gl.GLViewWidget()
    view.resize(1280, 800)
    view.setCameraPosition(distance=16, elevation=30, azimuth=-60)
    view.show()
    item = gl.GLScatterPlotItem(size=0.08, pxMode=False)
    item.setGLOptions("opaque")
    view.addItem(item)
    for _ in range(5):
        app.processEvents()
    view.makeCurrent()
    renderer = GL.glGetString(GL.GL_RENDERER)
    rng = np.random.default_rng(0)
    results = []
    for n in sizes:
        pts, cols = _cloud(n, rng)
        t0 = time.perf_counter()
        item.setData(pos=pts, color=cols)
        view.repaint()
        view.makeCurrent()
        GL.glFinish()
        upload_ms = (time.perf_counter() - t0) * 1000.0
        for _ in range(3):
            view.orbit(1.0, 0.0)
            view.repaint()
        frames = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            view.orbit(2.0, 0.0)
            view.repaint()
            view.makeCurrent()
            GL.glFinish()
            app.processEvents()
            frames += 1
        dt = time.perf_counter() - t0
        results.append({"points": n, "fps": round(frames / dt, 1), "ms_per_frame": round(dt / frames * 1000.0, 2),
                        "first_frame_ms": round(upload_ms, 1)})
    view.close()
    return {"renderer": renderer.decode() if isinstance(renderer, bytes) else str(renderer),
            "view": "1280x800", "point_size_m": 0.08, "seconds_per_size": seconds, "sizes": results}


def main(argv: list[str] | None = None) -> int:
    """Child entry point: ``python -m ui.bench_gui --seconds S --sizes 20000,50000``; prints JSON."""
    import argparse

    ap = argparse.ArgumentParser(prog="ui.bench_gui")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = ap.parse_args(argv)
    import ui  # noqa: F401 - loads triton before any GL context (see ui/__init__.py)

    out = _measure([int(s) for s in args.sizes.split(",") if s], args.seconds)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
