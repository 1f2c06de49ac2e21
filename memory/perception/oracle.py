"""The oracle perceiver: simulator ground truth for labels, measured geometry for positions.

Masks come from the instance buffer and names (category, colour, material) from the
observation's object table; positions and boxes are *measured* from depth like every other
backend's (``memory.perception.segments``), and the room word of a caption is a guess from the
visible labels, never the scene's true room. ``Sighting.instance`` carries the simulator id for
evaluation only.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from memory.perception import PerceptionConfig
from memory.perception.caption import default_room_model, describe_view
from memory.perception.segments import extract_segments, thumbnail
from memory.types import Percept, Sighting
from sim.types import Observation

if TYPE_CHECKING:
    from memory.summarize import RoomModel

log = logging.getLogger(__name__)

__all__ = ["OraclePerceiver", "build"]


class OraclePerceiver:
    """Perception from the instance buffer and the ground-truth object table."""

    name = "oracle"

    def __init__(self, config: PerceptionConfig | None = None, *, room_model: RoomModel | None = None) -> None:
        self.config = config or PerceptionConfig()
        self._room_model = room_model
        self.last_ms = 0.0  # time the last ``perceive`` took

    @property
    def room_model(self) -> RoomModel:
        """The model behind room guesses (the memory's prior pack's, else the general pack's)."""
        if self._room_model is None:
            self._room_model = default_room_model()
        return self._room_model

    def perceive(self, obs: Observation) -> Percept:
        """Sightings of every table object whose mask passes the filters, and a caption."""
        t0 = time.perf_counter()
        cfg = self.config
        sightings = []
        for seg in extract_segments(obs, cfg):
            info = obs.objects.get(seg.instance)
            if info is None:
                log.debug("instance %d is not in the object table; ignored", seg.instance)
                continue
            sightings.append(Sighting(
                label=info.category, centroid=seg.centroid, bbox_min=seg.bbox_min, bbox_max=seg.bbox_max,
                pixels=seg.pixels, bbox2d=seg.bbox2d, colour=info.colour, material=info.material,
                confidence=1.0, depth=seg.depth, instance=seg.instance, crop=seg.crop))
        caption, room, conf = describe_view(sightings, obs.depth, cfg, self.room_model)
        percept = Percept(pose=obs.pose, timestamp=float(obs.timestamp), step=int(obs.step),
                          sightings=tuple(sightings), caption=caption, room_guess=room, room_confidence=conf,
                          image=thumbnail(obs.rgb, cfg.thumbnail_width))
        self.last_ms = (time.perf_counter() - t0) * 1000.0
        return percept


def build(config: PerceptionConfig, *, encoder: Any = None, llm: Any = None, priors: Any = None) -> OraclePerceiver:
    """Registry factory: the oracle needs neither an encoder nor an LLM; room guesses use ``priors``."""
    from memory.summarize import RoomModel

    return OraclePerceiver(config, room_model=RoomModel.from_pack(priors) if priors is not None else None)
