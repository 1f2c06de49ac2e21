"""The CLIP perceiver: zero-shot labels of instance crops with an image-capable encoder.

Masks come from the instance buffer used class-agnostically (the object table is never read);
each mask's padded crop is embedded with the encoder's image tower and compared with the text
embeddings of ``clip_prompt`` for every category of the vocabulary (the memory's prior pack by default).
The softmax probability of the best category (CLIP's logit scale of 100) is the sighting's
confidence; crops under ``clip_min_confidence`` are dropped. The colour is the prior pack's palette
colour most of the mask's brighter pixels are closest to.

Any encoder with the ``image`` modality works (``openclip`` with real weights, or a registered
image tower); the choice is ``PerceptionConfig.encoder``.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from memory.encoders import IMAGE, Encoder, make_encoder
from memory.perception import PerceptionConfig, PerceptionConfigError
from memory.perception.caption import default_room_model, describe_view
from memory.perception.segments import box_crop, dominant_colour, extract_segments, thumbnail
from memory.priors import PriorPack, general_pack
from memory.summarize import RoomModel
from memory.types import Percept, Sighting
from sim.types import Observation

if TYPE_CHECKING:
    from memory.summarize import RoomModel

log = logging.getLogger(__name__)

__all__ = ["ClipPerceiver", "build", "LOGIT_SCALE"]

LOGIT_SCALE = 100.0  # CLIP's learned temperature, fixed for zero-shot use
_HOW_TO = ("set perception.encoder to an image-capable encoder, e.g. {type: openclip, pretrained: "
           "/path/to/checkpoint.pt} or a pretrained tag in the local cache (real weights; 'pretrained: none' "
           "gives random weights, for code-path tests only)")


class ClipPerceiver:
    """Zero-shot labelling of instance-mask crops against a category vocabulary."""

    name = "clip"

    def __init__(self, config: PerceptionConfig, encoder: Encoder, *, vocabulary: Sequence[str] | None = None,
                 palette: dict[str, tuple[int, int, int]] | None = None,
                 room_model: RoomModel | None = None, priors: PriorPack | None = None) -> None:
        if IMAGE not in encoder.modalities:
            raise PerceptionConfigError(
                f"the clip perceiver needs an image encoder, but {encoder.id!r} encodes only "
                f"{', '.join(sorted(encoder.modalities))}: {_HOW_TO}")
        self.config = config
        self.encoder = encoder
        pack = priors if priors is not None else general_pack()
        vocab = tuple(vocabulary or config.clip_vocabulary or pack.vocabulary())
        self.vocabulary = tuple(dict.fromkeys(v.strip() for v in vocab if v.strip()))
        if len(self.vocabulary) < 2:
            raise PerceptionConfigError(f"the clip perceiver needs at least two categories, got {self.vocabulary}")
        self.palette = dict(palette) if palette is not None else dict(pack.colours)
        if not self.palette:
            raise PerceptionConfigError("the clip perceiver needs named colours: give a prior pack with 'colours'")
        self._room_model = room_model if room_model is not None else RoomModel.from_pack(pack)
        self._text: np.ndarray | None = None
        self.last_ms = 0.0

    @property
    def room_model(self) -> RoomModel:
        if self._room_model is None:
            self._room_model = default_room_model()
        return self._room_model

    @property
    def text_vectors(self) -> np.ndarray:
        """Prompt embeddings ``(len(vocabulary), dim)``, computed once."""
        if self._text is None:
            prompts = [self.config.clip_prompt.format(category=c) for c in self.vocabulary]
            self._text = np.asarray(self.encoder.encode_text(prompts), dtype=np.float32)
        return self._text

    def classify(self, crops: Sequence[np.ndarray]) -> tuple[list[str], np.ndarray]:
        """Best category and its softmax probability for each RGB crop."""
        if not crops:
            return [], np.zeros(0, dtype=np.float32)
        img = np.asarray(self.encoder.encode_image(list(crops)), dtype=np.float32)
        logits = LOGIT_SCALE * img @ self.text_vectors.T
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        best = prob.argmax(axis=1)
        return [self.vocabulary[i] for i in best], prob[np.arange(len(best)), best]

    def perceive(self, obs: Observation) -> Percept:
        """Label every segment's crop; keep the confident ones."""
        t0 = time.perf_counter()
        cfg = self.config
        segs = extract_segments(obs, cfg)
        labels, probs = self.classify([box_crop(obs.rgb, s.bbox2d, cfg.crop_pad) for s in segs])
        sightings = []
        for seg, label, p in zip(segs, labels, probs, strict=True):
            if p < cfg.clip_min_confidence:
                log.debug("segment %d: best label %r at %.2f is below %.2f; dropped", seg.instance, label, p,
                          cfg.clip_min_confidence)
                continue
            sightings.append(Sighting(
                label=label, centroid=seg.centroid, bbox_min=seg.bbox_min, bbox_max=seg.bbox_max, pixels=seg.pixels,
                bbox2d=seg.bbox2d, colour=dominant_colour(seg.rgb_pixels(obs.rgb), self.palette),
                confidence=float(p), depth=seg.depth, instance=seg.instance, crop=seg.crop))
        caption, room, conf = describe_view(sightings, obs.depth, cfg, self.room_model)
        percept = Percept(pose=obs.pose, timestamp=float(obs.timestamp), step=int(obs.step),
                          sightings=tuple(sightings), caption=caption, room_guess=room, room_confidence=conf,
                          image=thumbnail(obs.rgb, cfg.thumbnail_width))
        self.last_ms = (time.perf_counter() - t0) * 1000.0
        return percept


def build(config: PerceptionConfig, *, encoder: Encoder | None = None, llm: Any = None,
          priors: PriorPack | None = None) -> ClipPerceiver:
    """Registry factory: the given encoder, or the one ``config.encoder`` describes."""
    if encoder is None:
        if config.encoder is None:
            raise PerceptionConfigError(f"the clip perceiver has no image encoder configured: {_HOW_TO}")
        encoder = make_encoder(config.encoder)
    return ClipPerceiver(config, encoder, priors=priors)
