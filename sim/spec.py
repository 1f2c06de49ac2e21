"""Scene specifications: ``house:seed=3,rooms=6``, a mesh path, or ``habitat:PATH``."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import SceneSpecError

__all__ = ["SceneSpec", "parse_spec", "MESH_SUFFIXES"]

MESH_SUFFIXES = (".glb", ".gltf", ".ply", ".obj")
_KEY = re.compile(r"^[a-z_][a-z0-9_]*$")
_WORLD_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*:")


@dataclass(frozen=True)
class SceneSpec:
    """A parsed scene specification.

    ``kind`` is a world type (``house``, ``office``, ...), ``"file"`` for a mesh on disk or
    ``"habitat"`` for a scene handed to habitat-sim.
    """

    kind: str
    params: dict = field(default_factory=dict)
    path: str = ""
    text: str = ""

    def __str__(self) -> str:
        return self.text or self.kind


def _value(text: str) -> int | float | str | bool:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text  # 'nan', 'inf', '1e999' are no sizes or counts


def parse_spec(spec: str) -> SceneSpec:
    """Parse a scene spec string; malformed specs raise ``SceneSpecError`` with the reason."""
    if not isinstance(spec, str) or not spec.strip():
        raise SceneSpecError("empty scene spec (try 'house:seed=3,rooms=6' or a .glb path)")
    s = spec.strip()
    if s.startswith("habitat:"):
        path = s[len("habitat:"):]
        if not path:
            raise SceneSpecError("habitat scene spec needs a path: 'habitat:PATH/TO/scene.glb'")
        return SceneSpec("habitat", {}, path, s)
    looks_like_world = _WORLD_PREFIX.match(s) is not None  # 'rooms:n=3.5' is a world, not a '.5' file
    if s.lower().endswith(MESH_SUFFIXES) or "/" in s or "\\" in s or (Path(s).suffix and not looks_like_world):
        if not s.lower().endswith(MESH_SUFFIXES):
            raise SceneSpecError(
                f"unsupported scene file {s!r}: expected one of {', '.join(MESH_SUFFIXES)} or a world spec")
        return SceneSpec("file", {}, s, s)
    kind, _, rest = s.partition(":")
    kind = kind.strip().lower()
    if not _KEY.match(kind):
        raise SceneSpecError(f"malformed scene spec {s!r}: world type must be a word like 'house'")
    params: dict = {}
    if rest.strip():
        for item in rest.split(","):
            item = item.strip()
            if not item:
                continue
            key, eq, val = item.partition("=")
            key = key.strip().lower()
            if not eq or not key or not val.strip():
                raise SceneSpecError(f"malformed scene spec {s!r}: expected key=value, got {item!r}")
            if not _KEY.match(key):
                raise SceneSpecError(f"malformed scene spec {s!r}: bad parameter name {key!r}")
            if key in params:
                raise SceneSpecError(f"malformed scene spec {s!r}: {key!r} given twice")
            params[key] = _value(val.strip())
    return SceneSpec(kind, params, "", s)
