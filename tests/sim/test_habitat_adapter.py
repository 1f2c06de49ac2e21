"""The habitat-sim adapter, against a small stand-in ``habitat_sim`` module injected in ``sys.modules``.

The stand-in mirrors the documented API surface the adapter uses: ``SimulatorConfiguration``,
``AgentConfiguration``, ``CameraSensorSpec``, ``SensorType``, ``ActionSpec``, ``ActuationSpec``,
``Configuration``, ``AgentState`` and ``Simulator`` (``get_agent``, ``step``,
``get_sensor_observations``, ``reset``, ``close``, ``semantic_scene``, ``pathfinder``).
Its agent lives in habitat's frame: y up, looking along local -z, ``turn_left`` = +angle about +y.
"""
from __future__ import annotations

import copy
import enum
import math
import sys
import types

import numpy as np
import pytest

from sim.errors import BackendUnavailable, SceneLoadError, SimError
from sim.habitat import (
    INSTALL_COMMAND,
    HabitatSimulator,
    agent_state_to_pose,
    habitat_rotation_to_yaw,
    habitat_to_world,
    pose_to_agent_state,
    quaternion_coeffs,
    world_to_habitat,
    yaw_to_habitat_rotation,
)
from sim.motion import InvalidPose
from sim.simulator import HabitatOptions, SimConfig, Simulator, make_simulator
from sim.types import Action, Pose

CFG = SimConfig(type="habitat", width=40, height=30, habitat=HabitatOptions(gpu_device_id=0))
HALF = 5.0  # the stand-in world is the box |x| <= 5, |z| <= 5 in habitat coordinates


# --- the stand-in module -------------------------------------------------------------------------
class _Quat:
    """numpy-quaternion look-alike (habitat's ``AgentState.rotation``)."""

    def __init__(self, w: float, x: float, y: float, z: float) -> None:
        self.w, self.x, self.y, self.z = w, x, y, z


class _Category:
    def __init__(self, name: str) -> None:
        self._n = name

    def name(self, mapping: str = "") -> str:
        return self._n


class _Range3D:  # magnum.Range3D: min / max
    def __init__(self, lo, hi) -> None:
        self.min, self.max = tuple(lo), tuple(hi)


class _BBox:  # older habitat BBox: center / sizes
    def __init__(self, center, sizes) -> None:
        self.center, self.sizes = tuple(center), tuple(sizes)


def _fake_habitat() -> types.ModuleType:
    hs = types.ModuleType("habitat_sim")
    hs.SensorType = enum.Enum("SensorType", "NONE COLOR DEPTH SEMANTIC")
    hs.SensorSubType = enum.Enum("SensorSubType", "NONE PINHOLE ORTHOGRAPHIC")

    class SimulatorConfiguration:
        def __init__(self) -> None:
            self.scene_id = ""
            self.scene_dataset_config_file = "default"
            self.gpu_device_id = 0
            self.enable_physics = False

    class CameraSensorSpec:
        def __init__(self) -> None:
            self.uuid = ""
            self.sensor_type = hs.SensorType.COLOR
            self.sensor_subtype = hs.SensorSubType.PINHOLE
            self.resolution = [128, 128]
            self.position = [0.0, 1.5, 0.0]
            self.hfov = 90.0

    class ActuationSpec:
        def __init__(self, amount: float) -> None:
            self.amount = amount

    class ActionSpec:
        def __init__(self, name: str, actuation: ActuationSpec | None = None) -> None:
            self.name, self.actuation = name, actuation

    class AgentConfiguration:
        def __init__(self) -> None:
            self.height, self.radius = 1.5, 0.1
            self.sensor_specifications: list = []
            self.action_space = {"move_forward": ActionSpec("move_forward", ActuationSpec(0.25)),
                                 "turn_left": ActionSpec("turn_left", ActuationSpec(10.0)),
                                 "turn_right": ActionSpec("turn_right", ActuationSpec(10.0))}

    class Configuration:
        def __init__(self, sim_cfg, agents) -> None:
            self.sim_cfg, self.agents = sim_cfg, agents

    class AgentState:
        def __init__(self) -> None:
            self.position = np.zeros(3)
            self.rotation = _Quat(1.0, 0.0, 0.0, 0.0)

    class Agent:
        def __init__(self, cfg: AgentConfiguration) -> None:
            self.agent_config = cfg
            self.state = AgentState()
            self.state.position = np.array([1.0, 0.0, 2.0])  # floor 0 starts at y = 0

        def get_state(self) -> AgentState:
            return copy.deepcopy(self.state)

        def set_state(self, state: AgentState) -> None:
            s = copy.deepcopy(state)
            if isinstance(s.rotation, (list, np.ndarray)):  # coefficients [x, y, z, w]
                c = list(s.rotation)
                s.rotation = _Quat(c[3], c[0], c[1], c[2])
            self.state = s

        def act(self, name: str) -> bool:
            spec = self.agent_config.action_space[name]
            q = self.state.rotation
            theta = 2.0 * math.atan2(q.y, q.w)  # yaw-only rotations about +y
            if spec.name in ("turn_left", "turn_right"):
                theta += math.radians(spec.actuation.amount) * (1 if spec.name == "turn_left" else -1)
                self.state.rotation = _Quat(math.cos(theta / 2), 0.0, math.sin(theta / 2), 0.0)
                return False
            sign = 1.0 if spec.name == "move_forward" else -1.0
            fwd = np.array([-math.sin(theta), 0.0, -math.cos(theta)])
            target = self.state.position + sign * spec.actuation.amount * fwd
            clamped = np.clip(target, -HALF, HALF)
            self.state.position = np.array([clamped[0], self.state.position[1], clamped[2]])
            return bool(np.any(clamped != target))

    class PathFinder:
        is_loaded = True

        def is_navigable(self, p) -> bool:
            return abs(p[0]) < HALF and abs(p[2]) < HALF and min(abs(p[1]), abs(p[1] - 3.0)) < 0.2

    level0 = types.SimpleNamespace(id="0", aabb=_Range3D((-5, 0, -5), (5, 3, 5)))
    level1 = types.SimpleNamespace(id="1", aabb=_Range3D((-5, 3, -5), (5, 6, 5)))
    kitchen = types.SimpleNamespace(id="0_0", category=_Category("kitchen"), level=level0,
                                    aabb=_Range3D((-5, 0, -5), (0, 3, 0)))
    study = types.SimpleNamespace(id="1_0", category=_Category("office"), level=level1,
                                  aabb=_BBox((0, 4.5, 0), (4, 3, 6)))
    objects = [
        types.SimpleNamespace(id="0_0_3", semantic_id=3, category=_Category("Chair"), region=kitchen,
                              aabb=_BBox((-1.0, 0.5, -2.0), (0.6, 1.0, 0.4))),
        types.SimpleNamespace(id="0_0_7", semantic_id=7, category=_Category("wall"), region=kitchen,
                              aabb=_Range3D((-5, 0, -5), (5, 3, -4.9))),
        None,  # real semantic scenes have holes
        types.SimpleNamespace(id="1_0_9", semantic_id=9, category=_Category("desk"), region=study,
                              aabb=_Range3D((1, 3, 1), (2, 3.8, 1.6))),
    ]
    semantic = types.SimpleNamespace(levels=[level1, level0], regions=[kitchen, study], objects=objects,
                                     aabb=_Range3D((-5, 0, -5), (5, 6, 5)))

    class Simulator:
        instances: list = []

        def __init__(self, config: Configuration) -> None:
            assert isinstance(config, Configuration) and isinstance(config.sim_cfg, SimulatorConfiguration)
            self.config = config
            self.calls: list[tuple[str, float]] = []
            self.closed = False
            self._agent = Agent(config.agents[0])
            self._initial = copy.deepcopy(self._agent.state)
            self.semantic_scene = semantic
            self.pathfinder = PathFinder()
            Simulator.instances.append(self)

        def get_agent(self, agent_id: int) -> Agent:
            return self._agent

        def step(self, action: str) -> dict:
            self.calls.append((action, self._agent.agent_config.action_space[action].actuation.amount))
            collided = self._agent.act(action)
            obs = self.get_sensor_observations()
            obs["collided"] = collided
            return obs

        def get_sensor_observations(self) -> dict:
            specs = {s.uuid: s for s in self._agent.agent_config.sensor_specifications}
            h, w = specs["rgb"].resolution
            rgba = np.full((h, w, 4), 255, dtype=np.uint8)
            rgba[..., 0] = np.arange(w, dtype=np.uint8)[None, :]
            depth = np.full((h, w), 2.0, dtype=np.float32)
            depth[0] = 50.0  # beyond max_depth
            depth[1] = 0.0  # no return
            sem = np.full((h, w), 7, dtype=np.uint32)  # wall
            sem[h // 2:, : w // 2] = 3  # chair
            sem[h // 2:, w // 2:] = 42  # an id the semantic scene does not know
            sem[:2] = 3
            return {"rgb": rgba, "depth": depth, "semantic": sem}

        def reset(self) -> dict:
            self._agent.set_state(self._initial)
            return self.get_sensor_observations()

        def close(self) -> None:
            self.closed = True

    for cls in (SimulatorConfiguration, CameraSensorSpec, ActuationSpec, ActionSpec, AgentConfiguration,
                Configuration, AgentState, Simulator):
        setattr(hs, cls.__name__, cls)
    hs.agent = types.SimpleNamespace(AgentConfiguration=AgentConfiguration, AgentState=AgentState,
                                     ActionSpec=ActionSpec, ActuationSpec=ActuationSpec)
    return hs


@pytest.fixture
def fake_hs(monkeypatch):
    hs = _fake_habitat()
    monkeypatch.setitem(sys.modules, "habitat_sim", hs)
    return hs


@pytest.fixture
def scene_file(tmp_path):
    p = tmp_path / "apartment.glb"
    p.write_bytes(b"glTF")
    return str(p)


@pytest.fixture
def hsim(fake_hs, scene_file):
    with HabitatSimulator(CFG, scene_file) as s:
        yield s


# --- pure conversions ----------------------------------------------------------------------------
def test_point_conversions_round_trip():
    rng = np.random.default_rng(0)
    for p in rng.uniform(-10, 10, size=(20, 3)):
        assert np.allclose(world_to_habitat(habitat_to_world(p)), p)
        assert np.allclose(habitat_to_world(world_to_habitat(p)), p)
    assert np.allclose(habitat_to_world((1.0, 2.0, 3.0)), (1.0, -3.0, 2.0))  # y-up -> z-up, -z is north
    assert np.allclose(world_to_habitat((1.0, -3.0, 2.0)), (1.0, 2.0, 3.0))


def test_rotation_conversions():
    assert habitat_rotation_to_yaw(_Quat(1.0, 0.0, 0.0, 0.0)) == pytest.approx(math.pi / 2)  # faces -z = north
    assert habitat_rotation_to_yaw([0.0, 0.0, 0.0, 1.0]) == pytest.approx(math.pi / 2)
    q = yaw_to_habitat_rotation(0.0)  # east = habitat +x: a -90 degree turn about +y
    assert q == pytest.approx([0.0, -math.sin(math.pi / 4), 0.0, math.cos(math.pi / 4)])
    mag = types.SimpleNamespace(scalar=q[3], vector=(q[0], q[1], q[2]))  # magnum.Quaternion layout
    assert quaternion_coeffs(mag) == pytest.approx(tuple(q))
    for yaw in np.linspace(-math.pi, math.pi - 1e-6, 25):
        assert habitat_rotation_to_yaw(yaw_to_habitat_rotation(yaw)) == pytest.approx(yaw, abs=1e-9)
        c = yaw_to_habitat_rotation(yaw)
        assert habitat_rotation_to_yaw(_Quat(c[3] * 2, c[0] * 2, c[1] * 2, c[2] * 2)) == pytest.approx(yaw)


def test_pose_round_trip():
    rng = np.random.default_rng(1)
    for x, y, z, yaw in rng.uniform(-3, 3, size=(20, 4)):
        pose = Pose(float(x), float(y), float(z), float(np.clip(yaw, -math.pi, math.pi - 1e-6)), 2)
        pos, rot = pose_to_agent_state(pose)
        back = agent_state_to_pose(pos, rot, floor=2)
        assert back.to_list() == pytest.approx(pose.to_list(), abs=1e-9)


# --- missing package -----------------------------------------------------------------------------
def test_missing_habitat_names_the_install_command(monkeypatch, scene_file):
    monkeypatch.setitem(sys.modules, "habitat_sim", None)  # import habitat_sim -> ImportError
    with pytest.raises(BackendUnavailable, match="habitat-sim is not installed") as e:
        HabitatSimulator(CFG, scene_file)
    assert INSTALL_COMMAND in str(e.value)
    with pytest.raises(BackendUnavailable, match="conda install habitat-sim -c conda-forge -c aihabitat"):
        make_simulator(SimConfig(), f"habitat:{scene_file}")


# --- through the stand-in ------------------------------------------------------------------------
def test_configuration(hsim, fake_hs, scene_file):
    cfg = fake_hs.Simulator.instances[-1].config
    assert cfg.sim_cfg.scene_id == scene_file and cfg.sim_cfg.gpu_device_id == 0
    agent = cfg.agents[0]
    specs = {s.uuid: s for s in agent.sensor_specifications}
    assert {k: s.sensor_type.name for k, s in specs.items()} == {"rgb": "COLOR", "depth": "DEPTH",
                                                                  "semantic": "SEMANTIC"}
    for s in specs.values():
        assert s.resolution == [CFG.height, CFG.width]
        assert s.position == [0.0, CFG.sensor_height, 0.0] and s.hfov == CFG.hfov_deg
    amounts = {k: (a.name, a.actuation.amount) for k, a in agent.action_space.items()}
    assert amounts == {"move_forward": ("move_forward", CFG.forward_step),
                       "move_backward": ("move_backward", CFG.forward_step),
                       "turn_left": ("turn_left", CFG.turn_deg), "turn_right": ("turn_right", CFG.turn_deg)}
    assert agent.radius == CFG.robot_radius and agent.height == CFG.robot_height


def test_scene_info_from_the_semantic_scene(hsim):
    info = hsim.info
    assert [(f.index, f.elevation, f.height) for f in info.floors] == [(0, 0.0, 3.0), (1, 3.0, 3.0)]
    assert [(r.id, r.type, r.floor) for r in info.rooms] == [(0, "kitchen", 0), (1, "office", 1)]
    assert info.rooms[0].polygon == ((-5.0, 0.0), (0.0, 0.0), (0.0, 5.0), (-5.0, 5.0))
    table = info.object_table()
    assert sorted(table) == [3, 9]  # the wall is structure, the hole is skipped
    chair = table[3]
    assert chair.category == "chair" and chair.room_id == 0 and chair.floor == 0
    assert chair.position == pytest.approx((-1.0, 2.0, 0.5))
    assert chair.size == pytest.approx((0.6, 0.4, 1.0))
    assert table[9].floor == 1 and table[9].room_id == 1
    assert info.bounds_min == pytest.approx((-5.0, -5.0, 0.0)) and info.bounds_max == pytest.approx((5.0, 5.0, 6.0))
    assert hsim.navmap is None and isinstance(hsim, Simulator)


def test_reset_and_observation(hsim):
    obs = hsim.reset()
    h, w = CFG.height, CFG.width
    assert obs.rgb.shape == (h, w, 3) and obs.rgb.dtype == np.uint8
    assert obs.depth.shape == (h, w) and obs.depth.dtype == np.float32
    assert obs.instance.shape == (h, w) and obs.instance.dtype == np.int32
    assert np.all(obs.depth[:2] == 0.0) and np.all(obs.depth[2:] == 2.0)  # beyond max_depth / no return
    assert np.all(obs.instance[:2] == 0)  # no depth, no instance
    assert np.all(obs.instance[h // 2:, : w // 2] == 3)  # chair
    assert np.all(obs.instance[h // 2:, w // 2:] == 0)  # unknown semantic id
    assert np.all(obs.instance[2:h // 2] == 0)  # wall = structure
    assert obs.pose == Pose(1.0, -2.0, 0.0, math.pi / 2, 0)  # habitat (1, 0, 2), identity rotation
    assert obs.step == 0 and obs.timestamp == 0.0 and obs.objects[3].category == "chair"


def test_actions_map_to_habitat_names(hsim, fake_hs):
    fake = fake_hs.Simulator.instances[-1]
    hsim.reset()
    obs = hsim.step(Action.forward())
    assert fake.calls[-1] == ("move_forward", CFG.forward_step)
    assert obs.pose.x == pytest.approx(1.0) and obs.pose.y == pytest.approx(-2.0 + CFG.forward_step)
    obs = hsim.step(Action.turn_left())
    assert fake.calls[-1] == ("turn_left", CFG.turn_deg)
    assert obs.pose.yaw == pytest.approx(math.pi / 2 + math.radians(CFG.turn_deg))
    hsim.step(Action.turn_right(40.0))
    assert fake.calls[-1] == ("turn_right", 40.0)
    spec = fake._agent.agent_config.action_space["turn_right"]
    assert spec.actuation.amount == CFG.turn_deg  # the one-off amount was restored
    hsim.step(Action.backward(0.5))
    assert fake.calls[-1] == ("move_backward", 0.5)
    hsim.step(Action.forward(-0.3))
    assert fake.calls[-1] == ("move_backward", 0.3)
    n = len(fake.calls)
    obs = hsim.step(Action.stop())
    assert len(fake.calls) == n and obs.step == 6 and obs.timestamp == pytest.approx(6 * CFG.step_seconds)


def test_velocity_becomes_discrete_actions(hsim, fake_hs):
    fake = fake_hs.Simulator.instances[-1]
    hsim.reset()
    start = hsim.pose
    obs = hsim.step(Action.velocity(0.5, math.radians(30.0), 1.0))  # 0.5 m, 30 degrees
    names = [c[0] for c in fake.calls]
    assert names == ["turn_left", "move_forward", "move_forward", "turn_left"]
    assert obs.pose.yaw == pytest.approx(start.yaw + math.radians(30.0))
    assert obs.timestamp == pytest.approx(1.0)
    fake.calls.clear()
    for _ in range(4):  # 0.1 m each: remainders carry over, so 0.4 m yields one step
        hsim.step(Action.velocity(0.1, 0.0, 1.0))
    assert [c[0] for c in fake.calls] == ["move_forward"]
    fake.calls.clear()
    hsim.step(Action.velocity(-5.0, -5.0, 0.5))  # clamped to max_speed / max_turn_rate
    names = [c[0] for c in fake.calls]
    assert names.count("move_backward") == 1  # -0.5 m plus the 0.15 m carried = -0.35 m
    assert names.count("turn_right") == int(math.degrees(CFG.max_turn_rate * 0.5) / CFG.turn_deg)


def test_collisions_are_reported(hsim):
    hsim.reset()
    for _ in range(40):  # north = habitat -z: the stand-in's wall is at z = -5
        obs = hsim.step(Action.forward())
    assert obs.collided and obs.pose.y == pytest.approx(HALF)
    obs = hsim.step(Action.turn_left())
    assert not obs.collided


def test_set_pose(hsim):
    obs = hsim.set_pose(Pose(2.0, 1.0, 0.0, 0.3, floor=1))  # z comes from the floor's elevation
    assert obs.pose.to_list() == pytest.approx([2.0, 1.0, 3.0, 0.3, 1.0])
    with pytest.raises(InvalidPose, match="not navigable"):
        hsim.set_pose(Pose(9.0, 0.0, 0.0, 0.0))
    assert hsim.reset().pose == Pose(1.0, -2.0, 0.0, math.pi / 2, 0)


def test_close(fake_hs, scene_file):
    sim = make_simulator(CFG, f"habitat:{scene_file}")
    assert isinstance(sim, HabitatSimulator)
    sim.close()
    assert fake_hs.Simulator.instances[-1].closed
    with pytest.raises(SimError, match="closed"):
        sim.step(Action.forward())


def test_habitat_start_failure_is_backend_unavailable(fake_hs, scene_file, monkeypatch):
    def broken(config):
        raise RuntimeError("unable to create an EGL context")

    monkeypatch.setattr(fake_hs, "Simulator", broken)
    with pytest.raises(BackendUnavailable, match="EGL"):
        HabitatSimulator(CFG, scene_file)
    with pytest.raises(SceneLoadError, match="not found"):
        HabitatSimulator(CFG, "/no/such/scene.glb")
