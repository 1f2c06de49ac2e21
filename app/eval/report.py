"""Reports and plots of scenario runs and evaluations (matplotlib, Agg canvas only - no pyplot, no Qt).

Scenario runs (``app.eval.scenario``) write ``report.json`` and ``report.md`` with four figures:

* ``trajectory.png`` - the robot's path over the top-down map, with what it saw and its drives;
* ``forest.png`` - the semantic forest's levels (areas, rooms, floors): every leaf coloured by its
  cluster at that level, cluster names at their centroids, over the plan view of each floor;
* ``hits.png`` - each question's top hits (numbered like the questions) and the goal it chose;
* ``accuracy.png`` - top-1 / top-k per query type (and retriever).

The evaluation harness (``app.eval.harness``) uses ``plot_eval_accuracy``, ``plot_eval_navigation``
and ``plot_eval_latency``. Every function writes one PNG and returns its path.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["plot_eval_accuracy", "plot_eval_navigation", "plot_eval_latency", "plot_trajectory", "plot_hits",
           "plot_forest_levels", "write_scenario_markdown", "TYPE_ORDER"]

TYPE_ORDER = ("explicit", "implicit", "global", "temporal", "relational", "all")
_RETRIEVER_COLOURS = {"flat": "#8c8c8c", "forest": "#2e8b57", "llm": "#4169e1"}
_LEVEL_NAMES = {1: "areas (L1)", 2: "rooms (L2)", 3: "floors (L3)"}


def _figure(w: float, h: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | Path) -> Path:
    out = Path(path)
    fig.savefig(out, bbox_inches="tight")
    log.info("wrote %s", out)
    return out


def _colour(name: str, k: int) -> str:
    return _RETRIEVER_COLOURS.get(name, f"C{k}")


def _types(rows: Sequence[Mapping[str, Any]], skip: tuple[str, ...] = ()) -> list[str]:
    present = {r["type"] for r in rows}
    return [t for t in TYPE_ORDER if t in present and t not in skip]


def _grouped_bars(ax, rows, retrievers, types, key: str, *, hatch: str = "", alpha: float = 1.0,
                  label_suffix: str = "") -> None:
    width = 0.8 / max(1, len(retrievers))
    x = np.arange(len(types))
    for k, r in enumerate(retrievers):
        vals = []
        for t in types:
            row = next((x for x in rows if x["type"] == t and x["retriever"] == r), None)
            v = None if row is None else row.get(key)
            vals.append(np.nan if v is None else float(v))
        ax.bar(x + (k - (len(retrievers) - 1) / 2) * width, vals, width * 0.92, color=_colour(r, k), alpha=alpha,
               hatch=hatch, edgecolor="white" if not hatch else "black", linewidth=0.4, label=f"{r}{label_suffix}")
    ax.set_xticks(x, types, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)


def plot_eval_accuracy(rows: Sequence[Mapping[str, Any]], retrievers: Sequence[str], path: str | Path, *,
                       title: str = "Retrieval accuracy per query type") -> Path:
    """Top-1 (solid) and top-k (light) accuracy per query type, one bar per retriever."""
    fig = _figure(7.5, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    types = _types(rows)
    _grouped_bars(ax, rows, retrievers, types, "topk", alpha=0.35, label_suffix=" top-k")
    _grouped_bars(ax, rows, retrievers, types, "top1", label_suffix=" top-1")
    ax.set_ylabel("fraction correct")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


def plot_eval_navigation(rows: Sequence[Mapping[str, Any]], retrievers: Sequence[str], path: str | Path) -> Path:
    """Navigation success (solid) and SPL (hatched) per query type, one bar per retriever."""
    fig = _figure(7.5, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    nav_rows = [r for r in rows if r.get("nav_n")]
    types = _types(nav_rows, skip=("global",))
    if not types:
        ax.text(0.5, 0.5, "no navigation episodes", ha="center", va="center", transform=ax.transAxes)
    else:
        _grouped_bars(ax, nav_rows, retrievers, types, "nav_success", alpha=0.45, label_suffix=" success")
        _grouped_bars(ax, nav_rows, retrievers, types, "spl", hatch="//", label_suffix=" SPL")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Navigation to the answer: success (≤ 1 m from a satisfying object) and SPL", fontsize=10)
    return _save(fig, path)


def plot_eval_latency(records: Sequence[Mapping[str, Any]], retrievers: Sequence[str], path: str | Path) -> Path:
    """Latency per question (ms, log scale) per query type and retriever, as box plots."""
    fig = _figure(7.5, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    types = [t for t in TYPE_ORDER[:-1] if any(r["type"] == t for r in records)]
    width = 0.8 / max(1, len(retrievers))
    handles = []
    for k, name in enumerate(retrievers):
        data = [[r["latency_ms"] for r in records if r["retriever"] == name and r["type"] == t] or [np.nan]
                for t in types]
        pos = np.arange(len(types)) + (k - (len(retrievers) - 1) / 2) * width
        bp = ax.boxplot(data, positions=pos, widths=width * 0.8, patch_artist=True, showfliers=False,
                        manage_ticks=False)
        for box in bp["boxes"]:
            box.set_facecolor(_colour(name, k))
            box.set_alpha(0.7)
        handles.append(bp["boxes"][0])
    ax.set_xticks(np.arange(len(types)), types, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms per question")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(handles, list(retrievers), fontsize=7)
    ax.set_title("Latency: analysis + retrieval + answer", fontsize=10)
    return _save(fig, path)


# ------------------------------------------------------------------------------------------ scenario maps
def plot_trajectory(path: str | Path, scene: Any, trajectory: Sequence[Any], *, mapper: Any = None,
                    drives: Sequence[Sequence[Any]] = (), title: str = "") -> Path:
    """The exploration trajectory (red), the drives to answers (blue) and the robot's seen area."""
    from sim.topdown import Mask, Polyline, save_topdown_png, trajectory_overlays

    extra: list = []
    if mapper is not None:
        for f, fm in mapper.floors.items():
            extra.append(Mask.from_grid(fm.seen, fm.spec, colour=(60, 140, 230), alpha=0.25,
                                        label="seen by the robot", floor=f))
    extra += trajectory_overlays(list(trajectory), label="exploration")
    for k, d in enumerate(drives):
        poses = list(d)
        if len(poses) < 2:
            continue
        floors = [p.floor for p in poses]
        start = 0
        for i in range(1, len(poses) + 1):
            if i == len(poses) or floors[i] != floors[start]:
                pts = np.array([[p.x, p.y] for p in poses[start:i]])
                extra.append(Polyline(pts, (40, 90, 220), 0.07, "drive to an answer" if k == 0 and start == 0 else "",
                                      floors[start]))
                start = i
    return save_topdown_png(path, scene, extra=extra, title=title or f"{scene.name}: trajectory")


def plot_hits(path: str | Path, scene: Any, questions: Sequence[Mapping[str, Any]], *, title: str = "") -> Path:
    """Each question's hits (numbered like the questions, the top hit larger) and its goal (a star)."""
    from sim.topdown import Points, save_topdown_png

    extra: list = []
    for n, q in enumerate(questions, 1):
        hits = q.get("hits") or []
        for rank, h in enumerate(hits):
            pos = np.array([h["position"][:2]], dtype=np.float64)
            extra.append(Points(pos, (230, 120, 20) if rank == 0 else (250, 190, 120), 0.45 if rank == 0 else 0.25,
                                (f"Q{n}",) if rank == 0 else (), "o", label="top hit" if rank == 0 else "other hits",
                                floor=int(h.get("floor", 0))))
        goal = q.get("goal")
        if goal is not None:
            extra.append(Points(np.array([goal[:2]], dtype=np.float64), (200, 30, 60), 0.5, (), "x",
                                label="goal", floor=q.get("goal_floor")))
    return save_topdown_png(path, scene, labels=False, extra=extra, title=title or f"{scene.name}: retrieval hits")


def plot_forest_levels(path: str | Path, scene: Any, memory: Any, *, levels: Sequence[int] = (1, 2, 3)) -> Path:
    """One panel per forest level (columns) and floor (rows): leaves coloured by their cluster at
    that level over the plan view, cluster names at the cluster centroids."""
    from app.snapshots import forest_tree
    from sim.topdown import MapFrame, render_topdown

    tree = forest_tree(memory)
    floors = sorted(f.index for f in scene.info.floors)
    frame = MapFrame.for_scene(scene, 0.1)
    plans = {f: render_topdown(scene, f, frame=frame) for f in floors}
    aspect = frame.height / frame.width
    fig = _figure(4.2 * len(levels), 4.2 * aspect * len(floors) + 0.8)
    leaves = [n for n in tree.nodes.values() if n.level == 0]

    def ancestor(node, level):
        cur = node
        while cur is not None and cur.level < level:
            cur = tree.nodes.get(cur.parent) if cur.parent else None
        return cur if cur is not None and cur.level == level else None

    for row, f in enumerate(floors):
        for col, level in enumerate(levels):
            ax = fig.add_subplot(len(floors), len(levels), row * len(levels) + col + 1)
            ax.imshow(plans[f], extent=frame.extent, origin="upper", interpolation="nearest", alpha=0.55)
            clusters = sorted({a.id for n in leaves if n.floor == f and (a := ancestor(n, level)) is not None})
            colour_of = {cid: f"C{k % 10}" for k, cid in enumerate(clusters)}
            pts = [(n.position[0], n.position[1], colour_of.get(a.id, "#999999") if (a := ancestor(n, level)) else
                    "#999999") for n in leaves if n.floor == f]
            if pts:
                ax.scatter([p[0] for p in pts], [p[1] for p in pts], c=[p[2] for p in pts], s=6, linewidths=0)
            for cid in clusters:
                c = tree.nodes[cid]
                ax.plot(c.position[0], c.position[1], marker="*", color=colour_of[cid], markersize=9,
                        markeredgecolor="black", markeredgewidth=0.4)
                if level >= 2 or len(clusters) <= 25:
                    ax.annotate(c.name[:28], (c.position[0], c.position[1]), fontsize=5.5, ha="center",
                                va="bottom", xytext=(0, 4), textcoords="offset points")
            ax.set_xlim(frame.extent[0], frame.extent[1])
            ax.set_ylim(frame.extent[2], frame.extent[3])
            ax.set_aspect("equal")
            ax.tick_params(labelsize=6)
            name = _LEVEL_NAMES.get(level, f"level {level}")
            ax.set_title(f"{name}: {len(clusters)}" + (f" · floor {f}" if len(floors) > 1 else ""), fontsize=8)
    fig.suptitle(f"{scene.name}: semantic forest levels", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


# ------------------------------------------------------------------------------------------ scenario report
def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def write_scenario_markdown(data: Mapping[str, Any], path: str | Path) -> Path:
    """``report.md`` of a scenario run from its ``report.json`` content (plots by relative name)."""
    sc = data["scenario"]
    ex = data["exploration"]
    lines = [f"# Scenario `{sc['name']}`", ""]
    if sc.get("description"):
        lines += [sc["description"].strip(), ""]
    cov = ex.get("coverage")
    lines += [f"- world: `{sc['world']}` (seed {sc['seed']})",
              f"- exploration: {ex['policy']}, {ex['steps']} steps ({ex['stop_reason']})"
              + (f", coverage {100 * cov:.1f}%" if cov is not None else ""),
              f"- memory: {ex['memory']['objects']} objects, {ex['memory']['places']} places, "
              f"{ex['memory']['rooms']} rooms, {ex['memory']['floors']} floors"
              + (f" — saved as `{Path(data['memory_path']).name}`" if data.get("memory_path") else ""),
              f"- retriever `{sc['retriever']}`, generator `{sc['generator']}`, top-k {sc['top_k']}",
              f"- checks passed: {data['checks']['passed']} of {data['checks']['total']}", ""]
    plots = data.get("plots", {})
    if plots.get("trajectory"):
        lines += ["## Trajectory", "", f"![trajectory]({Path(plots['trajectory']).name})", ""]
    if data["queries"]:
        lines += ["## Questions", "", "| # | question | type | answer | top hit | check | drive |",
                  "|---|---|---|---|---|---|---|"]
        for n, q in enumerate(data["queries"], 1):
            top = q["hits"][0]["name"] if q["hits"] else "–"
            c = q.get("check")
            check = "–" if c is None else ("pass" if c["passed"] else "FAIL: " + c["why"])
            nav = q.get("nav")
            drive = "–" if nav is None else (("not judged" if nav["success"] is None else
                                              "reached" if nav["success"] else "missed")
                                             + f" ({_fmt(nav.get('distance_m'))} m, SPL {_fmt(nav.get('spl'))})")
            answer = q["answer"].replace("|", "/")
            answer = answer if len(answer) <= 120 else answer[:119] + "…"
            lines.append(f"| Q{n} | {q['query']} | {q['query_type']} | {answer} | {top} | {check} | {drive} |")
        lines.append("")
    if plots.get("hits"):
        lines += [f"![hits]({Path(plots['hits']).name})", ""]
    if data.get("goals"):
        lines += ["## Goals", "", "| goal | reached | distance m | path m | SPL | steps | stop |",
                  "|---|---|---|---|---|---|---|"]
        for g in data["goals"]:
            lines.append(f"| {g['name']} ({g['x']:.2f}, {g['y']:.2f}, floor {g['floor']}) | {_fmt(g['success'])} | "
                         f"{_fmt(g['final_distance_m'])} | {_fmt(g['path_length_m'])} | {_fmt(g['spl'])} | "
                         f"{g['steps']} | {g['stop_reason']} |")
        lines.append("")
    acc = data.get("accuracy") or []
    if acc:
        lines += ["## Accuracy per query type", "",
                  "| type | retriever | n | top-1 | top-k | nav n | nav success | SPL |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in acc:
            lines.append(f"| {r['type']} | {r['retriever']} | {r['n']} | {_fmt(r['top1'])} | {_fmt(r['topk'])} | "
                         f"{r['nav_n']} | {_fmt(r['nav_success'])} | {_fmt(r['spl'])} |")
        lines.append("")
    if plots.get("accuracy"):
        lines += [f"![accuracy]({Path(plots['accuracy']).name})", ""]
    if plots.get("forest"):
        lines += ["## Semantic forest", "", f"![forest]({Path(plots['forest']).name})", ""]
    lines += [f"Run in {data['seconds']:.1f} s.", ""]
    out = Path(path)
    out.write_text("\n".join(lines), encoding="utf-8")
    return out
