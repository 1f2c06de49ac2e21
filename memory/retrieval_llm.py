"""The ``llm`` retriever: the paper's LLM-selected descent of the forest, as an option and a baseline.

From the top level down, an LLM reads the children of every kept cluster (name and summary,
numbered; at most ``llm_options``, pre-ranked by embedding) and picks up to ``llm_children`` of
them; the branches of one level are asked in parallel (``llm_workers`` threads). Under the kept
areas the leaves are re-ranked: ``llm_weight`` x the LLM's ranking + the rest x a spatial prior
(distance to the robot), or x embedding similarity when the robot's pose is unknown.

Bounded and robust: at most ``llm_max_calls`` calls and ``llm_deadline_s`` seconds per
question, ``llm_call_timeout_s`` per call, and no call after the server timed out or refused
once; a reply with no usable option number, an LLM error or an exhausted budget falls back
to the embedding order for that choice (``RetrievalResult.notes`` says so); a node with no more
children than ``llm_children`` needs no call. Global questions are answered from the top levels
as by ``forest`` (no call), and image questions use embeddings (the LLM sees only text).
"""
from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from memory.errors import LLMError, LLMTimeout, LLMUnavailable, RetrievalError
from memory.generation import bounded_client
from memory.query import QueryAnalysis, QueryType
from memory.retrieval import RETRIEVERS, BaseRetriever, Cancel, RetrievalResult, RobotPose
from memory.retrieval_forest import ForestRetriever, child_rows

log = logging.getLogger(__name__)

__all__ = ["LLMRetriever", "parse_choices"]

_NUM_RE = re.compile(r"(?<![\d.])(\d{1,3})(?![\d.])")


def parse_choices(text: str, n_options: int, k: int) -> list[int]:
    """0-based option indices named in a reply ("2, 5", "Options 3 and 1"), best first, at most ``k``."""
    out: list[int] = []
    for m in _NUM_RE.finditer(text):
        v = int(m.group(1)) - 1
        if 0 <= v < n_options and v not in out:
            out.append(v)
    return out[:k]


class _Budget:
    def __init__(self, calls: int, seconds: float, cancel: Cancel | None) -> None:
        self.left = calls
        self.deadline = time.monotonic() + seconds
        self.cancel = cancel
        self.used = 0
        self.dead = False  # the server timed out or refused once: do not wait on it again
        self.notes: list[str] = []
        self.lock = threading.Lock()

    def take(self) -> float | None:
        """Seconds this call may take, or None when the budget is spent."""
        with self.lock:
            remaining = self.deadline - time.monotonic()
            if self.cancel is not None and self.cancel.cancelled:
                self._note("cancelled: the remaining choices use embeddings")
                return None
            if self.dead:
                return None
            if self.left <= 0:
                self._note("LLM call budget spent: the remaining choices use embeddings")
                return None
            if remaining <= 0.5:
                self._note("LLM time budget spent: the remaining choices use embeddings")
                return None
            self.left -= 1
            self.used += 1
            return remaining

    def note(self, text: str) -> None:
        with self.lock:
            self._note(text)

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


class LLMRetriever(BaseRetriever):
    """LLM-chosen descent with parallel branches and a 0.7 LLM + 0.3 spatial re-rank."""

    name = "llm"

    def _retrieve(self, query: QueryAnalysis, k: int, robot: RobotPose | None,
                  cancel: Cancel | None) -> RetrievalResult:
        ix, cfg = self.index, self.config
        res = RetrievalResult(query, [], self.name)
        if self.llm is None:
            raise RetrievalError("the llm retriever needs an LLM server: add an 'llm' section (base_url, model) "
                                 "to the config")
        if len(ix) == 0:
            res.notes.append("the memory is empty")
            return res
        if query.type == QueryType.GLOBAL or (query.image is not None and not query.text):
            forest = ForestRetriever(ix if self._memory is None else self._memory, config=cfg,
                                     text_encoder=self.text_encoder, image_encoder=self.image_encoder)
            out = forest.retrieve(query, top_k=k, robot=robot)
            out.retriever = self.name
            out.notes.append("answered from the forest's top levels without LLM calls" if query.type == QueryType.GLOBAL
                             else "image questions are ranked by embeddings (the LLM reads text only)")
            return out
        qv = self.query_vector(query)
        budget = _Budget(cfg.llm_max_calls, cfg.llm_deadline_s, cancel)
        question = query.text
        top = ix.top_level
        frontier = np.array([r for lv, r in ix.roots if lv == top], dtype=np.int64)
        with ThreadPoolExecutor(max_workers=cfg.llm_workers, thread_name_prefix="llm-retriever") as pool:
            for lv in range(top, 1, -1):
                up = ix.levels[lv]
                groups = [np.arange(up.start[r], up.end[r], dtype=np.int64) for r in frontier]
                chosen = list(pool.map(lambda rows, lv=lv: self._choose(question, qv, lv - 1, rows, budget), groups))
                extra = np.array([r for rl, r in ix.roots if rl == lv - 1], dtype=np.int64)
                frontier = np.unique(np.concatenate([*chosen, extra])) if chosen or len(extra) else extra
        L1 = ix.levels.get(1)
        rows = child_rows(L1.start[frontier], L1.end[frontier]) if L1 is not None and len(frontier) else \
            np.zeros(0, dtype=np.int64)
        orphans = np.nonzero(ix.leaf_parent < 0)[0]
        rows = np.concatenate([rows, orphans]) if len(orphans) else rows
        if not len(rows):
            res.notes.extend(budget.notes)
            return res
        sim = (ix.vec[rows] @ qv) if qv is not None else np.zeros(len(rows), dtype=np.float32)
        llm_score = self._rerank(question, sim, rows, budget)
        if robot is not None:
            d = np.hypot(ix.pos[rows, 0] - robot.x, ix.pos[rows, 1] - robot.y)
            d = d + 20.0 * np.abs(ix.floor[rows] - robot.floor)
            other = np.exp(-d / cfg.spatial_scale_m)
        else:
            span = float(np.ptp(sim)) or 1.0
            other = (sim - sim.min()) / span
        scores = (cfg.llm_weight * llm_score + (1.0 - cfg.llm_weight) * other).astype(np.float32)
        res.hits = self.top_leaf_hits(rows, scores, k)
        res.llm_calls = budget.used
        res.notes.extend(budget.notes)
        return res

    # ------------------------------------------------------------------ LLM choices
    def _ask(self, prompt: str, budget: _Budget, max_tokens: int) -> str | None:
        seconds = budget.take()
        if seconds is None:
            return None
        client = bounded_client(self.llm, min(seconds, self.config.llm_call_timeout_s), 0)
        try:
            return client.chat([{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0.0).text
        except LLMError as e:
            if isinstance(e, (LLMTimeout, LLMUnavailable)):
                budget.dead = True
            budget.note(f"LLM error ({e.__class__.__name__}): embeddings used instead")
            log.info("llm retriever: %s", e)
            return None

    def _options(self, level: int, rows: np.ndarray) -> list[str]:
        ix = self.index
        out = []
        for r in rows.tolist():
            if level == 0:
                text = ix.leaf_text(r)
                out.append(ix.leaf_name(r) + (f": {text[:140]}" if text and text != ix.leaf_name(r) else ""))
            else:
                L = ix.levels[level]
                rec = L.records[r] if L.records is not None else None
                out.append(f"{rec.name}: {rec.summary[:160]}" if rec is not None else L.ids[r])
        return out

    def _choose(self, question: str, qv: np.ndarray | None, level: int, rows: np.ndarray,
                budget: _Budget) -> np.ndarray:
        """Up to ``llm_children`` of ``rows`` (clusters of ``level``) chosen by the LLM."""
        cfg = self.config
        if len(rows) <= cfg.llm_children:
            return rows
        L = self.index.levels[level]
        sim = (L.summary[rows] @ qv) if qv is not None else np.zeros(len(rows), dtype=np.float32)
        order = np.argsort(-sim, kind="stable")
        options = rows[order[: cfg.llm_options]]
        lines = "\n".join(f"{i + 1}. {t}" for i, t in enumerate(self._options(level, options)))
        prompt = (f"Question: {question}\nOptions:\n{lines}\n"
                  f"Which options (up to {cfg.llm_children}) help answer the question? "
                  "Reply with the option numbers only, most relevant first, e.g. \"2, 5\".")
        reply = self._ask(prompt, budget, max_tokens=24)
        picked = parse_choices(reply, len(options), cfg.llm_children) if reply is not None else []
        if reply is not None and not picked:
            budget.note("an LLM reply named no option: embeddings used for that choice")
        if not picked:
            return options[: cfg.llm_children]
        return options[picked]

    def _rerank(self, question: str, sim: np.ndarray, rows: np.ndarray, budget: _Budget) -> np.ndarray:
        """LLM ranking score in [0, 1] per candidate leaf (0 for those it did not rank)."""
        cfg = self.config
        out = np.zeros(len(rows), dtype=np.float32)
        order = np.argsort(-sim, kind="stable")[: cfg.llm_options]
        if len(order) == 1:
            out[order] = 1.0
            return out
        lines = "\n".join(f"{i + 1}. {t}" for i, t in enumerate(self._options(0, rows[order])))
        prompt = (f"Question: {question}\nCandidates:\n{lines}\n"
                  "Rank the candidates that answer the question, best first. Reply with candidate numbers only, "
                  "e.g. \"3, 1, 2\".")
        reply = self._ask(prompt, budget, max_tokens=32)
        ranked = parse_choices(reply, len(order), len(order)) if reply is not None else []
        if not ranked:
            if reply is not None:
                budget.note("the LLM re-ranking named no candidate: embeddings used")
            span = float(np.ptp(sim[order])) or 1.0
            out[order] = (sim[order] - sim[order].min()) / span
            return out
        for rank, i in enumerate(ranked):
            out[order[i]] = 1.0 - rank / len(ranked)
        return out


RETRIEVERS.register("llm", LLMRetriever)
