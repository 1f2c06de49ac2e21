"""Planner and path follower: hand-built grids first, then a real scene's NavMap."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sim.errors import UnreachableGoal
from sim.follower import FollowerConfig, PathFollower
from sim.navmap import FloorGrid, GridSpec, NavMap
from sim.planner import Path, PathSegment, Planner, PlannerConfig, densify
from sim.scene import Portal
from sim.types import ActionKind, FloorInfo, Pose

RES = 0.05
RADIUS = 0.18


def grid_from_free(free: np.ndarray, floor: int = 0, x0: float = 0.0, y0: float = 0.0) -> FloorGrid:
    """A FloorGrid whose free cells are ``free`` (rows = y, cols = x, 5 cm cells)."""
    spec = GridSpec(x0, y0, RES, free.shape[0], free.shape[1])
    return FloorGrid(FloorInfo(floor), spec, np.ones(free.shape, bool), ~free)


def two_rooms(door: bool = True) -> np.ndarray:
    """8 m x 4 m with outer walls and a partition at x = 4 m, optionally with a 1 m door at y = 2 m."""
    free = np.ones((80, 160), bool)
    free[:2, :] = free[-2:, :] = False
    free[:, :2] = free[:, -2:] = False
    free[:, 79:81] = False
    if door:
        free[30:50, 79:81] = True
    free[50:70, 110:130] = False  # a 1 m box in the right room
    return free


@pytest.fixture
def navmap() -> NavMap:
    return NavMap({0: grid_from_free(two_rooms())}, (), RADIUS)


def assert_collision_free(nm: NavMap, path: Path, step: float = 0.01) -> None:
    for seg in path.segments:
        for x, y in densify(seg.points, step):
            assert nm.clearance_at(x, y, seg.floor) >= RADIUS - 1e-6, (x, y, seg.floor)


def test_path_through_door_is_collision_free(navmap):
    path = Planner(navmap).plan(Pose(1.0, 1.0), (7.0, 1.0))
    assert len(path.segments) == 1
    pts = path.segments[0].points
    assert np.allclose(pts[0], (1.0, 1.0)) and np.allclose(pts[-1], (7.0, 1.0))
    assert_collision_free(navmap, path)
    # the only way is the door: the path crosses x = 4 between y = 1.5 and 2.5
    d = densify(pts, 0.01)
    at_wall = d[np.abs(d[:, 0] - 4.0) < 0.02]
    assert len(at_wall) and np.all((at_wall[:, 1] > 1.5) & (at_wall[:, 1] < 2.5))
    assert 6.0 < path.length < 8.5
    assert path.snapped == 0.0


def test_clearance_cost_keeps_paths_off_walls(navmap):
    plain = Planner(navmap, PlannerConfig(clearance_weight=0.0, smooth=False)).plan(Pose(1.0, 0.5), (3.5, 0.5))
    kept = Planner(navmap, PlannerConfig(clearance_weight=3.0, smooth=False)).plan(Pose(1.0, 0.5), (3.5, 0.5))

    def mean_clear(p: Path) -> float:
        return float(np.mean([navmap.clearance_at(x, y) for x, y in densify(p.segments[0].points, 0.05)]))

    assert mean_clear(kept) > mean_clear(plain) + 0.05


def test_smoothing_shortens_without_touching_obstacles(navmap):
    raw = Planner(navmap, PlannerConfig(smooth=False)).plan(Pose(1.0, 3.5), (6.5, 0.5))
    smooth = Planner(navmap).plan(Pose(1.0, 3.5), (6.5, 0.5))
    assert len(smooth.segments[0].points) < len(raw.segments[0].points) / 4
    assert smooth.length <= raw.length + 1e-6
    assert_collision_free(navmap, smooth)


def test_goal_inside_obstacle_snaps_next_to_it(navmap):
    # the box covers x 5.5..6.5, y 2.5..3.5: its centre is 0.5 m from its faces
    path = Planner(navmap).plan(Pose(1.0, 1.0), (6.0, 3.0))
    gx, gy = path.goal
    assert 0.5 < path.snapped <= 1.0
    assert navmap.clearance_at(gx, gy) >= RADIUS
    assert_collision_free(navmap, path)


def test_unreachable_goal_raises_with_reason():
    nm = NavMap({0: grid_from_free(two_rooms(door=False))}, (), RADIUS)
    with pytest.raises(UnreachableGoal) as e:
        Planner(nm).plan(Pose(1.0, 1.0), (7.0, 1.0))
    msg = str(e.value)
    assert "floor 0" in msg and "nearest reachable point is" in msg
    gap = float(msg.split("nearest reachable point is ")[1].split(" m")[0])
    assert 3.0 < gap < 3.3  # from (7, 1) back to the left room's edge at x ~3.8


def test_goal_off_the_map_and_unknown_floor(navmap):
    with pytest.raises(UnreachableGoal, match="unreachable"):
        Planner(navmap).plan(Pose(1.0, 1.0), (40.0, 40.0))
    with pytest.raises(UnreachableGoal, match="floor 3"):
        Planner(navmap).plan(Pose(1.0, 1.0), (2.0, 2.0), goal_floor=3)


def test_start_inside_obstacle_is_refused(navmap):
    with pytest.raises(UnreachableGoal, match="start"):
        Planner(navmap).plan(Pose(6.0, 3.0), (1.0, 1.0))


def test_plan_over_two_floors_through_a_portal():
    portal = Portal(7, "stairs", 0, (3.0, 3.0), 0.0, 1, (1.0, 1.0), math.pi, 0.3)
    nm = NavMap({0: grid_from_free(two_rooms(door=False), 0), 1: grid_from_free(two_rooms(door=True), 1)},
                (portal,), RADIUS)
    path = Planner(nm).plan(Pose(1.0, 1.0, floor=0), (7.0, 3.0), goal_floor=1)
    assert path.floors == [0, 1]
    first, second = path.segments
    assert first.portal is portal and np.allclose(first.points[-1], (3.0, 3.0), atol=0.05)
    assert np.allclose(second.points[0], (1.0, 1.0)) and np.allclose(second.points[-1], (7.0, 3.0))
    assert_collision_free(nm, path)
    # a floor with no stairs to it cannot be reached
    lonely = NavMap({0: nm.floors[0], 1: nm.floors[1]}, (), RADIUS)
    with pytest.raises(UnreachableGoal, match="no known stairs"):
        Planner(lonely).plan(Pose(1.0, 1.0), (7.0, 3.0), goal_floor=1)


def test_cost_field_agrees_with_astar(navmap):
    pl = Planner(navmap)
    field = pl.cost_field(0, (1.0, 1.0))
    a = pl.plan(Pose(1.0, 1.0), (7.0, 1.0))
    assert math.isfinite(field.cost_at(7.0, 1.0))
    assert field.cost_at(7.0, 1.0) >= math.hypot(6.0, 0.0) - 0.1
    pts = field.path_to(7.0, 1.0)
    p = Path((PathSegment(0, pts),), (7.0, 1.0), 0)
    assert_collision_free(navmap, p)
    assert abs(p.length - a.length) < 0.3
    assert not math.isfinite(field.cost_at(6.0, 3.0))  # inside the box
    near = pl.cost_field(0, (1.0, 1.0), max_cost=2.0)
    assert near.cost_at(2.0, 1.0) == pytest.approx(field.cost_at(2.0, 1.0))
    assert not math.isfinite(near.cost_at(7.0, 1.0))  # beyond the search bound
    with pytest.raises(UnreachableGoal):
        field.path_to(6.0, 3.0)


def test_a_bounded_cost_field_searches_a_box_and_finds_what_the_whole_search_finds():
    rng = np.random.default_rng(5)
    free = np.ones((500, 600), bool)
    free[[0, -1], :] = free[:, [0, -1]] = False
    for _ in range(60):
        i, j = rng.integers(5, 470, 2)
        free[i:i + int(rng.integers(3, 30)), j:j + int(rng.integers(3, 30))] = False
    nm = NavMap({0: grid_from_free(free)}, (), RADIUS)
    pl = Planner(nm)
    start = (12.0, 15.0)
    whole = pl.cost_field(0, start)
    for bound in (0.7, 3.0, 8.0):
        near = pl.cost_field(0, start, max_cost=bound)
        inside = np.isfinite(near.dist)
        assert inside.any() and np.all(near.dist[inside] <= bound + 1e-9)
        assert np.allclose(near.dist[inside], whole.dist[inside])  # the box cut nothing a path within it needs
        assert np.all(~np.isfinite(whole.dist[~inside]) | (whole.dist[~inside] > bound - 1e-9))
        ij = np.argwhere(inside)[-1]
        x, y = nm.floors[0].spec.to_world(ij[0], ij[1])
        pts = near.path_to(float(x), float(y))
        assert len(pts) >= 1 and np.hypot(*(pts[0] - np.asarray(start))) < 0.1


def test_coarse_guided_search_matches_full_search():
    rng = np.random.default_rng(3)
    free = np.ones((400, 400), bool)
    free[[0, -1], :] = free[:, [0, -1]] = False
    for _ in range(25):
        i, j = rng.integers(10, 360, 2)
        free[i:i + 30, j:j + 30] = False
    free[:, 200:202] = False
    free[300:330, 200:202] = True  # a single gap in a long wall
    nm = NavMap({0: grid_from_free(free)}, (), RADIUS)
    full = Planner(nm, PlannerConfig(coarse_threshold=10**9)).plan(Pose(1.0, 1.0), (19.0, 1.0))
    coarse = Planner(nm, PlannerConfig(coarse_threshold=1000)).plan(Pose(1.0, 1.0), (19.0, 1.0))
    assert_collision_free(nm, coarse)
    assert coarse.length <= 1.15 * full.length


def test_real_scene_paths_are_collision_free(rooms_scene):
    nm = NavMap.from_scene(rooms_scene)
    pl = Planner(nm)
    start = rooms_scene.start
    for goal in [(6.5, 3.0), (7.2, 0.6), (0.6, 3.4)]:
        path = pl.plan(start, goal)
        assert_collision_free(nm, path)
        assert path.snapped <= pl.config.snap_tolerance
        assert nm.is_free(*path.goal)


# following ----------------------------------------------------------------------------------------
def drive(pose: Pose, action) -> Pose:
    """Ideal kinematics of discrete and velocity actions (no obstacles)."""
    if action.kind is ActionKind.FORWARD:
        d = action.amount
        return pose.moved(x=pose.x + d * math.cos(pose.yaw), y=pose.y + d * math.sin(pose.yaw))
    if action.kind in (ActionKind.TURN_LEFT, ActionKind.TURN_RIGHT):
        a = math.radians(action.amount) * (1 if action.kind is ActionKind.TURN_LEFT else -1)
        return pose.moved(yaw=pose.yaw + a)
    if action.kind is ActionKind.VELOCITY:
        yaw = pose.yaw + action.omega * action.dt
        return pose.moved(x=pose.x + action.v * action.dt * math.cos(yaw),
                          y=pose.y + action.v * action.dt * math.sin(yaw), yaw=yaw)
    raise AssertionError(action)


@pytest.mark.parametrize("mode", ["discrete", "velocity"])
def test_follower_arrives_within_tolerance(mode):
    pts = np.array([[0.0, 0.0], [3.0, 0.0], [3.0, 2.0]])
    f = PathFollower(FollowerConfig(mode=mode, goal_tolerance=0.2))
    f.set_path(Path((PathSegment(0, pts),), (3.0, 2.0), 0))
    pose = Pose(0.0, 0.0, yaw=math.pi)  # facing away: must turn first
    first = f.act(pose)
    assert first.kind in (ActionKind.TURN_LEFT, ActionKind.TURN_RIGHT, ActionKind.VELOCITY)
    pose = drive(pose, first)
    for _ in range(400):
        a = f.act(pose)
        if a is None:
            break
        if a.kind in (ActionKind.TURN_LEFT, ActionKind.TURN_RIGHT):
            assert a.amount <= 15.0 + 1e-9
        if a.kind is ActionKind.FORWARD:
            assert a.amount <= 0.25 + 1e-9
        pose = drive(pose, a)
    assert f.status == "arrived"
    assert math.hypot(pose.x - 3.0, pose.y - 2.0) <= 0.2


def test_follower_reports_blocked_after_bumps():
    f = PathFollower(FollowerConfig(stuck_after=3))
    f.set_path(Path((PathSegment(0, np.array([[0.0, 0.0], [2.0, 0.0]])),), (2.0, 0.0), 0))
    pose = Pose(0.0, 0.0, yaw=0.0)
    assert f.act(pose).kind is ActionKind.FORWARD
    for _ in range(3):
        a = f.act(pose, collided=True)  # the robot does not move
    assert a is None and f.status == "blocked"


def test_follower_switches_segment_after_portal():
    portal = Portal(1, "stairs", 0, (1.0, 0.0), 0.0, 1, (5.0, 5.0), 0.0, 0.3)
    path = Path((PathSegment(0, np.array([[0.0, 0.0], [1.0, 0.0]]), portal),
                 PathSegment(1, np.array([[5.0, 5.0], [6.0, 5.0]]))), (6.0, 5.0), 1)
    f = PathFollower()
    f.set_path(path)
    assert f.act(Pose(0.0, 0.0, yaw=0.0)).kind is ActionKind.FORWARD
    a = f.act(Pose(5.0, 5.0, yaw=math.pi / 2, floor=1))  # carried to floor 1, facing +y
    assert a.kind is ActionKind.TURN_RIGHT and a.amount == pytest.approx(15.0)  # towards +x, by one step
