"""Street-view GML files (the Embodied-RAG authors' CMU data): import and export.

Leaves are ``street_view`` nodes (``base`` in the authors' forest files): a panorama with ``name``,
``caption``, ``image_path``, ``pano_id``, ``base_heading``, ``position`` (``x`` longitude, ``y``
latitude, optional ``z`` altitude) and a ``timestamp`` such as ``"2023-12"``. ``cluster`` nodes list
their ``members`` (networkx list encoding) and carry ``level``, ``name``, ``summary``, ``relationships``.

Ids: a leaf becomes ``place/<its id in the file>`` (``id 0`` -> ``place/0``), so that questions whose
ground truth names the file's nodes map straight onto ours; the source id, label and every other
attribute are kept in ``GmlImport.sources`` for the export. Positions: metres east/north of an origin
(the file header's ``origin_lon``/``origin_lat`` when our own export wrote them, else the leaves' mean
lon/lat), z = altitude minus the mean altitude. ``base_heading`` (compass degrees) becomes the pose's yaw.
"""
from __future__ import annotations

import ast
import logging
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from memory.errors import GmlError
from memory.gml_format import as_list, format_gml
from memory.gml_frames import heading_to_yaw, local_to_lonlat, lonlat_to_local, yaw_to_heading
from memory.gml_records import GmlImport, GmlNode, TimestampReader, build_forest, edge_distance, unique_id
from memory.store_types import TRAVERSE, EdgeRow, Membership
from memory.types import ClusterRecord, PlaceRecord
from sim.types import Pose

log = logging.getLogger(__name__)

__all__ = ["LEAF_TYPES", "import_streetview", "streetview_nodes_text", "place_id_for"]

LEAF_TYPES = ("street_view", "base")
FORMAT = "streetview"
_SCALAR = (str, int, float)


def place_id_for(gml_id: Any) -> str:
    """Our id of a street-view leaf: ``place/<its id in the file>``."""
    return f"place/{gml_id}"


# ------------------------------------------------------------------------------------------- import
def _lonlat(p: Path, n: GmlNode) -> tuple[float, float, float | None]:
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
    if len(nums) not in (2, 3) or not all(math.isfinite(v) for v in nums):
        what = "has no position" if pos is None else f"has an unreadable lon/lat position {pos!r}"
        raise GmlError(f"{p}: {n.describe()} {what}")
    lon, lat = nums[0], nums[1]
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise GmlError(f"{p}: node {n.gml_id!r} position ({lon}, {lat}) is not a longitude/latitude")
    return lon, lat, nums[2] if len(nums) == 3 else None


def _kept(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes an export can write back: scalars and lists of scalars (positions are kept apart,
    and our own export's bookkeeping is not the source's)."""
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if k in ("position", "lab_id", "step"):
            continue
        if isinstance(v, _SCALAR) and not isinstance(v, bool):
            out[k] = v
        elif isinstance(v, list) and all(isinstance(x, _SCALAR) for x in v):
            out[k] = list(v)
    return out


def _origin(attrs: Mapping[str, Any], geo: Sequence[tuple[float, float, float | None]]) -> tuple[float, float, float]:
    given = [attrs.get(k) for k in ("origin_lon", "origin_lat")]
    if all(isinstance(v, (int, float)) for v in given):
        alt = attrs.get("origin_alt", 0.0)
        return float(given[0]), float(given[1]), float(alt) if isinstance(alt, (int, float)) else 0.0
    alts = [g[2] for g in geo if g[2] is not None]
    return (sum(g[0] for g in geo) / len(geo), sum(g[1] for g in geo) / len(geo),
            sum(alts) / len(alts) if alts else 0.0)


def import_streetview(p: Path, attrs: Mapping[str, Any], nodes: list[GmlNode], edges: list[dict]) -> GmlImport:
    """Records of a street-view file (``nodes``: its leaves and clusters; other types were skipped)."""
    leaves = [n for n in nodes if n.kind in LEAF_TYPES]
    clusters = [n for n in nodes if n.kind == "cluster"]
    geo = {id(n): _lonlat(p, n) for n in leaves}
    lon0, lat0, alt0 = _origin(attrs, list(geo.values()))
    for n in clusters:
        if n.attrs.get("position") is not None:
            geo[id(n)] = _lonlat(p, n)
    for n in (*leaves, *clusters):
        if id(n) in geo:
            lon, lat, alt = geo[id(n)]
            n.position = (*lonlat_to_local(lon, lat, lon0, lat0), (alt - alt0) if alt is not None else 0.0)
    times = TimestampReader()
    taken: set[str] = set()
    places, images, sources = [], {}, {}
    for step, n in enumerate(leaves):
        n.id = unique_id(str(n.attrs.get("lab_id", "")) or place_id_for(n.gml_id), taken, f"place/x{step}")
        name, caption = str(n.attrs.get("name", "")).strip(), str(n.attrs.get("caption", "")).strip()
        text = f"{name}. {caption}" if name and caption and name not in caption else (caption or name)
        heading = n.attrs.get("base_heading")
        yaw = heading_to_yaw(float(heading)) if isinstance(heading, (int, float)) else 0.0
        places.append(PlaceRecord(n.id, Pose(*n.position, yaw), times.read(n.attrs.get("timestamp")),
                                  int(n.attrs["step"]) if isinstance(n.attrs.get("step"), int) else step, text))
        if n.attrs.get("image_path"):
            images[n.id] = str(n.attrs["image_path"])
        lon, lat, alt = geo[id(n)]
        sources[n.id] = {"id": n.gml_id, **_kept(n.attrs), "lon": lon, "lat": lat,
                         **({"alt": alt} if alt is not None else {})}
    serial: Counter = Counter()
    for n in clusters:
        lv = n.attrs.get("level", 0)
        n.id = unique_id(str(n.attrs.get("lab_id", "")), taken, f"cluster/{lv}/{serial[lv]}")
        serial[lv] += 1
        src = {"id": n.gml_id, **_kept(n.attrs)}
        src.pop("members", None)  # written back from the tree
        if id(n) in geo:
            src.update(zip(("lon", "lat"), geo[id(n)][:2], strict=True))
        sources[n.id] = src
    lookup: dict[Any, GmlNode] = {}
    for key in ("id", "label", "name"):  # ids first: a name never shadows another node's id or label
        for n in (*leaves, *clusters):
            v = n.gml_id if key == "id" else n.attrs.get(key)
            if isinstance(v, (str, int)) and not isinstance(v, bool):
                lookup.setdefault(v, n)
                lookup.setdefault(str(v), n)
    part_of: dict[tuple[str, str], tuple[GmlNode, GmlNode]] = {}
    for c in clusters:
        for m in as_list(c.attrs.get("members")):
            child = lookup.get(m)
            if child is None:
                child = lookup.get(str(m))
            if child is None:
                raise GmlError(f"{p}: cluster {c.gml_id!r} lists an unknown member {m!r}")
            part_of.setdefault((child.id, c.id), (child, c))
    traverse, dropped = [], Counter()
    for e in edges:
        a, b = lookup.get(e.get("source")), lookup.get(e.get("target"))
        rel, et = str(e.get("relationship", "")), str(e.get("type", ""))
        if a is None or b is None:
            dropped["to a skipped or unknown node"] += 1
        elif rel == "part_of" or (not rel and et in ("", "part_of") and b.kind == "cluster"):
            part_of.setdefault((a.id, b.id), (a, b))  # the authors' forest repeats its members as bare edges
        elif a.kind in LEAF_TYPES and b.kind in LEAF_TYPES and et in ("", TRAVERSE):
            traverse.append(EdgeRow(a.id, b.id, TRAVERSE, {"length": edge_distance(e, a, b)}))
        else:
            dropped[et or rel or "untyped"] += 1
    cluster_recs, membership, levels = build_forest(p, clusters, list(part_of.values()), {pl.id: pl for pl in places})
    leaf_types = Counter(n.kind for n in leaves)
    meta = {"format": FORMAT, "file": p.name, "environment": str(attrs.get("environment", p.stem)),
            "origin": {"lon": lon0, "lat": lat0, "alt": alt0},
            "frame": "equirectangular metres east/north of the origin; z = altitude - origin altitude",
            "ids": "place/<source id>", "leaf_type": leaf_types.most_common(1)[0][0],
            "counts": {**dict(leaf_types), "cluster": len(clusters), "part_of": len(part_of),
                       "traverse": len(traverse)},
            "timestamps": times.report(p.name), "levels": levels, "skipped_edges": dict(dropped)}
    return GmlImport(tuple(places), (), tuple(cluster_recs), (), tuple(traverse), tuple(membership), meta, images,
                     sources)


# ------------------------------------------------------------------------------------------- export
def streetview_nodes_text(places: Sequence[PlaceRecord], clusters: Sequence[ClusterRecord],
                          traverse: Sequence[EdgeRow], members: Sequence[Membership],
                          sources: Mapping[str, Mapping[str, Any]], meta: Mapping[str, Any], environment: str) -> str:
    """GML text of a street-view memory in the authors' layout: ``street_view`` leaves with their
    original attributes, ``cluster`` nodes with ``members`` (labels) and the origin in the header, so
    that importing the text gives back the same records."""
    origin = meta.get("origin") or {}
    if not all(isinstance(origin.get(k), (int, float)) for k in ("lon", "lat")):
        raise GmlError("this memory has no geographic origin (it was not imported from a street-view file); "
                       "it cannot be exported as street view")
    lon0, lat0, alt0 = float(origin["lon"]), float(origin["lat"]), float(origin.get("alt", 0.0))
    used_ids: set[Any] = set()
    labels: set[str] = set()
    gid: dict[str, Any] = {}
    label_of: dict[str, str] = {}

    def claim(rec_id: str, want_id: Any, want_label: str) -> None:
        nid = want_id if want_id is not None and want_id not in used_ids else None
        if nid is None:
            nid = len(used_ids)
            while nid in used_ids:
                nid += 1
        used_ids.add(nid)
        gid[rec_id] = nid
        label = want_label if want_label and want_label not in labels else f"{want_label or 'node'}_{nid}"
        labels.add(label)
        label_of[rec_id] = label

    for r in places:  # leaves first: their file ids are what ground truth refers to
        src = sources.get(r.id, {})
        m = re.fullmatch(r"place/(\d+)", r.id)
        want = src.get("id", int(m.group(1)) if m else None)
        claim(r.id, want, str(src.get("label", want if want is not None else "")))
    for k, r in enumerate(clusters):
        src = sources.get(r.id, {})
        claim(r.id, src.get("id"), str(src.get("label", f"cluster_L{r.level}_{k}")))
    nodes = []
    for r in places:
        src = dict(sources.get(r.id, {}))
        lon, lat = (src.pop("lon"), src.pop("lat")) if "lon" in src and "lat" in src else \
            local_to_lonlat(r.position[0], r.position[1], lon0, lat0)
        alt = src.pop("alt", r.position[2] + alt0)
        src.pop("id", None)
        name, caption = str(src.get("name", "")), str(src.get("caption", ""))
        composed = f"{name}. {caption}" if name and caption and name not in caption else (caption or name)
        if composed != r.caption:  # not the text the file gave: write ours
            src["caption"] = r.caption
            src.pop("name", None)
        body: dict[str, Any] = {"id": gid[r.id], "label": label_of[r.id], "type": src.pop("type", "street_view")}
        body.update({k: v for k, v in src.items() if k not in ("label", "lab_id", "step")})
        body["position"] = {"x": lon, "y": lat, "z": alt}
        body.setdefault("timestamp", r.timestamp)
        body.setdefault("level", 0)
        if "base_heading" not in body and r.pose.yaw:
            body["base_heading"] = yaw_to_heading(r.pose.yaw)
        if r.id != f"place/{gid[r.id]}":
            body["lab_id"] = r.id
        body["step"] = r.step
        nodes.append(("node", body))
    kids: dict[str, list[str]] = {r.id: list(r.children) for r in clusters}
    for mb in members:
        if mb.parent in kids and mb.child not in kids[mb.parent]:
            kids[mb.parent].append(mb.child)
    for r in clusters:
        src = dict(sources.get(r.id, {}))
        lon, lat = (src["lon"], src["lat"]) if "lon" in src and "lat" in src else \
            local_to_lonlat(r.position[0], r.position[1], lon0, lat0)
        for k in ("id", "lon", "lat", "label", "name", "summary", "level", "type"):
            src.pop(k, None)
        body = {"id": gid[r.id], "label": label_of[r.id], "type": "cluster", "level": r.level,
                "members": [label_of[c] for c in kids[r.id] if c in label_of],
                "position": {"x": lon, "y": lat, "z": r.position[2] + alt0}, "name": r.name, "summary": r.summary,
                **src, "lab_id": r.id}
        nodes.append(("node", body))
    edge_list = [("edge", {"source": gid[e.src], "target": gid[e.dst], "type": TRAVERSE,
                           "distance": float(e.data.get("length", 0.0))})
                 for e in traverse if e.src in gid and e.dst in gid]
    header = {"environment": environment or str(meta.get("environment", "") or "street view"),
              "origin_lon": lon0, "origin_lat": lat0, "origin_alt": alt0, "exported_by": "embodied-rag-lab"}
    return "graph [\n" + format_gml([*header.items(), *nodes, *edge_list], 1) + "]\n"
