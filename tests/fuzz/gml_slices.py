"""Small slices of the authors' GML files (Building99 and CMU street view), as seeds for GML fuzzing."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from memory.gml_format import _gml_value, parse_gml

DATA = Path(__file__).resolve().parents[2] / "assets" / "data"
FILES = {
    "b99_graph": DATA / "embodied-rag-building99" / "building99_graph.gml",
    "b99_forest": DATA / "embodied-rag-building99" / "building99_forest.gml",
    "cmu_graph": DATA / "embodied-rag-cmu500" / "CMU_500_streetview_graph.gml",
    "cmu_forest": DATA / "embodied-rag-cmu500" / "semantic_forest_CMU_500.gml",
}


@functools.cache
def _graph(name: str) -> list[tuple[str, Any]]:
    pairs = parse_gml(FILES[name].read_text(encoding="utf-8"), FILES[name].name)
    return next(v for k, v in pairs if k == "graph")


def _id(block: list[tuple[str, Any]]) -> Any:
    return next((v for k, v in block if k == "id"), None)


def slice_text(name: str, n_leaves: int = 12, n_clusters: int = 4) -> str:
    """The file's graph attributes, its first ``n_leaves`` nodes, its first ``n_clusters`` cluster nodes
    and the edges between kept nodes, as GML text."""
    g = _graph(name)
    attrs = [(k, v) for k, v in g if k not in ("node", "edge")]
    nodes = [v for k, v in g if k == "node"]
    clusters = [b for b in nodes if dict(b).get("type") == "cluster"][:n_clusters]
    kept = [b for b in nodes if dict(b).get("type") != "cluster"][:n_leaves] + clusters
    ids = {_id(b) for b in kept}
    edges = [v for k, v in g if k == "edge" and dict(v).get("source") in ids and dict(v).get("target") in ids]
    return "graph [\n" + pairs_text(attrs + [("node", b) for b in kept] + [("edge", e) for e in edges], 1) + "]\n"


def pairs_text(pairs: list[tuple[str, Any]], indent: int = 0) -> str:
    """GML text of parsed pairs (nested pair lists become ``[ ... ]`` blocks)."""
    pad = "  " * indent
    out = []
    for k, v in pairs:
        if isinstance(v, list):
            out.append(f"{pad}{k} [\n{pairs_text(v, indent + 1)}{pad}]\n")
        else:
            out.append(f"{pad}{k} {_gml_value(v)}\n")
    return "".join(out)
