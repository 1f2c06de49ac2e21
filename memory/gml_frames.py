"""Frames of the Embodied-RAG GML files: AirSim NED and geographic lon/lat (and compass headings) to
our z-up local frame and back, and the relation-word swap (``north``/``south``, ``above``/``below``)
that keeps relations true of the rotated positions (see ``memory.gml`` for the conventions).
"""
from __future__ import annotations

import math

__all__ = ["EARTH_RADIUS_M", "ned_to_local", "lonlat_to_local", "local_to_lonlat", "heading_to_yaw", "yaw_to_heading",
           "swap_relation"]

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius
_SWAP = {"north": "south", "south": "north", "above": "below", "below": "above"}


def ned_to_local(x: float, y: float, z: float) -> tuple[float, float, float]:
    """AirSim NED (x north, y east, z down) to our z-up frame: a rotation about x, its own inverse."""
    return (float(x), -float(y), -float(z))


def lonlat_to_local(lon: float, lat: float, lon0: float, lat0: float) -> tuple[float, float]:
    """Metres east and north of ``(lon0, lat0)`` (equirectangular; good to ~0.1 % over a few km)."""
    k = math.pi / 180.0 * EARTH_RADIUS_M
    return ((lon - lon0) * k * math.cos(math.radians(lat0)), (lat - lat0) * k)


def local_to_lonlat(x: float, y: float, lon0: float, lat0: float) -> tuple[float, float]:
    """The inverse of ``lonlat_to_local``: longitude and latitude of a point ``x`` m east, ``y`` m north."""
    k = math.pi / 180.0 * EARTH_RADIUS_M
    return (lon0 + x / (k * math.cos(math.radians(lat0))), lat0 + y / k)


def heading_to_yaw(heading_deg: float) -> float:
    """A compass heading (degrees clockwise from north) as our yaw (radians counter-clockwise from east,
    in [-pi, pi))."""
    return (math.radians(90.0 - heading_deg) + math.pi) % (2.0 * math.pi) - math.pi


def yaw_to_heading(yaw: float) -> float:
    """The inverse of ``heading_to_yaw``, in [0, 360)."""
    return (90.0 - math.degrees(yaw)) % 360.0


def swap_relation(kind: str) -> str:
    """A relation word between our frame and the authors' (the swap is its own inverse)."""
    return "_".join(_SWAP.get(p, p) for p in kind.split("_"))
