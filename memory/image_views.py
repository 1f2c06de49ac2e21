"""Object image vectors from several views: the normalised mean of crop embeddings seen from distinct bearings.

One crop shows an object from one side; a later image query may show it from any other. So each
object node's image vector is the mean of the embeddings of up to ``max_views`` of its sighting crops,
a new crop counting only when the robot sees the object from a bearing at least ``min_turn_deg`` away
from every bearing already taken (this keeps the cost bounded: a few crops per object, embedded in
one batch at each refresh). The count travels in the vector's source field (``views:N``) so a memory
reopened from its file keeps averaging with the right weight.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from memory.encoders import Encoder
from sim.types import Pose, wrap_angle

__all__ = ["ViewVectors", "views_source", "views_of_source"]

_PREFIX = "views:"


def views_source(n: int) -> str:
    """The source field of an image vector averaged over ``n`` views."""
    return f"{_PREFIX}{n}"


def views_of_source(source: str) -> int:
    """How many views a stored source field says were averaged (0 when it is not a view mean)."""
    if not source.startswith(_PREFIX):
        return 0
    try:
        return max(0, int(source[len(_PREFIX):]))
    except ValueError:
        return 0


@dataclass
class _Acc:
    total: np.ndarray | None = None
    n: int = 0
    bearings: list[float] = field(default_factory=list)


class ViewVectors:
    """Per-object sums of crop embeddings, fed one sighting at a time and embedded in batches."""

    def __init__(self, max_views: int = 12, min_turn_deg: float = 25.0) -> None:
        self.max_views = max_views
        self.min_turn = math.radians(min_turn_deg)
        self._acc: dict[str, _Acc] = {}
        self._queue: list[tuple[str, np.ndarray]] = []

    def __contains__(self, object_id: str) -> bool:
        acc = self._acc.get(object_id)
        return acc is not None and (acc.n > 0 or bool(acc.bearings))

    @property
    def pending(self) -> int:
        return len(self._queue)

    def offer(self, object_id: str, crop: np.ndarray | None, pose: Pose, centroid) -> bool:
        """Queue ``crop`` when it shows the object from a new enough bearing; True when queued."""
        if crop is None:
            return False
        acc = self._acc.setdefault(object_id, _Acc())
        if len(acc.bearings) >= self.max_views or acc.n >= self.max_views:
            return False
        bearing = math.atan2(pose.y - centroid[1], pose.x - centroid[0])
        if any(abs(wrap_angle(bearing - b)) < self.min_turn for b in acc.bearings):
            return False
        acc.bearings.append(bearing)
        self._queue.append((object_id, crop))
        return True

    def seed(self, object_id: str, vector: np.ndarray, n: int) -> None:
        """Start from a stored mean of ``n`` views (bearings are not stored: new views count until the cap)."""
        if n > 0:
            self._acc[object_id] = _Acc(np.asarray(vector, dtype=np.float64) * n, n)

    def drop(self, object_id: str) -> None:
        self._acc.pop(object_id, None)
        self._queue = [(o, c) for o, c in self._queue if o != object_id]

    def flush(self, encoder: Encoder) -> dict[str, tuple[np.ndarray, int]]:
        """Embed every queued crop in one batch; ``{object_id: (unit mean vector, views)}`` of those updated."""
        if not self._queue:
            return {}
        queue, self._queue = self._queue, []
        vecs = encoder.encode_image([c for _, c in queue])
        touched: set[str] = set()
        for (oid, _), v in zip(queue, vecs, strict=True):
            acc = self._acc.setdefault(oid, _Acc())
            acc.total = v.astype(np.float64) if acc.total is None else acc.total + v
            acc.n += 1
            touched.add(oid)
        out = {}
        for oid in sorted(touched):
            acc = self._acc[oid]
            norm = float(np.linalg.norm(acc.total))
            if norm > 0:
                out[oid] = ((acc.total / norm).astype(np.float32), acc.n)
        return out
