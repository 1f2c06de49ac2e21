"""Procedural world generators, chosen by the world type of a scene spec.

Each generator module exposes ``WORLD``: a ``WorldType`` with a frozen keyword-only ``Config``
dataclass (the spec's parameters) and ``generate(config) -> Scene``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.registry import Registry

__all__ = ["WorldType", "WORLDS"]


@dataclass(frozen=True)
class WorldType:
    name: str
    config: type
    generate: Callable[[Any], Any]
    description: str = ""


WORLDS: Registry[WorldType] = Registry("world type")
WORLDS.register_lazy("rooms", "sim.worlds.rooms:WORLD")
WORLDS.register_lazy("house", "sim.worlds.house:WORLD")
WORLDS.register_lazy("office", "sim.worlds.office:WORLD")
WORLDS.register_lazy("multifloor", "sim.worlds.multifloor:WORLD")
WORLDS.register_lazy("campus", "sim.worlds.campus:WORLD")
