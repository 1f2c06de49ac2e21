"""``launcher.py bench perception``: perception without ground truth, measured against ground truth.

Explores worlds with the ``geometric`` perceiver (``assets/configs/geometric.yaml``: depth noise and
odometry drift on) and scores what the memory built. Only this module reads the simulator's
answers (instance buffer, object table, true pose); the memory never does.

* **cost** — milliseconds per segmented frame of the segmenter, the labeller (SimCLIP) and the
  fusion (``frames``: how many of the steps' frames were segmented; the rest showed nearly the view
  of the last segmented one), and the exploration's end-to-end steps per second (noisy on a shared
  2-core machine).
* **masks** — per frame, each visible instance's best IoU with a segment (``recall_iou``) and each
  segment's best IoU with an instance (``precision_iou``), averaged.
* **objects** — object nodes against the objects the robot actually saw (instances with at least
  150 pixels in some frame: ``node_ratio``, target 0.8-1.3); each node's instance is the one its
  segments covered most over the run (``app.eval.truth.TrackAttribution``, as the evaluation
  attributes them); ``category_accuracy``
  is the share of nodes whose label is that instance's category (the vocabulary is the catalog's
  80 categories; nodes standing for no object count as wrong); ``found`` counts the distinct seen
  objects some node stands for, ``duplicates`` the nodes beyond the first for one object, and
  ``not_an_object`` the nodes made of structure or noise.
* **labels** — per view, on segments that cover one instance (90 % of their pixels) and are not
  cut by the border, sampled like the masks: how often the labeller names the instance's category
  from the segment's own crop (``per_view_accuracy``) and from a crop of the instance's whole visible
  box (``whole_box_accuracy``: what a perfect mask would give the same labeller), and the share of
  those segments whose box covers less than half of the instance's (``part_of_object``). This check
  labels extra crops; its time and the mask check's are taken out of ``steps_per_second``.
* **rooms** — rooms the forest found against the world's rooms; **answered in the right room** —
  "where is the <category>?" for each category seen, right when the top hit stands in a room that
  holds one (``app.eval.truth.answered_in_right_room``); **drift** — final and largest distance
  between the believed and the true pose.
"""
from __future__ import annotations

import logging
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.config import GEOMETRIC_PRESET, LabConfig, load_lab_config
from app.eval.truth import MIN_VISIBLE_PIXELS, TrackAttribution, answered_in_right_room
from app.progress import drain
from app.session import Session
from memory.perception.segments import box_crop, resize_nearest
from sim.types import Observation

log = logging.getLogger(__name__)

__all__ = ["run_perception_bench", "evaluate_perception", "PerceptionScore", "BENCH_WORLDS"]

BENCH_WORLDS = (("house:seed=3,rooms=6", 1500), ("office:seed=1", 1500))
_IOU_EVERY = 3  # frames between mask-quality measurements (they cost a few ms each)


@dataclass
class PerceptionScore:
    """Ground-truth bookkeeping of one exploration (filled step by step by ``_Recorder``)."""

    seen: Counter = field(default_factory=Counter)  # instance -> frames it was in view
    recall_iou: list[float] = field(default_factory=list)
    precision_iou: list[float] = field(default_factory=list)
    timing: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # segmented frames
    frames: Counter = field(default_factory=Counter)  # "steps" and "segmented"
    drift: list[float] = field(default_factory=list)
    labels: Counter = field(default_factory=Counter)  # "segments", "part", "own", "whole" (label checks)
    check_seconds: float = 0.0  # time spent on the label check, not part of the exploration's cost


class _Recorder:
    """Wraps ``memory.ingest`` to score each frame against the simulator's ground truth."""

    def __init__(self, session: Session, score: PerceptionScore) -> None:
        self.session = session
        self.score = score
        self.attribution = TrackAttribution(session.memory)  # each node's instance, as the evaluation finds it
        self._ingest = session.memory.ingest
        self._frames = 0
        self._table: dict | None = None  # the world's object table, read on the bench's side only
        session.memory.ingest = self  # type: ignore[method-assign]

    def __call__(self, obs: Observation):
        result = self._ingest(obs)
        self._record(obs, result)
        return result

    def _record(self, obs: Observation, result: Any) -> None:
        sc = self.score
        perceiver = self.session.memory.perceiver
        inst = np.asarray(obs.instance)
        ids, counts = np.unique(inst[inst > 0], return_counts=True)
        visible = [int(i) for i, c in zip(ids, counts, strict=True) if c >= MIN_VISIBLE_PIXELS]
        sc.seen.update(visible)
        if obs.true_pose is not None:
            sc.drift.append(math.hypot(obs.pose.x - obs.true_pose.x, obs.pose.y - obs.true_pose.y))
        sc.frames["steps"] += 1
        if result.percept.keyframe:  # frames the perceiver skipped cost next to nothing
            sc.frames["segmented"] += 1
            for k, v in getattr(perceiver, "timing", {}).items():
                sc.timing[k].append(float(v))
        labels = getattr(perceiver, "last_labels", None)
        if labels is None or labels.shape != inst.shape:
            return
        self._frames += 1
        if self._frames % _IOU_EVERY == 0:
            t = time.perf_counter()
            self._ious(inst, labels, visible)
            self._labels(obs, inst, labels)
            self.score.check_seconds += time.perf_counter() - t

    def _labels(self, obs: Observation, inst: np.ndarray, labels: np.ndarray) -> None:
        """Label the pure, uncut segments of this view from their own crop and from their instance's box."""
        perceiver = self.session.memory.perceiver
        labeller = getattr(perceiver, "labeller", None)
        segs = getattr(perceiver, "last_segments", None)
        if labeller is None or not segs:
            return
        if self._table is None:
            self._table = self.session.scene.info.object_table()
        pc = perceiver.config
        own, whole, truth = [], [], []
        for g in segs:
            if g.segment.cut:
                continue
            vals, cnt = np.unique(inst[labels == g.label_image], return_counts=True)
            k = int(np.argmax(cnt)) if len(cnt) else 0
            if not len(cnt) or vals[k] <= 0 or cnt[k] < 0.9 * cnt.sum() or int(vals[k]) not in self._table:
                continue
            ys, xs = np.nonzero(inst == vals[k])
            box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
            u0, v0, u1, v1 = g.segment.bbox2d
            self.score.labels["part"] += (u1 - u0) * (v1 - v0) < 0.5 * (box[2] - box[0]) * (box[3] - box[1])
            own.append(g.segment.crop)
            whole.append(resize_nearest(box_crop(np.asarray(obs.rgb), box, pc.crop_pad), pc.crop_size, pc.crop_size))
            truth.append(self._table[int(vals[k])].category)
        if not truth:
            return
        vocab = labeller.vocabulary
        for key, crops in (("own", own), ("whole", whole)):
            _, prob = labeller.score(crops)
            self.score.labels[key] += sum(vocab[int(i)] == t for i, t in zip(prob.argmax(axis=1), truth, strict=True))
        self.score.labels["segments"] += len(truth)

    def _ious(self, inst: np.ndarray, labels: np.ndarray, visible: list[int]) -> None:
        segs = [int(v) for v in np.unique(labels) if v > 0]
        if not visible and not segs:
            return
        pair = Counter(zip(inst[labels > 0].tolist(), labels[labels > 0].tolist(), strict=True))
        area_i = {i: int((inst == i).sum()) for i in visible}
        area_s = {s: int((labels == s).sum()) for s in segs}
        area_i_all = Counter(inst.ravel().tolist())

        def iou(i: int, s: int) -> float:
            inter = pair.get((i, s), 0)
            return inter / max(1, area_i_all[i] + area_s[s] - inter)

        for i in visible:
            self.score.recall_iou.append(max((iou(i, s) for s in segs), default=0.0))
        for s in segs:
            self.score.precision_iou.append(max((iou(i, s) for i in area_i if i), default=0.0))


def evaluate_perception(spec: str, steps: int, config: LabConfig | None = None, *, seed: int = 0) -> dict:
    """Explore ``spec`` for ``steps`` with ``config`` (default: the geometric example config); the figures."""
    cfg = config or load_lab_config(GEOMETRIC_PRESET)
    score = PerceptionScore()
    t0 = time.perf_counter()
    with Session(spec, config=cfg, seed=seed) as session:
        recorder = _Recorder(session, score)
        summary = drain(session.explore(steps))
        info = session.scene.info
        objects = session.memory.graph.objects()
        stats = session.memory.stats()
        perception = session.perception
        table = info.object_table()
        seen = {i for i in score.seen if i in table}
        rooms = answered_in_right_room(session.memory, info, {table[i].category for i in seen})
    attribution = recorder.attribution
    correct = junk = 0
    found: Counter = Counter()
    confusions: Counter = Counter()
    for rec in objects:
        inst = attribution.instance_of(rec.id)
        truth = table.get(inst) if inst is not None else None
        if truth is None:
            junk += 1
        else:
            found[truth.id] += 1
            if truth.category == rec.label:
                correct += 1
            else:
                confusions[f"{truth.category} -> {rec.label}"] += 1
    n = len(objects)
    lab = score.labels
    sps = summary.steps_per_second
    if sps > 0 and score.check_seconds > 0:  # the label check's extra crops are the bench's cost, not perception's
        sps = summary.episode.steps / max(1e-6, summary.episode.steps / sps - score.check_seconds)
    ms = {k: round(float(np.mean(v)), 2) for k, v in score.timing.items() if v}
    return {
        "scene": spec, "steps": summary.episode.steps, "perception": perception,
        "steps_per_second": round(sps, 2), "seconds": round(time.perf_counter() - t0, 1),
        "frames": {"steps": score.frames["steps"], "segmented": score.frames["segmented"]},
        "cost_ms_per_frame": ms,
        "frames_per_second": {k.replace("_ms", ""): round(1000.0 / v, 1) for k, v in ms.items() if v > 0},
        "masks": {"recall_iou": _mean(score.recall_iou), "precision_iou": _mean(score.precision_iou)},
        "objects": {"nodes": n, "seen": len(seen), "node_ratio": round(n / max(1, len(seen)), 3),
                    "found": len(set(found) & seen), "duplicates": sum(found.values()) - len(found),
                    "not_an_object": junk, "category_accuracy": round(correct / max(1, n), 3),
                    "top_confusions": dict(confusions.most_common(5))},
        "labels": {"pure_segments": lab["segments"],
                   "part_of_object": round(lab["part"] / max(1, lab["segments"]), 3),
                   "per_view_accuracy": round(lab["own"] / max(1, lab["segments"]), 3),
                   "whole_box_accuracy": round(lab["whole"] / max(1, lab["segments"]), 3)},
        "rooms": {"found": stats["rooms"], "world": len(info.rooms)},
        "answered_in_right_room": {k: rooms[k] for k in ("asked", "right_room", "rate", "wrong")},
        "drift_m": {"final": round(score.drift[-1], 3) if score.drift else 0.0,
                    "max": round(max(score.drift), 3) if score.drift else 0.0},
    }


def _mean(v: list[float]) -> float:
    return round(float(np.mean(v)), 3) if v else 0.0


def run_perception_bench(quick: bool = False) -> dict:
    """The figures of the module docstring on house seed 3 and an office (``quick``: 300 steps each)."""
    out: dict = {"config": str(GEOMETRIC_PRESET)}
    for spec, steps in BENCH_WORLDS:
        out[spec] = evaluate_perception(spec, 300 if quick else steps)
    return out
