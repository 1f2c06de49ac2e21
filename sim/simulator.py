"""The ``Simulator`` interface, its config and the registry of backends.

``make_simulator(config, scene)`` builds the backend named by ``config.type``:
``builtin`` (Open3D raycasting, always available) or ``habitat`` (habitat-sim, optional,
imported only when built).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from pydantic import ConfigDict

from sim.errors import ConfigError
from sim.registry import Registry
from sim.sensors import SensorConfig
from sim.types import Action, CameraSpec, Observation, Pose, SceneInfo

if TYPE_CHECKING:
    from sim.navmap import NavMap
    from sim.scene import Scene
    from sim.spec import SceneSpec

__all__ = ["SimConfig", "HabitatOptions", "Simulator", "SIMULATORS", "make_simulator"]


@dataclass(frozen=True, kw_only=True)
class HabitatOptions:
    """Settings only the habitat-sim backend reads."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    scene_dataset_config: str = ""
    gpu_device_id: int = -1
    enable_physics: bool = False


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    """Robot, sensor and motion settings shared by every backend."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    type: str = "builtin"
    width: int = 320
    height: int = 240
    hfov_deg: float = 90.0
    sensor_height: float = 1.25
    max_depth: float = 20.0
    robot_radius: float = 0.18
    robot_height: float = 1.3
    forward_step: float = 0.25
    turn_deg: float = 15.0
    max_speed: float = 1.0  # m/s, clamps continuous commands
    max_turn_rate: float = 2.0  # rad/s
    collision: Literal["slide", "stop"] = "slide"
    nav_resolution: float = 0.05
    render_threads: int = 1
    step_seconds: float = 0.5  # simulated time of one discrete action (observation timestamps)
    habitat: HabitatOptions = field(default_factory=HabitatOptions)
    sensors: SensorConfig = field(default_factory=SensorConfig)  # depth noise, odometry drift (off by default)

    def __post_init__(self) -> None:
        checks = [
            (16 <= self.width <= 4096 and 16 <= self.height <= 4096, "width/height must be 16..4096 pixels"),
            (10.0 <= self.hfov_deg <= 170.0, "hfov_deg must be 10..170"),
            (0.05 <= self.robot_radius <= 2.0, "robot_radius must be 0.05..2 m"),
            (0.1 <= self.sensor_height <= 3.0, "sensor_height must be 0.1..3 m"),
            (0.01 <= self.forward_step <= 2.0, "forward_step must be 0.01..2 m"),
            (0.5 <= self.turn_deg <= 180.0, "turn_deg must be 0.5..180 degrees"),
            (0.01 <= self.nav_resolution <= 0.5, "nav_resolution must be 0.01..0.5 m"),
            (1 <= self.render_threads <= 64, "render_threads must be 1..64"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(f"simulator config: {msg}")

    @property
    def camera(self) -> CameraSpec:
        return CameraSpec(width=self.width, height=self.height, hfov_deg=self.hfov_deg,
                          sensor_height=self.sensor_height, max_depth=self.max_depth)


@runtime_checkable
class Simulator(Protocol):
    """A robot in a world. Use as a context manager so resources are released."""

    config: SimConfig
    info: SceneInfo
    camera: CameraSpec

    @property
    def pose(self) -> Pose: ...

    @property
    def navmap(self) -> NavMap | None:
        """Ground-truth navigable map (None when the backend cannot provide one)."""
        ...

    def reset(self, pose: Pose | None = None) -> Observation:
        """Put the robot at ``pose`` (default: the scene's start) and observe."""
        ...

    def step(self, action: Action) -> Observation:
        """Apply one motion command (with collisions) and observe."""
        ...

    def observe(self) -> Observation:
        """Render what the robot sees now, without moving."""
        ...

    def set_pose(self, pose: Pose) -> Observation:
        """Teleport (no collision check beyond refusing poses inside obstacles) and observe."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Simulator: ...

    def __exit__(self, *exc) -> None: ...


SIMULATORS: Registry = Registry("simulator")
SIMULATORS.register_lazy("builtin", "sim.builtin:BuiltinSimulator")
SIMULATORS.register_lazy("habitat", "sim.habitat:HabitatSimulator")


def make_simulator(config: SimConfig | None = None, scene: Scene | SceneSpec | str | None = None) -> Simulator:
    """Build the simulator backend ``config.type`` for ``scene`` (a ``Scene``, a spec or a spec string).

    A ``habitat:PATH`` spec selects the habitat backend whatever ``config.type`` says.
    """
    from sim.scene import Scene
    from sim.spec import SceneSpec, parse_spec

    cfg = config or SimConfig()
    if scene is None:
        raise ConfigError("make_simulator needs a scene (a Scene, or a spec such as 'house:seed=3,rooms=6')")
    spec = parse_spec(scene) if isinstance(scene, str) else scene
    kind = cfg.type
    if isinstance(spec, SceneSpec) and spec.kind == "habitat":
        kind = "habitat"
    backend = SIMULATORS.get(kind)
    if kind == "habitat":
        path = spec.path if isinstance(spec, SceneSpec) else ""
        if not path:
            raise ConfigError("the habitat simulator needs a scene file: use the spec 'habitat:PATH'")
        return backend(cfg, path)
    if not isinstance(spec, Scene):
        from sim.loader import load_scene

        spec = load_scene(spec)
    return backend(cfg, spec)
