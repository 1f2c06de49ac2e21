"""Scripted scenario runs: a YAML file names a world, how to explore it, questions, goals and checks.

``launcher.py run SCENARIO.yaml [--out DIR]`` and the GUI's "Run scenario…" both run
``run_scenario(path, out_dir, cancel)``, a progress generator that returns a ``ScenarioReport``
whose ``report_path`` is the human report (``report.md``; ``report.json`` beside it, with the
plots of ``app.eval.report`` and the memory the robot built, ``memory.db``).

The file (every key but ``world`` optional; unknown keys and wrong types are errors that name
the file and line)::

    name: kitchen-tour             # default: the file's stem; also the default output folder
    description: what it shows
    world: house:seed=3,rooms=6    # scene spec (required)
    seed: 0                        # turns the start pose (as 'explore --seed')
    exploration:
      policy: frontier             # frontier | waypoints | none
      steps: 1500                  # step budget (frontier stops earlier when all is seen)
      waypoints: [[2.0, 1.5], [6.0, 3.0, 0]]   # x, y[, floor] for policy: waypoints
    retriever: forest              # flat | forest | llm
    generator: template            # template | llm
    top_k: 5
    llm: {base_url: http://127.0.0.1:8080/v1, model: ""}   # needed by the llm retriever/generator
    queries:
      - text: where can I cook?
        navigate: true             # drive there after answering (from wherever the robot is)
        expect:                    # optional checks
          type: implicit           # the analysed query type
          categories: [stove, oven, microwave]   # a hit is an object of these categories (or within radius)
          near: [4.0, 2.5]         # ... or within radius of this point: x, y[, floor]
          radius: 1.0
          top1: true               # the top hit must be right (false: any of the top-k)
          answer_contains: [kitchen]
    goals:                         # drive to points
      - {name: front door, x: 1.0, y: 0.5, floor: 0}
    generated:                     # ground-truth questions generated from the world (app.eval.queries)
      seed: 0
      per_type: 4
      types: [explicit, implicit, global, temporal, relational]
      retrievers: [flat, forest]   # default: the scenario's retriever
      navigate: 1                  # drive to the answers of this many per type (from the start)
    save_memory: true              # write memory.db (open it with 'query' or 'navigate')
    config: ../configs/geometric.yaml   # a lab config (sim sensors, memory perception; relative to this file)

With ``expect.categories`` or ``expect.near`` a drive to an answer succeeds when the robot ends
within ``radius`` of a matching object's footprint (or of the point); without them the drive is
reported but "not judged" (``success`` None): the answer's own goal is no ground truth, and the
analyser's reading of the question is not either. ``ScenarioReport.ok`` is False when a check failed
(``run`` exits with 1).
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict

from app.eval.queries import QUERY_TYPES, SUCCESS_RADIUS_M, GroundTruthQuery, score_hits
from app.progress import Cancelled, CancelToken, Progress
from memory.llm import LLMConfig
from sim.config import LineMap, from_dict, load_yaml, to_dict
from sim.errors import ConfigError, LabError

log = logging.getLogger(__name__)

__all__ = ["ExplorationSpec", "Expectation", "QuerySpec", "GoalSpec", "GeneratedSpec", "Scenario", "ScenarioError",
           "ScenarioReport", "load_scenario", "run_scenario", "default_out_dir", "check_answer"]

QueryType = Literal["explicit", "implicit", "global", "temporal", "relational"]


class ScenarioError(ConfigError):
    """A scenario file is invalid (the message names the file and line)."""


@dataclass(frozen=True, kw_only=True)
class ExplorationSpec:
    """How the robot explores before the questions: ``frontier``, ``waypoints`` or ``none``."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    policy: Literal["frontier", "waypoints", "none"] = "frontier"
    steps: int = 1500
    waypoints: tuple[tuple[float, ...], ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= 100_000:
            raise ScenarioError(f"steps must be 1..100000, got {self.steps}")
        for k, w in enumerate(self.waypoints):
            if len(w) not in (2, 3) or (len(w) == 3 and float(w[2]) != int(w[2])):
                raise ScenarioError(f"waypoint {k + 1} must be [x, y] or [x, y, floor], got {list(w)}")
        if self.policy == "waypoints" and not self.waypoints:
            raise ScenarioError("policy 'waypoints' needs a list of waypoints")
        if self.policy != "waypoints" and self.waypoints:
            raise ScenarioError(f"waypoints are only used with policy 'waypoints', not {self.policy!r}")


@dataclass(frozen=True, kw_only=True)
class Expectation:
    """Checks of one answer (all given ones must hold)."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    type: QueryType | None = None
    categories: tuple[str, ...] = ()
    near: tuple[float, ...] | None = None
    radius: float = SUCCESS_RADIUS_M
    top1: bool = True
    answer_contains: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.near is not None and len(self.near) not in (2, 3):
            raise ScenarioError(f"near must be [x, y] or [x, y, floor], got {list(self.near)}")
        if not 0.0 < self.radius <= 50.0:
            raise ScenarioError(f"radius must be in (0, 50] metres, got {self.radius}")

    @property
    def locates(self) -> bool:
        """Whether the check says where the answer is (so a drive can be judged against it)."""
        return bool(self.categories) or self.near is not None


@dataclass(frozen=True, kw_only=True)
class QuerySpec:
    """One question; ``navigate`` drives the robot to its answer."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    text: str
    expect: Expectation | None = None
    navigate: bool = False

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ScenarioError("a query text is empty")


@dataclass(frozen=True, kw_only=True)
class GoalSpec:
    """A point to drive to."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    x: float
    y: float
    floor: int = 0
    name: str = ""


@dataclass(frozen=True, kw_only=True)
class GeneratedSpec:
    """Ground-truth questions generated from the world, scored per type."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    seed: int = 0
    per_type: int = 4
    types: tuple[QueryType, ...] = QUERY_TYPES  # type: ignore[assignment]
    retrievers: tuple[Literal["flat", "forest", "llm"], ...] = ()
    navigate: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.per_type <= 100 or self.navigate < 0:
            raise ScenarioError(f"per_type must be 1..100 and navigate >= 0, got {self.per_type}, {self.navigate}")


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A scenario file (see the module docstring)."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    world: str
    name: str = ""
    description: str = ""
    seed: int = 0
    exploration: ExplorationSpec = field(default_factory=ExplorationSpec)
    retriever: Literal["flat", "forest", "llm"] = "forest"
    generator: Literal["template", "llm"] = "template"
    top_k: int = 5
    llm: LLMConfig | None = None
    queries: tuple[QuerySpec, ...] = ()
    goals: tuple[GoalSpec, ...] = ()
    generated: GeneratedSpec | None = None
    save_memory: bool = True
    config: str = ""  # lab config YAML: the simulator's sensors and the memory's perception (e.g. geometric)

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= 100:
            raise ScenarioError(f"top_k must be 1..100, got {self.top_k}")
        if any(c in self.name for c in "/\\") or self.name in (".", ".."):
            raise ScenarioError(f"name must not be a path (it names the output folder), got {self.name!r}")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; ``ScenarioError`` names the file and line of the problem."""
    p = Path(path)
    try:
        doc = load_yaml(p)
    except ConfigError as e:
        raise ScenarioError(str(e)) from None
    if doc.data is None:
        raise ScenarioError(f"{p}: the scenario is empty (it needs at least 'world: SPEC')")
    try:
        sc = from_dict(Scenario, doc.data, where="scenario", lines=doc.lines)
    except ConfigError as e:  # line-numbered already; re-raised as the scenario's own error type
        raise ScenarioError(str(e)) from None
    _check_world(sc, doc.lines)
    needs = [k for k, v in (("retriever", sc.retriever), ("generator", sc.generator)) if v == "llm"]
    needs += ["generated.retrievers"] if "llm" in (sc.generated.retrievers if sc.generated else ()) else []
    if needs and sc.llm is None:
        raise ScenarioError(f"{doc.lines.where((needs[0].split('.')[0],))}: {needs[0]} 'llm' needs an 'llm' "
                            "section (base_url, model)")
    if not sc.name:
        sc = replace(sc, name=p.stem)
    if sc.config:
        cfg = p.parent / sc.config if (p.parent / sc.config).is_file() else Path(sc.config)
        if not cfg.is_file():
            raise ScenarioError(f"{doc.lines.where(('config',))}: config file {sc.config!r} not found "
                                f"(relative to {p.parent})")
        sc = replace(sc, config=str(cfg))
    return sc


def _check_world(sc: Scenario, lines: LineMap) -> None:
    from sim.loader import world_config
    from sim.spec import parse_spec

    try:
        spec = parse_spec(sc.world)
        if spec.kind not in ("file", "habitat"):
            world_config(spec)
        elif spec.kind == "file" and not Path(spec.path).is_file():
            raise ScenarioError(f"scene file {spec.path} does not exist")
    except LabError as e:
        raise ScenarioError(f"{lines.where(('world',))}: world: {e}") from None


def default_out_dir(scenario: Scenario) -> Path:
    """``out/<scenario name>`` under the current folder."""
    return Path("out") / scenario.name


@dataclass
class ScenarioReport:
    """What a run wrote: ``report_path`` (report.md), ``json_path`` and the checks' tally."""

    scenario: Scenario
    out_dir: Path
    report_path: Path
    json_path: Path
    checks_passed: int
    checks_total: int
    seconds: float
    data: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.checks_passed == self.checks_total


# ------------------------------------------------------------------------------------------ checks
def _expected_query(expect: Expectation, info: Any) -> GroundTruthQuery | None:
    """The expectation as a ground-truth query for ``score_hits`` (None: it does not say where)."""
    if not expect.locates:
        return None
    cats = {c.lower() for c in expect.categories}
    objs = [o for o in info.objects if o.category.lower() in cats]
    targets = [(*map(float, o.position), int(o.floor)) for o in objs]
    if expect.near is not None:
        near = expect.near
        targets.append((float(near[0]), float(near[1]), 0.0, int(near[2]) if len(near) > 2 else 0))
    return GroundTruthQuery("expect", "", "explicit", "expect", tuple(o.id for o in objs), tuple(targets))


def check_answer(expect: Expectation, response: Any, info: Any, instance_of: dict[str, int | None]) -> dict[str, Any]:
    """Whether a ``QueryResponse`` meets ``expect``: ``{"passed", "why"}``."""
    reasons = []
    qtype = response.analysis.type.value
    if expect.type is not None and qtype != expect.type:
        reasons.append(f"type {qtype}, expected {expect.type}")
    gq = _expected_query(expect, info)
    if gq is not None:
        if not gq.targets:
            reasons.append(f"the world has no {' or '.join(expect.categories)}")
        else:
            s = score_hits(gq, response.result.hits, instance_of, radius=expect.radius)
            if not (s.top1 if expect.top1 else s.topk):
                reasons.append("the top hit is not the expected object" if expect.top1 else
                               f"none of the top {len(response.result.hits)} hits is the expected object")
    low = response.answer.text.lower()
    missing = [w for w in expect.answer_contains if w.lower() not in low]
    if missing:
        reasons.append(f"the answer does not mention {', '.join(missing)}")
    return {"passed": not reasons, "why": "; ".join(reasons)}


# ------------------------------------------------------------------------------------------ the run
def _drain_into(gen, stage: str, base: int, span: int, total: int, label: str):
    """Re-yield a sub-generator's progress inside [base, base + span) of ``total``; returns its value."""
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        frac = (p.done / p.total) if p.total else 0.0
        yield Progress(stage, base + int(span * min(1.0, frac)), total, f"{label}{p.message}")


class _Run:
    """One run of a scenario: the session, the questions, the drives and the figures."""

    TOTAL = 100

    def __init__(self, sc: Scenario, out: Path, cancel: CancelToken | None) -> None:
        self.sc, self.out, self.cancel = sc, out, cancel
        self.session: Any = None
        self.at = 0  # progress so far, of TOTAL

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.cancelled:
            raise Cancelled()

    def execute(self) -> Generator[Progress, None, dict[str, Any]]:
        from app.config import LabConfig
        from app.query import QueryConfig, QueryEngine
        from app.session import Session
        from memory.core import MemoryConfig
        from memory.llm import ChatClient

        sc, total = self.sc, self.TOTAL
        yield Progress("scenario", 0, total, f"building {sc.world}")
        # text questions only: no image encoder, so runs do not depend on optional image weights
        config = LabConfig(llm=sc.llm, memory=replace(MemoryConfig(), image_encoder=None))
        if sc.config:  # its sensors and perception (geometric perception builds its own image encoder)
            from app.config import load_lab_config

            lab = load_lab_config(sc.config)
            config = replace(lab, llm=sc.llm or lab.llm, memory=replace(lab.memory, image_encoder=None))
        self.session = s = Session(sc.world, config=config, seed=sc.seed)
        exploration = yield from self._explore()
        self._check_cancel()
        explored = len(s.trajectory)
        client = ChatClient(sc.llm) if sc.llm is not None else None
        engine = QueryEngine(s.memory, config=QueryConfig(retriever=sc.retriever, generator=sc.generator,
                                                          top_k=sc.top_k), llm=client).warm()
        instance_of = {o.id: o.instance_hint for o in s.memory.graph.objects()}
        questions, drives = [], []
        for n, q in enumerate(sc.queries):
            self._check_cancel()
            self.at = 50 + 20 * n // max(1, len(sc.queries))
            yield Progress("scenario", self.at, total, f"asking: {q.text}")
            questions.append((yield from self._ask(engine, q, instance_of, drives)))
        goals = []
        for n, g in enumerate(sc.goals):
            self._check_cancel()
            where = g.name or f"({g.x:g}, {g.y:g})"
            yield Progress("scenario", 70 + 10 * n // max(1, len(sc.goals)), total, f"driving to {where}")
            goals.append(self._drive_to_goal(g, drives))
        records, accuracy = [], []
        if sc.generated is not None:
            records, accuracy = yield from self._generated(engine)
        elif any(q.get("check") for q in questions):
            accuracy = _check_rows(questions, sc.retriever)
        self._check_cancel()
        yield Progress("scenario", 92, total, "drawing the report")
        plots = self._plots(explored, drives, questions, accuracy)
        memory_path = None
        if sc.save_memory:
            memory_path = self._save_memory()
        passed = sum(1 for q in questions if q.get("check") and q["check"]["passed"])
        checked = sum(1 for q in questions if q.get("check"))
        yield Progress("scenario", total, total, "done")
        return {"exploration": exploration, "queries": questions, "goals": goals, "generated": records,
                "accuracy": accuracy, "plots": plots, "memory_path": memory_path,
                "checks": {"passed": passed, "total": checked}}

    def _explore(self) -> Generator[Progress, None, dict[str, Any]]:
        from sim.policies import Waypoint, WaypointFollower

        s, ex = self.session, self.sc.exploration
        if ex.policy == "none":
            s.memory.refresh()
            return {"policy": "none", "steps": 0, "stop_reason": "no exploration", "coverage": None,
                    "memory": s.memory.stats()}
        policy = None
        if ex.policy == "waypoints":
            wps = [Waypoint(float(w[0]), float(w[1]), int(w[2]) if len(w) > 2 else None) for w in ex.waypoints]
            policy = WaypointFollower.for_simulator(s.sim, wps)
        summary = yield from _drain_into(s.explore(ex.steps, self.cancel, policy=policy), "scenario", 2, 48,
                                         self.TOTAL, "exploring: ")
        ep = summary.episode
        out = {"policy": ex.policy, "steps": ep.steps, "stop_reason": ep.stop_reason,
               "coverage": None if ep.coverage is None else round(ep.coverage.total, 4),
               "distance_m": round(ep.distance, 2), "collisions": ep.collisions, "memory": summary.stats,
               "seconds": round(summary.seconds, 2)}
        if policy is not None:
            out["waypoints"] = [r.to_dict() for r in policy.reports]
        return out

    def _ask(self, engine: Any, q: QuerySpec, instance_of: dict, drives: list) -> Generator[Progress, None, dict]:
        from app.query import QueryRequest

        s = self.session
        resp = engine.ask(QueryRequest(text=q.text, robot=s.observation.pose), cancel=self.cancel)
        rec = resp.to_json()
        rec["check"] = check_answer(q.expect, resp, s.scene.info, instance_of) if q.expect is not None else None
        rec["nav"] = None
        if q.navigate:
            yield Progress("scenario", self.at, self.TOTAL, f"driving to the answer of: {q.text}")
            rec["nav"] = self._drive_to_answer(resp, q.expect, drives)
        return rec

    def _drive_to_answer(self, resp: Any, expect: Expectation | None, drives: list) -> dict[str, Any]:
        from app.eval.metrics import judge, region_shortest_length
        from app.progress import drain
        from app.robot.navigation import drive_to
        from sim.types import ObjectInfo

        s, a = self.session, resp.answer
        start = s.observation.pose
        objects: list = []
        if expect is not None and expect.locates:
            cats = {c.lower() for c in expect.categories}
            objects = [o for o in s.scene.info.objects if o.category.lower() in cats]
            if expect.near is not None:
                x, y = float(expect.near[0]), float(expect.near[1])
                f = int(expect.near[2]) if len(expect.near) > 2 else 0
                objects.append(ObjectInfo(-1, "point", floor=f, position=(x, y, 0.0), bbox_min=(x, y, 0.0),
                                          bbox_max=(x, y, 0.0)))
        if a.goal is None:
            return {"success": False if objects else None, "spl": 0.0 if objects else None,
                    "stop_reason": "no goal in the answer", "steps": 0, "path_length_m": 0.0, "distance_m": None,
                    "judged_against": "the expected objects" if objects else "not judged"}
        floor = a.goal_floor if a.goal_floor is not None else s.scene.info.floor_of_z(float(a.goal[2]))
        res = drain(drive_to(s, a.goal, int(floor), cancel=self.cancel))
        drives.append(res.trajectory)
        if not objects:  # no world-side truth given: the drive is reported, not judged (the answer's own
            d = res.to_dict()  # goal is no test of whether the robot went to the right thing)
            return {**d, "reached_goal": d["success"], "success": None, "spl": None,
                    "distance_m": d["final_distance_m"], "judged_against": "not judged"}
        shortest = region_shortest_length(s.sim.navmap, start, objects, radius=expect.radius)
        out = judge(res, objects, shortest, start, goal=res.goal, goal_floor=int(floor), radius=expect.radius)
        return {**out.to_dict(), "judged_against": "the expected objects"}

    def _drive_to_goal(self, g: GoalSpec, drives: list) -> dict[str, Any]:
        from app.progress import drain
        from app.robot.navigation import drive_to

        res = drain(drive_to(self.session, (g.x, g.y, 0.0), g.floor, cancel=self.cancel))
        drives.append(res.trajectory)
        return {"name": g.name, "x": g.x, "y": g.y, "floor": g.floor, **res.to_dict()}

    def _generated(self, engine: Any) -> Generator[Progress, None, tuple[list, list]]:
        from app.eval.harness import nav_subset, score_queries, summarise
        from app.eval.metrics import Navigator
        from app.eval.queries import generate_queries, sightings_from_memory

        g, s = self.sc.generated, self.session
        assert g is not None
        queries = generate_queries(s.scene.info, seed=g.seed, per_intent=1, max_per_type=g.per_type, types=g.types,
                                   sightings=sightings_from_memory(s.memory), seen_only=True)
        retrievers = g.retrievers or (self.sc.retriever,)
        nav = Navigator(s) if g.navigate > 0 else None
        try:
            gen = score_queries(engine, queries, retrievers, info=s.scene.info, top_k=self.sc.top_k, nav=nav,
                                nav_ids=nav_subset(queries, g.navigate), cancel=self.cancel)
            while True:
                try:
                    done, n, msg = next(gen)
                except StopIteration as stop:
                    records = stop.value
                    break
                yield Progress("scenario", 80 + 12 * done // max(1, n), self.TOTAL, f"generated questions: {msg}")
        finally:
            if nav is not None:
                nav.close()
        return records, summarise(records, retrievers)

    def _plots(self, explored: int, drives: list, questions: list, accuracy: list) -> dict[str, str]:
        from app.eval.report import plot_eval_accuracy, plot_forest_levels, plot_hits, plot_trajectory

        s, sc, out = self.session, self.sc, self.out
        plots = {"trajectory": str(plot_trajectory(out / "trajectory.png", s.scene, s.trajectory[:explored],
                                                   mapper=s.mapper, drives=drives,
                                                   title=f"{sc.name}: {sc.world}")),
                 "forest": str(plot_forest_levels(out / "forest.png", s.scene, s.memory))}
        if questions:
            plots["hits"] = str(plot_hits(out / "hits.png", s.scene, questions, title=f"{sc.name}: hits"))
        if accuracy:
            retrievers = list(dict.fromkeys(r["retriever"] for r in accuracy))
            plots["accuracy"] = str(plot_eval_accuracy(accuracy, retrievers, out / "accuracy.png",
                                                       title=f"{sc.name}: accuracy per query type"))
        return plots

    def _save_memory(self) -> str:
        target = self.out / "memory.db"
        for suffix in ("", "-wal", "-shm"):  # a previous run's file would be merged into, not replaced
            Path(str(target) + suffix).unlink(missing_ok=True)
        self.session.memory.save_as(target)
        return str(target)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


def _check_rows(questions: list[dict], retriever: str) -> list[dict[str, Any]]:
    """Accuracy rows from the checked questions (pass = right), per analysed type and overall."""
    rows = []
    checked = [q for q in questions if q.get("check")]
    for t in [*QUERY_TYPES, "all"]:
        mine = [q for q in checked if t == "all" or q["query_type"] == t]
        if not mine:
            continue
        ok = sum(q["check"]["passed"] for q in mine) / len(mine)
        navs = [q["nav"] for q in mine if q.get("nav") and q["nav"].get("success") is not None]  # judged drives
        spls = [n["spl"] for n in navs if n.get("spl") is not None]
        rows.append({"type": t, "retriever": retriever, "n": len(mine), "top1": round(ok, 3), "topk": round(ok, 3),
                     "nav_n": len(navs), "nav_success": round(sum(n["success"] for n in navs) / len(navs), 3)
                     if navs else None, "spl": round(sum(spls) / len(spls), 3) if spls else None})
    return rows


def run_scenario(path: str | Path, out_dir: str | Path | None = None, cancel: CancelToken | None = None
                 ) -> Generator[Progress, None, ScenarioReport]:
    """Run a scenario file and write its report (see the module docstring)."""
    t0 = time.perf_counter()
    sc = load_scenario(path)
    out = Path(out_dir) if out_dir is not None else default_out_dir(sc)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ScenarioError(f"cannot create the output folder {out}: {e.strerror or e}") from None
    run = _Run(sc, out, cancel)
    try:
        data = yield from run.execute()
    finally:
        run.close()
    data["seconds"] = round(time.perf_counter() - t0, 2)
    data["scenario"] = {**to_dict(sc), "llm": None if sc.llm is None else {"base_url": sc.llm.base_url,
                                                                           "model": sc.llm.model}}
    json_path = out / "report.json"
    try:
        json_path.write_text(json.dumps(data, indent=1), encoding="utf-8")
        from app.eval.report import write_scenario_markdown

        md = write_scenario_markdown(data, out / "report.md")
    except OSError as e:
        raise ScenarioError(f"cannot write the report to {out}: {e.strerror or e}") from None
    checks = data["checks"]
    log.info("scenario %s: %d of %d checks passed; report %s", sc.name, checks["passed"], checks["total"], md)
    return ScenarioReport(sc, out, md, json_path, checks["passed"], checks["total"], data["seconds"], data)
