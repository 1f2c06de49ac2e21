"""An LLM summariser for the semantic forest, with the extractive one as a per-cluster fallback.

``LLMSummariser`` implements the forest's ``Summariser`` protocol over an OpenAI-compatible chat
client: the extractive summary (room type, salient objects, counts) is computed first and given
to the model as facts; the model's ``{"name": ..., "summary": ...}`` replaces its wording. Any
failure - the server down or slow, an answer that is not that JSON, an empty or apologetic text
- keeps the extractive summary for that cluster, so a summary is never a failure text. After
``max_failures`` failures in a row the model is left alone for ``cooldown_s`` (exploration must
not stall on a dead server), and identical facts are never sent twice.

Use it from config (``memory.summariser``)::

    memory:
      summariser: {type: llm, llm: {base_url: http://127.0.0.1:8080/v1}, levels: [2, 3, 4]}
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ConfigDict

from memory.errors import LLMError
from memory.forest_types import ClusterView, Summariser, Summary
from memory.llm import ChatClient, LLMConfig
from memory.summarize import ExtractiveSummariser, RoomModel
from sim.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["SummariserConfig", "LLMSummariser", "make_summariser", "SUMMARISER_TYPES"]

SUMMARISER_TYPES = ("extractive", "llm")
_LEVEL_WORDS = {1: "area", 2: "room", 3: "floor", 4: "site"}
_REFUSALS = re.compile(r"\b(i'?m sorry|i cannot|i can'?t|as an ai|unable to|i do not have|i don'?t have)\b", re.I)


@dataclass(frozen=True, kw_only=True)
class SummariserConfig:
    """Which summariser names and describes the forest's clusters.

    * ``type`` - ``extractive`` (default, built in) or ``llm``.
    * ``llm`` - the chat server for ``llm`` (else the memory's own LLM client is used).
    * ``levels`` - forest levels the LLM rewrites (1 areas, 2 rooms, 3 floors, 4 site); others
      stay extractive. ``max_tokens`` - per summary; ``timeout_s`` - cap on one call.
    * ``max_failures`` failures in a row pause the LLM for ``cooldown_s`` seconds.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")
    type: str = "extractive"
    llm: LLMConfig | None = None
    levels: tuple[int, ...] = (2, 3, 4)
    max_tokens: int = 96
    timeout_s: float = 30.0
    max_failures: int = 3
    cooldown_s: float = 120.0

    def __post_init__(self) -> None:
        if self.type not in SUMMARISER_TYPES:
            raise ConfigError(f"unknown summariser type {self.type!r}. Available: {', '.join(SUMMARISER_TYPES)}")
        if any(lv not in (1, 2, 3, 4) for lv in self.levels):
            raise ConfigError(f"summariser levels must be among 1, 2, 3, 4, got {list(self.levels)}")
        if self.max_tokens < 16 or self.timeout_s <= 0 or self.max_failures < 1 or self.cooldown_s < 0:
            raise ConfigError("summariser max_tokens must be >= 16, timeout_s > 0, max_failures >= 1, cooldown_s >= 0")


def make_summariser(config: SummariserConfig | None = None, *, llm: Any = None,
                    room_model: RoomModel | None = None) -> Summariser:
    """The summariser ``config`` names; ``llm`` (a ``ChatClient`` or ``LLMConfig``) serves ``llm``
    when the config has no ``llm`` section of its own; ``room_model`` (the memory's prior knowledge
    of region types) names rooms in extractive summaries and in the LLM's facts."""
    cfg = config or SummariserConfig()
    if cfg.type == "extractive":
        return ExtractiveSummariser(room_model)
    if cfg.llm is not None:
        client = ChatClient(cfg.llm)
    elif isinstance(llm, ChatClient):
        client = llm
    elif isinstance(llm, LLMConfig):
        client = ChatClient(llm)
    else:
        raise ConfigError("summariser type 'llm' needs an LLM server: set memory.summariser.llm "
                          "(base_url, model) in the config")
    return LLMSummariser(client, fallback=ExtractiveSummariser(room_model), levels=cfg.levels,
                         max_tokens=cfg.max_tokens, timeout_s=cfg.timeout_s, max_failures=cfg.max_failures,
                         cooldown_s=cfg.cooldown_s)


class LLMSummariser:
    """Cluster names and summaries written by an LLM from extractive facts (see module docstring)."""

    def __init__(self, client: ChatClient, *, fallback: Summariser | None = None, levels: tuple[int, ...] = (2, 3, 4),
                 max_tokens: int = 96, timeout_s: float = 30.0, max_failures: int = 3,
                 cooldown_s: float = 120.0) -> None:
        cfg = client.config
        if cfg.timeout_s > timeout_s or cfg.retries > 1:
            client = ChatClient(replace(cfg, timeout_s=min(cfg.timeout_s, timeout_s), retries=min(cfg.retries, 1)))
        self.client = client
        self.fallback = fallback or ExtractiveSummariser()
        self.levels = frozenset(levels)
        self.max_tokens = int(max_tokens)
        self.max_failures = int(max_failures)
        self.cooldown_s = float(cooldown_s)
        self._cache: dict[str, Summary] = {}
        self._failures = 0
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.stats = {"calls": 0, "written": 0, "fallbacks": 0, "cached": 0, "skipped": 0}
        self.last_error = ""

    def summarise(self, view: ClusterView) -> Summary:
        """The LLM's wording of the extractive summary of ``view`` (or the extractive one)."""
        base = self.fallback.summarise(view)
        if view.level not in self.levels:
            return base
        prompt = self.prompt(view, base)
        key = hashlib.sha1(prompt.encode("utf-8")).hexdigest()
        with self._lock:
            if key in self._cache:
                self.stats["cached"] += 1
                return self._cache[key]
            if time.monotonic() < self._paused_until:
                self.stats["skipped"] += 1
                return base
            self.stats["calls"] += 1
        try:
            r = self.client.chat([{"role": "user", "content": prompt}], max_tokens=self.max_tokens, temperature=0.0)
            parsed = parse_summary(r.text)
        except LLMError as e:
            parsed = None
            self.last_error = str(e)
        with self._lock:
            if parsed is None:
                self.stats["fallbacks"] += 1
                self._failures += 1
                if self._failures >= self.max_failures:
                    self._paused_until = time.monotonic() + self.cooldown_s
                    self._failures = 0
                    log.warning("LLM summariser paused for %.0f s after repeated failures (%s)", self.cooldown_s,
                                self.last_error or "unusable answers")
                return base
            self._failures = 0
            self.stats["written"] += 1
            out = Summary(parsed[0], parsed[1], base.room_type)
            self._cache[key] = out
            return out

    @staticmethod
    def prompt(view: ClusterView, base: Summary) -> str:
        """The request for one cluster: its level, contents and the extractive draft."""
        what = _LEVEL_WORDS.get(view.level, "place")
        counts = ", ".join(f"{n} {lab}" for lab, n in view.counts[:12]) or "nothing"
        rooms = ""
        if view.rooms:
            rooms = "\nRooms: " + ", ".join(r.room_type or "room" for r in view.rooms[:16])
        article = "an" if what[:1] in "aeiou" else "a"
        return (f"A robot mapped {article} {what}. Objects seen: {counts}.{rooms}\n"
                f"Draft: {base.name}. {base.summary}\n"
                "Write a short name and a one-sentence description of it. Reply with JSON only: "
                '{"name": "...", "summary": "..."}')


def parse_summary(text: str) -> tuple[str, str] | None:
    """``(name, summary)`` from a model's reply (JSON, or ``Name:`` / ``Summary:`` lines), else None."""
    name = summary = None
    m = re.search(r"\{.*\}", text, re.S)
    if m:
        try:
            data = json.loads(m.group(0))
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("name"), str) and isinstance(data.get("summary"), str):
            name, summary = data["name"], data["summary"]
    if name is None:
        n = re.search(r"^\s*name\s*:\s*(.+)$", text, re.I | re.M)
        s = re.search(r"^\s*(?:summary|description)\s*:\s*(.+)$", text, re.I | re.M)
        if n and s:
            name, summary = n.group(1), s.group(1)
    if name is None or summary is None:
        return None
    name, summary = " ".join(name.split()).strip(" \"'."), " ".join(summary.split()).strip(" \"'")
    if not (2 <= len(name) <= 80 and 10 <= len(summary) <= 600):
        return None
    if _REFUSALS.search(name) or _REFUSALS.search(summary):
        return None
    return name, summary


__all__.append("parse_summary")
