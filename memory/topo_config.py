"""The topological graph's settings (``TopoGraphConfig``) and what one ``TopoGraph.add`` reports (``GraphUpdate``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ConfigDict

from memory.perception.relations import RelationConfig
from memory.types import Relation, Sighting

__all__ = ["TopoGraphConfig", "GraphUpdate"]


@dataclass(frozen=True, kw_only=True)
class TopoGraphConfig:
    """Keyframe, merging and relation thresholds (metres and degrees).

    * ``keyframe_distance`` / ``keyframe_turn_deg`` — a new place after moving / turning this
      much since the last one; ``keyframe_on_new_objects`` — also when a new object appears.
    * ``merge_radius`` + ``merge_size_factor`` x (horizontal half-extent of the object), capped
      at ``merge_max_radius`` — how far a sighting's centroid may be from an object node of the
      same label to merge into it; ``merge_max_dz`` bounds the vertical offset.
    * ``merge_overlap`` — or footprints (grown by ``merge_pad``) sharing this much of the smaller.
    * ``revisit_radius`` — link a new place to older places this close (loop closures), at most the
      ``revisit_links`` nearest: a robot that keeps coming back (or turns on the spot) piles up places
      in one spot, and linking each to all of them grows the edges with the square of the places.
    * ``relations`` — thresholds of the spatial relations (``RelationConfig``);
      ``relation_objects`` — the most prominent objects of a view considered for them.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")
    keyframe_distance: float = 0.5
    keyframe_turn_deg: float = 30.0
    keyframe_on_new_objects: bool = True
    merge_radius: float = 0.35
    merge_size_factor: float = 0.75
    merge_max_radius: float = 1.5
    merge_max_dz: float = 1.0
    merge_overlap: float = 0.3
    merge_pad: float = 0.05
    revisit_radius: float = 0.3
    revisit_links: int = 3
    relations: RelationConfig = field(default_factory=RelationConfig)
    relation_objects: int = 24

    def __post_init__(self) -> None:
        for name in ("keyframe_distance", "keyframe_turn_deg", "merge_radius", "merge_max_radius", "merge_max_dz"):
            if not getattr(self, name) > 0:
                raise ValueError(f"topo graph config: {name} must be positive, got {getattr(self, name)}")
        for name in ("merge_size_factor", "merge_pad", "revisit_radius"):
            if getattr(self, name) < 0:
                raise ValueError(f"topo graph config: {name} must be 0 or more, got {getattr(self, name)}")
        if not 0.0 < self.merge_overlap <= 1.0:
            raise ValueError(f"topo graph config: merge_overlap must be in (0, 1], got {self.merge_overlap}")
        if self.revisit_links < 0:
            raise ValueError(f"topo graph config: revisit_links must be 0 or more, got {self.revisit_links}")
        if self.relation_objects < 2:
            raise ValueError(f"topo graph config: relation_objects must be at least 2, got {self.relation_objects}")


@dataclass(frozen=True)
class GraphUpdate:
    """What one ``add`` changed."""

    place: str | None  # the new place, or None when the step was not a keyframe
    new_objects: tuple[str, ...] = ()
    updated_objects: tuple[str, ...] = ()
    new_relations: tuple[Relation, ...] = ()
    removed_relations: tuple[Relation, ...] = ()
    removed_objects: tuple[str, ...] = ()  # fused into another node (delete them downstream)
    sightings: tuple[tuple[str, Sighting], ...] = ()  # (object node, the sighting merged into it) of this view

    @property
    def changed_nodes(self) -> tuple[str, ...]:
        """Ids whose records were created or replaced."""
        return ((self.place,) if self.place else ()) + self.new_objects + self.updated_objects
