"""Value types and interfaces of the semantic forest (config, summaries, refresh reports)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from pydantic import ConfigDict

from memory.types import ClusterRecord, Leaf, NodeKind

__all__ = ["ForestConfig", "Summary", "ClusterView", "Summariser", "TextEncoder", "RefreshReport",
           "leaf_from_record"]


@dataclass(frozen=True, kw_only=True)
class ForestConfig:
    """Clustering settings (distances in metres; semantic distance is (1 - cos) / 2).

    ``geographic``: street-scale data (imported street views). The batch build then groups the level-1
    clusters by projected distance into level-2 clusters at most ``2 * room_radius`` across and those
    into level-3 clusters at most ``2 * district_radius`` across (complete linkage), under one site,
    instead of rooms and one level-3 cluster per floor. ``memory.summarize_geo`` holds the preset.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")
    area_radius: float = 1.75
    area_threshold: float = 0.75
    room_radius: float = 6.0
    room_threshold: float = 0.7
    w_spatial: float = 0.4
    w_semantic: float = 0.6
    use_regions: bool = True
    max_area_leaves: int = 60
    refine_passes: int = 1
    geographic: bool = False
    district_radius: float = 400.0

    def __post_init__(self) -> None:
        if self.area_radius <= 0 or self.room_radius <= 0 or self.district_radius <= 0:
            raise ValueError("forest radii must be positive")
        if not math.isclose(self.w_spatial + self.w_semantic, 1.0, abs_tol=1e-6):
            raise ValueError("w_spatial + w_semantic must be 1")


@dataclass(frozen=True)
class Summary:
    name: str
    summary: str
    room_type: str = ""


@dataclass(eq=False)
class ClusterView:
    """What a summariser sees of one cluster."""

    id: str
    level: int
    floor: int
    leaves: list[Leaf]  # filled for levels 1-2; empty above (use counts and children)
    children: list[ClusterRecord]
    counts: list[tuple[str, int]]
    n_leaves: int
    bbox_min: tuple[float, float, float]
    bbox_max: tuple[float, float, float]
    first_seen: float
    last_seen: float
    rooms: list[ClusterRecord] = field(default_factory=list)  # level-2 clusters below (levels 3-4)


class Summariser(Protocol):
    """Names and describes clusters; must never return a failure text."""

    def summarise(self, view: ClusterView) -> Summary: ...


class TextEncoder(Protocol):
    id: str

    def encode_text(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class RefreshReport:
    summarised: list[str] = field(default_factory=list)
    embedded: int = 0
    moved_leaves: int = 0
    moved_areas: int = 0
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def leaf_from_record(rec, vector: np.ndarray | None = None) -> Leaf:
    """A forest leaf for a place or object record."""
    kind = rec.kind
    label = getattr(rec, "label", "") if kind == NodeKind.OBJECT else ""
    ts = rec.timestamp if kind == NodeKind.PLACE else rec.first_seen
    return Leaf(rec.id, kind, tuple(rec.position), rec.floor, rec.text, label, ts, vector)

