"""``launcher.py world SPEC --out DIR [--json]``: build or load a world, export it, map it, summarise it.

Writes ``<name>.glb`` and ``<name>.semantic.json`` (``sim.mesh_io.export_scene``) and ``<name>.map.png``
(``sim.topdown.save_topdown_png``, rooms and objects labelled, navigable area shaded) into ``--out``, then
prints a summary (text, or one JSON object with ``--json``). Bad input raises ``LabError`` subclasses, which
the launcher prints as one line with exit code 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from pathlib import Path

from sim.errors import SimError
from sim.loader import load_scene
from sim.mesh_io import SceneExportError, export_scene
from sim.navmap import NavMap
from sim.scene import Scene
from sim.topdown import save_topdown_png

log = logging.getLogger(__name__)

__all__ = ["cmd_world", "world_summary", "build_world"]


def build_world(spec: str, out_dir: str | Path) -> dict:
    """Load or generate ``spec``, write mesh, sidecar and map into ``out_dir``; return the summary dict."""
    out = _prepare_out(Path(out_dir))
    t0 = time.perf_counter()
    scene = load_scene(spec)
    gen_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    navmap = NavMap.from_scene(scene)
    area = navmap.navigable_area(scene.start)
    nav_s = time.perf_counter() - t1
    files = export_scene(scene, out)
    stem = files["mesh"].stem
    try:
        files["map"] = save_topdown_png(out / f"{stem}.map.png", scene, navmap=navmap)
    except OSError as e:
        raise SceneExportError(f"cannot write the map to {out}: {e.strerror or e}") from None
    summary = world_summary(scene, navigable_area=area, generation_s=gen_s)
    summary["navmap_s"] = round(nav_s, 3)
    summary["total_s"] = round(time.perf_counter() - t0, 3)
    summary["files"] = {k: str(v) for k, v in files.items()}
    return summary


def world_summary(scene: Scene, *, navigable_area: float | None = None, generation_s: float | None = None) -> dict:
    """Plain-data description of a scene: rooms per type, object counts, floors, triangles, area."""
    rooms = Counter(r.type for r in scene.info.rooms)
    cats = Counter(o.category for o in scene.info.objects)
    return {
        "name": scene.name,
        "kind": scene.info.kind,
        "spec": scene.spec,
        "outdoor": scene.info.outdoor,
        "rooms": {"count": len(scene.info.rooms), "types": dict(sorted(rooms.items(), key=lambda kv: (-kv[1], kv[0])))},
        "objects": {"count": len(scene.info.objects), "categories": len(cats),
                    "top_categories": [[c, n] for c, n in sorted(cats.items(), key=lambda kv: (-kv[1], kv[0]))[:8]]},
        "floors": [f.to_dict() for f in scene.info.floors],
        "portals": len(scene.portals),
        "triangles": scene.mesh.n_triangles,
        "bounds": [[round(float(v), 3) for v in scene.info.bounds_min],
                   [round(float(v), 3) for v in scene.info.bounds_max]],
        "start": [round(v, 3) for v in scene.start.to_list()],
        "navigable_area_m2": None if navigable_area is None else round(float(navigable_area), 2),
        "generation_s": None if generation_s is None else round(float(generation_s), 3),
    }


def _prepare_out(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise SceneExportError(f"--out {out}: not a writable folder ({e.strerror or e})") from None
    return out


def _format(s: dict) -> str:
    lo, hi = s["bounds"]
    size = " x ".join(f"{b - a:.1f}" for a, b in zip(lo, hi, strict=True))
    rooms = ", ".join(f"{t} x{n}" if n > 1 else t for t, n in s["rooms"]["types"].items()) or "none"
    cats = ", ".join(f"{c} ({n})" for c, n in s["objects"]["top_categories"]) or "none"
    floors = ", ".join(f"{f['index']} @ {f['elevation']:.1f} m" for f in s["floors"])
    lines = [
        f"world      {s['name']} ({s['kind']}{', outdoor' if s['outdoor'] else ''})  spec: {s['spec']}",
        f"size       {size} m, {s['triangles']:,} triangles",
        f"floors     {len(s['floors'])}: {floors}" + (f"; {s['portals']} stairs/lifts" if s["portals"] else ""),
        f"rooms      {s['rooms']['count']}: {rooms}",
        f"objects    {s['objects']['count']} in {s['objects']['categories']} categories; top: {cats}",
        f"navigable  {s['navigable_area_m2']:.1f} m² reachable from the start "
        f"({s['start'][0]:.2f}, {s['start'][1]:.2f}, floor {int(s['start'][4])})",
        f"time       {s['generation_s']:.3f} s to build or load, {s['total_s']:.2f} s in all",
        "files",
    ]
    lines += [f"  {k:<10} {v}" for k, v in s["files"].items()]
    return "\n".join(lines)


def cmd_world(args: argparse.Namespace) -> int:
    """Entry point of the ``world`` subcommand; returns the exit code."""
    try:
        summary = build_world(args.spec, args.out)
    except MemoryError:
        raise SimError(f"{args.spec}: the world is too large to build in memory") from None
    if getattr(args, "json", False):
        print(json.dumps(summary))
    else:
        print(_format(summary))
    return 0
