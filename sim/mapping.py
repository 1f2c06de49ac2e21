"""The robot's own map, built from depth images only, and coverage evaluation against ground truth.

``OccupancyMapper`` keeps one log-odds grid per floor (``FloorMap``). Each observation's depth
image is back-projected (every ``pixel_stride``-th pixel) in the robot's floor frame:

* points inside the robot's height band are obstacle hits, points well below the floor mark a
  drop (a stairwell, an edge), points on the floor mark their cell seen and free;
* every image column is a 2D ray from the camera along its azimuth; the cells along it are free
  up to the first obstacle in that column or the last floor point before it, capped at the
  sensing range (a ray over a hole stops at its edge because no floor is seen beyond it);
* the cells under the robot's body are free (it stands there).

The mapper reads ``Observation.depth``, ``pose`` and ``camera`` only: never the scene mesh, the
``NavMap`` or ``Observation.objects``. Grids grow in chunks as the robot moves, aligned to a
``GridSpec`` origin (the world origin, or one the caller hands in, e.g. the NavMap's, so that
cells coincide for evaluation).

``CoverageEvaluator`` is the one place that uses ground truth: the share of the area a robot can
cover from its start (``NavMap.navigable_area_mask``) that the map has seen.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from sim.navmap import GridSpec, NavMap
from sim.scene import Portal
from sim.types import CameraSpec, Observation, Pose

log = logging.getLogger(__name__)

__all__ = ["MapperConfig", "FloorMap", "MapView", "OccupancyMapper", "RobotMap", "Coverage", "CoverageEvaluator",
           "coverage"]


@dataclass(frozen=True, kw_only=True)
class MapperConfig:
    """Sensor model of the robot's map."""

    resolution: float = 0.05
    sensing_range: float = 5.5  # metres of horizontal range that mark cells
    robot_radius: float = 0.18
    robot_height: float = 1.3  # points between floor_band and this height are obstacles
    floor_band: float = 0.1  # |height above the floor| below this is floor
    drop_depth: float = 0.25  # points this far below the floor are a drop (not walkable)
    pixel_stride: int = 2  # use every n-th pixel in both directions
    hit: float = 1.0  # log-odds added by an obstacle hit (once per frame and cell)
    miss: float = -0.4  # log-odds added when a ray crosses a cell or the floor is seen there
    l_min: float = -2.0
    l_max: float = 4.0
    occupied_above: float = 0.5  # log-odds above which a cell is an obstacle
    swept_floor: float = -0.4  # blind-zone sweeps (floor not visible) lower log-odds no further than this
    grow_chunk: float = 4.0  # metres added on a side when the sensed area leaves the grid
    # planning treats a cell next to unexplored space as this much closer to an obstacle than its distance to
    # that space: still drivable, but the clearance cost keeps paths off unexplored edges (None: ignore them)
    unknown_slack: float | None = 0.2


class FloorMap:
    """The robot's map of one floor: log-odds occupancy, seen cells and the cells it stood on."""

    def __init__(self, index: int, spec: GridSpec, config: MapperConfig) -> None:
        self.index = index
        self.spec = spec
        self.config = config
        self.logodds = np.zeros(spec.shape, dtype=np.float32)
        self.seen = np.zeros(spec.shape, dtype=bool)  # floor or an obstacle observed in the cell
        self.swept = np.zeros(spec.shape, dtype=bool)  # crossed by rays, floor too close to be seen
        self.visited = np.zeros(spec.shape, dtype=bool)  # under the robot's body at some step
        self.version = 0
        self.bbox: tuple[int, int, int, int] | None = None  # rows i0:i1, cols j0:j1 holding any knowledge
        self._view: MapView | None = None

    # masks ------------------------------------------------------------------------------------
    @property
    def occupied(self) -> np.ndarray:
        """Cells whose log-odds say obstacle."""
        return self.logodds > self.config.occupied_above

    @property
    def known(self) -> np.ndarray:
        """Cells with any evidence: observed, swept by rays, or driven over."""
        return self.seen | self.swept | self.visited

    @property
    def known_free(self) -> np.ndarray:
        """Known cells that are not obstacles."""
        return self.known & ~self.occupied

    @property
    def unknown(self) -> np.ndarray:
        """Cells without any evidence yet."""
        return ~self.known

    @property
    def clearance(self) -> np.ndarray:
        """Planning clearance: metres from each known-free cell to the nearest obstacle cell, 0 on unknown and
        obstacle cells.

        Unknown space is not an obstacle, so known-free cells next to it (frontiers) stay navigable;
        with ``unknown_slack`` set, a cell's clearance is at most its distance to unknown space plus
        that slack, so the planner's clearance cost keeps paths away from unexplored edges.
        """
        v = self.view()
        out = np.zeros(self.spec.shape, dtype=np.float32)
        out[v.window] = v.clearance
        return out

    def navigable(self, radius: float | None = None) -> np.ndarray:
        """Known-free cells where a robot of ``radius`` (default: the config's) keeps off every obstacle."""
        r = self.config.robot_radius if radius is None else radius
        return self.clearance >= r

    def seen_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether the cells holding world points (x, y) have been seen (False outside the grid)."""
        i, j = self.spec.to_cell(np.asarray(x), np.asarray(y))
        i, j = np.atleast_1d(i), np.atleast_1d(j)
        inside = (i >= 0) & (i < self.spec.rows) & (j >= 0) & (j < self.spec.cols)
        out = np.zeros(i.shape, dtype=bool)
        out[inside] = self.seen[i[inside], j[inside]]
        return out

    def view(self, margin: int = 2) -> MapView:
        """A snapshot cropped to the known part of the floor (what planning and frontier search use)."""
        if self._view is not None and self._view.version == self.version:
            return self._view
        s = self.spec
        if self.bbox is None:
            i0, i1, j0, j1 = 0, min(1, s.rows), 0, min(1, s.cols)
        else:
            i0, i1, j0, j1 = self.bbox
        i0, j0 = max(0, i0 - margin), max(0, j0 - margin)
        i1, j1 = min(s.rows, i1 + margin), min(s.cols, j1 + margin)
        win = (slice(i0, i1), slice(j0, j1))
        spec = GridSpec(s.x0 + j0 * s.resolution, s.y0 + i0 * s.resolution, s.resolution, i1 - i0, j1 - j0)
        self._view = MapView(self.index, spec, win, self.version, self.logodds[win] > self.config.occupied_above,
                             self.seen[win].copy(), self.swept[win].copy(), self.visited[win].copy(),
                             self.config.unknown_slack)
        return self._view

    def touch(self, i0: int, i1: int, j0: int, j1: int) -> None:
        """Grow the known bounding box by a block of cells."""
        if self.bbox is None:
            self.bbox = (i0, i1, j0, j1)
        else:
            a, b, c, d = self.bbox
            self.bbox = (min(a, i0), max(b, i1), min(c, j0), max(d, j1))

    # growth -----------------------------------------------------------------------------------
    def ensure(self, xmin: float, ymin: float, xmax: float, ymax: float) -> None:
        """Grow the grid (keeping cell alignment) so that it covers the given box."""
        s = self.spec
        res = s.resolution
        chunk = int(math.ceil(self.config.grow_chunk / res))
        add_l = max(0, int(math.ceil((s.x0 - xmin) / res)))
        add_b = max(0, int(math.ceil((s.y0 - ymin) / res)))
        add_r = max(0, int(math.ceil((xmax - (s.x0 + s.cols * res)) / res)))
        add_t = max(0, int(math.ceil((ymax - (s.y0 + s.rows * res)) / res)))
        if not (add_l or add_b or add_r or add_t):
            return
        add_l, add_b, add_r, add_t = (a + chunk if a else 0 for a in (add_l, add_b, add_r, add_t))
        spec = GridSpec(s.x0 - add_l * res, s.y0 - add_b * res, res, s.rows + add_b + add_t, s.cols + add_l + add_r)
        pad = ((add_b, add_t), (add_l, add_r))
        self.logodds = np.pad(self.logodds, pad)
        self.seen = np.pad(self.seen, pad)
        self.swept = np.pad(self.swept, pad)
        self.visited = np.pad(self.visited, pad)
        self.spec = spec
        if self.bbox is not None:
            i0, i1, j0, j1 = self.bbox
            self.bbox = (i0 + add_b, i1 + add_b, j0 + add_l, j1 + add_l)
        self.version += 1
        log.debug("robot map floor %d grew to %d x %d cells", self.index, spec.rows, spec.cols)


@dataclass(eq=False)
class MapView:
    """An immutable crop of a ``FloorMap`` at one version, with its clearance (planner grid shape)."""

    index: int
    spec: GridSpec
    window: tuple[slice, slice]  # where the crop sits in the full floor grid
    version: int
    occupied: np.ndarray
    seen: np.ndarray
    swept: np.ndarray
    visited: np.ndarray
    unknown_slack: float | None = None
    _clearance: np.ndarray | None = field(default=None, repr=False)

    @property
    def known(self) -> np.ndarray:
        """Cells with any evidence (see ``FloorMap.known``)."""
        return self.seen | self.swept | self.visited

    @property
    def clearance(self) -> np.ndarray:
        """Planning clearance in metres on known-free cells, 0 elsewhere (see ``FloorMap.clearance``)."""
        if self._clearance is None:
            res = np.float32(self.spec.resolution)
            occ = self.occupied
            known = self.known
            big = np.full(self.spec.shape, np.float32(1e3))
            d = ndimage.distance_transform_edt(~occ).astype(np.float32) * res if occ.any() else big
            if self.unknown_slack is not None and not known.all():
                d = np.minimum(d, ndimage.distance_transform_edt(known).astype(np.float32) * res
                               + np.float32(self.unknown_slack))
            self._clearance = np.where(known & ~occ, np.maximum(d - np.float32(0.5) * res, 0.0),
                                       np.float32(0.0)).astype(np.float32)
        return self._clearance


def _aligned_spec(x: float, y: float, half: float, res: float, origin: GridSpec | None) -> GridSpec:
    """A grid around (x, y) whose cell edges line up with ``origin`` (or the world origin)."""
    ox, oy = (origin.x0, origin.y0) if origin is not None else (0.0, 0.0)
    n = int(math.ceil(half / res))
    j0 = int(math.floor((x - ox) / res)) - n
    i0 = int(math.floor((y - oy) / res)) - n
    return GridSpec(ox + j0 * res, oy + i0 * res, res, 2 * n + 1, 2 * n + 1)


class OccupancyMapper:
    """Builds the robot's per-floor maps from depth observations (see the module docstring)."""

    def __init__(self, camera: CameraSpec, config: MapperConfig | None = None, *,
                 origin: GridSpec | None = None) -> None:
        self.camera = camera
        self.config = config or MapperConfig()
        self.origin = origin
        if origin is not None and abs(origin.resolution - self.config.resolution) > 1e-9:
            self.origin = GridSpec(origin.x0, origin.y0, self.config.resolution, 1, 1)
        self.floors: dict[int, FloorMap] = {}
        self.updates = 0
        self._ray_cache: tuple | None = None
        self._last: tuple | None = None

    def floor(self, index: int) -> FloorMap:
        """The map of one floor (``KeyError`` with the known floors when it was never visited)."""
        try:
            return self.floors[index]
        except KeyError:
            raise KeyError(f"the robot has no map of floor {index} (mapped: {sorted(self.floors)})") from None

    def _floor_for(self, pose: Pose) -> FloorMap:
        fm = self.floors.get(pose.floor)
        half = self.config.sensing_range + self.config.grow_chunk
        if fm is None:
            fm = FloorMap(pose.floor, _aligned_spec(pose.x, pose.y, half, self.config.resolution, self.origin),
                          self.config)
            self.floors[pose.floor] = fm
        r = self.config.sensing_range + 2 * self.config.resolution
        fm.ensure(pose.x - r, pose.y - r, pose.x + r, pose.y + r)
        return fm

    def _columns(self, cam: CameraSpec, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.float32,
                                                              np.float32]:
        key = (cam, stride)
        if self._ray_cache is None or self._ray_cache[0] != key:
            u = np.arange(0, cam.width, stride, dtype=np.float64)
            v = np.arange(0, cam.height, stride, dtype=np.float64)
            ru = ((u - cam.cx) / cam.fx).astype(np.float32)
            rv = (-(v - cam.cy) / cam.fy).astype(np.float32)
            norm = np.sqrt(1.0 + ru.astype(np.float64) ** 2).astype(np.float32)
            bottom = (cam.height - 1 - cam.cy) / cam.fy  # tangent of the lowest ray's depression
            t_low = np.float32(cam.sensor_height / bottom)  # z-depth where the lowest ray meets the floor
            self._ray_cache = (key, (ru, rv, norm, t_low))
        ru, rv, norm, t_low = self._ray_cache[1]
        return ru, rv, norm, np.float32(cam.sensor_height), t_low

    def update(self, obs: Observation) -> None:
        """Fuse one observation's depth image into the map of the robot's current floor.

        Updating twice with the same observation (same step, time and pose) changes nothing.
        """
        key = (obs.step, obs.timestamp, obs.pose, id(obs.depth))
        if key == self._last:
            return
        self._last = key
        cfg = self.config
        cam = obs.camera if obs.camera is not None else self.camera
        pose = obs.pose
        fm = self._floor_for(pose)
        res = cfg.resolution
        R = np.float32(cfg.sensing_range)
        st = max(1, int(cfg.pixel_stride))
        ru, rv, norm, h, t_low = self._columns(cam, st)
        d = np.asarray(obs.depth[::st, ::st], dtype=np.float32)
        valid = np.isfinite(d) & (d > 0.0) & (d < cam.max_depth)
        hr = d * norm[None, :]  # horizontal range from the camera
        z = h + rv[:, None] * d  # height above the robot's floor
        inr = valid & (hr <= R)
        obst = inr & (z > cfg.floor_band) & (z < cfg.robot_height)
        drop = inr & (z < -cfg.drop_depth)
        flr = inr & (np.abs(z) <= cfg.floor_band)
        inf = np.float32(np.inf)
        obs_min = np.where(obst, hr, inf).min(axis=0)
        # the floor seen without a gap from the bottom row up: rays beyond a gap (a hole, an object
        # below the ray) prove nothing about the cells between
        rev = flr[::-1]
        run = np.where(rev.all(axis=0), rev.shape[0], np.argmin(rev, axis=0))  # floor rows before the first gap
        last = np.clip(rev.shape[0] - run, 0, rev.shape[0] - 1)  # row index of the furthest contiguous floor
        cols_all = np.arange(rev.shape[1])
        floor_far = np.where(run > 0, hr[last, cols_all], -inf)
        margin = np.float32(0.75 * res)
        free_to = np.where(np.isfinite(floor_far), np.minimum(obs_min - margin, floor_far + np.float32(0.5 * res)),
                           np.where(np.isfinite(obs_min), obs_min - margin, np.float32(0.0)))
        free_to = np.clip(free_to, 0.0, R)
        t_floor = t_low * norm  # per column: nearer than this the camera cannot see the floor
        c, s = math.cos(pose.yaw), math.sin(pose.yaw)
        dirx = (c + ru * s) / norm  # horizontal direction of each column
        diry = (s - ru * c) / norm
        # local window around the robot
        spec = fm.spec
        k = int(math.ceil(float(R) / res)) + 2
        ci, cj = spec.to_cell(pose.x, pose.y)
        i0, j0 = max(0, ci - k), max(0, cj - k)
        i1, j1 = min(spec.rows, ci + k + 1), min(spec.cols, cj + k + 1)
        shape = (i1 - i0, j1 - j0)

        def cells(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # every point is within the sensing range, which the window covers; clip for rounding only
            ii = np.clip(np.floor((y - spec.y0) / res).astype(np.int64) - i0, 0, shape[0] - 1)
            jj = np.clip(np.floor((x - spec.x0) / res).astype(np.int64) - j0, 0, shape[1] - 1)
            return ii, jj

        hit = np.zeros(shape, dtype=bool)
        free = np.zeros(shape, dtype=bool)  # floor observed there
        swept = np.zeros(shape, dtype=bool)  # a ray passed above, too close to see the floor
        for mask, out in ((obst | drop, hit), (flr, free)):
            rows, cols = np.nonzero(mask)
            if len(rows):
                rr = hr[rows, cols]
                out[cells(pose.x + rr * dirx[cols], pose.y + rr * diry[cols])] = True
        # 2D rays: one sample every half cell along each column, up to where that column is free
        step = np.float32(0.5 * res)
        n = np.ceil(free_to / step).astype(np.int64)
        total = int(n.sum())
        if total:
            cols = np.repeat(np.arange(len(n)), n)
            t = (np.arange(total) - np.repeat(np.cumsum(n) - n, n)).astype(np.float32) * step
            ii, jj = cells(pose.x + t * dirx[cols], pose.y + t * diry[cols])
            near = t < t_floor[cols]
            free[ii[~near], jj[~near]] = True
            swept[ii[near], jj[near]] = True
        free &= ~hit
        body = self._body(pose, spec, i0, j0, shape)
        swept &= ~(hit | free | body)
        free |= body
        win = (slice(i0, i1), slice(j0, j1))
        L = fm.logodds[win]
        L += hit * np.float32(cfg.hit) + free * np.float32(cfg.miss)
        # blind-zone sweeps may suggest free space but never outvote an obstacle hit
        sw = swept & (L <= 0.0)
        L[sw] = np.minimum(L[sw], np.maximum(L[sw] + np.float32(cfg.miss), np.float32(cfg.swept_floor)))
        L[body] = np.minimum(L[body], np.float32(cfg.miss))
        np.clip(L, cfg.l_min, cfg.l_max, out=L)
        touched = hit | free | swept
        fm.seen[win] |= hit | free
        fm.swept[win] |= swept
        fm.visited[win] |= body
        rows = np.flatnonzero(touched.any(axis=1))
        cols = np.flatnonzero(touched.any(axis=0))
        fm.touch(i0 + int(rows[0]), i0 + int(rows[-1]) + 1, j0 + int(cols[0]), j0 + int(cols[-1]) + 1)
        fm.version += 1
        self.updates += 1

    def _body(self, pose: Pose, spec: GridSpec, i0: int, j0: int, shape: tuple[int, int]) -> np.ndarray:
        """Window cells under the robot's body."""
        res = spec.resolution
        r = self.config.robot_radius
        k = int(math.ceil(r / res)) + 1
        ci, cj = spec.to_cell(pose.x, pose.y)
        off = np.arange(-k, k + 1)
        cx = spec.x0 + (cj + off + 0.5) * res - pose.x
        cy = spec.y0 + (ci + off + 0.5) * res - pose.y
        inside = cy[:, None] ** 2 + cx[None, :] ** 2 <= r * r
        di, dj = np.nonzero(inside)
        ii = np.clip(ci + di - k - i0, 0, shape[0] - 1)
        jj = np.clip(cj + dj - k - j0, 0, shape[1] - 1)
        out = np.zeros(shape, dtype=bool)
        out[ii, jj] = True
        return out

    def mark_collision(self, pose: Pose) -> None:
        """A bump: mark the cell just ahead of the robot as an obstacle unless rays keep proving it free."""
        fm = self._floor_for(pose)
        reach = self.config.robot_radius + self.config.resolution
        i, j = fm.spec.to_cell(pose.x + reach * math.cos(pose.yaw), pose.y + reach * math.sin(pose.yaw))
        if not fm.spec.inside(i, j) or fm.visited[i, j]:
            return
        if fm.logodds[i, j] > self.config.l_min + 0.5:
            fm.logodds[i, j] = max(float(fm.logodds[i, j]), self.config.occupied_above + self.config.hit)
            fm.seen[i, j] = True
            fm.touch(i, i + 1, j, j + 1)
            fm.version += 1

    # views ------------------------------------------------------------------------------------
    def seen_mask(self, floor: int) -> np.ndarray:
        """Cells of ``floor`` where the camera observed the floor or an obstacle (what coverage counts)."""
        return self.floor(floor).seen

    def occupied(self, floor: int) -> np.ndarray:
        """Obstacle cells of ``floor``."""
        return self.floor(floor).occupied

    def known_free(self, floor: int) -> np.ndarray:
        """Free cells of ``floor`` (observed, swept by rays or driven over)."""
        return self.floor(floor).known_free

    def unknown(self, floor: int) -> np.ndarray:
        """Cells of ``floor`` without evidence."""
        return self.floor(floor).unknown

    def navigable(self, floor: int, radius: float | None = None) -> np.ndarray:
        """Known-free cells of ``floor`` inflated for the robot radius (see ``FloorMap.navigable``)."""
        return self.floor(floor).navigable(radius)

    def export_floor(self, index: int) -> tuple[GridSpec, np.ndarray, np.ndarray]:
        """One floor as (grid spec, log-odds float32, flags uint8: 1 seen, 2 swept, 4 visited), for saving."""
        fm = self.floor(index)
        flags = (fm.seen.astype(np.uint8) | (fm.swept.astype(np.uint8) << 1) | (fm.visited.astype(np.uint8) << 2))
        return fm.spec, fm.logodds.copy(), flags

    def restore_floor(self, index: int, spec: GridSpec, logodds: np.ndarray, flags: np.ndarray) -> None:
        """Put back a floor saved with ``export_floor`` (the robot remembers its map across sessions)."""
        if logodds.shape != spec.shape or flags.shape != spec.shape:
            raise ValueError(f"saved map of floor {index} has shape {logodds.shape}, expected {spec.shape}")
        fm = FloorMap(index, spec, self.config)
        fm.logodds = np.clip(logodds.astype(np.float32), self.config.l_min, self.config.l_max)
        fm.seen = (flags & 1).astype(bool)
        fm.swept = (flags & 2).astype(bool)
        fm.visited = (flags & 4).astype(bool)
        known = fm.seen | fm.swept | fm.visited
        if known.any():
            ii, jj = np.nonzero(known)
            fm.bbox = (int(ii.min()), int(ii.max()) + 1, int(jj.min()), int(jj.max()) + 1)
        fm.version += 1
        self.floors[index] = fm

    def as_grid(self, portals: tuple[Portal, ...] | list[Portal] = ()) -> RobotMap:
        """The map as a planner grid source, with the portals the robot knows about."""
        return RobotMap({f: fm.view() for f, fm in self.floors.items()}, tuple(portals), self.config.robot_radius)


@dataclass(eq=False)
class RobotMap:
    """The robot's map in the planner's grid-source shape (``floors``, ``portals``, ``robot_radius``)."""

    floors: dict[int, MapView]
    portals: tuple[Portal, ...] = ()
    robot_radius: float = 0.18

    def grid(self, floor: int) -> MapView:
        """One floor's view (``KeyError`` when the robot never was there)."""
        return self.floors[floor]


@dataclass(frozen=True)
class Coverage:
    """Seen share of the area the robot can cover with its body, per floor and in total."""

    per_floor: dict[int, float] = field(default_factory=dict)
    total: float = 0.0
    seen_m2: float = 0.0
    area_m2: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready form (floor keys as strings)."""
        return {"total": self.total, "per_floor": {str(k): v for k, v in self.per_floor.items()},
                "seen_m2": self.seen_m2, "area_m2": self.area_m2}


class CoverageEvaluator:
    """Coverage of robot maps against the ground-truth area reachable from ``start`` (evaluation only)."""

    def __init__(self, navmap: NavMap, start: Pose) -> None:
        self._cells: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
        for f, mask in navmap.navigable_area_mask(start).items():
            spec = navmap.grid(f).spec
            ii, jj = np.nonzero(mask)
            x, y = spec.to_world(ii, jj)
            self._cells[f] = (np.atleast_1d(x), np.atleast_1d(y), spec.resolution ** 2)

    @property
    def area_m2(self) -> float:
        """Square metres of the reachable area (all floors)."""
        return float(sum(len(x) * a for x, _, a in self._cells.values()))

    def __call__(self, mapper: OccupancyMapper) -> Coverage:
        per: dict[int, float] = {}
        seen_total = 0.0
        area_total = 0.0
        for f, (x, y, a) in self._cells.items():
            if len(x) == 0:
                continue
            fm = mapper.floors.get(f)
            n_seen = int(fm.seen_at(x, y).sum()) if fm is not None else 0
            per[f] = n_seen / len(x)
            seen_total += n_seen * a
            area_total += len(x) * a
        total = seen_total / area_total if area_total > 0 else 0.0
        return Coverage(per, total, seen_total, area_total)


def coverage(mapper: OccupancyMapper, navmap: NavMap, start: Pose) -> Coverage:
    """One-off coverage of ``mapper`` against ``navmap`` for a robot that started at ``start``."""
    return CoverageEvaluator(navmap, start)(mapper)
