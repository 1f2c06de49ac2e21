"""Top-down maps of a scene as numpy images, with overlays; a labelled PNG through matplotlib.

The map of one floor is a plan view: floors, stairs and objects are seen from above (ray cast down from the
top of the storey; ceilings and roofs are left out), walls are a horizontal section at ``WALL_CUT`` metres
above the floor so doorways show as gaps. Pixel (row, col) of a map covers the world square whose centre is
``MapFrame.to_world(col, row)``; row 0 is the north edge (largest y), as in any image.

Overlays: other parts of the project draw on these maps with three small value types, given as a list in
``extra=`` (``trajectory=`` and ``navmap=`` are shortcuts that build them):

* ``Polyline(points, colour, width, label, floor)`` — a path (trajectory, planned route); ``points`` is
  ``(N, 2)`` or ``(N, 3)`` world coordinates, ``width`` in metres.
* ``Points(points, colour, size, labels, marker, headings, label, floor)`` — markers (retrieval hits, goals,
  the robot); ``labels`` names each point in the PNG, ``headings`` (radians) adds a direction tick.
* ``Mask(mask, x0, y0, resolution, colour, alpha, label, floor)`` — a boolean grid blended over the map
  (navigable area, explored coverage); cell (i, j) has centre ``(x0 + (j + .5) r, y0 + (i + .5) r)``,
  the ``NavMap`` ``GridSpec`` convention, so ``Mask.from_grid(mask, grid_spec)`` takes NavMap grids as is.

Every overlay has ``floor``: ``None`` draws it on all floors, an index only on that floor. Colours are RGB
0-255. ``label`` (when set) puts the overlay in the PNG legend. ``render_topdown`` stamps overlays into the
pixels; ``save_topdown_png`` draws lines and markers as vectors (with their per-point ``labels``) over the
raster, and adds the start pose and the scene's portals (stairs/lifts) on their floors.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from sim.scene import Scene, SurfaceKind
from sim.types import FloorInfo, Pose

log = logging.getLogger(__name__)

__all__ = ["MapFrame", "Polyline", "Points", "Mask", "Overlay", "render_topdown", "draw_overlays",
           "trajectory_overlays", "navigable_overlay", "save_topdown_png", "BACKGROUND", "WALL_COLOUR",
           "WALL_CUT"]

BACKGROUND = (250, 250, 248)
WALL_COLOUR = (55, 58, 66)
WALL_CUT = 1.2  # metres above the floor where walls are sectioned
_FLOOR_LIGHTEN = 0.35  # floors are drawn lighter so objects stand out
_MAX_LABELS = 80  # object names per floor in the PNG


@dataclass(frozen=True)
class MapFrame:
    """The pixel grid of a map: ``width`` x ``height`` pixels of ``resolution`` metres from (x0, y0)."""

    x0: float
    y0: float
    resolution: float
    width: int
    height: int

    @classmethod
    def for_scene(cls, scene: Scene, resolution: float = 0.05, margin: float = 0.5,
                  max_pixels: int = 4_000_000) -> MapFrame:
        """The frame covering the scene's bounds plus ``margin``; resolution coarsens past ``max_pixels``."""
        lo, hi = scene.mesh.bounds()
        x0, y0 = float(lo[0]) - margin, float(lo[1]) - margin
        w, h = float(hi[0] - lo[0]) + 2 * margin, float(hi[1] - lo[1]) + 2 * margin
        res = float(resolution)
        while math.ceil(w / res) * math.ceil(h / res) > max_pixels:
            res *= 1.25
        return cls(x0, y0, res, int(math.ceil(w / res)), int(math.ceil(h / res)))

    @property
    def y1(self) -> float:
        return self.y0 + self.height * self.resolution

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(left, right, bottom, top)`` in metres, for ``imshow(extent=...)``."""
        return (self.x0, self.x0 + self.width * self.resolution, self.y0, self.y1)

    def to_pixel(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (col, row) of world points; integer parts index the image."""
        return (np.asarray(x, np.float64) - self.x0) / self.resolution, \
            (self.y1 - np.asarray(y, np.float64)) / self.resolution

    def to_world(self, col: np.ndarray | float, row: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """World (x, y) of pixel centres."""
        return self.x0 + (np.asarray(col) + 0.5) * self.resolution, self.y1 - (np.asarray(row) + 0.5) * self.resolution

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """World x and y of every pixel centre, each ``(height, width)``."""
        xs = self.x0 + (np.arange(self.width) + 0.5) * self.resolution
        ys = self.y1 - (np.arange(self.height) + 0.5) * self.resolution
        return np.meshgrid(xs, ys)


@dataclass(frozen=True, eq=False)
class Polyline:
    """A path in world coordinates, ``width`` metres wide."""

    points: np.ndarray
    colour: tuple[int, int, int] = (220, 50, 40)
    width: float = 0.08
    label: str = ""
    floor: int | None = None


@dataclass(frozen=True, eq=False)
class Points:
    """Markers of ``size`` metres: ``marker`` is ``"o"`` (disc), ``"s"`` (square) or ``"x"`` (cross)."""

    points: np.ndarray
    colour: tuple[int, int, int] = (30, 110, 220)
    size: float = 0.3
    labels: tuple[str, ...] = ()
    marker: str = "o"
    headings: np.ndarray | None = None
    label: str = ""
    floor: int | None = None


@dataclass(frozen=True, eq=False)
class Mask:
    """A boolean grid blended over the map (cell (i, j) centre ``(x0 + (j + .5) r, y0 + (i + .5) r)``)."""

    mask: np.ndarray
    x0: float
    y0: float
    resolution: float
    colour: tuple[int, int, int] = (60, 180, 90)
    alpha: float = 0.35
    label: str = ""
    floor: int | None = None

    @classmethod
    def from_grid(cls, mask: np.ndarray, spec, **kw) -> Mask:
        """A mask over a ``GridSpec``-like grid (anything with ``x0``, ``y0``, ``resolution``)."""
        return cls(np.asarray(mask, bool), float(spec.x0), float(spec.y0), float(spec.resolution), **kw)


Overlay = Polyline | Points | Mask


# --------------------------------------------------------------------------------- overlay helpers
def trajectory_overlays(trajectory: Sequence[Pose] | np.ndarray, *, colour: tuple[int, int, int] = (220, 50, 40),
                        label: str = "trajectory", width: float = 0.08) -> list[Overlay]:
    """A trajectory (Poses, or an ``(N, 2|3)`` array) as one polyline per floor plus start/end markers."""
    if len(trajectory) == 0:
        return []
    if isinstance(trajectory[0], Pose):
        pts = np.array([[p.x, p.y] for p in trajectory], np.float64)
        floors = np.array([p.floor for p in trajectory])
    else:
        pts = np.asarray(trajectory, np.float64)[:, :2]
        floors = None
    out: list[Overlay] = []
    if floors is None:
        out.append(Polyline(pts, colour, width, label))
    else:
        breaks = np.nonzero(np.diff(floors) != 0)[0] + 1
        for k, (s, e) in enumerate(zip(np.r_[0, breaks], np.r_[breaks, len(pts)], strict=True)):
            out.append(Polyline(pts[s:e], colour, width, label if k == 0 else "", int(floors[s])))
    f0 = None if floors is None else int(floors[0])
    f1 = None if floors is None else int(floors[-1])
    out.append(Points(pts[:1], (40, 160, 60), 0.25, ("start",), "o", floor=f0))
    out.append(Points(pts[-1:], colour, 0.25, ("end",), "s", floor=f1))
    return out


def navigable_overlay(navmap, floor: int, *, colour: tuple[int, int, int] = (60, 180, 90), alpha: float = 0.3,
                      label: str = "navigable") -> Mask:
    """The cells of ``navmap`` (a ``sim.navmap.NavMap``) where the robot fits, on one floor."""
    g = navmap.grid(floor)
    return Mask.from_grid(navmap.navigable(floor), g.spec, colour=colour, alpha=alpha, label=label, floor=floor)


def _collect(navmap, trajectory, extra, floor: int) -> list[Overlay]:
    ovs: list[Overlay] = []
    if navmap is not None and floor in navmap.floors:
        ovs.append(navigable_overlay(navmap, floor))
    if trajectory is not None:
        ovs.extend(trajectory_overlays(trajectory))
    ovs.extend(extra or ())
    return [o for o in ovs if o.floor is None or o.floor == floor]


# ------------------------------------------------------------------------------------------ raster
def _floor_of(scene: Scene, floor: int) -> FloorInfo:
    for f in scene.info.floors:
        if f.index == floor:
            return f
    from sim.errors import SimError

    raise SimError(f"scene {scene.name!r} has no floor {floor}; floors are "
                   f"{[f.index for f in scene.info.floors]}")


def _cast_down(verts: np.ndarray, tris: np.ndarray, frame: MapFrame,
               z0: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hit triangle index (-1 = none), hit z and the hit face's normal z, one downward ray per pixel from ``z0``."""
    n = frame.width * frame.height
    if len(tris) == 0:
        return np.full(n, -1, np.int64), np.full(n, -np.inf), np.zeros(n)
    import open3d as o3d

    rs = o3d.t.geometry.RaycastingScene()
    rs.add_triangles(o3d.core.Tensor(np.ascontiguousarray(verts, np.float32)),
                     o3d.core.Tensor(np.ascontiguousarray(tris, np.uint32)))
    xs, ys = frame.centres()
    rays = np.zeros((n, 6), np.float32)
    rays[:, 0], rays[:, 1], rays[:, 2], rays[:, 5] = xs.ravel(), ys.ravel(), z0, -1.0
    ans = rs.cast_rays(o3d.core.Tensor(rays))
    t = ans["t_hit"].numpy()
    prim = ans["primitive_ids"].numpy().astype(np.int64)
    hit = np.isfinite(t)
    return np.where(hit, prim, -1), np.where(hit, z0 - t, -np.inf), ans["primitive_normals"].numpy()[:, 2]


def _plan(scene: Scene, floor: int, frame: MapFrame) -> np.ndarray:
    """The plan view of one floor, without overlays: ``(H, W, 3)`` uint8."""
    fl = _floor_of(scene, floor)
    m = scene.mesh
    tv = m.vertices[m.triangles].astype(np.float64)
    zmin, zmax = tv[:, :, 2].min(axis=1), tv[:, :, 2].max(axis=1)
    nrm = np.cross(tv[:, 1] - tv[:, 0], tv[:, 2] - tv[:, 0])
    nz = nrm[:, 2] / np.maximum(np.linalg.norm(nrm, axis=1), 1e-12)
    top, bottom = fl.elevation + fl.height - 0.02, fl.elevation - 0.3
    in_storey = (zmin < top) & (zmax > bottom)
    kind = m.tri_kind.astype(np.int16)
    wall = kind == SurfaceKind.WALL
    # seen from above: no ceilings/roofs, no faces pointing down (only visible from inside a solid)
    seen = in_storey & ~wall & ~np.isin(kind, [SurfaceKind.CEILING, SurfaceKind.ROOF]) & (nz > -0.5)
    sel = np.nonzero(seen)[0]
    prim, zhit, _ = _cast_down(m.vertices, m.triangles[sel], frame, top + 0.05)
    ok = (prim >= 0) & (zhit >= bottom)
    tri = np.where(ok, sel[np.maximum(prim, 0)], -1)
    h, w = frame.height, frame.width
    rgb = np.empty((h * w, 3), np.uint8)
    rgb[:] = BACKGROUND
    iimg = np.zeros(h * w, np.int32)
    got = tri >= 0
    col = m.tri_colour[tri[got]].astype(np.float64)
    k = kind[tri[got]]
    ground = np.isin(k, [SurfaceKind.FLOOR, SurfaceKind.GROUND, SurfaceKind.STAIRS])
    col[ground] = col[ground] + (255.0 - col[ground]) * _FLOOR_LIGHTEN
    rgb[got] = np.clip(np.round(col), 0, 255).astype(np.uint8)
    iimg[got] = m.tri_instance[tri[got]]
    # walls: a horizontal section at WALL_CUT. A downward ray from the cut that meets a wall face below it is
    # inside a wall (or over a sill); single-sided walls, which rays never hit, add their footprint.
    cut = fl.elevation + WALL_CUT
    wsel = np.nonzero(wall & in_storey & (zmin < cut))[0]
    wprim, wz, _ = _cast_down(m.vertices, m.triangles[wsel], frame, cut)
    wall_px = (wprim >= 0) & (wz >= fl.elevation - 0.05)
    steep = wsel[wall[wsel] & (zmax[wsel] >= cut) & (np.abs(nz[wsel]) < 0.3)]
    near_solid = ndimage.binary_dilation(wall_px.reshape(frame.height, frame.width), np.ones((3, 3), bool))
    wall_px |= (_footprint(tv[steep], frame) & ~near_solid).ravel()
    rgb[wall_px] = WALL_COLOUR
    iimg[wall_px] = 0
    rgb, iimg = rgb.reshape(h, w, 3), iimg.reshape(h, w)
    # darken object outlines so objects stand out from floors of similar colour
    edge = np.zeros((h, w), bool)
    edge[1:, :] |= iimg[1:, :] != iimg[:-1, :]
    edge[:-1, :] |= iimg[:-1, :] != iimg[1:, :]
    edge[:, 1:] |= iimg[:, 1:] != iimg[:, :-1]
    edge[:, :-1] |= iimg[:, :-1] != iimg[:, 1:]
    edge &= (iimg != 0)
    rgb[edge] = (rgb[edge].astype(np.float64) * 0.55).astype(np.uint8)
    return rgb


def _footprint(tri_pts: np.ndarray, frame: MapFrame) -> np.ndarray:
    """Pixels under the projected edges of (near-vertical) triangles ``(T, 3, 3)``."""
    out = np.zeros((frame.height, frame.width), bool)
    if len(tri_pts) == 0:
        return out
    a = tri_pts[:, [0, 1, 2], :2].reshape(-1, 2)
    b = tri_pts[:, [1, 2, 0], :2].reshape(-1, 2)
    _stamp_segments(out, frame, a, b, 0.0)
    return out


def _stamp_segments(out: np.ndarray, frame: MapFrame, a: np.ndarray, b: np.ndarray, radius_px: float) -> None:
    """Set the pixels within ``radius_px`` of the segments ``a[k] -> b[k]`` (world xy)."""
    length = np.linalg.norm(b - a, axis=1) / frame.resolution
    steps = np.maximum(np.ceil(length * 2.0).astype(np.int64), 1)
    seg = np.repeat(np.arange(len(a)), steps + 1)
    first = np.repeat(np.cumsum(np.r_[0, steps[:-1] + 1]), steps + 1)  # index of each sample's segment start
    t = (np.arange(len(seg)) - first) / np.repeat(steps, steps + 1)
    p = a[seg] + (b[seg] - a[seg]) * t[:, None]
    _stamp_points(out, frame, p, radius_px)


def _stamp_points(out: np.ndarray, frame: MapFrame, p: np.ndarray, radius_px: float) -> None:
    col, row = frame.to_pixel(p[:, 0], p[:, 1])
    r = int(math.ceil(radius_px))
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    keep = dx ** 2 + dy ** 2 <= max(radius_px, 0.5) ** 2
    ci = np.floor(col).astype(np.int64)[:, None] + dx[keep][None, :]
    ri = np.floor(row).astype(np.int64)[:, None] + dy[keep][None, :]
    ok = (ci >= 0) & (ci < frame.width) & (ri >= 0) & (ri < frame.height)
    out[ri[ok], ci[ok]] = True


def _mask_on_frame(ov: Mask, frame: MapFrame) -> np.ndarray:
    """Nearest-cell resampling of an overlay mask onto the map's pixels."""
    xs, ys = frame.centres()
    j = np.floor((xs - ov.x0) / ov.resolution).astype(np.int64)
    i = np.floor((ys - ov.y0) / ov.resolution).astype(np.int64)
    rows, cols = ov.mask.shape
    ok = (i >= 0) & (i < rows) & (j >= 0) & (j < cols)
    out = np.zeros((frame.height, frame.width), bool)
    out[ok] = ov.mask[i[ok], j[ok]]
    return out


def draw_overlays(image: np.ndarray, frame: MapFrame, overlays: Sequence[Overlay]) -> np.ndarray:
    """A copy of ``image`` with the overlays drawn in order (masks blended, lines and markers stamped).

    Overlays are drawn regardless of their ``floor``; filter them first for per-floor maps.
    """
    img = image.copy()
    for ov in overlays:
        px = np.zeros((frame.height, frame.width), bool)
        if isinstance(ov, Mask):
            px = _mask_on_frame(ov, frame)
            img[px] = np.round(img[px] * (1.0 - ov.alpha) + np.asarray(ov.colour) * ov.alpha).astype(np.uint8)
            continue
        pts = np.asarray(ov.points, np.float64).reshape(-1, np.shape(ov.points)[-1] if np.size(ov.points) else 2)
        if len(pts) == 0:
            continue
        if isinstance(ov, Polyline):
            if len(pts) == 1:
                _stamp_points(px, frame, pts[:, :2], 0.5 * ov.width / frame.resolution)
            else:
                _stamp_segments(px, frame, pts[:-1, :2], pts[1:, :2], 0.5 * ov.width / frame.resolution)
        elif isinstance(ov, Points):
            r = 0.5 * ov.size / frame.resolution
            if ov.marker == "x":
                d = 0.5 * ov.size / math.sqrt(2.0)
                for sx in (-1.0, 1.0):
                    _stamp_segments(px, frame, pts[:, :2] + [-d, -sx * d], pts[:, :2] + [d, sx * d], max(1.0, r / 4))
            elif ov.marker == "s":
                _stamp_segments(px, frame, pts[:, :2] - [0.5 * ov.size, 0.0], pts[:, :2] + [0.5 * ov.size, 0.0], r)
            else:
                _stamp_points(px, frame, pts[:, :2], r)
            if ov.headings is not None:
                hd = np.asarray(ov.headings, np.float64).reshape(-1)
                tip = pts[:, :2] + ov.size * np.column_stack([np.cos(hd), np.sin(hd)])
                _stamp_segments(px, frame, pts[:, :2], tip, max(1.0, r / 4))
        img[px] = ov.colour
    return img


def render_topdown(scene: Scene, floor: int = 0, resolution: float = 0.05, navmap=None,
                   trajectory: Sequence[Pose] | np.ndarray | None = None, extra: Sequence[Overlay] | None = None,
                   *, frame: MapFrame | None = None) -> np.ndarray:
    """The plan view of one floor as an ``(H, W, 3)`` uint8 RGB image, with overlays drawn on it.

    ``navmap`` adds the navigable cells (a translucent green mask), ``trajectory`` (Poses or an (N, 2|3)
    array) a red path with start/end markers, ``extra`` any overlays (see the module docstring). The frame
    is ``MapFrame.for_scene(scene, resolution)`` unless given; use the same call to map world points onto
    the returned image.
    """
    fr = frame or MapFrame.for_scene(scene, resolution)
    rgb = _plan(scene, floor, fr)
    return draw_overlays(rgb, fr, _collect(navmap, trajectory, extra, floor))


# --------------------------------------------------------------------------------------------- PNG
def save_topdown_png(path: str | Path, scene: Scene, floor: int | None = None, labels: bool = True, *,
                     resolution: float = 0.05, navmap=None, trajectory: Sequence[Pose] | np.ndarray | None = None,
                     extra: Sequence[Overlay] | None = None, title: str | None = None, show_start: bool = True,
                     dpi: int = 150) -> Path:
    """Write a labelled map PNG: one subplot per floor (or only ``floor``), room names, object labels
    (large objects by name, small ones as dots), a scale bar and a legend. Returns the path written.

    Uses matplotlib's Agg canvas directly (no pyplot), so it is safe inside the Qt app.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    frame = MapFrame.for_scene(scene, resolution)
    floors = [f for f in sorted(scene.info.floors, key=lambda f: f.index) if floor is None or f.index == floor]
    if floor is not None and not floors:
        _floor_of(scene, floor)  # raises with the list of floors
    titled = len(scene.info.floors) > 1  # panel titles name the floor
    ncols = min(len(floors), 3)
    nrows = math.ceil(len(floors) / ncols)
    aspect = frame.height / frame.width
    panel_w = min(9.0, max(5.0, 14.0 / ncols))
    panel_h = min((panel_w - 0.6) * aspect + 0.3, 9.0)  # tick labels take ~0.6 in across, ~0.3 in down
    fig = Figure(figsize=(panel_w * ncols, panel_h * nrows + 1.0), dpi=dpi)
    FigureCanvasAgg(fig)
    legend: dict[str, object] = {
        "floor": Patch(facecolor=_hex((200, 192, 184)), edgecolor="none", label="floor"),
        "wall": Patch(facecolor=_hex(WALL_COLOUR), label="wall"),
        "object": Patch(facecolor=_hex((150, 150, 150)), edgecolor="black", linewidth=0.6, label="object"),
    }
    for n, fl in enumerate(floors):
        ax = fig.add_subplot(nrows, ncols, n + 1)
        rgb = _plan(scene, fl.index, frame)
        ovs = _collect(navmap, trajectory, extra, fl.index)
        if show_start and scene.start.floor == fl.index:
            ovs.append(Points(np.array([[scene.start.x, scene.start.y]]), (40, 160, 60), 0.3, (), "o",
                              np.array([scene.start.yaw]), "start"))
        for pt in scene.portals:
            for f, xy, other in ((pt.floor_a, pt.a, pt.floor_b), (pt.floor_b, pt.b, pt.floor_a)):
                if f == fl.index:
                    ovs.append(Points(np.array([xy]), (235, 140, 30), 0.3, (f"{pt.kind} to {other}",), "^",
                                      label="stairs / lift"))
        masks = [o for o in ovs if isinstance(o, Mask)]
        ax.imshow(draw_overlays(rgb, frame, masks), extent=frame.extent, origin="upper", interpolation="nearest")
        for o in masks:
            if o.label:
                legend.setdefault(o.label, Patch(facecolor=_hex(o.colour), alpha=min(1.0, o.alpha + 0.2),
                                                 label=o.label))
        texts: list = []
        for o in ovs:
            if not isinstance(o, Mask):
                h = _draw_vector(ax, o, frame, texts)
                if o.label and h is not None:
                    legend.setdefault(o.label, h)
        ax.set_xlim(frame.extent[0], frame.extent[1])
        ax.set_ylim(frame.extent[2], frame.extent[3])
        if labels and _label_floor(ax, fig, scene, fl.index, texts):
            legend.setdefault("small object", Line2D([], [], marker="o", linestyle="none", markersize=4,
                                                     markerfacecolor="#999999", markeredgecolor="black",
                                                     markeredgewidth=0.5, label="small object"))
        _scale_bar(ax, frame)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
        if titled:
            ax.set_title(f"floor {fl.index} (z = {fl.elevation:.1f} m)", fontsize=9)
    handles = list(legend.values())
    fig_w = float(fig.get_size_inches()[0])
    ncol = max(1, min(len(handles), int(fig_w / 1.35)))
    legend_h = 0.28 * math.ceil(len(handles) / ncol) + 0.12
    fig_h = panel_h * nrows + legend_h + 0.75  # + title and tick labels
    fig.set_size_inches(fig_w, fig_h)
    fig.tight_layout(rect=(0, legend_h / fig_h, 1, 1 - 0.4 / fig_h))
    # equal-aspect panels leave slack in their cells: hang the title and legend on the panels themselves,
    # and let the tight bounding box crop the rest
    axes = fig.get_axes()
    for ax in axes:
        ax.apply_aspect()
    top = max(ax.get_position().y1 for ax in axes) + (0.3 if titled else 0.1) / fig_h
    bottom = min(ax.get_position().y0 for ax in axes) - 0.3 / fig_h
    fig.suptitle(title or f"{scene.name} ({scene.info.kind})", fontsize=11, y=top, va="bottom")
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, bottom), ncol=ncol, fontsize=8,
               frameon=False)
    out = Path(path)
    fig.savefig(out, dpi=dpi, bbox_inches="tight", pad_inches=0.12)
    log.info("wrote map %s", out)
    return out


def _hex(c: Sequence[int]) -> str:
    r, g, b = (int(v) for v in c[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _draw_vector(ax, o: Overlay, frame: MapFrame, texts: list):
    """Draw a Polyline/Points overlay with matplotlib; returns a legend handle. Point labels go to ``texts``."""
    from matplotlib import patheffects

    pts = np.asarray(o.points, np.float64).reshape(-1, np.shape(o.points)[-1] if np.size(o.points) else 2)
    if len(pts) == 0:
        return None
    if isinstance(o, Polyline):
        lw = max(1.0, o.width / frame.resolution * 72.0 / ax.figure.dpi * _px_scale(ax, frame))
        (h,) = ax.plot(pts[:, 0], pts[:, 1], color=_hex(o.colour), linewidth=lw, solid_capstyle="round",
                       label=o.label, zorder=4)
        return h
    ms = min(12.0, max(4.0, o.size / frame.resolution * 72.0 / ax.figure.dpi * _px_scale(ax, frame)))
    edge = {"edgecolors": "black", "linewidths": 0.6} if o.marker != "x" else {"linewidths": 2.0}
    h = ax.scatter(pts[:, 0], pts[:, 1], s=ms ** 2, c=_hex(o.colour), marker=o.marker, label=o.label, zorder=5,
                   **edge)
    if o.headings is not None:
        hd = np.asarray(o.headings, np.float64).reshape(-1)
        ax.quiver(pts[:, 0], pts[:, 1], np.cos(hd), np.sin(hd), color=_hex(o.colour), scale=25, width=0.004,
                  zorder=5)
    for (x, y), text in zip(pts[:, :2], o.labels, strict=False):
        if text:
            t = ax.annotate(text, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7, zorder=6,
                            color=_hex(o.colour))
            t.set_path_effects([patheffects.withStroke(linewidth=2.0, foreground="white")])
            texts.append(t)
    return h


def _px_scale(ax, frame: MapFrame) -> float:
    """Displayed pixels per map pixel (how much the image is scaled in the figure)."""
    bbox = ax.get_position()
    fig_w_px = ax.figure.get_figwidth() * ax.figure.dpi
    fig_h_px = ax.figure.get_figheight() * ax.figure.dpi
    return min(bbox.width * fig_w_px / frame.width, bbox.height * fig_h_px / frame.height)


def _label_floor(ax, fig, scene: Scene, floor: int, fixed: list) -> bool:
    """Room names, then object names largest first; object labels that would overlap a room name, an overlay
    label (``fixed``) or a larger object's label are dropped, and those objects become dots.

    Returns whether any object was drawn as a dot.
    """
    from matplotlib import patheffects

    stroke = [patheffects.withStroke(linewidth=2.2, foreground="white")]
    placed = list(fixed)
    for r in scene.info.rooms:
        if r.floor != floor or not r.polygon:
            continue
        cx, cy = r.centroid
        placed.append(ax.text(cx, cy, r.name or r.type, ha="center", va="center", fontsize=8.5, weight="bold",
                              color="#1d2a44", zorder=7, path_effects=stroke))
    objs = [o for o in scene.info.objects if o.floor == floor]
    foot = {o.id: max(o.size[0], 0.0) * max(o.size[1], 0.0) for o in objs}
    # big enough to name at this map's scale; at most _MAX_LABELS names per floor, largest first
    lo, hi = ax.get_xlim(), ax.get_ylim()
    min_side = max(0.55, max(lo[1] - lo[0], hi[1] - hi[0]) / 60.0)
    big = sorted((o for o in objs if max(o.size[:2]) >= min_side), key=lambda o: -foot[o.id])[:_MAX_LABELS]
    candidates = [(o, ax.text(o.position[0], o.position[1], o.category, ha="center", va="center", fontsize=6.5,
                              color="#222222", zorder=6, path_effects=stroke)) for o in big]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer).expanded(1.05, 1.1) for t in placed]
    dots = [o for o in objs if o not in big]
    for o, t in candidates:
        bb = t.get_window_extent(renderer).expanded(1.05, 1.1)
        if any(bb.overlaps(b) for b in boxes):
            t.remove()
            dots.append(o)
        else:
            boxes.append(bb)
    if dots:
        inst = scene.mesh.tri_instance
        n = int(max(inst.max(initial=0), max(o.id for o in dots))) + 1
        count = np.bincount(inst, minlength=n)
        mean = np.stack([np.bincount(inst, scene.mesh.tri_colour[:, c], minlength=n) for c in range(3)], 1)
        cols = [_hex(mean[o.id] / count[o.id]) if count[o.id] else "#999999" for o in dots]
        ax.scatter([o.position[0] for o in dots], [o.position[1] for o in dots], s=14, c=cols,
                   edgecolors="black", linewidths=0.5, zorder=5)
    return bool(dots)


def _scale_bar(ax, frame: MapFrame) -> None:
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    span = frame.width * frame.resolution
    raw = span / 5.0
    mag = 10.0 ** math.floor(math.log10(raw))
    size = max(m * mag for m in (1.0, 2.0, 5.0) if m * mag <= raw) if raw >= mag else mag
    text = f"{size:g} m"
    bar = AnchoredSizeBar(ax.transData, size, text, "lower right", pad=0.4, borderpad=0.5, sep=3,
                          frameon=True, size_vertical=frame.resolution * 2, fontproperties={"size": 7})
    bar.patch.set_alpha(0.8)
    ax.add_artist(bar)
