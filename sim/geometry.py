"""Triangle-mesh primitives (boxes, cylinders, cones, spheres) and rigid transforms.

Every builder returns ``(vertices (V, 3) float64, triangles (T, 3) int64)`` with outward
winding. Objects in the worlds are assembled from these parts.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["box", "cylinder", "cone", "sphere", "quad", "transform", "merge", "Part"]

Part = tuple[np.ndarray, np.ndarray]


def box(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> Part:
    """Axis-aligned box between corners ``lo`` and ``hi``."""
    x0, y0, z0 = lo
    x1, y1, z1 = hi
    v = np.array([
        [x0, y0, z0], [x1, y0, z0], [x1, y1, z0], [x0, y1, z0],
        [x0, y0, z1], [x1, y0, z1], [x1, y1, z1], [x0, y1, z1],
    ], dtype=np.float64)
    t = np.array([
        [0, 2, 1], [0, 3, 2],  # bottom (-z)
        [4, 5, 6], [4, 6, 7],  # top (+z)
        [0, 1, 5], [0, 5, 4],  # -y
        [1, 2, 6], [1, 6, 5],  # +x
        [2, 3, 7], [2, 7, 6],  # +y
        [3, 0, 4], [3, 4, 7],  # -x
    ], dtype=np.int64)
    return v, t


def quad(x0: float, y0: float, x1: float, y1: float, z: float, up: bool = True) -> Part:
    """Horizontal rectangle at height ``z`` facing up (floors) or down (ceilings)."""
    v = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], dtype=np.float64)
    t = np.array([[0, 1, 2], [0, 2, 3]] if up else [[0, 2, 1], [0, 3, 2]], dtype=np.int64)
    return v, t


def cylinder(radius: float, z0: float, z1: float, segments: int = 12,
             center: tuple[float, float] = (0.0, 0.0), radius_top: float | None = None) -> Part:
    """Vertical (possibly tapered) cylinder with caps."""
    rt = radius if radius_top is None else radius_top
    a = np.linspace(0.0, 2.0 * math.pi, segments, endpoint=False)
    cx, cy = center
    bottom = np.stack([cx + radius * np.cos(a), cy + radius * np.sin(a), np.full(segments, z0)], 1)
    top = np.stack([cx + rt * np.cos(a), cy + rt * np.sin(a), np.full(segments, z1)], 1)
    v = np.vstack([bottom, top, [[cx, cy, z0], [cx, cy, z1]]])
    n = segments
    tris = []
    for i in range(n):
        j = (i + 1) % n
        tris += [[i, j, n + j], [i, n + j, n + i]]  # side
        tris += [[2 * n, j, i]]  # bottom cap
        tris += [[2 * n + 1, n + i, n + j]]  # top cap
    return v, np.array(tris, dtype=np.int64)


def cone(radius: float, z0: float, z1: float, segments: int = 12,
         center: tuple[float, float] = (0.0, 0.0)) -> Part:
    """Vertical cone, apex at ``z1``."""
    return cylinder(radius, z0, z1, segments, center, radius_top=1e-3)


def sphere(radius: float, center: tuple[float, float, float] = (0.0, 0.0, 0.0),
           rings: int = 6, segments: int = 10, squash: float = 1.0) -> Part:
    """Low-poly UV sphere (``squash`` scales z)."""
    verts = [[0.0, 0.0, radius * squash]]
    for r in range(1, rings):
        phi = math.pi * r / rings
        for s in range(segments):
            th = 2.0 * math.pi * s / segments
            verts.append([radius * math.sin(phi) * math.cos(th), radius * math.sin(phi) * math.sin(th),
                          radius * math.cos(phi) * squash])
    verts.append([0.0, 0.0, -radius * squash])
    v = np.array(verts, dtype=np.float64) + np.asarray(center, dtype=np.float64)
    tris = []
    for s in range(segments):
        tris.append([0, 1 + s, 1 + (s + 1) % segments])
    for r in range(rings - 2):
        a0 = 1 + r * segments
        b0 = a0 + segments
        for s in range(segments):
            s1 = (s + 1) % segments
            tris += [[a0 + s, b0 + s, b0 + s1], [a0 + s, b0 + s1, a0 + s1]]
    last = len(verts) - 1
    a0 = 1 + (rings - 2) * segments
    for s in range(segments):
        tris.append([last, a0 + (s + 1) % segments, a0 + s])
    return v, np.array(tris, dtype=np.int64)


def transform(part: Part, yaw: float = 0.0, translate: tuple[float, float, float] = (0.0, 0.0, 0.0),
              scale: float | tuple[float, float, float] = 1.0) -> Part:
    """Scale, rotate about +z by ``yaw``, then translate."""
    v, t = part
    v = v * np.asarray(scale, dtype=np.float64)
    c, s = math.cos(yaw), math.sin(yaw)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return v @ rot.T + np.asarray(translate, dtype=np.float64), t


def merge(parts: list[Part]) -> Part:
    """Concatenate parts into one mesh."""
    if not parts:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    vs, ts, off = [], [], 0
    for v, t in parts:
        vs.append(v)
        ts.append(t + off)
        off += len(v)
    return np.vstack(vs), np.vstack(ts)
