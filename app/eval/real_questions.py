"""Hand-written questions about the Embodied-RAG authors' own data, and a scorer for them.

The question files (``tests/data/questions/building99.yaml``, ``cmu500.yaml``) were written by a
person from the source GML alone: each question carries the source-file identifiers of the nodes
that answer it (``accept``; Building99: object ``label`` strings, CMU_500: ``street_view`` node ids),
or ``answer_any`` words for global questions, or nothing for questions the data cannot answer.

* ``load_questions(path) -> list[Question]`` - reads and validates a file (``QuestionFileError``
  with the file, the question and the problem otherwise).
* ``score(memory, questions, retrievers=("random", "flat", "forest"), split=None) -> dict`` - asks
  every question through ``app.query.answer_query`` (``random``: a seeded random ranking of the
  memory's leaves, no answer text, never abstains; ``flat+analysis`` / ``forest-analysis``: the
  ablations of ``app.eval.ablation`` over the same engine), maps each hit back to its source identifier
  and reports, per retriever and question type, top-1 / top-5 accuracy, found/abstain accuracy
  and, for global questions, whether the answer names one of ``answer_any``.
* ``render_markdown(report) -> str`` - the per-type table of a report.

Hits map to source identifiers so: an object imported from an AirSim GML keeps its raw label as an
attribute ``RAW_LABEL_PREFIX + label`` (``memory.gml``); a place ``place/<n>`` is the street-view
node ``<n>`` (or, for an AirSim import, the drone pose ``drone_<n>``); clusters map to nothing.
"""
from __future__ import annotations

import random
import re
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from app.query import QueryRequest, answer_query
from memory.gml import RAW_LABEL_PREFIX

__all__ = ["Question", "QuestionFileError", "load_questions", "score", "source_ids", "render_markdown",
           "TYPES", "SPLITS", "RANDOM", "TOP_K"]

TYPES = ("explicit", "implicit", "global", "unanswerable")
SPLITS = ("dev", "test")
RANDOM = "random"
TOP_K = 5
_ANSWERABLE = ("explicit", "implicit")
_REQUIRED = ("id", "intent", "split", "type", "text", "why")
_OPTIONAL = ("accept", "answer_any")


class QuestionFileError(ValueError):
    """A question file that cannot be read or breaks the schema."""


@dataclass(frozen=True)
class Question:
    """One hand-written question and its ground truth (identifiers as strings)."""

    id: str
    intent: str
    split: str
    type: str
    text: str
    why: str
    accept: tuple[str, ...] = ()
    answer_any: tuple[str, ...] = ()
    dataset: str = ""

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


# ------------------------------------------------------------------------------------ loading
def load_questions(path: str | Path) -> list[Question]:
    """The questions of one file, validated (see the module docstring for the schema)."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QuestionFileError(f"{p}: no such question file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise QuestionFileError(f"{p}: not a readable YAML file ({e.__class__.__name__}: "
                                f"{str(e).splitlines()[0] if str(e) else ''})") from None
    if not isinstance(doc, dict):
        raise QuestionFileError(f"{p}: expected a mapping with dataset, source and questions")
    unknown = set(doc) - {"dataset", "source", "questions"}
    if unknown:
        raise QuestionFileError(f"{p}: unknown top-level key(s) {sorted(unknown)}")
    for key in ("dataset", "source"):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            raise QuestionFileError(f"{p}: '{key}' must be a non-empty string")
    items = doc.get("questions")
    if not isinstance(items, list) or not items:
        raise QuestionFileError(f"{p}: 'questions' must be a non-empty list")
    out: list[Question] = []
    seen: set[str] = set()
    for n, item in enumerate(items, 1):
        q = _question(p, n, item, doc["dataset"])
        if q.id in seen:
            raise QuestionFileError(f"{p}: question #{n}: duplicate id {q.id!r}")
        seen.add(q.id)
        out.append(q)
    return out


def _question(p: Path, n: int, item: Any, dataset: str) -> Question:
    where = f"{p}: question #{n}"
    if not isinstance(item, dict):
        raise QuestionFileError(f"{where}: expected a mapping, got {type(item).__name__}")
    if isinstance(item.get("id"), str):
        where += f" ({item['id']})"
    missing = [k for k in _REQUIRED if k not in item]
    if missing:
        raise QuestionFileError(f"{where}: missing {', '.join(missing)}")
    unknown = set(item) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise QuestionFileError(f"{where}: unknown key(s) {sorted(unknown)}")
    for k in _REQUIRED:
        if not isinstance(item[k], str) or not item[k].strip():
            raise QuestionFileError(f"{where}: '{k}' must be a non-empty string")
    if item["split"] not in SPLITS:
        raise QuestionFileError(f"{where}: split must be one of {', '.join(SPLITS)}, got {item['split']!r}")
    typ = item["type"]
    if typ not in TYPES:
        raise QuestionFileError(f"{where}: type must be one of {', '.join(TYPES)}, got {typ!r}")
    accept = _id_list(where, item, "accept")
    answer_any = _id_list(where, item, "answer_any")
    if typ in _ANSWERABLE and not accept:
        raise QuestionFileError(f"{where}: an {typ} question needs a non-empty 'accept' list")
    if typ == "unanswerable" and accept:
        raise QuestionFileError(f"{where}: an unanswerable question takes no 'accept' list")
    if typ == "global" and not answer_any:
        raise QuestionFileError(f"{where}: a global question needs a non-empty 'answer_any' list")
    if typ != "global" and "answer_any" in item:
        raise QuestionFileError(f"{where}: 'answer_any' is only for global questions")
    return Question(item["id"].strip(), item["intent"].strip(), item["split"], typ, item["text"].strip(),
                    item["why"].strip(), accept, answer_any, dataset)


def _id_list(where: str, item: Mapping, key: str) -> tuple[str, ...]:
    if key not in item:
        return ()
    v = item[key]
    if not isinstance(v, list) or not v:
        raise QuestionFileError(f"{where}: '{key}' must be a non-empty list")
    out = []
    for x in v:
        if isinstance(x, bool) or not isinstance(x, (str, int)) or not str(x).strip():
            raise QuestionFileError(f"{where}: '{key}' holds {x!r}; expected strings or integers")
        out.append(str(x).strip())
    if len(set(out)) != len(out):
        raise QuestionFileError(f"{where}: '{key}' lists an identifier twice")
    return tuple(out)


# ------------------------------------------------------------------------------------ mapping
def source_ids(memory: Any) -> dict[str, str]:
    """Leaf node id -> the identifier of that node in the source file it was imported from."""
    src = memory.meta.get("source") if isinstance(getattr(memory, "meta", None), dict) else None
    airsim = isinstance(src, dict) and src.get("format") == "airsim"
    out: dict[str, str] = {}
    for rec in memory.leaf_records():
        attrs = getattr(rec, "attributes", None)
        if attrs is not None:  # an object
            raw = next((a[len(RAW_LABEL_PREFIX):] for a in attrs if a.startswith(RAW_LABEL_PREFIX)), None)
            out[rec.id] = raw if raw is not None else str(rec.label)
        elif rec.id.startswith("place/"):
            n = rec.id[len("place/"):]
            out[rec.id] = f"drone_{n}" if airsim else n
    return out


# ------------------------------------------------------------------------------------ scoring
def score(memory: Any, questions: Iterable[Question], retrievers: Sequence[str] = (RANDOM, "flat", "forest"),
          split: str | None = None, *, top_k: int = TOP_K, seed: int = 0) -> dict:
    """Ask every question (of ``split`` when given) with each retriever; plain-data report."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} or None, got {split!r}")
    qs = [q for q in questions if split is None or q.split == split]
    ids = source_ids(memory)
    leaves = sorted(ids)
    clear_cache = getattr(getattr(memory, "text_encoder", None), "clear_cache", None)
    if any(r != RANDOM for r in retrievers):  # load the encoder and indexes now, not inside the first question
        from app.query import engine_for

        warm = getattr(engine_for(memory), "warm", None)
        if warm is not None:
            warm()
    rows: list[dict] = []
    summary: dict[str, dict] = {}
    for name in retrievers:
        t0 = time.perf_counter()
        mine = []
        for q in qs:
            if clear_cache is not None:  # latencies of a question never asked before, whatever ran first
                clear_cache()
            mine.append(_ask(memory, q, name, ids, leaves, top_k, seed))
        rows.extend(mine)
        summary[name] = {"by_type": _by_type(mine), "overall": _aggregate(mine),
                         "seconds": round(time.perf_counter() - t0, 3)}
    return {"dataset": qs[0].dataset if qs else "", "split": split or "all", "n_questions": len(qs),
            "top_k": top_k, "retrievers": summary, "questions": rows}


def _ask(memory: Any, q: Question, retriever: str, ids: Mapping[str, str], leaves: Sequence[str],
         top_k: int, seed: int) -> dict:
    t0 = time.perf_counter()
    if retriever == RANDOM:
        rng = random.Random(f"{seed}:{q.id}")
        hit_ids = rng.sample(list(leaves), min(top_k, len(leaves)))
        found, answer, query_type = True, "", ""
    elif retriever in ABLATIONS:  # app.eval.ablation's wrappers over the same engine
        from app.eval.ablation import ask
        from app.query import engine_for

        engine = engine_for(memory)
        a = ask(engine, retriever, q.text, top_k=top_k, cache=_ablation_cache(memory))
        hit_ids = [h.id for h in a.hits][:top_k]
        found, answer, query_type = bool(a.found), a.text, ""
    else:
        resp = answer_query(memory, QueryRequest(text=q.text, retriever=retriever, top_k=top_k)).to_json()
        hit_ids = [h["id"] for h in resp.get("hits", [])][:top_k]
        found = bool(resp.get("found", True))
        answer, query_type = str(resp.get("answer", "")), str(resp.get("query_type", ""))
    sources = [ids.get(h) for h in hit_ids]
    row = {"id": q.id, "intent": q.intent, "type": q.type, "split": q.split, "retriever": retriever,
           "text": q.text, "query_type": query_type, "found": found, "answer": answer, "hits": sources,
           "top1": None, "top5": None, "found_ok": found if q.answerable else not found, "answer_ok": None,
           "latency_ms": round((time.perf_counter() - t0) * 1000.0, 2)}
    if q.type in _ANSWERABLE:
        accept = set(q.accept)
        row["top1"] = bool(sources) and sources[0] in accept
        row["top5"] = any(s in accept for s in sources[:TOP_K])
    elif q.type == "global":
        row["answer_ok"] = _names_any(answer, q.answer_any)
    return row


ABLATIONS = ("flat+analysis", "forest-analysis")
_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # memory -> the ablation wrappers


def _ablation_cache(memory: Any) -> dict[str, Any]:
    return _CACHES.setdefault(memory, {})


def _names_any(text: str, words: Iterable[str]) -> bool:
    """Whether ``text`` contains one of ``words`` as a word (plural -s/-es allowed), any case."""
    return any(re.search(rf"(?<!\w){re.escape(w)}(?:s|es)?(?!\w)", text, re.IGNORECASE) for w in words)


def _rate(rows: Sequence[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r[key] is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def _aggregate(rows: Sequence[dict]) -> dict:
    return {"n": len(rows), "top1": _rate(rows, "top1"), "top5": _rate(rows, "top5"),
            "found_acc": _rate(rows, "found_ok"), "answer_acc": _rate(rows, "answer_ok"),
            "mean_latency_ms": round(sum(r["latency_ms"] for r in rows) / len(rows), 2) if rows else None}


def _by_type(rows: Sequence[dict]) -> dict:
    return {t: _aggregate([r for r in rows if r["type"] == t]) for t in TYPES if any(r["type"] == t for r in rows)}


# ------------------------------------------------------------------------------------ rendering
def render_markdown(report: Mapping) -> str:
    """A markdown table: one row per retriever and question type, then each retriever's overall row.

    ``found`` is the share answered with found=true for answerable types and the share that
    abstained (found=false) for unanswerable ones; ``answer`` is the global ``answer_any`` check.
    """
    def cell(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    lines = [f"{report.get('dataset', '')} ({report.get('split', 'all')} split, {report.get('n_questions', 0)} "
             f"questions, top-{report.get('top_k', TOP_K)})", "",
             "| retriever | type | n | top-1 | top-5 | found | answer |", "|---|---|---|---|---|---|---|"]
    for name, s in report.get("retrievers", {}).items():
        for t, a in [*s["by_type"].items(), ("all", s["overall"])]:
            lines.append(f"| {name} | {t} | {a['n']} | {cell(a['top1'])} | {cell(a['top5'])} | "
                         f"{cell(a['found_acc'])} | {cell(a['answer_acc'])} |")
    return "\n".join(lines) + "\n"
