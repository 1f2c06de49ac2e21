"""``launcher.py bench simclip``: SimCLIP throughput, its model-card figures and two end-to-end checks.

* **throughput** — crops (64 x 64, as perception keeps them) and place thumbnails per second.
* **card** — the held-out figures the training run measured, beside the random-init baseline.
* **image_query** — explore a house the encoder never saw in training with the default memory
  (SimCLIP embeds every object crop), then query with a *fresh* render of an object: the robot
  stands somewhere it never stood during exploration, looks at the object, and the object's crop
  (instance mask, perception's own cropping) is embedded; the top hit over the memory's object
  image vectors should be the same object instance (``top1``).
* **clip_perceiver** — the ``clip`` perceiver labelling instance crops zero-shot with SimCLIP, scored
  against the oracle (ground-truth categories) on fresh frames of the same house.

``image_query_eval`` and ``clip_perceiver_eval`` are plain functions over a ``Session`` so scripts
and tests can call them on any world.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import replace

import numpy as np

from app.config import LabConfig
from app.progress import drain
from app.session import Session
from memory.core import MemoryConfig
from memory.encoders import Encoder, EncoderConfig
from memory.encoders.simclip import SimClipEncoder
from memory.perception.clip import ClipPerceiver
from memory.perception.segments import extract_segments
from sim.types import ObjectInfo, Observation, Pose, wrap_angle

log = logging.getLogger(__name__)

__all__ = ["run_simclip_bench", "image_query_eval", "clip_perceiver_eval", "explore_with_simclip",
           "nearest_objects", "fresh_crop"]

E2E_SCENE = "house:seed=3,rooms=6"  # training worlds use seeds >= 100: this house is unseen


def run_simclip_bench(quick: bool = False) -> dict:
    """All figures of the module docstring (``quick``: a shorter exploration and fewer queries)."""
    enc = SimClipEncoder(EncoderConfig(type="simclip", threads=1, cache_size=0))
    out: dict = {"encoder": enc.id, "weights": str(enc.path), "parameters": enc.card.get("parameters")}
    out["throughput"] = _throughput(enc, quick)
    out["card"] = _card_figures(enc.card)
    t0 = time.perf_counter()
    steps = 400 if quick else 1500
    with explore_with_simclip(E2E_SCENE, steps, encoder=enc) as session:
        out["explore"] = {"scene": E2E_SCENE, "steps": steps, "seconds": round(time.perf_counter() - t0, 1),
                          **{k: session.memory.stats()[k] for k in ("objects", "places")}}
        out["image_query"] = image_query_eval(session, enc, per_object=1 if quick else 2, seed=0)
        out["clip_perceiver"] = clip_perceiver_eval(session, enc, frames=40 if quick else 150, seed=0)
    return out


def explore_with_simclip(spec: str, steps: int, *, encoder: Encoder | None = None, seed: int = 0) -> Session:
    """A session whose in-memory memory embeds crops with SimCLIP, after ``steps`` of exploration."""
    cfg = LabConfig(memory=replace(MemoryConfig(), image_encoder=EncoderConfig(type="simclip", threads=1)))
    from memory.core import EmbodiedMemory

    memory = EmbodiedMemory(cfg.memory, image_encoder=encoder)
    session = Session(spec, config=cfg, memory=memory, seed=seed)
    try:
        drain(session.explore(steps))
    except BaseException:
        session.close()
        raise
    return session


def nearest_objects(memory, vector: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` object nodes whose stored image vectors are closest to ``vector`` (cosine)."""
    ids = sorted(i for i in memory.image.vec if i.startswith("obj/"))
    if not ids:
        return []
    mat = np.stack([memory.image.vec[i] for i in ids])
    sims = mat @ np.asarray(vector, dtype=np.float32)
    order = np.argsort(-sims)[:k]
    return [(ids[i], float(sims[i])) for i in order]


def fresh_crop(session: Session, obj: ObjectInfo, rng: np.random.Generator, *, min_offset: float = 0.3,
               tries: int = 60) -> tuple[np.ndarray, Pose] | None:
    """A crop of ``obj`` from a free pose at least ``min_offset`` m from every pose the robot took."""
    sim = session.sim
    traj = np.array([[p.x, p.y] for p in session.trajectory])
    pcfg = session.memory.config.perception
    for _ in range(tries):
        a = rng.uniform(-math.pi, math.pi)
        ext = np.asarray(obj.bbox_max) - np.asarray(obj.bbox_min)
        d = 0.5 * float(max(ext[0], ext[1])) + rng.uniform(0.6, 2.5)
        x, y = obj.position[0] + d * math.cos(a), obj.position[1] + d * math.sin(a)
        if len(traj) and np.min(np.hypot(traj[:, 0] - x, traj[:, 1] - y)) < min_offset:
            continue
        floor = next((f for f in session.scene.info.floors if f.index == obj.floor), session.scene.info.floors[0])
        yaw = wrap_angle(math.atan2(obj.position[1] - y, obj.position[0] - x) + rng.normal(0.0, 0.12))
        pose = Pose(x, y, floor.elevation, yaw, obj.floor)
        if not sim.is_free(pose):
            continue
        frame = sim.renderer.render(pose)
        obs = Observation(rgb=frame.rgb, depth=frame.depth, instance=frame.instance, pose=pose, timestamp=0.0,
                          camera=sim.camera)
        seg = next((s for s in extract_segments(obs, pcfg) if s.instance == obj.id and not s.cut), None)
        if seg is not None:
            return seg.crop, pose
    return None


def image_query_eval(session: Session, encoder: Encoder, *, per_object: int = 2, seed: int = 0) -> dict:
    """Fresh-view image queries against the memory's object image vectors; same-instance top-1 and more.

    Every ground-truth object that some memory object was merged from (``instance_hint``) is
    queried ``per_object`` times. ``lookalike_free_top1`` counts only objects with no other object of
    the same category and colour in the world (the others have identical twins, e.g. dining chairs).
    """
    memory = session.memory
    rng = np.random.default_rng(seed)
    truth = {o.id: o for o in session.scene.info.objects}
    hint = {r.id: r.instance_hint for r in memory.graph.objects()}
    targets = sorted({h for i, h in hint.items() if h is not None and i in memory.image.vec})
    looks: dict[tuple[str, str], int] = {}
    for o in truth.values():
        looks[(o.category, o.colour)] = looks.get((o.category, o.colour), 0) + 1
    top1, top5, same_cat, unique = [], [], [], []
    skipped = 0
    t0 = time.perf_counter()
    for inst in targets:
        obj = truth[inst]
        for _ in range(per_object):
            got = fresh_crop(session, obj, rng)
            if got is None:
                skipped += 1
                continue
            vec = encoder.encode_image([got[0]])[0]
            hits = nearest_objects(memory, vec, k=5)
            best = hint.get(hits[0][0])
            top1.append(best == inst)
            top5.append(any(hint.get(h) == inst for h, _ in hits))
            same_cat.append(best is not None and truth[best].category == obj.category)
            if looks[(obj.category, obj.colour)] == 1:
                unique.append(best == inst)
    n = len(top1)
    return {"queries": n, "objects": len(targets), "skipped": skipped,
            "top1": _frac(top1), "top5": _frac(top5), "same_category_top1": _frac(same_cat),
            "lookalike_free_queries": len(unique), "lookalike_free_top1": _frac(unique),
            "chance_top1": round(1.0 / max(1, len(hint)), 4), "seconds": round(time.perf_counter() - t0, 1)}


def clip_perceiver_eval(session: Session, encoder: Encoder, *, frames: int = 150, seed: int = 0) -> dict:
    """Labels of the ``clip`` perceiver (SimCLIP, catalog vocabulary) against the oracle's, on fresh frames."""
    rng = np.random.default_rng(seed + 1)
    cfg = replace(session.memory.config.perception, type="clip")
    perceiver = ClipPerceiver(cfg, encoder)
    truth = {o.id: o for o in session.scene.info.objects}
    objs = list(truth.values())
    kept = correct = segments = 0
    all_correct = 0
    colour_ok = 0
    confusions: dict[str, int] = {}
    t0 = time.perf_counter()
    for _ in range(frames):
        got = fresh_crop(session, objs[int(rng.integers(len(objs)))], rng, min_offset=0.0)
        if got is None:
            continue
        obs = session.sim.set_pose(got[1])
        segs = extract_segments(obs, cfg)
        labels, _ = perceiver.classify([s.crop for s in segs]) if segs else ([], None)
        segments += len(segs)
        all_correct += sum(lab == truth[s.instance].category for s, lab in zip(segs, labels, strict=True))
        for s in perceiver.perceive(obs).sightings:
            gt = truth[s.instance]
            kept += 1
            correct += s.label == gt.category
            colour_ok += s.colour == gt.colour
            if s.label != gt.category:
                key = f"{gt.category} -> {s.label}"
                confusions[key] = confusions.get(key, 0) + 1
    top = sorted(confusions.items(), key=lambda kv: -kv[1])[:8]
    return {"frames": frames, "segments": segments, "kept": kept, "keep_rate": _ratio(kept, segments),
            "accuracy_kept": _ratio(correct, kept), "accuracy_all_segments": _ratio(all_correct, segments),
            "colour_agreement": _ratio(colour_ok, kept), "vocabulary": len(perceiver.vocabulary),
            "min_confidence": cfg.clip_min_confidence, "top_confusions": dict(top),
            "ms_per_frame": round(1000 * (time.perf_counter() - t0) / max(1, frames), 1)}


def _throughput(enc: SimClipEncoder, quick: bool) -> dict:
    rng = np.random.default_rng(0)
    crops = list(rng.integers(0, 256, (256, 64, 64, 3), dtype=np.uint8))
    thumbs = list(rng.integers(0, 256, (64, 72, 96, 3), dtype=np.uint8))
    enc.load()
    enc.encode_image(crops[:8])
    reps = 2 if quick else 5
    t = time.perf_counter()
    for _ in range(reps):
        enc.encode_image(crops)
    batch = reps * len(crops) / (time.perf_counter() - t)
    t = time.perf_counter()
    for c in crops[:32]:
        enc.encode_image([c])
    single = (time.perf_counter() - t) / 32
    t = time.perf_counter()
    enc.encode_image(thumbs)
    thumb = len(thumbs) / (time.perf_counter() - t)
    return {"crops_per_s_batch256": round(batch, 1), "ms_per_single_crop": round(1000 * single, 2),
            "thumbnails_per_s": round(thumb, 1), "threads": enc.config.threads}


def _card_figures(card: dict) -> dict:
    keys = ("category_top1", "colour_top1", "joint_top1", "implicit_recall5", "image_to_image_top1")
    out: dict = {}
    for split, m in card.get("metrics", {}).items():
        out[split] = {k: {"simclip": m["simclip"][k], "random_init": m["random_init"][k], "chance": m["chance"][k]}
                      for k in keys}
    out["train_seconds"] = card.get("timing", {}).get("total_s")
    return out


def _frac(xs: list[bool]) -> float:
    return round(float(np.mean(xs)), 4) if xs else 0.0


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0
