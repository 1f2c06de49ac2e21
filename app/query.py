"""Asking the memory a question - the use case the CLI (``launcher.py query``) and the GUI share.

``answer_query(memory, QueryRequest(text=..., image=..., retriever=..., generator=..., top_k=...,
robot=...))`` analyses the question, retrieves, generates, and returns a ``QueryResponse`` whose
``to_json()`` is the DESIGN.md shape::

    {"query", "query_type", "answer", "found", "confidence", "goal": [x, y, z] | null, "latency_ms",
     "hits": [{"id", "level", "kind", "name", "text", "position", "score"}, ...], ...extra keys}

Engines (the analyser with its vocabulary, the retrievers, the generators, the LLM client) are
built once per memory and reused, so a batch of questions loads every model once.
"""
from __future__ import annotations

import logging
import threading
import time
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ConfigDict

from memory.errors import QueryError
from memory.generation import Answer, GenerationConfig, Generator, bounded_client, make_generator
from memory.llm import ChatClient, LLMConfig
from memory.query import QueryAnalyser, QueryAnalysis
from memory.query_llm import expand_with_llm
from memory.retrieval import RetrievalConfig, RetrievalResult, Retriever, RobotPose, make_retriever
from memory.retrieval_index import index_for
from sim.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["QueryConfig", "QueryRequest", "QueryResponse", "QueryEngine", "answer_query", "load_query_image",
           "engine_for"]

MAX_TOP_K = 100


@dataclass(frozen=True, kw_only=True)
class QueryConfig:
    """Defaults of ``query`` (the ``query:`` section of the lab config)."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    retriever: str = "forest"
    generator: str = "template"
    top_k: int = 5
    llm_expand: bool = True  # with an LLM configured, let it suggest what satisfies an implicit request
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= MAX_TOP_K:
            raise ConfigError(f"query top_k must be 1..{MAX_TOP_K}, got {self.top_k}")


@dataclass(frozen=True, kw_only=True)
class QueryRequest:
    """One question: text and/or an RGB image; ``None`` fields take the ``QueryConfig`` defaults."""

    text: str | None = None
    image: np.ndarray | None = field(default=None, repr=False)
    retriever: str | None = None
    generator: str | None = None
    top_k: int | None = None
    robot: Any = None  # RobotPose, a sim.types.Pose, or (x, y[, floor]); None: unknown


@dataclass
class QueryResponse:
    """The analysed question, what was retrieved, the answer, and the time it all took."""

    request: QueryRequest
    analysis: QueryAnalysis
    result: RetrievalResult
    answer: Answer
    latency_ms: float

    def to_json(self) -> dict[str, Any]:
        """The DESIGN.md ``--json`` shape (its keys first, in order), then extra keys."""
        a, r = self.answer, self.result
        text = self.analysis.text
        if self.analysis.image is not None:
            h, w = self.analysis.image.shape[:2]
            text = f"{text} [image {w}x{h}]".strip()
        return {
            "query": text,
            "query_type": self.analysis.type.value,
            "answer": a.text,
            "found": a.found,
            "confidence": round(float(a.confidence), 3),
            "goal": [round(float(v), 3) for v in a.goal] if a.goal is not None else None,
            "latency_ms": round(self.latency_ms, 2),
            "hits": [h.to_dict() for h in r.hits],
            "goal_floor": a.goal_floor,
            "cited": list(a.cited),
            "confident": a.confident,
            "retriever": r.retriever,
            "generator": a.metadata.get("generator", ""),
            "retrieval_ms": round(r.latency_ms, 2),
            "llm_calls": r.llm_calls,
            "notes": list(r.notes),
            "analysis": self.analysis.to_dict(),
            "answer_metadata": dict(a.metadata),
        }


MAX_QUERY_IMAGE_PIXELS = 4096 * 4096  # larger images are refused from their header, before decoding
MIN_QUERY_IMAGE_SIDE = 16  # the image encoders resize to 224 px or so; a smaller image holds nothing to match


def load_query_image(path: str | Path) -> np.ndarray:
    """An RGB uint8 array from an image file; ``QueryError`` when it is missing, not an image, smaller than
    ``MIN_QUERY_IMAGE_SIDE`` on a side or over ``MAX_QUERY_IMAGE_PIXELS`` (checked before decoding)."""
    import struct

    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise QueryError(f"query image {p} does not exist")
    try:
        with warnings.catch_warnings():  # PIL warns of big images at open; ours is the lower limit, said below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(p)
        with im:
            w, h = im.size  # read from the header; nothing is decoded yet
            if w * h > MAX_QUERY_IMAGE_PIXELS:
                raise QueryError(f"query image {p} is {w}x{h} pixels; the limit is "
                                 f"{MAX_QUERY_IMAGE_PIXELS / 1e6:.1f} megapixels (scale it down)")
            if min(w, h) < MIN_QUERY_IMAGE_SIDE:
                raise QueryError(f"query image {p} is too small ({w}x{h} pixels); it needs at least "
                                 f"{MIN_QUERY_IMAGE_SIDE}x{MIN_QUERY_IMAGE_SIDE}")
            im.load()
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except QueryError:
        raise
    except Image.DecompressionBombError:
        raise QueryError(f"query image {p} is over the limit of {MAX_QUERY_IMAGE_PIXELS / 1e6:.1f} megapixels "
                         "(scale it down)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error) as e:
        # PIL reports some malformed chunks as SyntaxError or struct.error
        raise QueryError(f"{p} is not an image that can be read (PNG or JPEG expected): "
                         f"{e.__class__.__name__}") from None


class QueryEngine:
    """Answers questions about one memory; builds its models once and reuses them."""

    def __init__(self, memory: Any, *, config: QueryConfig | None = None,
                 llm: ChatClient | LLMConfig | None = None) -> None:
        self.memory = memory
        self.config = config or QueryConfig()
        self.llm = ChatClient(llm) if isinstance(llm, LLMConfig) else llm
        self._analyser: QueryAnalyser | None = None
        self._labels: tuple[str, ...] = ()
        self._retrievers: dict[str, Retriever] = {}
        self._generators: dict[str, Generator] = {}
        self._lock = threading.Lock()

    def analyser(self) -> QueryAnalyser:
        """The analyser, with the memory's own words and prior pack (rebuilt when its labels change)."""
        ix = index_for(self.memory)
        labels = tuple(ix.labels)
        with self._lock:
            if self._analyser is None or labels != self._labels:
                self._analyser = QueryAnalyser(encoder=self.memory.text_encoder, vocabulary=labels,
                                               priors=getattr(self.memory, "priors", None), rooms=tuple(ix.room_code),
                                               colours=tuple(ix.colours), materials=tuple(ix.materials))
                self._labels = labels
            return self._analyser

    def retriever(self, name: str) -> Retriever:
        with self._lock:
            if name not in self._retrievers:
                self._retrievers[name] = make_retriever(name, self.memory, config=self.config.retrieval, llm=self.llm)
            return self._retrievers[name]

    def generator(self, name: str) -> Generator:
        with self._lock:
            if name not in self._generators:
                self._generators[name] = make_generator(name, config=self.config.generation, llm=self.llm)
            return self._generators[name]

    def warm(self) -> QueryEngine:
        """Load the text encoder, the index and the analyser now, so the first answer is not slow."""
        analyser = self.analyser()
        analyser.analyse("somewhere to sit")  # embeds the affordance phrases once
        self.memory.text_encoder.encode_text(["where is the sofa?"])
        return self

    def ask(self, request: QueryRequest, *, cancel: Any = None) -> QueryResponse:
        """Analyse, retrieve and answer one question."""
        t0 = time.perf_counter()
        top_k = self.config.top_k if request.top_k is None else int(request.top_k)
        if not 1 <= top_k <= MAX_TOP_K:
            raise QueryError(f"top-k must be 1..{MAX_TOP_K}, got {top_k}")
        retriever = self.retriever(request.retriever or self.config.retriever)
        generator = self.generator(request.generator or self.config.generator)
        _check_cancel(cancel)
        analysis = self.analyser().analyse(request.text, request.image)
        note = ""
        if self.llm is not None and self.config.llm_expand and analysis.type.value == "implicit":
            analysis, note = expand_with_llm(analysis, bounded_client(self.llm, self.config.generation.timeout_s, 0))
        robot = RobotPose.of(request.robot)
        result = retriever.retrieve(analysis, top_k=top_k, robot=robot, cancel=cancel)
        if note:
            result.notes.append(note)
        _check_cancel(cancel)
        answer = generator.answer(analysis, result, memory=self.memory, robot=robot)
        ms = (time.perf_counter() - t0) * 1000.0
        log.info("query %r (%s, %s): %.1f ms", analysis.text[:80], analysis.type.value, result.retriever, ms)
        return QueryResponse(request, analysis, result, answer, ms)


def _check_cancel(cancel: Any) -> None:
    if cancel is not None and getattr(cancel, "cancelled", False):
        from app.progress import Cancelled

        raise Cancelled()


_ENGINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_ENGINES_LOCK = threading.Lock()


def engine_for(memory: Any, *, config: QueryConfig | None = None,
               llm: ChatClient | LLMConfig | None = None) -> QueryEngine:
    """The engine of ``memory`` for these settings (built on first use, then reused)."""
    key = (config, id(llm) if isinstance(llm, ChatClient) else llm)
    with _ENGINES_LOCK:
        engines = _ENGINES.setdefault(memory, {})
        engine = engines.get(key)
        if engine is None:
            engine = engines[key] = QueryEngine(memory, config=config, llm=llm)
        return engine


def answer_query(memory: Any, request: QueryRequest, *, llm: ChatClient | LLMConfig | None = None,
                 cancel: Any = None, config: QueryConfig | None = None) -> QueryResponse:
    """Answer one question about ``memory`` (see the module docstring)."""
    return engine_for(memory, config=config, llm=llm).ask(request, cancel=cancel)
