"""Train SimCLIP: render labelled crops, caption them, align a CNN image tower to locked MiniLM.

``train_simclip(config, out)`` is a generator of ``Progress`` (the CLI shows a bar, a GUI worker
could too) that returns a ``TrainResult``. Stages:

1. **render** — ``app.simclip.data.generate_crops``: crops from showrooms and generated worlds,
   split into train / held-out viewpoints / held-out looks.
2. **captions** — every crop gets one caption per template (``CAPTION_TEMPLATES``); the unique
   strings are embedded once with the bundled MiniLM, which stays locked.
3. **train** — the image tower (``memory.encoders.simclip.build_tower``) learns with open_clip's
   ``ClipLoss`` and a learned temperature against the locked caption vectors; each step draws one
   template per crop (``template_weights``); crops that drew the same caption share one positive
   (their mean vector), so a repeated caption is never a false negative.
   Batches hold two views of each object, tied by a second, image-image ``ClipLoss`` (see
   ``fit_tower``). Augmentation changes geometry and light (flip, scale/shift, brightness/contrast —
   never hue: colours are labels). AdamW, cosine decay after a linear warm-up.
4. **evaluate** — ``app.simclip.evaluate`` figures on both held-out splits, for the trained tower, the
   same tower at random init, and random vectors (chance).
5. **write** — fp16 weights and the JSON model card.

Deterministic for a seed and a thread count (data order, templates, augmentation and init all come
from the seed; rendering does not depend on the worker count).
"""
from __future__ import annotations

import json
import logging
import math
import os
import platform
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from app.progress import CancelToken, Progress
from app.simclip.data import (
    CAPTION_TEMPLATES,
    SPLITS,
    VIEW_HOLDOUT_SECTORS,
    CropSet,
    DataConfig,
    captions_for,
    generate_crops,
    held_out_looks,
)
from app.simclip.evaluate import evaluate_vectors, similarity_stats
from memory.encoders import CachedEncoder, EncoderConfig
from memory.encoders.batching import embed_in_batches
from memory.encoders.simclip import (
    CARD_FORMAT,
    TEXT_SPACE,
    TowerArch,
    build_tower,
    card_path,
    default_weights_path,
    preprocess,
    save_weights,
)
from sim.catalog import load_catalog
from sim.errors import LabError

log = logging.getLogger(__name__)

__all__ = ["TrainConfig", "TrainResult", "train_simclip", "quick_config", "embed_captions", "fit_tower",
           "encode_crops", "SimClipTrainError"]


class SimClipTrainError(LabError):
    """Training settings are unusable or training failed."""


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Everything a training run depends on (recorded in the model card)."""

    seed: int = 0
    epochs: int = 28
    batch_size: int = 512
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup_steps: int = 150
    init_temperature: float = 0.07
    view_loss_weight: float = 0.5  # image-image ClipLoss between two views of an object; 0 turns it off
    # how often each caption template is drawn (CAPTION_TEMPLATES order): the plain category most,
    # since MiniLM's space separates colours and rooms more than categories
    template_weights: tuple[float, ...] = (0.35, 0.15, 0.2, 0.2, 0.1)
    # training runs after rendering, so both cores are free: on a quiet 2-core machine one 512-crop
    # step takes 1.26 s on two threads and 2.38 s on one. On a machine busy with other work two
    # threads ran 2-3x slower than one (616 vs 183 crops/s at load 1.8): pass --threads 1 there.
    threads: int = 2
    eval_draws: int = 20
    arch: TowerArch = field(default_factory=TowerArch)
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise SimClipTrainError(f"epochs must be >= 1 and batch_size >= 2, got {self.epochs}, {self.batch_size}")
        if not (self.lr > 0 and self.weight_decay >= 0 and 0 < self.init_temperature < 1):
            raise SimClipTrainError("lr must be > 0, weight_decay >= 0, init_temperature in (0, 1)")
        if self.threads < 1:
            raise SimClipTrainError(f"threads must be >= 1, got {self.threads}")


def quick_config(seed: int = 0, *, epochs: int = 6) -> TrainConfig:
    """A tiny run for tests: a handful of scenes, a narrow 32-pixel tower, seconds on a CPU."""
    data = DataConfig(seed=seed, showrooms=12, outdoor_showrooms=0, views_per_showroom=10, houses=2, offices=0,
                      multifloors=0, campuses=0, frames_per_world=40, test_every=3, workers=1)
    return TrainConfig(seed=seed, epochs=epochs, batch_size=64, lr=3e-3, warmup_steps=5, threads=1, eval_draws=5,
                       arch=TowerArch(width=8, image_size=32, head_dim=128), data=data)


@dataclass
class TrainResult:
    weights: Path | None
    card: dict
    losses: list[float]  # mean training loss of each epoch
    seconds: float


def train_simclip(config: TrainConfig, out: str | Path | None = None, cancel: CancelToken | None = None,
                  ) -> Generator[Progress, None, TrainResult]:
    """Run every stage; write weights and card to ``out`` (``None``: the shipped path; ``""``: nowhere)."""
    t0 = time.perf_counter()
    load_start = _load_average()
    timings: dict[str, float] = {}
    crops = yield from generate_crops(config.data, cancel)
    timings["render_s"] = time.perf_counter() - t0
    train = crops.split_of("train")
    if len(train) < config.batch_size:
        raise SimClipTrainError(f"only {len(train)} training crops for batches of {config.batch_size}; "
                                "render more scenes")
    yield Progress("captions", 0, 1, f"{len(crops)} crops")
    t1 = time.perf_counter()
    import torch

    torch.set_num_threads(config.threads)
    from memory.encoders.minilm import MiniLMEncoder

    # cached: the evaluation asks for the same prompts for each split and each baseline
    text = CachedEncoder(MiniLMEncoder(EncoderConfig(threads=config.threads, batch_size=256)), maxsize=100_000)
    cap_idx, cap_vec, cap_text = embed_captions(train, text)
    timings["captions_s"] = time.perf_counter() - t1
    yield Progress("captions", 1, 1, f"{len(cap_text)} unique captions")

    t2 = time.perf_counter()
    tower, logit_scale, losses = yield from fit_tower(train, cap_idx, cap_vec, config, cancel)
    timings["train_s"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    yield Progress("evaluate", 0, 1, "held-out splits")
    metrics = evaluate_all(tower, crops, text, config)
    timings["evaluate_s"] = time.perf_counter() - t3
    yield Progress("evaluate", 1, 1, _headline(metrics))

    timings["cpu_s"] = _cpu_seconds()  # with the render workers: contention-free cost of the run
    card = _card(config, crops, cap_text, losses, logit_scale.exp().item(), metrics, timings)
    card["environment"]["load_average_at_start"] = load_start
    path: Path | None = None
    if out != "":
        path = Path(out) if out is not None else default_weights_path()
        if path.suffix != ".pt":
            raise SimClipTrainError(f"the weights file must end in .pt, got {path}")
        card["weights_sha256"] = save_weights(tower, logit_scale, path)
        card["weights_bytes"] = path.stat().st_size
        card["timing"]["total_s"] = round(time.perf_counter() - t0, 1)
        tmp = card_path(path).with_suffix(".json.tmp")
        tmp.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        tmp.replace(card_path(path))
        log.info("wrote %s and %s", path, card_path(path))
    card["timing"]["total_s"] = round(time.perf_counter() - t0, 1)
    return TrainResult(path, card, losses, time.perf_counter() - t0)


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the render workers)."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def embed_captions(crops: CropSet, text) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(caption index (N, templates), unique caption vectors (U, 384), unique strings)``."""
    table: dict[str, int] = {}
    idx = np.zeros((len(crops), len(CAPTION_TEMPLATES)), dtype=np.int64)
    for i in range(len(crops)):
        for k, c in enumerate(captions_for(crops, i)):
            idx[i, k] = table.setdefault(c, len(table))
    strings = list(table)
    vec = np.asarray(text.encode_text(strings), dtype=np.float32)
    return idx, vec, strings


def fit_tower(train: CropSet, cap_idx: np.ndarray, cap_vec: np.ndarray, config: TrainConfig,
              cancel: CancelToken | None = None):
    """Train the tower; a generator of ``Progress`` returning ``(tower, logit_scale, epoch losses)``.

    An epoch visits every object instance once. A batch holds ``batch_size / 2`` instances, two
    crops of each (two views from different frames where the instance has them, else the same
    crop twice; each crop augmented on its own). The loss is ``ClipLoss(image, caption)`` over the
    batch's distinct captions (the mean vector of the crops that drew a caption stands for them)
    plus ``view_loss_weight * ClipLoss(view 1, view 2)`` — the image-image term (SLIP-style) teaches
    the tower to know an instance again from another viewpoint, which image queries against a
    memory rely on.
    """
    import torch
    import torch.nn.functional as F
    from open_clip.loss import ClipLoss

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    arch = config.arch
    # channels-last convolutions run about 1.5x faster on CPU
    tower = build_tower(arch).to(memory_format=torch.channels_last)
    logit_scale = torch.nn.Parameter(torch.tensor(math.log(1.0 / config.init_temperature)))
    view_scale = torch.nn.Parameter(torch.tensor(math.log(1.0 / config.init_temperature)))
    decay = [p for n, p in tower.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in tower.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                             {"params": no_decay + [logit_scale, view_scale], "weight_decay": 0.0}], lr=config.lr)
    groups = _instance_groups(train.instance)
    half = config.batch_size // 2
    steps_per_epoch = max(1, len(groups) // half)
    total = steps_per_epoch * config.epochs
    warm = min(config.warmup_steps, max(1, total // 10))

    def lr_at(step: int) -> float:
        if step < warm:
            return config.lr * (step + 1) / warm
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    weights = np.asarray(config.template_weights, dtype=np.float64)
    if len(weights) != len(CAPTION_TEMPLATES) or (weights < 0).any() or weights.sum() <= 0:
        raise SimClipTrainError(f"template_weights needs {len(CAPTION_TEMPLATES)} non-negative numbers")
    weights = weights / weights.sum()
    images = _resized_uint8(train, arch)  # resized once: the network, not resampling, should take the time
    texts = torch.from_numpy(cap_vec)
    mean = torch.tensor(arch.mean).view(1, 3, 1, 1)
    std = torch.tensor(arch.std).view(1, 3, 1, 1)
    loss_fn = ClipLoss()
    losses: list[float] = []
    step = 0
    tower.train()
    yield Progress("train", 0, total, f"{len(train)} crops of {len(groups)} objects, {steps_per_epoch} steps/epoch")
    for epoch in range(config.epochs):
        order = rng.permutation(len(groups))
        epoch_loss = []
        for b in range(steps_per_epoch):
            if cancel is not None:
                cancel.check()
            chosen = [groups[i] for i in order[b * half:(b + 1) * half]]
            first = np.array([g[rng.integers(len(g))] for g in chosen])
            second = np.array([_other(g, a, rng) for g, a in zip(chosen, first, strict=True)])
            sel = np.concatenate([first, second])
            tmpl = rng.choice(len(CAPTION_TEMPLATES), size=len(sel), p=weights)
            caps, group = np.unique(cap_idx[sel, tmpl], return_inverse=True)
            x = images[torch.from_numpy(sel)].float().div_(255.0)
            x = ((_augment(x, rng) - mean) / std).contiguous(memory_format=torch.channels_last)
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            feats = F.normalize(tower(x), dim=-1)
            # crops that drew the same caption are one positive for it (no false negatives): their mean
            member = torch.zeros(len(caps), len(sel))
            member[torch.from_numpy(group), torch.arange(len(sel))] = 1.0
            proto = F.normalize(member @ feats, dim=-1)
            loss = loss_fn(proto, texts[torch.from_numpy(caps)], logit_scale.exp())
            if config.view_loss_weight > 0:
                loss = loss + config.view_loss_weight * loss_fn(feats[:len(first)], feats[len(first):],
                                                                view_scale.exp())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                logit_scale.clamp_(0.0, math.log(100.0))
                view_scale.clamp_(0.0, math.log(100.0))
            epoch_loss.append(loss.item())
            step += 1
            if step % 5 == 0 or step == total:
                yield Progress("train", step, total, f"epoch {epoch + 1}/{config.epochs} loss "
                                                     f"{np.mean(epoch_loss[-20:]):.3f} T={1 / logit_scale.exp():.3f}")
        losses.append(round(float(np.mean(epoch_loss)), 4))
        log.info("epoch %d: loss %.4f", epoch + 1, losses[-1])
    tower = tower.to(memory_format=torch.contiguous_format).eval()
    return tower, logit_scale, losses


def _resized_uint8(crops: CropSet, arch: TowerArch, chunk: int = 2048):
    """All crops as a uint8 tensor ``(N, 3, S, S)`` resized the way ``preprocess`` resizes them."""
    import torch

    parts = [preprocess(list(crops.images[a:a + chunk]), arch, normalize=False).mul_(255.0).round_().to(torch.uint8)
             for a in range(0, len(crops), chunk)]
    return torch.cat(parts)


def _instance_groups(instance: np.ndarray) -> list[np.ndarray]:
    """Crop indices of each object instance, in first-appearance order."""
    _, first, inverse = np.unique(instance, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    groups: list[list[int]] = [[] for _ in range(len(first))]
    for i, g in enumerate(inverse):
        groups[g].append(i)
    return [np.asarray(groups[g]) for g in order]


def _other(group: np.ndarray, a: int, rng: np.random.Generator) -> int:
    """Another crop of the same instance (the same crop when it has only one)."""
    if len(group) == 1:
        return int(a)
    rest = group[group != a]
    return int(rest[rng.integers(len(rest))])


def _augment(x, rng: np.random.Generator):
    """Flip, scale/shift and light changes of a batch of [0, 1] images (no hue change: colours are labels)."""
    import torch
    import torch.nn.functional as F

    b = x.shape[0]
    flip = torch.from_numpy(rng.random(b) < 0.5)
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    scale = torch.from_numpy(rng.uniform(0.8, 1.1, b)).float()
    shift = torch.from_numpy(rng.uniform(-0.1, 0.1, (b, 2))).float()
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    gain = torch.from_numpy(rng.uniform(0.8, 1.2, (b, 1, 1, 1))).float()
    contrast = torch.from_numpy(rng.uniform(0.85, 1.15, (b, 1, 1, 1))).float()
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - m) * contrast + m * gain).clamp_(0.0, 1.0)


def encode_crops(tower, crops: CropSet, arch: TowerArch, batch: int = 512) -> np.ndarray:
    """Unit image vectors of ``crops`` with ``tower`` (eval mode)."""
    import torch

    return embed_in_batches(list(crops.images), arch.embed_dim, lambda b: tower(preprocess(b, arch)),
                            batch_size=batch, context=torch.inference_mode())


def evaluate_all(tower, crops: CropSet, text, config: TrainConfig) -> dict:
    """Figures for the trained tower, its random-init twin, chance and the text ceiling on each held-out split.

    The headline figures use the *full-view* crops of a split (the object's mask does not touch the
    frame border); ``all_crops`` repeats the SimCLIP figures with the part-views included.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        baseline = build_tower(config.arch).eval()
    rng = np.random.default_rng(config.seed + 1)
    kw = {"seed": config.seed, "draws": config.eval_draws}
    out: dict = {}
    for split in SPLITS[1:]:
        every = crops.split_of(split)
        part = every.subset(~every.cut)
        if len(part) == 0:
            continue
        trained = encode_crops(tower, part, config.arch)
        res = {"crops": "full view (mask off the frame border)",
               "simclip": evaluate_vectors(trained, part, text, **kw),
               "random_init": evaluate_vectors(encode_crops(baseline, part, config.arch), part, text, **kw)}
        noise = rng.normal(size=trained.shape).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        res["chance"] = evaluate_vectors(noise, part, text, **kw)
        cap_text = text.encode_text([captions_for(part, i)[3] for i in range(len(part))])
        # an image vector equal to its own full caption's: the most the locked text space allows
        res["text_ceiling"] = evaluate_vectors(cap_text, part, text, **kw)
        res["similarity"] = similarity_stats(trained, cap_text, seed=config.seed)
        res["category_top1_by_source"] = {
            name: evaluate_vectors(trained[part.source == s], part.subset(part.source == s), text,
                                   **kw)["category_top1"]
            for s, name in ((0, "showroom"), (1, "world")) if (part.source == s).sum() >= 20}
        res["all_crops"] = {"part_views": int(every.cut.sum()),
                            "simclip": evaluate_vectors(encode_crops(tower, every, config.arch), every, text, **kw)}
        out[split] = res
    return out


def _headline(metrics: dict) -> str:
    m = metrics.get("test_view", {}).get("simclip", {})
    return (f"category {m.get('category_top1', 0):.2f}, colour {m.get('colour_top1', 0):.2f}, "
            f"implicit@5 {m.get('implicit_recall5', 0):.2f}")


def _card(config: TrainConfig, crops: CropSet, cap_text: list[str], losses: list[float], logit_scale: float,
          metrics: dict, timings: dict) -> dict:
    import torch

    held = held_out_looks(load_catalog())
    n_params = sum(p.numel() for p in build_tower(config.arch).parameters())
    recipe = asdict(replace(config, data=config.data))
    recipe.pop("arch")
    recipe.pop("data")
    return {
        "format": CARD_FORMAT,
        "name": "SimCLIP",
        "description": "CNN image tower aligned to the locked MiniLM text space by CLIP training on "
                       "instance-mask crops of the simulator's own renders (offline default image encoder).",
        "text_encoder": TEXT_SPACE,
        "arch": config.arch.to_dict(),
        "parameters": int(n_params),
        "seed": config.seed,
        "recipe": {**recipe, "loss": f"open_clip.loss.ClipLoss(image, caption) + {config.view_loss_weight} x "
                           "ClipLoss(view 1, view 2) of the same object (learned temperatures)",
                   "optimizer": "AdamW, cosine decay after linear warm-up",
                   "augmentation": "horizontal flip, scale 0.8-1.1, shift +-10%, brightness 0.8-1.2, "
                                   "contrast 0.85-1.15 (no hue change)",
                   "captions": list(CAPTION_TEMPLATES), "unique_captions": len(cap_text),
                   "final_temperature": round(1.0 / logit_scale, 4), "epoch_losses": losses},
        "data": {**crops.summary(), "config": asdict(config.data),
                 "held_out": {"view_sectors_deg": [list(s) for s in VIEW_HOLDOUT_SECTORS],
                              "looks": sorted(" ".join(x) for x in held.looks)}},
        "metrics": metrics,
        "timing": {k: round(v, 1) for k, v in timings.items()},
        "environment": {"torch": torch.__version__, "python": platform.python_version(),
                        "threads": config.threads, "render_workers": config.data.workers,
                        "cpus": os.cpu_count(), "load_average_at_end": _load_average()},
    }
