"""Class-agnostic object segments from one observation: masks, 3D extent from depth, crops.

Every perception backend starts here. A segment is one instance id of the instance buffer
(used only as a class-agnostic mask: labels come from the backend) that passes the filters of
``PerceptionConfig``:

* at least ``min_pixels`` pixels, scaled with the image area (``min_pixels`` is given for
  320x240), so small or barely visible objects are dropped;
* a segment whose 2D box comes within ``edge_margin`` pixels of the image border is *cut*:
  only part of it is in view, so it needs ``edge_min_pixels_factor`` times as many pixels;
* its depth must lie within ``[min_depth, max_depth]``.

Its 3D geometry comes from back-projecting the mask's depth: the mask's edge is eroded first
where its depth jumps away from the inside (edge pixels of real sensors mix foreground and
background depth), and the box is taken between the ``percentile`` and ``100 - percentile``
percentiles of the points, so stray depths do not stretch it. The centroid is the centre of
that box: for an object seen from one side it is the centre of its visible part.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from sim.types import CameraSpec, Observation, Pose

if TYPE_CHECKING:
    from memory.perception import PerceptionConfig

log = logging.getLogger(__name__)

__all__ = ["Segment", "extract_segments", "min_pixels_for", "touches_border", "backproject_pixels", "box_crop",
           "resize_nearest",
           "thumbnail", "dominant_colour", "REFERENCE_AREA"]

REFERENCE_AREA = 320 * 240  # image area ``min_pixels`` is given for
_MIN_POINTS = 8
_COLOUR_SAMPLES = 2000


@dataclass(frozen=True, eq=False)
class Segment:
    """One instance mask of one view, with its geometry in the world frame."""

    instance: int
    pixels: int  # mask pixels in the image
    bbox2d: tuple[int, int, int, int]  # u0, v0, u1, v1 (inclusive-exclusive)
    centroid: tuple[float, float, float]
    bbox_min: tuple[float, float, float]
    bbox_max: tuple[float, float, float]
    depth: float  # median z-depth of the mask
    cut: bool  # touches the image border: only part of the object is in view
    crop: np.ndarray  # (crop_size, crop_size, 3) uint8
    mask: np.ndarray  # bool mask inside ``bbox2d``

    @property
    def u_centre(self) -> float:
        return 0.5 * (self.bbox2d[0] + self.bbox2d[2])

    def rgb_pixels(self, rgb: np.ndarray) -> np.ndarray:
        """The view's RGB values under the mask, ``(N, 3)`` uint8."""
        u0, v0, u1, v1 = self.bbox2d
        return rgb[v0:v1, u0:u1][self.mask]


def min_pixels_for(config: PerceptionConfig, height: int, width: int) -> int:
    """``config.min_pixels`` scaled from 320x240 to an image of ``height`` x ``width``."""
    return max(1, int(round(config.min_pixels * (height * width) / REFERENCE_AREA)))


def touches_border(bbox2d: Sequence[int], height: int, width: int, margin: int) -> bool:
    """Whether a 2D box ``(u0, v0, u1, v1)`` comes within ``margin`` pixels of the image border (*cut*)."""
    u0, v0, u1, v1 = bbox2d
    return u0 <= margin or v0 <= margin or u1 >= width - margin or v1 >= height - margin


def extract_segments(obs: Observation, config: PerceptionConfig) -> list[Segment]:
    """The instance segments of ``obs`` that pass ``config``'s filters, most pixels first."""
    inst = np.asarray(obs.instance)
    depth = np.asarray(obs.depth)
    rgb = np.asarray(obs.rgb)
    if inst.ndim != 2 or depth.shape != inst.shape or rgb.shape[:2] != inst.shape:
        raise ValueError(f"observation buffers disagree: instance {inst.shape}, depth {depth.shape}, "
                         f"rgb {rgb.shape}")
    h, w = inst.shape
    if inst.dtype.kind not in "iu":
        inst = inst.astype(np.int64)
    if inst.size and inst.min() < 0:
        inst = np.where(inst < 0, 0, inst)
    if not inst.any():
        return []
    counts = np.bincount(inst.ravel())
    min_px = min_pixels_for(config, h, w)
    ids = np.nonzero(counts >= min_px)[0]
    ids = ids[ids > 0]
    if len(ids) == 0:
        return []
    slices = ndimage.find_objects(inst, max_label=int(ids.max()))
    margin = config.edge_margin
    out: list[Segment] = []
    for iid in ids.tolist():
        sl = slices[iid - 1]
        if sl is None:
            continue
        v0, v1, u0, u1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
        n = int(counts[iid])
        cut = touches_border((u0, v0, u1, v1), h, w, margin)
        if cut and n < config.edge_min_pixels_factor * min_px:
            continue
        mask = inst[sl] == iid
        geo = _geometry(mask, depth[sl], u0, v0, obs.camera, obs.pose, config)
        if geo is None:
            continue
        centroid, lo, hi, med = geo
        crop = resize_nearest(box_crop(rgb, (u0, v0, u1, v1), config.crop_pad), config.crop_size, config.crop_size)
        out.append(Segment(int(iid), n, (int(u0), int(v0), int(u1), int(v1)), centroid, lo, hi, med, bool(cut),
                           crop, mask))
    out.sort(key=lambda s: (-s.pixels, s.instance))
    return out


def _geometry(mask: np.ndarray, depth: np.ndarray, u0: int, v0: int, camera: CameraSpec, pose: Pose,
              config: PerceptionConfig):
    d = depth
    valid = mask & np.isfinite(d) & (d > config.min_depth) & (d < config.max_depth)
    n_valid = int(valid.sum())
    if n_valid < _MIN_POINTS:
        return None
    for _ in range(config.erode):
        valid = _drop_flying_pixels(valid, d, config.depth_jump)
    if int(valid.sum()) < _MIN_POINTS:
        return None
    vv, uu = np.nonzero(valid)
    if len(vv) > config.max_points:
        step = int(math.ceil(len(vv) / config.max_points))
        vv, uu = vv[::step], uu[::step]
    dd = d[vv, uu].astype(np.float64)
    pts = backproject_pixels(camera, pose, uu + u0, vv + v0, dd)
    p = config.percentile
    lo, hi = np.percentile(pts, [p, 100.0 - p], axis=0)
    centre = 0.5 * (lo + hi)
    return (_t3(centre), _t3(lo), _t3(hi), float(np.median(dd)))


def _drop_flying_pixels(mask: np.ndarray, depth: np.ndarray, jump: float) -> np.ndarray:
    """``mask`` without edge pixels whose depth leaves that of their interior neighbours.

    Real depth sensors blend foreground and background at object borders; such pixels sit on
    the mask's edge with a depth far from the inside next to them. Only those are removed: a
    plain erosion would also delete thin parts seen edge-on (a table top at a grazing angle),
    and with them the object's extent. The threshold is ``jump`` metres plus 4 % of the depth.
    """
    inner = ndimage.binary_erosion(mask)
    edge = mask & ~inner
    if not edge.any() or not inner.any():
        return mask
    d = depth.astype(np.float32, copy=False)
    d_in, d_edge = d[inner], d[edge]
    slack = jump + 0.04 * float(d_in.max())
    if d_edge.min() >= d_in.min() - slack and d_edge.max() <= d_in.max() + slack:
        return mask  # every edge depth lies within the interior's range: nothing is flying
    lo = ndimage.minimum_filter(np.where(inner, d, np.inf), size=3, mode="constant", cval=np.inf)
    hi = ndimage.maximum_filter(np.where(inner, d, -np.inf), size=3, mode="constant", cval=-np.inf)
    tol = jump + 0.04 * d
    flying = edge & np.isfinite(lo) & ((d < lo - tol) | (d > hi + tol))
    return mask & ~flying if flying.any() else mask


def _t3(a: np.ndarray) -> tuple[float, float, float]:
    return (float(a[0]), float(a[1]), float(a[2]))


def backproject_pixels(camera: CameraSpec, pose: Pose, u: np.ndarray, v: np.ndarray, d: np.ndarray) -> np.ndarray:
    """World points ``(N, 3)`` of pixels ``(u, v)`` at z-depth ``d`` (``CameraSpec.backproject``'s model)."""
    d = np.asarray(d, dtype=np.float64)
    right = (np.asarray(u, dtype=np.float64) - camera.cx) / camera.fx * d
    up = -(np.asarray(v, dtype=np.float64) - camera.cy) / camera.fy * d
    c, s = math.cos(pose.yaw), math.sin(pose.yaw)
    cam = camera.camera_position(pose)
    # forward (c, s, 0), right (s, -c, 0), up (0, 0, 1)
    pts = np.empty((len(d), 3), dtype=np.float64)
    pts[:, 0] = cam[0] + d * c + right * s
    pts[:, 1] = cam[1] + d * s - right * c
    pts[:, 2] = cam[2] + up
    return pts


def box_crop(rgb: np.ndarray, bbox2d: Sequence[int], pad: float) -> np.ndarray:
    """A square crop around ``bbox2d`` grown by ``pad`` of its size on each side, clipped to the image."""
    h, w = rgb.shape[:2]
    u0, v0, u1, v1 = (int(x) for x in bbox2d)
    side = max(u1 - u0, v1 - v0)
    side = max(1, int(round(side * (1.0 + 2.0 * pad))))
    cu, cv = 0.5 * (u0 + u1), 0.5 * (v0 + v1)
    a0 = int(round(cu - side / 2.0))
    b0 = int(round(cv - side / 2.0))
    a0 = min(max(a0, 0), max(w - side, 0))
    b0 = min(max(b0, 0), max(h - side, 0))
    return rgb[b0:min(b0 + side, h), a0:min(a0 + side, w)]


def resize_nearest(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """``img`` resampled to ``height`` x ``width`` by nearest pixel (a fresh contiguous array)."""
    h, w = img.shape[:2]
    rows = np.minimum(((np.arange(height) + 0.5) * (h / height)).astype(np.intp), h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * (w / width)).astype(np.intp), w - 1)
    return img[rows[:, None], cols[None, :]]


def thumbnail(rgb: np.ndarray, width: int) -> np.ndarray:
    """A small copy of the view ``width`` pixels wide, keeping the aspect ratio (uint8 RGB)."""
    h, w = rgb.shape[:2]
    height = max(1, int(round(h * width / max(w, 1))))
    return resize_nearest(np.asarray(rgb, dtype=np.uint8), height, width)


def dominant_colour(pixels: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> str:
    """The palette colour most of ``pixels`` (``(N, 3)`` RGB) are closest to.

    Shading darkens surfaces, so the darker half of the pixels (shadowed faces, crevices) is
    dropped before each remaining pixel votes for its nearest palette colour. Distances are
    taken in a luma/chroma space that weighs hue over brightness.
    """
    if not palette:
        return ""
    px = np.asarray(pixels, dtype=np.float32).reshape(-1, 3)
    if len(px) == 0:
        return ""
    if len(px) > _COLOUR_SAMPLES:
        px = px[:: int(math.ceil(len(px) / _COLOUR_SAMPLES))]
    luma = px @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if len(px) >= 8:
        px = px[luma >= np.median(luma)]
    names = list(palette)
    pal = np.array([palette[n] for n in names], dtype=np.float32)
    a, b = _opponent(px), _opponent(pal)
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    votes = np.bincount(d2.argmin(axis=1), minlength=len(names))
    return names[int(votes.argmax())]


def _opponent(rgb: np.ndarray) -> np.ndarray:
    """Luma and two chroma axes; chroma doubled so a shaded red stays nearer red than brown."""
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return np.stack([0.6 * y, 2.0 * (r - g), 2.0 * (0.5 * (r + g) - b)], axis=1)
