"""Perception: one observation in, a ``Percept`` out (object sightings and a view caption).

Backends (``type:`` in config), all behind the ``Perceiver`` protocol:

* ``oracle`` — simulator ground truth (default in simulation): masks from the instance buffer,
  labels, colours and materials from the observation's object table, geometry from depth.
* ``clip`` — zero-shot labels of the instance masks' crops against the prior pack's vocabulary with
  an image-capable encoder (``openclip`` with real weights, or any registered image encoder).
* ``vlm`` — captions and labels from an OpenAI-compatible vision chat endpoint.
* ``geometric`` — no ground truth at all: class-agnostic segments from RGB-D geometry, zero-shot
  labels from an image encoder (SimCLIP by default), objects fused across views
  (``memory.perception.geometric``, ``memory.perception.fusion``).

Every backend shares the segment filters (``memory.perception.segments``) and the caption
style (``memory.perception.caption``). A backend factory is any callable
``factory(config, *, encoder=None, llm=None) -> Perceiver`` registered in ``PERCEIVERS``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import ConfigDict

from memory.encoders import EncoderConfig
from memory.errors import EmbodiedMemoryError
from memory.llm import LLMConfig
from memory.perception.geo_config import FusionConfig, SegmenterConfig
from memory.types import Percept
from sim.errors import ConfigError
from sim.registry import Registry
from sim.types import Observation

if TYPE_CHECKING:
    from memory.encoders import Encoder
    from memory.llm import ChatClient

log = logging.getLogger(__name__)

__all__ = ["Perceiver", "PerceptionConfig", "PerceiverFactory", "PERCEIVERS", "make_perceiver", "PerceptionError",
           "PerceptionConfigError", "PerceptionBackendError"]


class PerceptionError(EmbodiedMemoryError):
    """Base error of the perception backends."""


class PerceptionConfigError(PerceptionError, ConfigError):
    """A perception backend is not configured well enough to run (says what to set)."""


class PerceptionBackendError(PerceptionError):
    """A backend's model or server failed while perceiving (unreachable server, encoder failure)."""


@runtime_checkable
class Perceiver(Protocol):
    """Turns one observation into a ``Percept``."""

    def perceive(self, obs: Observation) -> Percept:
        """Object sightings, a caption, a room guess and a thumbnail of ``obs``."""
        ...


@dataclass(frozen=True, kw_only=True)
class PerceptionConfig:
    """Which perception backend to build and how it filters and describes what it sees.

    Shared by every backend:

    * ``type`` — ``oracle`` (default), ``clip``, ``vlm``, ``geometric`` or any registered backend.
    * ``min_pixels`` — smallest mask kept, in pixels of a 320x240 image (scaled with the area).
    * ``edge_margin`` — a mask whose box comes this close (pixels) to the border is *cut*;
      ``edge_min_pixels_factor`` — a cut mask needs this many times ``min_pixels``.
    * ``min_depth`` / ``max_depth`` — depth range (m) used for geometry; farther objects drop out.
    * ``erode`` — passes of edge erosion before back-projecting a mask's depth: an edge pixel
      goes when its depth differs from its inner neighbours' by over ``depth_jump`` m + 4 %.
    * ``percentile`` — the 3D box spans these low/high percentiles of the mask's points.
    * ``max_points`` — mask pixels back-projected at most (evenly subsampled).
    * ``crop_size`` / ``crop_pad`` — object crops: square side (px) and padding (share of the box).
    * ``thumbnail_width`` — width (px) of the view thumbnail kept in the percept.
    * ``room_min_confidence`` — a room guess below this is left out of captions and places.
    * ``caption_objects`` — most object groups a caption names.
    * ``near_depth`` / ``far_depth`` — caption words "close" / "far off" (m).

    ``clip``: ``encoder`` (an image-capable encoder config), ``clip_prompt``,
    ``clip_min_confidence`` (softmax probability), ``clip_vocabulary`` (``()`` = the memory prior pack's
    categories). ``vlm``: ``llm`` (the vision chat endpoint; ``model`` must be set),
    ``vlm_max_tokens``, ``vlm_image_width`` (the view is scaled to this width before sending),
    ``vlm_fallback_on_error`` (on a server failure return unlabelled segments instead of raising).
    ``geometric``: ``segmenter`` (``SegmenterConfig``), ``fusion`` (``FusionConfig``), and the ``clip``
    keys for its labels (``encoder``: default the shipped SimCLIP).
    """

    __pydantic_config__ = ConfigDict(extra="forbid")
    type: str = "oracle"
    min_pixels: int = 150
    edge_margin: int = 2
    edge_min_pixels_factor: float = 3.0
    min_depth: float = 0.1
    max_depth: float = 8.0
    erode: int = 1
    depth_jump: float = 0.1
    percentile: float = 1.0
    max_points: int = 3000
    crop_size: int = 64
    crop_pad: float = 0.15
    thumbnail_width: int = 96
    room_min_confidence: float = 0.5
    caption_objects: int = 5
    near_depth: float = 1.5
    far_depth: float = 4.5
    encoder: EncoderConfig | None = None
    clip_prompt: str = "a photo of a {category}"
    clip_min_confidence: float = 0.2
    clip_vocabulary: tuple[str, ...] = ()
    llm: LLMConfig | None = None
    vlm_max_tokens: int = 400
    vlm_image_width: int = 320
    vlm_fallback_on_error: bool = False
    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``PerceptionConfigError`` naming the first bad value."""
        checks = [
            (bool(self.type.strip()), "type must not be empty"),
            (self.min_pixels >= 1, f"min_pixels must be at least 1, got {self.min_pixels}"),
            (self.edge_margin >= 0, f"edge_margin must be 0 or more, got {self.edge_margin}"),
            (self.edge_min_pixels_factor >= 1.0,
             f"edge_min_pixels_factor must be at least 1, got {self.edge_min_pixels_factor}"),
            (0.0 <= self.min_depth < self.max_depth,
             f"need 0 <= min_depth < max_depth, got {self.min_depth} and {self.max_depth}"),
            (0 <= self.erode <= 5, f"erode must be 0..5, got {self.erode}"),
            (self.depth_jump > 0.0, f"depth_jump must be positive, got {self.depth_jump}"),
            (0.0 <= self.percentile < 50.0, f"percentile must be in [0, 50), got {self.percentile}"),
            (self.max_points >= 16, f"max_points must be at least 16, got {self.max_points}"),
            (8 <= self.crop_size <= 512, f"crop_size must be 8..512, got {self.crop_size}"),
            (0.0 <= self.crop_pad <= 1.0, f"crop_pad must be 0..1, got {self.crop_pad}"),
            (8 <= self.thumbnail_width <= 1024, f"thumbnail_width must be 8..1024, got {self.thumbnail_width}"),
            (0.0 <= self.room_min_confidence <= 1.0,
             f"room_min_confidence must be 0..1, got {self.room_min_confidence}"),
            (self.caption_objects >= 1, f"caption_objects must be at least 1, got {self.caption_objects}"),
            (0.0 < self.near_depth < self.far_depth,
             f"need 0 < near_depth < far_depth, got {self.near_depth} and {self.far_depth}"),
            ("{category}" in self.clip_prompt, f"clip_prompt must contain '{{category}}', got {self.clip_prompt!r}"),
            (0.0 <= self.clip_min_confidence < 1.0,
             f"clip_min_confidence must be in [0, 1), got {self.clip_min_confidence}"),
            (self.vlm_max_tokens >= 16, f"vlm_max_tokens must be at least 16, got {self.vlm_max_tokens}"),
            (32 <= self.vlm_image_width <= 2048, f"vlm_image_width must be 32..2048, got {self.vlm_image_width}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise PerceptionConfigError(f"perception config: {msg}")


PerceiverFactory = Callable[..., Perceiver]

PERCEIVERS: Registry[PerceiverFactory] = Registry("perceiver")
PERCEIVERS.register_lazy("oracle", "memory.perception.oracle:build")
PERCEIVERS.register_lazy("clip", "memory.perception.clip:build")
PERCEIVERS.register_lazy("vlm", "memory.perception.vlm:build")
PERCEIVERS.register_lazy("geometric", "memory.perception.geometric:build")


def make_perceiver(config: PerceptionConfig | None = None, *, encoder: Encoder | None = None,
                   llm: ChatClient | LLMConfig | None = None, priors: Any = None) -> Perceiver:
    """Build the perceiver ``config.type`` names.

    ``encoder`` (for ``clip``) and ``llm`` (for ``vlm``) override what the config would build;
    ``priors`` (a ``memory.priors.PriorPack``) gives the vocabulary, colours and room knowledge.
    Unknown types raise ``sim.errors.RegistryError`` listing the registered ones; a backend that
    lacks what it needs raises ``PerceptionConfigError`` saying what to configure.
    """
    cfg = config or PerceptionConfig()
    factory = PERCEIVERS.get(cfg.type)
    perceiver = factory(cfg, encoder=encoder, llm=llm, priors=priors)
    log.info("perceiver %r ready", cfg.type)
    return perceiver
