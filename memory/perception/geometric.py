"""Perception without the simulator's answers: RGB-D segments, SimCLIP labels, objects fused across views.

The ``geometric`` perceiver reads an observation's ``rgb``, ``depth``, ``pose`` and ``camera``
only — never the instance buffer, the object table or the scene — so it runs as it would on a
real robot (with the simulator's sensor noise and odometry drift on, ``pose`` is the robot's
belief). Per frame:

1. **Segment** (``segment_rgbd``, class-agnostic): every ``stride``-th pixel is back-projected to
   the world frame and given a normal from the depth image's gradient. Structure goes first:
   the floor (points near the height of the floor the robot stands on), the ceiling (high,
   horizontal) and walls — vertical surfaces above any furniture vote in a Hough space of
   (normal azimuth, offset) for wall planes, and every point on a voted plane goes. (Open3D's
   RANSAC ``segment_plane`` and ``cluster_dbscan`` were measured first: about 26 ms and 64 ms a
   frame on a 2-core CPU, more than the whole step budget, so this module does the same job
   with a Hough vote and voxel connected components in a few milliseconds.) What remains is
   clustered in 3D as connected components on a voxel grid (26-neighbours, sparse), and each
   cluster is projected back to an image mask.
2. **Label** (``ZeroShotLabeller``): each segment's padded box crop is embedded with the image
   encoder (SimCLIP by default) and scored against prompt embeddings of the vocabulary the
   memory was handed (its prior pack's object names): a softmax at CLIP's logit scale.
3. **Fuse** (``memory.perception.fusion.ObjectFusion``): segments join objects by voxel overlap
   and image similarity; labels, colours and image vectors accumulate; objects report once
   seen in ``fusion.min_views`` views.

A frame is segmented only once the robot has moved ``segmenter.keyframe_m`` or turned
``segmenter.keyframe_deg`` since the last segmented one; in between, the percept has no
sightings and is no keyframe (the view is nearly the last one's, and steps 1-3 are the cost).

The percept's sightings are the fused objects seen in this frame, with their voted label,
colour (from pixels, the prior pack's palette) and whole fused extent, and ``track`` set to the
object's fusion id so the topological graph keeps one node per fused object; fusion merges
travel in ``Percept.merged_tracks``.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from memory.encoders import IMAGE, Encoder, EncoderConfig, make_encoder
from memory.perception import PerceptionConfig, PerceptionConfigError
from memory.perception.caption import describe_view
from memory.perception.clip import LOGIT_SCALE
from memory.perception.fusion import FusedObject, ObjectFusion
from memory.perception.geo_config import SegmenterConfig
from memory.perception.segments import (
    Segment,
    box_crop,
    dominant_colour,
    min_pixels_for,
    resize_nearest,
    thumbnail,
    touches_border,
)
from memory.perception.voxels import KEY_BIAS, KEY_BITS, voxel_components
from memory.priors import PriorPack, general_pack
from memory.summarize import RoomModel
from memory.types import Percept, Sighting
from sim.types import CameraSpec, Observation, Pose, wrap_angle

log = logging.getLogger(__name__)

__all__ = ["GeoSegment", "segment_rgbd", "structure_mask", "WallMemory", "ZeroShotLabeller",
           "GeometricPerceiver", "build"]

_CELL_OFFSETS = np.array([(dx << KEY_BITS) + dy for dx in (-1, 0, 1) for dy in (-1, 0, 1)], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class GeoSegment:
    """One class-agnostic segment of one view: its mask and geometry (``segment``) and its 3D points."""

    segment: Segment
    points: np.ndarray  # (N, 3) world points of the segment (subsampled grid)
    label_image: int  # the segment's value in ``segment_rgbd``'s label image


def _grid_points(depth: np.ndarray, camera: CameraSpec, pose: Pose, stride: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World points ``(h, w, 3)``, their z-depth ``(h, w)`` and normals ``(h, w, 3)`` of the stride grid."""
    d = np.asarray(depth, dtype=np.float64)[::stride, ::stride]
    u = np.arange(0, depth.shape[1], stride, dtype=np.float64)
    v = np.arange(0, depth.shape[0], stride, dtype=np.float64)
    right = (u[None, :] - camera.cx) / camera.fx * d
    up = -(v[:, None] - camera.cy) / camera.fy * d
    c, s = math.cos(pose.yaw), math.sin(pose.yaw)
    cam = camera.camera_position(pose)
    pts = np.empty(d.shape + (3,), dtype=np.float64)
    pts[..., 0] = cam[0] + d * c + right * s
    pts[..., 1] = cam[1] + d * s - right * c
    pts[..., 2] = cam[2] + up
    # normals from a smoothed copy: per-pixel depth noise would otherwise swamp a 2-pixel baseline
    from scipy.ndimage import uniform_filter

    sm = np.stack([uniform_filter(pts[..., k], size=3, mode="nearest") for k in range(3)], axis=-1)
    gu = np.gradient(sm, axis=1)
    gv = np.gradient(sm, axis=0)
    n = np.cross(gu, gv)
    norm = np.linalg.norm(n, axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(norm > 0, n / norm, 0.0)
    return pts, d, n


def structure_mask(pts: np.ndarray, depth: np.ndarray, normals: np.ndarray, valid: np.ndarray, floor_z: float,
                   config: SegmenterConfig) -> tuple[np.ndarray, np.ndarray]:
    """Points of floor, ceiling and walls (bool, like ``valid``) and those of the walls alone."""
    h = pts[..., 2] - floor_z
    nz = np.abs(normals[..., 2])
    floor = h < config.floor_band + config.floor_slope * depth ** 2
    ceiling = (h > config.ceiling_height) & (nz > 0.8)
    out = valid & (floor | ceiling)
    vertical = valid & ~out & (nz < 0.3)
    seeds = vertical & (h > config.wall_seed_height)
    walls = np.zeros_like(valid)
    if seeds.sum() >= config.wall_min_seeds and config.max_walls > 0:
        nx, ny = normals[..., 0][seeds], normals[..., 1][seeds]
        theta = np.mod(np.arctan2(ny, nx), np.pi)  # a wall's normal is known up to its sign
        ct, st = np.cos(theta), np.sin(theta)
        rho = pts[..., 0][seeds] * ct + pts[..., 1][seeds] * st
        a_bin = math.radians(config.wall_angle_deg)
        ti = np.minimum((theta / a_bin).astype(np.int64), int(math.ceil(math.pi / a_bin)) - 1)
        ri = np.floor(rho / config.wall_bin).astype(np.int64)
        r0 = int(ri.min())
        n_t, n_r = int(math.ceil(math.pi / a_bin)), int(ri.max()) - r0 + 1
        hist = np.bincount(ti * n_r + (ri - r0), minlength=n_t * n_r).reshape(n_t, n_r).astype(np.float64)
        # each peak gathers its neighbouring bins (noise and binning spread a plane over a few)
        from scipy.ndimage import uniform_filter

        votes = uniform_filter(hist, size=3, mode="wrap") * 9.0
        tol = config.wall_tol + config.wall_slope * depth ** 2
        px, py = pts[..., 0], pts[..., 1]
        for _ in range(config.max_walls):
            k = int(np.argmax(votes))
            if votes.flat[k] < config.wall_min_seeds:
                break
            t_k, r_k = divmod(k, n_r)
            near = (np.abs(ti - t_k) <= 1) | (np.abs(ti - t_k) >= n_t - 1)
            near &= np.abs(ri - (r_k + r0)) <= 1
            if near.sum() < 3:
                votes.flat[k] = 0.0
                continue
            th = float(np.median(theta[near]))
            rh = float(np.median(rho[near]))
            dist = np.abs(px * math.cos(th) + py * math.sin(th) - rh)
            walls |= valid & ~out & (dist < tol)
            t_lo, t_hi = t_k - 2, t_k + 3
            for t in range(t_lo, t_hi):
                votes[t % n_t, max(0, r_k - 2):r_k + 3] = 0.0
    return out | walls, walls


class WallMemory:
    """Where walls were found so far: a set of floor-plan cells (``cell`` m) of wall-plane points.

    A wall seen only in part (beside a doorway, under a table, too close for its top to show)
    gives no Hough vote of its own in that view; its points then fall in cells earlier views
    found walls in, and a cluster made mostly of them is a wall remnant, not an object.
    """

    def __init__(self, cell: float = 0.1, share: float = 0.6) -> None:
        self.cell = cell
        self.share = share
        self._cells = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._cells)

    def _keys(self, points: np.ndarray, floor: int) -> np.ndarray:
        xy = np.floor(np.asarray(points, dtype=np.float64)[:, :2] / self.cell).astype(np.int64) + KEY_BIAS
        return (np.int64(floor) << (2 * KEY_BITS + 8)) | (xy[:, 0] << KEY_BITS) | xy[:, 1]

    def add(self, points: np.ndarray, floor: int = 0) -> None:
        if len(points):
            keys = np.unique(self._keys(points, floor))
            # grown by one cell: noise, drift and the plane tolerance scatter a wall's points across cells
            grown = (keys[:, None] + _CELL_OFFSETS[None, :]).ravel()
            self._cells = np.union1d(self._cells, grown)

    def is_wall(self, points: np.ndarray, floor: int = 0) -> bool:
        """Whether most of ``points`` lie in known wall cells."""
        if not len(self._cells) or not len(points):
            return False
        keys = self._keys(points, floor)
        idx = np.minimum(np.searchsorted(self._cells, keys), len(self._cells) - 1)  # cells are sorted
        return float((self._cells[idx] == keys).mean()) >= self.share


def segment_rgbd(obs: Observation, perception: PerceptionConfig, config: SegmenterConfig,
                 walls: WallMemory | None = None) -> tuple[list[GeoSegment], np.ndarray]:
    """Class-agnostic segments of ``obs`` from its RGB-D alone, and the full-size label image (0 = none).

    Reads ``obs.rgb``, ``obs.depth``, ``obs.pose`` and ``obs.camera`` only. With ``walls``, the
    wall points of this view are remembered there and clusters lying on known walls are dropped.
    """
    depth = np.asarray(obs.depth)
    rgb = np.asarray(obs.rgb)
    if depth.ndim != 2 or rgb.shape[:2] != depth.shape:
        raise ValueError(f"observation buffers disagree: depth {depth.shape}, rgb {rgb.shape}")
    H, W = depth.shape
    s = config.stride
    pts, d, normals = _grid_points(depth, obs.camera, obs.pose, s)
    valid = np.isfinite(d) & (d > perception.min_depth) & (d < perception.max_depth)
    struct, wall = structure_mask(pts, d, normals, valid, obs.pose.z, config)
    if walls is not None:
        walls.add(pts[wall][::4], obs.pose.floor)
    keep = valid & ~struct
    labels_grid = np.zeros(d.shape, dtype=np.int32)
    if keep.sum() < config.min_points:
        return [], np.zeros((H, W), dtype=np.int32)
    flat_idx = np.flatnonzero(keep)
    p = pts.reshape(-1, 3)[flat_idx]
    comp = voxel_components(p, config.voxel)
    counts = np.bincount(comp)
    min_px = min_pixels_for(perception, H, W)
    min_pts = max(config.min_points, int(math.ceil(min_px / (s * s))))
    segments: list[GeoSegment] = []
    order = np.argsort(comp, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    next_label = 1
    clusters = [flat_idx[order[bounds[c]:bounds[c + 1]]] for c in np.nonzero(counts >= min_pts)[0].tolist()]
    if config.support_split:
        grid_rgb = np.asarray(rgb, dtype=np.float32)[::s, ::s].reshape(-1, 3)
        clusters = [part for m in clusters
                    for part in _split_on_support(m, pts.reshape(-1, 3), normals.reshape(-1, 3), grid_rgb, config,
                                                  min_pts)]
    flats: list[np.ndarray] = []
    if config.flat_colour > 0:
        floor_mask = struct & ~wall & (pts[..., 2] - obs.pose.z < 0.5)
        owner = np.zeros(d.shape, dtype=np.int64)  # cluster index + 1 per grid point
        for k, m in enumerate(clusters):
            owner.flat[m] = k + 1
        for m, into in _flat_regions((wall, floor_mask), np.asarray(rgb)[::s, ::s], config, min_pts, owner):
            if into is None:
                flats.append(m)
            else:  # the pane of a window inside its frame, the canvas of a painting: one object
                clusters[into] = np.concatenate([clusters[into], m])
    tagged = [(m, False) for m in clusters] + [(m, True) for m in flats]
    for members, flat in tagged:
        cp = pts.reshape(-1, 3)[members]
        lo, hi = np.percentile(cp, [perception.percentile, 100.0 - perception.percentile], axis=0)
        ext = hi - lo
        if max(ext[0], ext[1]) > config.max_extent or float(ext.max()) < config.min_extent:
            continue
        if config.max_top > 0 and hi[2] - obs.pose.z > config.max_top:
            continue
        if ext[2] >= config.jamb_height and max(ext[0], ext[1]) < config.jamb_width:
            continue  # a door jamb: the wall's end face, floor to lintel, as thin as the wall
        if not flat and _wall_like(cp, normals.reshape(-1, 3)[members], gv_top=int((members // d.shape[1]).min()),
                                   config=config):
            continue
        if not flat and walls is not None and walls.is_wall(cp, obs.pose.floor):
            continue
        labels_grid.flat[members] = next_label
        gv, gu = np.divmod(members, d.shape[1])
        u0, v0 = int(gu.min()) * s, int(gv.min()) * s
        u1, v1 = min(W, (int(gu.max()) + 1) * s), min(H, (int(gv.max()) + 1) * s)
        sub = labels_grid[v0 // s:(v1 + s - 1) // s, u0 // s:(u1 + s - 1) // s] == next_label
        mask = np.repeat(np.repeat(sub, s, axis=0), s, axis=1)[:v1 - v0, :u1 - u0]
        n_px = int(mask.sum())
        cut = touches_border((u0, v0, u1, v1), H, W, perception.edge_margin)
        if cut and n_px < perception.edge_min_pixels_factor * min_px:
            labels_grid.flat[members] = 0
            continue
        crop = resize_nearest(box_crop(rgb, (u0, v0, u1, v1), perception.crop_pad), perception.crop_size,
                              perception.crop_size)
        centre = 0.5 * (lo + hi)
        seg = Segment(next_label, n_px, (u0, v0, u1, v1), _t3(centre), _t3(lo), _t3(hi),
                      float(np.median(d.flat[members])), bool(cut), crop, mask)
        segments.append(GeoSegment(seg, cp, next_label))
        next_label += 1
    full = np.repeat(np.repeat(labels_grid, s, axis=0), s, axis=1)[:H, :W]
    segments.sort(key=lambda g: -g.segment.pixels)
    return segments, full


def _flat_regions(surfaces: Sequence[np.ndarray], rgb: np.ndarray, config: SegmenterConfig, min_pts: int,
                  owner: np.ndarray) -> list[tuple[np.ndarray, int | None]]:
    """Flat things on structure (a door or window in a wall, a painting, a rug): regions of a wall or
    floor surface whose colour stands out from the surface's own (grid indices, like clusters).

    A region is kept when at least ``flat_enclosed`` of the ring around it is the surface in its own
    colour or one cluster (``owner``: cluster index + 1 per grid point): a door, a picture or a rug
    lies on the surface; the pane of a window lies inside its frame, and joins that cluster (the
    index comes with the region). Another room's floor seen through a doorway, or a strip of wall
    in another light, is bounded by other things, and is dropped.
    """
    from scipy import ndimage

    out: list[tuple[np.ndarray, int | None]] = []
    col = rgb.astype(np.float32)
    for surface in surfaces:
        if surface.sum() < 4 * min_pts:
            continue
        med = np.median(col[surface], axis=0)
        odd = surface & (np.linalg.norm(col - med, axis=2) > config.flat_colour)
        odd = ndimage.binary_opening(odd, structure=np.ones((3, 3), bool))
        lab, n = ndimage.label(odd, structure=np.ones((3, 3), bool))
        if n == 0:
            continue
        counts = np.bincount(lab.ravel())
        plain = surface & ~odd
        boxes = ndimage.find_objects(lab)
        for k in np.nonzero(counts >= min_pts)[0].tolist():
            if not k:
                continue
            sl = tuple(slice(max(0, b.start - 3), b.stop + 3) for b in boxes[k - 1])
            region = lab[sl] == k
            ring = ndimage.binary_dilation(region, iterations=2) & ~region
            if not ring.any():
                continue
            share = float(plain[sl][ring].mean())
            around = owner[sl][ring]
            into, frame = None, 0.0
            if around.any():
                ids, cnt = np.unique(around[around > 0], return_counts=True)
                into, frame = int(ids[np.argmax(cnt)]) - 1, float(cnt.max()) / len(around)
            if frame >= config.flat_frame and share + frame >= config.flat_enclosed:
                out.append((np.flatnonzero(lab == k), into))
            elif share >= config.flat_enclosed:
                out.append((np.flatnonzero(lab == k), None))
    return out


def _split_on_support(members: np.ndarray, pts: np.ndarray, normals: np.ndarray, rgb: np.ndarray,
                      config: SegmenterConfig, min_pts: int) -> list[np.ndarray]:
    """Objects standing on another (a TV on its stand, a lamp on a nightstand) cut off at the support.

    The support is the cluster's largest up-facing surface with enough of the cluster above it;
    the part above is cut off, and split into its own connected components, only when its colour
    differs from the part below (a sofa's back rises above its seat in the same fabric).
    """
    p = pts[members]
    up = normals[members, 2] > 0.85
    if up.sum() < min_pts // 2:
        return [members]
    z_up = p[up, 2]
    bins = np.floor(z_up / 0.03).astype(np.int64)
    vals, cnt = np.unique(bins, return_counts=True)
    cut = (vals[int(np.argmax(cnt))] + 1) * 0.03 + 0.02
    above = p[:, 2] > cut
    n_above = int(above.sum())
    if n_above < min_pts or len(p) - n_above < min_pts:
        return [members]
    ca, cb = rgb[members[above]].mean(axis=0), rgb[members[~above]].mean(axis=0)
    if float(np.linalg.norm(ca - cb)) < config.support_colour:
        return [members]
    top = members[above]
    comp = voxel_components(pts[top], config.voxel)
    parts = [members[~above]] + [top[comp == c] for c in np.unique(comp)]
    return [m for m in parts if len(m) >= min_pts]


def _wall_like(points: np.ndarray, normals: np.ndarray, *, gv_top: int, config: SegmenterConfig) -> bool:
    """A wall seen too close for its top to show: a tall vertical plane leaving the image at the top."""
    if gv_top > 0 or points[:, 2].max() - points[:, 2].min() < config.wall_close_height:
        return False
    vertical = np.abs(normals[:, 2]) < 0.3
    if vertical.mean() < 0.8:
        return False
    n = normals[vertical]
    theta = float(np.median(np.mod(np.arctan2(n[:, 1], n[:, 0]), np.pi)))
    c, s_ = math.cos(theta), math.sin(theta)
    rho = points[:, 0] * c + points[:, 1] * s_
    return float(np.mean(np.abs(rho - np.median(rho)) < 0.06)) >= 0.85


def _t3(a: np.ndarray) -> tuple[float, float, float]:
    return (float(a[0]), float(a[1]), float(a[2]))


class ZeroShotLabeller:
    """Softmax scores of image crops over a vocabulary, with an image-capable encoder (SimCLIP by default)."""

    def __init__(self, encoder: Encoder, vocabulary: Sequence[str], prompt: str = "a photo of a {category}") -> None:
        if IMAGE not in encoder.modalities:
            raise PerceptionConfigError(f"the geometric perceiver labels with an image encoder, but {encoder.id!r} "
                                        "encodes only text: set perception.encoder to simclip or openclip")
        vocab = tuple(dict.fromkeys(v.strip() for v in vocabulary if v and v.strip()))
        if len(vocab) < 2:
            raise PerceptionConfigError(f"zero-shot labelling needs at least two categories, got {vocab}")
        self.encoder = encoder
        self.vocabulary = vocab
        self.prompt = prompt
        self._text: np.ndarray | None = None

    @property
    def text_vectors(self) -> np.ndarray:
        if self._text is None:
            prompts = [self.prompt.format(category=c) for c in self.vocabulary]
            self._text = np.asarray(self.encoder.encode_text(prompts), dtype=np.float32)
        return self._text

    def score(self, crops: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Image vectors ``(N, D)`` and label probabilities ``(N, len(vocabulary))`` of ``crops``."""
        if not crops:
            return np.zeros((0, self.text_vectors.shape[1]), np.float32), np.zeros((0, len(self.vocabulary)),
                                                                                   np.float32)
        img = np.asarray(self.encoder.encode_image(list(crops)), dtype=np.float32)
        logits = LOGIT_SCALE * img @ self.text_vectors.T
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        return img, prob.astype(np.float32)


class GeometricPerceiver:
    """RGB-D segments + zero-shot labels + cross-view fusion; reads no ground truth."""

    name = "geometric"

    def __init__(self, config: PerceptionConfig, encoder: Encoder, *, priors: PriorPack | None = None,
                 vocabulary: Sequence[str] | None = None) -> None:
        self.config = config
        pack = priors if priors is not None else general_pack()
        vocab = tuple(vocabulary or config.clip_vocabulary or pack.vocabulary())
        self.labeller = ZeroShotLabeller(encoder, vocab, config.clip_prompt)
        self.palette = dict(pack.colours)
        self.room_model = RoomModel.from_pack(pack)
        self.fusion = ObjectFusion(config.fusion, self.labeller.vocabulary)
        self.walls = WallMemory()
        self.last_segments: list[GeoSegment] = []
        self.last_labels = np.zeros((0, 0), dtype=np.int32)  # full-size segment label image of the last frame
        self.last_tracks: dict[int, int] = {}  # segment label -> fused object id, last frame
        self.timing = {"segment_ms": 0.0, "label_ms": 0.0, "fuse_ms": 0.0}
        self.last_ms = 0.0
        self._last_fused: Percept | None = None  # the percept of the last frame that was segmented

    def _same_view(self, pose: Pose, last: Pose) -> bool:
        """Whether the robot has moved and turned too little since the last segmented frame for a new look."""
        seg = self.config.segmenter
        return (pose.floor == last.floor and math.hypot(pose.x - last.x, pose.y - last.y) < seg.keyframe_m
                and abs(wrap_angle(pose.yaw - last.yaw)) < math.radians(seg.keyframe_deg) - 1e-9)

    def perceive(self, obs: Observation) -> Percept:
        """Segment, label and fuse one view; sightings of the fused objects it shows.

        A frame whose view is nearly the last segmented one's (``segmenter.keyframe_m`` /
        ``keyframe_deg``) is not segmented: its percept has no sightings and is no keyframe
        (the camera shows what the last one showed; the encoder and fusion are the costliest steps).
        """
        t0 = time.perf_counter()
        cfg = self.config
        last = self._last_fused
        if last is not None and self._same_view(obs.pose, last.pose):
            self.last_segments, self.last_labels, self.last_tracks = [], np.zeros((0, 0), dtype=np.int32), {}
            self.timing = {"segment_ms": 0.0, "label_ms": 0.0, "fuse_ms": 0.0}
            self.last_ms = (time.perf_counter() - t0) * 1000.0
            return Percept(pose=obs.pose, timestamp=float(obs.timestamp), step=int(obs.step), sightings=(),
                           caption=last.caption, room_guess=last.room_guess, room_confidence=last.room_confidence,
                           image=thumbnail(obs.rgb, cfg.thumbnail_width), keyframe=False)
        segs, label_image = segment_rgbd(obs, cfg, cfg.segmenter, self.walls)
        t1 = time.perf_counter()
        label_s = 0.0

        def embed(idx: list[int]):
            nonlocal label_s
            t = time.perf_counter()
            vectors, probs = self.labeller.score([segs[i].segment.crop for i in idx])
            colours = [dominant_colour(segs[i].segment.rgb_pixels(obs.rgb), self.palette) for i in idx]
            label_s += time.perf_counter() - t
            return vectors, probs, colours

        frame = self.fusion.update(segs, obs.pose, int(obs.step), embed=embed)
        t3 = time.perf_counter()
        t2 = t1 + label_s
        sightings = [self._sighting(obj, [segs[i] for i in idx]) for obj, idx in frame.seen
                     if self.fusion.label_of(obj)[0]]
        caption, room, conf = describe_view(sightings, obs.depth, cfg, self.room_model)
        percept = Percept(pose=obs.pose, timestamp=float(obs.timestamp), step=int(obs.step),
                          sightings=tuple(sightings), caption=caption, room_guess=room, room_confidence=conf,
                          image=thumbnail(obs.rgb, cfg.thumbnail_width), merged_tracks=frame.merged)
        self._last_fused = percept
        self.last_segments = segs
        self.last_labels = label_image
        self.last_tracks = {segs[i].label_image: oid for i, oid in frame.assignment.items()}
        self.timing = {"segment_ms": (t1 - t0) * 1e3, "label_ms": label_s * 1e3, "fuse_ms": (t3 - t2) * 1e3}
        self.last_ms = (time.perf_counter() - t0) * 1000.0
        return percept

    def _sighting(self, obj: FusedObject, parts: list[GeoSegment]) -> Sighting:
        segs = [g.segment for g in parts]
        main = max(segs, key=lambda s: s.pixels)
        u0 = min(s.bbox2d[0] for s in segs)
        v0 = min(s.bbox2d[1] for s in segs)
        u1 = max(s.bbox2d[2] for s in segs)
        v1 = max(s.bbox2d[3] for s in segs)
        lo, hi = obj.extent()
        label, share = self.fusion.label_of(obj)
        return Sighting(label=label, centroid=_t3(0.5 * (lo + hi)), bbox_min=_t3(lo), bbox_max=_t3(hi),
                        pixels=int(sum(s.pixels for s in segs)), bbox2d=(u0, v0, u1, v1), colour=obj.colour(),
                        confidence=float(share), depth=float(main.depth), crop=main.crop, track=obj.id)


def build(config: PerceptionConfig, *, encoder: Encoder | None = None, llm: Any = None,
          priors: PriorPack | None = None) -> GeometricPerceiver:
    """Registry factory: the given image encoder, else ``config.encoder``, else the shipped SimCLIP."""
    if encoder is None:
        enc_cfg = config.encoder
        if enc_cfg is None:
            from memory.encoders.simclip import shipped_weights_available

            if not shipped_weights_available():
                raise PerceptionConfigError("the geometric perceiver needs an image encoder: the shipped SimCLIP "
                                            "weights (assets/models/simclip.pt) are missing; set "
                                            "perception.encoder")
            enc_cfg = EncoderConfig(type="simclip", threads=1)
        encoder = make_encoder(enc_cfg)
    return GeometricPerceiver(config, encoder, priors=priors)
