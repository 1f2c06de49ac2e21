"""Settings of the ``geometric`` perceiver: its class-agnostic RGB-D segmenter and its cross-view fusion.

Kept apart from the backends so ``PerceptionConfig`` can nest them (``perception: {type: geometric,
segmenter: {...}, fusion: {...}}``) without importing the heavy modules.
"""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import ConfigDict

from sim.errors import ConfigError

__all__ = ["SegmenterConfig", "FusionConfig"]


@dataclass(frozen=True, kw_only=True)
class SegmenterConfig:
    """The RGB-D segmenter (``memory.perception.geometric``); lengths in metres.

    * ``keyframe_m`` / ``keyframe_deg`` — a frame is segmented only when the robot has moved or
      turned this much since the last segmented one (0 / 0: every frame); between them the view
      barely changes, and segmenting, labelling and fusing it again is most of perception's cost.
    * ``stride`` — every n-th pixel in both directions is back-projected (2: 160x120 points).
    * ``floor_band`` + ``floor_slope`` x depth^2 — points this close to the floor the robot stands on
      are floor (the slack grows with depth, as depth noise does).
    * ``ceiling_height`` — points higher above the floor that face up or down are ceiling;
      ``wall_seed_height`` — vertical surfaces higher than this (above any furniture) seed wall
      planes, found by a Hough vote over (normal azimuth, offset) in ``wall_angle_deg`` x
      ``wall_bin`` bins with at least ``wall_min_seeds`` points; every point within
      ``wall_tol`` + ``wall_slope`` x depth^2 of a wall plane is removed, at ``max_walls`` planes.
    * ``voxel`` — clusters are connected components of the remaining points on this grid (26-neighbours).
    * ``min_points`` — a cluster needs this many (subsampled) points; ``max_extent`` — clusters
      wider than this are leftover structure; ``min_extent`` — smaller ones are noise;
      ``max_top`` — clusters reaching higher above the floor are wall remnants (a wall seen at a
      grazing angle falls apart into strips; no furniture is that tall). 0 turns the rule off;
      ``wall_close_height`` — a planar vertical cluster this tall that leaves the image at the top
      is a wall seen too close for its top to show; clusters at least ``jamb_height`` tall and
      narrower than ``jamb_width`` are door jambs (a wall's end face).
    * ``support_split`` — cut what stands on a cluster's largest up-facing surface off it when
      their mean colours differ by ``support_colour`` (RGB distance).
    * ``flat_colour`` — regions of a wall or the floor whose colour is this far (RGB distance) from
      the surface's median are flat objects (doors, windows, paintings, rugs); 0 turns it off. Such a
      region is kept when at least ``flat_enclosed`` of the ring around it is the surface in its own
      colour or a cluster (another room's floor seen through a doorway is bounded by walls, not by
      our floor); when a cluster makes ``flat_frame`` of the ring, the region joins it (a window's
      pane inside its frame).
    """

    __pydantic_config__ = ConfigDict(extra="forbid")
    keyframe_m: float = 0.0
    keyframe_deg: float = 0.0
    stride: int = 2
    floor_band: float = 0.05
    floor_slope: float = 0.004
    ceiling_height: float = 2.2
    wall_seed_height: float = 2.3
    wall_angle_deg: float = 3.0
    wall_bin: float = 0.06
    wall_min_seeds: int = 25
    wall_tol: float = 0.05
    wall_slope: float = 0.004
    max_walls: int = 6
    voxel: float = 0.06
    min_points: int = 30
    min_extent: float = 0.08
    max_extent: float = 3.2
    max_top: float = 2.35
    wall_close_height: float = 1.4
    jamb_height: float = 1.95
    jamb_width: float = 0.3
    support_split: bool = True
    support_colour: float = 30.0
    flat_colour: float = 45.0
    flat_enclosed: float = 0.6
    flat_frame: float = 0.3

    def __post_init__(self) -> None:
        checks = [
            (self.keyframe_m >= 0 and 0 <= self.keyframe_deg <= 180, "keyframe_m must be 0 or more and "
                                                                       "keyframe_deg 0..180"),
            (1 <= self.stride <= 8, f"stride must be 1..8, got {self.stride}"),
            (self.floor_band > 0 and self.floor_slope >= 0, "floor_band must be positive and floor_slope 0 or more"),
            (0.5 < self.ceiling_height and 0.5 < self.wall_seed_height, "ceiling_height and wall_seed_height "
                                                                        "must be above 0.5 m"),
            (0.5 <= self.wall_angle_deg <= 20 and self.wall_bin > 0, "wall_angle_deg must be 0.5..20 and "
                                                                     "wall_bin positive"),
            (self.wall_min_seeds >= 3 and self.max_walls >= 0, "wall_min_seeds must be 3+ and max_walls 0+"),
            (self.wall_tol > 0 and self.wall_slope >= 0, "wall_tol must be positive and wall_slope 0 or more"),
            (0.01 <= self.voxel <= 0.5, f"voxel must be 0.01..0.5 m, got {self.voxel}"),
            (self.min_points >= 3, f"min_points must be at least 3, got {self.min_points}"),
            (0 <= self.min_extent < self.max_extent, "need 0 <= min_extent < max_extent"),
            (0.0 <= self.flat_enclosed <= 1.0 and 0.0 <= self.flat_frame <= 1.0, "flat_enclosed and flat_frame "
                                                                                 "must be 0..1"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(f"perception.segmenter: {msg}")


@dataclass(frozen=True, kw_only=True)
class FusionConfig:
    """Cross-view fusion of segments into objects (``memory.perception.fusion``).

    * ``voxel`` — objects are sets of voxels of this size; a segment matches an object when
      their voxel sets share ``min_overlap`` of the smaller set, or ``weak_overlap`` of it and
      their image vectors agree by ``min_similarity`` (cosine).
    * ``merge_overlap`` — two objects whose voxel sets come to share this much of the smaller are one.
    * ``min_views`` — an object is reported once seen in this many views; objects still below it
      ``ghost_frames`` frames after their last sighting are retired (single-view ghosts).
    * ``bearing_deg`` / ``max_bearings`` — image vectors are averaged over views this far apart in
      bearing, at most this many; ``max_voxels`` caps an object's voxel set.
    * ``cut_weight`` — a segment cut by the image border votes for labels with this weight.
    * ``label_views`` — crops of an object are labelled in every view until it has this many votes;
      after that only views from a new bearing are (the image encoder is the costliest step).
    """

    __pydantic_config__ = ConfigDict(extra="forbid")
    voxel: float = 0.08
    min_overlap: float = 0.25
    weak_overlap: float = 0.08
    min_similarity: float = 0.75
    merge_overlap: float = 0.35
    min_views: int = 3
    ghost_frames: int = 6
    bearing_deg: float = 25.0
    max_bearings: int = 12
    max_voxels: int = 6000
    cut_weight: float = 0.5
    label_views: int = 8

    def __post_init__(self) -> None:
        checks = [
            (0.01 <= self.voxel <= 0.5, f"voxel must be 0.01..0.5 m, got {self.voxel}"),
            (0.0 < self.weak_overlap <= self.min_overlap <= 1.0, "need 0 < weak_overlap <= min_overlap <= 1"),
            (-1.0 <= self.min_similarity <= 1.0, f"min_similarity must be -1..1, got {self.min_similarity}"),
            (0.0 < self.merge_overlap <= 1.0, f"merge_overlap must be in (0, 1], got {self.merge_overlap}"),
            (self.min_views >= 1 and self.ghost_frames >= 1, "min_views and ghost_frames must be at least 1"),
            (0.0 <= self.bearing_deg <= 180.0 and self.max_bearings >= 1, "bearing_deg must be 0..180 and "
                                                                          "max_bearings at least 1"),
            (self.max_voxels >= 16, f"max_voxels must be at least 16, got {self.max_voxels}"),
            (0.0 <= self.cut_weight <= 1.0, f"cut_weight must be 0..1, got {self.cut_weight}"),
            (self.label_views >= 1, f"label_views must be at least 1, got {self.label_views}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(f"perception.fusion: {msg}")
