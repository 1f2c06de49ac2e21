"""Building blocks for object shapes: a registry of shape functions and small mesh helpers.

A shape function draws one object category in its **local frame**: the object's front faces
+x, its width runs along y and it stands on z = 0, filling the box
``[-d/2, d/2] x [-w/2, w/2] x [0, h]`` for a size ``(w, d, h)`` and never leaving it, so a
placement that reserves that box can trust the geometry to stay inside. It returns a list of
``Piece``: a mesh part with its colour and material.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim import geometry
from sim.geometry import Part

__all__ = ["RGB", "Style", "Piece", "ShapeFn", "SHAPES", "shape", "shade", "bx", "cyl", "cyl_x", "cyl_y",
           "ellipsoid", "frustum_box", "rot", "WHITE", "BLACK", "SILVER", "GLASS", "SCREEN", "WATER",
           "CONCRETE", "RUBBER", "CREAM", "LIGHT", "DARK", "WOOD"]

RGB = tuple[int, int, int]

WHITE: RGB = (242, 242, 240)
BLACK: RGB = (30, 30, 32)
SILVER: RGB = (190, 192, 198)
GLASS: RGB = (168, 198, 214)
SCREEN: RGB = (22, 26, 34)
WATER: RGB = (70, 130, 190)
CONCRETE: RGB = (168, 168, 162)
RUBBER: RGB = (26, 26, 26)
CREAM: RGB = (243, 234, 212)
LIGHT: RGB = (255, 238, 190)
DARK: RGB = (45, 40, 38)
WOOD: RGB = (125, 82, 48)


@dataclass(frozen=True, slots=True)
class Style:
    """Colours and material of one object: ``primary`` for the main body, ``secondary`` for parts."""

    primary: RGB
    secondary: RGB
    material: str


@dataclass(frozen=True, slots=True)
class Piece:
    """One coloured part of an object."""

    part: Part
    colour: RGB
    material: str


ShapeFn = Callable[[float, float, float, Style], list[Piece]]
SHAPES: dict[str, ShapeFn] = {}


def shape(*names: str) -> Callable[[ShapeFn], ShapeFn]:
    """Register a shape function for one or more category names."""

    def deco(fn: ShapeFn) -> ShapeFn:
        for n in names:
            if n in SHAPES:
                raise ValueError(f"shape for {n!r} registered twice")
            SHAPES[n] = fn
        return fn

    return deco


def shade(rgb: RGB, f: float) -> RGB:
    """``rgb`` scaled by ``f`` (darker below 1, lighter above), clipped to 0..255."""
    return tuple(int(min(255, max(0, round(c * f)))) for c in rgb)  # type: ignore[return-value]


def bx(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float) -> Part:
    """Axis-aligned box given by its x, y and z intervals."""
    return geometry.box((min(x0, x1), min(y0, y1), min(z0, z1)), (max(x0, x1), max(y0, y1), max(z0, z1)))


def cyl(r: float, z0: float, z1: float, cx: float = 0.0, cy: float = 0.0, seg: int = 10,
        r_top: float | None = None) -> Part:
    """Vertical (possibly tapered) cylinder."""
    return geometry.cylinder(r, z0, z1, seg, (cx, cy), radius_top=r_top)


def _swap(part: Part, perm: tuple[int, int, int], signs: tuple[float, float, float]) -> Part:
    v, t = part
    out = np.empty_like(v)
    for i in range(3):
        out[:, i] = v[:, perm[i]] * signs[i]
    return out, t


def cyl_x(r: float, x0: float, x1: float, cy: float, cz: float, seg: int = 10) -> Part:
    """Horizontal cylinder along x from ``x0`` to ``x1`` with its axis at (y=cy, z=cz)."""
    v, t = geometry.cylinder(r, x0, x1, seg, (0.0, 0.0))
    # (a, b, c) -> (c, b, -a) is a proper rotation, so the outward winding is kept
    v2, t2 = _swap((v, t), (2, 1, 0), (1.0, 1.0, -1.0))
    return v2 + np.array([0.0, cy, cz]), t2


def cyl_y(r: float, y0: float, y1: float, cx: float, cz: float, seg: int = 10) -> Part:
    """Horizontal cylinder along y from ``y0`` to ``y1`` with its axis at (x=cx, z=cz)."""
    v, t = geometry.cylinder(r, y0, y1, seg, (0.0, 0.0))
    # (a, b, c) -> (a, c, -b): a rotation about x
    v2, t2 = _swap((v, t), (0, 2, 1), (1.0, 1.0, -1.0))
    return v2 + np.array([cx, 0.0, cz]), t2


def ellipsoid(rx: float, ry: float, rz: float, centre: tuple[float, float, float], rings: int = 5,
              seg: int = 9) -> Part:
    """Low-poly ellipsoid with semi-axes ``rx, ry, rz``."""
    v, t = geometry.sphere(1.0, (0.0, 0.0, 0.0), rings, seg)
    return v * np.array([rx, ry, rz]) + np.asarray(centre, dtype=np.float64), t


def frustum_box(lo0: tuple[float, float], hi0: tuple[float, float], lo1: tuple[float, float],
                hi1: tuple[float, float], z0: float, z1: float) -> Part:
    """A box whose bottom rectangle (``lo0``..``hi0`` in x, y) differs from its top (``lo1``..``hi1``)."""
    v, t = geometry.box((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    out = np.empty_like(v)
    for k, (x, y, z) in enumerate(v):
        lo, hi = (lo0, hi0) if z < 0.5 else (lo1, hi1)
        out[k] = (lo[0] if x < 0.5 else hi[0], lo[1] if y < 0.5 else hi[1], z0 if z < 0.5 else z1)
    return out, t


def rot(part: Part, yaw: float, about: tuple[float, float] = (0.0, 0.0)) -> Part:
    """``part`` rotated about the vertical axis through ``about``."""
    v, t = part
    c, s = math.cos(yaw), math.sin(yaw)
    x = v[:, 0] - about[0]
    y = v[:, 1] - about[1]
    out = v.copy()
    out[:, 0] = c * x - s * y + about[0]
    out[:, 1] = s * x + c * y + about[1]
    return out, t
