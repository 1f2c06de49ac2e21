"""'Open in Open3D': the map file and the viewer process (built with --check, no window)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from ui.open3d_viewer import build_geometries, save_map

ROOT = Path(__file__).resolve().parents[2]


def test_map_file_round_trip_and_viewer_check(explored_state, tmp_path):
    snap = explored_state.map_snapshot(force=True)
    path = save_map(snap, tmp_path / "map.npz")
    data = np.load(path)
    assert len(data["cloud_points"]) == len(snap.cloud) and data["cloud_colors"].shape[1] == 3
    geoms = build_geometries(path)
    assert len(geoms) > 3
    r = subprocess.run([sys.executable, "-m", "ui.open3d_viewer", str(path), "--check"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok:")
