"""``launcher.py bench retrieval``: latency of flat vs forest at scale, accuracy on a generated house.

* **Scale** - synthetic clustered memories of 1k / 10k / 100k / 1M leaves (384-d vectors around
  area, room and floor centres; ``RetrievalIndex.synthetic``); queries are noisy copies of random
  leaves given as vectors, so the figures are search time alone. Reported: p50/p95 per retriever,
  and how often the forest's top hit equals exact search's. Query encoding (MiniLM, one
  sentence) is measured separately and adds to both.
* **Accuracy** - a house is explored headless, ground-truth queries are generated from its
  world (``app.eval.queries``), and both retrievers answer them through ``app.query`` (template
  generator): per query type top-1 / top-k (satisfying object or within 1 m), exact top-1, p50.

``evaluate_retrievers`` is the reusable part (the evaluation harness calls it too).
"""
from __future__ import annotations

import gc
import logging
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.eval.queries import GroundTruthQuery, generate_queries, score_answer, score_hits, sightings_from_memory
from app.query import QueryConfig, QueryEngine, QueryRequest
from memory.query import QueryAnalysis, QueryType
from memory.retrieval import RetrievalConfig, make_retriever
from memory.retrieval_index import RetrievalIndex

log = logging.getLogger(__name__)

__all__ = ["run_retrieval_bench", "evaluate_retrievers", "latency_at_scale", "summarise_accuracy"]

SCALES = (1_000, 10_000, 100_000, 1_000_000)
HOUSE = "house:seed=3,rooms=6"


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def latency_at_scale(n_leaves: int, *, queries: int = 50, top_k: int = 5, seed: int = 0,
                     config: RetrievalConfig | None = None) -> dict[str, Any]:
    """p50/p95 search latency (ms) of flat and forest on a synthetic memory of ``n_leaves``."""
    t0 = time.perf_counter()
    ix = RetrievalIndex.synthetic(n_leaves, seed=seed)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed + 1)
    scale = np.float32(1.0 / np.sqrt(ix.dim))
    # near-duplicates of stored leaves, and fresh points drawn like leaves around a random area
    picks = rng.integers(0, n_leaves, size=queries)
    near = ix.vec[picks] + np.float32(0.5) * scale * rng.standard_normal((queries, ix.dim), dtype=np.float32)
    areas = rng.integers(0, len(ix.levels[1]), size=queries)
    fresh = ix.levels[1].summary[areas] + np.float32(0.6) * scale * rng.standard_normal((queries, ix.dim),
                                                                                        dtype=np.float32)
    sets = {name: (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
            for name, q in (("near", near), ("fresh", fresh))}
    out: dict[str, Any] = {"leaves": n_leaves, "areas": len(ix.levels[1]), "rooms": len(ix.levels[2]),
                           "floors": len(ix.levels[3]), "build_s": round(build_s, 2),
                           "vectors_mb": round(ix.vec.nbytes / 2**20, 1)}
    tops: dict[tuple[str, str], list[str]] = {}
    for name in ("flat", "forest"):
        r = make_retriever(name, ix, config=config)
        r.retrieve(QueryAnalysis(text="", type=QueryType.EXPLICIT, vector=sets["near"][0]), top_k=top_k)  # warm up
        times = []
        for kind, qs in sets.items():
            top = []
            for v in qs:
                res = r.retrieve(QueryAnalysis(text="", type=QueryType.EXPLICIT, vector=v), top_k=top_k)
                times.append(res.latency_ms)
                top.append(res.hits[0].id if res.hits else "")
            tops[(name, kind)] = top
        out[name] = {"p50_ms": round(_pct(times, 50), 3), "p95_ms": round(_pct(times, 95), 3)}
    for kind in sets:
        same = [a == b for a, b in zip(tops[("flat", kind)], tops[("forest", kind)], strict=True)]
        out[f"forest_top1_equals_exact_{kind}"] = round(float(np.mean(same)), 3)
    del ix
    gc.collect()
    return out


def _encode_latency(n: int = 30) -> dict[str, float]:
    from memory.encoders import EncoderConfig, make_encoder

    enc = make_encoder(EncoderConfig(threads=1, cache_size=0))
    enc.encode_text(["warm up"])
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        enc.encode_text([f"where did I leave the object number {i} in room {i % 7}?"])
        times.append((time.perf_counter() - t0) * 1000.0)
    return {"p50_ms": round(_pct(times, 50), 2), "p95_ms": round(_pct(times, 95), 2)}


def evaluate_retrievers(memory: Any, queries: Sequence[GroundTruthQuery], *,
                        retrievers: Sequence[str] = ("flat", "forest"), top_k: int = 5,
                        config: QueryConfig | None = None, llm: Any = None,
                        generator: str = "template") -> dict[str, Any]:
    """Answer ``queries`` with each retriever and score them; per-query records and a summary."""
    cfg = config or QueryConfig(top_k=top_k)
    engine = QueryEngine(memory, config=cfg, llm=llm).warm()
    instance_of = {o.id: o.instance_hint for o in memory.graph.objects()}
    records = []
    for name in retrievers:
        for q in queries:
            resp = engine.ask(QueryRequest(text=q.text, retriever=name, generator=generator, top_k=top_k))
            hits = resp.result.hits
            if q.type == "global":
                ok = score_answer(q, resp.answer.text, encoder=memory.text_encoder)
                top1 = topk = exact = ok
            else:
                s = score_hits(q, hits, instance_of)
                top1, topk, exact = s.top1, s.topk, s.top1_exact
                if q.type == "temporal" and "time" in q.expected:
                    said = score_answer(q, resp.answer.text)
                    top1, exact = top1 and said, exact and said
            records.append({"retriever": name, "id": q.id, "type": q.type, "text": q.text, "top1": bool(top1),
                            "topk": bool(topk), "top1_exact": bool(exact), "latency_ms": resp.latency_ms,
                            "answer": resp.answer.text, "top_hit": hits[0].id if hits else None,
                            "llm_calls": resp.result.llm_calls})
    return {"records": records, "summary": summarise_accuracy(records)}


def summarise_accuracy(records: Sequence[dict]) -> dict[str, dict[str, dict[str, Any]]]:
    """retriever -> query type (and "all") -> n, top1, topk, top1_exact, p50_ms."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in sorted({x["retriever"] for x in records}):
        mine = [x for x in records if x["retriever"] == r]
        table: dict[str, dict[str, Any]] = {}
        for t in [*sorted({x["type"] for x in mine}), "all"]:
            rows = mine if t == "all" else [x for x in mine if x["type"] == t]
            n = len(rows)
            table[t] = {"n": n, "top1": round(sum(x["top1"] for x in rows) / n, 3),
                        "topk": round(sum(x["topk"] for x in rows) / n, 3),
                        "top1_exact": round(sum(x["top1_exact"] for x in rows) / n, 3),
                        "p50_ms": round(statistics.median(x["latency_ms"] for x in rows), 2)}
        out[r] = table
    return out


def _house_accuracy(spec: str, steps: int, seed: int) -> dict[str, Any]:
    from app.config import LabConfig
    from app.progress import drain
    from app.session import Session

    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        path = Path(tmp) / "house.db"
        t0 = time.perf_counter()
        with Session(spec, config=LabConfig(), memory_path=path) as s:
            drain(s.explore(steps))
            info = s.scene.info
            memory = s.memory
            explore_s = time.perf_counter() - t0
            queries = generate_queries(info, seed=seed, sightings=sightings_from_memory(memory), seen_only=True)
            result = evaluate_retrievers(memory, queries)
            stats = memory.stats()
    return {"scene": spec, "steps": steps, "explore_s": round(explore_s, 1), "queries": len(queries),
            "memory": {"objects": stats["objects"], "places": stats["places"], "rooms": stats["rooms"],
                       "world_objects": len(info.objects), "world_rooms": len(info.rooms)},
            "accuracy": result["summary"]}


def run_retrieval_bench(quick: bool = False) -> dict[str, Any]:
    """Latency at 1k..1M leaves and accuracy on a generated house (``quick``: up to 100k, fewer queries)."""
    scales = SCALES[:3] if quick else SCALES
    n_q = 20 if quick else 50
    out: dict[str, Any] = {"scale": [], "query_encoding": _encode_latency(10 if quick else 30)}
    for n in scales:
        log.info("retrieval bench: %d leaves", n)
        out["scale"].append(latency_at_scale(n, queries=n_q))
    out["house"] = _house_accuracy(HOUSE, 800 if quick else 1500, seed=0)
    return out
