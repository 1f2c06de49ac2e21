"""``launcher.py explore --scene SPEC --steps N --out MEM.db [--seed S] [--config YAML] [--json]``.

Explores a world headless and writes the memory file (checkpointed every few seconds, so an
interrupted run keeps what it had). An existing memory file of the same world is continued.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from app.config import load_lab_config
from app.progress import run_with_progress
from app.session import ExploreSummary, Session
from memory.file_lock import writer_lock
from memory.store import MemoryStore
from memory.store_file import check_writable
from sim.errors import LabError

log = logging.getLogger(__name__)

__all__ = ["cmd_explore", "format_summary"]


class ExploreCommandError(LabError):
    """Bad arguments to ``explore``."""


def _check_existing(out: Path, scene: str) -> bool:
    """True when ``out`` holds a memory to continue; refuses a memory of another world."""
    if not out.exists():
        return False
    with MemoryStore.open(out, create=False, readonly=True) as store:
        held = store.get_meta("scene")
    if held and held != scene:
        raise ExploreCommandError(f"{out} holds the memory of {held!r}, not {scene!r}; choose another --out")
    return True


def format_summary(scene: str, s: ExploreSummary) -> str:
    ep = s.episode
    st = s.stats
    lv = st["levels"]
    lines = [f"explored   {scene}: {ep.steps} steps ({ep.stop_reason}) in {s.seconds:.1f} s, "
             f"{s.steps_per_second:.1f} steps/s"]
    if ep.coverage is not None:
        per = ", ".join(f"floor {f}: {v:.0%}" for f, v in sorted(ep.coverage.per_floor.items()))
        lines.append(f"coverage   {ep.coverage.total:.1%} of {ep.coverage.area_m2:.0f} m² ({per})")
    lines.append(f"driving    {ep.distance:.1f} m, {ep.collisions} collisions")
    lines.append(f"memory     {st['places']} places, {st['objects']} objects; forest: {lv.get('0', 0)} leaves, "
                 f"{lv.get('1', 0)} areas, {lv.get('2', 0)} rooms, {lv.get('3', 0)} floors, {lv.get('4', 0)} site")
    if s.memory_path:
        size = Path(s.memory_path).stat().st_size if Path(s.memory_path).exists() else 0
        lines.append(f"wrote      {s.memory_path} ({size / 1e6:.1f} MB)")
    return "\n".join(lines)


def cmd_explore(args: argparse.Namespace) -> int:
    if args.steps <= 0:
        raise ExploreCommandError(f"--steps must be a positive number, got {args.steps}")
    out = Path(args.out)
    if out.suffix.lower() not in (".db", ".sqlite", ".sqlite3"):
        raise ExploreCommandError(f"--out must name a memory file ending in .db, got {out}")
    if not out.parent.exists():
        raise ExploreCommandError(f"--out folder {out.parent} does not exist")
    # one writer per memory file, and a file that cannot be written is refused before exploring
    with writer_lock(out):
        check_writable(out)
        config = load_lab_config(args.config)
        from sim.loader import load_scene

        scene = load_scene(args.scene)
        resumed = _check_existing(out, scene.spec or args.scene)
        with Session(scene, config=config, memory_path=out, seed=args.seed) as session:
            if resumed:
                print(f"continuing the memory in {out} ({session.memory.stats()['objects']} objects)",
                      file=sys.stderr)
            summary = run_with_progress(session.explore(args.steps), desc="explore")
    if args.json:
        print(json.dumps({"scene": args.scene, **summary.to_dict()}, indent=2))
    else:
        print(format_summary(args.scene, summary))
    return 0
