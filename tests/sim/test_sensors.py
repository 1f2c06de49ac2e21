"""Sensor realism: Kinect-like depth noise, grazing-angle dropouts, odometry drift, determinism."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sim.errors import ConfigError
from sim.sensors import SensorConfig, SensorModel, depth_sigma, grazing_angles
from sim.simulator import SimConfig, make_simulator
from sim.types import Action, CameraSpec, Pose

CAM = CameraSpec(width=160, height=120)


def _wall(z: float) -> np.ndarray:
    """Depth image of a wall facing the camera at z-depth ``z``."""
    return np.full((CAM.height, CAM.width), z, dtype=np.float32)


def _floor(height: float = 1.25) -> np.ndarray:
    """Depth image of an infinite floor ``height`` below the camera (sky above the horizon)."""
    v = (np.arange(CAM.height, dtype=np.float32) - CAM.cy) / CAM.fy
    with np.errstate(divide="ignore"):
        z = np.where(v > 0, height / np.maximum(v, 1e-9), 0.0)
    return np.repeat(z[:, None], CAM.width, axis=1).astype(np.float32)


def test_sigma_follows_the_kinect_model():
    cfg = SensorConfig(enabled=True)
    assert depth_sigma(0.4, cfg) == pytest.approx(0.0012)
    assert depth_sigma(3.5, cfg) == pytest.approx(0.0012 + 0.0019 * 3.1 ** 2, rel=1e-5)


def test_depth_noise_grows_with_distance_and_is_deterministic():
    model = SensorModel(SensorConfig(enabled=True, seed=4), CAM)
    near, far = model.depth(_wall(1.0), step=3), model.depth(_wall(5.0), step=3)
    cfg = model.config
    # a wall seen head-on keeps (almost) every pixel; the spread is the model's sigma
    assert (near > 0).mean() > 0.95 and (far > 0).mean() > 0.95
    assert np.std(near[near > 0] - 1.0) == pytest.approx(float(depth_sigma(1.0, cfg)), rel=0.15)
    assert np.std(far[far > 0] - 5.0) == pytest.approx(float(depth_sigma(5.0, cfg)), rel=0.15)
    again = SensorModel(SensorConfig(enabled=True, seed=4), CAM).depth(_wall(5.0), step=3)
    other = SensorModel(SensorConfig(enabled=True, seed=5), CAM).depth(_wall(5.0), step=3)
    assert np.array_equal(far, again)
    assert not np.array_equal(far, other)


def test_grazing_floor_drops_out_far_away():
    floor = _floor()
    ang = np.degrees(grazing_angles(floor, CAM))
    rows = np.arange(CAM.height)
    near_row, far_row = CAM.height - 5, int(CAM.cy) + 3  # 1.25 m below, seen close and far
    assert ang[near_row, CAM.width // 2] < 60.0 < ang[far_row, CAM.width // 2]
    noisy = SensorModel(SensorConfig(enabled=True), CAM).depth(floor, step=0)
    kept = (noisy > 0).mean(axis=1)
    assert kept[rows > CAM.height - 20].mean() > 0.95  # the floor near the robot survives
    assert kept[(rows > CAM.cy) & (rows < CAM.cy + 4)].mean() < 0.2  # far, grazing floor is lost
    assert not (noisy[rows < CAM.cy] > 0).any()  # nothing appears where nothing was hit


def test_odometry_drift_random_walks_and_relocalises():
    model = SensorModel(SensorConfig(enabled=True, seed=1, alpha_rot_rot=0.05, alpha_trans_trans=0.05), CAM)
    true = Pose(0.0, 0.0, yaw=0.0)
    model.reset(true)
    errors = []
    for k in range(1, 201):
        after = true.moved(x=true.x + 0.25 * math.cos(true.yaw), y=true.y + 0.25 * math.sin(true.yaw)) \
            if k % 3 else true.moved(yaw=true.yaw + math.radians(15))
        belief = model.move(true, after, k)
        true = after
        errors.append(math.hypot(belief.x - true.x, belief.y - true.y))
    assert errors[-1] > 0.02  # it drifted
    assert errors[-1] < 5.0  # a random walk, not a runaway
    model.reset(true)
    assert model.believed == true


def test_bad_sensor_config_names_the_fields():
    with pytest.raises(ConfigError, match="grazing_start_deg"):
        SensorConfig(grazing_start_deg=89.0, grazing_full_deg=80.0)


@pytest.fixture(scope="module")
def scene():
    from sim.loader import load_scene

    return load_scene("rooms:n=3,seed=1")


def _drive(sim, n: int = 24):
    obs = sim.reset()
    out = [obs]
    for k in range(n):
        obs = sim.step(Action.forward() if k % 4 else Action.turn_left())
        out.append(obs)
    return out


def test_simulator_off_by_default_gives_true_poses_and_clean_depth(scene):
    with make_simulator(SimConfig(), scene) as sim:
        observations = _drive(sim, 8)
        assert all(obs.pose == obs.true_pose for obs in observations)
        assert observations[-1].true_pose == sim.pose
        assert np.array_equal(observations[-1].depth, sim.renderer.render(sim.pose).depth)


def test_simulator_with_sensors_believes_a_drifting_pose(scene):
    cfg = SimConfig(sensors=SensorConfig(enabled=True, seed=2, alpha_rot_rot=0.1, alpha_trans_trans=0.1))
    with make_simulator(SimConfig(), scene) as clean_sim:
        clean = _drive(clean_sim)
    with make_simulator(cfg, scene) as sim:
        noisy = _drive(sim)
        assert noisy[-1].true_pose == sim.pose
        again = sim.set_pose(sim.pose)  # a teleport re-localises
        assert again.pose == again.true_pose
    with make_simulator(cfg, scene) as sim2:
        repeat = _drive(sim2)
    assert noisy[0].pose == noisy[0].true_pose  # the start is known
    last = noisy[-1]
    assert last.pose != last.true_pose
    assert last.true_pose == clean[-1].pose  # the noise never changes where the robot really goes
    assert np.array_equal(last.depth, repeat[-1].depth) and last.pose == repeat[-1].pose
    valid = (clean[-1].depth > 0) & (last.depth > 0)
    assert 0.0 < np.abs(last.depth[valid] - clean[-1].depth[valid]).mean() < 0.05
