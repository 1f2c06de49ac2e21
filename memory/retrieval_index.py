"""A read-only, array-backed view of a memory for fast retrieval.

Leaves (objects and views) and the clusters of each forest level are laid out depth-first, so
the children of every cluster are one contiguous range of the level below: aggregating leaf
evidence up the tree is a ``reduceat`` and scoring a cluster's children is one slice. Text
vectors (and image vectors when the memory has them) are stacked float32 matrices; cluster
vectors are the embedding of their summary plus the normalised mean of their leaves.

``index_for(memory)`` builds the index of an ``EmbodiedMemory`` once and reuses it until the
memory changes; ``RetrievalIndex.synthetic(n)`` builds a clustered synthetic forest of any size
for benchmarks.
"""
from __future__ import annotations

import functools
import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from memory.types import ClusterRecord, NodeKind

log = logging.getLogger(__name__)

__all__ = ["ClusterLevel", "RetrievalIndex", "index_for", "INVERSE_RELATION"]

INVERSE_RELATION = {"on": "under", "under": "on", "above": "under", "left_of": "right_of", "right_of": "left_of",
                    "next_to": "next_to", "near": "near"}


def _normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0).astype(np.float32, copy=False)


def segment_reduce(ufunc: np.ufunc, x: np.ndarray, start: np.ndarray, end: np.ndarray,
                   empty: float = 0.0) -> np.ndarray:
    """``ufunc.reduce(x[start[i]:end[i]])`` for every segment (``empty`` where a segment is empty)."""
    out = np.full((len(start),) + x.shape[1:], empty, dtype=x.dtype if x.dtype.kind == "f" else np.float64)
    nz = end > start
    if not nz.any():
        return out
    s, e = start[nz], end[nz]
    if len(s) == 1 or np.all(s[1:] == e[:-1]):  # segments tile x[s0:e_last]: one reduceat
        out[nz] = ufunc.reduceat(x[: e[-1]], s, axis=0)
    else:
        out[nz] = np.stack([ufunc.reduce(x[a:b], axis=0) for a, b in zip(s, e, strict=True)])
    return out


@dataclass(eq=False)
class ClusterLevel:
    """The clusters of one forest level, in depth-first order."""

    level: int
    ids: list[str]
    summary: np.ndarray  # (n, D) embedding of name + summary (zeros when missing)
    mean: np.ndarray  # (n, D) normalised mean of the leaves' text vectors
    start: np.ndarray  # children: rows start..end of the level below (leaves for level 1)
    end: np.ndarray
    parent: np.ndarray  # row in the level above, -1 for roots
    floor: np.ndarray
    room_type: list[str]
    records: list[ClusterRecord] | None = None
    image: np.ndarray | None = None  # (n, Di) normalised mean of the leaves' image vectors
    leaf_start: np.ndarray | None = None  # leaves under each cluster (contiguous too)
    leaf_end: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)


class RetrievalIndex:
    """Arrays over one memory's leaves and forest (see the module docstring)."""

    def __init__(self, *, ids: list[str], vec: np.ndarray, pos: np.ndarray, floor: np.ndarray,
                 is_object: np.ndarray, label: np.ndarray, labels: list[str], colour: np.ndarray,
                 material: np.ndarray, room: np.ndarray, room_guess: np.ndarray, room_names: list[str],
                 t_first: np.ndarray, t_last: np.ndarray, step_first: np.ndarray, step_last: np.ndarray,
                 leaf_parent: np.ndarray, levels: dict[int, ClusterLevel], roots: list[tuple[int, int]],
                 records: Sequence[Any] | None = None, image: np.ndarray | None = None,
                 relations: dict[int, list[tuple[int, str]]] | None = None, text_encoder_id: str = "",
                 image_encoder_id: str = "", colours: list[str] | None = None,
                 materials: list[str] | None = None) -> None:
        self.ids = ids
        self.row = {i: k for k, i in enumerate(ids)}
        self.vec = vec
        self.pos = pos
        self.floor = floor
        self.is_object = is_object
        self.label = label
        self.labels = labels
        self.label_code = {lab: k for k, lab in enumerate(labels)}
        self.colour = colour
        self.material = material
        self.colours = colours or []
        self.materials = materials or []
        self.room = room
        self.room_guess = room_guess
        self.room_names = room_names
        self.room_code = {r: k for k, r in enumerate(room_names)}
        self.t_first, self.t_last = t_first, t_last
        self.step_first, self.step_last = step_first, step_last
        self.leaf_parent = leaf_parent
        self.levels = levels
        self.roots = roots
        self.records = records
        self.image = image
        self.relations = relations or {}
        self.text_encoder_id = text_encoder_id
        self.image_encoder_id = image_encoder_id
        self.cluster_row: dict[str, tuple[int, int]] = {
            cid: (lv, k) for lv, L in levels.items() for k, cid in enumerate(L.ids)}

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.vec.shape[1])

    @property
    def top_level(self) -> int:
        return max((lv for lv, L in self.levels.items() if len(L)), default=0)

    def leaf_name(self, row: int) -> str:
        rec = self.records[row] if self.records is not None else None
        return rec.name if rec is not None else f"leaf {self.ids[row]}"

    def leaf_text(self, row: int) -> str:
        rec = self.records[row] if self.records is not None else None
        return rec.text if rec is not None else ""

    def leaf_kind(self, row: int) -> str:
        return NodeKind.OBJECT.value if self.is_object[row] else NodeKind.PLACE.value

    def leaf_path(self, row: int) -> list[str]:
        """Ancestor ids of a leaf, nearest first."""
        out = []
        r, lv = int(self.leaf_parent[row]), 1
        while r >= 0 and lv in self.levels:
            L = self.levels[lv]
            out.append(L.ids[r])
            r, lv = int(L.parent[r]), lv + 1
        return out

    def cluster_path(self, level: int, row: int) -> list[str]:
        out = []
        r, lv = int(self.levels[level].parent[row]), level + 1
        while r >= 0 and lv in self.levels:
            L = self.levels[lv]
            out.append(L.ids[r])
            r, lv = int(L.parent[r]), lv + 1
        return out

    def ancestor_row(self, row: int, level: int) -> int:
        """Row of a leaf's ancestor at ``level`` (-1 when it has none)."""
        r, lv = int(self.leaf_parent[row]), 1
        while r >= 0 and lv < level:
            r, lv = int(self.levels[lv].parent[r]), lv + 1
        return r if lv == level else -1

    def labels_matching(self, names: Sequence[str]) -> np.ndarray:
        """Label codes of the given label names (those the memory has, any case)."""
        lower = self._lower_codes
        codes = sorted({c for n in names for c in lower.get(n.lower(), ())})
        return np.asarray(codes, dtype=np.int32)

    @functools.cached_property
    def _lower_codes(self) -> dict[str, tuple[int, ...]]:
        """Label codes by lower-case name ("TV" and "tv" are one label to a question)."""
        out: dict[str, list[int]] = {}
        for k, lab in enumerate(self.labels):
            out.setdefault(lab.lower(), []).append(k)
        return {n: tuple(c) for n, c in out.items()}

    # ------------------------------------------------------------------ building
    @classmethod
    def from_memory(cls, memory: Any) -> RetrievalIndex:
        """The index of an ``EmbodiedMemory`` (its forest, graph and vectors)."""
        forest, graph = memory.forest, memory.graph
        leaf_by_id = {lf.id: lf for lf in forest.leaves()}
        top = max((forest.level_of(r) for r in forest.roots()), default=4)  # kept imported forests may be deeper
        levels_ids: dict[int, list[str]] = {lv: [] for lv in range(1, max(4, top) + 1)}
        parent_of: dict[str, str] = {}
        leaf_order: list[str] = []
        ranges: dict[str, tuple[int, int]] = {}
        roots: list[tuple[int, str]] = []
        detached: list[tuple[int, str]] = []  # clusters linked across a level gap: their own trees

        def visit(cid: str, level: int) -> None:
            levels_ids[level].append(cid)
            below = leaf_order if level == 1 else levels_ids[level - 1]
            kids = []
            for ch in forest.children(cid):
                if ch in leaf_by_id:
                    if level == 1:
                        kids.append(ch)
                elif forest.has(ch) and forest.level_of(ch) == level - 1:
                    kids.append(ch)
                elif forest.has(ch):
                    detached.append((forest.level_of(ch), ch))
            a = len(below)
            for ch in kids:
                parent_of[ch] = cid
                if level == 1:
                    leaf_order.append(ch)
                else:
                    visit(ch, level - 1)
            ranges[cid] = (a, len(below))

        todo = sorted(((forest.level_of(r), r) for r in forest.roots()), key=lambda t: (-t[0], t[1]))
        while todo or detached:
            lv, cid = todo.pop(0) if todo else detached.pop(0)
            if lv in levels_ids and cid not in ranges:
                roots.append((lv, cid))
                visit(cid, lv)
        orphans = [i for i in leaf_by_id if i not in parent_of]
        leaf_order.extend(sorted(orphans))

        records = [graph.node(i) if i in graph else None for i in leaf_order]
        n = len(leaf_order)
        dim = int(memory.text_encoder.dim) if memory.text_encoder is not None else 0
        vec = np.zeros((n, dim), dtype=np.float32)
        for k, i in enumerate(leaf_order):
            v = memory.text.vec.get(i)
            if v is None:
                v = leaf_by_id[i].vector
            if v is not None and len(v) == dim:
                vec[k] = v
        image = None
        if memory.image_encoder is not None and memory.image.vec:
            di = int(memory.image_encoder.dim)
            image = np.zeros((n, di), dtype=np.float32)
            for k, i in enumerate(leaf_order):
                v = memory.image.vec.get(i)
                if v is not None and len(v) == di:
                    image[k] = v

        labels: list[str] = []
        colours: list[str] = []
        materials: list[str] = []
        rooms: list[str] = []

        def code(table: list[str], value: str) -> int:
            if not value:
                return -1
            try:
                return table.index(value)
            except ValueError:
                table.append(value)
                return len(table) - 1

        pos = np.zeros((n, 3), dtype=np.float32)
        floor = np.zeros(n, dtype=np.int16)
        is_obj = np.zeros(n, dtype=bool)
        lab, col, mat = (np.full(n, -1, dtype=np.int32) for _ in range(3))
        guess = np.full(n, -1, dtype=np.int32)
        t0, t1 = np.zeros(n), np.zeros(n)
        s0, s1 = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        for k, (i, rec) in enumerate(zip(leaf_order, records, strict=True)):
            lf = leaf_by_id[i]
            pos[k] = lf.position
            floor[k] = lf.floor
            if rec is None:
                t0[k] = t1[k] = lf.timestamp
                continue
            if rec.kind == NodeKind.OBJECT:
                is_obj[k] = True
                lab[k] = code(labels, rec.label.lower())
                col[k] = code(colours, rec.colour)
                mat[k] = code(materials, rec.material)
                t0[k], t1[k], s0[k], s1[k] = rec.first_seen, rec.last_seen, rec.first_step, rec.last_step
            else:
                t0[k] = t1[k] = rec.timestamp
                s0[k] = s1[k] = rec.step
            guess[k] = code(rooms, rec.room_guess)

        leaf_row = {i: k for k, i in enumerate(leaf_order)}
        levels: dict[int, ClusterLevel] = {}
        for lv in levels_ids:
            ids = levels_ids[lv]
            recs = [forest.cluster(c) for c in ids]
            summ = np.zeros((len(ids), dim), dtype=np.float32)
            for k, c in enumerate(ids):
                v = forest.summary_vector(c)
                if v is not None and len(v) == dim:
                    summ[k] = v
            start = np.array([ranges[c][0] for c in ids], dtype=np.int64)
            end = np.array([ranges[c][1] for c in ids], dtype=np.int64)
            levels[lv] = ClusterLevel(lv, ids, summ, np.zeros_like(summ), start, end,
                                      np.full(len(ids), -1, dtype=np.int64),
                                      np.array([r.floor for r in recs], dtype=np.int16),
                                      [r.room_type for r in recs], recs)
        for lv in list(levels_ids)[:-1]:
            above = {c: k for k, c in enumerate(levels_ids[lv + 1])}
            levels[lv].parent = np.array([above.get(parent_of.get(c, ""), -1) for c in levels_ids[lv]],
                                         dtype=np.int64)
        area_row = {c: k for k, c in enumerate(levels_ids[1])}
        leaf_parent = np.array([area_row.get(parent_of.get(i, ""), -1) for i in leaf_order], dtype=np.int64)
        room = np.full(n, -1, dtype=np.int32)
        room_of_area = levels[1].parent
        room_types = levels[2].room_type
        for k in range(n):
            a = leaf_parent[k]
            r = int(room_of_area[a]) if a >= 0 else -1
            if r >= 0 and room_types[r]:
                room[k] = code(rooms, room_types[r])
        relations: dict[int, list[tuple[int, str]]] = {}
        from memory.topo_graph import RELATION_KINDS

        for u, v, kind, _ in graph.edge_rows(RELATION_KINDS):
            if u in leaf_row and v in leaf_row:
                a, b = leaf_row[u], leaf_row[v]
                relations.setdefault(a, []).append((b, kind))
                relations.setdefault(b, []).append((a, INVERSE_RELATION.get(kind, kind)))
        index = cls(ids=leaf_order, vec=vec, pos=pos, floor=floor, is_object=is_obj, label=lab, labels=labels,
                    colour=col, material=mat, room=room, room_guess=guess, room_names=rooms, t_first=t0, t_last=t1,
                    step_first=s0, step_last=s1, leaf_parent=leaf_parent, levels=levels,
                    roots=[(lv, levels_ids[lv].index(c)) for lv, c in roots], records=records, image=image,
                    relations=relations, text_encoder_id=getattr(memory.text_encoder, "id", ""),
                    image_encoder_id=getattr(memory.image_encoder, "id", "") if memory.image_encoder else "",
                    colours=colours, materials=materials)
        index._finish()
        return index

    def _finish(self) -> None:
        """Cluster mean vectors (text and image) and leaf ranges, bottom-up."""
        lo = hi = None
        for lv in sorted(self.levels):
            L = self.levels[lv]
            if lv == 1:
                L.leaf_start, L.leaf_end = L.start, L.end
            else:
                below = self.levels[lv - 1]
                if len(L):
                    # children tile the level below in DFS order, so leaf ranges compose
                    first = np.minimum(L.start, max(len(below) - 1, 0))
                    last = np.maximum(L.end - 1, 0)
                    L.leaf_start = np.where(L.end > L.start, below.leaf_start[first] if len(below) else 0, 0)
                    L.leaf_end = np.where(L.end > L.start, below.leaf_end[last] if len(below) else 0, 0)
                else:
                    L.leaf_start = L.leaf_end = np.zeros(0, dtype=np.int64)
            lo, hi = L.leaf_start, L.leaf_end
            L.mean = _normalise(segment_reduce(np.add, self.vec, lo, hi))
            missing = ~np.any(L.summary, axis=1)
            if missing.any():
                L.summary[missing] = L.mean[missing]
            if self.image is not None:
                L.image = _normalise(segment_reduce(np.add, self.image, lo, hi))

    # ------------------------------------------------------------------ synthetic
    @classmethod
    def synthetic(cls, n_leaves: int, *, dim: int = 384, seed: int = 0, area_size: int = 12, room_size: int = 8,
                  rooms_per_floor: int = 24, n_labels: int = 80, noise: float = 0.6) -> RetrievalIndex:
        """A clustered synthetic memory: leaf vectors scatter around area, room and floor centres."""
        rng = np.random.default_rng(seed)
        n_areas = max(1, -(-n_leaves // area_size))
        n_rooms = max(1, -(-n_areas // room_size))
        n_floors = max(1, -(-n_rooms // rooms_per_floor))

        def centres(parent: np.ndarray, counts: int, scale: float) -> np.ndarray:
            idx = np.minimum(np.arange(counts) * len(parent) // counts, len(parent) - 1)
            c = parent[idx] + scale * rng.standard_normal((counts, dim), dtype=np.float32) / np.sqrt(dim)
            return _normalise(c)

        floors = _normalise(rng.standard_normal((n_floors, dim), dtype=np.float32))
        rooms = centres(floors, n_rooms, 1.2)
        areas = centres(rooms, n_areas, 0.9)
        vec = np.empty((n_leaves, dim), dtype=np.float32)
        parent = np.minimum(np.arange(n_leaves) * n_areas // n_leaves, n_areas - 1)
        chunk = 200_000
        for a in range(0, n_leaves, chunk):
            b = min(n_leaves, a + chunk)
            x = areas[parent[a:b]] + noise * rng.standard_normal((b - a, dim), dtype=np.float32) / np.sqrt(dim)
            vec[a:b] = _normalise(x)

        def ranges(child_parent: np.ndarray, n_parent: int) -> tuple[np.ndarray, np.ndarray]:
            counts = np.bincount(child_parent, minlength=n_parent)
            end = np.cumsum(counts)
            return end - counts, end

        room_of_area = np.minimum(np.arange(n_areas) * n_rooms // n_areas, n_rooms - 1)
        floor_of_room = np.minimum(np.arange(n_rooms) * n_floors // n_rooms, n_floors - 1)
        levels: dict[int, ClusterLevel] = {}
        specs = ((1, n_areas, parent, room_of_area, areas), (2, n_rooms, room_of_area, floor_of_room, rooms),
                 (3, n_floors, floor_of_room, np.zeros(n_floors, dtype=np.int64), floors))
        for lv, n, child_parent, up, centre in specs:
            st, en = ranges(child_parent, n)
            levels[lv] = ClusterLevel(lv, [f"cluster/{lv}/{k}" for k in range(n)], centre.copy(), np.zeros_like(centre),
                                      st.astype(np.int64), en.astype(np.int64), up.astype(np.int64),
                                      np.zeros(n, dtype=np.int16), [""] * n)
        site = _normalise(floors.mean(axis=0, keepdims=True))
        levels[4] = ClusterLevel(4, ["cluster/4/0"], site, np.zeros_like(site), np.array([0]), np.array([n_floors]),
                                 np.array([-1]), np.zeros(1, dtype=np.int16), ["site"])
        xy = rng.uniform(0, 100, size=(n_areas, 2)).astype(np.float32)
        pos = np.zeros((n_leaves, 3), dtype=np.float32)
        pos[:, :2] = xy[parent] + rng.normal(0, 1.0, size=(n_leaves, 2)).astype(np.float32)
        t = np.arange(n_leaves, dtype=np.float64) * 0.5
        index = cls(ids=[f"obj/s/{k}" for k in range(n_leaves)], vec=vec, pos=pos,
                    floor=floor_of_room[room_of_area[parent]].astype(np.int16), is_object=np.ones(n_leaves, dtype=bool),
                    label=rng.integers(0, n_labels, n_leaves).astype(np.int32),
                    labels=[f"label{k}" for k in range(n_labels)], colour=np.full(n_leaves, -1, dtype=np.int32),
                    material=np.full(n_leaves, -1, dtype=np.int32), room=np.full(n_leaves, -1, dtype=np.int32),
                    room_guess=np.full(n_leaves, -1, dtype=np.int32), room_names=[], t_first=t, t_last=t,
                    step_first=np.arange(n_leaves), step_last=np.arange(n_leaves), leaf_parent=parent.astype(np.int64),
                    levels=levels, roots=[(4, 0)], text_encoder_id="synthetic")
        index._finish()
        return index


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _signature(memory: Any) -> tuple:
    f = memory.forest
    return (id(f), id(memory.graph), len(f), sum(f.level_counts().values()), memory.observations,
            len(memory.text.vec), len(memory.image.vec), len(f.dirty))


def index_for(memory: Any) -> RetrievalIndex:
    """The retrieval index of ``memory``, rebuilt only when the memory has changed."""
    sig = _signature(memory)
    with _LOCK:
        hit = _CACHE.get(memory)
        if hit is not None and hit[0] == sig:
            return hit[1]
    index = RetrievalIndex.from_memory(memory)
    with _LOCK:
        _CACHE[memory] = (sig, index)
    return index
