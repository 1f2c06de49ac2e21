"""The robot's own map: from synthetic depth images with known geometry, then from the real simulator."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
import pytest

from sim.mapping import CoverageEvaluator, MapperConfig, OccupancyMapper, coverage
from sim.navmap import FloorGrid, GridSpec, NavMap
from sim.simulator import SimConfig, make_simulator
from sim.types import Action, CameraSpec, FloorInfo, Observation, Pose

CAM = CameraSpec()


class Forbidden(Mapping):
    """Ground truth the mapper must never touch: any access fails the test."""

    def __getitem__(self, key):
        raise AssertionError("the mapper read Observation.objects")

    def __iter__(self):
        raise AssertionError("the mapper read Observation.objects")

    def __len__(self):
        raise AssertionError("the mapper read Observation.objects")


def synthetic(pose: Pose, *, wall_x: float | None = 3.0, wall_top: float = 2.5, hole: tuple | None = None,
              step: int = 0) -> Observation:
    """Depth of a flat floor and a wall ``x = wall_x`` across the view of a robot facing +x.

    ``hole=(x0, x1)``: no floor between those x (a stairwell): rays there see 3 m further down.
    """
    assert pose.yaw == 0.0
    u = np.arange(CAM.width)
    v = np.arange(CAM.height)
    rv = -(v - CAM.cy) / CAM.fy  # up component per row (forward component is 1)
    h = CAM.sensor_height
    depth = np.zeros((CAM.height, CAM.width), np.float32)
    with np.errstate(divide="ignore"):
        d_floor = np.where(rv < 0, h / -rv, np.inf)
    d_wall = np.inf if wall_x is None else wall_x - pose.x
    for r in range(CAM.height):
        d = d_floor[r]
        if hole is not None and np.isfinite(d) and hole[0] <= pose.x + d < hole[1]:
            d = (h + 3.0) / -rv[r]  # the floor below
        if np.isfinite(d_wall) and d_wall < d and 0.0 <= h + rv[r] * d_wall <= wall_top:
            d = d_wall
        elif np.isfinite(d_wall) and d_wall < d:
            d = np.inf  # above the wall: nothing within range
        depth[r, :] = d if d < CAM.max_depth else 0.0
    assert u.size == CAM.width
    return Observation(rgb=np.zeros((CAM.height, CAM.width, 3), np.uint8), depth=depth,
                       instance=np.zeros((CAM.height, CAM.width), np.int32), pose=pose, timestamp=float(step),
                       camera=CAM, step=step, objects=Forbidden(), scene=None)


def cell(fm, x: float, y: float) -> tuple[int, int]:
    return fm.spec.to_cell(x, y)


def test_wall_is_occupied_and_space_before_it_free():
    m = OccupancyMapper(CAM)
    m.update(synthetic(Pose(0.0, 0.0)))
    fm = m.floor(0)
    occ, seen, known_free = fm.occupied, fm.seen, fm.known_free
    for y in np.linspace(-1.5, 1.5, 13):
        assert occ[cell(fm, 3.0, y)], y  # the wall's surface cell
    for x in (1.9, 2.3, 2.7, 2.9):
        assert known_free[cell(fm, x, 0.0)] and seen[cell(fm, x, 0.0)] and not occ[cell(fm, x, 0.0)], x
    # nearer than ~1.67 m the camera cannot see the floor: free (rays passed) but not seen
    for x in (0.6, 1.0, 1.4):
        assert known_free[cell(fm, x, 0.0)] and not seen[cell(fm, x, 0.0)], x
    for x, y in ((3.6, 0.0), (-1.0, 0.0), (1.0, 2.5)):  # behind the wall, behind the robot, outside the view
        assert fm.unknown[cell(fm, x, y)], (x, y)
    assert fm.visited[cell(fm, 0.0, 0.0)]
    nav = fm.navigable()
    assert nav[cell(fm, 2.5, 0.0)] and not nav[cell(fm, 2.9, 0.0)]  # 0.18 m robot radius
    assert math.isclose(fm.clearance[cell(fm, 2.5, 0.0)], 0.5, abs_tol=0.06)


def test_sensing_range_caps_what_is_marked():
    m = OccupancyMapper(CAM, MapperConfig(sensing_range=4.0))
    m.update(synthetic(Pose(0.0, 0.0), wall_x=None))  # an endless floor
    fm = m.floor(0)
    assert fm.seen[cell(fm, 3.8, 0.0)]
    assert fm.unknown[cell(fm, 4.3, 0.0)]


def test_a_hole_in_the_floor_is_not_free():
    m = OccupancyMapper(CAM)
    m.update(synthetic(Pose(0.0, 0.0), wall_x=None, hole=(2.5, 3.5)))
    fm = m.floor(0)
    assert fm.known_free[cell(fm, 2.2, 0.0)]
    assert not fm.known_free[cell(fm, 3.0, 0.0)]  # the far side of the hole is a drop, never free
    assert not fm.navigable()[cell(fm, 2.75, 0.0)]


def test_update_is_idempotent_and_grid_grows_aligned():
    origin = GridSpec(0.013, -0.021, 0.05, 10, 10)
    m = OccupancyMapper(CAM, origin=origin)
    obs = synthetic(Pose(0.0, 0.0))
    m.update(obs)
    L = m.floor(0).logodds.copy()
    m.update(obs)
    assert np.array_equal(L, m.floor(0).logodds)
    m.update(synthetic(Pose(30.0, 0.0), wall_x=33.0, step=1))  # far away: the grid grows
    fm = m.floor(0)
    assert fm.spec.x0 + fm.spec.cols * fm.spec.resolution > 30.0 + 5.5
    k = (fm.spec.x0 - origin.x0) / 0.05
    assert abs(k - round(k)) < 1e-6  # still aligned with the origin grid
    assert fm.occupied[cell(fm, 3.0, 0.0)] and fm.occupied[cell(fm, 33.0, 0.0)]  # cell edges at .013 + k * .05


def test_collision_marks_an_obstacle_unless_the_floor_was_seen():
    m = OccupancyMapper(CAM)
    m.update(synthetic(Pose(0.0, 0.0)))
    fm = m.floor(0)
    for _ in range(5):  # the floor 2.23 m ahead is seen again and again: strongly free
        m.update(synthetic(Pose(0.0, 0.0), step=_ + 1))
    m.mark_collision(Pose(2.0, 0.0))
    assert not fm.occupied[cell(fm, 2.0 + 0.18 + 0.05, 0.0)]
    m.mark_collision(Pose(0.5, 0.0))  # the blind zone: believed free only weakly, the bump wins
    assert fm.occupied[cell(fm, 0.5 + 0.18 + 0.05, 0.0)]


def test_coverage_counts_seen_share_of_reachable_area():
    free = np.ones((40, 60), bool)  # 3 m x 2 m
    free[[0, -1], :] = free[:, [0, -1]] = False
    spec = GridSpec(0.0, 0.0, 0.05, 40, 60)
    nm = NavMap({0: FloorGrid(FloorInfo(0), spec, np.ones(free.shape, bool), ~free)}, (), 0.18)
    m = OccupancyMapper(CAM, origin=spec)
    m.update(synthetic(Pose(1.0, 1.0), wall_x=None))
    ev = CoverageEvaluator(nm, Pose(1.0, 1.0))
    fm = m.floor(0)
    fm.seen[:] = False
    i, j = fm.spec.to_cell(1.5, 0.0)
    fm.seen[:, j:] = True  # everything east of x = 1.5 m
    cov = ev(m)
    mask = nm.navigable_area_mask(Pose(1.0, 1.0))[0]
    xs, _ = spec.centres()
    expected = float((mask & (xs >= 1.5)).sum() / mask.sum())
    assert cov.total == pytest.approx(expected, abs=1e-9)
    assert cov.per_floor == {0: pytest.approx(expected)}
    assert cov.area_m2 == pytest.approx(mask.sum() * 0.05 ** 2)
    assert coverage(m, nm, Pose(1.0, 1.0)).total == pytest.approx(expected)


def test_real_views_give_no_phantom_obstacles():
    with make_simulator(SimConfig(), "rooms:n=3,seed=1") as sim:
        obs = sim.reset()
        m = OccupancyMapper(sim.camera, origin=sim.navmap.grid(0).spec)
        for _ in range(24):
            m.update(dataclasses.replace(obs, objects=Forbidden(), scene=None))
            obs = sim.step(Action.turn_left())
        gt = sim.navmap.grid(0)
        fm = m.floor(0)
        cov = CoverageEvaluator(sim.navmap, sim.pose)(m)
    xs, ys = fm.spec.centres()
    gi, gj = gt.spec.to_cell(xs, ys)
    inside = (gi >= 0) & (gi < gt.spec.rows) & (gj >= 0) & (gj < gt.spec.cols)
    clear = np.zeros(fm.spec.shape, np.float32)
    clear[inside] = gt.clearance[gi[inside], gj[inside]]
    assert fm.occupied.sum() > 500
    assert not (fm.occupied & (clear > 0.1)).any()  # every obstacle cell is within 10 cm of real geometry
    floor_seen = fm.seen & ~fm.occupied
    assert (floor_seen & (clear <= 0.0)).sum() <= 0.02 * floor_seen.sum()
    assert 0.05 < cov.total < 0.5  # one turn in place from the start sees part of the three rooms
