"""``launcher.py drive``: drive the robot in a world (explore, waypoints or keys) and report coverage.

``drive --scene SPEC (--explore | --waypoints "x,y;x,y" | --teleop) [--steps N] [--out DIR] [--json]``

Runs the policy with a progress bar on stderr, then prints steps, coverage, distance and
collisions (one JSON object with ``--json``). With ``--out`` it writes ``map.png`` (the plan
view with the trajectory and the robot's seen area) and ``summary.json``. Bad input raises a
``LabError`` subclass, which the launcher prints as one line with exit code 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from app.progress import run_with_progress
from app.robot.exploration import ExploreResult, explore
from sim.errors import ConfigError, UnreachableGoal
from sim.explore import FrontierExplorer
from sim.loader import load_scene
from sim.planner import Planner
from sim.policies import TeleopPolicy, Waypoint, WaypointFollower, parse_waypoints
from sim.scene import Scene
from sim.simulator import SimConfig, Simulator, make_simulator
from sim.types import Pose

log = logging.getLogger(__name__)

__all__ = ["cmd_drive", "read_waypoints", "check_waypoints", "write_outputs", "summarise"]

MAP_NAME = "map.png"
SUMMARY_NAME = "summary.json"


def read_waypoints(value: str) -> list[Waypoint]:
    """Waypoints from the ``--waypoints`` value: a file of ``x y [floor]`` lines, or ``"x,y;x,y"``."""
    path = Path(value)
    text = value
    try:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read waypoint file {value!r}: {e}") from None
    except ValueError:  # e.g. a NUL byte in the argument: not a path, parse it as a list
        pass
    return parse_waypoints(text)


def check_waypoints(planner: Planner, start: Pose, waypoints: list[Waypoint]) -> None:
    """Plan every leg on the ground-truth map before driving; ``UnreachableGoal`` names the first bad one."""
    here = start
    for k, wp in enumerate(waypoints, 1):
        floor = here.floor if wp.floor is None else wp.floor
        try:
            path = planner.plan(here, (wp.x, wp.y), floor)
        except UnreachableGoal as e:
            raise UnreachableGoal(f"waypoint {k} ({wp.x:g}, {wp.y:g}) cannot be reached: {e}") from None
        here = Pose(path.goal[0], path.goal[1], 0.0, 0.0, floor)


def _stdin_keys() -> Iterator[str]:
    """Lines of standard input as they are typed (or piped), until EOF."""
    yield from sys.stdin


def summarise(spec: str, mode: str, result: ExploreResult, policy) -> dict:
    """The JSON summary of a drive (without the trajectory)."""
    d = result.to_dict()
    d.pop("trajectory")
    d["keyframes"] = len(result.keyframes)
    out = {"scene": spec, "mode": mode, **d}
    reports = getattr(policy, "reports", None)
    if reports is not None:
        out["waypoints"] = [r.to_dict() for r in reports]
    return out


def write_outputs(out_dir: Path, scene: Scene, result: ExploreResult, summary: dict) -> dict:
    """Write the map PNG (trajectory + seen area) and the JSON summary; returns their paths."""
    from sim.topdown import Mask, save_topdown_png, trajectory_overlays

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        extra = []
        if result.mapper is not None:
            for f, fm in result.mapper.floors.items():
                extra.append(Mask.from_grid(fm.seen, fm.spec, colour=(60, 140, 230), alpha=0.35,
                                            label="seen by the robot", floor=f))
        extra += trajectory_overlays(result.trajectory)
        png = save_topdown_png(out_dir / MAP_NAME, scene, extra=extra,
                               title=f"{summary['scene']}: {summary['mode']}, {result.steps} steps")
        full = dict(summary)
        full["trajectory"] = result.to_dict()["trajectory"]
        full["keyframes"] = [k.to_dict() for k in result.keyframes]
        js = out_dir / SUMMARY_NAME
        js.write_text(json.dumps(full, indent=1), encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot write to {out_dir}: {e.strerror or e}") from None
    return {"map": str(png), "summary": str(js)}


def _policy(args: argparse.Namespace, sim: Simulator, waypoints: list[Waypoint] | None):
    if args.explore:
        return "explore", FrontierExplorer.for_simulator(sim)
    if waypoints is not None:
        nm = sim.navmap
        if nm is None:
            raise UnreachableGoal("this simulator has no navigable map to plan waypoints on")
        check_waypoints(Planner(nm), sim.pose, waypoints)
        return "waypoints", WaypointFollower.for_simulator(sim, waypoints)
    if sys.stdin.isatty():
        print("teleop: w/s forward/back, a/d turn, q quit; press Enter after one or more keys", file=sys.stderr)
    return "teleop", TeleopPolicy(_stdin_keys())


def _text(summary: dict) -> str:
    cov = summary.get("coverage")
    if cov is not None:
        floors = ", ".join(f"floor {k}: {v:.1%}" for k, v in cov["per_floor"].items())
        cov_s = f"coverage {cov['total']:.1%} ({floors})"
    else:
        cov_s = "coverage n/a"
    lines = [f"{summary['scene']} ({summary['mode']}): {summary['steps']} steps, {cov_s}, "
             f"distance {summary['distance_m']:.1f} m, {summary['collisions']} collisions",
             f"stopped: {summary['stop_reason']}"]
    for w in summary.get("waypoints", []):
        err = f", stopped {w['error']:.2f} m from it" if w["error"] is not None else ""
        if w.get("snapped"):
            err += f" (goal moved {w['snapped']:.2f} m to free space)"
        lines.append(f"waypoint {w['index'] + 1} ({w['x']:g}, {w['y']:g}): {w['status']}{err}")
    for name, path in summary.get("files", {}).items():
        lines.append(f"{name}: {path}")
    return "\n".join(lines)


def cmd_drive(args: argparse.Namespace) -> int:
    """Run ``drive``; returns the exit code (errors raise ``LabError`` subclasses)."""
    if args.steps <= 0:
        raise ConfigError(f"--steps must be a positive number of steps, got {args.steps}")
    waypoints = read_waypoints(args.waypoints) if args.waypoints is not None else None
    scene = load_scene(args.scene)
    with make_simulator(SimConfig(), scene) as sim:
        sim.reset()
        mode, policy = _policy(args, sim, waypoints)
        show = mode != "teleop"  # keys are read from the terminal: no bar over them
        result = run_with_progress(explore(sim, policy, args.steps), show=show, desc=f"drive ({mode})")
    summary = summarise(args.scene, mode, result, policy)
    if args.out:
        summary["files"] = write_outputs(Path(args.out), scene, result, summary)
    if args.json:
        print(json.dumps(summary))
    else:
        print(_text(summary))
    return 0
