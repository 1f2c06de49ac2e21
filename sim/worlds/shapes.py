"""Recognisable object shapes assembled from mesh primitives, one function per catalog category.

``build_object(category, size, style, yaw=..., position=...)`` draws any catalog category at a
size ``(w, d, h)`` (width, depth, height), turned to face ``yaw`` (the object's front looks
along ``yaw``, like a robot heading) with its footprint centred on ``position[:2]`` and its base
at ``position[2]``. The geometry never leaves the box of that size, so placement can reserve the
box. Shape functions live in ``shapes_furniture``, ``shapes_fixtures``, ``shapes_small`` and
``shapes_outdoor``; ``shapekit`` holds the registry and mesh helpers.
"""
from __future__ import annotations

import math

import numpy as np

from sim import geometry
from sim.errors import SimError
from sim.worlds import shapes_fixtures, shapes_furniture, shapes_outdoor, shapes_small  # noqa: F401 (registers)
from sim.worlds.shapekit import SHAPES, Piece, Style

__all__ = ["ShapeError", "Style", "Piece", "build_object", "has_shape", "shape_names", "footprint_extent"]


class ShapeError(SimError):
    """No shape is known for a category, or a size is unusable."""


def has_shape(category: str) -> bool:
    """True when ``category`` can be drawn."""
    return category in SHAPES


def shape_names() -> list[str]:
    """Every category with a shape, sorted."""
    return sorted(SHAPES)


def footprint_extent(size: tuple[float, float, float], yaw: float) -> tuple[float, float]:
    """World x and y extents of the footprint of a ``(w, d, h)`` box turned to ``yaw``."""
    w, d, _ = size
    c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
    return (d * c + w * s, d * s + w * c)


def build_object(category: str, size: tuple[float, float, float], style: Style, *, yaw: float = 0.0,
                 position: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> list[Piece]:
    """The pieces of one object in world coordinates (see the module docstring)."""
    try:
        fn = SHAPES[category]
    except KeyError:
        raise ShapeError(f"no shape for category {category!r}. Known: {', '.join(shape_names())}") from None
    w, d, h = (float(v) for v in size)
    if not (w > 0.0 and d > 0.0 and h > 0.0) or not all(np.isfinite((w, d, h))):
        raise ShapeError(f"{category}: size must be three positive numbers, got {size!r}")
    out = []
    for p in fn(w, d, h, style):
        part = geometry.transform(p.part, yaw, (float(position[0]), float(position[1]), float(position[2])))
        out.append(Piece(part, p.colour, p.material))
    return out
