"""The VLM perceiver: captions and object labels from an OpenAI-compatible vision chat endpoint.

Masks come from the instance buffer (class-agnostic, numbered 1..n, largest first). The view,
scaled to ``vlm_image_width``, goes to the model with each segment's box in that image's pixels,
and the model is asked for strict JSON::

    {"caption": "...", "objects": [{"segment": 1, "label": "chair", "colour": "red"}, ...]}

Replies are parsed forgivingly (code fences, prose around the JSON, single quotes); segments the
reply does not label, or a reply that cannot be read at all, give sightings labelled
``"unlabelled"`` with confidence 0, so a confused model never stops the exploration. A server
that cannot be reached raises ``VLMUnavailable`` (an ``EmbodiedMemoryError``) unless
``vlm_fallback_on_error`` is set, in which case the view is returned unlabelled and a warning
is logged.
"""
from __future__ import annotations

import ast
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memory.errors import LLMError
from memory.llm import ChatClient, LLMConfig, image_message
from memory.perception import PerceptionBackendError, PerceptionConfig, PerceptionConfigError
from memory.perception.caption import default_room_model, describe_view
from memory.perception.segments import Segment, extract_segments, thumbnail
from memory.types import Percept, Sighting
from sim.types import Observation

if TYPE_CHECKING:
    from memory.summarize import RoomModel

log = logging.getLogger(__name__)

__all__ = ["VLMPerceiver", "VLMReply", "VLMUnavailable", "build", "parse_reply", "UNLABELLED", "PROMPT"]

UNLABELLED = "unlabelled"
PROMPT = (
    "You are the eyes of a home robot. The image is {width}x{height} pixels. These numbered segments are "
    "objects in it, as pixel boxes [x0, y0, x1, y1]:\n{segments}\n"
    "Reply with JSON only, no prose, exactly in this form:\n"
    '{{"caption": "<one sentence describing the view>", '
    '"objects": [{{"segment": <number>, "label": "<object category, one or two words>", '
    '"colour": "<main colour>"}}]}}\n'
    "Give one entry per segment you recognise; leave out segments you cannot name."
)
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
_WORD = re.compile(r"[a-z][a-z \-]*[a-z]|[a-z]")
_ARTICLE = re.compile(r"^(a|an|the|some)\s+")
_MAX_LABEL = 40


class VLMUnavailable(PerceptionBackendError):
    """The vision chat server failed (unreachable, timed out, or answered with an error)."""


@dataclass(frozen=True)
class VLMReply:
    """What could be read from a model's reply."""

    caption: str
    labels: Mapping[int, tuple[str, str]]  # segment number -> (label, colour)


def parse_reply(text: str) -> VLMReply | None:
    """The caption and segment labels in ``text``, or None when no usable JSON object is found."""
    for candidate in _candidates(text):
        obj = _load(candidate)
        if isinstance(obj, dict) and ("caption" in obj or "objects" in obj):
            return _reply(obj)
    return None


def _candidates(text: str) -> list[str]:
    """Fenced blocks first, then every balanced ``{...}`` span from each opening brace."""
    out = [m.group(1) for m in _FENCE.finditer(text)]
    for start in [i for i, ch in enumerate(text) if ch == "{"][:20]:
        depth = 0
        for j in range(start, len(text)):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    out.append(text[start:j + 1])
                    break
    return out


def _load(s: str) -> Any:
    s = s.strip()
    try:
        return json.loads(s)
    except (json.JSONDecodeError, ValueError):
        pass
    try:
        return json.JSONDecoder().raw_decode(s)[0]
    except (json.JSONDecodeError, ValueError):
        pass
    try:  # Python-style dicts with single quotes (a literal, never code)
        return ast.literal_eval(s)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None


def _reply(obj: dict) -> VLMReply:
    caption = obj.get("caption")
    caption = " ".join(caption.split()) if isinstance(caption, str) else ""
    labels: dict[int, tuple[str, str]] = {}
    items = obj.get("objects")
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        try:
            seg = int(str(item.get("segment", "")).strip().lstrip("#"))
        except ValueError:
            continue
        label = _clean(item.get("label"))
        if label and seg not in labels:
            labels[seg] = (label, _clean(item.get("colour", item.get("color"))))
    return VLMReply(caption, labels)


def _clean(value: Any) -> str:
    """Lower-case words only, no leading article; ``""`` for anything else."""
    if not isinstance(value, str):
        return ""
    m = _WORD.search(" ".join(value.lower().split()))
    word = _ARTICLE.sub("", m.group(0)) if m else ""
    return word[:_MAX_LABEL].strip()


class VLMPerceiver:
    """Labels and a caption from a vision chat model, geometry from depth."""

    name = "vlm"

    def __init__(self, config: PerceptionConfig, client: ChatClient, *,
                 room_model: RoomModel | None = None) -> None:
        self.config = config
        self.client = client
        self._room_model = room_model
        self.last_ms = 0.0
        self.failures = 0  # server failures absorbed by ``vlm_fallback_on_error``
        self.unreadable = 0  # replies that held no usable JSON

    @property
    def room_model(self) -> RoomModel:
        if self._room_model is None:
            self._room_model = default_room_model()
        return self._room_model

    def request(self, obs: Observation, segments: list[Segment]) -> list[dict[str, Any]]:
        """The chat messages sent for ``obs``: the scaled view and its numbered segment boxes."""
        cfg = self.config
        h, w = obs.rgb.shape[:2]
        width = min(cfg.vlm_image_width, w)
        image = thumbnail(obs.rgb, width)
        sx, sy = image.shape[1] / w, image.shape[0] / h
        lines = [f"{i}: [{round(s.bbox2d[0] * sx)}, {round(s.bbox2d[1] * sy)}, {round(s.bbox2d[2] * sx)}, "
                 f"{round(s.bbox2d[3] * sy)}]" for i, s in enumerate(segments, 1)]
        text = PROMPT.format(width=image.shape[1], height=image.shape[0], segments="\n".join(lines) or "(none)")
        return [image_message(text, image)]

    def perceive(self, obs: Observation) -> Percept:
        """Ask the model about the view; unlabelled segments when its reply is unusable."""
        t0 = time.perf_counter()
        cfg = self.config
        segs = extract_segments(obs, cfg)
        reply = self._ask(obs, segs)
        sightings = []
        for i, seg in enumerate(segs, 1):
            label, colour = reply.labels.get(i, (UNLABELLED, "")) if reply else (UNLABELLED, "")
            sightings.append(Sighting(
                label=label, centroid=seg.centroid, bbox_min=seg.bbox_min, bbox_max=seg.bbox_max, pixels=seg.pixels,
                bbox2d=seg.bbox2d, colour=colour, confidence=0.0 if label == UNLABELLED else 1.0, depth=seg.depth,
                instance=seg.instance, crop=seg.crop))
        named = [s for s in sightings if s.label != UNLABELLED]
        caption, room, conf = describe_view(named, obs.depth, cfg, self.room_model)
        if reply and reply.caption:
            caption = reply.caption
        elif not named and sightings:
            n = len(sightings)
            caption = f"{n} unrecognised object{'s' if n > 1 else ''} in view"
        percept = Percept(pose=obs.pose, timestamp=float(obs.timestamp), step=int(obs.step),
                          sightings=tuple(sightings), caption=caption, room_guess=room, room_confidence=conf,
                          image=thumbnail(obs.rgb, cfg.thumbnail_width))
        self.last_ms = (time.perf_counter() - t0) * 1000.0
        return percept

    def _ask(self, obs: Observation, segs: list[Segment]) -> VLMReply | None:
        try:
            result = self.client.chat(self.request(obs, segs), max_tokens=self.config.vlm_max_tokens,
                                      temperature=0.0, stream=False)
        except LLMError as e:
            if not self.config.vlm_fallback_on_error:
                raise VLMUnavailable(f"vlm perceiver: {e}") from e
            self.failures += 1
            log.warning("vlm perceiver: %s; step %d left unlabelled", e, obs.step)
            return None
        reply = parse_reply(result.text)
        if reply is None:
            self.unreadable += 1
            log.warning("vlm perceiver: no JSON in the reply to step %d (%d so far): %.120r", obs.step,
                        self.unreadable, result.text)
        return reply


def build(config: PerceptionConfig, *, encoder: Any = None, llm: ChatClient | LLMConfig | None = None,
          priors: Any = None) -> VLMPerceiver:
    """Registry factory: ``llm`` (a client or its config) or ``config.llm``; the model must be named."""
    source = llm if llm is not None else config.llm
    if source is None:
        raise PerceptionConfigError(
            "the vlm perceiver needs a vision chat endpoint: set perception.llm.base_url (e.g. "
            "http://127.0.0.1:8080/v1 or https://api.openai.com/v1) and perception.llm.model (a vision model)")
    client = source if isinstance(source, ChatClient) else ChatClient(source)
    if not client.config.model.strip():
        raise PerceptionConfigError(
            f"the vlm perceiver needs a vision model name: set perception.llm.model for {client.config.base_url} "
            "(e.g. gpt-4o-mini, llava, qwen2.5-vl)")
    from memory.summarize import RoomModel

    return VLMPerceiver(config, client, room_model=RoomModel.from_pack(priors) if priors is not None else None)
