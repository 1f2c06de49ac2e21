"""Records of the memory: what perception reports, and the nodes of the graph and the forest.

Records are frozen dataclasses held beside the networkx graph (never used as graph keys);
updates make new records with ``dataclasses.replace``. Node ids are stable strings:
``place/17``, ``obj/chair/3``, ``cluster/2/5`` (level 2, serial 5).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from sim.types import Pose

__all__ = [
    "NodeKind", "Sighting", "Percept", "PlaceRecord", "ObjectRecord", "ClusterRecord", "Relation",
    "Leaf", "LEVEL_NAMES", "object_name",
]

# Forest levels: L0 leaves, L1 places/areas, L2 rooms/regions, L3 floors/zones, L4 site.
LEVEL_NAMES = ("leaf", "area", "room", "floor", "site")


class NodeKind(str, enum.Enum):
    PLACE = "place"
    OBJECT = "object"
    CLUSTER = "cluster"


def object_name(label: str, colour: str = "", material: str = "", descriptors: tuple[str, ...] = ()) -> str:
    """Natural short name: ``"large red wooden chair"`` style (material given as an adjective;
    descriptors already in the label are not repeated)."""
    adj = {"wood": "wooden", "metal": "metal", "fabric": "fabric", "leather": "leather", "plastic": "plastic",
           "glass": "glass", "ceramic": "ceramic", "stone": "stone", "marble": "marble", "paper": "paper",
           "concrete": "concrete", "brick": "brick", "rubber": "rubber"}.get(material, "")
    low = f" {label.lower()} "
    desc = [d for d in descriptors if f" {d.lower()} " not in low and d.lower() not in (colour, adj, material)]
    return " ".join(p for p in (*desc, colour, adj, label) if p)


@dataclass(frozen=True, eq=False)
class Sighting:
    """One object seen in one view."""

    label: str
    centroid: tuple[float, float, float]  # world frame, from depth back-projection of the mask
    bbox_min: tuple[float, float, float]
    bbox_max: tuple[float, float, float]
    pixels: int
    bbox2d: tuple[int, int, int, int]  # u0, v0, u1, v1 (inclusive-exclusive)
    colour: str = ""
    material: str = ""
    attributes: tuple[str, ...] = ()
    confidence: float = 1.0
    depth: float = 0.0  # median z-depth of the mask
    instance: int | None = None  # simulator instance id (oracle only; evaluation, never merging)
    crop: np.ndarray | None = None  # RGB uint8 crop of the object
    track: int | None = None  # perception's own object id across views (fusing perceivers); the graph follows it

    @property
    def name(self) -> str:
        return object_name(self.label, self.colour, self.material)


@dataclass(frozen=True, eq=False)
class Percept:
    """What perception made of one observation."""

    pose: Pose
    timestamp: float
    step: int
    sightings: tuple[Sighting, ...]
    caption: str
    room_guess: str = ""
    room_confidence: float = 0.0
    image: np.ndarray | None = None  # small RGB thumbnail of the view
    keyframe: bool = True
    merged_tracks: tuple[tuple[int, int], ...] = ()  # (dropped, kept) tracks perception found to be one object


@dataclass(frozen=True, slots=True)
class PlaceRecord:
    """A place node: where the robot stood at a keyframe and what it saw."""

    id: str
    pose: Pose
    timestamp: float
    step: int
    caption: str
    room_guess: str = ""
    object_ids: tuple[str, ...] = ()

    @property
    def kind(self) -> NodeKind:
        return NodeKind.PLACE

    @property
    def position(self) -> tuple[float, float, float]:
        return (self.pose.x, self.pose.y, self.pose.z)

    @property
    def floor(self) -> int:
        return self.pose.floor

    @property
    def name(self) -> str:
        """"view 17 in a kitchen"; a captioned view that opens with a title (street views: "Forbes
        Avenue Bus Stop. The scene shows ...") is called by its title."""
        title = self.title
        if title:
            return title
        art = "an" if self.room_guess[:1].lower() in "aeiou" else "a"
        return f"view {self.id.split('/')[-1]}" + (f" in {art} {self.room_guess}" if self.room_guess else "")

    @property
    def title(self) -> str:
        """The caption's opening title, when it has one (a short first sentence, no colon, more text after)."""
        if self.object_ids or self.room_guess:
            return ""
        head, dot, rest = self.caption.partition(". ")
        if dot and rest and 0 < len(head) <= 60 and ":" not in head and len(rest) > len(head):
            return head.strip()
        return ""

    @property
    def text(self) -> str:
        return self.caption


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    """An object node, merged across views."""

    id: str
    label: str
    position: tuple[float, float, float]  # running mean of sighting centroids
    floor: int
    colour: str = ""
    material: str = ""
    bbox_min: tuple[float, float, float] = (0.0, 0.0, 0.0)
    bbox_max: tuple[float, float, float] = (0.0, 0.0, 0.0)
    n_views: int = 1
    first_seen: float = 0.0
    last_seen: float = 0.0
    first_step: int = 0
    last_step: int = 0
    attributes: tuple[str, ...] = ()
    room_guess: str = ""
    confidence: float = 1.0
    instance_hint: int | None = None  # the simulator instance the oracle saw most (evaluation only)

    @property
    def kind(self) -> NodeKind:
        return NodeKind.OBJECT

    @property
    def descriptors(self) -> tuple[str, ...]:
        """Descriptive attributes ("large", "round", "adjustable office"); ``key:value`` ones
        (provenance such as the source file's raw label) are data, not description."""
        return tuple(a for a in self.attributes if a and ":" not in a)

    @property
    def name(self) -> str:
        """What the object is called: descriptors, colour, material and label ("large TV")."""
        return object_name(self.label, self.colour, self.material, self.descriptors)

    @property
    def text(self) -> str:
        where = f" in the {self.room_guess}" if self.room_guess else ""
        article = "an" if self.name[:1].lower() in "aeiou" else "a"
        return f"{article} {self.name}{where}"


@dataclass(frozen=True, slots=True)
class ClusterRecord:
    """A node of the semantic forest above the leaves (levels 1..4)."""

    id: str
    level: int
    name: str
    summary: str
    position: tuple[float, float, float]  # centroid of the leaves below
    floor: int
    children: tuple[str, ...] = ()
    parent: str | None = None
    n_leaves: int = 0
    counts: tuple[tuple[str, int], ...] = ()  # object label -> count below this cluster, most frequent first
    room_type: str = ""
    bbox_min: tuple[float, float, float] = (0.0, 0.0, 0.0)
    bbox_max: tuple[float, float, float] = (0.0, 0.0, 0.0)
    first_seen: float = 0.0
    last_seen: float = 0.0

    @property
    def kind(self) -> NodeKind:
        return NodeKind.CLUSTER

    @property
    def text(self) -> str:
        return f"{self.name}. {self.summary}" if self.summary else self.name


@dataclass(frozen=True, slots=True)
class Relation:
    """A spatial relation between two objects, as seen from a place (``near``, ``on``, ``under``,
    ``left_of``, ``right_of``, ``next_to``, ``above``)."""

    src: str
    dst: str
    kind: str
    place: str = ""
    distance: float = 0.0


@dataclass(frozen=True, eq=False)
class Leaf:
    """What the forest needs to know about a leaf (an object or a view)."""

    id: str
    kind: NodeKind
    position: tuple[float, float, float]
    floor: int
    text: str
    label: str = ""  # object category ("" for views)
    timestamp: float = 0.0
    vector: np.ndarray | None = None  # text embedding (float32, L2-normalised)
    extra: dict = field(default_factory=dict)
