"""Turn a scene spec into a ``Scene``: run a world generator or load a mesh file."""
from __future__ import annotations

import logging

from sim.config import from_dict
from sim.errors import ConfigError, RegistryError, SceneSpecError
from sim.scene import Scene
from sim.spec import SceneSpec, parse_spec
from sim.worlds import WORLDS

log = logging.getLogger(__name__)

__all__ = ["load_scene", "world_config"]


def world_config(spec: SceneSpec):
    """The validated config dataclass for a world-type spec."""
    try:
        world = WORLDS.get(spec.kind)
    except RegistryError as e:
        raise SceneSpecError(str(e)) from None
    try:
        cfg = from_dict(world.config, spec.params, where=f"{spec.kind} world")
    except ConfigError as e:
        raise SceneSpecError(f"bad scene spec {spec.text!r}: {e}") from None
    validate = getattr(cfg, "validate", None)
    if validate is not None:
        validate()
    return world, cfg


def load_scene(spec: str | SceneSpec) -> Scene:
    """Build or load the scene named by ``spec``."""
    sp = parse_spec(spec) if isinstance(spec, str) else spec
    if sp.kind == "habitat":
        raise SceneSpecError("habitat scenes are loaded by the habitat simulator (simulator type 'habitat')")
    if sp.kind == "file":
        from sim.mesh_io import load_mesh_scene

        return load_mesh_scene(sp.path)
    world, cfg = world_config(sp)
    log.info("generating %s world %s", sp.kind, cfg)
    scene = world.generate(cfg)
    scene.spec = sp.text
    return scene
