"""Path planning on occupancy grids (the path follower is in ``sim.follower``).

The planner works on any *grid source* with the ``NavMap`` shape: ``floors`` (index -> an
object with a ``GridSpec`` ``spec`` and a ``clearance`` array in metres), ``portals`` and
``robot_radius``. The ground-truth ``NavMap`` and the robot's own map
(``sim.mapping.OccupancyMapper.as_grid``) both qualify, so the same code plans for
evaluation and for exploration.

* A* on the navigable cells (clearance >= robot radius), 8-connected without corner cutting,
  octile heuristic. Each move costs its length times a per-cell factor that grows near
  obstacles, which keeps paths in the middle of doors and corridors.
* Long searches on big grids (a campus) first run on a coarsened grid, then refine inside a
  corridor around the coarse path; the full search is the fallback.
* Goals inside obstacles snap to the nearest reachable navigable cell within a tolerance.
* Line-of-sight shortcutting never makes a path tighter than the one A* found.
* ``Planner.cost_field`` runs one Dijkstra from the robot (scipy, C speed) for choosing among
  many goals (frontiers) at once.
* Floors are joined by portals: a path to another floor ends at a portal, continues from its
  other end.
"""
from __future__ import annotations

import functools
import heapq
import logging
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from sim.errors import UnreachableGoal
from sim.navmap import GridSpec
from sim.scene import Portal
from sim.types import Pose

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

__all__ = ["FloorLike", "GridSource", "PlannerConfig", "PathSegment", "Path", "CostField", "Planner",
           "densify"]

_SQ2 = math.sqrt(2.0)
# (di, dj, length in cells); diagonals last
_MOVES = ((0, 1, 1.0), (0, -1, 1.0), (1, 0, 1.0), (-1, 0, 1.0),
          (1, 1, _SQ2), (1, -1, _SQ2), (-1, 1, _SQ2), (-1, -1, _SQ2))


class FloorLike(Protocol):
    """One floor of a grid source: its grid and the clearance (metres to the nearest obstacle)."""

    spec: GridSpec
    clearance: np.ndarray


class GridSource(Protocol):
    """What the planner needs of a map (``NavMap`` or the robot's own map)."""

    floors: Mapping[int, FloorLike]
    portals: tuple[Portal, ...]
    robot_radius: float


@dataclass(frozen=True, kw_only=True)
class PlannerConfig:
    """Cost model and search settings of the planner."""

    clearance_weight: float = 2.0  # extra cost factor at the robot radius, fading to 0 at preferred_clearance
    preferred_clearance: float = 0.5  # metres; cells this far from obstacles cost their plain length
    snap_tolerance: float = 1.0  # metres a goal inside an obstacle may move to reach free space
    start_tolerance: float = 0.5  # metres the start may move when the robot stands slightly off the grid
    goal_margin: float = 0.1  # snapped goals prefer this much clearance beyond the robot radius
    coarse_threshold: int = 300_000  # grids with more cells first search a coarsened copy
    coarse_factor: int = 4
    corridor: float = 1.5  # metres around the coarse path that the fine search may use
    smooth: bool = True


@dataclass(frozen=True, eq=False)
class PathSegment:
    """The part of a path on one floor; with a ``portal`` the last point is the portal's end here."""

    floor: int
    points: np.ndarray  # (N, 2) world x, y; the first is the start
    portal: Portal | None = None

    @property
    def length(self) -> float:
        """Metres along the segment."""
        if len(self.points) < 2:
            return 0.0
        return float(np.linalg.norm(np.diff(self.points, axis=0), axis=1).sum())


@dataclass(frozen=True, eq=False)
class Path:
    """A planned route, possibly over several floors."""

    segments: tuple[PathSegment, ...]
    goal: tuple[float, float]  # the reached goal (after snapping)
    goal_floor: int
    snapped: float = 0.0  # metres between the requested goal and ``goal``

    @property
    def length(self) -> float:
        """Metres along the whole path (portal jumps not counted)."""
        return float(sum(s.length for s in self.segments))

    @property
    def floors(self) -> list[int]:
        """The floor of each segment, in order."""
        return [s.floor for s in self.segments]


def densify(points: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` metres (or closer) along a polyline, ends included."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 2:
        return pts.copy()
    out = [pts[:1]]
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        n = max(1, int(math.ceil(float(np.linalg.norm(b - a)) / step)))
        t = np.arange(1, n + 1, dtype=np.float64)[:, None] / n
        out.append(a + t * (b - a))
    return np.vstack(out)


class _FloorData:
    """Per-floor arrays derived from a grid source: navigable mask, cost factors, components."""

    def __init__(self, floor: FloorLike, radius: float, cfg: PlannerConfig) -> None:
        self.spec: GridSpec = floor.spec
        self.clear = np.asarray(floor.clearance, dtype=np.float32)
        self.nav = self.clear >= radius
        span = max(cfg.preferred_clearance - radius, 1e-3)
        pen = np.clip((cfg.preferred_clearance - self.clear) / span, 0.0, 1.0)
        self.mult = 1.0 + cfg.clearance_weight * pen.astype(np.float64)
        self._labels: np.ndarray | None = None

    @property
    def labels(self) -> np.ndarray:
        """4-connected components of the navigable cells (A* without corner cutting joins exactly these)."""
        if self._labels is None:
            self._labels, _ = ndimage.label(self.nav)
        return self._labels


@dataclass(eq=False)
class CostField:
    """Path costs (metres, inf where unreachable) from one start to every cell of a floor."""

    floor: int
    spec: GridSpec
    dist: np.ndarray  # (rows, cols) float64
    start: tuple[float, float]
    _pred: np.ndarray  # flat cell index of each cell's predecessor, -1 at the start / unreachable
    _planner: Planner

    @functools.cached_property
    def reached(self) -> tuple[np.ndarray, np.ndarray]:
        """Row and column indices of the cells with a finite cost (computed once per field)."""
        return np.nonzero(np.isfinite(self.dist))

    def cost_at(self, x: float, y: float) -> float:
        """Path cost (metres, clearance-weighted) to the cell holding (x, y); inf when unreachable."""
        i, j = self.spec.to_cell(x, y)
        if not self.spec.inside(i, j):
            return math.inf
        return float(self.dist[i, j])

    def path_to(self, x: float, y: float) -> np.ndarray:
        """Smoothed world points (N, 2) from the start to the cell holding (x, y)."""
        i, j = self.spec.to_cell(x, y)
        if not self.spec.inside(i, j) or not math.isfinite(self.dist[i, j]):
            raise UnreachableGoal(f"({x:.2f}, {y:.2f}) on floor {self.floor} is not reachable from "
                                  f"({self.start[0]:.2f}, {self.start[1]:.2f})")
        cols = self.spec.cols
        cells = []
        k = i * cols + j
        while k >= 0:
            cells.append(divmod(k, cols))
            k = int(self._pred[k])
        cells.reverse()
        return self._planner._finish(self.floor, cells, self.start, None)


class Planner:
    """A* and Dijkstra over a grid source's floors and portals (see the module docstring)."""

    def __init__(self, grid: GridSource, config: PlannerConfig | None = None, *,
                 radius: float | None = None) -> None:
        self.grid = grid
        self.config = config or PlannerConfig()
        self.radius = float(grid.robot_radius if radius is None else radius)
        self._cache: dict[int, tuple[tuple, _FloorData]] = {}

    # per-floor data ---------------------------------------------------------------------------
    def _data(self, floor: int) -> _FloorData:
        try:
            fl = self.grid.floors[floor]
        except KeyError:
            raise UnreachableGoal(f"floor {floor} is not in the map (floors: {sorted(self.grid.floors)})") from None
        key = (id(fl), getattr(fl, "version", None), fl.spec)
        hit = self._cache.get(floor)
        if hit is None or hit[0] != key:
            hit = (key, _FloorData(fl, self.radius, self.config))
            self._cache[floor] = hit
        return hit[1]

    def _nearest(self, d: _FloorData, x: float, y: float, tol: float, label: int | None,
                 margin: float = 0.0) -> tuple[int, int] | None:
        """Nearest navigable cell (in component ``label`` when given) within ``tol`` metres.

        With ``margin`` > 0, cells with that much clearance to spare are preferred when any is in range.
        """
        spec = d.spec
        i, j = spec.to_cell(x, y)
        k = int(math.ceil(tol / spec.resolution)) + 1
        i0, i1 = max(0, i - k), min(spec.rows, i + k + 1)
        j0, j1 = max(0, j - k), min(spec.cols, j + k + 1)
        if i0 >= i1 or j0 >= j1:
            return None
        sub = d.nav[i0:i1, j0:j1] if label is None else d.labels[i0:i1, j0:j1] == label
        ii, jj = np.nonzero(sub)
        if len(ii) == 0:
            return None
        cx, cy = spec.to_world(ii + i0, jj + j0)
        d2 = (np.asarray(cx) - x) ** 2 + (np.asarray(cy) - y) ** 2
        ok = d2 <= tol * tol
        if margin > 0.0:
            roomy = ok & (d.clear[ii + i0, jj + j0] >= self.radius + margin)
            if roomy.any():
                ok = roomy
        if not ok.any():
            return None
        b = int(np.argmin(np.where(ok, d2, np.inf)))
        return int(ii[b] + i0), int(jj[b] + j0)

    def snap(self, x: float, y: float, floor: int, tolerance: float | None = None) -> tuple[float, float] | None:
        """The navigable point nearest to (x, y) within ``tolerance`` metres, or None."""
        d = self._data(floor)
        c = self._nearest(d, x, y, self.config.snap_tolerance if tolerance is None else tolerance, None)
        return None if c is None else d.spec.to_world(*c)

    def _start_cell(self, d: _FloorData, floor: int, x: float, y: float) -> tuple[int, int]:
        i, j = d.spec.to_cell(x, y)
        if d.spec.inside(i, j) and d.nav[i, j]:
            return i, j
        c = self._nearest(d, x, y, self.config.start_tolerance, None)
        if c is None:
            raise UnreachableGoal(f"start ({x:.2f}, {y:.2f}) on floor {floor} is not on navigable ground "
                                  f"(no free cell within {self.config.start_tolerance:.2f} m)")
        return c

    # single floor -------------------------------------------------------------------------------
    def plan_floor(self, floor: int, start: Sequence[float], goal: Sequence[float], *,
                   snap_tolerance: float | None = None) -> np.ndarray:
        """World points (N, 2) of a collision-free path on one floor; raises ``UnreachableGoal``."""
        d = self._data(floor)
        sx, sy = float(start[0]), float(start[1])
        gx, gy = float(goal[0]), float(goal[1])
        s = self._start_cell(d, floor, sx, sy)
        lab = int(d.labels[s])
        tol = self.config.snap_tolerance if snap_tolerance is None else snap_tolerance
        gi, gj = d.spec.to_cell(gx, gy)
        exact = d.spec.inside(gi, gj) and int(d.labels[gi, gj]) == lab
        g = (gi, gj) if exact else self._nearest(d, gx, gy, tol, lab, self.config.goal_margin)
        if g is None:
            raise self._unreachable(d, floor, (sx, sy), (gx, gy), lab)
        cells = self._search(d, s, g)
        if cells is None:  # cannot happen for cells of one 4-connected component; kept as a guard
            raise UnreachableGoal(f"no path on floor {floor} from ({sx:.2f}, {sy:.2f}) to ({gx:.2f}, {gy:.2f})")
        return self._finish(floor, cells, (sx, sy), (gx, gy) if exact else None)

    def _unreachable(self, d: _FloorData, floor: int, start: tuple[float, float], goal: tuple[float, float],
                     lab: int) -> UnreachableGoal:
        ii, jj = np.nonzero(d.labels == lab)
        cx, cy = d.spec.to_world(ii, jj)
        gap = float(np.sqrt(np.min((np.asarray(cx) - goal[0]) ** 2 + (np.asarray(cy) - goal[1]) ** 2)))
        return UnreachableGoal(
            f"goal ({goal[0]:.2f}, {goal[1]:.2f}) on floor {floor} is unreachable from "
            f"({start[0]:.2f}, {start[1]:.2f}): the nearest reachable point is {gap:.2f} m away "
            f"(snap tolerance {self.config.snap_tolerance:.2f} m)")

    def _search(self, d: _FloorData, s: tuple[int, int], g: tuple[int, int]) -> list[tuple[int, int]] | None:
        if s == g:
            return [s]
        cfg = self.config
        if d.nav.size > cfg.coarse_threshold and cfg.coarse_factor > 1:
            cells = self._coarse_guided(d, s, g)
            if cells is not None:
                return cells
            log.debug("planner: corridor search failed, searching the full grid")
        return _astar(d.nav, d.mult, s, g)

    def _coarse_guided(self, d: _FloorData, s: tuple[int, int], g: tuple[int, int]) -> list[tuple[int, int]] | None:
        k = self.config.coarse_factor
        rows, cols = d.nav.shape
        rc, cc = -(-rows // k), -(-cols // k)
        nav = np.zeros((rc * k, cc * k), dtype=bool)
        nav[:rows, :cols] = d.nav
        mult = np.ones((rc * k, cc * k))
        mult[:rows, :cols] = np.where(d.nav, d.mult, 1.0)
        # optimistic coarse cells (any fine cell navigable): the refine step checks the details
        cnav = nav.reshape(rc, k, cc, k).any(axis=(1, 3))
        cmult = mult.reshape(rc, k, cc, k).max(axis=(1, 3))
        coarse = _astar(cnav, cmult, (s[0] // k, s[1] // k), (g[0] // k, g[1] // k), 2.0)
        if coarse is None:
            return None
        band = np.zeros((rc, cc), dtype=bool)
        ci, cj = np.array(coarse).T
        band[ci, cj] = True
        w = max(1, int(math.ceil(self.config.corridor / (k * d.spec.resolution))))
        band = ndimage.binary_dilation(band, iterations=w)
        fine = np.repeat(np.repeat(band, k, axis=0), k, axis=1)[:rows, :cols] & d.nav
        return _corridor_search(fine, d.mult, s, g)

    def _finish(self, floor: int, cells: list[tuple[int, int]], start: tuple[float, float],
                goal: tuple[float, float] | None) -> np.ndarray:
        """Cells -> smoothed world points; the first point is the true start, the last the exact goal."""
        d = self._data(floor)
        idx = np.asarray(cells, dtype=np.int64).reshape(-1, 2)
        if self.config.smooth and len(idx) > 2:
            idx = idx[_shortcut(idx, d.clear, d.spec.resolution, self.radius, self.config.preferred_clearance)]
        x, y = d.spec.to_world(idx[:, 0], idx[:, 1])
        pts = np.stack([np.atleast_1d(x), np.atleast_1d(y)], axis=1).astype(np.float64)
        if len(pts) == 1:
            pts = np.vstack([pts, pts])
        pts[0] = start  # the robot's true position (within half a cell, or the start tolerance)
        if goal is not None:
            pts[-1] = goal  # the exact goal lies in the last cell
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.linalg.norm(np.diff(pts, axis=0), axis=1) > 1e-6
        return pts[keep]

    # many goals ---------------------------------------------------------------------------------
    def cost_field(self, floor: int, start: Sequence[float], max_cost: float | None = None) -> CostField:
        """Dijkstra from ``start`` to every navigable cell of ``floor`` (same cost model as A*).

        With ``max_cost`` (metres of path cost) the search stops there: cells further away are inf.
        """
        d = self._data(floor)
        sx, sy = float(start[0]), float(start[1])
        s = self._start_cell(d, floor, sx, sy)
        rows, cols = d.nav.shape
        limit = np.inf if max_cost is None else max_cost / d.spec.resolution
        # every move costs at least its length (mult >= 1), so no cell further than ``limit`` cells
        # in a straight line can be reached within it: search only that box of the grid
        b0, b1, c0, c1 = 0, rows, 0, cols
        if math.isfinite(limit) and self.config.clearance_weight >= 0:
            r = int(math.ceil(limit)) + 1
            b0, b1, c0, c1 = max(0, s[0] - r), min(rows, s[0] + r + 1), max(0, s[1] - r), min(cols, s[1] + r + 1)
        comp = d.labels[b0:b1, c0:c1] == d.labels[s]  # only the start's component can be reached
        ii, jj = np.nonzero(comp)
        i0, i1, j0, j1 = ii.min() + b0, ii.max() + 1 + b0, jj.min() + c0, jj.max() + 1 + c0
        nav = comp[i0 - b0:i1 - b0, j0 - c0:j1 - c0]
        mult = d.mult[i0:i1, j0:j1]
        dist_w, pred_w = _dijkstra(nav, mult, (s[0] - i0, s[1] - j0), limit)
        dist = np.full((rows, cols), np.inf)
        dist[i0:i1, j0:j1] = dist_w * d.spec.resolution
        pred = np.full(rows * cols, -1, dtype=np.int64)
        wr, wc = nav.shape
        valid = pred_w >= 0
        pi, pj = np.divmod(pred_w[valid], wc)
        ci, cj = np.divmod(np.flatnonzero(valid), wc)
        pred[(ci + i0) * cols + cj + j0] = (pi + i0) * cols + pj + j0
        return CostField(floor, d.spec, dist, (sx, sy), pred, self)

    # several floors -----------------------------------------------------------------------------
    def plan(self, start: Pose, goal: Sequence[float], goal_floor: int | None = None) -> Path:
        """Plan from ``start`` to ``goal`` (x, y) on ``goal_floor`` (default: the start's floor)."""
        gf = start.floor if goal_floor is None else int(goal_floor)
        gx, gy = float(goal[0]), float(goal[1])
        route = self._floor_route(start.floor, gf)
        segments: list[PathSegment] = []
        here = (start.x, start.y)
        for f, nxt in zip(route[:-1], route[1:], strict=True):
            best: tuple[float, np.ndarray, Portal, tuple[float, float]] | None = None
            for p, end, other in self._portals_between(f, nxt):
                try:
                    pts = self.plan_floor(f, here, end, snap_tolerance=max(0.05, p.radius))
                except UnreachableGoal:
                    continue
                length = float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum()) if len(pts) > 1 else 0.0
                if best is None or length < best[0]:
                    best = (length, pts, p, other)
            if best is None:
                raise UnreachableGoal(f"goal ({gx:.2f}, {gy:.2f}) on floor {gf} is unreachable: no reachable "
                                      f"stairs from floor {f} to floor {nxt} near ({here[0]:.2f}, {here[1]:.2f})")
            segments.append(PathSegment(f, best[1], best[2]))
            here = best[3]
        pts = self.plan_floor(gf, here, (gx, gy))
        end = (float(pts[-1, 0]), float(pts[-1, 1]))
        segments.append(PathSegment(gf, pts))
        return Path(tuple(segments), end, gf, float(math.hypot(end[0] - gx, end[1] - gy)))

    def _portals_between(self, f: int, g: int) -> list[tuple[Portal, tuple[float, float], tuple[float, float]]]:
        out = []
        for p in self.grid.portals:
            if p.floor_a == f and p.floor_b == g:
                out.append((p, p.a, p.b))
            elif p.floor_b == f and p.floor_a == g:
                out.append((p, p.b, p.a))
        return out

    def _floor_route(self, f0: int, f1: int) -> list[int]:
        """Fewest-portal sequence of floors from ``f0`` to ``f1``."""
        if f0 == f1:
            return [f0]
        prev: dict[int, int] = {f0: f0}
        queue = deque([f0])
        while queue:
            f = queue.popleft()
            for p in self.grid.portals:
                for a, b in ((p.floor_a, p.floor_b), (p.floor_b, p.floor_a)):
                    if a == f and b not in prev and b in self.grid.floors:
                        prev[b] = f
                        queue.append(b)
        if f1 not in prev:
            raise UnreachableGoal(f"floor {f1} cannot be reached from floor {f0}: no known stairs join them")
        route = [f1]
        while route[-1] != f0:
            route.append(prev[route[-1]])
        return route[::-1]


# search kernels ---------------------------------------------------------------------------------
def _astar(nav: np.ndarray, mult: np.ndarray, s: tuple[int, int], g: tuple[int, int],
           weight: float = 1.0) -> list[tuple[int, int]] | None:
    """A* over a boolean grid; cost of a move = length x mean factor of its two cells (cell units).

    ``weight`` > 1 inflates the octile heuristic (weighted A*: faster, at most ``weight`` times
    the optimal cost).
    """
    rows, cols = nav.shape
    if not (nav[s] and nav[g]):
        return None
    if s == g:
        return [s]
    width = cols + 2  # one blocked cell of padding on every side: no bounds checks in the loop
    pad = np.zeros((rows + 2, width), dtype=bool)
    pad[1:-1, 1:-1] = nav
    free = pad.ravel().tolist()
    mp = np.ones((rows + 2, width))
    mp[1:-1, 1:-1] = mult
    cost = (0.5 * mp).ravel().tolist()
    start = (s[0] + 1) * width + s[1] + 1
    goal = (g[0] + 1) * width + g[1] + 1
    gi, gj = divmod(goal, width)
    # (offset, length, the two side cells a diagonal must not cut; 0 = the cell itself, always free)
    moves = ((1, 1.0, 0, 0), (-1, 1.0, 0, 0), (width, 1.0, 0, 0), (-width, 1.0, 0, 0),
             (width + 1, _SQ2, 1, width), (width - 1, _SQ2, -1, width),
             (-width + 1, _SQ2, 1, -width), (-width - 1, _SQ2, -1, -width))
    n = len(free)
    gs = [math.inf] * n
    parent = [-1] * n
    closed = bytearray(n)
    gs[start] = 0.0
    heap = [(0.0, start)]
    push, pop = heapq.heappush, heapq.heappop
    k2 = (_SQ2 - 2.0) * weight
    while heap:
        _, u = pop(heap)
        if closed[u]:
            continue
        if u == goal:
            break
        closed[u] = 1
        gu = gs[u]
        cu = cost[u]
        for o, ln, sa, sb in moves:
            v = u + o
            if free[v] and not closed[v] and free[u + sa] and free[u + sb]:
                ng = gu + ln * (cu + cost[v])
                if ng < gs[v]:
                    gs[v] = ng
                    parent[v] = u
                    di, dj = divmod(v, width)
                    di, dj = abs(di - gi), abs(dj - gj)
                    push(heap, (ng + weight * (di + dj) + k2 * (di if di < dj else dj), v))
    if parent[goal] < 0:
        return None
    out = []
    u = goal
    while u >= 0:
        i, j = divmod(u, width)
        out.append((i - 1, j - 1))
        u = parent[u]
    out.reverse()
    return out


def _dijkstra(nav: np.ndarray, mult: np.ndarray, s: tuple[int, int],
              limit: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Costs (cell units) and flat predecessors (-1: none) over a window, with scipy's Dijkstra.

    Every cell is a node with eight edge slots (a fixed CSR layout, no sorting); slots of
    moves that are not allowed carry an infinite weight, which Dijkstra never relaxes.
    """
    rows, cols = nav.shape
    n = rows * cols
    pad = np.pad(nav, 1)
    mp = np.pad(mult, 1, constant_values=1.0)
    idx = np.arange(n, dtype=np.int32).reshape(rows, cols)
    nbr = np.empty((rows, cols, 8), dtype=np.int32)
    wt = np.empty((rows, cols, 8))
    for k, (di, dj, ln) in enumerate(_MOVES):
        ok = nav & pad[1 + di:1 + di + rows, 1 + dj:1 + dj + cols]
        if di and dj:  # no corner cutting
            ok &= pad[1 + di:1 + di + rows, 1:1 + cols] & pad[1:1 + rows, 1 + dj:1 + dj + cols]
        nbr[:, :, k] = np.clip(idx + (di * cols + dj), 0, n - 1)
        wt[:, :, k] = np.where(ok, (0.5 * ln) * (mult + mp[1 + di:1 + di + rows, 1 + dj:1 + dj + cols]), np.inf)
    graph = csr_matrix((wt.ravel(), nbr.ravel(), np.arange(0, 8 * n + 1, 8)), shape=(n, n))
    dist, pred = dijkstra(graph, directed=True, indices=s[0] * cols + s[1], return_predecessors=True, limit=limit)
    return dist.reshape(rows, cols), np.where(pred >= 0, pred, -1).astype(np.int64)


def _corridor_search(mask: np.ndarray, mult: np.ndarray, s: tuple[int, int],
                     g: tuple[int, int]) -> list[tuple[int, int]] | None:
    """Cheapest path inside a thin mask of a big grid: Dijkstra on a graph of the mask's cells only.

    A list-based A* would allocate per cell of the mask's bounding box, which for a corridor
    across a campus is a million cells; this graph has only the corridor's.
    """
    if not (mask[s] and mask[g]):
        return None
    rows, cols = mask.shape
    nodes = np.flatnonzero(mask)
    ident = np.full(mask.size, -1, dtype=np.int64)
    ident[nodes] = np.arange(len(nodes))
    pad = np.pad(mask, 1)
    m = mult.ravel()
    src, dst, wts = [], [], []
    for di, dj, ln in _MOVES:
        ok = mask & pad[1 + di:1 + di + rows, 1 + dj:1 + dj + cols]
        if di and dj:
            ok &= pad[1 + di:1 + di + rows, 1:1 + cols] & pad[1:1 + rows, 1 + dj:1 + dj + cols]
        a = np.flatnonzero(ok)
        b = a + di * cols + dj
        src.append(ident[a])
        dst.append(ident[b])
        wts.append((0.5 * ln) * (m[a] + m[b]))
    n = len(nodes)
    graph = csr_matrix((np.concatenate(wts), (np.concatenate(src), np.concatenate(dst))), shape=(n, n))
    start, goal = int(ident[s[0] * cols + s[1]]), int(ident[g[0] * cols + g[1]])
    _, pred = dijkstra(graph, directed=True, indices=start, return_predecessors=True)
    if goal != start and pred[goal] < 0:
        return None
    out = []
    u = goal
    while u >= 0:
        out.append(divmod(int(nodes[u]), cols))
        u = int(pred[u]) if u != start else -1
    out.reverse()
    return out


def _shortcut(cells: np.ndarray, clear: np.ndarray, res: float, radius: float, preferred: float) -> np.ndarray:
    """Indices of the cells kept by greedy line-of-sight shortcutting.

    A shortcut from cell a to cell b is taken when every cell under the straight segment has at
    least the clearance the original path had between them (capped at ``preferred``), so
    smoothing never brings the path closer to obstacles than A* did.
    """
    n = len(cells)
    pc = clear[cells[:, 0], cells[:, 1]]
    centre = cells.astype(np.float64) + 0.5

    def visible(a: int, b: int) -> bool:
        need = max(radius, min(preferred, float(pc[a:b + 1].min())) - res)
        p, q = centre[a], centre[b]
        m = max(2, int(math.ceil(float(np.abs(q - p).max()) * 2.0)) + 1)
        t = np.linspace(0.0, 1.0, m)[:, None]
        s = np.floor(p + t * (q - p)).astype(np.int64)
        return bool(clear[s[:, 0], s[:, 1]].min() >= need - 1e-6)

    keep = [0]
    a = 0
    while a < n - 1:
        best, step, cand = a + 1, 2, a + 1
        while best < n - 1:
            cand = min(n - 1, a + step)
            if not visible(a, cand):
                break
            best = cand
            step *= 2
        lo, hi = best, cand
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if visible(a, mid):
                lo = mid
            else:
                hi = mid
        keep.append(lo)
        a = lo
    return np.asarray(keep, dtype=np.int64)


# following ---------------------------------------------------------------------------------------
