"""The robot's own occupancy map kept in the memory file, so it can plan in a later session.

Each floor is stored as a lossless PNG in the memory's image table (node id ``robotmap/<floor>``,
kind ``map``): red = log-odds quantised to 8 bits, green = seen/swept/visited flags; the grid
geometry goes in the ``robot_map`` meta entry.
"""
from __future__ import annotations

import logging

import numpy as np

from memory.store import MemoryStore
from sim.mapping import MapperConfig, OccupancyMapper
from sim.navmap import GridSpec
from sim.types import CameraSpec

log = logging.getLogger(__name__)

__all__ = ["save_robot_map", "load_robot_map"]


def _node(floor: int) -> str:
    return f"robotmap/{floor}"


def save_robot_map(store: MemoryStore, mapper: OccupancyMapper) -> int:
    """Write every floor of ``mapper`` to ``store`` (within the store's current transaction)."""
    cfg = mapper.config
    meta = {}
    for f in sorted(mapper.floors):
        spec, logodds, flags = mapper.export_floor(f)
        q = np.round((np.clip(logodds, cfg.l_min, cfg.l_max) - cfg.l_min) / (cfg.l_max - cfg.l_min) * 255.0)
        img = np.zeros((*spec.shape, 3), dtype=np.uint8)
        img[..., 0] = q.astype(np.uint8)
        img[..., 1] = flags
        store.put_image(_node(f), "map", img)
        meta[str(f)] = {"x0": spec.x0, "y0": spec.y0, "resolution": spec.resolution, "rows": spec.rows,
                        "cols": spec.cols}
    store.set_meta("robot_map", {"floors": meta, "l_min": cfg.l_min, "l_max": cfg.l_max})
    return len(meta)


def load_robot_map(store: MemoryStore, camera: CameraSpec, config: MapperConfig | None = None
                   ) -> OccupancyMapper | None:
    """The robot map saved in ``store``, or None when the memory holds none."""
    meta = store.get_meta("robot_map")
    if not meta or not meta.get("floors"):
        return None
    cfg = config or MapperConfig()
    floors = meta["floors"]
    first = next(iter(floors.values()))
    origin = GridSpec(float(first["x0"]), float(first["y0"]), float(first["resolution"]), 1, 1)
    mapper = OccupancyMapper(camera, cfg, origin=origin)
    lo, hi = float(meta.get("l_min", cfg.l_min)), float(meta.get("l_max", cfg.l_max))
    for key, g in floors.items():
        spec = GridSpec(float(g["x0"]), float(g["y0"]), float(g["resolution"]), int(g["rows"]), int(g["cols"]))
        img = store.get_image(_node(int(key)), "map")
        logodds = img[..., 0].astype(np.float32) / 255.0 * (hi - lo) + lo
        mapper.restore_floor(int(key), spec, logodds, img[..., 1].astype(np.uint8))
    log.info("restored the robot's map of %d floor(s)", len(floors))
    return mapper
