"""Keyframes: the poses worth remembering while the robot moves.

A keyframe is emitted at the first pose, whenever the robot has moved at least ``min_move``
metres or turned at least ``min_turn_deg`` degrees since the last keyframe, and when it
changes floor. The memory layer turns keyframes into place nodes.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from sim.types import Pose, wrap_angle

log = logging.getLogger(__name__)

__all__ = ["Keyframe", "KeyframeDetector"]


@dataclass(frozen=True, slots=True)
class Keyframe:
    """A keyframe event: the step it happened at, the pose and why (``start``, ``move``, ``turn``, ``floor``)."""

    index: int
    step: int
    pose: Pose
    reason: str

    def to_dict(self) -> dict:
        """JSON-ready form (pose as [x, y, z, yaw, floor])."""
        return {"index": self.index, "step": self.step, "pose": self.pose.to_list(), "reason": self.reason}


class KeyframeDetector:
    """Emits a ``Keyframe`` when the robot has moved or turned enough since the last one."""

    def __init__(self, min_move: float = 0.5, min_turn_deg: float = 30.0) -> None:
        if min_move <= 0 or min_turn_deg <= 0:
            raise ValueError("min_move and min_turn_deg must be positive")
        self.min_move = float(min_move)
        self.min_turn = math.radians(min_turn_deg)
        self.keyframes: list[Keyframe] = []
        self._last: Pose | None = None

    def reset(self) -> None:
        """Forget all keyframes; the next pose is a ``start`` keyframe."""
        self.keyframes = []
        self._last = None

    def update(self, pose: Pose, step: int) -> Keyframe | None:
        """Check one pose; returns the new keyframe or None."""
        last = self._last
        reason = ""
        if last is None:
            reason = "start"
        elif pose.floor != last.floor:
            reason = "floor"
        elif math.hypot(pose.x - last.x, pose.y - last.y) >= self.min_move - 1e-9:
            reason = "move"
        elif abs(wrap_angle(pose.yaw - last.yaw)) >= self.min_turn - 1e-9:
            reason = "turn"
        if not reason:
            return None
        kf = Keyframe(len(self.keyframes), int(step), pose, reason)
        self.keyframes.append(kf)
        self._last = pose
        return kf
