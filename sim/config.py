"""Configs are frozen keyword-only dataclasses; this module builds them from YAML or dicts.

``from_dict`` validates with pydantic (each config dataclass sets ``__pydantic_config__`` to forbid
unknown keys) and turns its first error into one line: the file and line, the bad key or value,
and for an unknown key the valid ones. ``load_yaml`` keeps the line of every key for that.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import reprlib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from sim.errors import ConfigError

T = TypeVar("T")

__all__ = ["from_dict", "to_dict", "load_yaml", "LineMap", "YamlDoc"]



class LineMap:
    """Line numbers (1-based) of keys and items in a YAML document, keyed by path tuples."""

    def __init__(self, lines: dict[tuple, int] | None = None, source: str = "") -> None:
        self.lines = lines or {}
        self.source = source

    def line(self, path: tuple) -> int | None:
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def where(self, path: tuple) -> str:
        ln = self.line(path)
        loc = f"{self.source}:{ln}" if self.source and ln else (f"line {ln}" if ln else self.source)
        return loc


@dataclasses.dataclass(frozen=True)
class YamlDoc:
    data: Any
    lines: LineMap


def load_yaml(path: str | Path) -> YamlDoc:
    """Read a YAML file, keeping the line of every key; errors name the file and line.

    Bounded (``sim.yaml_safe``): files over 2 MiB, nesting past 64 levels and aliases that expand
    past 10,000 nodes are refused with one ``ConfigError`` line before any data is built.
    """
    from sim.yaml_safe import compose_yaml, construct_yaml, read_yaml_text

    p = Path(path)
    node = compose_yaml(read_yaml_text(p), str(p))
    data = construct_yaml(node, str(p))
    lines: dict[tuple, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return YamlDoc(data, LineMap(lines, str(p)))


def _walk(node: Any, path: tuple, out: dict[tuple, int]) -> None:
    import yaml

    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            out[path + (key,)] = k.start_mark.line + 1
            _walk(v, path + (key,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out[path + (i,)] = v.start_mark.line + 1
            _walk(v, path + (i,), out)


def from_dict(cls: type[T], data: Mapping[str, Any] | None, *, where: str = "config",
              lines: LineMap | None = None) -> T:
    """Build config dataclass ``cls`` from ``data`` with pydantic; a bad key or value raises one ``ConfigError``.

    Each config forbids unknown keys (``__pydantic_config__ = ConfigDict(extra="forbid")``). The data is
    validated as JSON in pydantic's strict mode: numbers, flags and text must come typed, as YAML gives
    them (``'3'`` is no integer, ``1`` is no ``true``), while lists become tuples and mappings nested
    configs (values JSON cannot hold, such as YAML dates, are taken as their text). The message names
    ``where`` (the file and line through ``lines``) and the problem that comes first in the file.
    """
    import pydantic

    try:
        return _adapter(cls).validate_json(json.dumps({} if data is None else data, default=str), strict=True)
    except pydantic.ValidationError as e:
        found = [_message(err, cls, data, where, lines) for err in e.errors(include_url=False)]
    except TypeError as e:  # from a __post_init__ (pydantic reports only its ValueErrors), or keys JSON refuses
        found = [(False, 0, f"{_loc(lines, ())}invalid {where}: {e}")]
    raise ConfigError(min(found, key=lambda f: f[:2])[2]) from None


def to_dict(obj: Any) -> Any:
    """Plain-data form of a config dataclass (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


@functools.cache
def _adapter(cls: type) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


_EXPECTED = {"int_type": "an integer", "float_type": "a number", "bool_type": "true or false", "string_type": "text",
             "tuple_type": "a list", "list_type": "a list", "dataclass_type": "a mapping of settings"}


def _message(err: Mapping[str, Any], cls: type, data: Any, where: str,
             lines: LineMap | None) -> tuple[bool, int, str]:
    """(a missing key?, line, message) of one pydantic error, its location read as a YAML key path.

    Sorted, they put the first problem in the file first and missing keys last (a misspelt key is
    unknown and missing; its own line and the valid keys say more).
    """
    kind, loc, value = err["type"], err["loc"], err.get("input")
    path, node = (), data
    for part in loc:  # skips what is no key of the data: a missing key, a union member's name
        if isinstance(node, Mapping) and part in node or isinstance(node, (list, tuple)) and part in range(len(node)):
            path, node = (*path, part), node[part]
    label, missing = _label(path, where), kind == "missing" and isinstance(loc[-1], str)
    if kind in ("unexpected_keyword_argument", "extra_forbidden", "invalid_key"):
        key = value if kind == "invalid_key" else loc[-1]
        owner = path[:-1] if path[-1:] == (key,) else path
        keys = sorted(f.name for f in dataclasses.fields(_type_at(cls, owner)) if f.init)
        text = f"unknown key {key!r} in {_label(owner, where)}. Valid keys: {', '.join(keys)}"
    elif missing:
        text = f"missing key {loc[-1]!r} in {label}"
    elif kind in ("missing", "too_short", "too_long"):  # of a fixed-length tuple
        text = f"{label} must be a list of {len(typing.get_args(_type_at(cls, path)))} values, got {reprlib.repr(node)}"
    elif kind in ("value_error", "assertion_error"):  # raised by a __post_init__
        text = f"invalid {label}: {err['ctx']['error']}"
    elif kind == "literal_error":
        text = f"{label} must be one of {err['ctx']['expected']}, got {reprlib.repr(value)}"
    elif kind in _EXPECTED:
        text = (f"{label} must be {_EXPECTED[kind]}, got {reprlib.repr(value)}" if path
                else f"expected a mapping of settings, got {reprlib.repr(value)}")
    else:  # a pydantic constraint, e.g. "Input should be greater than 0"
        text = f"{label}: {err['msg']}, got {reprlib.repr(value)}"
    return missing, (lines.line(path) or 0) if lines else 0, _loc(lines, path) + text


def _type_at(tp: Any, path: tuple) -> Any:
    """The type at a key path into config dataclass ``tp`` (``X`` for ``X | None``)."""
    for part in (*path, None):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
            tp = args[0]
        if part is not None:  # a dataclass field, or an item of tuple[X, ...] / tuple[X, Y]
            args = typing.get_args(tp)
            tp = typing.get_type_hints(tp)[part] if dataclasses.is_dataclass(tp) else args[
                0 if args[-1] is Ellipsis else part]
    return tp


def _label(path: tuple, where: str) -> str:
    return ".".join(str(p) for p in path) if path else where


def _loc(lines: LineMap | None, path: tuple) -> str:
    w = lines.where(path) if lines is not None else ""
    return f"{w}: " if w else ""
