"""What a GML import yields, and the pieces both importers (AirSim, street view) build it with.

``GmlImport`` holds the records; ``GmlNode`` is one parsed node; ``unique_id`` keeps ids unique;
``TimestampReader`` reads the files' dates (epoch numbers, ISO text, ``20241118_160313``, ``YYYY``,
``YYYY-MM``, ``YYYY-MM-DD``) and reports what it could not read in ONE line; ``build_forest`` turns
``part_of`` pairs into cluster records and membership rows, checking the tree and mapping the file's
level numbers onto ours.
"""
from __future__ import annotations

import ast
import logging
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memory.errors import GmlError
from memory.records_json import Record
from memory.store_types import SEES, EdgeRow, Membership
from memory.types import ClusterRecord, ObjectRecord, PlaceRecord, Relation

log = logging.getLogger(__name__)

__all__ = ["GmlImport", "GmlNode", "unique_id", "edge_distance", "number", "read_xyz", "TimestampReader",
           "build_forest"]


@dataclass(frozen=True, eq=False)
class GmlImport:
    """What a GML file describes, as memory records (positions in our frame, metres).

    ``sources`` keeps, per record id, the node's attributes as written in the file (street view: the
    source id, name, caption, image path, panorama id, heading, lon/lat and the date as text) so an
    export can write them back; ``image_paths`` maps place ids to image paths as written in the file.
    """

    places: tuple[PlaceRecord, ...]
    objects: tuple[ObjectRecord, ...]
    clusters: tuple[ClusterRecord, ...]
    relations: tuple[Relation, ...]
    traverse: tuple[EdgeRow, ...]
    membership: tuple[Membership, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)
    image_paths: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def sees(self) -> tuple[EdgeRow, ...]:
        """``sees`` edges place→object from the places' ``object_ids``."""
        return tuple(EdgeRow(p.id, o, SEES) for p in self.places for o in p.object_ids)

    @property
    def records(self) -> tuple[Record, ...]:
        return (*self.places, *self.objects, *self.clusters)


@dataclass(eq=False)
class GmlNode:
    """One parsed node: its id in the file, its attributes, type, our id and position (our frame)."""

    gml_id: Any
    attrs: dict[str, Any]
    kind: str = ""
    id: str = ""
    position: tuple[float, float, float] | None = None

    def describe(self) -> str:
        return f"node {self.gml_id!r} ({self.attrs.get('label', self.attrs.get('name', self.kind or 'node'))})"


def unique_id(wanted: str, taken: set[str], fallback: str) -> str:
    """``wanted`` when free, else ``fallback`` (then ``fallback.1``, ``.2`` ...); the id is marked taken."""
    nid = wanted if wanted and wanted not in taken else fallback
    k = 0
    while nid in taken:
        k += 1
        nid = f"{fallback}.{k}"
    taken.add(nid)
    return nid


def edge_distance(e: Mapping, a: GmlNode, b: GmlNode) -> float:
    d = e.get("distance")
    return float(d) if isinstance(d, (int, float)) else math.dist(a.position, b.position)


def number(attrs: Mapping[str, Any], key: str, default: float) -> float:
    v = attrs.get(key)
    return float(v) if isinstance(v, (int, float)) else default


def read_xyz(p: Path, n: GmlNode, *, required: bool = True) -> tuple[float, float, float] | None:
    """A node's ``position`` as written (a ``[x y z]`` block, a list or a list written as a string)."""
    pos = given = n.attrs.get("position")
    if isinstance(pos, str):
        try:
            pos = ast.literal_eval(pos)
        except (ValueError, SyntaxError):
            pos = None
    if isinstance(pos, dict):
        pos = [pos.get(k) for k in ("x", "y", "z")]
    if isinstance(pos, (list, tuple)) and len(pos) in (2, 3) and all(isinstance(c, (int, float)) for c in pos):
        return (float(pos[0]), float(pos[1]), float(pos[2]) if len(pos) == 3 else 0.0)
    if pos is None and not required:
        return None
    what = "has no position" if given is None else f"has an unreadable position {given!r}"
    raise GmlError(f"{p}: {n.describe()} {what}")


# ------------------------------------------------------------------------------------- timestamps
_PARTIAL_DATE = re.compile(r"(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?")


class TimestampReader:
    """Reads timestamps to seconds since the epoch (UTC); unknown ones read as 0.0 and are counted,
    so that one import reports them in one line (``report``) instead of one warning per node."""

    def __init__(self) -> None:
        self.unreadable: Counter[str] = Counter()
        self.missing = 0

    def read(self, v: Any) -> float:
        if isinstance(v, bool):
            v = None
        if isinstance(v, (int, float)):
            return float(v) if math.isfinite(v) else self._bad(str(v))
        if not isinstance(v, str) or not v.strip():
            self.missing += 1
            return 0.0
        s = v.strip()
        for fmt in ("%Y%m%d_%H%M%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
            try:
                return datetime.strptime(s, fmt).replace(tzinfo=UTC).timestamp()
            except ValueError:
                pass
        m = _PARTIAL_DATE.fullmatch(s)  # 2023, 2023-12, 2023-12-05 (street-view capture dates)
        if m:
            try:
                return datetime(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1),
                                tzinfo=UTC).timestamp()
            except ValueError:
                return self._bad(s)
        try:
            dt = datetime.fromisoformat(s)
            return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
        except ValueError:
            pass
        try:
            t = float(s)
        except ValueError:
            return self._bad(s)
        return t if math.isfinite(t) else self._bad(s)

    def _bad(self, s: str) -> float:
        self.unreadable[s] += 1
        return 0.0

    def report(self, source: str) -> dict[str, int]:
        """Log one warning line when some timestamps were unreadable; returns counts for the import meta."""
        n = sum(self.unreadable.values())
        if n:
            examples = ", ".join(repr(s) for s, _ in self.unreadable.most_common(3))
            log.warning("%s: %d timestamp%s unreadable, e.g. %s; %s read as 0 (unknown time)", source, n,
                        "s" if n != 1 else "", examples, "they" if n != 1 else "it")
        return {"unreadable": n, "missing": self.missing}


# ----------------------------------------------------------------------------------------- forest
def build_forest(p: Path, clusters: list[GmlNode], part_of: list[tuple[GmlNode, GmlNode]],
                 leaves: Mapping[str, Any]) -> tuple[list[ClusterRecord], list[Membership], dict[str, Any]]:
    """Cluster records with children, parents, counts and extents from ``part_of`` (child, parent) pairs;
    checks the tree (no unknown parents, no two parents, no cycles).

    Levels: the file's ``level`` numbers, renumbered 1, 2, 3 ... in their order when they skip numbers
    or start elsewhere (a cluster without a level gets its height above the leaves); whatever the depth,
    every cluster is kept. Returns the records, the membership rows and the level map for the import meta.
    """
    cluster_ids = {n.id for n in clusters}
    parent: dict[str, str] = {}
    children: dict[str, list[str]] = {n.id: [] for n in clusters}
    for child, par in part_of:
        if par.id not in cluster_ids:
            raise GmlError(f"{p}: part_of edge from {child.gml_id!r} points to {par.gml_id!r}, which is not a cluster")
        if child.id in parent and parent[child.id] != par.id:
            raise GmlError(f"{p}: node {child.gml_id!r} is part_of two clusters ({parent[child.id]}, {par.id})")
        if child.id not in parent:
            parent[child.id] = par.id
            children[par.id].append(child.id)
    for start in parent:
        seen, cur = [start], start
        while cur in parent:
            cur = parent[cur]
            if cur in seen:
                loop = " -> ".join(seen[seen.index(cur):] + [cur])
                raise GmlError(f"{p}: part_of edges form a cycle: {loop}")
            seen.append(cur)
    by_id = {n.id: n for n in clusters}
    below: dict[str, list[str]] = {}
    heights: dict[str, int] = {}

    def leaves_below(cid: str) -> list[str]:
        """Leaves under ``cid`` in depth-first order, children in the order the file lists them."""
        stack, out = [cid], []
        while stack:
            node = stack.pop()
            if node in by_id:
                stack.extend(reversed(children[node]))
            elif node in leaves:
                out.append(node)
        return out

    def height(cid: str) -> int:
        if cid not in heights:
            heights[cid] = 1 + max((height(c) for c in children[cid] if c in by_id), default=0)
        return heights[cid]

    for n in clusters:
        below[n.id] = leaves_below(n.id)
    file_level = {n.id: int(n.attrs["level"]) if isinstance(n.attrs.get("level"), (int, float))
                  and not isinstance(n.attrs.get("level"), bool) else None for n in clusters}
    given = sorted({lv for lv in file_level.values() if lv is not None and lv > 0})
    level_map = {lv: k + 1 for k, lv in enumerate(given)}
    records = []
    for n in clusters:
        lv_ids = below[n.id]
        pts = [leaves[i].position for i in lv_ids]
        if n.position is None:
            if not pts:
                raise GmlError(f"{p}: cluster {n.gml_id!r} has no position and no leaves below it")
            n.position = tuple(sum(c) / len(pts) for c in zip(*pts, strict=True))
        counts = Counter(getattr(leaves[i], "label", "") for i in lv_ids)
        counts.pop("", None)
        fl = file_level[n.id]
        level = level_map[fl] if fl is not None and fl > 0 else height(n.id)
        stamps = [_leaf_time(leaves[i]) for i in lv_ids]
        records.append(ClusterRecord(
            id=n.id, level=level, name=str(n.attrs.get("name", "") or n.attrs.get("label", n.id)).replace("_", " "),
            summary=str(n.attrs.get("summary", "")), position=n.position, floor=int(n.attrs.get("floor", 0)),
            children=tuple(children[n.id]), parent=parent.get(n.id), n_leaves=len(lv_ids),
            counts=tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            room_type=str(n.attrs.get("room_type", "")),
            bbox_min=tuple(min(c) for c in zip(*pts, strict=True)) if pts else n.position,
            bbox_max=tuple(max(c) for c in zip(*pts, strict=True)) if pts else n.position,
            first_seen=min(stamps, default=0.0), last_seen=max(stamps, default=0.0)))
    level_of = {r.id: r.level for r in records}
    membership = [Membership(c, par, level_of[par]) for c, par in parent.items()]
    levels = {"file": {str(lv): sum(1 for v in file_level.values() if v == lv) for lv in given},
              "map": {str(lv): ours for lv, ours in level_map.items()},
              "ours": {str(lv): n for lv, n in sorted(Counter(level_of.values()).items())}}
    return records, membership, levels


def _leaf_time(rec: Any) -> float:
    return rec.timestamp if isinstance(rec, PlaceRecord) else rec.first_seen
