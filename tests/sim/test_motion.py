"""The built-in simulator's motion: walls, sliding, velocity commands, portals, poses, clock."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sim import geometry
from sim.builtin import BuiltinSimulator
from sim.errors import SimError
from sim.motion import InvalidAction, InvalidPose
from sim.scene import Portal, Scene, SceneBuilder, SurfaceKind
from sim.simulator import SimConfig, Simulator, make_simulator
from sim.types import Action, FloorInfo, ObjectInfo, Pose, SceneInfo

CFG = SimConfig(width=48, height=36)  # motion tests barely look at the images
R = CFG.robot_radius
EAST_FACE = 5.95  # inner face of the east wall (centre line x = 6, 0.1 m thick)


def _room(b: SceneBuilder, z: float, height: float = 2.7) -> None:
    """A 6 x 4 m room on [0, 6] x [0, 4] with its floor at ``z``."""
    b.add(geometry.box((0.0, 0.0, z - 0.1), (6.0, 4.0, z)), colour=(150, 140, 130), material="wood",
          kind=SurfaceKind.FLOOR)
    for p0, p1 in (((0.0, 0.0), (6.0, 0.0)), ((6.0, 0.0), (6.0, 4.0)), ((6.0, 4.0), (0.0, 4.0)),
                   ((0.0, 4.0), (0.0, 0.0))):
        b.add_wall(p0, p1, z0=z, height=height)


def _one_floor() -> Scene:
    b = SceneBuilder()
    _room(b, 0.0)
    box = ((2.5, 2.8, 0.0), (3.5, 3.6, 0.8))  # a table-height box near the north wall
    b.add(geometry.box(*box), colour=(200, 30, 30), material="wood", instance=1)
    obj = ObjectInfo(1, "table", "red", "wood", 0, 0, (3.0, 3.2, 0.4), box[0], box[1])
    info = SceneInfo(name="motion-test", kind="test", floors=(FloorInfo(0, 0.0, 2.7),), objects=(obj,))
    return Scene(info, b.build(), Pose(1.0, 1.0, 0.0, 0.0))


def _two_floors() -> Scene:
    """Two stacked rooms joined by a portal: (4.5, 1) on floor 0 <-> (1.5, 1) on floor 1."""
    b = SceneBuilder()
    _room(b, 0.0, height=2.9)
    _room(b, 3.0)
    portal = Portal(0, "stairs", 0, (4.5, 1.0), 0.0, 1, (1.5, 1.0), 0.0, radius=0.35)
    info = SceneInfo(name="two-floors", kind="test", floors=(FloorInfo(0, 0.0, 2.9), FloorInfo(1, 3.0, 2.7)))
    return Scene(info, b.build(), Pose(3.0, 1.0, 0.0, 0.0), (portal,))


@pytest.fixture(scope="module")
def sim():
    with BuiltinSimulator(CFG, _one_floor()) as s:
        yield s


@pytest.fixture(scope="module")
def stop_sim():
    with BuiltinSimulator(dataclasses.replace(CFG, collision="stop"), _one_floor()) as s:
        yield s


def test_implements_the_protocol(sim):
    assert isinstance(sim, Simulator)
    obs = sim.reset()
    assert obs.rgb.shape == (36, 48, 3) and obs.depth.shape == (36, 48) and obs.instance.shape == (36, 48)
    assert obs.pose == sim.pose == Pose(1.0, 1.0, 0.0, 0.0)
    assert obs.step == 0 and obs.timestamp == 0.0 and not obs.collided
    assert dict(obs.objects) == sim.info.object_table() and obs.scene is sim.info
    assert sim.navmap.is_free(1.0, 1.0)


def test_cannot_walk_through_a_wall(sim):
    sim.reset(Pose(3.0, 1.0, 0.0, 0.0))  # facing the east wall
    for _ in range(100):
        obs = sim.step(Action.forward())
    assert obs.collided
    assert obs.pose.x <= EAST_FACE - R + 0.05  # on the near side, against the wall
    assert obs.pose.x > EAST_FACE - R - 0.1
    assert abs(obs.pose.y - 1.0) < 1e-9 and obs.pose.z == 0.0
    assert sim.navmap.is_free(obs.pose.x, obs.pose.y)


def test_fast_velocity_command_cannot_tunnel(sim):
    sim.reset(Pose(5.0, 2.0, 0.0, 0.0))
    obs = sim.step(Action.velocity(50.0, 0.0, 5.0))  # clamped to max_speed, still far beyond the wall
    assert obs.collided and obs.pose.x < EAST_FACE - R + 0.05


def test_slides_along_a_wall_at_an_angle(sim, stop_sim):
    start = Pose(4.5, 1.0, 0.0, math.radians(30.0))  # 30 degrees left of the wall normal
    sim.reset(start)
    for _ in range(20):
        obs = sim.step(Action.forward())
    assert obs.collided
    assert obs.pose.x <= EAST_FACE - R + 0.05
    # 5 m commanded: reaching the wall takes ~1.4 m, the rest slides north along it
    assert obs.pose.y > 2.5
    assert obs.pose.yaw == pytest.approx(start.yaw)
    # with collision "stop" the robot stays where it first touched
    stop_sim.reset(start)
    for _ in range(20):
        obs2 = stop_sim.step(Action.forward())
    assert obs2.collided and obs2.pose.y < 2.0
    assert stop_sim.navmap.is_free(obs2.pose.x, obs2.pose.y)


def test_head_on_contact_does_not_creep_sideways(sim):
    sim.reset(Pose(5.0, 2.0, 0.0, 0.0))
    for _ in range(10):
        obs = sim.step(Action.forward())
    assert obs.pose.y == pytest.approx(2.0, abs=1e-9)


def test_velocity_integrates_a_unicycle_in_free_space(sim):
    start = Pose(1.5, 1.0, 0.0, 0.3)
    sim.reset(start)
    v, w, dt = 0.5, 0.6, 1.5
    obs = sim.step(Action.velocity(v, w, dt))
    x = start.x + v / w * (math.sin(start.yaw + w * dt) - math.sin(start.yaw))
    y = start.y - v / w * (math.cos(start.yaw + w * dt) - math.cos(start.yaw))
    assert obs.pose.x == pytest.approx(x, abs=1e-6) and obs.pose.y == pytest.approx(y, abs=1e-6)
    assert obs.pose.yaw == pytest.approx(start.yaw + w * dt, abs=1e-9)
    assert not obs.collided and obs.timestamp == pytest.approx(dt)


def test_velocity_is_clamped(sim):
    sim.reset(Pose(1.0, 2.0, 0.0, 0.0))
    obs = sim.step(Action.velocity(10.0, 0.0, 1.0))
    assert obs.pose.x == pytest.approx(1.0 + CFG.max_speed, abs=1e-6)
    obs = sim.step(Action.velocity(0.0, 10.0, 0.5))
    assert obs.pose.yaw == pytest.approx(CFG.max_turn_rate * 0.5, abs=1e-9)
    assert obs.pose.x == pytest.approx(1.0 + CFG.max_speed, abs=1e-6)


def test_discrete_actions_and_clock(sim):
    sim.reset(Pose(2.0, 2.0, 0.0, 0.0))
    obs = sim.step(Action.forward())
    assert obs.pose.x == pytest.approx(2.0 + CFG.forward_step) and obs.step == 1
    assert obs.timestamp == pytest.approx(CFG.step_seconds)
    obs = sim.step(Action.turn_left())
    assert obs.pose.yaw == pytest.approx(math.radians(CFG.turn_deg))
    obs = sim.step(Action.turn_right(45.0))
    assert obs.pose.yaw == pytest.approx(math.radians(CFG.turn_deg - 45.0))
    sim.step(Action.turn_left(45.0 - CFG.turn_deg))
    obs = sim.step(Action.backward(0.5))
    assert obs.pose.x == pytest.approx(2.0 + CFG.forward_step - 0.5)
    obs = sim.step(Action.stop())
    assert obs.step == 6 and obs.timestamp == pytest.approx(6 * CFG.step_seconds)
    obs = sim.observe()
    assert obs.step == 6
    assert sim.reset().timestamp == 0.0


def test_never_ends_inside_an_obstacle(sim):
    rng = np.random.default_rng(7)
    sim.reset()
    for _ in range(400):
        k = rng.integers(6)
        if k < 2:
            action = Action.forward(float(rng.uniform(0.05, 1.0)))
        elif k == 2:
            action = Action.backward()
        elif k == 3:
            action = Action.turn_left(float(rng.uniform(5, 120)))
        elif k == 4:
            action = Action.turn_right(float(rng.uniform(5, 120)))
        else:
            action = Action.velocity(float(rng.uniform(-1, 1.5)), float(rng.uniform(-2.5, 2.5)),
                                     float(rng.uniform(0.1, 2.0)))
        res = sim._apply(action)  # motion only: rendering is tested elsewhere
        sim._pose = res.pose
        p = res.pose
        assert sim.navmap.is_free(p.x, p.y, p.floor), (action, p)
        assert p.z == 0.0 and p.floor == 0 and -math.pi <= p.yaw < math.pi


def test_set_pose_refuses_obstacles_and_off_map(sim):
    with pytest.raises(InvalidPose, match="clearance"):
        sim.set_pose(Pose(6.0, 2.0, 0.0, 0.0))  # inside the east wall
    with pytest.raises(InvalidPose, match="clearance"):
        sim.set_pose(Pose(3.0, 3.2, 0.0, 0.0))  # inside the table
    with pytest.raises(InvalidPose, match="off the map"):
        sim.set_pose(Pose(20.0, 2.0, 0.0, 0.0))
    with pytest.raises(InvalidPose, match="floors"):
        sim.set_pose(Pose(2.0, 2.0, 0.0, 0.0, floor=3))
    with pytest.raises(SimError):
        sim.reset(Pose(5.99, 2.0, 0.0, 0.0))
    obs = sim.set_pose(Pose(2.0, 2.0, 7.0, 4.0))  # z follows the floor, yaw is wrapped
    assert obs.pose.z == 0.0 and -math.pi <= obs.pose.yaw < math.pi


def test_invalid_actions(sim):
    with pytest.raises(InvalidAction):
        sim.step(Action.velocity(0.5, 0.0, 0.0))
    with pytest.raises(InvalidAction):
        sim.step(Action.forward(float("nan")))
    with pytest.raises(InvalidAction):
        sim.step("forward")  # type: ignore[arg-type]


def test_portal_moves_between_floors():
    with BuiltinSimulator(CFG, _two_floors()) as sim:
        obs = sim.reset()
        assert obs.pose.floor == 0
        for _ in range(6):
            obs = sim.step(Action.forward())
            if obs.pose.floor == 1:
                break
        assert obs.pose == Pose(1.5, 1.0, 3.0, 0.0, 1)
        # the robot arrives inside the far disc: no bounce back while it leaves it
        obs = sim.step(Action.forward())
        assert obs.pose.floor == 1 and obs.pose.x == pytest.approx(1.75) and obs.pose.z == 3.0
        assert sim.navmap.is_free(obs.pose.x, obs.pose.y, 1)
        for _ in range(2):
            obs = sim.step(Action.forward())
        assert obs.pose.floor == 1 and obs.pose.x == pytest.approx(2.25)
        # turn round and drive back into the disc: back down on floor 0 at the other end
        sim.step(Action.turn_left(180.0))
        for _ in range(4):
            obs = sim.step(Action.forward())
            if obs.pose.floor == 0:
                break
        assert obs.pose.floor == 0 and obs.pose.z == 0.0
        assert (obs.pose.x, obs.pose.y) == (4.5, 1.0) and obs.pose.yaw == 0.0
        # set_pose places the robot on another floor at that floor's elevation
        obs = sim.set_pose(Pose(3.0, 2.0, 0.0, 0.0, floor=1))
        assert obs.pose.z == 3.0 and obs.depth.max() > 0


def test_closed_simulator_refuses_work():
    sim = make_simulator(CFG, "rooms:n=2,seed=0")
    assert isinstance(sim, BuiltinSimulator)
    with sim:
        obs = sim.reset()
        assert obs.instance.dtype == np.int32
    with pytest.raises(SimError, match="closed"):
        sim.step(Action.forward())
