"""Import and export of the Embodied-RAG authors' GML graphs and forests.

Two source formats are read:

* **AirSim** (``building99_graph.gml`` / ``building99_forest.gml``): ``drone`` pose nodes (position,
  yaw), ground-truth ``object`` nodes (engine labels such as ``chairOrange_lowBack33_123``),
  ``cluster`` nodes (level, name, summary, position) tied by ``part_of`` edges, spatial relation
  edges (``north``/``south``/``east``/``west`` with optional ``_above``/``_below``) and
  ``drone_path`` edges between consecutive poses.
* **Street view**: ``base`` leaves (name, caption, lon/lat position, image_path, timestamp) and
  ``cluster`` nodes with ``members``, ``summary`` and ``level``.

Frames. AirSim positions are NED (x north, y east, z down; yaw clockwise seen from above). They
become our right-handed z-up frame by the rotation ``(x, y, z) -> (x, -y, -z)`` and ``yaw -> -yaw``
(our +x is AirSim north, our +y AirSim west). The authors labelled relations on the raw
coordinates as if +x were east, +y north and +z up; after the rotation their ``east``/``west``
still hold, while ``north``/``south`` and ``above``/``below`` are swapped so that every imported
relation is true of the imported positions (export swaps them back). Geographic lon/lat become
metres east/north of the mean position (equirectangular; altitude minus its mean is z).

The file holds no captions for drone poses: each place gets an honest, deterministic caption
listing the objects within the file's ``detection_radius`` of the pose (5 m when absent).
Export writes our memory in the AirSim style, adding ``lab_id``, ``category``, ``caption`` ...
attributes so that re-importing an export gives back the same records.

GML is parsed by our own reader (``memory.gml_format``): networkx's ``read_gml`` builds an undirected
graph from these files and so loses the direction of ``part_of`` and relation edges. Label words live
in ``memory.gml_labels`` and the frame conversions in ``memory.gml_frames``; all are re-exported here.
"""
from __future__ import annotations

import ast
import dataclasses
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memory.errors import GmlError
from memory.gml_format import as_list, format_gml, group_pairs, parse_gml
from memory.gml_frames import EARTH_RADIUS_M, lonlat_to_local, ned_to_local, swap_relation
from memory.gml_labels import ParsedLabel, parse_label, plural_phrase
from memory.store import SEES, TRAVERSE, EdgeRow, Membership, MemorySnapshot, Record
from memory.types import ClusterRecord, ObjectRecord, PlaceRecord, Relation
from sim.types import Pose

log = logging.getLogger(__name__)

__all__ = ["GmlError", "GmlImport", "ParsedLabel", "import_gml", "export_gml", "parse_gml", "format_gml",
           "parse_label", "plural_phrase",
           "ned_to_local", "lonlat_to_local", "EARTH_RADIUS_M", "DEFAULT_DETECTION_RADIUS", "RAW_LABEL_PREFIX"]

DEFAULT_DETECTION_RADIUS = 5.0
RAW_LABEL_PREFIX = "label:"  # attribute keeping an object's label as written in the source file


# ------------------------------------------------------------------------------------ the import
@dataclass(frozen=True, eq=False)
class GmlImport:
    """What a GML file describes, as memory records (positions in our frame, metres)."""

    places: tuple[PlaceRecord, ...]
    objects: tuple[ObjectRecord, ...]
    clusters: tuple[ClusterRecord, ...]
    relations: tuple[Relation, ...]
    traverse: tuple[EdgeRow, ...]
    membership: tuple[Membership, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)
    image_paths: Mapping[str, str] = field(default_factory=dict)  # place id -> image path as in the file

    @property
    def sees(self) -> tuple[EdgeRow, ...]:
        """``sees`` edges place→object from the places' ``object_ids``."""
        return tuple(EdgeRow(p.id, o, SEES) for p in self.places for o in p.object_ids)

    @property
    def records(self) -> tuple[Record, ...]:
        return (*self.places, *self.objects, *self.clusters)


@dataclass(eq=False)
class _Node:
    gml_id: Any
    attrs: dict[str, Any]
    kind: str = ""
    id: str = ""
    position: tuple[float, float, float] | None = None


def import_gml(path: str | Path) -> GmlImport:
    """Read an Embodied-RAG GML file (AirSim or street-view format) into memory records.

    Raises ``GmlError`` with one clear line for a missing or unreadable file, text that is not GML,
    a graph without nodes, leaves without positions, unknown ``part_of`` targets and cycles.
    """
    p = Path(path)
    if not p.is_file():
        raise GmlError(f"GML file not found: {p}" if not p.exists() else f"{p} is not a file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise GmlError(f"{p} is not a GML file (not UTF-8 text)") from None
    except OSError as e:
        raise GmlError(f"cannot read {p}: {e.strerror or e}") from e
    try:
        top = parse_gml(text, p.name)
    except GmlError as e:
        raise GmlError(f"{p} is not a GML file ({e})") from None
    graphs = [v for k, v in top if k == "graph" and isinstance(v, list)]
    if not graphs:
        raise GmlError(f"{p} is not a GML graph (no 'graph [ ... ]' block)")
    attrs: dict[str, Any] = {}
    nodes: list[_Node] = []
    edges: list[dict[str, Any]] = []
    for k, v in graphs[0]:
        if k == "node" and isinstance(v, list):
            d = group_pairs(v)
            if "id" not in d:
                raise GmlError(f"{p}: node {len(nodes) + 1} has no id")
            nodes.append(_Node(d["id"], d, str(d.get("type", ""))))
        elif k == "edge" and isinstance(v, list):
            edges.append(group_pairs(v))
        elif not isinstance(v, list):
            attrs[k] = v
    if not nodes:
        raise GmlError(f"{p}: the graph has no nodes")
    ids = Counter(n.gml_id for n in nodes)
    dup = [i for i, c in ids.items() if c > 1]
    if dup:
        raise GmlError(f"{p}: node id {dup[0]!r} is used {ids[dup[0]]} times")
    types = Counter(str(n.attrs.get("type", "")) for n in nodes)
    if types["base"]:
        result = _import_streetview(p, attrs, nodes, edges)
    elif types["drone"] or types["object"]:
        result = _import_airsim(p, attrs, nodes, edges)
    else:
        raise GmlError(f"{p}: no leaf nodes of a known type (drone, object or base); node types found: "
                       f"{', '.join(sorted(t or '(none)' for t in types))}")
    log.info("imported %s: %s", p.name, result.meta.get("counts"))
    return result


def _xyz(p: Path, n: _Node, *, required: bool = True) -> tuple[float, float, float] | None:
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
    raise GmlError(f"{p}: node {n.gml_id!r} ({n.attrs.get('label', n.attrs.get('type', 'node'))}) {what}")


def _unique(wanted: str, taken: set[str], fallback: str) -> str:
    nid = wanted if wanted and wanted not in taken else fallback
    k = 0
    while nid in taken:
        k += 1
        nid = f"{fallback}.{k}"
    taken.add(nid)
    return nid


def _import_airsim(p: Path, attrs: dict, nodes: list[_Node], edges: list[dict]) -> GmlImport:
    radius = float(attrs.get("detection_radius", DEFAULT_DETECTION_RADIUS))
    t0 = _timestamp(attrs.get("timestamp"))
    taken: set[str] = set()
    serial: Counter = Counter()
    drones, objs, clusters, skipped = [], [], [], Counter()
    parsed: dict[str, ParsedLabel] = {}
    for n in nodes:
        t, label = str(n.attrs.get("type", "")), str(n.attrs.get("label", n.gml_id))
        lab_id = str(n.attrs.get("lab_id", ""))
        if t == "drone":
            n.position = ned_to_local(*_xyz(p, n))
            m = re.fullmatch(r"drone_(\d+)", label)
            n.id = _unique(lab_id or (f"place/{m.group(1)}" if m else ""), taken, f"place/x{len(drones)}")
            drones.append(n)
        elif t == "object":
            n.position = ned_to_local(*_xyz(p, n))
            pl = _given_label(n.attrs) or parse_label(label)
            slug = re.sub(r"[^a-z0-9]+", "_", pl.category.lower()).strip("_") or "object"
            n.id = _unique(lab_id, taken, f"obj/{slug}/{serial[slug]}")
            serial[slug] += 1
            parsed[n.id] = pl
            objs.append(n)
        elif t == "cluster":
            xyz = _xyz(p, n, required=False)
            n.position = ned_to_local(*xyz) if xyz else None
            m = re.fullmatch(r"area_(\d+)_cluster_(\d+)", label)
            n.id = _unique(lab_id or (f"cluster/{m.group(1)}/{m.group(2)}" if m else ""), taken,
                           f"cluster/{n.attrs.get('level', 0)}/x{len(clusters)}")
            clusters.append(n)
        else:
            skipped[t or "(none)"] += 1
    by_gml = {n.gml_id: n for n in (*drones, *objs, *clusters)}
    traverse, relations, part_of, sees, dropped = [], [], [], {}, Counter()
    for e in edges:
        a, b = by_gml.get(e.get("source")), by_gml.get(e.get("target"))
        rel, et = str(e.get("relationship", "")), str(e.get("type", ""))
        if a is None or b is None:
            dropped["to a skipped or unknown node"] += 1
        elif et == "drone_path" or rel == "drone_path":
            traverse.append(EdgeRow(a.id, b.id, TRAVERSE, {"length": _dist(e, a, b)}))
        elif rel == "part_of":
            part_of.append((a, b))
        elif et == SEES:
            sees.setdefault(a.id, []).append(b.id)
        elif rel and a.kind == b.kind == "object":
            relations.append(Relation(a.id, b.id, swap_relation(rel), "", _dist(e, a, b)))
        else:
            dropped[et or rel or "untyped"] += 1
    objects = [_object_record(n, parsed[n.id], t0) for n in objs]
    places = _drone_places(drones, objects, radius, t0, sees)
    objects = _object_views(objects, places)
    cluster_recs, membership = _forest(p, clusters, part_of, {o.id: o for o in objects})
    meta = {"format": "airsim", "file": p.name, "environment": str(attrs.get("environment", p.stem)),
            "timestamp": str(attrs.get("timestamp", "")), "detection_radius": radius,
            "frame": "AirSim NED (x, y, z) -> local (x, -y, -z); yaw -> -yaw",
            "counts": {"drone": len(drones), "object": len(objs), "cluster": len(clusters),
                       "relation": len(relations), "drone_path": len(traverse), "part_of": len(part_of)},
            "skipped_nodes": dict(skipped), "skipped_edges": dict(dropped)}
    return GmlImport(tuple(places), tuple(objects), tuple(cluster_recs), tuple(relations), tuple(traverse),
                     tuple(membership), meta)


def _given_label(attrs: Mapping[str, Any]) -> ParsedLabel | None:
    """Fields written by our own export win over parsing the label."""
    if "category" not in attrs:
        return None
    return ParsedLabel(str(attrs["category"]), str(attrs.get("colour", "")), str(attrs.get("material", "")),
                       tuple(str(a) for a in as_list(attrs.get("attributes"))), str(attrs.get("room", "")),
                       str(attrs.get("label", "")), given=True)


def _dist(e: Mapping, a: _Node, b: _Node) -> float:
    d = e.get("distance")
    return float(d) if isinstance(d, (int, float)) else math.dist(a.position, b.position)


def _num(attrs: Mapping[str, Any], key: str, default: float) -> float:
    v = attrs.get(key)
    return float(v) if isinstance(v, (int, float)) else default


def _object_record(n: _Node, pl: ParsedLabel, t0: float) -> ObjectRecord:
    attrs = pl.attributes if pl.given else (*pl.attributes, RAW_LABEL_PREFIX + pl.raw)
    return ObjectRecord(id=n.id, label=pl.category, position=n.position, floor=int(n.attrs.get("floor", 0)),
                        colour=pl.colour, material=pl.material, bbox_min=n.position, bbox_max=n.position,
                        first_seen=_num(n.attrs, "first_seen", t0), last_seen=_num(n.attrs, "last_seen", t0),
                        attributes=tuple(attrs), room_guess=pl.room)


def _drone_places(drones: list[_Node], objects: list[ObjectRecord], radius: float, t0: float,
                  sees: dict[str, list[str]]) -> list[PlaceRecord]:
    by_id = {o.id: o for o in objects}
    places = []
    for step, n in enumerate(drones):
        x, y, z = n.position
        if sees:  # our own export lists what each place saw
            near = [by_id[i] for i in sees.get(n.id, []) if i in by_id]
        else:
            near = sorted((o for o in objects if math.dist(o.position, n.position) <= radius),
                          key=lambda o: (math.dist(o.position, n.position), o.id))
        caption = n.attrs.get("caption")
        if not isinstance(caption, str):
            caption = _caption(n.id, near, radius)
        rooms = Counter(o.room_guess for o in near if o.room_guess)
        room = str(n.attrs.get("room", "")) or (rooms.most_common(1)[0][0] if rooms and
                                                 rooms.most_common(1)[0][1] * 2 >= len(near) else "")
        yaw = n.attrs.get("yaw", 0.0)
        places.append(PlaceRecord(
            id=n.id, pose=Pose(x, y, z, -float(yaw) if isinstance(yaw, (int, float)) else 0.0,
                               int(n.attrs.get("floor", 0))),
            timestamp=_num(n.attrs, "timestamp", t0), step=int(n.attrs.get("step", step)), caption=caption,
            room_guess=room,
            object_ids=tuple(o.id for o in near)))
    return places


def _caption(pid: str, near: list[ObjectRecord], radius: float) -> str:
    """Deterministic caption from ground truth: the objects within ``radius``, nearest first."""
    if not near:
        return f"Drone pose {pid.split('/')[-1]}: no objects recorded within {radius:g} m."
    groups: dict[str, int] = {}
    for o in near:
        groups[o.name] = groups.get(o.name, 0) + 1
    items = [plural_phrase(name, c) for name, c in groups.items()]
    shown = ", ".join(items[:12]) + (f" and {len(items) - 12} more kinds of object" if len(items) > 12 else "")
    return f"Drone pose {pid.split('/')[-1]}: within {radius:g} m, {shown}."


def _object_views(objects: list[ObjectRecord], places: list[PlaceRecord]) -> list[ObjectRecord]:
    """How many places list each object, and the first/last of their steps."""
    steps: dict[str, list[int]] = {}
    for pl in places:
        for oid in pl.object_ids:
            steps.setdefault(oid, []).append(pl.step)
    out = []
    for o in objects:
        s = steps.get(o.id)
        out.append(o if not s else dataclasses.replace(o, n_views=len(s), first_step=min(s), last_step=max(s)))
    return out


def _timestamp(v: Any) -> float:
    """Seconds since the epoch from a number, ISO text or the authors' ``20241118_160313``; 0.0 if unknown."""
    if isinstance(v, (int, float)):
        return float(v)
    if not isinstance(v, str) or not v.strip():
        return 0.0
    s = v.strip()
    for fmt in ("%Y%m%d_%H%M%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(s, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            pass
    try:
        dt = datetime.fromisoformat(s)
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    except ValueError:
        try:
            return float(s)
        except ValueError:
            log.warning("unreadable timestamp %r; using 0", v)
            return 0.0


# ---------------------------------------------------------------------------------- street view
def _lonlat(p: Path, n: _Node) -> tuple[float, float, float | None]:
    pos = n.attrs.get("position")
    if isinstance(pos, str):
        try:
            pos = ast.literal_eval(pos)
        except (ValueError, SyntaxError):
            pos = [s for s in re.split(r"[,\s]+", pos.strip("()[] ")) if s]
    vals: list = []
    if isinstance(pos, dict):
        for keys in (("lon", "lat", "alt"), ("longitude", "latitude", "altitude"), ("x", "y", "z")):
            if keys[0] in pos and keys[1] in pos:
                vals = [pos[keys[0]], pos[keys[1]]] + ([pos[keys[2]]] if keys[2] in pos else [])
                break
    elif isinstance(pos, (list, tuple)):
        vals = list(pos)
    try:
        nums = [float(v) for v in vals]
    except (TypeError, ValueError):
        nums = []
    if len(nums) not in (2, 3):
        what = "has no position" if pos is None else f"has an unreadable lon/lat position {pos!r}"
        raise GmlError(f"{p}: node {n.gml_id!r} ({n.attrs.get('name', n.attrs.get('type'))}) {what}")
    lon, lat = nums[0], nums[1]
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise GmlError(f"{p}: node {n.gml_id!r} position ({lon}, {lat}) is not a longitude/latitude")
    return lon, lat, nums[2] if len(nums) == 3 else None


def _import_streetview(p: Path, attrs: dict, nodes: list[_Node], edges: list[dict]) -> GmlImport:
    bases = [n for n in nodes if n.kind == "base"]
    clusters = [n for n in nodes if n.kind == "cluster"]
    geo = {id(n): _lonlat(p, n) for n in bases}
    for n in clusters:
        if n.attrs.get("position") is not None:
            geo[id(n)] = _lonlat(p, n)
    lon0 = sum(g[0] for g in geo.values()) / len(geo)
    lat0 = sum(g[1] for g in geo.values()) / len(geo)
    alts = [g[2] for g in geo.values() if g[2] is not None]
    alt0 = sum(alts) / len(alts) if alts else 0.0
    for n in (*bases, *clusters):
        if id(n) in geo:
            lon, lat, alt = geo[id(n)]
            n.position = (*lonlat_to_local(lon, lat, lon0, lat0), (alt - alt0) if alt is not None else 0.0)
    taken: set[str] = set()
    places, images = [], {}
    for step, n in enumerate(bases):
        n.id = _unique(str(n.attrs.get("lab_id", "")), taken, f"place/{step}")
        name, caption = str(n.attrs.get("name", "")).strip(), str(n.attrs.get("caption", "")).strip()
        text = f"{name}. {caption}" if name and caption and name not in caption else (caption or name)
        places.append(PlaceRecord(n.id, Pose(*n.position), _timestamp(n.attrs.get("timestamp")), step, text))
        if n.attrs.get("image_path"):
            images[n.id] = str(n.attrs["image_path"])
    levels = Counter()
    for n in clusters:
        lv = n.attrs.get("level", 0)
        n.id = _unique(str(n.attrs.get("lab_id", "")), taken, f"cluster/{lv}/{levels[lv]}")
        levels[lv] += 1
    lookup: dict[Any, _Node] = {}
    for n in (*bases, *clusters):
        lookup.setdefault(n.gml_id, n)
        for key in ("label", "name"):
            if isinstance(n.attrs.get(key), (str, int)):
                lookup.setdefault(n.attrs[key], n)
    part_of: dict[tuple[str, str], tuple[_Node, _Node]] = {}
    traverse = []
    for c in clusters:
        for m in as_list(c.attrs.get("members")):
            child = lookup.get(m) or lookup.get(str(m))
            if child is None and isinstance(m, str) and m.lstrip("-").isdigit():
                child = lookup.get(int(m))
            if child is None:
                raise GmlError(f"{p}: cluster {c.gml_id!r} lists an unknown member {m!r}")
            part_of.setdefault((child.id, c.id), (child, c))
    for e in edges:
        a, b = lookup.get(e.get("source")), lookup.get(e.get("target"))
        if a is None or b is None:
            continue
        if e.get("relationship") == "part_of":
            part_of.setdefault((a.id, b.id), (a, b))
        elif a.kind == b.kind == "base":
            traverse.append(EdgeRow(a.id, b.id, TRAVERSE, {"length": _dist(e, a, b)}))
    cluster_recs, membership = _forest(p, clusters, list(part_of.values()), {pl.id: pl for pl in places})
    meta = {"format": "streetview", "file": p.name, "environment": str(attrs.get("environment", p.stem)),
            "origin": {"lon": lon0, "lat": lat0, "alt": alt0},
            "frame": "equirectangular metres east/north of the origin; z = altitude - origin altitude",
            "counts": {"base": len(bases), "cluster": len(clusters), "part_of": len(part_of)}}
    return GmlImport(tuple(places), (), tuple(cluster_recs), (), tuple(traverse), tuple(membership), meta, images)


# -------------------------------------------------------------------------------------- forest
def _forest(p: Path, clusters: list[_Node], part_of: list[tuple[_Node, _Node]],
            leaves: Mapping[str, Any]) -> tuple[list[ClusterRecord], list[Membership]]:
    """Cluster records with children, parents, counts and extents; checks the ``part_of`` tree."""
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

    def leaves_below(cid: str) -> list[str]:
        if cid not in below:
            out: list[str] = []
            for c in children[cid]:
                out.extend(leaves_below(c) if c in by_id else [c] if c in leaves else [])
            below[cid] = out
        return below[cid]

    def height(cid: str) -> int:
        return 1 + max((height(c) for c in children[cid] if c in by_id), default=0)

    records = []
    for n in clusters:
        lv_ids = leaves_below(n.id)
        pts = [leaves[i].position for i in lv_ids]
        if n.position is None:
            if not pts:
                raise GmlError(f"{p}: cluster {n.gml_id!r} has no position and no leaves below it")
            n.position = tuple(sum(c) / len(pts) for c in zip(*pts, strict=True))
        counts = Counter(getattr(leaves[i], "label", "") for i in lv_ids)
        counts.pop("", None)
        level = n.attrs.get("level")
        level = int(level) if isinstance(level, (int, float)) else height(n.id)
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
    return records, membership


def _leaf_time(rec: Any) -> float:
    return rec.timestamp if isinstance(rec, PlaceRecord) else rec.first_seen


# -------------------------------------------------------------------------------------- export
def export_gml(source: MemorySnapshot | GmlImport | Iterable[Record], path: str | Path, *,
               environment: str = "", detection_radius: float = DEFAULT_DETECTION_RADIUS) -> Path:
    """Write a memory (snapshot, import or plain records) as an AirSim-style Embodied-RAG GML file.

    Places become ``drone`` nodes, objects ``object`` nodes, clusters ``cluster`` nodes with ``part_of``
    edges; traverse edges become ``drone_path`` and relations ``spatial`` edges (positions, yaw and
    relation words converted back to the AirSim frame). Raises ``GmlError`` when ``path`` cannot be written.
    """
    if isinstance(source, (MemorySnapshot, GmlImport)):
        places, objects, clusters = source.places, source.objects, source.clusters
        relations = source.relations
        traverse = source.edges_of(TRAVERSE) if isinstance(source, MemorySnapshot) else source.traverse
        members = list(source.membership)
        env = environment or str(source.meta.get("environment", "")
                                 or (source.meta.get("source") or {}).get("environment", ""))
    else:
        recs = list(source)
        places = [r for r in recs if isinstance(r, PlaceRecord)]
        objects = [r for r in recs if isinstance(r, ObjectRecord)]
        clusters = [r for r in recs if isinstance(r, ClusterRecord)]
        relations, traverse, members, env = (), (), [], environment
    gid: dict[str, int] = {}
    labels: set[str] = set()
    nodes = []

    def add(rec_id: str, label: str, body: dict) -> None:
        gid[rec_id] = len(gid)
        nodes.append(("node", {"id": gid[rec_id], "label": _unique(label, labels, f"{label}_{len(gid)}"),
                               **body, "lab_id": rec_id}))

    for i, r in enumerate(places):
        tail = r.id.rsplit("/", 1)[-1]
        x, y, z = ned_to_local(*r.position)
        add(r.id, f"drone_{tail if tail.isdigit() else i}", {
            "position": {"x": x, "y": y, "z": z}, "yaw": -r.pose.yaw, "type": "drone", "level": 0,
            "caption": r.caption, "timestamp": r.timestamp, "step": r.step, "floor": r.floor, "room": r.room_guess})
    for r in objects:
        raw = next((a[len(RAW_LABEL_PREFIX):] for a in r.attributes if a.startswith(RAW_LABEL_PREFIX)), "")
        x, y, z = ned_to_local(*r.position)
        body = {"position": {"x": x, "y": y, "z": z}, "type": "object", "level": 0, "category": r.label,
                "colour": r.colour, "material": r.material, "room": r.room_guess, "floor": r.floor,
                "first_seen": r.first_seen, "last_seen": r.last_seen}
        if r.attributes:
            body["attributes"] = list(r.attributes)
        add(r.id, raw or _camel(r.label, r.colour, r.material) + "_" + r.id.rsplit("/", 1)[-1], body)
    for i, r in enumerate(clusters):
        m = re.fullmatch(r"cluster/(\d+)/(\d+)", r.id)
        x, y, z = ned_to_local(*r.position)
        add(r.id, f"area_{m.group(1)}_cluster_{m.group(2)}" if m else f"cluster_{i}", {
            "type": "cluster", "level": r.level, "position": {"x": x, "y": y, "z": z}, "name": r.name,
            "summary": r.summary, "floor": r.floor, "room_type": r.room_type})
    edge_list = []
    for e in traverse:
        if e.src in gid and e.dst in gid:
            edge_list.append({"source": gid[e.src], "target": gid[e.dst],
                              "distance": float(e.data.get("length", 0.0)), "type": "drone_path"})
    pairs = [(c, r.id) for r in clusters for c in r.children]
    pairs += [(m.child, m.parent) for m in members]
    for child, par in dict.fromkeys(pairs):
        if child in gid and par in gid:
            edge_list.append({"source": gid[child], "target": gid[par], "relationship": "part_of"})
    for rel in relations:
        if rel.src in gid and rel.dst in gid:
            word = swap_relation(rel.kind)
            body = {"source": gid[rel.src], "target": gid[rel.dst], "relationship": word, "type": "spatial"}
            if word.split("_")[0] in ("north", "south", "east", "west"):
                body["cardinal_direction"] = word
            edge_list.append({**body, "distance": rel.distance})
    for r in places:
        for o in r.object_ids:
            if o in gid:
                edge_list.append({"source": gid[r.id], "target": gid[o], "type": SEES})
    header: dict[str, Any] = {}
    if any(c > 1 for c in Counter(frozenset((e["source"], e["target"])) for e in edge_list).values()):
        header = {"directed": 1, "multigraph": 1}  # networkx then reads parallel edges instead of failing
    header |= {"environment": env or "memory", "detection_radius": float(detection_radius),
               "exported_by": "embodied-rag-lab"}
    text = "graph [\n" + format_gml([*header.items(), *nodes, *(("edge", e) for e in edge_list)], 1) + "]\n"
    out = Path(path)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise GmlError(f"cannot write {out}: {e.strerror or e}") from e
    log.info("exported %d nodes and %d edges to %s", len(nodes), len(edge_list), out)
    return out


def _camel(*words: str) -> str:
    parts = [w for phrase in words for w in phrase.split() if w]
    return (parts[0] + "".join(w[:1].upper() + w[1:] for w in parts[1:])) if parts else "object"
