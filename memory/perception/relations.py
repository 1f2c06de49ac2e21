"""Spatial relations between objects seen together, from their 3D boxes and the viewpoint.

Pure geometry on axis-aligned boxes (z up), shared by the topological graph and anything else
that wants to say "the lamp on the nightstand" or "the chair left of the table":

* ``on`` — i rests on j: i's footprint overlaps j's by ``overlap_fraction`` of its own area,
  and i's bottom is within ``stack_tolerance`` of j's top; ``above`` — the same overlap with
  i's bottom higher still; both come with the inverse ``under`` (j under i);
* ``next_to`` — boxes at most ``next_to_gap`` apart; ``near`` — centres within ``near_distance``;
* ``left_of`` / ``right_of`` — for next-to or near pairs whose centres differ by at least
  ``side_margin`` across the viewing direction, as seen from the viewpoint.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import ConfigDict

from sim.types import Pose

log = logging.getLogger(__name__)

__all__ = ["RelationConfig", "spatial_relations", "footprint_overlap"]


@dataclass(frozen=True, kw_only=True)
class RelationConfig:
    """Thresholds of the spatial relations (metres; ``overlap_fraction`` is a share of area)."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    near_distance: float = 2.0
    next_to_gap: float = 0.35
    stack_tolerance: float = 0.12
    overlap_fraction: float = 0.3
    side_margin: float = 0.15

    def __post_init__(self) -> None:
        for name in ("near_distance", "stack_tolerance"):
            if not getattr(self, name) > 0:
                raise ValueError(f"relation config: {name} must be positive, got {getattr(self, name)}")
        for name in ("next_to_gap", "side_margin"):
            if getattr(self, name) < 0:
                raise ValueError(f"relation config: {name} must be 0 or more, got {getattr(self, name)}")
        if not 0.0 < self.overlap_fraction <= 1.0:
            raise ValueError(f"relation config: overlap_fraction must be in (0, 1], got {self.overlap_fraction}")


def spatial_relations(bbox_min: Sequence[Sequence[float]], bbox_max: Sequence[Sequence[float]], viewpoint: Pose,
                      config: RelationConfig | None = None) -> list[tuple[int, int, str, float]]:
    """Relations among boxes seen together: ``(i, j, kind, centre distance)`` meaning "i kind j".

    ``on`` (i's bottom within ``stack_tolerance`` of j's top, footprints overlapping by
    ``overlap_fraction`` of i's) or ``above`` (i's bottom higher still), each with the inverse
    ``under``; otherwise, for pairs within ``near_distance`` (or ``next_to_gap`` of each other),
    ``next_to`` / ``near`` and ``left_of`` / ``right_of`` as seen from ``viewpoint``.
    """
    cfg = config or RelationConfig()
    lo, hi = np.asarray(bbox_min, dtype=np.float64), np.asarray(bbox_max, dtype=np.float64)
    pos = 0.5 * (lo + hi)
    dist = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=2)
    over = [np.minimum(hi[:, None, k], hi[None, :, k]) - np.maximum(lo[:, None, k], lo[None, :, k]) for k in (0, 1)]
    area = np.maximum((hi[:, 0] - lo[:, 0]) * (hi[:, 1] - lo[:, 1]), 1e-4)
    frac = np.clip(over[0], 0, None) * np.clip(over[1], 0, None) / area[:, None]  # share of i's footprint over j
    gap = np.hypot(np.clip(-over[0], 0, None), np.clip(-over[1], 0, None))
    s, c = math.sin(viewpoint.yaw), math.cos(viewpoint.yaw)
    lateral = (pos[:, 0] - viewpoint.x) * s - (pos[:, 1] - viewpoint.y) * c  # metres to the right
    out: list[tuple[int, int, str, float]] = []
    n = len(pos)
    for i in range(n):
        for j in range(i + 1, n):
            d = float(dist[i, j])
            stacked = False
            for top, bot in ((i, j), (j, i)):
                if frac[top, bot] >= cfg.overlap_fraction and hi[top, 2] > hi[bot, 2]:
                    step = lo[top, 2] - hi[bot, 2]
                    if step >= -cfg.stack_tolerance:
                        kind = "on" if step <= cfg.stack_tolerance else "above"
                        out += [(top, bot, kind, d), (bot, top, "under", d)]
                        stacked = True
                        break
            if stacked or (d > cfg.near_distance and gap[i, j] > cfg.next_to_gap):
                continue
            out.append((i, j, "next_to" if gap[i, j] <= cfg.next_to_gap else "near", d))
            if abs(lateral[i] - lateral[j]) >= cfg.side_margin:
                left, right = (i, j) if lateral[i] < lateral[j] else (j, i)
                out += [(left, right, "left_of", d), (right, left, "right_of", d)]
    return out


def footprint_overlap(alo: Sequence[float], ahi: Sequence[float], blo: Sequence[float], bhi: Sequence[float],
                      pad: float = 0.0) -> float:
    """Shared floor area of two boxes (each grown by ``pad``) over the smaller footprint."""
    ox = min(ahi[0], bhi[0]) - max(alo[0], blo[0]) + 2 * pad
    oy = min(ahi[1], bhi[1]) - max(alo[1], blo[1]) + 2 * pad
    if ox <= 0 or oy <= 0:
        return 0.0
    area_a = (ahi[0] - alo[0] + 2 * pad) * (ahi[1] - alo[1] + 2 * pad)
    area_b = (bhi[0] - blo[0] + 2 * pad) * (bhi[1] - blo[1] + 2 * pad)
    return ox * oy / max(min(area_a, area_b), 1e-9)
