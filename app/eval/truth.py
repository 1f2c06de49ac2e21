"""Ground truth the evaluation takes from the world, never from the memory.

Everything here reads the simulator's side only: the scene's object table (catalog category,
colour, material, room, floor, axis-aligned box), its rooms and floors, and a ``VisibilityLog``
of which object instances were in the camera's view at which exploration step (read off the
simulator's instance buffer, the same image the robot saw). The memory, the query analyser and
``memory.perception.relations`` (which builds the memory's own relation edges) are never used,
so the system cannot pass the evaluation by reading its own tables.

Spatial relations: the evaluation's own rule over object boxes (metres, z up):

* ``near``  - same floor and the gap between the two boxes' footprints is at most ``NEAR_GAP_M``
  (0.6 m: "next to", "beside", "by", "at"; a chair pushed under a desk has gap 0);
* ``on``    - the target's bottom is within ``ON_TOLERANCE_M`` (0.1 m) of the anchor's top and the
  target's footprint centre lies over the anchor's footprint (grown by 5 cm);
* ``above`` - the target's bottom is at or above the anchor's top (5 cm slack) and the footprints
  are at most ``ABOVE_GAP_M`` (0.3 m) apart (a mirror on the wall over a basin), not touching it;
* ``under`` - ``above`` with the roles swapped.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.types import ObjectInfo, Observation, RoomInfo, SceneInfo

log = logging.getLogger(__name__)

__all__ = ["NEAR_GAP_M", "ON_TOLERANCE_M", "ABOVE_GAP_M", "RELATIONS", "footprint_gap", "holds", "related_targets",
           "VisibilityLog", "RecordingSimulator", "TrackAttribution",
           "answered_in_right_room", "room_at", "rooms_seen", "MIN_VISIBLE_PIXELS"]

NEAR_GAP_M = 0.6
ON_TOLERANCE_M = 0.1
ABOVE_GAP_M = 0.3
RELATIONS = ("near", "on", "above", "under")
MIN_VISIBLE_PIXELS = 150  # an instance counts as seen in a frame from this many pixels (perception's default)


# ------------------------------------------------------------------------------------ relations
def footprint_gap(a: ObjectInfo, b: ObjectInfo) -> float:
    """Metres between the two boxes' floor-plan footprints (0 when they overlap)."""
    dx = max(0.0, max(a.bbox_min[0], b.bbox_min[0]) - min(a.bbox_max[0], b.bbox_max[0]))
    dy = max(0.0, max(a.bbox_min[1], b.bbox_min[1]) - min(a.bbox_max[1], b.bbox_max[1]))
    return float(np.hypot(dx, dy))


def _centre_over(t: ObjectInfo, a: ObjectInfo, grow: float = 0.05) -> bool:
    cx = 0.5 * (t.bbox_min[0] + t.bbox_max[0])
    cy = 0.5 * (t.bbox_min[1] + t.bbox_max[1])
    return (a.bbox_min[0] - grow <= cx <= a.bbox_max[0] + grow) and (a.bbox_min[1] - grow <= cy <= a.bbox_max[1] + grow)


def holds(relation: str, target: ObjectInfo, anchor: ObjectInfo) -> bool:
    """Whether ``target`` is ``relation`` the ``anchor`` by the rule in the module docstring."""
    if target.id == anchor.id or target.floor != anchor.floor:
        return False
    if relation == "near":
        return footprint_gap(target, anchor) <= NEAR_GAP_M
    if relation == "on":
        return abs(target.bbox_min[2] - anchor.bbox_max[2]) <= ON_TOLERANCE_M and _centre_over(target, anchor)
    if relation == "above":
        return (target.bbox_min[2] >= anchor.bbox_max[2] - 0.05 and not holds("on", target, anchor)
                and footprint_gap(target, anchor) <= ABOVE_GAP_M)
    if relation == "under":
        return holds("above", anchor, target)
    raise ValueError(f"unknown relation {relation!r}. Available: {', '.join(RELATIONS)}")


def related_targets(objects: Iterable[ObjectInfo], targets: Sequence[str], relation: str,
                    anchors: Sequence[str]) -> list[ObjectInfo]:
    """Objects of a ``targets`` category that stand in ``relation`` to some object of an ``anchors`` category."""
    objs = list(objects)
    tset, aset = set(targets), set(anchors)
    anchor_objs = [o for o in objs if o.category in aset]
    return [t for t in objs if t.category in tset and any(holds(relation, t, a) for a in anchor_objs)]


# ------------------------------------------------------------------------------------ visibility
@dataclass
class VisibilityLog:
    """Which world instances were in view at which step (from the simulator's instance buffer).

    ``frames[i] = (step, ids)``: ids with at least ``min_pixels`` pixels in that frame. Plain data:
    it travels with a world's result."""

    min_pixels: int = MIN_VISIBLE_PIXELS
    frames: list[tuple[int, frozenset[int]]] = field(default_factory=list)
    poses: list[tuple[float, float, int]] = field(default_factory=list)

    def record(self, obs: Observation) -> None:
        inst = np.asarray(obs.instance)
        ids, counts = np.unique(inst[inst > 0], return_counts=True)
        seen = frozenset(int(i) for i, c in zip(ids, counts, strict=True) if c >= self.min_pixels)
        self.frames.append((int(obs.step), seen))
        pose = obs.true_pose or obs.pose  # where the robot was, not where a drifting odometry believed it was
        self.poses.append((float(pose.x), float(pose.y), int(pose.floor)))

    @property
    def seen(self) -> set[int]:
        """Every instance that was ever in view."""
        out: set[int] = set()
        for _, ids in self.frames:
            out |= ids
        return out

    def last_step(self) -> dict[int, int]:
        """Instance id -> the last frame index (order of recording) it was in view."""
        out: dict[int, int] = {}
        for i, (_, ids) in enumerate(self.frames):
            for o in ids:
                out[o] = i
        return out

    def last_seen_of(self, ids: Iterable[int]) -> int | None:
        """Of ``ids``, the one in view most recently (None when none was ever seen). Ties (in view in
        the same last frame): the one with the smallest id, so the choice is deterministic."""
        last = self.last_step()
        cand = [(last[i], -i) for i in ids if i in last]
        return -max(cand)[1] if cand else None

    def edge_frame_ids(self, *, last: bool = True) -> frozenset[int]:
        """The instances in view in the last (``last``) or first frame that showed any (empty: none did)."""
        frames = reversed(self.frames) if last else iter(self.frames)
        return next((ids for _, ids in frames if ids), frozenset())


class RecordingSimulator:
    """A simulator proxy that records a ``VisibilityLog`` of every observation it returns."""

    def __init__(self, sim: Any, log_: VisibilityLog | None = None) -> None:
        self._sim = sim
        self.visibility = log_ or VisibilityLog()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sim, name)

    def reset(self, *args: Any, **kwargs: Any) -> Observation:
        obs = self._sim.reset(*args, **kwargs)
        self.visibility.record(obs)
        return obs

    def step(self, action: Any) -> Observation:
        obs = self._sim.step(action)
        self.visibility.record(obs)
        return obs

    def close(self) -> None:
        self._sim.close()

    def __enter__(self) -> RecordingSimulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class TrackAttribution:
    """Which world instance each object node stands for, when perception reads no ground truth.

    A perceiver such as ``geometric`` sets no ``instance_hint`` on its sightings. This proxy wraps
    ``memory.ingest``: in every frame the instance buffer's pixels under each of the perceiver's
    segments (``last_labels``) vote for that segment's fusion track (``last_tracks``); a node's instance
    is the one most voted over its tracks (merged tracks pool their votes; background votes nothing).
    It reads the instance buffer on the evaluation's side only, after the memory has ingested the frame.
    """

    def __init__(self, memory: Any) -> None:
        self.memory = memory
        self.track_votes: dict[int, Counter] = defaultdict(Counter)
        self.node_tracks: dict[str, set[int]] = defaultdict(set)
        self._ingest = memory.ingest
        memory.ingest = self

    def __call__(self, obs: Observation) -> Any:
        result = self._ingest(obs)
        self.record(obs, result)
        return result

    def record(self, obs: Observation, result: Any) -> None:
        perceiver = self.memory.perceiver
        inst = np.asarray(obs.instance)
        labels = getattr(perceiver, "last_labels", None)
        if labels is not None and labels.shape == inst.shape:
            for seg_label, track in getattr(perceiver, "last_tracks", {}).items():
                vals, cnt = np.unique(inst[labels == seg_label], return_counts=True)
                self.track_votes[track].update({int(v): int(c) for v, c in zip(vals, cnt, strict=True) if v > 0})
        for drop, keep in result.percept.merged_tracks:
            self.track_votes[keep].update(self.track_votes.pop(drop, Counter()))
        for node, s in result.update.sightings:
            if s.track is not None:
                self.node_tracks[node].add(int(s.track))
        for node in result.update.removed_objects:
            self.node_tracks.pop(node, None)

    def votes_of(self, node: str) -> Counter:
        """Pixels of each world instance under the segments of ``node``'s tracks, over the run."""
        votes: Counter = Counter()
        for track in self.node_tracks.get(node, ()):
            votes.update(self.track_votes.get(track, Counter()))
        return votes

    def instance_of(self, node: str) -> int | None:
        """The world instance ``node`` stands for (None: its segments covered no object)."""
        top = self.votes_of(node).most_common(1)
        return top[0][0] if top else None


# ------------------------------------------------------------------------------------ rooms
def _inside(poly: Sequence[tuple[float, float]], x: float, y: float) -> bool:
    inside = False
    n = len(poly)
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def room_at(info: SceneInfo, x: float, y: float, floor: int) -> RoomInfo | None:
    """The room whose polygon holds the point on that floor (None outside every room)."""
    for r in info.rooms:
        if r.floor == floor and len(r.polygon) >= 3 and _inside(r.polygon, x, y):
            return r
    return None


def rooms_seen(info: SceneInfo, visibility: VisibilityLog) -> list[RoomInfo]:
    """Rooms the robot stood in or saw an object of, in the world's order."""
    ids = {o.room_id for o in info.objects if o.id in visibility.seen}
    for x, y, f in visibility.poses[::5]:
        r = room_at(info, x, y, f)
        if r is not None:
            ids.add(r.id)
    return [r for r in info.rooms if r.id in ids]


def answered_in_right_room(memory: Any, info: SceneInfo, categories: Iterable[str]) -> dict[str, Any]:
    """Ask "where is the <category>?" for each category and judge the answer's top hit by the world's rooms.

    Right when the top hit stands in a room (``room_at`` its position, in the robot's frame: with odometry
    drift, where the robot believed it was) that holds an object of that category, or within 1 m of one's
    footprint in the hallways between rooms. A perception check: the question names the category as the
    vocabulary the memory was handed does, so it measures where objects ended up, not language.
    """
    from app.eval.metrics import footprint_distance
    from app.query import QueryRequest, engine_for

    engine = engine_for(memory)
    rows: list[tuple[str, bool]] = []
    for cat in sorted(set(categories)):
        res = engine.ask(QueryRequest(text=f"where is the {cat.replace('_', ' ')}?", retriever="forest"))
        hits = res.result.hits
        if not hits:
            rows.append((cat, False))
            continue
        h = hits[0]
        same = [o for o in info.objects if o.category == cat and o.floor == h.floor]
        room = room_at(info, h.position[0], h.position[1], h.floor)
        ok = (room is not None and any(o.room_id == room.id for o in same)) or any(
            footprint_distance(o, h.position[0], h.position[1]) <= 1.0 for o in same)
        rows.append((cat, ok))
    right = sum(ok for _, ok in rows)
    return {"asked": len(rows), "right_room": right, "rate": round(right / len(rows), 3) if rows else None,
            "wrong": [c for c, ok in rows if not ok]}
