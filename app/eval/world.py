"""One world of an evaluation, and the tables: bank questions x baselines and ablations.

``evaluate_world(job)`` (a progress generator; one Ray task per world and group of perception modes that
need the same sensors - ``oracle`` and ``clip`` share one exploration, each feeding its own memory):

1. explore the world to completion in a simulator wrapped by ``app.eval.truth.RecordingSimulator``
   (the visibility log: which instances were in view at which step), with the suite's perception
   mode (``oracle``: the simulator's instance labels, colours and materials; ``clip``: zero-shot
   labels of crops of the instance masks; ``geometric``: no ground truth - the sensors and perception
   of ``assets/configs/geometric.yaml``, its nodes attributed to world instances on the evaluation's
   side by ``app.eval.truth.TrackAttribution``; hits that stand for no instance, such as views, are
   judged by position, which is where the robot believed they were);
2. fill the bank's questions of the suite's split from the world (``app.eval.bank``);
3. ask every question as every variant (``app.eval.ablation``) and score it against the world;
4. for the first ``nav_per_type`` answerable questions of each type with satisfying world
   objects, drive from the world's start to the answer's goal (``app.eval.metrics.Navigator``);
   success = ending within 1 m of a satisfying object's footprint. Questions with no satisfying
   world object (global, unanswerable) are not judged for navigation.

``summarise`` gives one row per question type (then "answerable") and variant; ``markdown`` the
tables, one per perception mode, titled with the mode and the split.
"""
from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from app.eval.ablation import LABELS, ask
from app.eval.bank import QUESTION_TYPES, EvalQuestion, fill_questions, load_bank, score_answer
from app.eval.truth import RecordingSimulator, TrackAttribution
from app.progress import Cancelled, CancelToken, Progress

log = logging.getLogger(__name__)

__all__ = ["WorldResult", "UNITS", "EXPLORE_SHARE", "evaluate_world", "summarise", "unanswerable_pr", "render_tables",
           "ANSWERABLE"]

UNITS = 100  # progress units per world: exploration takes the first EXPLORE_SHARE of them
EXPLORE_SHARE = 40
ANSWERABLE = ("explicit", "implicit", "global", "temporal", "relational")


@dataclass
class WorldResult:
    """One world's exploration figures and per-query records."""

    index: int
    spec: str
    kind: str
    stats: dict[str, Any]
    records: list[dict[str, Any]]
    perception: str = "oracle"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "spec": self.spec, "kind": self.kind, "perception": self.perception,
                "stats": self.stats, "records": self.records}


def _world_config(config: Any, perception: str) -> Any:
    from app.config import with_perception

    config = with_perception(config, perception)
    mem = config.memory
    # text questions only: image vectors are read only by clip perception or w_image_text > 0
    if perception != "clip" and config.query.retrieval.w_image_text <= 0:
        mem = replace(mem, image_encoder=None)
    return replace(config, memory=mem)


def evaluate_world(job: Any, cancel: CancelToken | None = None) -> Generator[Progress, None, list[WorldResult]]:
    """Explore one world once, feeding every perception mode of the job (``job.modes``: modes that share the
    sensors see the same observations, so they share the exploration); then, per mode, ask its bank questions
    as every variant and drive to some answers. One ``WorldResult`` per mode."""
    from app.eval.metrics import Navigator
    from app.priors import pack_for_scene
    from app.session import Session
    from memory.core import EmbodiedMemory
    from sim.loader import load_scene
    from sim.simulator import make_simulator

    suite, world = job.suite, job.world
    t0 = time.perf_counter()
    modes = job.modes
    configs = {m: _world_config(job.config, m) for m in modes}
    config = configs[modes[0]]
    scene = load_scene(world.spec)
    rec = RecordingSimulator(make_simulator(config.sim, scene))
    label = f"{world.spec} ({'+'.join(modes)})"
    with Session(scene, config=config, seed=world.seed, simulator=rec) as session:
        memories = {modes[0]: session.memory}
        try:
            for m in modes[1:]:  # fed the observations the session's memory gets, in the same order
                memories[m] = EmbodiedMemory(configs[m].memory, priors=pack_for_scene(scene))
                memories[m].meta["perception"] = m
                memories[m].ingest(session.observation)
            # perception without ground truth sets no instance on its nodes: attribute them on the evaluation's side
            attributions = {m: TrackAttribution(mem) for m, mem in memories.items() if m == "geometric"}
            if len(modes) > 1:
                _tee_ingest(session.memory, [memories[m] for m in modes[1:]])
            gen = session.explore(world.steps, cancel, report_every=50)
            while True:
                try:
                    p = next(gen)
                except StopIteration as stop:
                    summary = stop.value
                    break
                frac = min(1.0, p.done / max(1, world.steps))
                yield Progress("explore", int(EXPLORE_SHARE * frac), UNITS, f"{label}: exploring, {p.message}")
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            explore_s = time.perf_counter() - t0
            info = scene.info
            questions = fill_questions(load_bank(suite.bank), info, rec.visibility, split=suite.split,
                                       seed=suite.query_seed)
            nav_ids = _nav_subset(questions, suite.nav_per_type)
            ep = summary.episode
            shared_stats = {"steps": ep.steps, "stop_reason": ep.stop_reason,
                            "coverage": None if ep.coverage is None else round(ep.coverage.total, 4),
                            "objects_seen": len(rec.visibility.seen & set(info.object_table())),
                            "world_objects": len(info.objects), "world_rooms": len(info.rooms),
                            "floors": len(info.floors), "queries": len(questions), "navigated": len(nav_ids),
                            "explore_s": round(explore_s, 1)}
            results = []
            with Navigator(session, max_steps=suite.nav_max_steps) as nav:
                for k, m in enumerate(modes):
                    t1 = time.perf_counter()
                    records = yield from _ask_all(job, m, configs[m], memories[m], attributions.get(m), questions,
                                                  nav_ids, nav, info, (k, len(modes)), cancel)
                    st = memories[m].stats()
                    stats = {**shared_stats, "memory_objects": st["objects"], "rooms_found": st["rooms"],
                             "eval_s": round(time.perf_counter() - t1, 1), "shared_with": [x for x in modes if x != m]}
                    results.append(WorldResult(job.index, world.spec, info.kind, stats, records, m))
        finally:
            for m in modes[1:]:
                if m in memories:
                    memories[m].close()
    log.info("evaluated %s: %d questions x %d variants x %d modes in %.0f s", label, len(questions),
             len(job.retrievers), len(modes), time.perf_counter() - t0)
    return results


def _tee_ingest(memory: Any, others: Sequence[Any]) -> None:
    """Make ``memory.ingest`` feed each observation to ``others`` too (after ``memory`` itself)."""
    ingest = memory.ingest

    def tee(obs: Any) -> Any:
        result = ingest(obs)
        for o in others:
            o.ingest(obs)
        return result

    memory.ingest = tee


def _ask_all(job: Any, mode: str, config: Any, memory: Any, attribution: TrackAttribution | None,
             questions: Sequence[EvalQuestion], nav_ids: set[str], nav: Any, info: Any, part: tuple[int, int],
             cancel: CancelToken | None) -> Generator[Progress, None, list[dict[str, Any]]]:
    """Every question as every variant against one mode's memory; records scored against the world."""
    from app.query import QueryConfig, QueryEngine
    from memory.llm import ChatClient

    suite, world = job.suite, job.world
    client = ChatClient(config.llm) if config.llm is not None and "llm" in job.retrievers else None
    engine = QueryEngine(memory, config=QueryConfig(top_k=suite.top_k), llm=client).warm()
    instance_of = {o.id: o.instance_hint if attribution is None else attribution.instance_of(o.id)
                   for o in memory.graph.objects()}
    objects = info.object_table()
    clear_cache = getattr(memory.text_encoder, "clear_cache", None)
    records: list[dict[str, Any]] = []
    total = len(questions) * len(job.retrievers)
    cache: dict[str, Any] = {}
    span = (UNITS - EXPLORE_SHARE) / part[1]
    for variant in job.retrievers:
        for q in questions:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            if clear_cache is not None:  # latencies of a question never asked before
                clear_cache()
            a = ask(engine, variant, q.text, top_k=suite.top_k, cache=cache)
            s = score_answer(q, a.hits, a.text, a.found, instance_of, objects)
            r: dict[str, Any] = {
                "world": world.spec, "world_index": job.index, "perception": mode,
                "retriever": variant, "id": q.id, "type": q.type, "intent": q.intent, "split": q.split,
                "text": q.text, "top1": s.top1, "topk": s.topk, "top1_exact": s.exact, "found": s.found,
                "latency_ms": round(a.latency_ms, 3), "llm_calls": a.llm_calls, "answer": a.text,
                "top_hit": a.hits[0].id if a.hits else None, "satisfying": list(q.satisfying), "nav": None}
            if q.id in nav_ids:
                sat = [objects[i] for i in q.satisfying]
                r["nav"] = nav.episode(a.goal, a.goal_floor, sat).to_dict()
            records.append(r)
            if len(records) % 10 == 0 or len(records) == total:
                yield Progress("eval", EXPLORE_SHARE + int(span * (part[0] + len(records) / max(1, total))), UNITS,
                               f"{world.spec} ({mode}): {variant} ({len(records)}/{total})")
    return records


def _nav_subset(questions: Sequence[EvalQuestion], per_type: int) -> set[str]:
    out: set[str] = set()
    for t in ("explicit", "implicit", "temporal", "relational"):
        out.update(q.id for q in [q for q in questions if q.type == t and q.navigable][:per_type])
    return out


# ------------------------------------------------------------------------------------------ tables
def _mean(values: Sequence[float]) -> float | None:
    return round(float(statistics.fmean(values)), 3) if values else None


def unanswerable_pr(rows: Sequence[dict[str, Any]]) -> tuple[float | None, float | None]:
    """Precision and recall of "nothing in memory answers this" (``found`` false) over ``rows``."""
    said_no = [r for r in rows if not r["found"]]
    unans = [r for r in rows if r["type"] == "unanswerable"]
    tp = sum(1 for r in said_no if r["type"] == "unanswerable")
    prec = round(tp / len(said_no), 3) if said_no else None
    rec = round(tp / len(unans), 3) if unans else None
    return prec, rec


def _row(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    navs = [r["nav"] for r in rows if r["nav"] is not None]
    lat = [r["latency_ms"] for r in rows]
    return {"n": len(rows), "top1": _mean([float(r["top1"]) for r in rows]),
            "topk": _mean([float(r["topk"]) for r in rows]),
            "top1_exact": _mean([float(r["top1_exact"]) for r in rows]), "nav_n": len(navs),
            "nav_success": _mean([float(n["success"]) for n in navs]),
            "spl": _mean([n["spl"] for n in navs if n["spl"] is not None]),
            "p50_ms": round(float(np.percentile(lat, 50)), 2) if lat else None,
            "p95_ms": round(float(np.percentile(lat, 95)), 2) if lat else None,
            "llm_calls": _mean([float(r["llm_calls"]) for r in rows])}


def summarise(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> list[dict[str, Any]]:
    """Rows per perception mode, question type (then "answerable" and "all") and variant."""
    out = []
    modes = list(dict.fromkeys(r["perception"] for r in records))
    for mode in modes:
        recs = [r for r in records if r["perception"] == mode]
        for t in [*QUESTION_TYPES, "answerable", "all"]:
            for v in variants:
                rows = [x for x in recs if x["retriever"] == v
                        and (t == "all" or x["type"] == t or (t == "answerable" and x["type"] in ANSWERABLE))]
                if not rows:
                    continue
                row = {"perception": mode, "type": t, "retriever": v, **_row(rows)}
                if t == "all":
                    row["unans_precision"], row["unans_recall"] = unanswerable_pr(rows)
                out.append(row)
    return out


def _f(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def render_tables(rows: Sequence[dict[str, Any]], *, suite: str, split: str, n_worlds: int, top_k: int,
                  timings: bool = True) -> str:
    """One markdown table per perception mode (its title names the mode and the split)."""
    lines: list[str] = []
    for mode in dict.fromkeys(r["perception"] for r in rows):
        rs = [r for r in rows if r["perception"] == mode]
        head = ["type", "system", "n", "top-1", f"top-{top_k}", "exact top-1", "nav n", "nav success", "SPL"]
        head += ["p50 ms", "p95 ms"] if timings else []
        head += ["LLM calls/q"]
        lines += [f"## Suite `{suite}`, perception `{mode}`, `{split}` split: {n_worlds} worlds", "",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in rs:
            if r["type"] == "all":
                continue
            cells = [r["type"], LABELS.get(r["retriever"], r["retriever"]), str(r["n"]), _f(r["top1"]),
                     _f(r["topk"]), _f(r["top1_exact"]), str(r["nav_n"]), _f(r["nav_success"]), _f(r["spl"])]
            cells += [_f(r["p50_ms"]), _f(r["p95_ms"])] if timings else []
            cells += [_f(r["llm_calls"])]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", f"Unanswerable questions (perception `{mode}`): precision / recall of \"nothing in memory "
                  "answers this\" over every question of the split.", "",
                  "| system | precision | recall |", "|---|---|---|"]
        for r in rs:
            if r["type"] == "all":
                lines.append(f"| {LABELS.get(r['retriever'], r['retriever'])} | {_f(r['unans_precision'])} | "
                             f"{_f(r['unans_recall'])} |")
        lines.append("")
    return "\n".join(lines)
