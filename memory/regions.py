"""Rooms from the robot's own depth: a structure map and its segmentation into regions.

The forest's room level (L2) uses free-space connectivity: a doorway separates rooms. The
robot sees walls and door lintels as structure in a *high* height band (about 2.0-2.5 m above
its floor), where furniture rarely reaches; the floor it has seen, minus that structure, falls
apart into rooms at the doorways. Only depth and the robot's pose are used - no ground truth.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import ConfigDict

from sim.types import CameraSpec, Observation, Pose

log = logging.getLogger(__name__)

__all__ = ["StructureConfig", "StructureMap", "RegionMap", "RegionLookup"]

_CHUNK = 64


@dataclass(frozen=True, kw_only=True)
class StructureConfig:
    __pydantic_config__ = ConfigDict(extra="forbid")
    resolution: float = 0.05
    floor_band: float = 0.08  # |z - floor| below this is floor
    high_band: tuple[float, float] = (1.95, 2.55)  # structure (walls, lintels) above the floor
    max_range: float = 6.0  # ignore depth beyond this (noisy, sparse)
    pixel_stride: int = 2
    min_region_area: float = 0.6  # m^2; smaller pieces join a neighbour
    assign_radius: float = 1.5  # m; points off the seen floor (inside furniture) look this far


@runtime_checkable
class RegionLookup(Protocol):
    """Maps a position to a region id (or None when unknown)."""

    def region_of(self, x: float, y: float, floor: int) -> int | None: ...


class _Layer:
    """A sparse, growable pair of boolean grids for one floor."""

    def __init__(self) -> None:
        self.floor: dict[tuple[int, int], np.ndarray] = {}
        self.wall: dict[tuple[int, int], np.ndarray] = {}

    def mark(self, target: dict, i: np.ndarray, j: np.ndarray) -> None:
        if len(i) == 0:
            return
        ci, cj = np.floor_divide(i, _CHUNK), np.floor_divide(j, _CHUNK)
        keys = ci * 1_000_003 + cj
        order = np.argsort(keys, kind="stable")
        keys, i, j, ci, cj = keys[order], i[order], j[order], ci[order], cj[order]
        bounds = np.flatnonzero(np.diff(keys)) + 1
        for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(keys)], strict=True):
            k = (int(ci[a]), int(cj[a]))
            arr = target.get(k)
            if arr is None:
                arr = target[k] = np.zeros((_CHUNK, _CHUNK), dtype=bool)
            arr[i[a:b] - k[0] * _CHUNK, j[a:b] - k[1] * _CHUNK] = True

    def dense(self) -> tuple[int, int, np.ndarray, np.ndarray] | None:
        keys = list(self.floor) + list(self.wall)
        if not keys:
            return None
        ci0 = min(k[0] for k in keys)
        cj0 = min(k[1] for k in keys)
        ci1 = max(k[0] for k in keys)
        cj1 = max(k[1] for k in keys)
        shape = ((ci1 - ci0 + 1) * _CHUNK, (cj1 - cj0 + 1) * _CHUNK)
        fl = np.zeros(shape, dtype=bool)
        wl = np.zeros(shape, dtype=bool)
        for src, dst in ((self.floor, fl), (self.wall, wl)):
            for (ci, cj), arr in src.items():
                r, c = (ci - ci0) * _CHUNK, (cj - cj0) * _CHUNK
                dst[r:r + _CHUNK, c:c + _CHUNK] |= arr
        return ci0 * _CHUNK, cj0 * _CHUNK, fl, wl


class StructureMap:
    """Accumulates seen floor and high structure per floor from depth observations."""

    def __init__(self, config: StructureConfig | None = None) -> None:
        self.config = config or StructureConfig()
        self._layers: dict[int, _Layer] = {}
        self._elevation: dict[int, float] = {}
        self.version = 0

    def integrate(self, obs: Observation) -> None:
        """Add one observation (depth + pose) to the map."""
        self.integrate_depth(obs.depth, obs.pose, obs.camera)

    def integrate_depth(self, depth: np.ndarray, pose: Pose, camera: CameraSpec) -> None:
        c = self.config
        pts = _backproject_strided(depth, pose, camera, max(1, int(c.pixel_stride)), c.max_range)
        if len(pts) == 0:
            return
        self._elevation.setdefault(pose.floor, pose.z)
        h = pts[:, 2] - pose.z
        layer = self._layers.setdefault(pose.floor, _Layer())
        res = c.resolution
        i = np.floor(pts[:, 1] / res).astype(np.int64)
        j = np.floor(pts[:, 0] / res).astype(np.int64)
        fl = np.abs(h) < c.floor_band
        hi = (h > c.high_band[0]) & (h < c.high_band[1])
        layer.mark(layer.floor, i[fl], j[fl])
        layer.mark(layer.wall, i[hi], j[hi])
        self.version += 1

    @property
    def floors(self) -> list[int]:
        return sorted(self._layers)

    def segment(self) -> RegionMap:
        """Split every floor's seen floor into rooms at the doorways."""
        c = self.config
        maps: dict[int, tuple[int, int, np.ndarray, np.ndarray]] = {}
        for f, layer in self._layers.items():
            dense = layer.dense()
            if dense is None:
                continue
            i0, j0, fl, wl = dense
            labels = _segment(fl, wl, c.resolution, c.min_region_area)
            near = _nearest_index(labels, c.assign_radius / c.resolution)
            maps[f] = (i0, j0, labels, near)
        return RegionMap(maps, c.resolution, self.version)


def _backproject_strided(depth: np.ndarray, pose: Pose, cam: CameraSpec, s: int, max_range: float) -> np.ndarray:
    vv, uu = np.mgrid[0:depth.shape[0]:s, 0:depth.shape[1]:s]
    d = depth[vv, uu].astype(np.float64)
    ok = np.isfinite(d) & (d > 0.0) & (d < max_range)
    vv, uu, d = vv[ok], uu[ok], d[ok]
    right = (uu - cam.cx) / cam.fx * d
    up = -(vv - cam.cy) / cam.fy * d
    c, sn = math.cos(pose.yaw), math.sin(pose.yaw)
    x = pose.x + d * c + right * sn
    y = pose.y + d * sn - right * c
    z = pose.z + cam.sensor_height + up
    return np.stack([x, y, z], axis=1)


def _segment(floor_seen: np.ndarray, wall: np.ndarray, res: float, min_area: float) -> np.ndarray:
    from scipy import ndimage  # here, not at the top: a shell query never segments and scipy.ndimage costs ~0.3 s

    # close sampling holes in the seen floor, then cut it with the (slightly grown) structure
    closed = ndimage.binary_closing(floor_seen, structure=np.ones((3, 3), dtype=bool), iterations=2)
    closed |= floor_seen
    walls = ndimage.binary_dilation(wall, structure=np.ones((3, 3), dtype=bool))
    passable = closed & ~walls
    labels, n = ndimage.label(passable)
    if n == 0:
        return labels.astype(np.int32)
    areas = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, n + 1)) * res * res
    small = np.flatnonzero(areas < min_area) + 1
    if len(small):
        labels[np.isin(labels, small)] = 0
    # renumber by size (largest first) so ids are stable-ish between segmentations
    ids = np.unique(labels[labels > 0])
    if len(ids) == 0:
        return labels.astype(np.int32)
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=ids)
    order = ids[np.argsort(-sizes, kind="stable")]
    remap = np.zeros(int(labels.max()) + 1, dtype=np.int32)
    remap[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return remap[labels]


def _nearest_index(labels: np.ndarray, max_cells: float) -> np.ndarray:
    """For every cell, the label of the nearest labelled cell within ``max_cells`` (0 if none)."""
    from scipy import ndimage

    if not (labels > 0).any():
        return labels
    dist, (ii, jj) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    near = labels[ii, jj]
    near[dist > max_cells] = 0
    return near.astype(np.int32)


class RegionMap:
    """A segmentation snapshot: region ids per floor (unique across floors)."""

    def __init__(self, maps: dict[int, tuple[int, int, np.ndarray, np.ndarray]], resolution: float,
                 version: int = 0) -> None:
        self._maps = maps
        self.resolution = resolution
        self.version = version

    def region_of(self, x: float, y: float, floor: int) -> int | None:
        m = self._maps.get(floor)
        if m is None:
            return None
        i0, j0, _, near = m
        i = int(math.floor(y / self.resolution)) - i0
        j = int(math.floor(x / self.resolution)) - j0
        if not (0 <= i < near.shape[0] and 0 <= j < near.shape[1]):
            return None
        r = int(near[i, j])
        return None if r == 0 else floor * 10_000 + r

    def count(self, floor: int | None = None) -> int:
        floors = [floor] if floor is not None else list(self._maps)
        return sum(int(self._maps[f][2].max()) for f in floors if f in self._maps)

    def labels(self, floor: int) -> tuple[float, float, np.ndarray] | None:
        """(x0, y0, labels) of a floor for drawing: cell (i, j) has corner (x0 + j*r, y0 + i*r)."""
        m = self._maps.get(floor)
        if m is None:
            return None
        i0, j0, labels, _ = m
        return j0 * self.resolution, i0 * self.resolution, labels
