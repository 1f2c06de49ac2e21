"""GML text reader and writer: ``parse_gml`` turns GML text into ordered ``(key, value)`` pairs,
``format_gml`` writes pairs back; ``group_pairs`` and ``as_list`` read the values of parsed files.

Our own reader, because networkx's ``read_gml`` builds an undirected graph from the Embodied-RAG
files and so loses the direction of ``part_of`` and relation edges. Lists follow networkx's GML encoding:
a repeated key is a list, and a list of one element is written as the key twice, the first time with the
marker value ``"_networkx_list_start"`` (``members "_networkx_list_start"  members "405"``); the
marker alone is an empty list. ``group_pairs`` reads the encoding and ``format_gml`` writes it.
"""
from __future__ import annotations

import ast
import html
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from memory.errors import GmlError

__all__ = ["parse_gml", "format_gml", "group_pairs", "as_list", "LIST_START"]

LIST_START = "_networkx_list_start"  # networkx's marker before a list that would otherwise not read as one
MAX_GML_DEPTH = 64  # '[' blocks inside each other; the authors' files nest 3 deep
MAX_GML_INT = 2**63 - 1  # integers beyond SQLite's 64 bits are no ids, counts or times

_TOKEN = re.compile(r"""(?P<ws>\s+)|(?P<comment>\#[^\n]*)|(?P<key>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<real>[+-]?(?:\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|INF|NAN))
    |(?P<int>[+-]?\d+)|(?P<str>"[^"]*")|(?P<open>\[)|(?P<close>\])""", re.X)


def parse_gml(text: str, source: str = "GML") -> list[tuple[str, Any]]:
    """Parse GML text into ``(key, value)`` pairs (values: int, float, str or a nested pair list).

    Order and repeated keys are kept. Errors name the line: ``GmlError("f.gml: line 3: ...")``. The
    reader is iterative and bounded: blocks nested deeper than ``MAX_GML_DEPTH``, integers beyond
    ``MAX_GML_INT`` and non-finite reals (``INF``, ``NAN``, ``1e999``) are errors.
    """
    pos, line, key = 0, 1, None
    cur: list[tuple[str, Any]] = []
    stack: list[tuple[list, str, int]] = []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise GmlError(f"{source}: line {line}: unexpected text {text[pos:pos + 20]!r}")
        kind, tok, at = m.lastgroup, m.group(), line
        line += tok.count("\n")
        pos = m.end()
        if kind in ("ws", "comment"):
            continue
        if key is None:
            if kind == "close":
                if not stack:
                    raise GmlError(f"{source}: line {at}: ']' without a matching '['")
                parent, pkey, _ = stack.pop()
                parent.append((pkey, cur))
                cur = parent
            elif kind == "key":
                key = tok
            else:
                raise GmlError(f"{source}: line {at}: expected a key, found {tok[:20]!r}")
            continue
        if kind == "open":
            if len(stack) >= MAX_GML_DEPTH:
                raise GmlError(f"{source}: line {at}: blocks nested deeper than {MAX_GML_DEPTH} levels")
            stack.append((cur, key, at))
            cur, key = [], None
            continue
        if kind == "int":
            if len(tok) > 20 or abs(value := int(tok)) > MAX_GML_INT:  # int() refuses 4,300+ digits itself
                raise GmlError(f"{source}: line {at}: {key} is an integer of {len(tok.lstrip('+-'))} digits, "
                               "beyond the 64-bit limit")
        elif kind == "real" or (kind == "key" and tok in ("INF", "NAN")):
            value = float(tok)
            if not math.isfinite(value):
                raise GmlError(f"{source}: line {at}: {key} is not a finite number ({tok[:20]})")
        elif kind == "str":
            value = html.unescape(tok[1:-1])
        else:
            raise GmlError(f"{source}: line {at}: key {key!r} has no value")
        cur.append((key, value))
        key = None
    if key is not None:
        raise GmlError(f"{source}: line {line}: key {key!r} has no value")
    if stack:
        raise GmlError(f"{source}: the '[' opened at line {stack[-1][2]} is never closed")
    return cur


def format_gml(pairs: Iterable[tuple[str, Any]], indent: int = 0) -> str:
    """GML text for ``(key, value)`` pairs; dict values become ``[...]`` blocks, lists repeated keys
    (lists of fewer than two items start with the networkx marker so that they read back as lists)."""
    out = []
    pad = "  " * indent
    for key, value in pairs:
        if isinstance(value, Mapping):
            out.append(f"{pad}{key} [\n{format_gml(value.items(), indent + 1)}{pad}]\n")
        elif isinstance(value, (list, tuple)):
            items = [LIST_START, *value] if len(value) < 2 else list(value)
            out.append("".join(f"{pad}{key} [\n{format_gml(v.items(), indent + 1)}{pad}]\n" if isinstance(v, Mapping)
                               else f"{pad}{key} {_gml_value(v)}\n" for v in items))
        else:
            out.append(f"{pad}{key} {_gml_value(value)}\n")
    return "".join(out)


def _gml_value(v: Any) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "NAN"
        if math.isinf(v):
            return "INF" if v > 0 else "-INF"
        s = repr(v)
        return s if "." in s else s.replace("e", ".0e")  # GML reals carry a decimal point
    s = "".join(c if 32 <= ord(c) < 127 and c not in '"&' else f"&#{ord(c)};" for c in str(v))
    return f'"{s}"'


def group_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Pairs as a dict; repeated keys collect into lists and the networkx list marker is read (a key
    whose first value is ``LIST_START`` is a list of the values after it, possibly empty), at every depth."""
    d: dict[str, Any] = {}
    multi: set[str] = set()
    for k, v in pairs:
        v = group_pairs(v) if isinstance(v, list) else v
        if k not in d:
            if v == LIST_START:
                d[k] = []
                multi.add(k)
            else:
                d[k] = v
        elif k in multi:
            d[k].append(v)
        else:
            d[k] = [d[k], v]
            multi.add(k)
    return d


def as_list(v: Any) -> list:
    """A grouped value as a list: ``None`` -> ``[]``, a scalar -> ``[v]``, a Python list written as a
    string (``"['n2', 'n3']"``) -> its items; a stray networkx list marker is never an item."""
    if v is None:
        return []
    if isinstance(v, str) and v.strip().startswith("["):
        try:  # a Python list written as a string, as some street-view files do
            parsed = ast.literal_eval(v.strip())
            v = list(parsed) if isinstance(parsed, (list, tuple)) else [parsed]
        except (ValueError, SyntaxError):
            pass
    items = list(v) if isinstance(v, list) else [v]
    return [x for x in items if x != LIST_START]
