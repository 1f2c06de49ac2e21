"""The headless evaluation harness: worlds x perception modes x bank questions x systems -> tables.

``evaluate(suite, out_dir, options)`` is a progress generator (the CLI shows a bar with an ETA;
``launcher.py eval``). One unit of work per world and group of perception modes with the same sensors
(``shared_modes``; ``app.eval.world``): explore the world once (recording which instances were in view)
feeding each mode's memory, fill the question bank
(``assets/eval/bank.yaml``, ``app.eval.bank``) of the suite's split from the world, ask every
question as every system - the ``random`` baseline, ``flat``, ``flat + analysis``,
``forest - analysis``, ``forest`` and ``llm`` when configured (``app.eval.ablation``) - score the
answers against the world and drive to some of them.

Per perception mode, question type and system the table gives top-1 / top-k / exact-object top-1,
navigation success and SPL, latency p50/p95 and LLM calls per question, and unanswerable
precision / recall. Everything but the latencies is deterministic: each world's work starts from
scratch (its own simulator, encoder and memory; the encoder's query cache is emptied before every
question), so running worlds as Ray tasks (``--workers N``, ``app.eval.ray``) gives the same
table as the serial run (``EvalResult.markdown(timings=False)`` is the part that must match).

``score_queries`` / ``summarise`` below serve scenario runs (``app.eval.scenario``), which still ask
the generated questions of ``app.eval.queries``.
"""
from __future__ import annotations

import json
import logging
import math
import statistics
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.config import LabConfig, with_perception
from app.eval.ablation import VARIANTS
from app.eval.metrics import Navigator, llm_calls_of, score_response
from app.eval.queries import QUERY_TYPES, GroundTruthQuery
from app.eval.suites import (
    KNOWN_RETRIEVERS,
    SUITES,
    EvalError,
    Suite,
    SuiteWorld,
    WorldJob,
    get_suite,
    suite_for_scenes,
)
from app.eval.world import UNITS, WorldResult
from app.eval.world import evaluate_world as run_world
from app.progress import Cancelled, CancelToken, Progress

log = logging.getLogger(__name__)

__all__ = ["SuiteWorld", "Suite", "SUITES", "get_suite", "suite_for_scenes", "EvalOptions", "WorldJob", "WorldResult",
           "EvalResult", "EvalError", "evaluate", "evaluate_world", "score_queries", "summarise", "default_retrievers",
           "UNITS"]

def default_retrievers(config: LabConfig) -> tuple[str, ...]:
    """Every baseline and ablation (``app.eval.ablation``), plus ``llm`` when the config has an LLM."""
    return VARIANTS if config.llm is not None else tuple(v for v in VARIANTS if v != "llm")


@dataclass(frozen=True, kw_only=True)
class EvalOptions:
    """How to run: retrievers (empty: ``default_retrievers``), Ray workers or address, the lab config."""

    retrievers: tuple[str, ...] = ()
    workers: int = 1
    ray_address: str | None = None
    config: LabConfig = field(default_factory=LabConfig)
    plots: bool = True

    def resolved_retrievers(self) -> tuple[str, ...]:
        names = self.retrievers or default_retrievers(self.config)
        bad = [n for n in names if n not in KNOWN_RETRIEVERS]
        if bad:
            raise EvalError(f"unknown retriever {bad[0]!r}. Available: {', '.join(KNOWN_RETRIEVERS)}")
        if "llm" in names and self.config.llm is None:
            raise EvalError("the llm retriever needs an LLM server: add an 'llm' section (base_url, model) "
                            "to a --config YAML file")
        return tuple(dict.fromkeys(names))


def evaluate_world(job: WorldJob, cancel: CancelToken | None = None
                   ) -> Generator[Progress, None, list[WorldResult]]:
    """One world in the job's perception modes, one result each (``app.eval.world.evaluate_world``); yields
    ``UNITS`` of progress."""
    return (yield from run_world(job, cancel))


def shared_modes(perceptions: Sequence[str], config: LabConfig) -> list[tuple[str, ...]]:
    """``perceptions`` grouped by the sensors they need: modes of one group share one exploration (``oracle``
    and ``clip`` see the same noise-free frames; ``geometric`` drives on noisy depth and a drifting pose)."""
    groups: dict[Any, list[str]] = {}
    for m in perceptions:
        groups.setdefault(with_perception(config, m).sim, []).append(m)
    return [tuple(g) for g in groups.values()]


def nav_subset(queries, per_type: int) -> set[str]:
    out: set[str] = set()
    for t in QUERY_TYPES:
        if t == "global":
            continue
        out.update(q.id for q in [q for q in queries if q.type == t][:per_type])
    return out


def score_queries(engine: Any, queries: Sequence[GroundTruthQuery], retrievers: Sequence[str], *, info: Any,
                  top_k: int, nav: Navigator | None = None, nav_ids: set[str] | frozenset[str] = frozenset(),
                  extra: dict[str, Any] | None = None, cancel: CancelToken | None = None
                  ) -> Generator[tuple[int, int, str], None, list[dict[str, Any]]]:
    """Ask ``queries`` with each retriever through ``engine`` (an ``app.query.QueryEngine``), score
    them, and drive to the answers of ``nav_ids`` with ``nav``. Yields ``(done, total, what)``;
    returns one record (a plain dict) per question and retriever, retrievers outermost.

    The text encoder's query cache is emptied before each question, so latencies include encoding
    the question and do not depend on the order the retrievers run in."""
    from app.query import QueryRequest

    memory = engine.memory
    instance_of = {o.id: o.instance_hint for o in memory.graph.objects()}
    objects = info.object_table()
    records: list[dict[str, Any]] = []
    total = len(queries) * len(retrievers)
    clear_cache = getattr(memory.text_encoder, "clear_cache", None)
    for r_name in retrievers:
        for q in queries:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            if clear_cache is not None:  # every question is new to every retriever: no one profits from another's
                clear_cache()            # encodings, and latencies are those of a question never asked before
            resp = engine.ask(QueryRequest(text=q.text, retriever=r_name, generator="template", top_k=top_k))
            hits = resp.result.hits
            s = score_response(q, hits, resp.answer.text, instance_of, encoder=memory.text_encoder)
            rec: dict[str, Any] = {
                **(extra or {}), "retriever": r_name, "id": q.id, "type": q.type, "intent": q.intent, "text": q.text,
                "top1": s.top1, "topk": s.topk, "top1_exact": s.top1_exact, "latency_ms": round(resp.latency_ms, 3),
                "llm_calls": llm_calls_of(resp), "answer": resp.answer.text,
                "top_hit": hits[0].id if hits else None, "nav": None}
            if nav is not None and q.id in nav_ids:
                a = resp.answer
                rec["nav"] = nav.episode(a.goal, a.goal_floor, [objects[i] for i in q.satisfying]).to_dict()
            records.append(rec)
            yield len(records), total, f"{r_name} {q.type}"
    return records


# ------------------------------------------------------------------------------------------ summary
def _pct(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return round(float(statistics.fmean(values)), 3) if values else None


def _row(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    navs = [r["nav"] for r in rows if r["nav"] is not None]
    lat = [r["latency_ms"] for r in rows]
    p50, p95 = _pct(lat, 50), _pct(lat, 95)
    return {"n": len(rows), "top1": _mean([float(r["top1"]) for r in rows]),
            "topk": _mean([float(r["topk"]) for r in rows]),
            "top1_exact": _mean([float(r["top1_exact"]) for r in rows]), "nav_n": len(navs),
            "nav_success": _mean([float(n["success"]) for n in navs]),
            "spl": _mean([n["spl"] for n in navs if n["spl"] is not None]),
            "p50_ms": None if p50 is None else round(p50, 2), "p95_ms": None if p95 is None else round(p95, 2),
            "llm_calls": _mean([float(r["llm_calls"]) for r in rows])}


def summarise(records: Sequence[dict[str, Any]], retrievers: Sequence[str]) -> list[dict[str, Any]]:
    """Rows per query type (then "all") and retriever, in that order."""
    out = []
    for t in [*QUERY_TYPES, "all"]:
        for r in retrievers:
            rows = [x for x in records if x["retriever"] == r and (t == "all" or x["type"] == t)]
            if rows:
                out.append({"type": t, "retriever": r, **_row(rows)})
    return out


def summarise_worlds(worlds: Sequence[WorldResult], retrievers: Sequence[str]) -> list[dict[str, Any]]:
    """Rows per world and retriever (all query types together)."""
    out = []
    for w in worlds:
        for r in retrievers:
            rows = [x for x in w.records if x["retriever"] == r and x.get("type") != "unanswerable"]
            if rows:
                out.append({"world": w.spec, "perception": getattr(w, "perception", "oracle"), "retriever": r,
                            **_row(rows)})
    return out


def _f(v: Any, pct: bool = False) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.2f}" if not pct else f"{100 * v:.0f}%"
    return str(v)


@dataclass
class EvalResult:
    """The outcome of a suite: per-world results, the summary rows and the files written."""

    suite: Suite
    retrievers: tuple[str, ...]
    worlds: list[WorldResult]
    wall_s: float
    workers: int
    files: dict[str, str] = field(default_factory=dict)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r for w in self.worlds for r in w.records]

    @property
    def rows(self) -> list[dict[str, Any]]:
        from app.eval.world import summarise as summarise_bank

        return summarise_bank(self.records, self.retrievers)

    @property
    def report_path(self) -> str | None:
        return self.files.get("table")

    def markdown(self, *, timings: bool = True) -> str:
        """The per-type table, the per-world table and the worlds' exploration figures.

        ``timings=False`` leaves out latencies and wall times: what remains is deterministic.
        """
        from app.eval.world import render_tables

        lines = [render_tables(self.rows, suite=self.suite.name, split=self.suite.split, n_worlds=len(self.worlds)
                               // max(1, len(self.suite.perceptions)), top_k=self.suite.top_k, timings=timings)]
        lines += ["### Per world", "", "| world | perception | system | n | top-1 | top-k | nav success | SPL |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in summarise_worlds(self.worlds, self.retrievers):
            lines.append(f"| `{r['world']}` | {r['perception']} | {r['retriever']} | {r['n']} | {_f(r['top1'])} | "
                         f"{_f(r['topk'])} | {_f(r['nav_success'])} | {_f(r['spl'])} |")
        lines += ["", "### Worlds", "", "| world | perception | steps | coverage | objects in view / in world | "
                  "objects in memory | rooms found / true | questions"
                  + (" | explore s | eval s |" if timings else " |"),
                  "|---|---|---|---|---|---|---|---|" + ("---|---|" if timings else "")]
        for w in self.worlds:
            s = w.stats
            cov = "–" if s["coverage"] is None else f"{100 * s['coverage']:.1f}%"
            row = (f"| `{w.spec}` | {w.perception} | {s['steps']} | {cov} | {s['objects_seen']} / "
                   f"{s['world_objects']} | {s.get('memory_objects', '–')} | {s['rooms_found']} / {s['world_rooms']}"
                   f" | {s['queries']} |")
            lines.append(row + (f" {s['explore_s']} | {s['eval_s']} |" if timings else ""))
        lines += ["", _legend(self.suite)]
        if timings:
            lines += ["", f"Wall time {self.wall_s:.0f} s with {self.workers} worker(s)."]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        from sim.config import to_dict

        return {"suite": to_dict(self.suite), "retrievers": list(self.retrievers), "workers": self.workers,
                "wall_s": round(self.wall_s, 1), "summary": self.rows,
                "per_world": summarise_worlds(self.worlds, self.retrievers),
                "worlds": [w.to_dict() for w in self.worlds], "files": dict(self.files)}


def _legend(suite: Suite) -> str:
    return (f"Questions: the `{suite.split}` split of the hand-written bank (assets/eval/bank.yaml), filled from each "
            "world; ground truth from the world (object table, boxes, rooms, the exploration's visibility log), never "
            "from the memory. top-1 / top-k (k = "
            f"{suite.top_k}): the top hit / any hit is a satisfying object (by the simulator's instance) or, for a "
            "view, place or area hit, lies within 1 m of one's footprint; exact top-1: the top hit is a satisfying "
            "object itself. Global: counts and room types stated exactly in the answer. Unanswerable: right when "
            "the answer says nothing in memory answers it (found = false). Systems: random (k random leaves, never "
            "abstains), flat (naive RAG), flat + analysis (flat with the analyser's attribute/category bonuses), "
            "forest − analysis (the forest given only the question text and its coarse type), forest, llm. "
            f"Navigation: the first {suite.nav_per_type} answerable questions per type with satisfying world objects, "
            "driven from the world's start to the answer's goal; success = within 1 m of a satisfying object's "
            "footprint; SPL against the ground-truth shortest path to that region. 'answerable' pools every type "
            "but unanswerable. Perception `oracle` reads the simulator's instance labels, colours and materials; "
            "`clip` labels crops zero-shot.")


# ------------------------------------------------------------------------------------------ runner
def _eta(start: float, fraction: float) -> str:
    if fraction <= 0.01:
        return "ETA …"
    left = (time.perf_counter() - start) * (1.0 - fraction) / fraction
    return f"ETA {int(left // 60)} min {int(left % 60):02d} s" if left >= 60 else f"ETA {left:.0f} s"


def evaluate(suite: Suite, out_dir: str | Path | None, options: EvalOptions | None = None,
             cancel: CancelToken | None = None) -> Generator[Progress, None, EvalResult]:
    """Run ``suite`` (serially, or on Ray with ``workers > 1`` or a Ray address); write the results
    (``results.json``, ``table.md``, plots) to ``out_dir`` when given. Returns an ``EvalResult``."""
    opts = options or EvalOptions()
    retrievers = opts.resolved_retrievers()
    if opts.workers < 1:
        raise EvalError(f"--workers must be at least 1, got {opts.workers}")
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise EvalError(f"cannot create the output folder {out}: {e.strerror or e}") from None
    jobs = [WorldJob(k, w, suite, retrievers, opts.config, modes[0], modes[1:])
            for k, (modes, w) in enumerate((g, w) for g in shared_modes(suite.perceptions, opts.config)
                                           for w in suite.worlds)]
    total = UNITS * len(jobs)
    t0 = time.perf_counter()
    if opts.workers > 1 or opts.ray_address:
        from app.eval.ray import run_on_ray

        gen = run_on_ray(jobs, workers=opts.workers, address=opts.ray_address, cancel=cancel)
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                worlds = [w for ws in stop.value for w in ws]
                break
            frac = p.done / total
            yield Progress("eval", p.done, total, f"{p.message} · {_eta(t0, frac)}")
    else:
        worlds = []
        for job in jobs:
            wgen = evaluate_world(job, cancel)
            while True:
                try:
                    p = next(wgen)
                except StopIteration as stop:
                    worlds.extend(stop.value)
                    break
                done = UNITS * job.index + p.done
                yield Progress("eval", done, total, f"[{job.index + 1}/{len(jobs)}] {p.message} · "
                                                    f"{_eta(t0, done / total)}")
    worlds.sort(key=lambda w: (suite.perceptions.index(w.perception), w.index))
    result = EvalResult(suite, retrievers, worlds, time.perf_counter() - t0, opts.workers)
    if out is not None:
        yield Progress("eval", total, total, "writing the results")
        write_results(result, out, plots=opts.plots)
    return result


def write_results(result: EvalResult, out: Path, *, plots: bool = True) -> dict[str, str]:
    """Write ``results.json``, ``table.md`` and the plots into ``out``; returns their paths."""
    files: dict[str, str] = {}
    try:
        if plots:
            from app.eval.report import plot_eval_accuracy, plot_eval_latency, plot_eval_navigation

            rows = result.rows
            files["accuracy_plot"] = str(plot_eval_accuracy(rows, result.retrievers, out / "accuracy.png"))
            files["navigation_plot"] = str(plot_eval_navigation(rows, result.retrievers, out / "navigation.png"))
            files["latency_plot"] = str(plot_eval_latency(result.records, result.retrievers, out / "latency.png"))
        table = out / "table.md"
        files["table"] = str(table)
        files["results"] = str(out / "results.json")
        result.files = files
        md = result.markdown()
        if plots:
            md += "\n![accuracy](accuracy.png)\n\n![navigation](navigation.png)\n\n![latency](latency.png)\n"
        table.write_text(md, encoding="utf-8")
        (out / "results.json").write_text(json.dumps(result.to_json(), indent=1, default=_json_default),
                                          encoding="utf-8")
    except OSError as e:
        raise EvalError(f"cannot write the results to {out}: {e.strerror or e}") from None
    return files


def _json_default(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")
