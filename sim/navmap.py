"""Ground-truth navigable map of a scene: one occupancy grid per floor, from the geometry.

Each cell casts two vertical rays from just above the floor: down (is there a walking surface
here, or nothing: outside, a stairwell hole?) and up (is anything inside the robot's height
band?). An upward hit on a face whose normal points along the ray means the start point is
inside a solid (a wall, a bed base), which is an obstacle too; meshes need outward normals. A clearance map
(distance to the nearest non-free cell) answers "can a robot of radius r stand here".

This map is the simulator's truth for collisions and for evaluation; the robot's own map,
built from depth while it moves, lives in ``sim.mapping``.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from sim.errors import NavigationError
from sim.scene import Portal, Scene
from sim.types import FloorInfo, Pose

log = logging.getLogger(__name__)

__all__ = ["GridSpec", "FloorGrid", "NavMap", "raycast_scene"]


@dataclass(frozen=True, slots=True)
class GridSpec:
    """A regular grid over the x/y plane: cell (row i, col j) has centre (x0+(j+.5)r, y0+(i+.5)r)."""

    x0: float
    y0: float
    resolution: float
    rows: int
    cols: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    def to_cell(self, x: float | np.ndarray, y: float | np.ndarray) -> tuple:
        """(row, col) of a world point (may be outside the grid)."""
        j = np.floor((np.asarray(x) - self.x0) / self.resolution).astype(np.int64)
        i = np.floor((np.asarray(y) - self.y0) / self.resolution).astype(np.int64)
        if np.ndim(i) == 0:
            return int(i), int(j)
        return i, j

    def to_world(self, i: int | np.ndarray, j: int | np.ndarray) -> tuple:
        """World (x, y) of a cell centre."""
        x = self.x0 + (np.asarray(j) + 0.5) * self.resolution
        y = self.y0 + (np.asarray(i) + 0.5) * self.resolution
        if np.ndim(x) == 0:
            return float(x), float(y)
        return x, y

    def inside(self, i: int, j: int) -> bool:
        return 0 <= i < self.rows and 0 <= j < self.cols

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """World x and y of every cell centre, each (rows, cols)."""
        xs = self.x0 + (np.arange(self.cols) + 0.5) * self.resolution
        ys = self.y0 + (np.arange(self.rows) + 0.5) * self.resolution
        return np.meshgrid(xs, ys)


@dataclass(eq=False)
class FloorGrid:
    """Occupancy of one floor."""

    floor: FloorInfo
    spec: GridSpec
    has_floor: np.ndarray  # (rows, cols) bool: a walking surface at this floor's level
    obstacle: np.ndarray  # (rows, cols) bool: something inside the robot's height band
    clearance: np.ndarray = field(init=False)  # metres to the nearest non-free cell

    def __post_init__(self) -> None:
        free = self.free
        # distance from each free cell centre to the nearest non-free cell centre, minus half a cell
        # so that the value approximates the distance to the obstacle's edge
        d = ndimage.distance_transform_edt(free) * self.spec.resolution
        self.clearance = np.where(free, np.maximum(d - 0.5 * self.spec.resolution, 0.0), 0.0).astype(np.float32)

    @property
    def free(self) -> np.ndarray:
        return self.has_floor & ~self.obstacle

    def navigable(self, radius: float) -> np.ndarray:
        """Cells where a robot centre of the given radius fits."""
        return self.clearance >= radius

    def clearance_at(self, x: float, y: float) -> float:
        i, j = self.spec.to_cell(x, y)
        if not self.spec.inside(i, j):
            return 0.0
        return float(self.clearance[i, j])


def raycast_scene(scene: Scene):
    """An Open3D ``RaycastingScene`` holding the scene's triangles (geometry id 0)."""
    import open3d as o3d

    rs = o3d.t.geometry.RaycastingScene()
    if scene.mesh.n_triangles:
        rs.add_triangles(o3d.core.Tensor(np.ascontiguousarray(scene.mesh.vertices, dtype=np.float32)),
                         o3d.core.Tensor(np.ascontiguousarray(scene.mesh.triangles, dtype=np.uint32)))
    return rs


class NavMap:
    """Per-floor occupancy grids plus the portals (stairs, lifts) joining floors."""

    def __init__(self, floors: dict[int, FloorGrid], portals: tuple[Portal, ...], robot_radius: float) -> None:
        self.floors = floors
        self.portals = portals
        self.robot_radius = robot_radius

    # construction -----------------------------------------------------------------------------
    @classmethod
    def from_scene(cls, scene: Scene, *, resolution: float = 0.05, robot_radius: float = 0.18,
                   robot_height: float = 1.3, step_height: float = 0.12, max_cells: int = 4_000_000,
                   raycaster=None) -> NavMap:
        """Build the grids by casting one ray down per cell on every floor."""
        lo, hi = scene.mesh.bounds()
        margin = 0.5
        x0, y0 = float(lo[0]) - margin, float(lo[1]) - margin
        w, h = float(hi[0] - lo[0]) + 2 * margin, float(hi[1] - lo[1]) + 2 * margin
        res = resolution
        while math.ceil(w / res) * math.ceil(h / res) > max_cells:
            res *= 1.5
        if res != resolution:
            log.info("navmap: coarsened resolution to %.3f m for a %.0f x %.0f m scene", res, w, h)
        spec = GridSpec(x0, y0, res, int(math.ceil(h / res)), int(math.ceil(w / res)))
        rs = raycaster if raycaster is not None else raycast_scene(scene)
        xs, ys = spec.centres()
        grids: dict[int, FloorGrid] = {}
        import open3d as o3d

        n = xs.size
        for fl in scene.info.floors:
            base = fl.elevation + step_height
            rays = np.zeros((n, 6), dtype=np.float32)
            rays[:, 0] = xs.ravel()
            rays[:, 1] = ys.ravel()
            rays[:, 2] = base
            # down from just above the floor: is there a walking surface here?
            rays[:, 5] = -1.0
            down = rs.cast_rays(o3d.core.Tensor(rays))
            t_down = down["t_hit"].numpy().reshape(spec.shape)
            z_down = base - t_down
            has_floor = np.isfinite(t_down) & (z_down >= fl.elevation - step_height)
            # up from the same point: is anything inside the robot's height band? A hit whose normal
            # points along the ray means the point is inside a solid (a wall, a bed base).
            rays[:, 5] = 1.0
            up = rs.cast_rays(o3d.core.Tensor(rays))
            t_up = up["t_hit"].numpy().reshape(spec.shape)
            nz = up["primitive_normals"].numpy()[:, 2].reshape(spec.shape)
            hit = np.isfinite(t_up)
            obstacle = hit & ((base + t_up < fl.elevation + robot_height) | (nz > 0.0))
            grids[fl.index] = FloorGrid(fl, spec, has_floor, obstacle)
        return cls(grids, tuple(scene.portals), robot_radius)

    # queries ----------------------------------------------------------------------------------
    def grid(self, floor: int) -> FloorGrid:
        try:
            return self.floors[floor]
        except KeyError:
            raise NavigationError(f"no floor {floor}; floors are {sorted(self.floors)}") from None

    def clearance_at(self, x: float, y: float, floor: int = 0) -> float:
        return self.grid(floor).clearance_at(x, y)

    def is_free(self, x: float, y: float, floor: int = 0, radius: float | None = None) -> bool:
        """True when a robot of ``radius`` (default: the map's) centred at (x, y) touches nothing."""
        r = self.robot_radius if radius is None else radius
        return self.clearance_at(x, y, floor) >= r

    def navigable(self, floor: int, radius: float | None = None) -> np.ndarray:
        return self.grid(floor).navigable(self.robot_radius if radius is None else radius)

    def reachable(self, start: Pose, radius: float | None = None) -> dict[int, np.ndarray]:
        """Cells a robot centre can reach from ``start``, per floor, crossing portals."""
        r = self.robot_radius if radius is None else radius
        labels: dict[int, np.ndarray] = {}
        for f, g in self.floors.items():
            labels[f], _ = ndimage.label(g.navigable(r))
        reach = {f: np.zeros(g.spec.shape, dtype=bool) for f, g in self.floors.items()}
        seeds: list[tuple[int, float, float]] = [(start.floor, start.x, start.y)]
        done: set[tuple[int, int]] = set()
        while seeds:
            f, x, y = seeds.pop()
            if f not in self.floors:
                continue
            g = self.floors[f]
            i, j = g.spec.to_cell(x, y)
            if not g.spec.inside(i, j):
                continue
            lab = int(labels[f][i, j])
            if lab == 0 or (f, lab) in done:
                continue
            done.add((f, lab))
            reach[f] |= labels[f] == lab
            for p in self.portals:
                for fa, a, fb, b in ((p.floor_a, p.a, p.floor_b, p.b), (p.floor_b, p.b, p.floor_a, p.a)):
                    if fa != f or fa not in self.floors:
                        continue
                    ia, ja = g.spec.to_cell(*a)
                    if g.spec.inside(ia, ja) and labels[f][ia, ja] == lab:
                        seeds.append((fb, b[0], b[1]))
        return reach

    def body_area(self, mask: np.ndarray, floor: int, radius: float | None = None) -> np.ndarray:
        """Free cells covered by a robot body centred anywhere in ``mask``."""
        r = self.robot_radius if radius is None else radius
        g = self.grid(floor)
        k = int(math.ceil(r / g.spec.resolution))
        yy, xx = np.mgrid[-k:k + 1, -k:k + 1]
        disc = (xx ** 2 + yy ** 2) * g.spec.resolution ** 2 <= r * r
        return ndimage.binary_dilation(mask, structure=disc) & g.free

    def navigable_area_mask(self, start: Pose) -> dict[int, np.ndarray]:
        """The floor area a robot driving from ``start`` can cover with its body, per floor."""
        return {f: self.body_area(m, f) for f, m in self.reachable(start).items()}

    def navigable_area(self, start: Pose) -> float:
        """Square metres of floor the robot can cover from ``start`` (all floors)."""
        total = 0.0
        for f, m in self.navigable_area_mask(start).items():
            total += float(m.sum()) * self.floors[f].spec.resolution ** 2
        return total

    def nearest_navigable(self, x: float, y: float, floor: int, max_dist: float = 2.0,
                          within: np.ndarray | None = None) -> tuple[float, float] | None:
        """The navigable cell centre nearest to (x, y) within ``max_dist``, or None."""
        g = self.grid(floor)
        nav = g.navigable(self.robot_radius)
        if within is not None:
            nav = nav & within
        i, j = g.spec.to_cell(x, y)
        k = int(math.ceil(max_dist / g.spec.resolution))
        i0, i1 = max(0, i - k), min(g.spec.rows, i + k + 1)
        j0, j1 = max(0, j - k), min(g.spec.cols, j + k + 1)
        if i0 >= i1 or j0 >= j1:
            return None
        sub = nav[i0:i1, j0:j1]
        ii, jj = np.nonzero(sub)
        if len(ii) == 0:
            return None
        ii = ii + i0
        jj = jj + j0
        cx, cy = g.spec.to_world(ii, jj)
        d2 = (cx - x) ** 2 + (cy - y) ** 2
        best = int(np.argmin(d2))
        if d2[best] > max_dist ** 2:
            return None
        return float(cx[best]), float(cy[best])
