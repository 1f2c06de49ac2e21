"""``launcher.py bench memory``: ingestion speed, forest build/insert times, bytes per leaf.

- explore + ingest steps per second, end to end (simulator, perception, graph, forest, embeddings,
  checkpoints to a memory file) on ``house:seed=3,rooms=6``;
- batch forest build for 1k / 10k / 100k synthetic leaves with precomputed embeddings;
- incremental insert latency p50 / p99 with 10k leaves already in the forest;
- bytes per leaf on disk for the explored house.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from memory.forest import SemanticForest
from memory.types import Leaf, NodeKind

log = logging.getLogger(__name__)

__all__ = ["run_memory_bench", "synthetic_leaves"]

_LABELS = ("chair", "table", "bed", "sofa", "lamp", "sink", "fridge", "desk", "shelf", "plant")


def synthetic_leaves(n: int, *, seed: int = 0, dim: int = 384, extent: float | None = None) -> list[Leaf]:
    """``n`` object leaves spread over a square floor with random unit vectors (a fixed density)."""
    rng = np.random.default_rng(seed)
    side = extent if extent is not None else float(np.sqrt(n / 1.5))  # ~1.5 leaves per m^2
    pts = rng.uniform(0.0, side, size=(n, 2))
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    labels = rng.integers(0, len(_LABELS), size=n)
    return [Leaf(f"obj/{_LABELS[labels[i]]}/{i}", NodeKind.OBJECT, (float(pts[i, 0]), float(pts[i, 1]), 0.5), 0,
                 f"a {_LABELS[labels[i]]}", _LABELS[labels[i]], float(i), vecs[i]) for i in range(n)]


class _TimedEncoder:
    """Wraps the text encoder to time the summary embeddings separately."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.id = inner.id
        self.seconds = 0.0
        self.texts = 0

    def encode_text(self, texts):
        t0 = time.perf_counter()
        out = self.inner.encode_text(texts)
        self.seconds += time.perf_counter() - t0
        self.texts += len(texts)
        return out


def bench_batch_build(sizes: tuple[int, ...]) -> dict:
    """Batch builds from leaves whose embeddings are cached (given): clustering, extractive
    summaries of every cluster, and MiniLM embeddings of those summaries."""
    from memory.encoders import EncoderConfig, make_encoder
    from memory.summarize import ExtractiveSummariser

    # an import builds without a renderer beside it: every core embeds (the ingest part above left
    # torch on one thread, which suits exploration)
    inner = make_encoder(EncoderConfig(cache_size=0, threads=len(os.sched_getaffinity(0))))
    inner.encode_text(["warm up"])
    out = {}
    for n in sizes:
        leaves = synthetic_leaves(n, seed=n)
        enc = _TimedEncoder(inner)
        forest = SemanticForest(summariser=ExtractiveSummariser(), encoder=enc)
        t0 = time.perf_counter()
        forest.build(leaves)
        dt = time.perf_counter() - t0
        out[str(n)] = {"seconds": round(dt, 3), "embed_summaries_seconds": round(enc.seconds, 3),
                       "summaries": enc.texts, "levels": {str(k): v for k, v in forest.level_counts().items()}}
        log.info("batch build %d leaves: %.2f s (%.2f s embedding %d summaries)", n, dt, enc.seconds, enc.texts)
    return out


def bench_incremental(n: int = 10_000, probes: int = 2000) -> dict:
    leaves = synthetic_leaves(n + probes, seed=7)
    forest = SemanticForest()
    for lf in leaves[:n]:
        forest.insert(lf)
    forest.refresh()
    times = np.empty(probes)
    for k, lf in enumerate(leaves[n:]):
        t0 = time.perf_counter()
        forest.insert(lf)
        times[k] = time.perf_counter() - t0
    t0 = time.perf_counter()
    rep = forest.refresh()
    refresh = time.perf_counter() - t0
    ms = times * 1000.0
    return {"leaves": n, "inserts": probes, "p50_ms": round(float(np.percentile(ms, 50)), 4),
            "p99_ms": round(float(np.percentile(ms, 99)), 4), "max_ms": round(float(ms.max()), 3),
            "refresh_after_seconds": round(refresh, 3), "refresh_summarised": len(rep.summarised)}


def bench_ingest(spec: str, steps: int) -> dict:
    from app.progress import drain
    from app.session import Session

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        with Session(spec, memory_path=db) as s:
            setup = time.perf_counter() - t0
            s.memory.text_encoder.encode_text(["warm up"])  # the model load is not ingestion
            summary = drain(s.explore(steps))
            stats = s.memory.stats()
        size = db.stat().st_size
        leaves = int(stats["levels"].get("0", 0))
    ep = summary.episode
    return {
        "spec": spec, "steps": ep.steps, "seconds": round(summary.seconds, 2),
        "steps_per_second": round(summary.steps_per_second, 2), "setup_seconds": round(setup, 2),
        "coverage": round(ep.coverage.total, 4) if ep.coverage is not None else None,
        "objects": stats["objects"], "places": stats["places"], "rooms": stats["rooms"],
        "file_bytes": size, "leaves": leaves, "bytes_per_leaf": round(size / max(leaves, 1)),
    }


def run_memory_bench(quick: bool = False) -> dict:
    """All memory figures; ``quick`` skips the 100k batch build and explores fewer steps."""
    sizes = (1000, 3300, 10_000) if quick else (1000, 3300, 10_000, 100_000)
    return {
        "ingest": bench_ingest("house:seed=3,rooms=6", 300 if quick else 1500),
        "batch_build": bench_batch_build(sizes),
        "incremental_insert": bench_incremental(10_000, 500 if quick else 2000),
    }
