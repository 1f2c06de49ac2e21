"""The 3D map pane: a pyqtgraph ``GLViewWidget`` drawing a ``MapSnapshot`` layer by layer.

Layers: fused point cloud, topological graph (places, traversal edges, objects), semantic forest
(levels stacked above the map, lines to children, a colour per level), robot with heading and
trajectory, retrieval hits, planned path, and the selected node. Each layer has a toggle; a
layer's GL buffers are re-uploaded only when its snapshot object changed. Orbit with the left
mouse button, pan with the middle one (or Ctrl+left), zoom with the wheel.
"""
from __future__ import annotations

import logging
import time
from collections import deque

import numpy as np
import pyqtgraph.opengl as gl
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QFont, QVector3D
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.snapshots import LEVEL_COLOURS, OBJECT_COLOUR, PLACE_COLOUR, ForestTree, display_position
from memory.types import LEVEL_NAMES
from ui import open3d_viewer
from ui.lab_state import MapSnapshot
from ui.outcomes import is_internal_id

log = logging.getLogger(__name__)

__all__ = ["QtMapPane", "LAYERS", "QtGLView", "grid_spacing", "marker_size"]

LAYERS = ("cloud", "graph", "forest", "robot", "hits", "path")
_LAYER_LABELS = {"cloud": "Cloud", "graph": "Graph", "forest": "Forest", "robot": "Robot", "hits": "Hits",
                 "path": "Path"}


def _hex(rgba: tuple[float, ...]) -> str:
    return "#" + "".join(f"{int(round(c * 255)):02x}" for c in rgba[:3])


def _legend_html(robot: bool = True, names: dict[int, str] | None = None) -> str:
    """The colour key of the 3D view (without the robot and its path for a memory with no world;
    ``names``: the levels' names where the memory has its own, e.g. blocks and neighbourhoods)."""
    names = names or {}
    rows = [(_hex(LEVEL_COLOURS[lv]), f"L{lv} {names.get(lv, LEVEL_NAMES[lv])}") for lv in (4, 3, 2, 1)]
    rows += [(_hex(OBJECT_COLOUR), "object"), (_hex(PLACE_COLOUR), "view / place")]
    rows += [("#ff4033", "robot")] if robot else []
    rows += [("#fff240", "retrieval hit")] + ([("#4dff73", "planned path")] if robot else [])
    rows += [("#ff59e6", "selected")]
    return "<br>".join(f'<span style="color:{c}">&#9679;</span>&nbsp;{t}' for c, t in rows)


class QtGLView(gl.GLViewWidget):
    """A GLViewWidget that counts its frames (for the status bar and the benchmark)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frame_times: deque[float] = deque(maxlen=120)
        self.paint_ms: deque[float] = deque(maxlen=120)

    def paintGL(self, *args, **kwargs) -> None:  # noqa: N802 - Qt override
        t0 = time.perf_counter()
        super().paintGL(*args, **kwargs)
        now = time.perf_counter()
        self.frame_times.append(now)
        self.paint_ms.append((now - t0) * 1000.0)

    def fps(self, window: float = 1.0) -> float:
        """Frames drawn per second over the last ``window`` seconds (0 when idle)."""
        now = time.perf_counter()
        recent = [t for t in self.frame_times if now - t <= window]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)


def grid_spacing(extent: float) -> float:
    """Metres between grid lines: 1 m in a house, then 5, 10, 50, 100 … so that a site a few
    kilometres wide still gets a few dozen lines, not thousands."""
    if extent < 40:
        return 1.0
    spacing = 5.0
    while extent / spacing > 60:
        spacing *= 2.0 if str(int(spacing))[0] == "5" else 5.0
    return spacing


def marker_size(base: float, n: int, crowd: int = 300) -> float:
    """Pixel size of ``n`` markers: ``base`` up to ``crowd`` of them, then shrinking with the square
    root of their number (to a third of ``base``) so that thousands of nodes stay apart."""
    if n <= crowd:
        return base
    return max(base / 3.0, base * (crowd / n) ** 0.5)


def _set_points(item: gl.GLScatterPlotItem, pos: np.ndarray, **kw) -> None:
    if len(pos) == 0:
        item.setData(pos=np.zeros((1, 3), np.float32), color=(0, 0, 0, 0))
    else:
        item.setData(pos=pos, **kw)


def _line_item(mode: str, color: tuple[float, ...] | None = None, width: float = 1.5) -> gl.GLLinePlotItem:
    """A line item that remembers its own colour (``_set_lines`` hides an empty one by making it
    transparent, and must give the colour back when points come)."""
    item = gl.GLLinePlotItem(mode=mode, width=width, antialias=True, **({"color": color} if color else {}))
    item.lab_colour = color
    return item


def _set_lines(item: gl.GLLinePlotItem, pos: np.ndarray, **kw) -> None:
    if len(pos) < 2:
        item.setData(pos=np.zeros((2, 3), np.float32), color=(0, 0, 0, 0))
        return
    colour = kw.pop("color", getattr(item, "lab_colour", None))
    item.setData(pos=pos, **({"color": colour} if colour is not None else {}), **kw)


class QtMapPane(QWidget):
    """The 3D map with a toggle per layer, 'Fit view' and 'Open in Open3D'."""

    layer_toggled = Signal(str, bool)
    open3d_launched = Signal(str)  # the exported file

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.snapshot: MapSnapshot | None = None
        self.selected: str | None = None
        self.view = QtGLView()
        self.view.setBackgroundColor(QColor(24, 26, 31))
        self.view.setMinimumSize(320, 240)
        self._shown: dict[str, object] = {}  # layer part -> the snapshot object drawn
        self._scene_version = -1
        self._labels: list[gl.GLTextItem] = []
        self._build_items()
        self.toggles: dict[str, QCheckBox] = {}
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 0)
        bar.setSpacing(2)  # the bar sets the 3D pane's minimum width: it must fit a 1280-pixel screen
        tips = {"cloud": "the fused point cloud", "graph": "the topological graph (views, objects)",
                "forest": "the semantic forest above the map", "robot": "the robot and its trail",
                "hits": "the last query's hits", "path": "the planned route"}
        for name in LAYERS:
            box = QCheckBox(_LAYER_LABELS[name])
            box.setChecked(True)
            box.setToolTip(f"show or hide {tips[name]}")
            box.toggled.connect(lambda on, n=name: self._on_layer_change(n, on))
            self.toggles[name] = box
            bar.addWidget(box)
        bar.addStretch(1)
        self.fit_button = QToolButton()
        self.fit_button.setText("Fit view")
        self.fit_button.setToolTip("frame the whole world (F)")
        self.fit_button.clicked.connect(self.fit_view)
        self.open3d_button = QToolButton()
        self.open3d_button.setText("Open3D…")
        self.open3d_button.setToolTip("show the current map in Open3D's own viewer (a separate window)")
        self.open3d_button.clicked.connect(self._on_open3d_click)
        self.open3d_button.setEnabled(False)
        bar.addWidget(self.fit_button)
        bar.addWidget(self.open3d_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(bar)
        lay.addWidget(self.view, 1)
        self.legend = QLabel(_legend_html(), self.view)
        self.legend.setStyleSheet("background: rgba(20, 22, 27, 190); color: #c8cdd6; padding: 6px 8px;"
                                  " border-radius: 4px; font-size: 11px;")
        self.legend.move(10, 10)
        self.legend.adjustSize()
        self.view.setCameraPosition(distance=20, elevation=35, azimuth=-60)

    def _build_items(self) -> None:
        v = self.view
        self.grid = gl.GLGridItem()
        self.grid.setColor((90, 96, 110, 90))
        v.addItem(self.grid)
        self.items: dict[str, list] = {}
        # points sized in metres (the cloud's voxel): surfaces read as solid at any zoom
        cloud = gl.GLScatterPlotItem(size=0.08, pxMode=False)
        cloud.setGLOptions("opaque")
        places = gl.GLScatterPlotItem(size=5.0, color=PLACE_COLOUR, pxMode=True)
        traverse = _line_item("lines", (0.35, 0.95, 0.95, 0.55), 1.5)
        objects = gl.GLScatterPlotItem(size=9.0, color=OBJECT_COLOUR, pxMode=True)
        forest_lines = _line_item("lines", None, 1.2)
        forest_nodes = gl.GLScatterPlotItem(size=13.0, pxMode=True)
        trajectory = _line_item("line_strip", (1.0, 0.45, 0.3, 0.9), 2.0)
        heading = _line_item("lines", (1.0, 0.25, 0.2, 1.0), 4.0)
        robot = gl.GLScatterPlotItem(size=16.0, color=(1.0, 0.25, 0.2, 1.0), pxMode=True)
        hit_lines = _line_item("lines", (1.0, 0.95, 0.3, 0.7), 1.5)
        hits = gl.GLScatterPlotItem(size=22.0, color=(1.0, 0.95, 0.25, 0.95), pxMode=True)
        path = _line_item("line_strip", (0.3, 1.0, 0.45, 1.0), 4.0)
        sel_lines = _line_item("lines", (1.0, 0.35, 0.9, 0.8), 1.5)
        sel = gl.GLScatterPlotItem(size=38.0, color=(1.0, 0.35, 0.9, 0.75), pxMode=True)
        # pyqtgraph blends points additively by default: thousands of nodes (a street-view memory)
        # would add up to a white blot, so markers blend as ordinary translucent paint
        # (hits stay additive: no depth test, so they show through the selection halo around the best one)
        for it in (places, objects, forest_nodes, forest_lines):
            it.setGLOptions("translucent")
        # insertion order is drawing order: the selection halo goes under the hits and the robot
        self.items = {"cloud": [cloud], "graph": [traverse, places, objects], "forest": [forest_lines, forest_nodes],
                      "selection": [sel_lines, sel], "robot": [trajectory, heading, robot],
                      "hits": [hit_lines, hits], "path": [path]}
        for parts in self.items.values():
            for it in parts:
                v.addItem(it)
                it.setVisible(False)

    # ------------------------------------------------------------------ layers
    def layer_visible(self, name: str) -> bool:
        return self.toggles[name].isChecked()

    def set_layer_visible(self, name: str, on: bool) -> None:
        self.toggles[name].setChecked(on)

    def _on_layer_change(self, name: str, on: bool) -> None:
        self._apply_visibility()
        self.layer_toggled.emit(name, on)

    def _apply_visibility(self) -> None:
        snap = self.snapshot
        has = {
            "cloud": snap is not None and len(snap.cloud) > 0,
            "graph": snap is not None and len(snap.graph.place_ids) > 0,
            "forest": snap is not None and len(snap.forest.ids) > 0,
            "robot": snap is not None and snap.robot is not None,
            "hits": snap is not None and len(snap.hits.ids) > 0,
            "path": snap is not None and len(snap.path) >= 2,
        }
        for name in LAYERS:
            for it in self.items[name]:
                it.setVisible(has[name] and self.layer_visible(name))
        for label in self._labels:
            label.setVisible(has["forest"] and self.layer_visible("forest"))
        for it in self.items["selection"]:
            it.setVisible(self.selected is not None and snap is not None)

    # ------------------------------------------------------------------ snapshots
    def set_snapshot(self, snap: MapSnapshot | None) -> None:
        """Draw a new snapshot, re-uploading only the layers whose data changed."""
        self.snapshot = snap
        self.open3d_button.setEnabled(snap is not None)
        if snap is None:
            self._apply_visibility()
            return
        if snap.scene_version != self._scene_version:
            self._scene_version = snap.scene_version
            self._shown.clear()
            self.selected = None
            names: dict[int, str] = {}
            for node in snap.tree.nodes.values():
                if node.level and node.level not in names:
                    names[node.level] = node.level_name
            self.legend.setText(_legend_html(robot=snap.robot is not None, names=names))
            self.legend.adjustSize()
            self._fit(snap)
        if self._changed("cloud", snap.cloud):
            (cloud,) = self.items["cloud"]
            _set_points(cloud, snap.cloud.points, color=snap.cloud.colors, size=snap.cloud.voxel * 1.15)
        if self._changed("graph", snap.graph):
            traverse, places, objects = self.items["graph"]
            _set_lines(traverse, snap.graph.traverse)
            _set_points(places, snap.graph.place_pos, color=PLACE_COLOUR,
                        size=marker_size(5.0, len(snap.graph.place_pos)))
            _set_points(objects, snap.graph.object_pos, color=OBJECT_COLOUR,
                        size=marker_size(9.0, len(snap.graph.object_pos)))
        if self._changed("forest", snap.forest):
            lines, nodes = self.items["forest"]
            _set_lines(lines, snap.forest.segments, color=snap.forest.segment_colors)
            _set_points(nodes, snap.forest.positions, color=snap.forest.colors,
                        size=marker_size(13.0, len(snap.forest.positions)))
            self._update_labels(snap)
        if snap.robot is not None:
            trajectory, heading, robot = self.items["robot"]
            _set_lines(trajectory, snap.robot.trajectory)
            _set_lines(heading, snap.robot.heading)
            _set_points(robot, snap.robot.position, color=(1.0, 0.25, 0.2, 1.0))
        if self._changed("hits", snap.hits):
            lines, hits = self.items["hits"]
            _set_lines(lines, snap.hits.ground)
            sizes = np.full(len(snap.hits.ids), 18.0, dtype=np.float32)
            if len(sizes):
                sizes[0] = 28.0  # the best hit stands out
            colours = np.tile(np.array([[1.0, 0.92, 0.2, 0.95]], np.float32), (len(sizes), 1))
            _set_points(hits, snap.hits.positions, size=sizes, color=colours)
        if self._changed("path", snap.path_version):
            (path,) = self.items["path"]
            _set_lines(path, snap.path)
        if self._changed("selection", (snap.forest, self.selected)):
            self._draw_selection()
        self._apply_visibility()

    def _changed(self, key: str, obj: object) -> bool:
        old = self._shown.get(key)
        same = old is obj or (isinstance(obj, (int, tuple)) and old == obj)
        if same:
            return False
        self._shown[key] = obj
        return True

    def _update_labels(self, snap: MapSnapshot) -> None:
        # the snapshot labels one upper forest level only: a text item costs a QPainter pass per frame
        for label in self._labels:
            self.view.removeItem(label)
        self._labels = []
        small = QFont("DejaVu Sans", 8)
        for lab in snap.forest.labels:
            if is_internal_id(lab.text):
                continue  # a cluster not summarised yet: its id means nothing to a reader
            self._labels.append(gl.GLTextItem(pos=lab.position, text=lab.text, color=QColor(200, 220, 255), font=small))
        for label in self._labels:
            self.view.addItem(label)

    # ------------------------------------------------------------------ selection
    def highlight(self, node_id: str | None) -> None:
        """Mark a forest/graph node (and lines to the leaves below it); None clears."""
        self.selected = node_id
        self._draw_selection()
        self._apply_visibility()

    def _node_position(self, tree: ForestTree, node_id: str) -> tuple[float, float, float] | None:
        snap = self.snapshot
        node = tree.nodes.get(node_id)
        if node is not None and snap is not None:
            return display_position(node, snap.forest.base_z, snap.forest.dz)
        return snap.graph.position(node_id) if snap is not None else None

    def _draw_selection(self) -> None:
        snap = self.snapshot
        lines, marker = self.items["selection"]
        if snap is None or self.selected is None:
            return
        p = self._node_position(snap.tree, self.selected)
        if p is None:
            return
        _set_points(marker, np.asarray([p], dtype=np.float32), color=(1.0, 0.35, 0.9, 0.75))
        segs = []
        for leaf in snap.tree.leaves_under(self.selected)[:400]:
            q = self._node_position(snap.tree, leaf)
            if q is not None and leaf != self.selected:
                segs.extend((p, q))
        _set_lines(lines, np.asarray(segs, dtype=np.float32).reshape(-1, 3))

    # ------------------------------------------------------------------ camera
    def _fit(self, snap: MapSnapshot) -> None:
        lo, hi = np.asarray(snap.bounds[0], float), np.asarray(snap.bounds[1], float)
        centre = (lo + hi) / 2.0
        extent = float(max(hi[0] - lo[0], hi[1] - lo[1], 4.0))
        top = snap.forest.base_z + 3 * snap.forest.dz
        spacing = grid_spacing(extent)
        self.grid.resetTransform()
        self.grid.setSize(x=extent * 1.2, y=extent * 1.2)
        self.grid.setSpacing(x=spacing, y=spacing)
        self.grid.translate(centre[0], centre[1], float(lo[2]) - 0.02)
        self.view.setCameraPosition(pos=QVector3D(float(centre[0]), float(centre[1]), float(top) * 0.3),
                                    distance=extent * 1.05 + top * 0.55, elevation=30, azimuth=-62)

    def fit_view(self) -> None:
        """Frame the whole world."""
        if self.snapshot is not None:
            self._fit(self.snapshot)

    def _on_open3d_click(self) -> None:
        if self.snapshot is None:
            return
        _, path = open3d_viewer.launch(self.snapshot)
        self.open3d_launched.emit(str(path))

    def grab_view(self):
        """The GL view as a QImage (what the user sees in the 3D pane)."""
        return self.view.grabFramebuffer()
