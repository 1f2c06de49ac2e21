"""Cross-view fusion: class-agnostic segments of many views become objects (ConceptGraphs-style).

An object is a set of voxels (``FusionConfig.voxel``) with a label histogram, colour votes and an
image vector averaged over distinct bearings. For each new view (``ObjectFusion.update``):

* **associate** — each segment joins the object whose voxel set shares the largest part of the
  smaller of the two sets: at least ``min_overlap``, or ``weak_overlap`` when their image vectors
  also agree (cosine ``min_similarity``); several segments of one view may join one object (an
  over-segmented table), a segment that matches nothing starts a new object;
* **merge** — voxels, label probabilities (a segment cut by the border votes with
  ``cut_weight``), colour votes and, when seen from a bearing ``bearing_deg`` away from every
  earlier one, the image vector;
* **merge duplicates** — objects touched in this view that have grown into another (sharing
  ``merge_overlap`` of the smaller voxel set) are folded into the older one;
* **retire ghosts** — objects seen in fewer than ``min_views`` views and not seen for
  ``ghost_frames`` frames are dropped (noise, a passing partial view).

Only objects seen in ``min_views`` views are reported (``FusionFrame.seen``); merges of reported
objects are reported too, so the memory folds their nodes.
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from memory.perception.geo_config import FusionConfig
from memory.perception.voxels import voxel_centres, voxel_keys
from sim.types import Pose, wrap_angle

log = logging.getLogger(__name__)

__all__ = ["FusedObject", "FusionFrame", "ObjectFusion"]

_EXTENT_PERCENTILE = 2.0
Embedder = Callable[[list[int]], tuple[np.ndarray, np.ndarray, Sequence[str]]]


@dataclass(eq=False)
class FusedObject:
    """One object of the fusion map (mutable; owned by ``ObjectFusion``)."""

    id: int
    voxels: np.ndarray  # sorted unique int64 voxel keys
    voxel: float
    scores: np.ndarray  # summed label probabilities over views
    image_sum: np.ndarray
    first_step: int
    last_step: int
    n_views: int = 1
    n_images: int = 1
    n_votes: int = 1  # views whose crop was labelled
    bearings: list[float] = field(default_factory=list)
    colours: Counter = field(default_factory=Counter)
    reported: bool = False
    _lo: np.ndarray | None = None
    _hi: np.ndarray | None = None

    @property
    def image_vector(self) -> np.ndarray:
        """Unit mean of the image vectors taken from distinct bearings."""
        n = float(np.linalg.norm(self.image_sum))
        return self.image_sum / n if n > 0 else self.image_sum

    def extent(self) -> tuple[np.ndarray, np.ndarray]:
        """Low and high corners of the object's voxels (robust percentiles, voxel-padded)."""
        if self._lo is None or self._hi is None:
            c = voxel_centres(self.voxels, self.voxel)
            if len(c) >= 20:
                lo, hi = np.percentile(c, [_EXTENT_PERCENTILE, 100.0 - _EXTENT_PERCENTILE], axis=0)
            else:
                lo, hi = c.min(axis=0), c.max(axis=0)
            self._lo, self._hi = lo - 0.5 * self.voxel, hi + 0.5 * self.voxel
        return self._lo, self._hi

    @property
    def centre(self) -> np.ndarray:
        lo, hi = self.extent()
        return 0.5 * (lo + hi)

    def colour(self) -> str:
        return self.colours.most_common(1)[0][0] if self.colours else ""

    def set_voxels(self, voxels: np.ndarray) -> None:
        self.voxels = voxels
        self._lo = self._hi = None


@dataclass(frozen=True)
class FusionFrame:
    """What one ``update`` did."""

    seen: list[tuple[FusedObject, list[int]]]  # reported objects seen in this view, with their segment indices
    assignment: dict[int, int]  # segment index -> object id (reported or not)
    merged: tuple[tuple[int, int], ...] = ()  # (dropped id, kept id) of reported objects folded together
    retired: tuple[int, ...] = ()


class ObjectFusion:
    """The fused object map of one exploration."""

    def __init__(self, config: FusionConfig, vocabulary: Sequence[str]) -> None:
        self.config = config
        self.vocabulary = tuple(vocabulary)
        self.objects: dict[int, FusedObject] = {}
        self._next = 1
        self._boxes: tuple[list[FusedObject], np.ndarray, np.ndarray] | None = None  # extents of all objects

    def __len__(self) -> int:
        return len(self.objects)

    def label_of(self, obj: FusedObject) -> tuple[str, float]:
        """The voted label and its share of the votes ("" before any vote)."""
        total = float(obj.scores.sum())
        if total <= 0:
            return "", 0.0
        k = int(np.argmax(obj.scores))
        return self.vocabulary[k], (float(obj.scores[k]) / total if total > 0 else 0.0)

    def update(self, segments: Sequence, pose: Pose, step: int, *, embed: Embedder) -> FusionFrame:
        """Fuse one view's segments (``GeoSegment``s).

        ``embed(indices)`` returns image vectors ``(k, D)``, label probabilities ``(k, V)`` and colours
        of the segments at ``indices``; it is called once, for the segments that need it: those no
        object overlaps well, and those of objects with fewer than ``label_views`` votes or seen from
        a new bearing (a view like the last ones adds little, and the encoder is the costliest step).
        """
        cfg = self.config
        seg_vox = [np.unique(voxel_keys(g.points, cfg.voxel)) for g in segments]
        strong = [self._associate(vox, segments[i], None) for i, vox in enumerate(seg_vox)]
        need = [i for i, oid in enumerate(strong)
                if oid is None or self._wants_view(self.objects[oid], segments[i], pose)]
        vectors: list[np.ndarray | None] = [None] * len(segments)
        probs: list[np.ndarray | None] = [None] * len(segments)
        colours: list[str] = [""] * len(segments)
        if need:
            v, p, c = embed(need)
            for k, i in enumerate(need):
                vectors[i], probs[i], colours[i] = v[k], p[k], c[k]
        assignment: dict[int, int] = {}
        touched: dict[int, list[int]] = {}
        for i, vox in enumerate(seg_vox):
            oid = self._associate(vox, segments[i], vectors[i]) if vectors[i] is not None else strong[i]
            if oid is None or oid not in self.objects:
                oid = self._new(vox, vectors[i], probs[i], colours[i], segments[i], pose, step)
            else:
                self._absorb(self.objects[oid], vox, vectors[i], probs[i], colours[i], segments[i], pose, step,
                             first_part=oid not in touched)
            assignment[i] = oid
            touched.setdefault(oid, []).append(i)
        merged: list[tuple[int, int]] = []
        for oid in list(touched):
            if oid not in self.objects:
                continue
            keep = self._merge_duplicates(oid, merged)
            if keep != oid:
                touched.setdefault(keep, []).extend(touched.pop(oid))
        for i, oid in list(assignment.items()):
            while oid not in self.objects:
                oid = next(k for d, k in merged if d == oid)
            assignment[i] = oid
        retired = self._retire(step, set(touched))
        seen = []
        for oid, idx in touched.items():
            obj = self.objects.get(oid)
            if obj is not None and obj.n_views >= cfg.min_views:
                obj.reported = True
                seen.append((obj, idx))
        return FusionFrame(seen, assignment, tuple(merged), tuple(retired))

    # ------------------------------------------------------------------------------- steps
    def _candidates(self, lo: np.ndarray, hi: np.ndarray) -> list[FusedObject]:
        """Objects whose extent comes within a voxel of the box ``lo``-``hi``."""
        if self._boxes is None:
            objs = list(self.objects.values())
            ext = [o.extent() for o in objs]
            self._boxes = (objs, np.array([e[0] for e in ext]).reshape(-1, 3),
                           np.array([e[1] for e in ext]).reshape(-1, 3))
        objs, olo, ohi = self._boxes
        pad = self.config.voxel
        near = np.all(olo - pad <= hi, axis=1) & np.all(lo <= ohi + pad, axis=1)
        return [objs[k] for k in np.flatnonzero(near).tolist()]

    @staticmethod
    def _overlap(vox: np.ndarray, other: np.ndarray) -> float:
        """Share of the smaller of two voxel sets that the other holds too."""
        shared = len(np.intersect1d(vox, other, assume_unique=True))
        return shared / max(1, min(len(vox), len(other)))

    def _wants_view(self, obj: FusedObject, seg, pose: Pose) -> bool:
        cfg = self.config
        if obj.n_votes < cfg.label_views:
            return True
        if len(obj.bearings) >= cfg.max_bearings:
            return False
        b = self._bearing(pose, seg)
        return all(abs(wrap_angle(b - x)) >= math.radians(cfg.bearing_deg) for x in obj.bearings)

    def _associate(self, vox: np.ndarray, seg, vector: np.ndarray | None) -> int | None:
        """The object a segment belongs to: overlap alone (``vector`` None), or overlap with image agreement."""
        cfg = self.config
        lo, hi = np.asarray(seg.segment.bbox_min), np.asarray(seg.segment.bbox_max)
        best: tuple[float, int] | None = None
        for obj in self._candidates(lo, hi):
            overlap = self._overlap(vox, obj.voxels)
            if overlap == 0:
                continue
            sim = float(vector @ obj.image_vector) if vector is not None and vector.size else -1.0
            if overlap >= cfg.min_overlap or (overlap >= cfg.weak_overlap and sim >= cfg.min_similarity):
                score = overlap + 0.5 * sim
                if best is None or score > best[0]:
                    best = (score, obj.id)
        return None if best is None else best[1]

    def _new(self, vox, vector, probs, colour, seg, pose: Pose, step: int) -> int:
        oid = self._next
        self._next += 1
        w = self._weight(seg)
        dim = next((len(o.image_sum) for o in self.objects.values()), 0)
        obj = FusedObject(oid, vox[: self.config.max_voxels] if len(vox) > self.config.max_voxels else vox,
                          self.config.voxel,
                          np.zeros(len(self.vocabulary)) if probs is None else np.asarray(probs, np.float64) * w,
                          np.zeros(dim) if vector is None else np.asarray(vector, dtype=np.float64).copy(), step, step,
                          n_images=int(vector is not None), n_votes=int(probs is not None))
        if vector is not None:
            obj.bearings.append(self._bearing(pose, seg))
        if colour:
            obj.colours[colour] += 1
        self.objects[oid] = obj
        self._boxes = None
        return oid

    def _absorb(self, obj: FusedObject, vox, vector, probs, colour, seg, pose: Pose, step: int, *,
                first_part: bool) -> None:
        cfg = self.config
        union = np.union1d(obj.voxels, vox)
        if len(union) > cfg.max_voxels:  # keep an even sample: the extent survives, memory stays bounded
            union = union[np.linspace(0, len(union) - 1, cfg.max_voxels).astype(np.int64)]
        obj.set_voxels(union)
        self._boxes = None
        if first_part:
            obj.n_views += 1
        obj.last_step = step
        if probs is None or vector is None:
            return
        obj.scores += np.asarray(probs, dtype=np.float64) * self._weight(seg)
        obj.n_votes += 1
        if colour:
            obj.colours[colour] += 1
        b = self._bearing(pose, seg)
        if (len(obj.bearings) < cfg.max_bearings
                and all(abs(wrap_angle(b - x)) >= math.radians(cfg.bearing_deg) for x in obj.bearings)):
            obj.bearings.append(b)
            obj.image_sum += vector
            obj.n_images += 1

    def _merge_duplicates(self, oid: int, merged: list[tuple[int, int]]) -> int:
        """Fold ``oid`` and any object it has grown into together; the id that remains."""
        cfg = self.config
        while True:
            obj = self.objects[oid]
            lo, hi = obj.extent()
            other = None
            for cand in self._candidates(lo, hi):
                if cand.id == oid:
                    continue
                if self._overlap(obj.voxels, cand.voxels) >= cfg.merge_overlap:
                    other = cand
                    break
            if other is None:
                return oid
            keep, drop = (other, obj) if other.id < oid else (obj, other)
            self._fold(keep, drop)
            merged.append((drop.id, keep.id))
            keep.reported = keep.reported or drop.reported  # the survivor carries the identity the memory holds
            oid = keep.id

    def _fold(self, keep: FusedObject, drop: FusedObject) -> None:
        union = np.union1d(keep.voxels, drop.voxels)
        if len(union) > self.config.max_voxels:
            union = union[np.linspace(0, len(union) - 1, self.config.max_voxels).astype(np.int64)]
        keep.set_voxels(union)
        keep.scores += drop.scores
        keep.colours.update(drop.colours)
        keep.n_views += drop.n_views
        keep.first_step = min(keep.first_step, drop.first_step)
        keep.last_step = max(keep.last_step, drop.last_step)
        for b in drop.bearings:
            if len(keep.bearings) < self.config.max_bearings and all(
                    abs(wrap_angle(b - x)) >= math.radians(self.config.bearing_deg) for x in keep.bearings):
                keep.bearings.append(b)
        keep.image_sum = keep.image_sum + drop.image_sum if len(keep.image_sum) == len(drop.image_sum) else (
            keep.image_sum if len(keep.image_sum) else drop.image_sum)
        keep.n_images += drop.n_images
        keep.n_votes += drop.n_votes
        del self.objects[drop.id]
        self._boxes = None
        log.debug("fusion: object %d folded into %d", drop.id, keep.id)

    def _retire(self, step: int, touched: set[int]) -> list[int]:
        cfg = self.config
        gone = [o.id for o in self.objects.values()
                if o.id not in touched and o.n_views < cfg.min_views and step - o.last_step > cfg.ghost_frames]
        for oid in gone:
            del self.objects[oid]
        if gone:
            self._boxes = None
        return gone

    def _weight(self, seg) -> float:
        return self.config.cut_weight if seg.segment.cut else 1.0

    @staticmethod
    def _bearing(pose: Pose, seg) -> float:
        c = seg.segment.centroid
        return math.atan2(pose.y - c[1], pose.x - c[0])
