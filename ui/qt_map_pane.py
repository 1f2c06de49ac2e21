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
from PySide6.QtGui import QColor, QFont, QFontMetrics, QVector3D
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.snapshots import LEVEL_COLOURS, OBJECT_COLOUR, PLACE_COLOUR, ForestTree, display_position
from memory.types import LEVEL_NAMES
from ui import open3d_viewer
from ui.lab_state import MapSnapshot
from ui.outcomes import is_internal_id

log = logging.getLogger(__name__)

__all__ = ["QtMapPane", "LAYERS", "QtGLView", "grid_spacing", "marker_size", "declutter"]

MIN_ELEVATION = 2.0  # degrees: orbiting stops just above the floor
HIT_MARKER_PX = 18.0  # hit markers' size on screen (pixels), the best hit's larger
BEST_HIT_MARKER_PX = 28.0
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

    def orbit(self, azim: float, elev: float) -> None:
        """Orbit the camera, never below the ground: the map is seen from above or level with it."""
        if self.opts.get("rotationMethod", "euler") == "euler":
            elev = min(max(self.opts["elevation"] + elev, MIN_ELEVATION), 90.0) - self.opts["elevation"]
        super().orbit(azim, elev)

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


def _pair_mask(keep: np.ndarray) -> np.ndarray:
    """Keep a segment (two consecutive points) only when both its ends are kept."""
    both = keep.reshape(-1, 2).all(axis=1)
    return np.repeat(both, 2)


def _pairs(segments: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return np.asarray(segments, dtype=np.float32).reshape(-1, 3)[_pair_mask(keep)]


def declutter(anchors: np.ndarray, sizes: np.ndarray, rise_px: np.ndarray,
              obstacles: np.ndarray | None = None) -> np.ndarray:
    """How many steps up each label must move so that no two overlap on screen: ``anchors`` (N, 2)
    pixel positions of the labels' bottom-left corners (y down), ``sizes`` (N, 2) their pixel
    width and height, ``rise_px`` (N, K + 1) how many pixels k = 0..K steps raise each (as perspective
    has it). Earlier labels keep their place; a later one climbs until it is clear of all placed before
    it and of ``obstacles`` (M, 4) pixel rectangles (left, top, right, bottom) that no label may cover,
    such as hit markers. A label with no clear place within K steps gets -1: it is not drawn (a crowd of
    labels written over each other reads as none)."""
    placed: list[tuple[float, float, float, float]] = [
        tuple(float(v) for v in r) for r in (np.zeros((0, 4)) if obstacles is None else obstacles)]
    steps = np.zeros(len(anchors), dtype=np.int32)
    for i, ((x, y), (w, h), rise) in enumerate(zip(anchors, sizes, rise_px, strict=True)):
        for k, up in enumerate(rise):
            top = float(y) - float(h) - float(up)
            rect = (float(x), top, float(x) + float(w), top + float(h))
            if not any(rect[0] < r[2] and r[0] < rect[2] and rect[1] < r[3] and r[1] < rect[3] for r in placed):
                steps[i] = k
                placed.append(rect)
                break
        else:
            steps[i] = -1
    return steps


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
        self._fitted_floors = 1  # a second floor's rooms appearing raise the forest: frame it again
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
        self.floor: int | None = None  # the floor shown alone (None: all)
        self.floor_box = QComboBox()
        self.floor_box.setToolTip("show every floor, or one floor alone (its cloud, graph, rooms and labels)")
        self.floor_box.currentIndexChanged.connect(self._on_floor_change)
        self.floor_box.setVisible(False)
        bar.addWidget(self.floor_box)
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
        elif snap.forest.floors > self._fitted_floors:
            self._fit(snap)
        self._update_floor_box(snap)
        if self._changed("cloud", (snap.cloud, self.floor)):
            (cloud,) = self.items["cloud"]
            keep = self._on_floor(snap.cloud.points)
            _set_points(cloud, snap.cloud.points[keep], color=snap.cloud.colors[keep], size=snap.cloud.voxel * 1.15)
        if self._changed("graph", (snap.graph, self.floor)):
            traverse, places, objects = self.items["graph"]
            g = snap.graph
            _set_lines(traverse, _pairs(g.traverse, self._on_floor(g.traverse)))
            _set_points(places, g.place_pos[self._on_floor(g.place_pos)], color=PLACE_COLOUR,
                        size=marker_size(5.0, len(g.place_pos)))
            _set_points(objects, g.object_pos[self._on_floor(g.object_pos)], color=OBJECT_COLOUR,
                        size=marker_size(9.0, len(g.object_pos)))
        relabel = False
        if self._changed("forest", (snap.forest, self.floor)):
            lines, nodes = self.items["forest"]
            f = snap.forest
            seg_keep = _pair_mask(self._forest_shown(snap, f.segments))
            _set_lines(lines, f.segments[seg_keep], color=f.segment_colors[seg_keep])
            keep = self._forest_shown(snap, f.positions, f.ids)
            _set_points(nodes, f.positions[keep], color=f.colors[keep], size=marker_size(13.0, len(f.positions)))
            relabel = True
        if snap.robot is not None:
            trajectory, heading, robot = self.items["robot"]
            _set_lines(trajectory, snap.robot.trajectory)
            _set_lines(heading, snap.robot.heading)
            _set_points(robot, snap.robot.position, color=(1.0, 0.25, 0.2, 1.0))
        if self._changed("hits", snap.hits):
            lines, hits = self.items["hits"]
            _set_lines(lines, snap.hits.ground)
            sizes = np.full(len(snap.hits.ids), HIT_MARKER_PX, dtype=np.float32)
            if len(sizes):
                sizes[0] = BEST_HIT_MARKER_PX  # the best hit stands out
            colours = np.tile(np.array([[1.0, 0.92, 0.2, 0.95]], np.float32), (len(sizes), 1))
            _set_points(hits, snap.hits.positions, size=sizes, color=colours)
            relabel = True  # labels step aside from the new markers
        if relabel:
            self._update_labels(snap)
        if self._changed("path", snap.path_version):
            (path,) = self.items["path"]
            _set_lines(path, snap.path)
        if self._changed("selection", (snap.forest, self.selected)):
            self._draw_selection()
        self._apply_visibility()

    def _changed(self, key: str, obj: object) -> bool:
        old = self._shown.get(key)
        same = old is obj or (isinstance(obj, int) and old == obj) or (
            isinstance(obj, tuple) and isinstance(old, tuple) and len(old) == len(obj)
            and all(a is b or (isinstance(b, (int, type(None))) and a == b) for a, b in zip(old, obj, strict=True)))
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
        bold = QFont("DejaVu Sans", 9, QFont.Weight.Bold)
        shown = []
        for lab in snap.forest.labels:
            node = snap.tree.nodes.get(lab.id)
            if is_internal_id(lab.text):
                continue  # a cluster not summarised yet: its id means nothing to a reader
            if self.floor is not None and node is not None and node.level <= 3 and node.floor != self.floor:
                continue
            shown.append((lab, node is not None and node.level == 3))
        shown.sort(key=lambda t: not t[1])  # floor labels first: they keep their place
        lift = 0.3 * snap.forest.dz
        ks = self._label_steps([lab.position for lab, _ in shown], [lab.text for lab, _ in shown],
                               [bold if f else small for _, f in shown], lift, self.hit_rects(snap))
        for (lab, is_floor), k in zip(shown, ks, strict=True):
            if k < 0:
                continue  # no clear place at this view
            colour = QColor(235, 210, 255) if is_floor else QColor(200, 220, 255)
            x, y, z = lab.position
            pos = (x, y, z + int(k) * lift)
            self._labels.append(gl.GLTextItem(pos=pos, text=lab.text, color=colour, font=bold if is_floor else small))
        for label in self._labels:
            self.view.addItem(label)

    def _project(self, pts: np.ndarray) -> np.ndarray:
        """Pixel positions (x right, y down) of 3D points in the view as it is now."""
        w, h = max(1, self.view.width()), max(1, self.view.height())
        mvp = self.view.projectionMatrix((0, 0, w, h), (0, 0, w, h)) * self.view.viewMatrix()
        m = np.array(mvp.data(), dtype=np.float64).reshape(4, 4).T  # Qt stores column-major
        p = np.c_[np.asarray(pts, dtype=np.float64).reshape(-1, 3), np.ones(len(pts))] @ m.T
        ndc = p[:, :2] / np.where(np.abs(p[:, 3:4]) < 1e-9, 1e-9, p[:, 3:4])
        return np.c_[(ndc[:, 0] + 1) * 0.5 * w, (1 - ndc[:, 1]) * 0.5 * h]

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.snapshot is not None:
            self._update_labels(self.snapshot)  # labels are placed apart in pixels, at this size

    def hit_rects(self, snap: MapSnapshot) -> np.ndarray:
        """Pixel rectangles (left, top, right, bottom) of the hit markers at the current view (M, 4)."""
        pos = np.asarray(snap.hits.positions, dtype=np.float64).reshape(-1, 3)
        if len(pos) == 0:
            return np.zeros((0, 4))
        at = self._project(pos)
        half = np.full(len(pos), HIT_MARKER_PX / 2 + 2.0)
        half[0] = BEST_HIT_MARKER_PX / 2 + 2.0
        return np.c_[at[:, 0] - half, at[:, 1] - half, at[:, 0] + half, at[:, 1] + half]

    def label_rects(self) -> list[tuple[str, np.ndarray]]:
        """(text, pixel rectangle) of every label drawn, at the current view: their lower-left corner is
        their anchor (``GLTextItem`` draws text with its baseline at the point)."""
        out = []
        for label in self._labels:
            at = self._project(np.asarray([label.pos], dtype=np.float64))[0]
            m = QFontMetrics(label.font)
            w, h = m.horizontalAdvance(label.text) + 4, m.height()
            out.append((label.text, np.array([at[0], at[1] - h, at[0] + w, at[1]])))
        return out

    def _label_steps(self, positions: list, texts: list[str], fonts: list[QFont], lift: float,
                     obstacles: np.ndarray | None = None) -> np.ndarray:
        """How many ``lift`` steps up each label goes so that none collide, nor cover ``obstacles``
        (pixel rectangles), at the current view."""
        if not positions:
            return np.zeros(0, dtype=np.int32)
        pts = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        at = self._project(pts)
        steps = 24
        # where k lifts put each label on screen (perspective: not k times one lift)
        ks = np.arange(steps + 1, dtype=np.float64)
        lifted = (pts[:, None, :] + ks[None, :, None] * np.array([0.0, 0.0, lift])).reshape(-1, 3)
        rise = np.abs(at[:, 1][:, None] - self._project(lifted)[:, 1].reshape(len(pts), steps + 1))
        rise = np.maximum(rise, ks[None, :])  # at least a pixel a step, as when looking straight down
        sizes = np.array([(QFontMetrics(f).horizontalAdvance(t) + 6, QFontMetrics(f).height() + 2)
                          for t, f in zip(texts, fonts, strict=True)], dtype=np.float64)
        return declutter(at, sizes, rise, obstacles=obstacles)

    # ------------------------------------------------------------------ floors
    def _update_floor_box(self, snap: MapSnapshot) -> None:
        elev = snap.extra.get("floor_elevations") or {}
        wanted = ["All floors"] + [f"Floor {f}" for f in sorted(elev)] if len(elev) > 1 else []
        have = [self.floor_box.itemText(i) for i in range(self.floor_box.count())]
        if wanted != have:
            self.floor_box.blockSignals(True)
            self.floor_box.clear()
            self.floor_box.addItems(wanted)
            self.floor_box.blockSignals(False)
            self.floor = None
        self.floor_box.setVisible(bool(wanted))

    def set_floor(self, floor: int | None) -> None:
        """Show one floor alone (None: every floor)."""
        self.floor_box.setCurrentIndex(0 if floor is None else self.floor_box.findText(f"Floor {floor}"))

    def _on_floor_change(self, index: int) -> None:
        text = self.floor_box.itemText(index)
        self.floor = int(text.split()[-1]) if text.startswith("Floor ") else None
        if self.snapshot is not None:
            self.set_snapshot(self.snapshot)

    def _floor_range(self) -> tuple[float, float] | None:
        """The heights of the chosen floor's storey (None: every floor)."""
        snap = self.snapshot
        elev = (snap.extra.get("floor_elevations") or {}) if snap is not None else {}
        if self.floor is None or self.floor not in elev:
            return None
        above = [z for f, z in elev.items() if z > elev[self.floor]]
        return elev[self.floor] - 0.3, (min(above) - 0.3 if above else float("inf"))

    def _on_floor(self, pts: np.ndarray) -> np.ndarray:
        """Which map points (cloud, graph) lie on the chosen floor's storey."""
        rng = self._floor_range()
        z = np.asarray(pts, dtype=np.float32).reshape(-1, 3)[:, 2]
        if rng is None:
            return np.ones(len(z), dtype=bool)
        return (z >= rng[0]) & (z < rng[1])

    def _forest_shown(self, snap: MapSnapshot, pts: np.ndarray, ids: tuple[str, ...] | None = None) -> np.ndarray:
        """Which forest points belong to the chosen floor: its leaves, its band of areas and rooms,
        its own floor node and the site above (by node where ``ids`` are given, else by height)."""
        pts = np.asarray(pts, dtype=np.float32).reshape(-1, 3)
        f = snap.forest
        if self._floor_range() is None:
            return np.ones(len(pts), dtype=bool)
        if ids is not None:
            nodes = [snap.tree.nodes.get(i) for i in ids]
            return np.array([n is None or n.level > 3 or n.floor == self.floor for n in nodes], dtype=bool)
        z = pts[:, 2]
        band_lo = f.base_z + self.floor * f.floor_step - 0.5 * f.dz
        top = f.base_z + 1.5 * f.dz + (f.floors - 1) * f.floor_step
        return self._on_floor(pts) | ((z >= band_lo) & (z < band_lo + 2.0 * f.dz)) | (z >= top)

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
            f = snap.forest
            return display_position(node, f.base_z, f.dz, f.floor_step, f.floors)
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
        self._fitted_floors = snap.forest.floors
        lo, hi = np.asarray(snap.bounds[0], float), np.asarray(snap.bounds[1], float)
        centre = (lo + hi) / 2.0
        extent = float(max(hi[0] - lo[0], hi[1] - lo[1], 4.0))
        top = snap.forest.base_z + 3 * snap.forest.dz + (snap.forest.floors - 1) * snap.forest.floor_step
        spacing = grid_spacing(extent)
        self.grid.resetTransform()
        self.grid.setSize(x=extent * 1.2, y=extent * 1.2)
        self.grid.setSpacing(x=spacing, y=spacing)
        self.grid.translate(centre[0], centre[1], float(lo[2]) - 0.02)
        look_z, distance = float(top) * 0.3, extent * 1.05 + top * 0.55
        if snap.forest.floors > 1:  # a taller stack (a band of rooms per floor): aim higher, stand back
            span = float(top - lo[2])
            look_z = float(lo[2]) + 0.45 * span
            distance = max(distance, 1.25 * span + 0.6 * extent)
        self.view.setCameraPosition(pos=QVector3D(float(centre[0]), float(centre[1]), look_z),
                                    distance=distance, elevation=30, azimuth=-62)

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
