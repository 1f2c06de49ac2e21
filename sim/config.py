"""Configs are frozen keyword-only dataclasses; this module builds them from YAML or dicts.

``from_dict`` checks every key and value type and rejects unknown keys with the list of valid
ones. ``load_yaml`` keeps the line of every key so errors can say where in the file they are.
"""
from __future__ import annotations

import dataclasses
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
              lines: LineMap | None = None, path: tuple = ()) -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types raise ``ConfigError``."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(_loc(lines, path, where) + f"expected a mapping of settings, got {_tname(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(
                _loc(lines, path + (key,), where)
                + f"unknown key {key!r} in {_label(path, where)}. Valid keys: {', '.join(sorted(fields))}"
            )
        kwargs[key] = _convert(hints[key], value, where, lines, path + (key,))
    missing = [n for n, f in fields.items() if n not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]  # type: ignore[misc]
    if missing:
        raise ConfigError(_loc(lines, path, where) + f"missing key {missing[0]!r} in {_label(path, where)}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(_loc(lines, path, where) + f"invalid {_label(path, where)}: {e}") from None


def to_dict(obj: Any) -> Any:
    """Plain-data form of a config dataclass (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _label(path: tuple, where: str) -> str:
    return ".".join(str(p) for p in path) if path else where


def _loc(lines: LineMap | None, path: tuple, where: str) -> str:
    if lines is None:
        return ""
    w = lines.where(path)
    return f"{w}: " if w else ""


def _tname(v: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "nothing"}.get(
        type(v), type(v).__name__)


def _convert(tp: Any, value: Any, where: str, lines: LineMap | None, path: tuple) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    bad = lambda expect: ConfigError(  # noqa: E731
        _loc(lines, path, where) + f"{_label(path, where)} must be {expect}, got {value!r}")
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(a, value, where, lines, path)
            except ConfigError as e:
                errors.append(e)
        raise errors[0] if errors else bad("set")
    if origin is typing.Literal:
        if value in args:
            return value
        raise bad("one of " + ", ".join(repr(a) for a in args))
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where=where, lines=lines, path=path)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad("true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad("an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad("a number")
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad("text")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            items = [_convert(args[0], v, where, lines, path + (i,)) for i, v in enumerate(value)]
        elif origin is tuple and args:
            if len(value) != len(args):
                raise bad(f"a list of {len(args)} values")
            pairs = enumerate(zip(args, value, strict=True))
            items = [_convert(a, v, where, lines, path + (i,)) for i, (a, v) in pairs]
        else:
            inner = args[0] if args else Any
            items = [_convert(inner, v, where, lines, path + (i,)) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or tp in (dict,):
        if not isinstance(value, Mapping):
            raise bad("a mapping")
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _convert(vt, v, where, lines, path + (k,)) for k, v in value.items()}
    return value
