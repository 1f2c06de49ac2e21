"""Record <-> JSON for the memory store: the ``data`` column of ``nodes``, and ``content_hash``.

``record_to_json`` / ``record_from_json`` convert place, object and cluster records to and from
JSON-able dicts tagged with their ``type``; loading checks every field against the record's type
hints (converters built once per type). ``content_hash`` is the ``source_hash`` of stored vectors.
"""
from __future__ import annotations

import dataclasses
import hashlib
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from memory.errors import RecordFormatError
from memory.types import ClusterRecord, ObjectRecord, PlaceRecord
from sim.types import Pose

__all__ = ["Record", "record_to_json", "record_from_json", "content_hash"]

Record = PlaceRecord | ObjectRecord | ClusterRecord
_RECORD_TYPES: dict[str, type] = {"place": PlaceRecord, "object": ObjectRecord, "cluster": ClusterRecord}


def record_to_json(record: Record) -> dict[str, Any]:
    """A JSON-able dict holding every field of ``record`` plus its ``type`` tag."""
    tag = next((t for t, cls in _RECORD_TYPES.items() if isinstance(record, cls)), None)
    if tag is None:
        raise RecordFormatError(f"not a memory record: {type(record).__name__}")
    out: dict[str, Any] = {"type": tag}
    for f in dataclasses.fields(record):
        out[f.name] = _to_json(getattr(record, f.name), f"{tag}.{f.name}")
    return out


def _to_json(v: Any, where: str) -> Any:
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, Pose):
        return {f.name: getattr(v, f.name) for f in dataclasses.fields(Pose)}
    if isinstance(v, (tuple, list)):
        return [_to_json(x, where) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    raise RecordFormatError(f"{where}: cannot store a value of type {type(v).__name__}")


def record_from_json(obj: Mapping[str, Any]) -> Record:
    """The record ``record_to_json`` made; raises ``RecordFormatError`` on anything else."""
    if not isinstance(obj, Mapping):
        raise RecordFormatError(f"a record must be a JSON object, got {type(obj).__name__}")
    tag = obj.get("type")
    cls = _RECORD_TYPES.get(tag) if isinstance(tag, str) else None
    if cls is None:
        raise RecordFormatError(f"unknown record type {tag!r}; expected one of {', '.join(_RECORD_TYPES)}")
    return _dataclass_converter(cls, tag)(obj, tag)


_Conv = Callable[[Any, str], Any]
_CONVERTERS: dict[Any, _Conv] = {}


def _converter(tp: Any) -> _Conv:
    """A checking JSON -> value function for a field type, built once per type (loading is hot)."""
    if tp not in _CONVERTERS:
        _CONVERTERS[tp] = _make_converter(tp)
    return _CONVERTERS[tp]


def _dataclass_converter(cls: type, tag: str) -> _Conv:
    if cls not in _CONVERTERS:
        hints = typing.get_type_hints(cls)
        spec = [(f.name, _converter(hints[f.name]),
                 f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
                for f in dataclasses.fields(cls)]
        names = {n for n, _, _ in spec} | ({"type"} if cls is not Pose else set())

        def conv(v: Any, where: str) -> Any:
            if not isinstance(v, Mapping):
                raise RecordFormatError(f"{where}: expected an object, got {type(v).__name__}")
            if not names.issuperset(v):
                raise RecordFormatError(f"{where}: unknown fields {', '.join(sorted(set(v) - names))}")
            kwargs = {}
            for name, sub, required in spec:
                if name in v:
                    kwargs[name] = sub(v[name], f"{where}.{name}")
                elif required:
                    raise RecordFormatError(f"{where} lacks the field {name!r}")
            return cls(**kwargs)

        _CONVERTERS[cls] = conv
    return _CONVERTERS[cls]


def _make_converter(tp: Any) -> _Conv:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        sub = _converter(next(a for a in args if a is not type(None)))
        nullable = type(None) in args
        return lambda v, where: None if v is None and nullable else sub(v, where)
    if tp is Pose:
        return _dataclass_converter(Pose, "pose")
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _converter(args[0])

            def var_tuple(v: Any, where: str) -> tuple:
                if not isinstance(v, list):
                    raise RecordFormatError(f"{where}: expected a list, got {type(v).__name__}")
                return tuple(item(x, where) for x in v)
            return var_tuple
        items = [_converter(a) for a in args]

        def fixed_tuple(v: Any, where: str) -> tuple:
            if not isinstance(v, list) or len(v) != len(items):
                raise RecordFormatError(f"{where}: expected {len(items)} items, got {v!r:.40}")
            return tuple(c(x, where) for c, x in zip(items, v, strict=True))
        return fixed_tuple
    if tp in (float, int, str, bool):
        ok = (int, float) if tp is float else tp

        def scalar(v: Any, where: str) -> Any:
            if isinstance(v, ok) and (tp is bool or not isinstance(v, bool)):
                return float(v) if tp is float else v
            raise RecordFormatError(f"{where}: expected {tp.__name__}, got {type(v).__name__}")
        return scalar
    raise RecordFormatError(f"records cannot hold fields of type {tp!r}")


def content_hash(data: str | bytes | np.ndarray) -> str:
    """Short stable hash of a text, bytes or an array (shape and dtype included): a vector's ``source_hash``."""
    h = hashlib.blake2b(digest_size=12)
    if isinstance(data, str):
        h.update(b"s" + data.encode("utf-8", "surrogatepass"))
    elif isinstance(data, np.ndarray):
        a = np.ascontiguousarray(data)
        h.update(f"a{a.dtype.str}{a.shape}".encode() + a.tobytes())
    else:
        h.update(b"b" + bytes(data))
    return h.hexdigest()
