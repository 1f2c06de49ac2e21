"""The semantic forest: leaves (objects, views) grouped into areas, rooms, floors and a site.

Levels: L0 leaves -> L1 areas (a few metres) -> L2 rooms/regions -> L3 floors -> L4 site.

**Incremental.** ``insert(leaf)`` joins the nearest admissible area - same floor, same room
region when one is known, within ``area_radius``, combined spatial + semantic distance under
the threshold - or opens one; only the clusters above it are marked dirty. ``refresh()``
repairs what new knowledge broke (a region map that now separates two rooms moves the leaves
and areas concerned, nothing else) and re-summarises only the dirty clusters. Floors never mix.

``build(leaves)`` (batch, for imports) inserts in a deterministic spatial order and then
reassigns leaves to their best area once, so it yields the same kind of tree. With a geographic
config (street views) it then groups areas (blocks) into neighbourhoods and those into districts by
projected distance, under one site: the same four levels, at street scale.

Levels above 4 (kept from an imported forest) are held and summarised like the others.
"""
from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Iterable

import numpy as np

from memory.forest_repair import RepairMixin
from memory.forest_types import (  # noqa: F401 - re-exported
    ClusterView,
    ForestConfig,
    RefreshReport,
    Summariser,
    Summary,
    TextEncoder,
    leaf_from_record,
)
from memory.regions import RegionLookup
from memory.types import ClusterRecord, Leaf

log = logging.getLogger(__name__)

__all__ = ["ForestConfig", "SemanticForest", "ClusterView", "Summary", "Summariser", "RefreshReport",
           "TextEncoder", "leaf_from_record"]

LEAF, AREA, ROOM, FLOOR, SITE = 0, 1, 2, 3, 4


class _Cluster:
    __slots__ = ("id", "level", "floor", "children", "parent", "pos_sum", "n", "vec_sum", "region",
                 "counts", "lo", "hi", "t_first", "t_last", "record", "vector", "grid_key")

    def __init__(self, cid: str, level: int, floor: int) -> None:
        self.id = cid
        self.level = level
        self.floor = floor
        self.children: dict[str, None] = {}  # insertion-ordered set
        self.parent: str | None = None
        self.pos_sum = np.zeros(3)
        self.n = 0
        self.vec_sum: np.ndarray | None = None
        self.region: int | None = None
        self.counts: Counter = Counter()
        self.lo = np.full(3, np.inf)
        self.hi = np.full(3, -np.inf)
        self.t_first = math.inf
        self.t_last = -math.inf
        self.record: ClusterRecord | None = None
        self.vector: np.ndarray | None = None  # embedding of the summary text
        self.grid_key: tuple | None = None

    @property
    def centroid(self) -> np.ndarray:
        return self.pos_sum / max(self.n, 1)

    def mean_vector(self) -> np.ndarray | None:
        if self.vec_sum is None:
            return None
        nrm = float(np.linalg.norm(self.vec_sum))
        return None if nrm == 0 else (self.vec_sum / nrm).astype(np.float32)


class SemanticForest(RepairMixin):
    """Hierarchy of clusters over the memory's leaves, maintained incrementally."""

    def __init__(self, config: ForestConfig | None = None, *, summariser: Summariser | None = None,
                 encoder: TextEncoder | None = None, regions: RegionLookup | None = None) -> None:
        self.config = config or ForestConfig()
        self.summariser = summariser
        self.encoder = encoder
        self._regions = regions
        self._regions_version: object = None
        self._leaves: dict[str, Leaf] = {}
        self._leaf_parent: dict[str, str] = {}
        self._leaf_region: dict[str, int | None] = {}
        self._clusters: dict[str, _Cluster] = {}
        self._serial: Counter = Counter()  # next serial per level
        self._grid: dict[tuple, set[str]] = {}
        self._room_of_region: dict[int, str] = {}
        self._floor_cluster: dict[int, str] = {}
        self._root: str | None = None
        self._dirty: set[str] = set()

    # ------------------------------------------------------------------ public: building
    def set_regions(self, regions: RegionLookup | None) -> None:
        """Use a (new) room segmentation; the next ``refresh()`` repairs the tree against it."""
        self._regions = regions

    def insert(self, leaf: Leaf) -> str:
        """Add a leaf; returns the id of the area it joined. Re-inserting an id updates it."""
        if leaf.id in self._leaves:
            self.update(leaf)
            return self._leaf_parent[leaf.id]
        self._leaves[leaf.id] = leaf
        region = self._region_for(leaf.position, leaf.floor)
        self._leaf_region[leaf.id] = region
        area = self._best_area(leaf, region)
        if area is None:
            area = self._new_cluster(AREA, leaf.floor)
            area.region = region
            self._attach_leaf(leaf, area)
            self._attach_area(area)
        else:
            self._attach_leaf(leaf, area)
        return area.id

    def update(self, leaf: Leaf) -> None:
        """Replace a leaf's data (refined position, new text); moves it if it left its area."""
        old = self._leaves.get(leaf.id)
        if old is None:
            self.insert(leaf)
            return
        area = self._clusters[self._leaf_parent[leaf.id]]
        self._detach_leaf(old, area)
        self._leaves[leaf.id] = leaf
        region = self._region_for(leaf.position, leaf.floor)
        self._leaf_region[leaf.id] = region
        c = area.centroid if area.n else np.asarray(leaf.position)
        d = math.hypot(leaf.position[0] - c[0], leaf.position[1] - c[1])
        if (area.floor == leaf.floor and d <= self.config.area_radius and area.id in self._clusters
                and (region is None or area.region in (None, region))):
            self._attach_leaf(leaf, area)
        else:
            del self._leaves[leaf.id]
            self._leaf_parent.pop(leaf.id, None)
            self.insert(leaf)

    def remove(self, leaf_id: str) -> None:
        leaf = self._leaves.pop(leaf_id, None)
        if leaf is None:
            return
        area = self._clusters[self._leaf_parent.pop(leaf_id)]
        self._detach_leaf(leaf, area)
        self._leaf_region.pop(leaf_id, None)

    def build(self, leaves: Iterable[Leaf]) -> RefreshReport:
        """Batch build (imports): deterministic spatial order, one reassignment pass, summaries."""
        items = sorted(leaves, key=lambda lf: (lf.floor, round(lf.position[0] / self.config.area_radius),
                                               round(lf.position[1] / self.config.area_radius), lf.id))
        for leaf in items:
            self.insert(leaf)
        for _ in range(self.config.refine_passes):
            self._reassign_all()
        if self.config.geographic:
            self._prune()
            self._regroup_by_distance()
        return self.refresh()

    def refresh(self) -> RefreshReport:
        """Repair against the current regions, drop empty clusters, re-summarise dirty ones."""
        t0 = time.perf_counter()
        rep = RefreshReport()
        if self._regions is not None and self.config.use_regions:
            version = getattr(self._regions, "version", id(self._regions))
            if version != self._regions_version:
                self._regions_version = version
                rep.moved_leaves, rep.moved_areas = self._repair_regions()
        rep.removed = self._prune()
        rep.summarised, rep.embedded = self._summarise_dirty()
        rep.seconds = time.perf_counter() - t0
        return rep

    # ------------------------------------------------------------------ public: queries
    @property
    def dirty(self) -> set[str]:
        return set(self._dirty)

    def __len__(self) -> int:
        return len(self._leaves)

    def leaf(self, leaf_id: str) -> Leaf:
        return self._leaves[leaf_id]

    def leaves(self) -> list[Leaf]:
        return list(self._leaves.values())

    def has(self, node_id: str) -> bool:
        return node_id in self._clusters or node_id in self._leaves

    def cluster(self, cluster_id: str) -> ClusterRecord:
        c = self._clusters[cluster_id]
        return c.record if c.record is not None else self._make_record(c, Summary(c.id, ""))

    def clusters(self, level: int | None = None) -> list[ClusterRecord]:
        return [self.cluster(c.id) for c in self._clusters.values() if level is None or c.level == level]

    def level_counts(self) -> dict[int, int]:
        out = {LEAF: len(self._leaves)}
        for c in self._clusters.values():
            out[c.level] = out.get(c.level, 0) + 1
        return dict(sorted(out.items()))

    def children(self, node_id: str) -> list[str]:
        c = self._clusters.get(node_id)
        return list(c.children) if c is not None else []

    def parent(self, node_id: str) -> str | None:
        if node_id in self._leaf_parent:
            return self._leaf_parent[node_id]
        c = self._clusters.get(node_id)
        return c.parent if c is not None else None

    def ancestors(self, node_id: str) -> list[str]:
        out = []
        p = self.parent(node_id)
        while p is not None:
            out.append(p)
            p = self.parent(p)
        return out

    def roots(self) -> list[str]:
        return [c.id for c in self._clusters.values() if c.parent is None]

    def leaves_under(self, node_id: str) -> list[str]:
        if node_id in self._leaves:
            return [node_id]
        out: list[str] = []
        stack = [node_id]
        while stack:
            c = self._clusters[stack.pop()]
            if c.level == AREA:
                out.extend(c.children)
            else:
                stack.extend(c.children)
        return out

    def level_of(self, node_id: str) -> int:
        return LEAF if node_id in self._leaves else self._clusters[node_id].level

    def summary_vector(self, cluster_id: str) -> np.ndarray | None:
        return self._clusters[cluster_id].vector

    def mean_vector(self, cluster_id: str) -> np.ndarray | None:
        return self._clusters[cluster_id].mean_vector()

    def region_of_leaf(self, leaf_id: str) -> int | None:
        return self._leaf_region.get(leaf_id)

    # ------------------------------------------------------------------ persistence
    def to_records(self) -> tuple[list[ClusterRecord], list[tuple[str, str]]]:
        """Cluster records and (child, parent) membership pairs (leaves and clusters)."""
        recs = [self.cluster(cid) for cid in self._clusters]
        pairs = [(lid, pid) for lid, pid in self._leaf_parent.items()]
        pairs += [(c.id, c.parent) for c in self._clusters.values() if c.parent is not None]
        return recs, pairs

    def cluster_vectors(self) -> dict[str, np.ndarray]:
        return {c.id: c.vector for c in self._clusters.values() if c.vector is not None}

    @classmethod
    def from_records(cls, leaves: Iterable[Leaf], clusters: Iterable[ClusterRecord],
                     membership: Iterable[tuple[str, str]], *, config: ForestConfig | None = None,
                     summariser: Summariser | None = None, encoder: TextEncoder | None = None,
                     vectors: dict[str, np.ndarray] | None = None) -> SemanticForest:
        """Restore a forest saved with ``to_records`` (sums are recomputed from the leaves)."""
        f = cls(config, summariser=summariser, encoder=encoder)
        recs = {r.id: r for r in clusters}
        for r in recs.values():
            c = _Cluster(r.id, r.level, r.floor)
            c.record = r
            c.parent = r.parent
            c.vector = (vectors or {}).get(r.id)
            f._clusters[r.id] = c
            try:
                serial = int(r.id.rsplit("/", 1)[-1])
                f._serial[r.level] = max(f._serial[r.level], serial + 1)
            except ValueError:
                pass
        for r in recs.values():
            for ch in r.children:
                if ch in recs:
                    f._clusters[r.id].children[ch] = None
        leaf_map = {lf.id: lf for lf in leaves}
        for child, parent in membership:
            if child in leaf_map and parent in f._clusters:
                leaf = leaf_map[child]
                f._leaves[child] = leaf
                f._leaf_region[child] = None
                area = f._clusters[parent]
                area.children[child] = None
                f._leaf_parent[child] = parent
                f._add_stats(area, leaf, +1)
        for c in f._clusters.values():
            if c.level == AREA:
                f._index(c)
            elif c.level == FLOOR:
                f._floor_cluster[c.floor] = c.id
            elif c.level == SITE:
                f._root = c.id
        # restored clusters are as they were saved: re-summarising them on the next refresh would
        # overwrite their names and summaries (an imported forest's, or an LLM's) with the summariser
        # of the day; only what changes after loading is re-summarised
        f._dirty.clear()
        missing = [c for c in f._clusters.values() if c.vector is None and c.record is not None]
        if missing and f.encoder is not None:  # vectors of another encoder: embed the saved text, keep it
            vecs = f.encoder.encode_text([c.record.text for c in missing])
            for c, v in zip(missing, vecs, strict=True):
                c.vector = np.asarray(v, dtype=np.float32)
        return f

    # ------------------------------------------------------------------ internals: structure
    def _new_cluster(self, level: int, floor: int) -> _Cluster:
        cid = f"cluster/{level}/{self._serial[level]}"
        self._serial[level] += 1
        c = _Cluster(cid, level, floor)
        self._clusters[cid] = c
        self._dirty.add(cid)
        return c

    def _region_for(self, pos: tuple[float, float, float], floor: int) -> int | None:
        if self._regions is None or not self.config.use_regions:
            return None
        return self._regions.region_of(float(pos[0]), float(pos[1]), floor)

    def _grid_key(self, floor: int, pos: np.ndarray) -> tuple:
        r = self.config.area_radius
        return (floor, int(math.floor(pos[0] / r)), int(math.floor(pos[1] / r)))

    def _index(self, c: _Cluster, *, remove: bool = False) -> None:
        """Keep an area's entry in the spatial grid at its centroid (``remove``: drop it)."""
        key = self._grid_key(c.floor, c.centroid) if c.n and not remove else None
        if key == c.grid_key:
            return
        if c.grid_key is not None:
            s = self._grid.get(c.grid_key)
            if s is not None:
                s.discard(c.id)
                if not s:
                    del self._grid[c.grid_key]
        c.grid_key = key
        if key is not None:
            self._grid.setdefault(key, set()).add(c.id)

    def _semantic(self, vec: np.ndarray | None, c: _Cluster) -> float:
        mv = c.mean_vector()
        if vec is None or mv is None:
            return 0.5
        return float(max(0.0, min(1.0, (1.0 - float(np.dot(vec, mv))) / 2.0)))

    def _area_distance(self, leaf: Leaf, c: _Cluster) -> float:
        cen = c.centroid
        s = math.hypot(leaf.position[0] - cen[0], leaf.position[1] - cen[1]) / self.config.area_radius
        if s > 1.0:
            return math.inf
        return self.config.w_spatial * s + self.config.w_semantic * self._semantic(leaf.vector, c)

    def _best_area(self, leaf: Leaf, region: int | None, exclude: str | None = None) -> _Cluster | None:
        floor, gx, gy = self._grid_key(leaf.floor, np.asarray(leaf.position))
        best, best_d = None, self.config.area_threshold
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for cid in self._grid.get((floor, gx + dx, gy + dy), ()):
                    c = self._clusters[cid]
                    if cid == exclude or c.n >= self.config.max_area_leaves:
                        continue
                    if region is not None and c.region is not None and c.region != region:
                        continue
                    d = self._area_distance(leaf, c)
                    if d < best_d or (d == best_d and best is not None and cid < best.id):
                        best, best_d = c, d
        return best

    def _add_stats(self, c: _Cluster, leaf: Leaf, sign: int) -> None:
        """Add (+1) or remove (-1) a leaf's statistics from ``c`` and all its ancestors."""
        pos = np.asarray(leaf.position, dtype=np.float64)
        node: _Cluster | None = c
        while node is not None:
            node.pos_sum += sign * pos
            node.n += sign
            if leaf.vector is not None:
                v = np.asarray(leaf.vector, dtype=np.float64)
                node.vec_sum = (sign * v) if node.vec_sum is None else node.vec_sum + sign * v
            if leaf.label:
                node.counts[leaf.label] += sign
                if node.counts[leaf.label] <= 0:
                    del node.counts[leaf.label]
            if sign > 0:
                node.lo = np.minimum(node.lo, pos)
                node.hi = np.maximum(node.hi, pos)
                node.t_first = min(node.t_first, leaf.timestamp)
                node.t_last = max(node.t_last, leaf.timestamp)
            self._dirty.add(node.id)
            node = self._clusters.get(node.parent) if node.parent else None

    def _recompute_bounds(self, c: _Cluster) -> None:
        ids = self.leaves_under(c.id)
        if not ids:
            c.lo, c.hi = np.full(3, np.inf), np.full(3, -np.inf)
            c.t_first, c.t_last = math.inf, -math.inf
            return
        pts = np.array([self._leaves[i].position for i in ids], dtype=np.float64)
        ts = [self._leaves[i].timestamp for i in ids]
        c.lo, c.hi = pts.min(axis=0), pts.max(axis=0)
        c.t_first, c.t_last = min(ts), max(ts)

    def _attach_leaf(self, leaf: Leaf, area: _Cluster) -> None:
        area.children[leaf.id] = None
        self._leaf_parent[leaf.id] = area.id
        self._add_stats(area, leaf, +1)
        if area.region is None:
            area.region = self._leaf_region.get(leaf.id)
        self._index(area)

    def _detach_leaf(self, leaf: Leaf, area: _Cluster) -> None:
        area.children.pop(leaf.id, None)
        self._add_stats(area, leaf, -1)
        node: _Cluster | None = area
        while node is not None and node.level <= ROOM:  # floors and the site keep loose bounds
            self._recompute_bounds(node)
            node = self._clusters.get(node.parent) if node.parent else None
        self._index(area)

    def _attach_area(self, area: _Cluster, room: _Cluster | None = None) -> None:
        if room is None:
            room = self._room_for(area)
        self._link(area, room)
        if room.parent is None:
            self._link(room, self._floor_for(room.floor))

    def _link(self, child: _Cluster, parent: _Cluster) -> None:
        """Make ``parent`` the parent of ``child`` (moving its statistics)."""
        if child.parent == parent.id:
            return
        if child.parent is not None:
            self._unlink(child)
        child.parent = parent.id
        parent.children[child.id] = None
        node: _Cluster | None = parent
        while node is not None:
            node.pos_sum += child.pos_sum
            node.n += child.n
            if child.vec_sum is not None:
                node.vec_sum = child.vec_sum.copy() if node.vec_sum is None else node.vec_sum + child.vec_sum
            node.counts.update(child.counts)
            node.lo = np.minimum(node.lo, child.lo)
            node.hi = np.maximum(node.hi, child.hi)
            node.t_first = min(node.t_first, child.t_first)
            node.t_last = max(node.t_last, child.t_last)
            self._dirty.add(node.id)
            node = self._clusters.get(node.parent) if node.parent else None

    def _unlink(self, child: _Cluster) -> None:
        parent = self._clusters.get(child.parent) if child.parent else None
        child.parent = None
        if parent is None:
            return
        parent.children.pop(child.id, None)
        node: _Cluster | None = parent
        while node is not None:
            node.pos_sum -= child.pos_sum
            node.n -= child.n
            if child.vec_sum is not None and node.vec_sum is not None:
                node.vec_sum = node.vec_sum - child.vec_sum
            node.counts.subtract(child.counts)
            node.counts = +node.counts
            self._recompute_bounds(node)
            self._dirty.add(node.id)
            node = self._clusters.get(node.parent) if node.parent else None

    def _room_for(self, area: _Cluster) -> _Cluster:
        if area.region is not None:
            rid = self._room_of_region.get(area.region)
            if rid is not None and rid in self._clusters:
                return self._clusters[rid]
            room = self._new_cluster(ROOM, area.floor)
            room.region = area.region
            self._room_of_region[area.region] = room.id
            return room
        best, best_d = None, self.config.room_threshold
        cen = area.centroid
        av = area.mean_vector()
        for c in self._clusters.values():
            if c.level != ROOM or c.floor != area.floor or c.n == 0:
                continue
            s = math.hypot(cen[0] - c.centroid[0], cen[1] - c.centroid[1]) / self.config.room_radius
            if s > 1.0:
                continue
            d = self.config.w_spatial * s + self.config.w_semantic * self._semantic(av, c)
            if d < best_d:
                best, best_d = c, d
        return best if best is not None else self._new_cluster(ROOM, area.floor)

    def _regroup_by_distance(self) -> None:
        """Geographic batch build: areas -> level 2 -> level 3 by complete linkage on centroids, one site."""
        for c in [c for c in self._clusters.values() if c.level > AREA]:
            del self._clusters[c.id]
            self._dirty.discard(c.id)
        self._room_of_region.clear()
        self._floor_cluster.clear()
        self._root = None
        for lv in (ROOM, FLOOR, SITE):
            self._serial[lv] = 0
        level_below = sorted((c for c in self._clusters.values() if c.level == AREA), key=lambda c: c.id)
        for c in level_below:
            c.parent = None
        for level, radius in ((ROOM, self.config.room_radius), (FLOOR, self.config.district_radius)):
            groups = _complete_linkage([c.centroid[:2] for c in level_below], 2.0 * radius)
            parents = []
            for members in groups:
                parent = self._new_cluster(level, level_below[members[0]].floor)
                for k in members:
                    self._link(level_below[k], parent)
                parents.append(parent)
            level_below = parents
        root = self._new_cluster(SITE, level_below[0].floor if level_below else 0)
        for c in level_below:
            self._link(c, root)
        self._root = root.id
        if level_below:
            self._floor_cluster[root.floor] = max(level_below, key=lambda c: (c.n, c.id)).id

    def _floor_for(self, floor: int) -> _Cluster:
        fid = self._floor_cluster.get(floor)
        if fid is not None and fid in self._clusters:
            return self._clusters[fid]
        fc = self._new_cluster(FLOOR, floor)
        self._floor_cluster[floor] = fc.id
        if self._root is None or self._root not in self._clusters:
            self._root = self._new_cluster(SITE, floor).id
        self._link(fc, self._clusters[self._root])
        return fc

    # ------------------------------------------------------------------ internals: summaries
    def _view(self, c: _Cluster) -> ClusterView:
        leaves = [self._leaves[i] for i in self.leaves_under(c.id)] if c.level <= ROOM else []
        children = [self.cluster(ch) for ch in c.children] if c.level > AREA else []
        counts = sorted(c.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        rooms: list[ClusterRecord] = []
        if c.level > ROOM:
            stack = list(c.children)
            while stack:
                k = self._clusters[stack.pop()]
                if k.level == ROOM:
                    rooms.append(self.cluster(k.id))
                elif k.level > ROOM:
                    stack.extend(k.children)
            rooms.sort(key=lambda r: r.id)
        return ClusterView(c.id, c.level, c.floor, leaves, children, counts, c.n,
                           tuple(float(v) for v in c.lo), tuple(float(v) for v in c.hi),  # type: ignore[arg-type]
                           float(c.t_first), float(c.t_last), rooms)

    def _make_record(self, c: _Cluster, s: Summary) -> ClusterRecord:
        counts = tuple(sorted(((k, int(v)) for k, v in c.counts.items() if v > 0), key=lambda kv: (-kv[1], kv[0])))
        fin = np.isfinite(c.lo).all()
        return ClusterRecord(
            id=c.id, level=c.level, name=s.name, summary=s.summary,
            position=tuple(float(v) for v in c.centroid),  # type: ignore[arg-type]
            floor=c.floor, children=tuple(c.children), parent=c.parent, n_leaves=int(c.n), counts=counts,
            room_type=s.room_type,
            bbox_min=tuple(float(v) for v in c.lo) if fin else (0.0, 0.0, 0.0),  # type: ignore[arg-type]
            bbox_max=tuple(float(v) for v in c.hi) if fin else (0.0, 0.0, 0.0),  # type: ignore[arg-type]
            first_seen=float(c.t_first) if math.isfinite(c.t_first) else 0.0,
            last_seen=float(c.t_last) if math.isfinite(c.t_last) else 0.0,
        )

    def _summarise_dirty(self) -> tuple[list[str], int]:
        done: list[str] = []
        texts: list[tuple[_Cluster, str]] = []
        levels = sorted({self._clusters[i].level for i in self._dirty if i in self._clusters})
        for level in levels:  # bottom-up: parents read their children's records
            for cid in sorted(i for i in self._dirty if i in self._clusters and self._clusters[i].level == level):
                c = self._clusters[cid]
                if self.summariser is not None:
                    s = self.summariser.summarise(self._view(c))
                else:
                    top = ", ".join(k for k, _ in c.counts.most_common(3))
                    kind = ("area", "room", "floor", "site")[min(level, SITE) - 1]
                    s = Summary(f"{kind} {cid.rsplit('/', 1)[-1]}", top)
                old_text = c.record.text if c.record is not None else None
                c.record = self._make_record(c, s)
                if c.record.text != old_text or c.vector is None:
                    texts.append((c, c.record.text))
                done.append(cid)
        self._dirty.clear()
        embedded = 0
        if self.encoder is not None and texts:
            vecs = self.encoder.encode_text([t for _, t in texts])
            for (c, _), v in zip(texts, vecs, strict=True):
                c.vector = np.asarray(v, dtype=np.float32)
            embedded = len(texts)
        return done, embedded


def _complete_linkage(points: list[np.ndarray], diameter: float) -> list[list[int]]:
    """Groups of point indices, each at most ``diameter`` across (complete linkage), in order of their
    first member; deterministic for a given point order."""
    if len(points) <= 1:
        return [list(range(len(points)))] if points else []
    from scipy.cluster.hierarchy import fcluster, linkage

    labels = fcluster(linkage(np.asarray(points, dtype=np.float64), method="complete"), t=diameter,
                      criterion="distance")
    groups: dict[int, list[int]] = {}
    for k, lab in enumerate(labels):
        groups.setdefault(int(lab), []).append(k)
    return sorted(groups.values(), key=lambda g: g[0])
