"""Helpers of the topological graph (memory.topo_graph): merge tracks, the place index, record merging."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from memory.types import ObjectRecord, Percept, Sighting


@dataclass(eq=False)
class ObjectTrack:
    """Merge state of one object node (not persisted; rebuilt approximately by ``from_snapshot``)."""

    weight: float
    colours: Counter = field(default_factory=Counter)
    materials: Counter = field(default_factory=Counter)
    rooms: Counter = field(default_factory=Counter)
    instances: Counter = field(default_factory=Counter)
    floors: Counter = field(default_factory=Counter)
    conf_sum: float = 0.0
    crop_pixels: int = -1


class PlaceIndex:
    """Place positions of one floor in a growing array, for nearest-place queries."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._xy = np.empty((64, 2), dtype=np.float64)

    def add(self, place_id: str, x: float, y: float) -> None:
        n = len(self.ids)
        if n == len(self._xy):
            self._xy = np.concatenate([self._xy, np.empty_like(self._xy)])
        self._xy[n] = (x, y)
        self.ids.append(place_id)

    def d2(self, x: float, y: float) -> np.ndarray:
        xy = self._xy[:len(self.ids)]
        return (xy[:, 0] - x) ** 2 + (xy[:, 1] - y) ** 2


def label_slug(label: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")
    return s or "object"


def serial_of(node_id: str) -> int:
    tail = node_id.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def as_f3(v: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


def sighting_weight(s: Sighting) -> float:
    return max(float(s.pixels), 1.0) * max(float(s.confidence), 1e-3)


def vote_sighting(track: ObjectTrack, s: Sighting, percept: Percept) -> None:
    if s.colour:
        track.colours[s.colour] += 1
    if s.material:
        track.materials[s.material] += 1
    if percept.room_guess:
        track.rooms[percept.room_guess] += 1
    if s.instance is not None:
        track.instances[s.instance] += 1
    track.floors[percept.pose.floor] += 1


def _top(counter: Counter, default: Any) -> Any:
    return counter.most_common(1)[0][0] if counter else default


def merged_record(rec: ObjectRecord, t: ObjectTrack, pos: Sequence[float], lo: Sequence[float], hi: Sequence[float],
            views: int, times: tuple[float, float], steps: tuple[int, int],
            attributes: Sequence[str] = ()) -> ObjectRecord:
    """``rec`` after absorbing ``views`` more views (the merge state ``t`` already includes them)."""
    n = rec.n_views + views
    return replace(
        rec, position=as_f3(pos), n_views=n, bbox_min=as_f3(np.minimum(rec.bbox_min, lo)),
        bbox_max=as_f3(np.maximum(rec.bbox_max, hi)), colour=_top(t.colours, rec.colour),
        material=_top(t.materials, rec.material), room_guess=_top(t.rooms, rec.room_guess),
        instance_hint=_top(t.instances, rec.instance_hint), floor=_top(t.floors, rec.floor),
        attributes=tuple(attributes) or rec.attributes,
        confidence=t.conf_sum / n, first_seen=min(rec.first_seen, times[0]), last_seen=max(rec.last_seen, times[1]),
        first_step=min(rec.first_step, steps[0]), last_step=max(rec.last_step, steps[1]))


def edge_parts(e: Any) -> tuple[str, str, str, dict]:
    if hasattr(e, "src"):
        return str(e.src), str(e.dst), str(e.kind), dict(e.data)
    src, dst, kind, *rest = e
    return str(src), str(dst), str(kind), dict(rest[0]) if rest and isinstance(rest[0], Mapping) else {}
