"""View captions from sightings, and a room guess from the labels in view.

A caption names what the robot sees, most prominent first, with where it is in the image:
``"kitchen: a white metal fridge on the left, a brown wooden table close ahead and two grey
chairs; a door on the right"``. The room word in front is a *guess* inferred from the visible
labels (``memory.summarize.RoomModel``), shown only when it is confident enough; doors and
windows come last, after a semicolon, because they say little about a view.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from memory.types import Sighting

if TYPE_CHECKING:
    from memory.perception import PerceptionConfig
    from memory.summarize import RoomModel

log = logging.getLogger(__name__)

__all__ = ["STRUCTURAL_LABELS", "describe_view", "default_room_model", "side_of", "distance_word", "position_phrase",
           "compose_caption", "guess_room", "empty_view_caption"]

STRUCTURAL_LABELS = frozenset({"door", "window", "doorway", "stairs", "staircase", "curtain"})
_PLURAL_NOUNS = frozenset({"stairs", "steps", "curtains", "blinds", "drapes"})  # no article, no count
_MORE = "and more"


def default_room_model() -> RoomModel:
    """The room model of the general prior pack (perceivers get the memory's own model when built by it)."""
    from memory.summarize import RoomModel

    return RoomModel.default()


def describe_view(sightings: Sequence[Sighting], depth: np.ndarray, config: PerceptionConfig,
                  model: RoomModel) -> tuple[str, str, float]:
    """``(caption, room_guess, room_confidence)`` of one view (``room_guess`` is ``""`` when unsure)."""
    room, conf = guess_room([s.label for s in sightings], model, config.room_min_confidence)
    if not sightings:
        return empty_view_caption(depth, room=room), room, conf
    caption = compose_caption(sightings, int(depth.shape[1]), room=room, max_objects=config.caption_objects,
                              near=config.near_depth, far=config.far_depth)
    return caption, room, conf


def side_of(u_centre: float, width: int) -> str:
    """``left``, ``centre`` or ``right``: which third of the image ``u_centre`` falls in."""
    f = u_centre / max(width, 1)
    return "left" if f < 1.0 / 3.0 else ("right" if f > 2.0 / 3.0 else "centre")


def distance_word(depth: float, near: float, far: float) -> str:
    """``near``, ``mid`` or ``far`` for a z-depth in metres."""
    return "near" if depth < near else ("far" if depth > far else "mid")


def position_phrase(side: str, dist: str) -> str:
    """Words after an object's name, e.g. ``" on the left"``, ``" close ahead"``; ``""`` for mid-centre."""
    if side == "centre":
        return {"near": " close ahead", "far": " in the distance"}.get(dist, " ahead")
    return {"near": f" close on the {side}", "far": f" far off to the {side}"}.get(dist, f" on the {side}")


def compose_caption(sightings: Sequence[Sighting], width: int, *, room: str = "", max_objects: int = 5,
                    near: float = 1.5, far: float = 4.5) -> str:
    """A natural caption of one view; ``sightings`` in any order (ranked here by pixels).

    Identical names are counted (``"two grey chairs"``) and placed only when they share a side.
    At most ``max_objects`` named groups are listed; the rest become ``"and more"``.
    """
    from memory.summarize import join_words, number_word, plural

    ranked = sorted(sightings, key=lambda s: -s.pixels)
    groups: dict[str, list[Sighting]] = {}
    for s in ranked:
        groups.setdefault(s.name or s.label, []).append(s)
    main: list[str] = []
    extra: list[str] = []
    for name, group in groups.items():
        n = len(group)
        if group[0].label in _PLURAL_NOUNS:
            head = name
        else:
            head = _article(name) if n == 1 else f"{number_word(n)} {plural(name, n)}"
        sides = {side_of(_u_centre(s), width) for s in group}
        where = ""
        if len(sides) == 1:
            where = position_phrase(sides.pop(), distance_word(group[0].depth, near, far))
        (extra if group[0].label in STRUCTURAL_LABELS else main).append(head + where)
    listed = [_listing(part, k, join_words) for part, k in ((main, max_objects), (extra, max(1, max_objects // 2)))
              if part]
    body = "; ".join(listed)
    return f"{room}: {body}" if room else body


def empty_view_caption(depth: np.ndarray, *, room: str = "") -> str:
    """Caption of a view with no objects: a wall close ahead, or open floor."""
    h, w = depth.shape[:2]
    centre = depth[h // 3: 2 * h // 3, w // 3: 2 * w // 3]
    valid = centre[np.isfinite(centre) & (centre > 0)]
    close = len(valid) > 0 and float(np.median(valid)) < 1.2
    body = "a bare wall close ahead" if close else "open floor with no objects in view"
    return f"{room}: {body}" if room else body


def guess_room(labels: Sequence[str], model: RoomModel, min_confidence: float) -> tuple[str, float]:
    """The room type the visible ``labels`` suggest and its confidence.

    The name is ``""`` when the confidence is below ``min_confidence`` (the confidence is kept,
    so callers can see how close the guess came).
    """
    if not labels:
        return "", 0.0
    room, conf = model.infer(dict(Counter(labels)))
    return (room if room and conf >= min_confidence else ""), float(conf)


def _listing(items: list[str], k: int, join_words) -> str:
    if len(items) <= k:
        return join_words(items)
    return ", ".join(items[:k]) + " " + _MORE


def _u_centre(s: Sighting) -> float:
    return 0.5 * (s.bbox2d[0] + s.bbox2d[2])


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase
