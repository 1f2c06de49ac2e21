"""SimCLIP evaluation: zero-shot and retrieval figures on held-out crops, for any image encoder.

Every figure takes image vectors of held-out crops and the text encoder they are compared with
(MiniLM), so the same functions score the trained tower, its random-init twin and the text-only
ceiling. Definitions:

* ``category_top1`` — zero-shot over **every** catalog category (80-way), prompt
  ``a photo of a {category}`` (the ``clip`` perceiver's prompt).
* ``colour_top1`` — over every palette colour (26-way), prompt ``a photo of a {colour} {category}``
  with the true category (attribute recognition, not detection).
* ``joint_top1`` — category and colour both right, over all (category, catalog colour) prompts.
* ``implicit_recall5`` — each catalog affordance phrase ("somewhere to sleep") ranks a gallery of
  one random crop per category present; recall@5 = relevant categories in the top 5 over
  ``min(5, relevant)``; mean over phrases and ``draws`` galleries.
* ``image_to_image_top1`` — nearest other crop, never one of the same object instance, has the
  same category.

The training run also scores each crop's own full caption vector ("a red wooden chair in the
kitchen") as if it were the image vector: the *text ceiling*, the most an image vector aligned to
its caption could reach in the locked MiniLM space (implicit queries top out near 0.73 there).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from app.simclip.data import CropSet
from memory.encoders import Encoder
from sim.catalog import Catalog, load_catalog

log = logging.getLogger(__name__)

__all__ = ["evaluate_vectors", "category_prompts", "PROMPT", "COLOUR_PROMPT", "similarity_stats"]

PROMPT = "a photo of a {category}"
COLOUR_PROMPT = "a photo of a {colour} {category}"


def _article(text: str) -> str:
    words = text.split(" ")
    for i, w in enumerate(words[:-1]):
        if w == "a" and words[i + 1][:1].lower() in "aeiou":
            words[i] = "an"
    return " ".join(words)


def category_prompts(categories: Sequence[str]) -> list[str]:
    """The zero-shot prompt of each category."""
    return [_article(PROMPT.format(category=c)) for c in categories]


def evaluate_vectors(img: np.ndarray, crops: CropSet, text: Encoder, *, catalog: Catalog | None = None,
                     seed: int = 0, draws: int = 20) -> dict:
    """Every figure of the module docstring for unit image vectors ``img`` of ``crops``."""
    cat = catalog or load_catalog()
    n = len(crops)
    if n == 0:
        return {"crops": 0}
    cats = crops.categories
    cat_vec = text.encode_text(category_prompts(cats))
    pred = np.argmax(img @ cat_vec.T, axis=1)
    true_cat = crops.category.astype(np.int64)
    out: dict = {"crops": int(n), "categories": int(len(np.unique(true_cat)))}
    out["category_top1"] = _mean(pred == true_cat)
    top5 = np.argsort(-(img @ cat_vec.T), axis=1)[:, :5]
    out["category_top5"] = _mean((top5 == true_cat[:, None]).any(axis=1))
    out["colour_top1"] = _colour_top1(img, crops, text)
    out["joint_top1"] = _joint_top1(img, crops, text, cat)
    out["implicit_recall5"] = _implicit_recall(img, crops, text, cat, seed=seed, draws=draws)
    out["image_to_image_top1"] = _image_to_image(img, crops)
    return out


def _mean(x: np.ndarray) -> float:
    return round(float(np.mean(x)), 4) if len(x) else 0.0


def _colour_top1(img: np.ndarray, crops: CropSet, text: Encoder) -> float:
    colours = crops.colours
    hits = []
    for c in np.unique(crops.category):
        idx = np.flatnonzero(crops.category == c)
        name = crops.categories[int(c)]
        vec = text.encode_text([_article(COLOUR_PROMPT.format(colour=k, category=name)) for k in colours])
        pred = np.argmax(img[idx] @ vec.T, axis=1)
        hits.append(pred == crops.colour[idx])
    return _mean(np.concatenate(hits))


def _joint_top1(img: np.ndarray, crops: CropSet, text: Encoder, catalog: Catalog) -> float:
    pairs = [(ci, crops.colours.index(col)) for ci, name in enumerate(crops.categories)
             for col in catalog.category(name).colours]
    vec = text.encode_text([_article(COLOUR_PROMPT.format(colour=crops.colours[k], category=crops.categories[c]))
                            for c, k in pairs])
    best = np.argmax(img @ vec.T, axis=1)
    arr = np.array(pairs)
    return _mean((arr[best, 0] == crops.category) & (arr[best, 1] == crops.colour))


def _implicit_recall(img: np.ndarray, crops: CropSet, text: Encoder, catalog: Catalog, *, seed: int,
                     draws: int) -> float:
    present = sorted({crops.categories[int(c)] for c in np.unique(crops.category)})
    if len(present) < 6:
        return 0.0
    phrases = []
    relevant = []
    for aff, phrase in catalog.affordances.items():
        rel = {c for c in catalog.categories_with_affordance(aff) if c in present}
        if rel and len(rel) < len(present):
            phrases.append(phrase)
            relevant.append(rel)
    if not phrases:
        return 0.0
    qv = text.encode_text(phrases)
    rng = np.random.default_rng(seed)
    by_cat = {c: np.flatnonzero(crops.category == crops.categories.index(c)) for c in present}
    scores = []
    for _ in range(draws):
        gallery = np.array([rng.choice(by_cat[c]) for c in present])
        sims = qv @ img[gallery].T  # (phrases, categories present)
        top = np.argsort(-sims, axis=1)[:, :5]
        for q, rel in enumerate(relevant):
            got = sum(1 for j in top[q] if present[j] in rel)
            scores.append(got / min(5, len(rel)))
    return _mean(np.asarray(scores))


def _image_to_image(img: np.ndarray, crops: CropSet, block: int = 2048) -> float:
    hits = []
    for a in range(0, len(img), block):
        sims = img[a:a + block] @ img.T
        same = crops.instance[a:a + block, None] == crops.instance[None, :]
        sims[same] = -np.inf  # never the object itself (which includes the crop itself)
        nn = np.argmax(sims, axis=1)
        valid = np.isfinite(sims[np.arange(len(nn)), nn])
        hits.append(crops.category[a:a + block][valid] == crops.category[nn[valid]])
    return _mean(np.concatenate(hits)) if hits else 0.0


def similarity_stats(img: np.ndarray, captions: np.ndarray, seed: int = 0) -> dict:
    """Mean cosine of each image with its own caption and with a random other one (for score fusion)."""
    rng = np.random.default_rng(seed)
    own = np.sum(img * captions, axis=1)
    other = np.sum(img * captions[rng.permutation(len(captions))], axis=1)
    return {"matched_mean": round(float(own.mean()), 4), "matched_std": round(float(own.std()), 4),
            "unmatched_mean": round(float(other.mean()), 4), "unmatched_std": round(float(other.std()), 4)}
