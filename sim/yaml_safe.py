"""Bounded YAML reading for files a user hands the lab (scenarios, ``--config`` files, catalogs, banks).

PyYAML's safe loader is safe from code execution, not from resource exhaustion. Three limits hold
before any Python object is built from the document:

* ``MAX_YAML_BYTES`` (2 MiB): larger files are refused before they are read. The shipped YAML files
  are under 50 KB; a 12 MB scenario of 300,000 questions would take minutes just to read.
* ``MAX_YAML_DEPTH`` (64): deeper nesting is refused (configs nest 3-4 levels). Deep nesting used to
  end in ``RecursionError`` in the composer or in every later walk of the data.
* ``MAX_ALIAS_NODES`` (10,000): aliases (``*name``) may add at most this many nodes when expanded
  ("billion laughs": nine anchors of nine aliases each expand to 10^9 nodes). A recursive alias (an
  anchor used inside itself) is refused, since every walk of its data would never end.

The document is composed once (libyaml when PyYAML has it, which itself caps nesting at 1,000
levels; otherwise the pure-Python composer with a depth guard), checked by one iterative walk that
sizes every node once, then constructed from the same node graph.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim.errors import ConfigError

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_ALIAS_NODES", "read_yaml_text", "compose_yaml",
           "construct_yaml", "safe_load_yaml"]

MAX_YAML_BYTES = 2 * 1024 * 1024
MAX_YAML_DEPTH = 64
MAX_ALIAS_NODES = 10_000


class _DepthGuardLoader(yaml.SafeLoader):
    """The pure-Python safe loader with a nesting guard in its (recursive) composer."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_COMPOSER: Any = getattr(yaml, "CSafeLoader", None) if yaml.__with_libyaml__ else None
_COMPOSER = _COMPOSER or _DepthGuardLoader


def read_yaml_text(path: str | Path, max_bytes: int = MAX_YAML_BYTES) -> str:
    """The UTF-8 text of a YAML file no larger than ``max_bytes``; ``ConfigError`` names the file otherwise."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = f.read(max_bytes + 1)  # a device or a growing file cannot make this read unbounded
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a folder, not a YAML file") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read ({e.__class__.__name__}: {e.strerror or e})") from None
    if len(raw) > max_bytes:
        size = _size(p)
        what = f"is {size / 2**20:.1f} MiB" if size > max_bytes else "is larger than the limit"
        raise ConfigError(f"{p}: {what}; YAML files are limited to {max_bytes / 2**20:g} MiB "
                          "(split it, or keep long lists in their own files)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"{p}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x} cannot be decoded)") from None


def compose_yaml(text: str, source: str = "YAML") -> yaml.Node | None:
    """The node graph of the first document of ``text``, checked against the limits; None when empty."""
    loader = _COMPOSER(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        ln = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if "nesting depth" in problem:  # libyaml's own cap (1,000 levels)
            problem = f"nested deeper than {MAX_YAML_DEPTH} levels"
        raise ConfigError(f"{source}{ln}: invalid YAML: {problem}") from None
    except RecursionError:  # not expected with either composer; kept so it can never escape as itself
        raise ConfigError(f"{source}: invalid YAML: nested deeper than {MAX_YAML_DEPTH} levels") from None
    finally:
        loader.dispose()
    if node is not None:
        check_node(node, source)
    return node


def check_node(root: yaml.Node, source: str = "YAML") -> None:
    """Refuse recursive aliases, nesting deeper than ``MAX_YAML_DEPTH`` and alias expansion past
    ``MAX_ALIAS_NODES``. One iterative post-order walk; every node is sized once however often it is
    referenced, so a billion-laughs document costs as much to check as it has lines."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    distinct = 0
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        kids = _children(node)
        if done:
            on_path.discard(nid)
            size[nid] = 1 + sum(size[id(k)] for k in kids)
            depth[nid] = 1 + max((depth[id(k)] for k in kids), default=0)
            if depth[nid] > MAX_YAML_DEPTH:
                raise ConfigError(f"{source}:{node.start_mark.line + 1}: invalid YAML: nested deeper than "
                                  f"{MAX_YAML_DEPTH} levels")
            continue
        if nid in size:
            continue
        if nid in on_path:
            raise ConfigError(f"{source}:{node.start_mark.line + 1}: invalid YAML: recursive alias (an anchor "
                              "used inside itself)")
        on_path.add(nid)
        distinct += 1
        stack.append((node, True))
        for k in kids:
            kid = id(k)
            if kid in on_path:
                raise ConfigError(f"{source}:{k.start_mark.line + 1}: invalid YAML: recursive alias (an anchor "
                                  "used inside itself)")
            if kid not in size:
                stack.append((k, False))
    expanded = size[id(root)] - distinct
    if expanded > MAX_ALIAS_NODES:
        raise ConfigError(f"{source}: invalid YAML: aliases expand to {_count(expanded)} more nodes; "
                          f"the limit is {MAX_ALIAS_NODES:,}")


def construct_yaml(node: yaml.Node | None, source: str = "YAML") -> Any:
    """Python data of a checked node graph (safe types only)."""
    if node is None:
        return None
    try:
        return yaml.SafeLoader("").construct_document(node)
    except yaml.YAMLError as e:  # e.g. a list used as a mapping key
        mark = getattr(e, "problem_mark", None)
        ln = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{source}{ln}: invalid YAML: {problem}") from None
    except (ValueError, OverflowError) as e:  # a date like 2024-13-45, an integer of 5,000 digits
        raise ConfigError(f"{source}: invalid YAML value: {str(e).splitlines()[0][:200]}") from None


def safe_load_yaml(path: str | Path, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """``yaml.safe_load`` of a file, bounded in size, depth and alias expansion; errors are one
    ``ConfigError`` line naming the file (and line)."""
    p = Path(path)
    return construct_yaml(compose_yaml(read_yaml_text(p, max_bytes), str(p)), str(p))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [x for kv in node.value for x in kv]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**12 else f"about 10^{len(str(n)) - 1}"


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0
