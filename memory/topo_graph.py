"""The topological graph: places where the robot stood, objects it saw, and how they relate.

A networkx ``MultiDiGraph`` keyed by stable string ids (``place/17``, ``obj/chair/3``); the
frozen records (``PlaceRecord``, ``ObjectRecord``) live in dicts beside it, never as graph keys.
Edges carry a ``kind`` (also their multigraph key, so there is at most one edge of a kind
between two nodes, like the store's ``(src, dst, kind)`` rows):

* ``traverse`` place→place — consecutive keyframes (``length`` in metres), plus ``revisit`` edges to
  the ``revisit_links`` nearest older places within ``revisit_radius`` when the robot comes back;
* ``sees`` place→object — ``distance`` (m, robot to object) and ``pixels``;
* spatial relations object→object, computed among objects seen together from a place:
  ``on`` / ``above`` (and the inverse ``under``), ``next_to`` and ``near`` (stored once per
  pair, ``src < dst``), ``left_of`` / ``right_of`` as seen from ``place``. A pair's relations are
  re-derived whenever the pair is seen together again, so they follow the refined geometry.

``add(percept)`` makes a place at keyframes (moved ``keyframe_distance`` or turned
``keyframe_turn_deg`` since the last place, changed floor, or saw a new object) and merges every
sighting into an object node: same label, same height (centroids within ``merge_max_dz``, which
keeps floors apart even when the robot on a staircase sees across them), centroid within a
radius that grows with the object's size (or footprints overlapping), each node taking at most
one sighting per view. An object's floor is the floor it was most often seen from. A node's
position is the pixel-weighted mean of its sightings' centroids, its box their union. When a node
grows into another of its label never seen in the same view (two partial views of one sofa), the
younger is fused into the older and reported in ``GraphUpdate.removed_objects``.

Perceivers that fuse objects themselves (``geometric``) give each sighting a ``track``: a tracked
sighting goes to the node its track is bound to (a new track binds to the node label and position
matching finds, never to one another live track holds); when the perceiver's vote changes the
label, the node is re-made under the new label; ``Percept.merged_tracks`` folds the nodes of
tracks the perceiver merged. Nodes of two live tracks are never fused by the graph itself.

Persistence (``memory.store.MemoryStore`` or alike): ``write_to(store)`` writes ``to_records()``,
``edge_rows()`` (relations replaced per kind) and ``image_rows()``; ``from_snapshot`` / ``load_from`` rebuild.
"""
from __future__ import annotations

import logging
import math
import weakref
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import networkx as nx
import numpy as np

from memory.errors import EmbodiedMemoryError
from memory.perception.relations import RelationConfig, footprint_overlap, spatial_relations
from memory.topo_config import GraphUpdate, TopoGraphConfig
from memory.topo_helpers import (  # noqa: F401
    ObjectTrack,
    PlaceIndex,
    as_f3,
    edge_parts,
    label_slug,
    merged_record,
    serial_of,
    sighting_weight,
    vote_sighting,
)
from memory.types import ObjectRecord, Percept, PlaceRecord, Relation, Sighting
from sim.types import wrap_angle

log = logging.getLogger(__name__)

__all__ = ["TopoGraph", "TopoGraphConfig", "GraphUpdate", "TopoGraphError", "NodeNotFound", "NoPath",
           "RelationConfig", "TRAVERSE", "SEES", "RELATION_KINDS", "EdgeTuple"]

TRAVERSE = "traverse"
SEES = "sees"
RELATION_KINDS = ("on", "under", "above", "next_to", "near", "left_of", "right_of")
_SYMMETRIC = ("next_to", "near")
EdgeTuple = tuple[str, str, str, dict]


class TopoGraphError(EmbodiedMemoryError):
    """Base error of the topological graph."""


class NodeNotFound(TopoGraphError, KeyError):
    """No node with that id (or none of that kind on that floor)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NoPath(TopoGraphError):
    """Two places are not connected by traverse edges."""


class TopoGraph:
    """Places, objects and their relations, built incrementally from percepts."""

    def __init__(self, config: TopoGraphConfig | None = None) -> None:
        self.config = config or TopoGraphConfig()
        self._g = nx.MultiDiGraph()
        self._places: dict[str, PlaceRecord] = {}
        self._objects: dict[str, ObjectRecord] = {}
        self._tracks: dict[str, ObjectTrack] = {}
        self._distinct: dict[str, set[str]] = {}  # same-label objects seen together in one view
        self._fused: set[str] = set()  # object ids fused away since the last ``write_to``
        self._by_label: dict[str, list[str]] = {}
        self._crops: dict[str, np.ndarray] = {}
        self._thumbs: dict[str, np.ndarray] = {}
        # images known to be in ``_image_sink`` (the arrays themselves: a new crop or thumbnail is a new array)
        self._image_saved: dict[tuple[str, str], np.ndarray] = {}
        self._image_written: dict[tuple[str, str], np.ndarray] = {}  # written, not yet committed
        self._image_sink: weakref.ref | None = None
        self._serial: Counter = Counter()
        self._last_place: str | None = None
        self._track_node: dict[int, str] = {}  # perception's track -> object node (fusing perceivers)
        self._place_index: dict[int, PlaceIndex] = {}

    # ------------------------------------------------------------------------------- building
    def add(self, percept: Percept) -> GraphUpdate:
        """Merge one percept's sightings into object nodes and, at keyframes, add a place."""
        cfg = self.config
        folded = self._fold_tracks(percept.merged_tracks)
        assigned = self._assign(percept.sightings)
        new_ids: list[str] = []
        updated: list[str] = []
        seen: list[tuple[str, Sighting]] = []
        for s, oid in zip(percept.sightings, assigned, strict=True):
            if oid is not None and s.track is not None and self._objects[oid].label != s.label:
                old, oid = oid, self._new_object(s, percept)  # perception changed its mind: re-make the node
                self._fuse(oid, old)
                folded.append(old)
                new_ids.append(oid)
            elif oid is None:
                oid = self._new_object(s, percept)
                new_ids.append(oid)
            else:
                self._update_object(oid, s, percept)
                updated.append(oid)
            if s.track is not None:
                self._track_node[s.track] = oid
            seen.append((oid, s))
        self._mark_distinct([oid for oid, _ in seen])
        alias = self._fuse_duplicates(new_ids + updated)
        if alias and self._track_node:
            self._track_node = {t: alias.get(n, n) for t, n in self._track_node.items()}
        fresh = set(new_ids)
        removed_objects = tuple(folded) + tuple(d for d in alias if d not in fresh)
        seen = [(alias.get(oid, oid), s) for oid, s in seen]
        new_ids = [i for i in new_ids if i in self._objects]
        updated = list(dict.fromkeys(i for i in (alias.get(o, o) for o in updated + list(alias)) if i not in fresh))
        if not self._is_keyframe(percept, bool(new_ids)):
            return GraphUpdate(None, tuple(new_ids), tuple(updated), removed_objects=removed_objects,
                               sightings=tuple(seen))
        pid = self._new_place(percept, [oid for oid, _ in seen])
        for oid, s in seen:
            dist = math.hypot(s.centroid[0] - percept.pose.x, s.centroid[1] - percept.pose.y)
            self._g.add_edge(pid, oid, key=SEES, kind=SEES, distance=round(dist, 3), pixels=int(s.pixels))
        ranked = sorted(seen, key=lambda t: -t[1].pixels)[:cfg.relation_objects]
        added, removed = self._relate([oid for oid, _ in ranked], pid, percept)
        return GraphUpdate(pid, tuple(new_ids), tuple(updated), tuple(added), tuple(removed), removed_objects,
                           tuple(seen))

    def _is_keyframe(self, percept: Percept, new_objects: bool) -> bool:
        if not percept.keyframe:
            return False
        if self._last_place is None:
            return True
        last = self._places[self._last_place].pose
        pose = percept.pose
        cfg = self.config
        return (pose.floor != last.floor
                or pose.distance_to(last) >= cfg.keyframe_distance
                or abs(wrap_angle(pose.yaw - last.yaw)) >= math.radians(cfg.keyframe_turn_deg) - 1e-9
                or (cfg.keyframe_on_new_objects and new_objects))

    def _same_object(self, pos: Sequence[float], lo: Sequence[float], hi: Sequence[float],
                     rec: ObjectRecord) -> float | None:
        """Horizontal distance to ``rec`` when a thing at ``pos`` with box ``lo..hi`` may be it, else None."""
        cfg = self.config
        if abs(rec.position[2] - pos[2]) > cfg.merge_max_dz:
            return None
        half = 0.5 * max(hi[0] - lo[0], hi[1] - lo[1], rec.bbox_max[0] - rec.bbox_min[0],
                         rec.bbox_max[1] - rec.bbox_min[1])
        radius = min(cfg.merge_max_radius, cfg.merge_radius + cfg.merge_size_factor * half)
        d = math.hypot(rec.position[0] - pos[0], rec.position[1] - pos[1])
        if d <= radius or footprint_overlap(lo, hi, rec.bbox_min, rec.bbox_max, cfg.merge_pad) >= cfg.merge_overlap:
            return d
        return None

    def _assign(self, sightings: Sequence[Sighting]) -> list[str | None]:
        """Object node per sighting (None = new), one sighting per node, nearest pairs first.

        A sighting whose track is bound goes to that node; other sightings never take a node a
        live track holds (the perceiver said they are different objects).
        """
        out: list[str | None] = [None] * len(sightings)
        taken: set[str] = set()
        for i, s in enumerate(sightings):
            oid = self._track_node.get(s.track) if s.track is not None else None
            if oid is not None and oid in self._objects and oid not in taken:
                out[i] = oid
                taken.add(oid)
        held = set(self._track_node.values())
        pairs: list[tuple[float, int, str]] = []
        for i, s in enumerate(sightings):
            if out[i] is not None:
                continue
            for oid in self._by_label.get(s.label, ()):
                if s.track is not None and oid in held:
                    continue
                d = self._same_object(s.centroid, s.bbox_min, s.bbox_max, self._objects[oid])
                if d is not None:
                    pairs.append((d, i, oid))
        for _, i, oid in sorted(pairs):
            if out[i] is None and oid not in taken:
                out[i] = oid
                taken.add(oid)
        return out

    def _new_object(self, s: Sighting, percept: Percept) -> str:
        slug = label_slug(s.label)
        self._serial[f"obj/{slug}"] += 1
        oid = f"obj/{slug}/{self._serial[f'obj/{slug}']}"
        rec = ObjectRecord(
            id=oid, label=s.label, position=as_f3(s.centroid), floor=percept.pose.floor, colour=s.colour,
            material=s.material,
            bbox_min=as_f3(s.bbox_min), bbox_max=as_f3(s.bbox_max), n_views=1, first_seen=percept.timestamp,
            last_seen=percept.timestamp, first_step=percept.step, last_step=percept.step,
            attributes=tuple(s.attributes), room_guess=percept.room_guess, confidence=float(s.confidence),
            instance_hint=s.instance)
        track = ObjectTrack(weight=sighting_weight(s))
        vote_sighting(track, s, percept)
        track.conf_sum = float(s.confidence)
        self._objects[oid] = rec
        self._tracks[oid] = track
        self._by_label.setdefault(s.label, []).append(oid)
        self._g.add_node(oid, kind="object")
        self._keep_crop(oid, s, track)
        return oid

    def _update_object(self, oid: str, s: Sighting, percept: Percept) -> None:
        rec, track = self._objects[oid], self._tracks[oid]
        w = sighting_weight(s)
        pos = [(track.weight * p + w * c) / (track.weight + w) for p, c in zip(rec.position, s.centroid, strict=True)]
        track.weight += w
        vote_sighting(track, s, percept)
        track.conf_sum += float(s.confidence)
        t, k = percept.timestamp, percept.step
        self._objects[oid] = merged_record(rec, track, pos, s.bbox_min, s.bbox_max, 1, (t, t), (k, k), s.attributes)
        self._keep_crop(oid, s, track)

    def _mark_distinct(self, ids: list[str]) -> None:
        """Objects of one label seen in one view are different objects: never fuse them."""
        by_label: dict[str, list[str]] = {}
        for oid in ids:
            by_label.setdefault(self._objects[oid].label, []).append(oid)
        for group in by_label.values():
            for a in group:
                self._distinct.setdefault(a, set()).update(b for b in group if b != a)

    def _fold_tracks(self, merged: Sequence[tuple[int, int]]) -> list[str]:
        """Fold the nodes of tracks perception merged (``(dropped, kept)``); the node ids that went."""
        gone: list[str] = []
        for drop_t, keep_t in merged:
            drop = self._track_node.pop(drop_t, None)
            if drop is None or drop not in self._objects:
                continue
            keep = self._track_node.get(keep_t)
            if keep is None or keep not in self._objects:
                self._track_node[keep_t] = drop  # the surviving track takes the node over
            elif keep != drop:
                self._fuse(keep, drop)
                gone.append(drop)
        return gone

    def _fuse_duplicates(self, touched: list[str]) -> dict[str, str]:
        """Fuse touched nodes with older nodes that turn out to be the same object; ``{dropped: kept}``."""
        alias: dict[str, str] = {}
        for oid in touched:
            oid = alias.get(oid, oid)
            while oid in self._objects:
                rec = self._objects[oid]
                held = set(self._track_node.values()) if oid in self._track_node.values() else set()
                others = [o for o in self._by_label.get(rec.label, ())
                          if o != oid and o not in self._distinct.get(oid, ()) and o not in held]
                best = None
                for other in others:
                    d = self._same_object(rec.position, rec.bbox_min, rec.bbox_max, self._objects[other])
                    if d is not None and (best is None or d < best[0]):
                        best = (d, other)
                if best is None:
                    break
                keep, drop = sorted((oid, best[1]), key=lambda i: (self._objects[i].first_step, serial_of(i)))
                self._fuse(keep, drop)
                for k, v in list(alias.items()):
                    if v == drop:
                        alias[k] = keep
                alias[drop] = keep
                oid = keep
        return alias

    def _fuse(self, keep: str, drop: str) -> None:
        """Fold object ``drop`` into ``keep``: record, merge state, edges, places, crop."""
        a, b = self._objects[keep], self._objects[drop]
        ta, tb = self._tracks[keep], self._tracks[drop]
        wa, wb = ta.weight, tb.weight
        pos = [(wa * p + wb * q) / (wa + wb) for p, q in zip(a.position, b.position, strict=True)]
        for name in ("colours", "materials", "rooms", "instances", "floors"):
            getattr(ta, name).update(getattr(tb, name))
        ta.weight += tb.weight
        ta.conf_sum += tb.conf_sum
        self._objects[keep] = merged_record(a, ta, pos, b.bbox_min, b.bbox_max, b.n_views, (b.first_seen, b.last_seen),
                                      (b.first_step, b.last_step))
        if tb.crop_pixels > ta.crop_pixels and drop in self._crops:
            self._crops[keep] = self._crops[drop]
            ta.crop_pixels = tb.crop_pixels
        self._crops.pop(drop, None)
        for u, v, k, d in list(self._g.in_edges(drop, keys=True, data=True)) + list(
                self._g.out_edges(drop, keys=True, data=True)):
            u2, v2 = (keep if u == drop else u), (keep if v == drop else v)
            if u2 == v2:
                continue
            if k == SEES:
                place = self._places[u2]
                self._places[u2] = replace(place, object_ids=tuple(dict.fromkeys(
                    keep if i == drop else i for i in place.object_ids)))
                if self._g.has_edge(u2, v2, k) and self._g.edges[u2, v2, k].get("pixels", 0) >= d.get("pixels", 0):
                    continue
            elif self._g.has_edge(u2, v2, k):
                continue
            self._g.add_edge(u2, v2, key=k, **d)
        self._g.remove_node(drop)
        others = self._distinct.pop(drop, set()) - {keep}
        self._distinct.get(keep, set()).discard(drop)  # perception may fold nodes seen together in one view
        for o in others:
            self._distinct[o] = (self._distinct[o] - {drop}) | {keep}
        self._distinct.setdefault(keep, set()).update(others)
        del self._objects[drop], self._tracks[drop]
        self._by_label[b.label].remove(drop)
        self._fused.add(drop)
        log.debug("fused %s into %s", drop, keep)

    def _keep_crop(self, oid: str, s: Sighting, track: ObjectTrack) -> None:
        if s.crop is not None and s.pixels > track.crop_pixels:
            self._crops[oid] = s.crop
            track.crop_pixels = int(s.pixels)

    def _new_place(self, percept: Percept, object_ids: list[str]) -> str:
        self._serial["place"] += 1
        pid = f"place/{self._serial['place']}"
        ids = tuple(dict.fromkeys(object_ids))
        rec = PlaceRecord(id=pid, pose=percept.pose, timestamp=percept.timestamp, step=percept.step,
                          caption=percept.caption, room_guess=percept.room_guess, object_ids=ids)
        self._add_place(rec)
        prev = self._last_place
        if prev is not None:
            self._link(prev, pid, revisit=False)
        near = self._places_within(percept.pose.x, percept.pose.y, percept.pose.floor, self.config.revisit_radius,
                                   nearest=self.config.revisit_links + 2)  # + the new place and the last one
        for other in [o for o in near if o not in (pid, prev)][:self.config.revisit_links]:
            self._link(other, pid, revisit=True)
        self._last_place = pid
        if percept.image is not None:
            self._thumbs[pid] = percept.image
        return pid

    def _add_place(self, rec: PlaceRecord) -> None:
        self._places[rec.id] = rec
        self._g.add_node(rec.id, kind="place")
        self._place_index.setdefault(rec.floor, PlaceIndex()).add(rec.id, rec.pose.x, rec.pose.y)

    def _link(self, a: str, b: str, *, revisit: bool) -> None:
        pa, pb = self._places[a].pose, self._places[b].pose
        data: dict[str, Any] = {"kind": TRAVERSE, "length": round(pa.distance_to(pb), 4)}
        if revisit:
            data["revisit"] = True
        self._g.add_edge(a, b, key=TRAVERSE, **data)

    # ------------------------------------------------------------------------------ relations
    def _relate(self, ids: list[str], place: str, percept: Percept) -> tuple[list[Relation], list[Relation]]:
        """Re-derive the relations among objects seen together from ``place``; ``(added, removed)``."""
        if len(ids) < 2:
            return [], []
        recs = [self._objects[i] for i in ids]
        found = spatial_relations([r.bbox_min for r in recs], [r.bbox_max for r in recs], percept.pose,
                                  self.config.relations)
        want: dict[tuple[str, str], dict[tuple[str, str, str], float]] = {}
        for i, j, kind, d in found:
            u, v = ids[i], ids[j]
            if kind in _SYMMETRIC and v < u:
                u, v = v, u
            want.setdefault(tuple(sorted((u, v))), {})[(u, v, kind)] = round(d, 3)
        added: list[Relation] = []
        removed: list[Relation] = []
        for n, a in enumerate(ids):
            for b in ids[n + 1:]:
                wanted = want.get(tuple(sorted((a, b))), {})
                before = {(u, v, k): dict(d) for u, v in ((a, b), (b, a))
                          for k, d in self._g.get_edge_data(u, v, default={}).items() if k in RELATION_KINDS}
                for (u, v, k), d in before.items():
                    if (u, v, k) not in wanted:
                        self._g.remove_edge(u, v, k)
                        removed.append(Relation(u, v, k, d.get("place", ""), d.get("distance", 0.0)))
                for (u, v, k), d in wanted.items():
                    self._g.add_edge(u, v, key=k, kind=k, place=place, distance=d)
                    if (u, v, k) not in before:
                        added.append(Relation(u, v, k, place, d))
        return added, removed

    # -------------------------------------------------------------------------------- queries
    @property
    def graph(self) -> nx.MultiDiGraph:
        """The underlying graph (read it; change it only through ``add``)."""
        return self._g

    @property
    def last_place(self) -> str | None:
        """Id of the newest place (None before the first keyframe)."""
        return self._last_place

    def __len__(self) -> int:
        return len(self._places) + len(self._objects)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._places or node_id in self._objects

    def place(self, place_id: str) -> PlaceRecord:
        """The place record ``place_id`` (``NodeNotFound`` if there is none)."""
        try:
            return self._places[place_id]
        except KeyError:
            raise NodeNotFound(f"no place {place_id!r} in the graph ({len(self._places)} places)") from None

    def object(self, object_id: str) -> ObjectRecord:
        """The object record ``object_id`` (``NodeNotFound`` if there is none)."""
        try:
            return self._objects[object_id]
        except KeyError:
            raise NodeNotFound(f"no object {object_id!r} in the graph ({len(self._objects)} objects)") from None

    def node(self, node_id: str) -> PlaceRecord | ObjectRecord:
        """The place or object record ``node_id``."""
        if node_id in self._places:
            return self._places[node_id]
        return self.object(node_id)

    def places(self) -> list[PlaceRecord]:
        """Every place, oldest first."""
        return list(self._places.values())

    def objects(self) -> list[ObjectRecord]:
        """Every object node, in order of first sighting."""
        return list(self._objects.values())

    def relations(self, node_id: str) -> list[Relation]:
        """Spatial relations from and to object ``node_id``."""
        self.object(node_id)
        edges = [*self._g.out_edges(node_id, keys=True, data=True), *self._g.in_edges(node_id, keys=True, data=True)]
        return [Relation(u, v, k, d.get("place", ""), d.get("distance", 0.0)) for u, v, k, d in edges
                if k in RELATION_KINDS]

    def objects_seen_from(self, place_id: str) -> list[ObjectRecord]:
        """Objects seen from a place, in the order the view listed them."""
        return [self._objects[i] for i in self.place(place_id).object_ids if i in self._objects]

    def places_seeing(self, object_id: str) -> list[PlaceRecord]:
        """Places from which an object was seen, oldest first."""
        self.object(object_id)
        ids = [u for u, _, k in self._g.in_edges(object_id, keys=True) if k == SEES]
        return sorted((self._places[i] for i in ids), key=lambda p: (p.step, p.timestamp, p.id))

    def nearest_place(self, x: float, y: float, floor: int = 0) -> PlaceRecord:
        """The place on ``floor`` nearest to ``(x, y)`` (``NodeNotFound`` when the floor has none)."""
        index = self._place_index.get(floor)
        if index is None or not index.ids:
            raise NodeNotFound(f"no place on floor {floor} yet")
        return self._places[index.ids[int(np.argmin(index.d2(x, y)))]]

    def _places_within(self, x: float, y: float, floor: int, radius: float, nearest: int | None = None) -> list[str]:
        """Places within ``radius`` of (x, y), nearest first (only the ``nearest`` closest when given)."""
        index = self._place_index.get(floor)
        if index is None or radius <= 0:
            return []
        d2 = index.d2(x, y)
        inside = np.nonzero(d2 <= radius * radius)[0]
        return [index.ids[k] for k in inside[np.argsort(d2[inside], kind="stable")][:nearest]]

    def place_path(self, a: str, b: str) -> list[str]:
        """Shortest sequence of places from ``a`` to ``b`` over traverse edges (either direction)."""
        self.place(a)
        self.place(b)
        view = nx.Graph()
        view.add_nodes_from(self._places)
        for u, v, k, d in self._g.edges(keys=True, data=True):
            if k == TRAVERSE:
                w = float(d.get("length", 0.0))
                if not view.has_edge(u, v) or view[u][v]["length"] > w:
                    view.add_edge(u, v, length=w)
        try:
            return nx.shortest_path(view, a, b, weight="length")
        except nx.NetworkXNoPath:
            raise NoPath(f"no traverse path from {a!r} to {b!r}") from None

    def crop(self, object_id: str) -> np.ndarray | None:
        """The best crop kept for an object (the sighting with most pixels), or None if it has none."""
        self.object(object_id)
        return self._crops.get(object_id)

    def thumbnail(self, place_id: str) -> np.ndarray | None:
        """The view thumbnail of a place, or None if perception gave none."""
        self.place(place_id)
        return self._thumbs.get(place_id)

    # ---------------------------------------------------------------------------- persistence
    def to_records(self) -> tuple[list[PlaceRecord], list[ObjectRecord]]:
        """All place and object records, for ``upsert_places`` / ``upsert_objects``."""
        return self.places(), self.objects()

    def edge_rows(self, kinds: Iterable[str] | None = None) -> list[EdgeTuple]:
        """``(src, dst, kind, data)`` for every edge (or those of ``kinds``), for ``put_edges``."""
        wanted = None if kinds is None else set(kinds)
        rows = []
        for u, v, k, d in self._g.edges(keys=True, data=True):
            if wanted is None or k in wanted:
                rows.append((u, v, k, {key: val for key, val in d.items() if key != "kind"}))
        return rows

    def image_rows(self) -> list[tuple[str, str, np.ndarray]]:
        """``(node_id, kind, rgb)`` with kind ``thumb`` (places) or ``crop`` (objects), for ``put_image``."""
        return ([(pid, "thumb", im) for pid, im in self._thumbs.items()]
                + [(oid, "crop", im) for oid, im in self._crops.items()])

    def write_to(self, store: Any, *, images: bool = True) -> None:
        """Write the whole graph to a store: records, edges and images.

        Objects fused away since the last call are deleted (with their edges), and relation
        edges are replaced kind by kind, so relations that no longer hold go too.
        """
        if self._fused:
            store.delete_nodes(sorted(self._fused))
            self._fused.clear()
        places, objects = self.to_records()
        store.upsert_places(places)
        store.upsert_objects(objects)
        store.put_edges(self.edge_rows((TRAVERSE, SEES)))
        for kind in RELATION_KINDS:
            store.replace_edges(kind, self.edge_rows((kind,)))
        if images:
            same = self._image_sink is not None and self._image_sink() is store
            self._image_written = {}
            for node_id, kind, im in self.image_rows():
                if same and self._image_saved.get((node_id, kind)) is im:
                    continue  # PNG-encoding every image at every checkpoint cost more than the rest of it
                store.put_image(node_id, kind, im)
                self._image_written[(node_id, kind)] = im

    def images_committed(self, store: Any) -> None:
        """``store`` committed what the last ``write_to`` wrote: its next ``write_to`` writes only the images
        that are new or changed since (called after the store's own checkpoint succeeded)."""
        if self._image_sink is None or self._image_sink() is not store:
            self._image_saved = {}
            self._image_sink = weakref.ref(store)
        self._image_saved.update(self._image_written)
        self._image_written = {}
        live = {(n, k) for n, k, _ in self.image_rows()}
        for key in [k for k in self._image_saved if k not in live]:
            del self._image_saved[key]

    @classmethod
    def load_from(cls, store: Any, *, config: TopoGraphConfig | None = None, images: bool = True) -> TopoGraph:
        """A graph rebuilt from a store's ``load()`` snapshot (and its thumb/crop images)."""
        snap = store.load()
        pics = []
        if images:
            for node_id, kind in store.image_keys():
                if kind in ("thumb", "crop"):
                    pics.append((node_id, kind, store.get_image(node_id, kind)))
        return cls.from_snapshot(snap.places, snap.objects, snap.edges, pics, config=config)

    @classmethod
    def from_snapshot(cls, places: Iterable[PlaceRecord], objects: Iterable[ObjectRecord],
                      edges: Iterable[Any], images: Iterable[tuple[str, str, np.ndarray]] = (), *,
                      config: TopoGraphConfig | None = None) -> TopoGraph:
        """Rebuild a graph from records, edge rows (``EdgeRow`` or ``(src, dst, kind, data)``) and images.

        Edges whose ends are not among the records (cluster membership and the like) are skipped.
        Merge weights are approximated by the pixels of each object's ``sees`` edges, so later
        sightings refine positions about as much as they would have in the original run.
        """
        g = cls(config)
        for rec in sorted(places, key=lambda p: (p.step, p.timestamp, serial_of(p.id))):
            g._add_place(rec)
            g._last_place = rec.id
            g._serial["place"] = max(g._serial["place"], serial_of(rec.id))
        for rec in objects:
            g._objects[rec.id] = rec
            g._g.add_node(rec.id, kind="object")
            g._by_label.setdefault(rec.label, []).append(rec.id)
            prefix = rec.id.rsplit("/", 1)[0]
            g._serial[prefix] = max(g._serial[prefix], serial_of(rec.id))
            t = ObjectTrack(weight=0.0, conf_sum=rec.confidence * rec.n_views)
            for counter, value in ((t.colours, rec.colour), (t.materials, rec.material), (t.rooms, rec.room_guess)):
                if value:
                    counter[value] = rec.n_views
            if rec.instance_hint is not None:
                t.instances[rec.instance_hint] = rec.n_views
            t.floors[rec.floor] = rec.n_views
            g._tracks[rec.id] = t
        for e in edges:
            src, dst, kind, data = edge_parts(e)
            if src not in g or dst not in g:
                continue
            g._g.add_edge(src, dst, key=kind, kind=kind, **data)
            if kind == SEES and dst in g._tracks:
                g._tracks[dst].weight += float(data.get("pixels", 0))
                g._tracks[dst].crop_pixels = max(g._tracks[dst].crop_pixels, int(data.get("pixels", 0)))
        for t in g._tracks.values():
            t.weight = max(t.weight, 1.0)
        for place in g._places.values():
            g._mark_distinct([i for i in place.object_ids if i in g._objects])
        for node_id, kind, im in images:
            if kind == "thumb" and node_id in g._places:
                g._thumbs[node_id] = np.asarray(im)
            elif kind == "crop" and node_id in g._objects:
                g._crops[node_id] = np.asarray(im)
        return g
