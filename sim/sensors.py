"""Sensor realism: a Kinect-like depth noise model and odometry drift (off by default).

With ``SensorConfig(enabled=True)`` the simulator hands the robot what a real RGB-D robot gets:

* **Depth noise** — each valid depth ``z`` gets Gaussian noise of standard deviation
  ``sigma(z) = sigma_base + sigma_quad * (z - sigma_ref)**2`` (the axial noise model of
  Nguyen, Izadi and Lovell, 2012, for the Kinect: about 1 mm at 0.5 m, 1.9 cm at 3.5 m,
  7 cm at 6.5 m). Where the surface is seen at a grazing angle the sensor loses the return:
  the angle between the view ray and the surface normal (from the depth image's own
  gradient) above ``grazing_start_deg`` drops the pixel with a probability that rises
  linearly to 1 at ``grazing_full_deg`` (dropped pixels read 0, like nothing hit). Depth
  discontinuities look grazing too, so object borders lose their mixed pixels as on a real sensor.
* **Odometry drift** — the pose the robot *believes* is integrated from noisy odometry:
  each motion's true increment (rotate, translate, rotate in the robot frame) is corrupted
  with noise proportional to its size (Thrun's odometry motion model, ``alpha`` terms) and
  added to the believed pose, so the error random-walks with the distance driven and the
  angle turned. ``Observation.pose`` is then the believed pose; the true one stays in the
  simulator (``Simulator.pose``, ``Observation.true_pose``) for scoring. A teleport
  (``reset`` / ``set_pose``) re-localises: belief and truth coincide again.

Everything is deterministic per ``seed``: the noise of a frame depends only on the seed and the
step number, so rendering the same step twice gives the same depth.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import ConfigDict

from sim.errors import ConfigError
from sim.types import CameraSpec, Pose, wrap_angle

__all__ = ["SensorConfig", "SensorModel", "depth_sigma", "grazing_angles"]


@dataclass(frozen=True, kw_only=True)
class SensorConfig:
    """Depth noise and odometry drift of the robot's sensors (``sim: {sensors: {...}}``).

    ``enabled`` switches both on (``depth_noise`` / ``odometry`` can turn one off again).
    ``alpha_rot_rot`` (rad of heading error per rad turned), ``alpha_rot_trans`` (rad per metre
    driven), ``alpha_trans_trans`` (m per m driven) and ``alpha_trans_rot`` (m per rad turned)
    are the 1-sigma terms of the odometry model.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")
    enabled: bool = False
    seed: int = 0
    depth_noise: bool = True
    sigma_base: float = 0.0012
    sigma_quad: float = 0.0019
    sigma_ref: float = 0.4
    grazing_start_deg: float = 75.0
    grazing_full_deg: float = 88.0
    odometry: bool = True
    alpha_rot_rot: float = 0.02
    alpha_rot_trans: float = 0.01
    alpha_trans_trans: float = 0.02
    alpha_trans_rot: float = 0.002

    def __post_init__(self) -> None:
        checks = [
            (self.sigma_base >= 0 and self.sigma_quad >= 0, "sigma_base and sigma_quad must be 0 or more"),
            (0.0 < self.grazing_start_deg < self.grazing_full_deg <= 90.0,
             f"need 0 < grazing_start_deg < grazing_full_deg <= 90, got {self.grazing_start_deg} and "
             f"{self.grazing_full_deg}"),
            (min(self.alpha_rot_rot, self.alpha_rot_trans, self.alpha_trans_trans, self.alpha_trans_rot) >= 0,
             "odometry alpha terms must be 0 or more"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(f"sensor config: {msg}")


def depth_sigma(z: np.ndarray | float, config: SensorConfig) -> np.ndarray:
    """Standard deviation (m) of the depth noise at z-depth ``z`` (m)."""
    z = np.asarray(z, dtype=np.float32)
    return config.sigma_base + config.sigma_quad * (z - config.sigma_ref) ** 2


def grazing_angles(depth: np.ndarray, camera: CameraSpec) -> np.ndarray:
    """Angle (rad) between each pixel's view ray and the surface normal from the depth gradient.

    Pixels without depth, or whose neighbours have none, get ``pi / 2`` (no usable surface).
    """
    z = np.asarray(depth, dtype=np.float32)
    h, w = z.shape
    u = (np.arange(w, dtype=np.float32) - camera.cx) / camera.fx
    v = (np.arange(h, dtype=np.float32) - camera.cy) / camera.fy
    x = z * u[None, :]
    y = z * v[:, None]
    # central differences along the image axes; the normal is their cross product
    du = [np.gradient(a, axis=1) for a in (x, y, z)]
    dv = [np.gradient(a, axis=0) for a in (x, y, z)]
    nx = du[1] * dv[2] - du[2] * dv[1]
    ny = du[2] * dv[0] - du[0] * dv[2]
    nz = du[0] * dv[1] - du[1] * dv[0]
    dot = np.abs(nx * x + ny * y + nz * z)
    norm = np.sqrt(nx * nx + ny * ny + nz * nz) * np.sqrt(x * x + y * y + z * z)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(norm > 0, dot / norm, 0.0)
    ang = np.arccos(np.clip(cos, 0.0, 1.0))
    valid = z > 0
    near_valid = valid.copy()
    near_valid[:, 1:] &= valid[:, :-1]
    near_valid[:, :-1] &= valid[:, 1:]
    near_valid[1:, :] &= valid[:-1, :]
    near_valid[:-1, :] &= valid[1:, :]
    return np.where(near_valid, ang, np.float32(math.pi / 2)).astype(np.float32)


class SensorModel:
    """Applies ``SensorConfig`` to rendered depth and keeps the robot's believed pose."""

    def __init__(self, config: SensorConfig, camera: CameraSpec) -> None:
        self.config = config
        self.camera = camera
        self._believed: Pose | None = None

    @property
    def believed(self) -> Pose | None:
        """The pose the robot believes it has (None before ``reset``)."""
        return self._believed

    def reset(self, true_pose: Pose) -> None:
        """Re-localise: the belief becomes the true pose (start of an episode, a teleport)."""
        self._believed = true_pose

    def move(self, before: Pose, after: Pose, step: int) -> Pose:
        """Integrate one motion's noisy odometry (true ``before`` -> ``after``); the new belief."""
        if self._believed is None:
            self._believed = before
        cfg = self.config
        b = self._believed
        if not cfg.odometry:
            self._believed = self._shifted(b, after.x - before.x, after.y - before.y, after.yaw - before.yaw, after)
            return self._believed
        dx, dy = after.x - before.x, after.y - before.y
        trans = math.hypot(dx, dy)
        rot1 = wrap_angle(math.atan2(dy, dx) - before.yaw) if trans > 1e-9 else 0.0
        if abs(rot1) > math.pi / 2:  # driving backwards: the translation is negative, not a half turn
            rot1 = wrap_angle(rot1 - math.pi)
            trans = -trans
        rot2 = wrap_angle(after.yaw - before.yaw - rot1)
        rng = np.random.default_rng([cfg.seed, int(step), 1])
        e = rng.standard_normal(3)
        sr1 = cfg.alpha_rot_rot * abs(rot1) + cfg.alpha_rot_trans * abs(trans)
        st = cfg.alpha_trans_trans * abs(trans) + cfg.alpha_trans_rot * (abs(rot1) + abs(rot2))
        sr2 = cfg.alpha_rot_rot * abs(rot2) + cfg.alpha_rot_trans * abs(trans)
        r1, t, r2 = rot1 + sr1 * e[0], trans + st * e[1], rot2 + sr2 * e[2]
        yaw = b.yaw + r1
        self._believed = Pose(b.x + t * math.cos(yaw), b.y + t * math.sin(yaw), after.z,
                              wrap_angle(yaw + r2), after.floor)
        return self._believed

    @staticmethod
    def _shifted(b: Pose, dx: float, dy: float, dyaw: float, after: Pose) -> Pose:
        return Pose(b.x + dx, b.y + dy, after.z, wrap_angle(b.yaw + dyaw), after.floor)

    def depth(self, depth: np.ndarray, step: int) -> np.ndarray:
        """``depth`` with noise and grazing-angle dropouts (a new float32 array; 0 = no return)."""
        cfg = self.config
        z = np.asarray(depth, dtype=np.float32)
        if not cfg.depth_noise:
            return z.copy()
        rng = np.random.default_rng([cfg.seed, int(step), 0])
        valid = z > 0
        ang = np.degrees(grazing_angles(z, self.camera))
        p_drop = np.clip((ang - cfg.grazing_start_deg) / (cfg.grazing_full_deg - cfg.grazing_start_deg), 0.0, 1.0)
        noise = rng.standard_normal(z.shape, dtype=np.float32) * depth_sigma(z, cfg)
        out = np.where(valid, np.maximum(z + noise, 1e-3), 0.0).astype(np.float32)
        out[valid & (rng.random(z.shape, dtype=np.float32) < p_drop)] = 0.0
        return out
