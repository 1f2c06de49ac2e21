"""Open the current 3D map in Open3D's own viewer, in a separate process (no Qt here).

``save_map(snapshot, path)`` writes the map's layers to an ``.npz`` file; ``launch`` starts
``python -m ui.open3d_viewer FILE`` so the GUI never waits for the viewer window.
``build_geometries`` turns the file into Open3D geometries (tested headless); ``--check``
builds them and exits without opening a window.
"""
from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["save_map", "build_geometries", "launch", "main"]

_LINES = {  # layer -> (colour, closed segments (True) or a strip (False))
    "traverse": ((0.35, 0.95, 0.95), True),
    "forest_segments": ((0.55, 0.75, 1.0), True),
    "trajectory": ((1.0, 0.35, 0.25), False),
    "path": ((0.3, 1.0, 0.4), False),
}


def save_map(snapshot: Any, path: str | Path) -> Path:
    """Write the layers of a ``ui.lab_state.MapSnapshot`` to ``path`` (.npz)."""
    p = Path(path)
    arrays = {
        "cloud_points": snapshot.cloud.points, "cloud_colors": snapshot.cloud.colors[:, :3],
        "places": snapshot.graph.place_pos, "objects": snapshot.graph.object_pos,
        "traverse": snapshot.graph.traverse, "forest_nodes": snapshot.forest.positions,
        "forest_colors": snapshot.forest.colors[:, :3], "forest_segments": snapshot.forest.segments,
        "trajectory": snapshot.robot.trajectory if snapshot.robot is not None else np.zeros((0, 3), np.float32),
        "robot": snapshot.robot.position if snapshot.robot is not None else np.zeros((0, 3), np.float32),
        "hits": snapshot.hits.positions, "path": snapshot.path,
    }
    np.savez(p, **{k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()})
    return p


def _lineset(o3d: Any, pts: np.ndarray, colour: tuple[float, float, float], pairs: bool) -> Any:
    n = len(pts)
    idx = np.arange(n).reshape(-1, 2) if pairs else np.stack([np.arange(n - 1), np.arange(1, n)], axis=1)
    ls = o3d.geometry.LineSet(o3d.utility.Vector3dVector(pts.astype(np.float64)), o3d.utility.Vector2iVector(idx))
    ls.paint_uniform_color(colour)
    return ls


def _spheres(o3d: Any, pts: np.ndarray, radius: float, colour: tuple[float, float, float] | np.ndarray) -> list:
    """One mesh of small spheres (one geometry, not one per node: a street-view forest has thousands)."""
    if len(pts) == 0:
        return []
    cols = np.asarray(colour, dtype=np.float64).reshape(-1, 3)
    unit = o3d.geometry.TriangleMesh.create_sphere(radius=radius, resolution=8)
    unit.compute_vertex_normals()
    uv, ut, un = np.asarray(unit.vertices), np.asarray(unit.triangles), np.asarray(unit.vertex_normals)
    n, k = len(pts), len(uv)
    verts = (uv[None, :, :] + np.asarray(pts, dtype=np.float64)[:, None, :]).reshape(-1, 3)
    tris = (ut[None, :, :] + (np.arange(n) * k)[:, None, None]).reshape(-1, 3)
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(verts), o3d.utility.Vector3iVector(tris))
    mesh.vertex_normals = o3d.utility.Vector3dVector(np.tile(un, (n, 1)))
    mesh.vertex_colors = o3d.utility.Vector3dVector(np.repeat(cols[np.arange(n) % len(cols)], k, axis=0))
    return [mesh]


def build_geometries(path: str | Path) -> list:
    """Open3D geometries for a saved map: the cloud, graph and forest lines, nodes, robot and hits."""
    import open3d as o3d

    d = np.load(path)
    geoms: list = []
    if len(d["cloud_points"]):
        pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(d["cloud_points"].astype(np.float64)))
        pc.colors = o3d.utility.Vector3dVector(np.clip(d["cloud_colors"], 0, 1).astype(np.float64))
        geoms.append(pc)
    for name, (colour, pairs) in _LINES.items():
        pts = d[name]
        if len(pts) >= 2:
            geoms.append(_lineset(o3d, pts[: len(pts) // 2 * 2] if pairs else pts, colour, pairs))
    # node sizes grow with the map: a house is tens of metres, a street-view site a kilometre or two
    every = [d[k] for k in ("places", "objects", "forest_nodes") if len(d[k])]
    span = np.ptp(np.concatenate(every)[:, :2], axis=0).max() if every else 0.0
    r = max(1.0, float(span) / 40.0)
    geoms += _spheres(o3d, d["forest_nodes"], 0.12 * r,
                      d["forest_colors"] if len(d["forest_colors"]) else (0.5, 0.7, 1))
    geoms += _spheres(o3d, d["places"], 0.05 * r, (0.35, 0.95, 0.95))
    geoms += _spheres(o3d, d["objects"], 0.07 * r, (1.0, 0.7, 0.2))
    geoms += _spheres(o3d, d["robot"], 0.2 * r, (1.0, 0.2, 0.2))
    geoms += _spheres(o3d, d["hits"], 0.25 * r, (1.0, 0.95, 0.2))
    return geoms


def launch(snapshot: Any, folder: str | Path | None = None) -> tuple[subprocess.Popen, Path]:
    """Save ``snapshot`` and open it in Open3D's viewer in a new process; returns it and the file."""
    base = Path(folder) if folder is not None else Path(tempfile.gettempdir()) / "embodied-rag-lab"
    base.mkdir(parents=True, exist_ok=True)
    path = save_map(snapshot, base / f"map-{time.strftime('%Y%m%d-%H%M%S')}.npz")
    proc = subprocess.Popen([sys.executable, "-m", "ui.open3d_viewer", str(path)], cwd=str(Path(__file__).parents[1]),
                            stdin=subprocess.DEVNULL, start_new_session=True)
    log.info("opened %s in Open3D (pid %d)", path, proc.pid)
    return proc, path


def main(argv: list[str] | None = None) -> int:
    """``python -m ui.open3d_viewer MAP.npz [--check]``."""
    ap = argparse.ArgumentParser(prog="ui.open3d_viewer", description="Show a saved lab map in Open3D.")
    ap.add_argument("map", help=".npz written by the desktop app")
    ap.add_argument("--check", action="store_true", help="build the geometries and exit (no window)")
    args = ap.parse_args(argv)
    geoms = build_geometries(args.map)
    if args.check:
        print(f"ok: {len(geoms)} geometries")
        return 0
    import open3d as o3d

    o3d.visualization.draw_geometries(geoms, window_name="Embodied-RAG Lab map", width=1280, height=800)
    return 0


if __name__ == "__main__":
    sys.exit(main())
