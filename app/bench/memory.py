"""``launcher.py bench memory``: ingestion speed, forest build/insert times, bytes per leaf.

- explore + ingest steps per second, end to end (simulator, perception, graph, forest, embeddings,
  checkpoints to a memory file) on ``house:seed=3,rooms=6``;
- batch forest build for 1k / 10k / 100k synthetic leaves with precomputed embeddings;
- incremental insert latency p50 / p99 with 10k leaves already in the forest;
- bytes per leaf on disk for the explored house;
- the authors' CMU street-view graph (3,313 captioned panoramas): ``import-gml`` cold (an empty
  embedding cache: every caption embedded), warm (the same file again: every vector from the cache)
  and the geographic forest rebuild over the cached vectors. The imports run the CLI in a child
  process, as a user would, so their times include starting Python and loading the model.
"""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from memory.forest import SemanticForest
from memory.types import Leaf, NodeKind

log = logging.getLogger(__name__)

__all__ = ["run_memory_bench", "synthetic_leaves", "bench_cmu_import", "CMU_GRAPH"]

CMU_GRAPH = (Path(__file__).resolve().parents[2] / "assets" / "data" / "embodied-rag-cmu500"
             / "CMU_500_streetview_graph.gml")

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


def _import_cli(gml: Path, out: Path, cache: Path, *extra: str) -> dict:
    """``launcher.py import-gml`` in a child process with its own embedding cache: wall time and stages."""
    from memory.encoders import CACHE_ENV

    env = {**os.environ, CACHE_ENV: str(cache)}
    launcher = Path(__file__).resolve().parents[2] / "launcher.py"
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(launcher), "import-gml", str(gml), "--out", str(out), *extra],
                          env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"import-gml failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    m = re.search(r" in ([\d.]+) s \((.*)\)\s*$", done.stdout)
    parts = m.group(2).split(";")[0] if m else ""
    stages = {k.strip(): float(v) for k, v in re.findall(r"([a-z ]+) ([\d.]+) s", parts)}
    cached = re.search(r"(\d+) vectors from the cache", done.stdout)
    return {"wall_seconds": round(wall, 2), "job_seconds": float(m.group(1)) if m else None, "stages": stages,
            "vectors_from_cache": int(cached.group(1)) if cached else 0}


def bench_cmu_import(gml: Path = CMU_GRAPH) -> dict:
    """Cold and warm ``import-gml`` of the CMU street-view graph, and the forest rebuild on cached vectors."""
    from app.cli.memory import load_text_encoder, rebuild_forest
    from memory.encoders.disk_cache import CACHE_FILE, DiskCachedEncoder, EmbeddingCache
    from memory.store import MemoryStore
    from memory.summarize_geo import is_geographic

    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-cmu-") as tmp:
        cache, out = Path(tmp) / "cache", Path(tmp) / "cmu.db"
        cold = _import_cli(gml, out, cache)
        log.info("CMU import cold: %.1f s", cold["wall_seconds"])
        warm = _import_cli(gml, out, cache)
        log.info("CMU import warm: %.1f s", warm["wall_seconds"])
        with MemoryStore.open(out, create=False, readonly=True) as store:
            snap = store.load()
            enc_id = snap.meta.get("text_encoder") or store.embedding_spaces()[0].encoder
            ids, mat = store.get_embeddings(enc_id, "text", [p.id for p in snap.places])
        vectors = dict(zip(ids, mat, strict=True))
        t0 = time.perf_counter()
        clusters, _ = rebuild_forest(snap.places, vectors, geographic=is_geographic(snap.meta), sources=snap.sources)
        rebuild = time.perf_counter() - t0
        enc = DiskCachedEncoder(load_text_encoder(bulk=True), EmbeddingCache(cache / CACHE_FILE))
        enc.encode_text([c.text for c in clusters])  # the summaries' vectors: from the cache, as in an import
        rebuild_embedded = time.perf_counter() - t0
        enc.cache.close()
    levels: dict[str, int] = {"0": len(snap.places)}
    for c in clusters:
        levels[str(c.level)] = levels.get(str(c.level), 0) + 1
    return {"file": gml.name, "leaves": len(snap.places), "cold_import": cold, "warm_import": warm,
            "rebuild_seconds": round(rebuild, 2), "rebuild_with_summary_vectors_seconds": round(rebuild_embedded, 2),
            "rebuild_summary_vectors_computed": enc.misses, "rebuild_levels": dict(sorted(levels.items())),
            "load_average_before": round(load0, 2), "load_average_after": round(os.getloadavg()[0], 2)}


def run_memory_bench(quick: bool = False) -> dict:
    """All memory figures; ``quick`` skips the 100k batch build and explores fewer steps."""
    sizes = (1000, 3300, 10_000) if quick else (1000, 3300, 10_000, 100_000)
    return {
        "ingest": bench_ingest("house:seed=3,rooms=6", 300 if quick else 1500),
        "batch_build": bench_batch_build(sizes),
        "incremental_insert": bench_incremental(10_000, 500 if quick else 2000),
        "cmu_streetview_import": bench_cmu_import(),
    }
