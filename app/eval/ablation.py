"""The systems an evaluation table compares: baselines and ablations of the query analysis.

Every table row names one ``Variant``; all run on the same memory in the same run:

* ``random``            - k leaves drawn at random (seeded per question); no answer text; never
                          abstains (``found`` is always true). The floor every other row must beat.
* ``flat``              - cosine similarity of the raw question over every leaf (naive RAG), with
                          the template answer written from the full analysis.
* ``flat + analysis``   - ``flat`` plus the analysis's leaf bonuses (``memory.retrieval.leaf_match``:
                          label, colour, material, room, floor and implicit-category matches), so
                          the analyser is credited to itself and not to the tree.
* ``forest - analysis`` - the forest's beam search given the question's text and its coarse type
                          only (explicit / implicit / global / temporal / relational: the route the
                          forest takes); target, labels, attributes, room, relation, anchor, needs,
                          categories and expansion are stripped. The template answer gets the same
                          stripped analysis.
* ``forest``            - the full system.
* ``llm``               - the paper's LLM-selected descent (only when an LLM is configured).

The ablations are wrappers here, over the memory package's public retrievers: nothing in
``memory/`` knows it is being ablated.
"""
from __future__ import annotations

import random
import time
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from memory.query import QueryAnalysis, QueryType
from memory.retrieval import FlatRetriever, RetrievalResult, leaf_match

__all__ = ["VARIANTS", "LABELS", "Asked", "ask", "strip_analysis", "FlatAnalysisRetriever", "RandomRetriever"]

VARIANTS = ("random", "flat", "flat+analysis", "forest-analysis", "forest", "llm")
LABELS = {"random": "random", "flat": "flat", "flat+analysis": "flat + analysis",
          "forest-analysis": "forest − analysis", "forest": "forest", "llm": "llm"}


def strip_analysis(a: QueryAnalysis) -> QueryAnalysis:
    """The question's text and coarse type only (see the module docstring)."""
    return QueryAnalysis(text=a.text, type=a.type, image=a.image)


class FlatAnalysisRetriever(FlatRetriever):
    """Flat similarity plus the analysis's attribute bonuses (``leaf_match``)."""

    name = "flat+analysis"

    def bonus(self, query: QueryAnalysis) -> np.ndarray | None:
        return leaf_match(self.index, query, self.config)


class RandomRetriever(FlatRetriever):
    """k leaves at random, seeded by the question's text."""

    name = "random"

    def _retrieve(self, query, k, robot, cancel) -> RetrievalResult:
        ix = self.index
        result = RetrievalResult(query, [], self.name)
        n = len(ix)
        if n == 0:
            return result
        rng = random.Random(zlib.crc32(query.text.encode()))
        rows = np.asarray(rng.sample(range(n), min(k, n)), dtype=np.int64)
        result.hits = [self.leaf_hit(int(r), 0.0) for r in rows]
        return result


@dataclass
class Asked:
    """What one variant said: hits, answer text, goal, found, latency (ms) and LLM calls."""

    hits: list[Any]
    text: str
    goal: Any
    goal_floor: int | None
    found: bool
    latency_ms: float
    llm_calls: int


def ask(engine: Any, variant: str, text: str, *, top_k: int, cache: dict[str, Any]) -> Asked:
    """Ask ``text`` as ``variant`` through an ``app.query.QueryEngine`` (its analyser, retrievers
    and template generator); ``cache`` keeps the wrapper retrievers between questions."""
    t0 = time.perf_counter()
    memory = engine.memory
    if variant == "random":
        r = cache.get("random") or cache.setdefault("random", RandomRetriever(memory))
        res = r.retrieve(QueryAnalysis(text=text, type=QueryType.EXPLICIT), top_k=top_k)
        ms = (time.perf_counter() - t0) * 1000.0
        return Asked(res.hits, "", res.hits[0].position if res.hits else None,
                     res.hits[0].floor if res.hits else None, True, ms, 0)
    analysis = engine.analyser().analyse(text)
    if variant == "forest-analysis":
        analysis = strip_analysis(analysis)
    if variant == "flat+analysis":
        retr = cache.get("flat+analysis") or cache.setdefault(
            "flat+analysis", FlatAnalysisRetriever(memory, config=engine.config.retrieval))
    else:
        retr = engine.retriever({"forest-analysis": "forest"}.get(variant, variant))
    result = retr.retrieve(analysis, top_k=top_k)
    answer = engine.generator("template").answer(analysis, result, memory=memory, robot=None)
    ms = (time.perf_counter() - t0) * 1000.0
    calls = int(result.llm_calls) + (1 if answer.metadata.get("llm_latency_ms") is not None else 0)
    return Asked(result.hits, answer.text, answer.goal, answer.goal_floor, bool(answer.found), ms, calls)
