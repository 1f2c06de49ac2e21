"""Import and export of the Embodied-RAG authors' GML graphs and forests.

Two source formats are read:

* **AirSim** (``building99_graph.gml`` / ``building99_forest.gml``): ``drone`` pose nodes (position,
  yaw), ground-truth ``object`` nodes (engine labels such as ``chairOrange_lowBack33_123``),
  ``cluster`` nodes (level, name, summary, position) tied by ``part_of`` edges, spatial relation
  edges (``north``/``south``/``east``/``west`` with optional ``_above``/``_below``) and
  ``drone_path`` edges between consecutive poses.
* **Street view** (``CMU_500_streetview_graph.gml`` / ``semantic_forest_CMU_500.gml``): ``street_view``
  (or ``base``) leaves with name, caption, lon/lat, image path, panorama id, heading and a ``YYYY-MM``
  date, and ``cluster`` nodes with ``members``, ``summary`` and ``level`` (``memory.gml_streetview``).

Nodes of other types are skipped and counted in one log line; a file with no leaves of a known type
is one ``GmlError``. Dates the reader cannot read become 0 and are reported in one line per file.

Frames. AirSim positions are NED (x north, y east, z down; yaw clockwise seen from above). They
become our right-handed z-up frame by the rotation ``(x, y, z) -> (x, -y, -z)`` and ``yaw -> -yaw``
(our +x is AirSim north, our +y AirSim west). The authors labelled relations on the raw
coordinates as if +x were east, +y north and +z up; after the rotation their ``east``/``west``
still hold, while ``north``/``south`` and ``above``/``below`` are swapped so that every imported
relation is true of the imported positions (export swaps them back). Geographic lon/lat become
metres east/north of the leaves' mean position (equirectangular; altitude minus its mean is z).

The file holds no captions for drone poses: each place gets an honest, deterministic caption
listing the objects within the file's ``detection_radius`` of the pose (5 m when absent).
Export writes a memory in the layout it came from: street-view memories as street view (original
attributes, lon/lat), everything else in the AirSim style, adding ``lab_id``, ``category``,
``caption`` ... attributes so that re-importing an export gives back the same records.

GML is parsed by our own reader (``memory.gml_format``): networkx's ``read_gml`` builds an undirected
graph from these files and so loses the direction of ``part_of`` and relation edges. Label words live
in ``memory.gml_labels``, the frame conversions in ``memory.gml_frames`` and the import type with the
helpers both formats share in ``memory.gml_records``; all are re-exported here.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from memory.errors import GmlError
from memory.gml_format import as_list, format_gml, group_pairs, parse_gml
from memory.gml_frames import EARTH_RADIUS_M, local_to_lonlat, lonlat_to_local, ned_to_local, swap_relation
from memory.gml_labels import ParsedLabel, parse_label, plural_phrase
from memory.gml_records import (
    GmlImport,
    GmlNode,
    TimestampReader,
    build_forest,
    edge_distance,
    number,
    read_xyz,
    unique_id,
)
from memory.gml_streetview import LEAF_TYPES as STREETVIEW_LEAVES
from memory.gml_streetview import import_streetview, streetview_nodes_text
from memory.store import SEES, TRAVERSE, EdgeRow, MemorySnapshot, Record
from memory.types import ClusterRecord, ObjectRecord, PlaceRecord, Relation
from sim.types import Pose

log = logging.getLogger(__name__)

__all__ = ["GmlError", "GmlImport", "ParsedLabel", "import_gml", "export_gml", "parse_gml", "format_gml",
           "parse_label", "plural_phrase", "ned_to_local", "lonlat_to_local", "local_to_lonlat", "EARTH_RADIUS_M",
           "DEFAULT_DETECTION_RADIUS", "RAW_LABEL_PREFIX", "KNOWN_TYPES"]

DEFAULT_DETECTION_RADIUS = 5.0
RAW_LABEL_PREFIX = "label:"  # attribute keeping an object's label as written in the source file
AIRSIM_LEAVES = ("drone", "object")
KNOWN_TYPES = {"airsim": (*AIRSIM_LEAVES, "cluster"), "streetview": (*STREETVIEW_LEAVES, "cluster")}


# ------------------------------------------------------------------------------------------- import
def import_gml(path: str | Path) -> GmlImport:
    """Read an Embodied-RAG GML file (AirSim or street-view format) into memory records.

    Nodes of types the format does not know are skipped (counted in ``meta["skipped_nodes"]`` and in
    one warning line). Raises ``GmlError`` with one clear line for a missing or unreadable file, text
    that is not GML, a graph without nodes or without leaves of a known type, leaves without
    positions, unknown ``part_of`` targets and cycles.
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
    nodes: list[GmlNode] = []
    edges: list[dict[str, Any]] = []
    for k, v in graphs[0]:
        if k == "node" and isinstance(v, list):
            d = group_pairs(v)
            if "id" not in d:
                raise GmlError(f"{p}: node {len(nodes) + 1} has no id")
            if not isinstance(d["id"], (int, float, str)):  # a repeated 'id' key reads as a list, a block as a dict
                what = "several ids" if isinstance(d["id"], list) else "a block as its id"
                raise GmlError(f"{p}: node {len(nodes) + 1} has {what}")
            nodes.append(GmlNode(d["id"], d, str(d.get("type", ""))))
        elif k == "edge" and isinstance(v, list):
            e = group_pairs(v)
            ends = [e[end] for end in ("source", "target") if end in e]
            if any(not isinstance(x, (int, float, str)) for x in ends):  # a repeated key reads as a list
                raise GmlError(f"{p}: edge {len(edges) + 1} has several sources or targets, or a block as one")
            edges.append(e)
        elif not isinstance(v, list):
            attrs[k] = v
    if not nodes:
        raise GmlError(f"{p}: the graph has no nodes")
    ids = Counter(n.gml_id for n in nodes)
    dup = [i for i, c in ids.items() if c > 1]
    if dup:
        raise GmlError(f"{p}: node id {dup[0]!r} is used {ids[dup[0]]} times")
    types = Counter(n.kind for n in nodes)
    n_street = sum(types[t] for t in STREETVIEW_LEAVES)
    n_airsim = sum(types[t] for t in AIRSIM_LEAVES)
    if not n_street and not n_airsim:
        found = ", ".join(f"{t or '(none)'} {c}" for t, c in sorted(types.items(), key=lambda kv: (-kv[1], kv[0])))
        raise GmlError(f"{p}: nothing to import: no leaf nodes of a known type (street_view, base, drone or "
                       f"object); node types found: {found}")
    fmt = "streetview" if n_street >= n_airsim else "airsim"
    known = KNOWN_TYPES[fmt]
    skipped = Counter(n.kind or "(none)" for n in nodes if n.kind not in known)
    if skipped:
        log.warning("%s: skipped %d node%s of types this %s import does not read: %s", p.name, sum(skipped.values()),
                    "s" if sum(skipped.values()) != 1 else "", fmt,
                    ", ".join(f"{t} {c}" for t, c in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))))
    kept = [n for n in nodes if n.kind in known]
    result = import_streetview(p, attrs, kept, edges) if fmt == "streetview" else _import_airsim(p, attrs, kept, edges)
    result.meta["skipped_nodes"] = dict(skipped)  # type: ignore[index]
    log.info("imported %s: %s", p.name, result.meta.get("counts"))
    return result


def _import_airsim(p: Path, attrs: dict, nodes: list[GmlNode], edges: list[dict]) -> GmlImport:
    radius = float(attrs.get("detection_radius", DEFAULT_DETECTION_RADIUS))
    times = TimestampReader()
    t0 = times.read(attrs.get("timestamp"))
    taken: set[str] = set()
    serial: Counter = Counter()
    drones, objs, clusters = [], [], []
    parsed: dict[str, ParsedLabel] = {}
    for n in nodes:
        t, label = str(n.attrs.get("type", "")), str(n.attrs.get("label", n.gml_id))
        lab_id = str(n.attrs.get("lab_id", ""))
        if t == "drone":
            n.position = ned_to_local(*read_xyz(p, n))
            m = re.fullmatch(r"drone_(\d+)", label)
            n.id = unique_id(lab_id or (f"place/{m.group(1)}" if m else ""), taken, f"place/x{len(drones)}")
            drones.append(n)
        elif t == "object":
            n.position = ned_to_local(*read_xyz(p, n))
            pl = _given_label(n.attrs) or parse_label(label)
            slug = re.sub(r"[^a-z0-9]+", "_", pl.category.lower()).strip("_") or "object"
            n.id = unique_id(lab_id, taken, f"obj/{slug}/{serial[slug]}")
            serial[slug] += 1
            parsed[n.id] = pl
            objs.append(n)
        elif t == "cluster":
            xyz = read_xyz(p, n, required=False)
            n.position = ned_to_local(*xyz) if xyz else None
            m = re.fullmatch(r"area_(\d+)_cluster_(\d+)", label)
            n.id = unique_id(lab_id or (f"cluster/{m.group(1)}/{m.group(2)}" if m else ""), taken,
                           f"cluster/{n.attrs.get('level', 0)}/x{len(clusters)}")
            clusters.append(n)
    by_gml = {n.gml_id: n for n in (*drones, *objs, *clusters)}
    traverse, relations, part_of, sees, dropped = [], [], [], {}, Counter()
    for e in edges:
        a, b = by_gml.get(e.get("source")), by_gml.get(e.get("target"))
        rel, et = str(e.get("relationship", "")), str(e.get("type", ""))
        if a is None or b is None:
            dropped["to a skipped or unknown node"] += 1
        elif et == "drone_path" or rel == "drone_path":
            traverse.append(EdgeRow(a.id, b.id, TRAVERSE, {"length": edge_distance(e, a, b)}))
        elif rel == "part_of":
            part_of.append((a, b))
        elif et == SEES:
            sees.setdefault(a.id, []).append(b.id)
        elif rel and a.kind == b.kind == "object":
            relations.append(Relation(a.id, b.id, swap_relation(rel), "", edge_distance(e, a, b)))
        else:
            dropped[et or rel or "untyped"] += 1
    objects = [_object_record(n, parsed[n.id], t0) for n in objs]
    places = _drone_places(drones, objects, radius, t0, sees)
    objects = _object_views(objects, places)
    cluster_recs, membership, levels = build_forest(p, clusters, part_of, {o.id: o for o in objects})
    meta = {"format": "airsim", "file": p.name, "environment": str(attrs.get("environment", p.stem)),
            "timestamp": str(attrs.get("timestamp", "")), "detection_radius": radius,
            "frame": "AirSim NED (x, y, z) -> local (x, -y, -z); yaw -> -yaw",
            "counts": {"drone": len(drones), "object": len(objs), "cluster": len(clusters),
                       "relation": len(relations), "drone_path": len(traverse), "part_of": len(part_of)},
            "timestamps": times.report(p.name), "levels": levels, "skipped_edges": dict(dropped)}
    return GmlImport(tuple(places), tuple(objects), tuple(cluster_recs), tuple(relations), tuple(traverse),
                     tuple(membership), meta)


def _given_label(attrs: Mapping[str, Any]) -> ParsedLabel | None:
    """Fields written by our own export win over parsing the label."""
    if "category" not in attrs:
        return None
    return ParsedLabel(str(attrs["category"]), str(attrs.get("colour", "")), str(attrs.get("material", "")),
                       tuple(str(a) for a in as_list(attrs.get("attributes"))), str(attrs.get("room", "")),
                       str(attrs.get("label", "")), given=True)


def _object_record(n: GmlNode, pl: ParsedLabel, t0: float) -> ObjectRecord:
    attrs = pl.attributes if pl.given else (*pl.attributes, RAW_LABEL_PREFIX + pl.raw)
    return ObjectRecord(id=n.id, label=pl.category, position=n.position, floor=int(n.attrs.get("floor", 0)),
                        colour=pl.colour, material=pl.material, bbox_min=n.position, bbox_max=n.position,
                        first_seen=number(n.attrs, "first_seen", t0), last_seen=number(n.attrs, "last_seen", t0),
                        attributes=tuple(attrs), room_guess=pl.room)


def _drone_places(drones: list[GmlNode], objects: list[ObjectRecord], radius: float, t0: float,
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
            timestamp=number(n.attrs, "timestamp", t0), step=int(n.attrs.get("step", step)), caption=caption,
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


# -------------------------------------------------------------------------------------- export
def export_gml(source: MemorySnapshot | GmlImport | Iterable[Record], path: str | Path, *,
               environment: str = "", detection_radius: float = DEFAULT_DETECTION_RADIUS) -> Path:
    """Write a memory (snapshot, import or plain records) as an Embodied-RAG GML file.

    A memory imported from a street-view file is written as street view (``street_view`` leaves with
    their original attributes and lon/lat, ``cluster`` nodes with ``members``). Anything else is written
    in the AirSim style: places become ``drone`` nodes, objects ``object`` nodes, clusters ``cluster``
    nodes with ``part_of`` edges; traverse edges become ``drone_path`` and relations ``spatial`` edges
    (positions, yaw and relation words converted back to the AirSim frame). Raises ``GmlError`` when
    ``path`` cannot be written.
    """
    if isinstance(source, (MemorySnapshot, GmlImport)):
        places, objects, clusters = source.places, source.objects, source.clusters
        relations = source.relations
        traverse = source.edges_of(TRAVERSE) if isinstance(source, MemorySnapshot) else source.traverse
        members = list(source.membership)
        env = environment or str(source.meta.get("environment", "")
                                 or (source.meta.get("source") or {}).get("environment", ""))
        imported = source.meta if isinstance(source, GmlImport) else (source.meta.get("import") or {})
        if imported.get("format") == "streetview" and not objects:
            text = streetview_nodes_text(places, clusters, traverse, members, source.sources, imported, env)
            return _write(Path(path), text, len(places) + len(clusters))
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
        nodes.append(("node", {"id": gid[rec_id], "label": unique_id(label, labels, f"{label}_{len(gid)}"),
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
    return _write(Path(path), text, len(nodes))


def _write(out: Path, text: str, n_nodes: int) -> Path:
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise GmlError(f"cannot write {out}: {e.strerror or e}") from e
    log.info("exported %d nodes to %s", n_nodes, out)
    return out


def _camel(*words: str) -> str:
    parts = [w for phrase in words for w in phrase.split() if w]
    return (parts[0] + "".join(w[:1].upper() + w[1:] for w in parts[1:])) if parts else "object"
