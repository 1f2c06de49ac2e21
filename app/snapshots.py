"""Drawable snapshots of a session: pure numpy arrays for viewers (no Qt, no GL).

Rendering is separate from the model: these functions turn simulator and memory state into
immutable snapshots (points, colours, segments, ids) that any viewer can draw - the Qt 3D pane,
Open3D's own viewer, or a test. Segments are stored as ``(2M, 3)`` arrays of endpoint pairs
(``GL_LINES`` layout). Colours are float32 RGBA in ``[0, 1]``.

* ``PointCloudAccumulator`` fuses observations into one coloured cloud: depth back-projected with
  ``CameraSpec.backproject``, colours from RGB, each view voxel-downsampled with Open3D, merged on
  a voxel hash and coarsened when it outgrows its point budget (a GL pane stays fast at ~80k points).
* ``graph_snapshot`` draws the topological graph; ``forest_tree`` copies the semantic forest into
  a plain tree (for a tree view) and ``forest_layer`` draws it as levels stacked above the map,
  with text labels on one upper level only (a street-view memory holds thousands of clusters).
* ``memory_bounds`` and ``layer_heights`` size the map from what a memory holds, for a memory
  opened without its world.
* ``robot_layer``, ``hits_layer`` and ``path_points`` draw the robot, retrieval hits and a route.
* ``colorize_depth`` and ``colorize_instances`` turn depth and instance buffers into RGB images.
"""
from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memory.summarize_geo import GEO_KINDS
from memory.types import LEVEL_NAMES
from sim.types import Observation, Pose

log = logging.getLogger(__name__)

__all__ = [
    "LEVEL_COLOURS", "PLACE_COLOUR", "OBJECT_COLOUR", "CloudSnapshot", "PointCloudAccumulator", "GraphSnapshot",
    "graph_snapshot", "ForestNode", "ForestTree", "forest_tree", "ForestLayer", "ForestLabel", "forest_layer",
    "label_level", "display_position", "forest_floors", "memory_bounds", "layer_heights", "MAX_LABELS",
    "RobotLayer", "robot_layer", "HitsLayer", "hits_layer", "path_points", "colorize_depth", "colorize_instances",
    "empty_points", "CameraViews", "camera_views",
]

# colour per forest level (1 area .. 4 site); leaves use the place/object colours
LEVEL_COLOURS: dict[int, tuple[float, float, float, float]] = {
    1: (0.30, 0.85, 0.45, 1.0),
    2: (0.25, 0.60, 1.00, 1.0),
    3: (0.72, 0.45, 1.00, 1.0),
    4: (1.00, 0.40, 0.35, 1.0),
}
PLACE_COLOUR = (0.35, 0.95, 0.95, 1.0)
OBJECT_COLOUR = (1.00, 0.70, 0.20, 1.0)
_KEY_BIAS = 1 << 20  # voxel indices are packed 21 bits per axis into one int64


def empty_points() -> np.ndarray:
    """An empty ``(0, 3)`` float32 array."""
    return np.zeros((0, 3), dtype=np.float32)


def _rgba(colour: Sequence[float], n: int) -> np.ndarray:
    out = np.empty((n, 4), dtype=np.float32)
    out[:] = np.asarray(colour, dtype=np.float32)
    return out


# ---------------------------------------------------------------------------------------------- cloud
@dataclass(frozen=True, eq=False)
class CloudSnapshot:
    """A fused point cloud: ``points (N, 3)`` float32 and ``colors (N, 4)`` float32 RGBA."""

    points: np.ndarray
    colors: np.ndarray
    voxel: float
    version: int = 0

    def __len__(self) -> int:
        return int(self.points.shape[0])


def _voxel_keys(points: np.ndarray, voxel: float) -> np.ndarray:
    idx = np.floor(points / voxel).astype(np.int64) + _KEY_BIAS
    return (idx[:, 0] << 42) | (idx[:, 1] << 21) | idx[:, 2]


def _open3d_downsample(points: np.ndarray, colors: np.ndarray, voxel: float) -> tuple[np.ndarray, np.ndarray]:
    """Voxel-average one view's points with Open3D (a few ms for 20k points; it holds the GIL, so
    callers keep inputs small)."""
    import open3d as o3d

    pc = o3d.geometry.PointCloud()
    pc.points = o3d.utility.Vector3dVector(points.astype(np.float64, copy=False))
    pc.colors = o3d.utility.Vector3dVector(colors.astype(np.float64, copy=False))
    down = pc.voxel_down_sample(voxel)
    return np.asarray(down.points, dtype=np.float32), np.asarray(down.colors, dtype=np.float32)


class PointCloudAccumulator:
    """Fuses observations into one voxelised, coloured point cloud of what the robot has seen.

    ``stride`` subsamples pixels (every 2nd row and column by default), ``max_range`` drops far
    depth, ``max_height`` drops points this far above the robot's floor (ceilings would hide the
    rooms from above), and ``max_points`` is the budget: past it the voxel grows by half and the
    cloud is re-gridded with numpy (first point of each voxel kept).
    """

    def __init__(self, *, voxel: float = 0.06, max_points: int = 80_000, stride: int = 2, max_range: float = 10.0,
                 max_height: float = 2.1) -> None:
        if voxel <= 0 or max_points <= 0 or stride < 1:
            raise ValueError("voxel and max_points must be positive and stride >= 1")
        self.voxel = float(voxel)
        self.initial_voxel = float(voxel)
        self.max_points = int(max_points)
        self.stride = int(stride)
        self.max_range = float(max_range)
        self.max_height = float(max_height)
        self.version = 0
        self.views = 0
        self._points = empty_points()
        self._colors = np.zeros((0, 4), dtype=np.float32)
        self._keys = np.zeros(0, dtype=np.int64)  # sorted voxel keys of ``_points``
        self._mask: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self._points.shape[0])

    def clear(self) -> None:
        """Forget every point (a new world)."""
        self.voxel = self.initial_voxel
        self._points = empty_points()
        self._colors = np.zeros((0, 4), dtype=np.float32)
        self._keys = np.zeros(0, dtype=np.int64)
        self.views = 0
        self.version += 1

    def _pixel_mask(self, shape: tuple[int, int]) -> np.ndarray:
        if self._mask is None or self._mask.shape != shape:
            m = np.zeros(shape, dtype=bool)
            m[:: self.stride, :: self.stride] = True
            self._mask = m
        return self._mask

    def add(self, obs: Observation) -> int:
        """Fuse one observation; returns how many new voxels it added."""
        depth = np.asarray(obs.depth)
        mask = self._pixel_mask(depth.shape) & (depth < self.max_range)
        pts = obs.camera.backproject(depth, obs.pose, mask)
        if pts.shape[0] == 0:
            return 0
        valid = np.isfinite(depth) & (depth > 0.0) & (depth < obs.camera.max_depth) & mask
        rgb = np.asarray(obs.rgb)[valid].astype(np.float32) / 255.0
        keep = pts[:, 2] < obs.pose.z + self.max_height
        pts, rgb = pts[keep], rgb[keep]
        if pts.shape[0] == 0:
            return 0
        pts, rgb = _open3d_downsample(pts, rgb, self.voxel)
        self.views += 1
        return self._merge(pts, rgb)

    def add_points(self, points: np.ndarray, colors: np.ndarray) -> int:
        """Fuse already-projected points ``(N, 3)`` with RGB or RGBA colours in ``[0, 1]``."""
        pts = np.asarray(points, dtype=np.float32).reshape(-1, 3)
        col = np.asarray(colors, dtype=np.float32).reshape(len(pts), -1)[:, :3]
        return self._merge(pts, col)

    def _merge(self, pts: np.ndarray, rgb: np.ndarray) -> int:
        keys = _voxel_keys(pts, self.voxel)
        keys, first = np.unique(keys, return_index=True)
        pts, rgb = pts[first], rgb[first]
        if self._keys.size:
            pos = np.searchsorted(self._keys, keys)
            pos = np.minimum(pos, self._keys.size - 1)
            new = self._keys[pos] != keys
            keys, pts, rgb = keys[new], pts[new], rgb[new]
        n = int(keys.size)
        if n == 0:
            return 0
        rgba = np.ones((n, 4), dtype=np.float32)
        rgba[:, :3] = np.clip(rgb, 0.0, 1.0)
        self._points = np.concatenate([self._points, pts.astype(np.float32)])
        self._colors = np.concatenate([self._colors, rgba])
        self._keys = np.sort(np.concatenate([self._keys, keys]))
        while len(self._points) > self.max_points:
            self._coarsen()
        self.version += 1
        return n

    def _coarsen(self) -> None:
        self.voxel *= 1.5
        keys = _voxel_keys(self._points, self.voxel)
        keys, first = np.unique(keys, return_index=True)
        self._points, self._colors, self._keys = self._points[first], self._colors[first], keys
        log.debug("point cloud coarsened to %.3f m voxels (%d points)", self.voxel, len(self._points))

    def snapshot(self) -> CloudSnapshot:
        """An immutable copy of the cloud."""
        return CloudSnapshot(self._points.copy(), self._colors.copy(), self.voxel, self.version)


# ---------------------------------------------------------------------------------------------- graph
@dataclass(frozen=True, eq=False)
class GraphSnapshot:
    """The topological graph: place nodes, traversal edges, object nodes and ``sees`` edges."""

    place_ids: tuple[str, ...]
    place_pos: np.ndarray  # (P, 3)
    traverse: np.ndarray  # (2E, 3) segment endpoints
    object_ids: tuple[str, ...]
    object_pos: np.ndarray  # (O, 3)
    sees: np.ndarray  # (2S, 3)
    version: int = 0

    def position(self, node_id: str) -> tuple[float, float, float] | None:
        """Where a graph node is drawn, or None when it is not in this snapshot."""
        for ids, pos in ((self.place_ids, self.place_pos), (self.object_ids, self.object_pos)):
            if node_id in ids:
                return tuple(float(v) for v in pos[ids.index(node_id)])
        return None


def graph_snapshot(graph: Any, *, lift: float = 0.05, version: int = 0) -> GraphSnapshot:
    """Draw a ``memory.topo_graph.TopoGraph``: places at the robot's feet (lifted by ``lift``)."""
    places = graph.places()
    objects = graph.objects()
    pid = tuple(p.id for p in places)
    ppos = np.array([[p.pose.x, p.pose.y, p.pose.z + lift] for p in places], dtype=np.float32).reshape(-1, 3)
    oid = tuple(o.id for o in objects)
    opos = np.array([o.position for o in objects], dtype=np.float32).reshape(-1, 3)
    where = {i: ppos[k] for k, i in enumerate(pid)}
    where.update({i: opos[k] for k, i in enumerate(oid)})
    trav: list[np.ndarray] = []
    sees: list[np.ndarray] = []
    for u, v, kind, _ in graph.edge_rows(("traverse", "sees")):
        if u in where and v in where:
            (trav if kind == "traverse" else sees).extend((where[u], where[v]))
    return GraphSnapshot(pid, ppos, _stack(trav), oid, opos, _stack(sees), version)


def _stack(rows: list[np.ndarray]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32).reshape(-1, 3) if rows else empty_points()


# ---------------------------------------------------------------------------------------------- forest
@dataclass(frozen=True)
class ForestNode:
    """One node of the semantic forest as a viewer sees it (clusters and their leaves)."""

    id: str
    level: int
    kind: str  # "cluster", "place" or "object"
    name: str
    summary: str
    position: tuple[float, float, float]
    floor: int = 0
    parent: str | None = None
    children: tuple[str, ...] = ()
    n_leaves: int = 0
    room_type: str = ""

    @property
    def level_name(self) -> str:
        if self.level and self.room_type in GEO_KINDS:  # a street-view forest names its levels for what they are
            return self.room_type
        return LEVEL_NAMES[self.level] if 0 <= self.level < len(LEVEL_NAMES) else f"level {self.level}"


@dataclass(frozen=True, eq=False)
class ForestTree:
    """A plain copy of the forest: ``nodes`` by id and the ``roots`` in order; ``digest`` changes
    only when what a viewer shows changes."""

    nodes: Mapping[str, ForestNode]
    roots: tuple[str, ...]
    digest: str = ""

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, node_id: str) -> ForestNode:
        return self.nodes[node_id]

    def leaves_under(self, node_id: str) -> list[str]:
        """Ids of the leaves (level 0) below ``node_id`` (itself when it is a leaf)."""
        out, stack = [], [node_id]
        while stack:
            n = self.nodes.get(stack.pop())
            if n is None:
                continue
            if n.level == 0:
                out.append(n.id)
            stack.extend(n.children)
        return out

    def level_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for n in self.nodes.values():
            counts[n.level] = counts.get(n.level, 0) + 1
        return dict(sorted(counts.items()))


def forest_tree(memory: Any) -> ForestTree:
    """Copy ``memory.forest`` (clusters) and ``memory.graph`` (leaf records) into a ``ForestTree``."""
    forest, graph = memory.forest, memory.graph
    nodes: dict[str, ForestNode] = {}
    for c in forest.clusters():
        nodes[c.id] = ForestNode(c.id, c.level, "cluster", c.name, c.summary, tuple(c.position), c.floor,
                                 c.parent, tuple(forest.children(c.id)), c.n_leaves, c.room_type)
    for leaf in forest.leaves():
        try:
            rec = graph.node(leaf.id)
        except KeyError:
            continue
        kind = "place" if leaf.id.startswith("place/") else "object"
        nodes[leaf.id] = ForestNode(leaf.id, 0, kind, rec.name, rec.text, tuple(leaf.position), leaf.floor,
                                    forest.parent(leaf.id), (), 1, getattr(rec, "room_guess", ""))
    roots = tuple(sorted(r for r in forest.roots() if r in nodes))
    h = hashlib.blake2b(digest_size=12)
    for nid in sorted(nodes):
        n = nodes[nid]
        h.update(f"{nid}|{n.name}|{n.summary}|{n.parent}|{','.join(n.children)}\n".encode())
    return ForestTree(nodes, roots, h.hexdigest())


def display_position(node: ForestNode, base_z: float, dz: float, floor_step: float = 0.0,
                     floors: int = 1) -> tuple[float, float, float]:
    """Where a forest node is drawn: leaves where they are, clusters at their centroid raised to the
    height of their level (level 1 at ``base_z``, each level ``dz`` higher). In a building of several
    ``floors``, areas and rooms of floor f are raised by ``f * floor_step`` (each floor's rooms in a
    band of their own, in the floors' order) and the levels above all of them."""
    if node.level <= 0:
        return node.position
    x, y, _ = node.position
    shift = (node.floor if node.level <= 2 else max(0, floors - 1)) * floor_step
    return (x, y, base_z + (node.level - 1) * dz + shift)


MAX_LABELS = 60  # text labels a GL view draws every frame without slowing down
LINE_CROWD = 300  # lines into one level drawn at full strength; more fade (a street-view forest has thousands)


@dataclass(frozen=True)
class ForestLabel:
    """A text label over one forest node."""

    id: str
    position: tuple[float, float, float]
    text: str


def label_level(tree: ForestTree, max_labels: int = MAX_LABELS) -> int | None:
    """The forest level whose nodes get text labels: rooms/regions (level 2) when there are at most
    ``max_labels`` of them, else the next level up that has few enough (None: no such level)."""
    counts = tree.level_counts()
    for level in sorted(lv for lv in counts if lv >= 2):
        if counts[level] <= max_labels:
            return level
    return None


def _label_text(node: ForestNode, limit: int = 24) -> str:
    text = node.name.split(":")[0] if node.room_type in GEO_KINDS or not node.room_type else node.room_type
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True, eq=False)
class ForestLayer:
    """The forest drawn above the map: cluster nodes, lines from each cluster to its children, and
    text labels on one upper level (``label_level``)."""

    ids: tuple[str, ...]
    positions: np.ndarray  # (N, 3)
    colors: np.ndarray  # (N, 4)
    levels: np.ndarray  # (N,) int
    segments: np.ndarray  # (2M, 3)
    segment_colors: np.ndarray  # (2M, 4)
    base_z: float
    dz: float
    version: int = 0
    labels: tuple[ForestLabel, ...] = ()
    floor_step: float = 0.0  # see ``display_position``
    floors: int = 1

    def position(self, node_id: str) -> tuple[float, float, float] | None:
        if node_id not in self.ids:
            return None
        return tuple(float(v) for v in self.positions[self.ids.index(node_id)])


def forest_floors(tree: ForestTree) -> int:
    """How many floors the forest's areas and rooms lie on (1 for a single storey)."""
    return 1 + max((n.floor for n in tree.nodes.values() if 1 <= n.level <= 2), default=0)


def forest_layer(tree: ForestTree, *, base_z: float = 3.2, dz: float = 1.6,
                 leaf_kinds: tuple[str, ...] = ("object",), version: int = 0,
                 max_labels: int = MAX_LABELS, floor_step: float = 0.0) -> ForestLayer:
    """Draw ``tree`` as stacked levels: one node per cluster, coloured by level, with a line to each
    cluster child and to each leaf of ``leaf_kinds`` (objects by default: a line to every view
    would hide the map). Nodes of ``label_level(tree, max_labels)`` get a text label above them.
    Lines fade as a level's fan grows past a few hundred, so thousands of them stay a haze.
    With ``floor_step`` and rooms on several floors, each floor's rooms sit in a band of their own
    and the floor nodes (level 3) are labelled too."""
    ids, pos, cols, levels, segs, scols = [], [], [], [], [], []
    labelled = label_level(tree, max_labels)
    floors = forest_floors(tree) if floor_step > 0 else 1
    counts = tree.level_counts()
    floor_labels = floors > 1 and labelled != 3 and 0 < counts.get(3, 0) <= max_labels
    labels: list[ForestLabel] = []
    fade = {lv: min(1.0, (LINE_CROWD / n) ** 0.5) for lv, n in tree.level_counts().items() if n}
    for n in tree.nodes.values():
        if n.level <= 0:
            continue
        p = display_position(n, base_z, dz, floor_step, floors)
        colour = LEVEL_COLOURS.get(n.level, (0.8, 0.8, 0.8, 1.0))
        ids.append(n.id)
        pos.append(p)
        cols.append(colour)
        levels.append(n.level)
        if n.level == labelled or (floor_labels and n.level == 3):
            labels.append(ForestLabel(n.id, (p[0], p[1], p[2] + 0.15 * dz), _label_text(n)))
        for cid in n.children:
            child = tree.nodes.get(cid)
            if child is None or (child.level == 0 and child.kind not in leaf_kinds):
                continue
            segs.extend((p, display_position(child, base_z, dz, floor_step, floors)))
            alpha = (0.22 if child.level == 0 else 0.55) * max(0.25, fade.get(child.level, 1.0))
            c = (colour[0], colour[1], colour[2], alpha)
            scols.extend((c, c))
    return ForestLayer(tuple(ids), np.asarray(pos, dtype=np.float32).reshape(-1, 3),
                       np.asarray(cols, dtype=np.float32).reshape(-1, 4), np.asarray(levels, dtype=np.int32),
                       np.asarray(segs, dtype=np.float32).reshape(-1, 3),
                       np.asarray(scols, dtype=np.float32).reshape(-1, 4), base_z, dz, version, tuple(labels),
                       floor_step if floors > 1 else 0.0, floors)


Bounds = tuple[tuple[float, float, float], tuple[float, float, float]]


def memory_bounds(graph: GraphSnapshot, tree: ForestTree | None = None) -> Bounds:
    """The box around every place, object and forest leaf (a unit box at the origin when empty):
    the extent of a memory opened without its world."""
    parts = [graph.place_pos, graph.object_pos]
    if tree is not None:
        leaves = [n.position for n in tree.nodes.values() if n.level == 0]
        if leaves:
            parts.append(np.asarray(leaves, dtype=np.float32).reshape(-1, 3))
    pts = np.concatenate([np.asarray(a, dtype=np.float32).reshape(-1, 3) for a in parts])
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) == 0:
        return (-0.5, -0.5, 0.0), (0.5, 0.5, 1.0)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return tuple(float(v) for v in lo), tuple(float(v) for v in hi)  # type: ignore[return-value]


def layer_heights(bounds: Bounds) -> tuple[float, float]:
    """(height of forest level 1, height between levels) over a map with these bounds: levels sit
    above the tallest thing, spaced in proportion to the map's width so they read at any scale."""
    lo, hi = bounds
    extent = max(hi[0] - lo[0], hi[1] - lo[1], 1.0)
    dz = max(1.6, 0.035 * extent)
    top = max(hi[2], lo[2] + 2.0)
    return top + dz, dz


# ---------------------------------------------------------------------------------------------- robot, hits, path
@dataclass(frozen=True, eq=False)
class RobotLayer:
    """The robot: its position, a heading segment and the trajectory so far."""

    position: np.ndarray  # (1, 3)
    heading: np.ndarray  # (2, 3)
    trajectory: np.ndarray  # (T, 3)
    pose: Pose


def robot_layer(pose: Pose, trajectory: Sequence[Pose], *, lift: float = 0.08, arrow: float = 0.7,
                max_points: int = 4000) -> RobotLayer:
    """Draw the robot at ``pose`` with a heading arrow of ``arrow`` metres and its trajectory
    (decimated to ``max_points``)."""
    p = np.array([[pose.x, pose.y, pose.z + lift]], dtype=np.float32)
    tip = p[0] + np.array([math.cos(pose.yaw) * arrow, math.sin(pose.yaw) * arrow, 0.0], dtype=np.float32)
    traj = np.array([[q.x, q.y, q.z + lift] for q in trajectory], dtype=np.float32).reshape(-1, 3)
    if len(traj) > max_points:
        step = math.ceil(len(traj) / max_points)
        traj = np.concatenate([traj[::step], traj[-1:]])
    return RobotLayer(p, np.stack([p[0], tip]), traj, pose)


@dataclass(frozen=True, eq=False)
class HitsLayer:
    """Retrieval hits where they are drawn (cluster hits at their level's height), best first."""

    ids: tuple[str, ...]
    positions: np.ndarray  # (N, 3)
    ground: np.ndarray  # (2N, 3) vertical lines from each hit down to the floor
    scores: np.ndarray  # (N,)


def hits_layer(hits: Iterable[Mapping[str, Any]], tree: ForestTree | None = None, *, base_z: float = 3.2,
               dz: float = 1.6, floor_step: float = 0.0, floors: int = 1) -> HitsLayer:
    """Draw hits given as ``{"id", "level", "position", "score"}`` mappings (the JSON of a query
    response); a hit without a position is skipped."""
    ids, pos, ground, scores = [], [], [], []
    for h in hits:
        xyz = h.get("position")
        if xyz is None or len(xyz) < 2:
            continue
        x, y = float(xyz[0]), float(xyz[1])
        z = float(xyz[2]) if len(xyz) > 2 else 0.0
        level = int(h.get("level") or 0)
        node = tree.nodes.get(str(h.get("id"))) if tree is not None else None
        if level > 0 and node is not None:
            z = display_position(node, base_z, dz, floor_step, floors)[2]  # where the forest draws it
        elif level > 0:
            z = base_z + (level - 1) * dz
        elif node is not None:
            z = node.position[2]
        ids.append(str(h.get("id")))
        pos.append((x, y, z))
        ground.extend(((x, y, z), (x, y, 0.0)))
        scores.append(float(h.get("score") or 0.0))
    return HitsLayer(tuple(ids), np.asarray(pos, dtype=np.float32).reshape(-1, 3),
                     np.asarray(ground, dtype=np.float32).reshape(-1, 3), np.asarray(scores, dtype=np.float32))


def path_points(path: Any, elevations: Mapping[int, float] | None = None, *, lift: float = 0.12) -> np.ndarray:
    """A route as ``(N, 3)`` points: a ``sim.planner.Path`` (2D segments per floor, raised to each
    floor's elevation), an ``(N, 2)`` / ``(N, 3)`` array, or a sequence of poses."""
    elev = dict(elevations or {})
    if path is None:
        return empty_points()
    segments = getattr(path, "segments", None)
    if segments is not None:
        parts = []
        for seg in segments:
            pts = np.asarray(seg.points, dtype=np.float32).reshape(-1, 2)
            z = np.full((len(pts), 1), elev.get(int(seg.floor), 0.0) + lift, dtype=np.float32)
            parts.append(np.hstack([pts, z]))
        return np.concatenate(parts) if parts else empty_points()
    seq = list(path)
    if seq and isinstance(seq[0], Pose):
        return np.array([[p.x, p.y, p.z + lift] for p in seq], dtype=np.float32)
    arr = np.asarray(seq, dtype=np.float32)
    if arr.size == 0:
        return empty_points()
    if arr.ndim != 2 or arr.shape[1] not in (2, 3):
        raise ValueError(f"a path needs (N, 2) or (N, 3) points, got shape {arr.shape}")
    if arr.shape[1] == 2:
        arr = np.hstack([arr, np.full((len(arr), 1), lift, dtype=np.float32)])
    return arr


# ---------------------------------------------------------------------------------------------- camera images
def _turbo_lut() -> np.ndarray:
    """256-entry approximation of the Turbo colour map (polynomial fit by Google, Apache-2.0)."""
    t = np.linspace(0.0, 1.0, 256)
    r = 0.13572138 + t * (4.61539260 + t * (-42.66032258 + t * (132.13108234 + t * (-152.94239396 + t * 59.28637943))))
    g = 0.09140261 + t * (2.19418839 + t * (4.84296658 + t * (-14.18503333 + t * (4.27729857 + t * 2.82956604))))
    b = 0.10667330 + t * (12.64194608 + t * (-60.58204836 + t * (110.36276771 + t * (-89.90310912 + t * 27.34824973))))
    return (np.clip(np.stack([r, g, b], axis=1), 0.0, 1.0) * 255.0).astype(np.uint8)


_TURBO = _turbo_lut()


def colorize_depth(depth: np.ndarray, max_depth: float = 10.0) -> np.ndarray:
    """Depth (H, W) in metres as an RGB uint8 image (Turbo: near blue, far red; no hit black)."""
    d = np.asarray(depth, dtype=np.float32)
    valid = np.isfinite(d) & (d > 0.0)
    idx = np.clip(np.where(valid, d, 0.0) / max(max_depth, 1e-6) * 255.0, 0, 255).astype(np.uint8)
    out = _TURBO[idx]
    out[~valid] = 0
    return out


def _palette(n: int = 4096) -> np.ndarray:
    rng = np.random.default_rng(7)
    pal = rng.integers(60, 256, size=(n, 3), dtype=np.int64).astype(np.uint8)
    pal[0] = (25, 25, 30)
    return pal


_PALETTE = _palette()


def colorize_instances(instance: np.ndarray) -> np.ndarray:
    """Instance ids (H, W) as an RGB uint8 image: a stable colour per id, dark grey for 0 (none)."""
    ids = np.asarray(instance, dtype=np.int64)
    return _PALETTE[np.where(ids > 0, (ids % (len(_PALETTE) - 1)) + 1, 0)]


@dataclass(frozen=True, eq=False)
class CameraViews:
    """The three camera images of one observation, ready to draw."""

    rgb: np.ndarray
    depth: np.ndarray
    semantic: np.ndarray
    step: int = 0
    extra: dict = field(default_factory=dict)


def camera_views(obs: Observation) -> CameraViews:
    """RGB, colour-mapped depth and instance views of ``obs``."""
    return CameraViews(np.ascontiguousarray(obs.rgb), colorize_depth(obs.depth, min(obs.camera.max_depth, 10.0)),
                       colorize_instances(obs.instance), obs.step)

