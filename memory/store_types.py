"""Value types of the memory store: edge and membership rows, embedding spaces and the snapshot
``MemoryStore.load`` returns, plus the reserved edge kinds ``TRAVERSE`` and ``SEES``.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from memory.errors import MemoryStoreError, RecordFormatError
from memory.records_json import Record, record_from_json
from memory.types import ClusterRecord, ObjectRecord, PlaceRecord, Relation

__all__ = ["TRAVERSE", "SEES", "EdgeRow", "Membership", "EmbeddingSpace", "relation_to_edge", "MemorySnapshot"]

TRAVERSE = "traverse"
SEES = "sees"


@dataclass(frozen=True)
class EdgeRow:
    """One stored edge; ``data`` holds JSON-able extras (``length``, ``distance``, ``place`` ...)."""

    src: str
    dst: str
    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)


class Membership(NamedTuple):
    """Forest parent of a leaf or cluster; ``level`` is the parent's level."""

    child: str
    parent: str
    level: int


class EmbeddingSpace(NamedTuple):
    """Vectors of one encoder and modality held in the file."""

    encoder: str
    modality: str
    dim: int
    dtype: str
    count: int


def relation_to_edge(rel: Relation) -> EdgeRow:
    """The edge row that stores a spatial relation (its kind is the relation word)."""
    if rel.kind in (TRAVERSE, SEES):
        raise MemoryStoreError(f"relation kind {rel.kind!r} is reserved for {rel.kind} edges")
    return EdgeRow(rel.src, rel.dst, rel.kind, {"place": rel.place, "distance": rel.distance})


@dataclass(frozen=True, eq=False)
class MemorySnapshot:
    """Everything a memory file holds except vectors and images, in insertion order; ``sources`` are
    the attributes imported nodes had in their source file (node id -> attributes)."""

    places: tuple[PlaceRecord, ...] = ()
    objects: tuple[ObjectRecord, ...] = ()
    clusters: tuple[ClusterRecord, ...] = ()
    edges: tuple[EdgeRow, ...] = ()
    membership: tuple[Membership, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, nodes: Iterable[tuple[str, str]], edges: Iterable[tuple[str, str, str, str]],
                  members: Iterable[tuple[str, str, int]], meta: Mapping[str, Any],
                  sources: Mapping[str, Mapping[str, Any]]) -> MemorySnapshot:
        """A snapshot from table rows (``(id, record JSON)`` nodes, ``(src, dst, kind, JSON)`` edges, membership
        rows); raises ``RecordFormatError`` or ``ValueError`` on a row that does not hold what it should."""
        out: dict[type, list] = {PlaceRecord: [], ObjectRecord: [], ClusterRecord: []}
        for node_id, data in nodes:
            rec = record_from_json(json.loads(data))
            if rec.id != node_id:
                raise RecordFormatError(f"row {node_id!r} holds the record of {rec.id!r}")
            out[type(rec)].append(rec)
        edge_rows = tuple(EdgeRow(s, d, k, _edge_data(x)) for s, d, k, x in edges)
        return cls(tuple(out[PlaceRecord]), tuple(out[ObjectRecord]), tuple(out[ClusterRecord]), edge_rows,
                   tuple(Membership(*m) for m in members), meta, sources)

    @property
    def records(self) -> tuple[Record, ...]:
        return (*self.places, *self.objects, *self.clusters)

    @property
    def relations(self) -> tuple[Relation, ...]:
        """Edges that are spatial relations (neither ``traverse`` nor ``sees``)."""
        return tuple(Relation(e.src, e.dst, e.kind, str(e.data.get("place", "")),
                              float(e.data.get("distance", 0.0)))
                     for e in self.edges if e.kind not in (TRAVERSE, SEES))

    def edges_of(self, kind: str) -> tuple[EdgeRow, ...]:
        return tuple(e for e in self.edges if e.kind == kind)

    @property
    def parents(self) -> dict[str, str]:
        return {m.child: m.parent for m in self.membership}


def _edge_data(text: str) -> dict[str, Any]:
    """An edge row's attributes: a JSON object whose keys do not shadow the edge's own ``kind`` and ``key``."""
    data = json.loads(text)
    if not isinstance(data, dict) or "kind" in data or "key" in data:
        raise RecordFormatError(f"an edge row holds {str(text)[:60]!r}, not an object of edge attributes")
    return data
