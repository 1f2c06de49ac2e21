"""Retrievers: from an analysed question to ranked memory nodes.

One small interface (``Retriever.retrieve(query) -> RetrievalResult``) and a registry:

* ``flat`` - top-k cosine similarity of the question over every leaf (objects and views):
  the naive-RAG baseline, kept for comparison. No query analysis is used.
* ``forest`` (default, ``memory.retrieval_forest``) - beam search down the semantic forest,
  scoring clusters by their embeddings and the best evidence among their leaves, children by
  combined parent/child evidence; global questions answered from the top levels; temporal ones
  from timestamps; relational ones over relation edges; optional spatial and recency priors.
* ``llm`` (``memory.retrieval_llm``) - the paper's descent: an LLM picks up to k children per
  level, branches explored in parallel, leaves re-ranked 0.7 LLM + 0.3 spatial.

Vector search is exact (numpy) over an array index of the memory
(``memory.retrieval_index``); ``launcher.py bench retrieval`` measures it up to 1M leaves.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from pydantic import ConfigDict

from memory.errors import RetrievalError
from memory.query import QueryAnalysis
from memory.retrieval_index import RetrievalIndex, index_for
from sim.errors import ConfigError
from sim.registry import Registry

log = logging.getLogger(__name__)

__all__ = ["RetrievalConfig", "RobotPose", "distance_to_goal", "Hit", "RetrievalResult", "Retriever", "RETRIEVERS",
           "make_retriever", "FlatRetriever", "BaseRetriever", "leaf_match", "Cancel"]


@dataclass(frozen=True, kw_only=True)
class RetrievalConfig:
    """Settings of the retrievers (weights are added to cosine similarities in [-1, 1]).

    * ``top_k`` - hits returned; ``beam`` - clusters kept per level (areas, rooms, floors).
    * ``w_summary`` - a cluster's text score mixes its summary embedding (this share) with the
      mean of its leaves; ``w_parent`` - the share of its parent's score a child inherits;
      ``w_evidence`` - a cluster's bonus from the best-matching leaf below it; ``w_area`` - the
      share of its area's score a leaf inherits.
    * ``w_label`` / ``w_colour`` / ``w_material`` / ``w_room`` / ``w_floor`` - bonuses (or
      penalties) when a leaf matches (or contradicts) what the question names; ``w_implicit`` -
      bonus x weight of a thing (by label) that satisfies an implicit request; ``w_need`` - weight of
      the best text similarity between a node and those things (open vocabulary); ``w_relation`` - bonus when
      a relation edge (or, lacking one, geometry) links a candidate to the anchor;
      ``place_penalty`` - views rank below objects for questions about objects;
      ``flat_candidates`` - the exact top leaves by similarity alone that always join the forest's
      final ranking (so the forest can add evidence but never lose what flat search finds).
    * ``w_image_text`` - weight of image vectors scored with the image encoder's text tower
      (text questions fused with image evidence). Off by default: cross-modal cosines live on
      another scale, so calibrate it on your encoder (e.g. SimCLIP's model card) before use.
    * ``spatial_weight`` x exp(-distance / ``spatial_scale_m``) when the robot pose is known;
      ``recency_weight`` x exp(-age / ``recency_scale_s``) (0 = off).
    * ``llm_*`` - the ``llm`` retriever: children chosen per level, options shown per prompt,
      call budget per question, parallel branches, wall-clock budget per question and per call,
      and the LLM share of the final leaf score (the rest is spatial, or similarity when the
      robot pose is unknown).
    """

    __pydantic_config__ = ConfigDict(extra="forbid")
    top_k: int = 5
    beam: tuple[int, int, int] = (16, 6, 3)
    w_summary: float = 0.5
    w_parent: float = 0.3
    w_evidence: float = 0.6
    w_area: float = 0.2
    w_label: float = 0.3
    w_colour: float = 0.35
    w_material: float = 0.2
    w_room: float = 0.3
    w_floor: float = 0.3
    w_implicit: float = 0.3
    w_need: float = 0.3
    flat_candidates: int = 32
    w_relation: float = 0.8
    place_penalty: float = 0.15
    w_image_text: float = 0.0
    spatial_weight: float = 0.3
    spatial_scale_m: float = 5.0
    recency_weight: float = 0.0
    recency_scale_s: float = 300.0
    llm_children: int = 3
    llm_options: int = 12
    llm_max_calls: int = 24
    llm_workers: int = 4
    llm_deadline_s: float = 60.0
    llm_call_timeout_s: float = 20.0
    llm_weight: float = 0.7

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= 1000:
            raise ConfigError(f"retrieval top_k must be 1..1000, got {self.top_k}")
        if any(b < 1 for b in self.beam):
            raise ConfigError(f"retrieval beam widths must be at least 1, got {self.beam}")
        if not 0.0 <= self.w_summary <= 1.0 or not 0.0 <= self.llm_weight <= 1.0:
            raise ConfigError("retrieval w_summary and llm_weight must be in [0, 1]")
        if self.spatial_scale_m <= 0 or self.recency_scale_s <= 0:
            raise ConfigError("retrieval spatial_scale_m and recency_scale_s must be positive")
        if self.llm_children < 1 or self.llm_options < 2 or self.llm_max_calls < 1 or self.llm_workers < 1:
            raise ConfigError("retrieval llm_children, llm_max_calls, llm_workers must be >= 1 and llm_options >= 2")
        if self.llm_deadline_s <= 0 or self.llm_call_timeout_s <= 0:
            raise ConfigError("retrieval llm_deadline_s and llm_call_timeout_s must be positive")


def distance_to_goal(robot: Any, goal: Sequence[float], floor: int) -> float:
    """Metres in a straight line from ``robot`` (anything ``RobotPose.of`` takes) to ``goal`` (x, y[, z])
    on ``floor``; ``inf`` when the robot is on another floor.

    The one distance the answers ("about 8.2 m from you"), a drive's progress ("8.2 m from the goal")
    and its outcome ("arrived 0.6 m from the goal") give, so that they agree at the same pose.
    """
    r = RobotPose.of(robot)
    if r is None or r.floor != int(floor):
        return math.inf
    return math.hypot(float(goal[0]) - r.x, float(goal[1]) - r.y)


@dataclass(frozen=True)
class RobotPose:
    """Where the robot is (for the spatial prior and path lengths)."""

    x: float
    y: float
    floor: int = 0

    @classmethod
    def parse(cls, text: str) -> RobotPose:
        """``"x,y"`` or ``"x,y,floor"``."""
        parts = [p.strip() for p in str(text).split(",")]
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            x, y = float(parts[0]), float(parts[1])
            floor = int(parts[2]) if len(parts) == 3 else 0
        except ValueError:
            raise ConfigError(f"robot pose must look like 'x,y' or 'x,y,floor', got {text!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ConfigError(f"robot pose must be finite numbers, got {text!r}")
        return cls(x, y, floor)

    @classmethod
    def of(cls, pose: Any) -> RobotPose | None:
        """From a ``RobotPose``, a ``sim.types.Pose``, an ``(x, y[, floor])`` tuple, or None."""
        if pose is None or isinstance(pose, RobotPose):
            return pose
        if hasattr(pose, "x") and hasattr(pose, "y"):
            return cls(float(pose.x), float(pose.y), int(getattr(pose, "floor", 0)))
        seq = list(pose)
        return cls(float(seq[0]), float(seq[1]), int(seq[2]) if len(seq) > 2 else 0)


class Cancel(Protocol):
    """Anything with a ``cancelled`` flag (``app.progress.CancelToken``)."""

    @property
    def cancelled(self) -> bool: ...


@dataclass(frozen=True)
class Hit:
    """One retrieved node."""

    id: str
    level: int
    kind: str  # object | place | cluster
    name: str
    text: str
    position: tuple[float, float, float]
    floor: int
    score: float
    path: tuple[str, ...] = ()  # ancestor ids, nearest first
    label: str = ""  # object category (objects), room type (rooms), "" otherwise

    def to_dict(self) -> dict[str, Any]:
        """The DESIGN.md hit keys first, then floor, path and label."""
        return {"id": self.id, "level": self.level, "kind": self.kind, "name": self.name, "text": self.text,
                "position": [round(float(v), 3) for v in self.position], "score": round(float(self.score), 4),
                "floor": self.floor, "path": list(self.path), "label": self.label}


@dataclass
class RetrievalResult:
    """Ranked hits with how they were found."""

    query: QueryAnalysis
    hits: list[Hit]
    retriever: str
    latency_ms: float = 0.0
    llm_calls: int = 0
    facts: dict[str, Any] = field(default_factory=dict)  # global facts (counts, room types) when computed
    notes: list[str] = field(default_factory=list)  # fallbacks and other remarks

    @property
    def top(self) -> Hit | None:
        return self.hits[0] if self.hits else None


class Retriever(Protocol):
    """Finds the memory nodes that answer a question."""

    name: str

    def retrieve(self, query: QueryAnalysis, *, top_k: int | None = None, robot: Any = None,
                 cancel: Cancel | None = None) -> RetrievalResult: ...


RETRIEVERS: Registry[Any] = Registry("retriever")


def make_retriever(name: str, source: Any, *, config: RetrievalConfig | None = None, llm: Any = None) -> Retriever:
    """Build retriever ``name`` over an ``EmbodiedMemory`` or a ``RetrievalIndex``.

    ``llm`` is a ``memory.llm.ChatClient`` (needed by ``llm``). Unknown names raise
    ``RegistryError`` listing the registered ones.
    """
    return RETRIEVERS.get(name)(source, config=config, llm=llm)


# ---------------------------------------------------------------------------------- base class
class BaseRetriever:
    """Shared plumbing: the index of the source, query vectors, priors and hits."""

    name = "base"

    def __init__(self, source: Any, *, config: RetrievalConfig | None = None, llm: Any = None,
                 text_encoder: Any = None, image_encoder: Any = None) -> None:
        self.config = config or RetrievalConfig()
        self.llm = llm
        if isinstance(source, RetrievalIndex):
            self._memory, self._index = None, source
        else:
            self._memory, self._index = source, None
        self.text_encoder = text_encoder if text_encoder is not None else getattr(source, "text_encoder", None)
        self.image_encoder = image_encoder if image_encoder is not None else getattr(source, "image_encoder", None)

    @property
    def index(self) -> RetrievalIndex:
        return self._index if self._index is not None else index_for(self._memory)

    def retrieve(self, query: QueryAnalysis, *, top_k: int | None = None, robot: Any = None,
                 cancel: Cancel | None = None) -> RetrievalResult:
        """Rank memory nodes for ``query`` (``robot``: pose for the spatial prior)."""
        t0 = time.perf_counter()
        k = int(top_k or self.config.top_k)
        if k < 1:
            raise RetrievalError(f"top_k must be at least 1, got {k}")
        result = self._retrieve(query, k, RobotPose.of(robot), cancel)
        result.latency_ms = (time.perf_counter() - t0) * 1000.0
        return result

    def _retrieve(self, query: QueryAnalysis, k: int, robot: RobotPose | None,
                  cancel: Cancel | None) -> RetrievalResult:
        raise NotImplementedError

    # -- vectors
    def text_vector(self, text: str) -> np.ndarray:
        if self.text_encoder is None:
            raise RetrievalError("this retriever has no text encoder: give a query vector instead")
        return np.asarray(self.text_encoder.encode_text([text]), dtype=np.float32)[0]

    def query_vector(self, query: QueryAnalysis, text: str | None = None) -> np.ndarray | None:
        """Text-space vector of the question (its precomputed ``vector`` wins)."""
        if query.vector is not None:
            return np.asarray(query.vector, dtype=np.float32)  # a float64 query would upcast every matrix
        t = text if text is not None else query.text
        return self.text_vector(t) if t else None

    def image_query_vector(self, query: QueryAnalysis) -> np.ndarray | None:
        if query.image is None:
            return None
        ix = self.index
        if self.image_encoder is None or ix.image is None:
            raise RetrievalError(
                "this memory has no image embeddings, so it cannot be searched by image: configure "
                "memory.image_encoder (type simclip, or openclip with weights) and explore again")
        return np.asarray(self.image_encoder.encode_image([query.image]), dtype=np.float32)[0]

    # -- priors
    def spatial_prior(self, rows: np.ndarray, robot: RobotPose | None) -> np.ndarray:
        if robot is None or self.config.spatial_weight == 0:
            return np.zeros(len(rows), dtype=np.float32)
        ix = self.index
        d = np.hypot(ix.pos[rows, 0] - robot.x, ix.pos[rows, 1] - robot.y) + 20.0 * np.abs(ix.floor[rows] - robot.floor)
        return (self.config.spatial_weight * np.exp(-d / self.config.spatial_scale_m)).astype(np.float32)

    def recency_prior(self, rows: np.ndarray) -> np.ndarray:
        if self.config.recency_weight == 0 or len(rows) == 0:
            return np.zeros(len(rows), dtype=np.float32)
        ix = self.index
        age = float(ix.t_last.max()) - ix.t_last[rows]
        return (self.config.recency_weight * np.exp(-age / self.config.recency_scale_s)).astype(np.float32)

    # -- hits
    def leaf_hit(self, row: int, score: float) -> Hit:
        ix = self.index
        p = ix.pos[row]
        code = int(ix.label[row])
        return Hit(ix.ids[row], 0, ix.leaf_kind(row), ix.leaf_name(row), ix.leaf_text(row),
                   (float(p[0]), float(p[1]), float(p[2])), int(ix.floor[row]), float(score), tuple(ix.leaf_path(row)),
                   ix.labels[code] if code >= 0 else "")

    def cluster_hit(self, level: int, row: int, score: float) -> Hit:
        L = self.index.levels[level]
        rec = L.records[row] if L.records is not None else None
        if rec is not None:
            return Hit(rec.id, level, "cluster", rec.name, rec.summary, tuple(float(v) for v in rec.position),
                       rec.floor, float(score), tuple(self.index.cluster_path(level, row)), rec.room_type)
        return Hit(L.ids[row], level, "cluster", L.ids[row], "", (0.0, 0.0, 0.0), int(L.floor[row]), float(score),
                   tuple(self.index.cluster_path(level, row)))

    def top_leaf_hits(self, rows: np.ndarray, scores: np.ndarray, k: int) -> list[Hit]:
        if len(rows) == 0:
            return []
        k = min(k, len(rows))
        part = np.argpartition(-scores, k - 1)[:k] if len(rows) > k else np.arange(len(rows))
        order = part[np.lexsort((rows[part], -scores[part]))]
        return [self.leaf_hit(int(rows[i]), float(scores[i])) for i in order]


# ------------------------------------------------------------------------------ attribute match
def leaf_match(ix: RetrievalIndex, q: QueryAnalysis, cfg: RetrievalConfig, rows: np.ndarray | None = None, *,
               labels: Sequence[str] | None = None, colour: str | None = None,
               material: str | None = None) -> np.ndarray:
    """Bonus per leaf for matching what the question names (label, colour, material, room,
    floor, implicit categories); negative where a leaf contradicts it. All leaves when ``rows``
    is None. ``labels`` / ``colour`` / ``material`` override the target's (anchors use them:
    then room, floor and implicit categories are left out)."""
    sel = slice(None) if rows is None else rows
    n = len(ix) if rows is None else len(rows)
    out = np.zeros(n, dtype=np.float32)
    anchor = labels is not None
    labels = q.target_labels if labels is None else labels
    colour = q.colour if colour is None else colour
    material = q.material if material is None else material
    lab = ix.label[sel]
    if labels:
        codes = ix.labels_matching(labels)
        if len(codes):
            out += cfg.w_label * np.isin(lab, codes)
    for value, table, arr, w in ((colour, ix.colours, ix.colour, cfg.w_colour),
                                 (material, ix.materials, ix.material, cfg.w_material)):
        if value and value in table:
            got = arr[sel]
            code = table.index(value)
            out += np.where(got == code, w, np.where(got >= 0, -w, 0.0)).astype(np.float32)
    if q.room and q.room in ix.room_code and not anchor:
        rc = ix.room_code[q.room]
        known = (ix.room[sel] >= 0) | (ix.room_guess[sel] >= 0)
        hit = (ix.room[sel] == rc) | (ix.room_guess[sel] == rc)
        out += np.where(hit, cfg.w_room, np.where(known, -0.5 * cfg.w_room, 0.0)).astype(np.float32)
    if q.floor is not None and not anchor:
        out += np.where(ix.floor[sel] == q.floor, cfg.w_floor, -cfg.w_floor).astype(np.float32)
    if q.categories and not anchor:
        weights = np.zeros(len(ix.labels) + 1, dtype=np.float32)
        for name, w in q.categories:
            code = ix.label_code.get(name)
            if code is not None:
                weights[code] = w
        out += cfg.w_implicit * weights[lab]  # label -1 picks the trailing 0
    return out


# ----------------------------------------------------------------------------------------- flat
class FlatRetriever(BaseRetriever):
    """Top-k cosine similarity of the raw question over every leaf (naive RAG)."""

    name = "flat"

    def _retrieve(self, query: QueryAnalysis, k: int, robot: RobotPose | None,
                  cancel: Cancel | None) -> RetrievalResult:
        ix = self.index
        result = RetrievalResult(query, [], self.name)
        if len(ix) == 0:
            result.notes.append("the memory is empty")
            return result
        scores = np.zeros(len(ix), dtype=np.float32)
        qv = self.query_vector(query)
        if qv is not None:
            scores += ix.vec @ qv
        qi = self.image_query_vector(query)
        if qi is not None:
            scores += ix.image @ qi  # type: ignore[operator]
        extra = self.bonus(query)
        if extra is not None:
            scores += extra
        rows = np.arange(len(ix))
        result.hits = self.top_leaf_hits(rows, scores, k)
        return result

    def bonus(self, query: QueryAnalysis) -> np.ndarray | None:
        """Evidence added to every leaf's similarity (none: naive RAG); ablations override it."""
        return None


RETRIEVERS.register("flat", FlatRetriever)
RETRIEVERS.register_lazy("forest", "memory.retrieval_forest:ForestRetriever")
RETRIEVERS.register_lazy("llm", "memory.retrieval_llm:LLMRetriever")
