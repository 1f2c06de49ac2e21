"""``launcher.py navigate | run | eval``: drive to a remembered answer, run a scenario, evaluate retrievers.

* ``navigate --scene SPEC MEM.db "question" [--retriever R] [--out DIR] [--config YAML] [--json]`` -
  answers the question from the memory file, drives the robot from the world's start to the
  answer's goal on the map it built while exploring, and reports success (ending within 1 m of a
  world object that satisfies the question: of ``--categories CAT ...`` when given, else of the
  category the question names in so many words; otherwise "not judged"), path length, SPL, steps
  and time. The memory
  file is only read: what the robot sees on the way is not saved.
* ``run SCENARIO.yaml [--out DIR]`` - ``app.eval.scenario``; exit code 1 when a check of the file failed.
* ``eval (--suite NAME | --scenes SPEC ...) --out DIR [--workers N] [--ray-address ADDR]
  [--retrievers ...] [--split dev|test] [--perception ...] [--config YAML]`` - ``app.eval.harness``;
  prints the markdown table. ``--suite building99 | cmu500``: the authors' imported data
  (``app.eval.real``; ``--split`` defaults to dev there).

Bad input raises ``LabError`` subclasses: the launcher prints one line and exits with 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.config import LabConfig, load_lab_config
from app.progress import run_with_progress
from sim.errors import LabError

log = logging.getLogger(__name__)

__all__ = ["cmd_navigate", "cmd_run", "cmd_eval", "NavigateCommandError", "navigate_once"]


class NavigateCommandError(LabError):
    """Bad arguments to ``navigate`` (missing memory file, another world's memory, empty question)."""


def _show_progress() -> bool:
    """Always report: a bar on a terminal, plain lines otherwise (``app.progress``)."""
    return True


# ---------------------------------------------------------------------------------------------- navigate
def _open_memory(db: Path, scene: Any, config: LabConfig):
    from memory.core import EmbodiedMemory
    from memory.store import MemoryStore

    if not db.is_file():
        raise NavigateCommandError(f"memory file {db} does not exist (make one with 'explore' or 'run')")
    with MemoryStore.open(db, create=False, readonly=True) as store:
        held = store.get_meta("scene")
    if held and scene.spec and held != scene.spec:
        raise NavigateCommandError(f"{db} holds the memory of {held!r}, not of --scene {scene.spec!r}")
    # read-only, no checkpoints: the drive's observations stay in RAM; text questions need no image encoder
    mc = config.memory
    mc = replace(mc, image_encoder=None, ingest=replace(mc.ingest, checkpoint_seconds=float("inf")))
    return EmbodiedMemory.open(db, mc, create=False, readonly=True)


def _names_literally(question: str, label: str) -> bool:
    import re

    return re.search(rf"(?<![a-z]){re.escape(label.lower())}(?:s|es)?(?![a-z])", question.lower()) is not None


def world_truth(question: str, analysis: Any, info: Any, categories: Any = None) -> tuple[list | None, str]:
    """The world objects a drive is judged against, and on what basis; ``(None, "not judged")``
    when the question names no object of the world and no ``categories`` are given.

    ``categories`` (world-side truth from the user): every object of those categories. Otherwise
    only a question that names its target in so many words ("where is the fridge?") is judged,
    against the world's objects of that category (with the colour / room / relation it names);
    an implicit question ("where can I nap?") or one whose target only the analyser's tables
    supply is not: judging it by the analyser's own reading would credit the analyser to itself."""
    from app.eval.metrics import satisfying_objects

    if categories:
        cats = {c.lower() for c in categories}
        objs = [o for o in info.objects if o.category.lower() in cats]
        if not objs:
            raise NavigateCommandError(f"the world has no {' or '.join(sorted(cats))} (--categories)")
        return objs, "the given categories"
    named = {lb.lower() for lb in getattr(analysis, "target_labels", ()) or () if _names_literally(question, lb)}
    if analysis.type.value in ("implicit", "global") or not named:
        return None, "not judged"
    objs = [o for o in satisfying_objects(analysis, info) or () if o.category.lower() in named]
    return (objs, "the objects the question names") if objs else (None, "not judged")


def navigate_once(scene_spec: str, db: str | Path, question: str, *, retriever: str = "forest",
                  config: LabConfig | None = None, out: str | Path | None = None, show: bool = False,
                  categories: Any = None) -> dict[str, Any]:
    """Answer ``question`` from ``db`` and drive there in ``scene_spec``; the JSON-ready report.
    Success is judged only against world objects (``world_truth``), otherwise "not judged"."""
    from app.eval.metrics import judge, nearest_satisfying, region_shortest_length
    from app.query import QueryEngine, QueryRequest
    from app.robot.navigation import drive_to
    from app.session import Session
    from memory.llm import ChatClient
    from sim.loader import load_scene

    if not question.strip():
        raise NavigateCommandError("the question is empty")
    cfg = config or LabConfig()
    if retriever == "llm" and cfg.llm is None:
        raise NavigateCommandError("--retriever llm needs an LLM server: add an 'llm' section (base_url, model) "
                                   "to a --config YAML file")
    scene = load_scene(scene_spec)
    memory = _open_memory(Path(db), scene, cfg)
    t0 = time.perf_counter()
    with Session(scene, config=replace(cfg, memory=memory.config), memory=memory) as s:
        client = ChatClient(cfg.llm) if cfg.llm is not None else None
        engine = QueryEngine(s.memory, config=cfg.query, llm=client).warm()
        start = s.observation.pose
        resp = engine.ask(QueryRequest(text=question, retriever=retriever, robot=start))
        out_json = resp.to_json()
        info = s.scene.info
        objects, basis = world_truth(question, resp.analysis, info, categories)
        a = resp.answer
        nav: dict[str, Any]
        result = None
        if a.goal is None:
            nav = {"success": False if objects else None, "stop_reason": "no goal in the answer", "steps": 0,
                   "path_length_m": 0.0, "judged_against": basis}
        else:
            floor = a.goal_floor if a.goal_floor is not None else info.floor_of_z(float(a.goal[2]))
            result = run_with_progress(drive_to(s, a.goal, int(floor)), show=show, desc="navigate")
            nav = result.to_dict()
            nav["goal_distance_m"] = nav.pop("final_distance_m")
            if objects:
                shortest = region_shortest_length(s.sim.navmap, start, objects)
                j = judge(result, objects, shortest, start, goal=result.goal, goal_floor=int(floor))
                nearest, d = nearest_satisfying(objects, result.final)
                nav.update(success=j.success, spl=None if j.spl is None else round(j.spl, 4),
                           shortest_length_m=None if shortest is None else round(shortest, 3),
                           final_distance_m=j.distance_m, judged_against=basis,
                           satisfying=[o.id for o in objects],
                           nearest=None if nearest is None else {"id": nearest.id, "name": nearest.description,
                                                                 "distance_m": round(d, 3)})
            else:  # reported, not judged: reaching the answer's own goal proves nothing
                nav.update(reached_goal=nav["success"], success=None, spl=None,
                           final_distance_m=nav["goal_distance_m"], judged_against=basis, satisfying=None)
        nav["seconds"] = round(time.perf_counter() - t0, 2)
        out_json["navigation"] = nav
        if out is not None:
            out_json["files"] = _write_route(Path(out), s.scene, start, result, objects, out_json)
    return out_json


def _write_route(out: Path, scene: Any, start: Any, result: Any, objects: Any, report: dict) -> dict[str, str]:
    import numpy as np

    from sim.topdown import Points, Polyline, save_topdown_png, trajectory_overlays

    try:
        out.mkdir(parents=True, exist_ok=True)
        extra: list = []
        for o in objects or []:
            extra.append(Points(np.array([o.position[:2]]), (40, 170, 80), 0.5, (), "s", label="satisfying object",
                                floor=o.floor))
        if result is not None:
            for f in sorted({p[2] for p in result.planned}):
                pts = np.array([[x, y] for x, y, fl in result.planned if fl == f])
                if len(pts) > 1:
                    extra.append(Polyline(pts, (240, 170, 40), 0.05, "planned", f))
            extra += trajectory_overlays(result.trajectory, label="driven")
            extra.append(Points(np.array([result.goal[:2]]), (200, 30, 60), 0.5, ("goal",), "x", label="goal",
                                floor=result.goal_floor))
        png = save_topdown_png(out / "route.png", scene, extra=extra, title=f"{report['query']}")
        js = out / "navigate.json"
        js.write_text(json.dumps(report, indent=1), encoding="utf-8")
    except OSError as e:
        raise NavigateCommandError(f"cannot write to {out}: {e.strerror or e}") from None
    return {"map": str(png), "report": str(js)}


def _nav_text(d: dict[str, Any]) -> str:
    n = d["navigation"]
    lines = [f"answer   {d['answer']}"]
    if d["goal"] is not None:
        g = d["goal"]
        lines.append(f"goal     ({g[0]:.2f}, {g[1]:.2f}, {g[2]:.2f}) floor {d['goal_floor']}")
    if n.get("stop_reason") == "no goal in the answer":
        lines.append("drive    nothing to drive to: the answer has no goal")
        return "\n".join(lines)
    spl = "–" if n.get("spl") is None else f"{n['spl']:.2f}"
    short = n.get("shortest_length_m")
    lines.append(f"drive    {n['stop_reason']} after {n['steps']} steps, {n['path_length_m']:.1f} m driven"
                 + (f" (shortest {short:.1f} m)" if short is not None else "") + f", SPL {spl}, {n['seconds']:.1f} s")
    near = n.get("nearest")
    if n["judged_against"] != "not judged":
        what = (f"{near['distance_m']:.2f} m from the {near['name']} (object {near['id']})" if near
                else "no satisfying object on this floor")
        lines.append(f"success  {'yes' if n['success'] else 'no'}: {what}; "
                     f"{len(n['satisfying'])} object(s) in the world satisfy the question")
    else:
        dist = n.get("final_distance_m")
        lines.append("success  not judged: the question names no object of the world (give --categories); "
                     + (f"ended {dist:.2f} m from the answer's goal" if dist is not None else "ended on another floor"))
    for name, path in d.get("files", {}).items():
        lines.append(f"{name:<8} {path}")
    return "\n".join(lines)


def cmd_navigate(args: argparse.Namespace) -> int:
    """Answer a question from a memory file and drive the robot to the answer."""
    config = load_lab_config(getattr(args, "config", None))
    d = navigate_once(args.scene, args.db, args.question, retriever=args.retriever, config=config, out=args.out,
                      show=_show_progress(), categories=getattr(args, "categories", None))
    print(json.dumps(d, ensure_ascii=False) if args.json else _nav_text(d))
    return 0


# ---------------------------------------------------------------------------------------------- run
def cmd_run(args: argparse.Namespace) -> int:
    """Run a scenario file; exit code 1 when one of its checks failed."""
    from app.eval.scenario import run_scenario

    report = run_with_progress(run_scenario(args.scenario, args.out), show=_show_progress(), desc="scenario")
    ok = "all passed" if report.ok else "SOME FAILED"
    print(f"scenario {report.scenario.name}: {report.checks_passed} of {report.checks_total} checks passed "
          f"({ok}) in {report.seconds:.1f} s")
    for q in report.data["queries"]:
        c = q.get("check")
        if c is not None and not c["passed"]:
            print(f"  failed: {q['query']!r}: {c['why']}")
    print(f"report   {report.report_path}")
    print(f"json     {report.json_path}")
    return 0 if report.ok else 1


# ---------------------------------------------------------------------------------------------- eval
def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate retrievers on a suite (or the given scenes); write results and print the table."""
    from dataclasses import replace

    from app.eval.harness import EvalOptions, evaluate, get_suite, suite_for_scenes

    config = load_lab_config(getattr(args, "config", None))
    if not args.scenes:
        from app.eval.real import REAL_SUITES, run_real_suite

        if args.suite in REAL_SUITES:  # the authors' imported data: questions only, no worlds to drive in
            report = run_with_progress(run_real_suite(args.suite, args.out, split=args.split or "dev",
                                                      retrievers=tuple(args.retrievers or ()), config=config),
                                       show=_show_progress(), desc=f"eval {args.suite}")
            from app.eval.real import render_real

            print(render_real(report))
            for name, path in report["files"].items():
                print(f"{name:<16} {path}")
            return 0
    suite = suite_for_scenes(args.scenes) if args.scenes else get_suite(args.suite)
    if getattr(args, "split", None):
        suite = replace(suite, split=args.split)
    if getattr(args, "perception", None):
        suite = replace(suite, perceptions=tuple(dict.fromkeys(args.perception)))
    options = EvalOptions(retrievers=tuple(args.retrievers or ()), workers=args.workers,
                          ray_address=args.ray_address, config=config)
    options.resolved_retrievers()  # bad names fail before any work
    result = run_with_progress(evaluate(suite, args.out, options), show=_show_progress(), desc=f"eval {suite.name}")
    print(result.markdown())
    for name, path in result.files.items():
        print(f"{name:<16} {path}")
    return 0
