"""The object catalog: categories, colours, room types and affordances of the procedural worlds.

A pure data module (numpy and PyYAML only) so the memory layer can read it too: it knows what
a "nightstand" is (size, colours, where it stands, what it is for) but not how to draw one.
``load_catalog()`` reads ``assets/catalog/catalog.yaml`` once, validates it and caches it.

Vocabulary (see the YAML header for details):

* ``Category.support`` — ``floor`` | ``surface`` | ``wall`` | ``flat``.
* ``Placement.rule`` — ``wall``, ``corner``, ``centre``, ``around``, ``beside``, ``front``,
  ``facing``, ``on_top``, ``wall_mounted``, ``above``, ``flat``, ``structural``, ``outdoor``.
* ``Category.rooms`` — room/region type -> probability that a room of that type holds it.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from sim.config import LineMap, load_yaml
from sim.errors import ConfigError, SimError
from sim.scene import MATERIALS

log = logging.getLogger(__name__)

__all__ = [
    "CatalogError", "CatalogValidationError", "UnknownCategoryError", "UnknownRoomTypeError",
    "Colour", "Palette", "SizeRange", "Placement", "Category", "RoomType", "Catalog",
    "load_catalog", "default_catalog_path", "SUPPORTS", "RULES",
]

SUPPORTS = ("floor", "surface", "wall", "flat")
RULES = ("wall", "corner", "centre", "around", "beside", "front", "facing", "on_top", "wall_mounted", "above",
         "flat", "structural", "outdoor")
_TARGET_RULES = ("around", "beside", "front", "facing", "on_top", "above")
_FALLBACK_RULES = ("wall", "corner", "centre", "wall_mounted")

RGB = tuple[int, int, int]


class CatalogError(SimError):
    """The catalog file is missing, unreadable or inconsistent."""


class CatalogValidationError(CatalogError, ValueError):
    """The catalog parsed but breaks a rule; ``problems`` lists every one found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        head = f"{source}: {len(problems)} problem(s) in the catalog: "
        super().__init__(head + "; ".join(problems[:8]) + (" ..." if len(problems) > 8 else ""))


class UnknownCategoryError(CatalogError, KeyError):
    """A category name is not in the catalog."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownRoomTypeError(CatalogError, KeyError):
    """A room or region type is not in the catalog."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True, slots=True)
class Colour:
    """A named colour of the palette."""

    name: str
    rgb: RGB


@dataclass(frozen=True)
class Palette:
    """Named colours; every colour a category or room uses comes from here."""

    colours: Mapping[str, Colour]

    def rgb(self, name: str) -> RGB:
        """RGB of a colour name; unknown names raise ``CatalogError`` listing the palette."""
        try:
            return self.colours[name].rgb
        except KeyError:
            raise CatalogError(f"unknown colour {name!r}. Palette: {', '.join(self.colours)}") from None

    def names(self) -> tuple[str, ...]:
        """Every colour name, palette order."""
        return tuple(self.colours)

    def nearest(self, rgb: tuple[int, int, int] | np.ndarray) -> str:
        """Name of the palette colour closest to ``rgb`` (Euclidean in RGB)."""
        names = list(self.colours)
        table = np.array([self.colours[n].rgb for n in names], dtype=np.float64)
        d = ((table - np.asarray(rgb, dtype=np.float64)[None, :]) ** 2).sum(axis=1)
        return names[int(np.argmin(d))]


@dataclass(frozen=True, slots=True)
class SizeRange:
    """Ranges of width (left-right), depth (front-back) and height, metres."""

    w: tuple[float, float]
    d: tuple[float, float]
    h: tuple[float, float]

    def sample(self, rng: np.random.Generator, square: bool = False) -> tuple[float, float, float]:
        """A size drawn uniformly in the ranges; ``square`` makes depth equal width."""
        w = float(rng.uniform(*self.w))
        d = w if square else float(rng.uniform(*self.d))
        h = float(rng.uniform(*self.h))
        return (round(w, 3), round(d, 3), round(h, 3))

    @property
    def minimum(self) -> tuple[float, float, float]:
        return (self.w[0], self.d[0], self.h[0])


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a category goes in a room (see the module docstring for the rules)."""

    rule: str
    targets: tuple[str, ...] = ()
    gap: tuple[float, float] = (0.03, 0.08)
    mount: tuple[float, float] = (1.3, 1.6)
    at: str = "any"  # for ``on_top``: ``back`` (against the support's back edge) or ``any``
    face: str = "same"  # for ``front``: ``same`` heading as the target or ``toward`` it
    fallback: str = ""  # rule used when no target is in the room


@dataclass(frozen=True)
class Category:
    """One object category of the catalog."""

    name: str
    habitat: str
    mpcat40: str
    size: SizeRange
    colours: tuple[str, ...]
    materials: tuple[str, ...]
    secondary: tuple[str, ...]
    support: str
    placement: Placement
    affordances: tuple[str, ...]
    rooms: Mapping[str, float] = field(default_factory=dict)
    count: tuple[int, int] = (1, 1)
    surface: bool = False
    square: bool = False
    outdoor: bool = False

    @property
    def floor_standing(self) -> bool:
        """Stands on the floor and blocks the robot (not a rug, not on a table, not on a wall)."""
        return self.support == "floor"


@dataclass(frozen=True)
class RoomType:
    """A room type (or an outdoor region type when ``outdoor``)."""

    name: str
    size: tuple[tuple[float, float], tuple[float, float]]  # (w range, d range)
    required: tuple[str, ...]
    any_of: tuple[tuple[str, ...], ...]
    density: float  # optional floor objects per square metre (upper bound)
    floor_colours: tuple[str, ...]
    floor_materials: tuple[str, ...]
    wall_colours: tuple[str, ...]
    outdoor: bool = False

    @property
    def min_dim(self) -> float:
        return float(min(self.size[0][0], self.size[1][0]))

    def sample_area(self, rng: np.random.Generator) -> float:
        """A plausible floor area for one room of this type."""
        return float(rng.uniform(*self.size[0]) * rng.uniform(*self.size[1]))


@dataclass(frozen=True)
class Catalog:
    """Categories, room types, the colour palette and the affordance vocabulary."""

    version: int
    palette: Palette
    affordances: Mapping[str, str]  # affordance -> query phrase
    categories: Mapping[str, Category]
    room_types: Mapping[str, RoomType]
    source: str = ""

    def category(self, name: str) -> Category:
        """The category called ``name``; unknown names raise ``UnknownCategoryError`` listing them."""
        try:
            return self.categories[name]
        except KeyError:
            raise UnknownCategoryError(
                f"unknown object category {name!r}. Available: {', '.join(sorted(self.categories))}") from None

    def room_type(self, name: str) -> RoomType:
        """The room or region type called ``name``."""
        try:
            return self.room_types[name]
        except KeyError:
            raise UnknownRoomTypeError(
                f"unknown room type {name!r}. Available: {', '.join(sorted(self.room_types))}") from None

    def categories_for_room(self, room_type: str) -> list[tuple[str, float]]:
        """Categories that can appear in ``room_type`` with their probability (required ones at 1.0)."""
        rt = self.room_type(room_type)
        out: list[tuple[str, float]] = []
        for name, cat in self.categories.items():
            p = cat.rooms.get(room_type)
            if name in rt.required:
                p = 1.0
            if p is not None:
                out.append((name, float(p)))
        return out

    def affordances_of(self, category: str) -> tuple[str, ...]:
        """What a category is for, e.g. ``("sleep", "nap", ...)`` for ``bed``."""
        return self.category(category).affordances

    def categories_with_affordance(self, affordance: str) -> list[str]:
        """Every category offering ``affordance`` (catalog order)."""
        if affordance not in self.affordances:
            raise CatalogError(f"unknown affordance {affordance!r}. Known: {', '.join(self.affordances)}")
        return [n for n, c in self.categories.items() if affordance in c.affordances]

    def affordance_phrase(self, affordance: str) -> str:
        """The natural query phrase of an affordance (``"somewhere to sleep"``)."""
        try:
            return self.affordances[affordance]
        except KeyError:
            raise CatalogError(f"unknown affordance {affordance!r}. Known: {', '.join(self.affordances)}") from None

    def colour(self, name: str) -> RGB:
        """RGB of a palette colour name."""
        return self.palette.rgb(name)

    def indoor_room_types(self) -> list[str]:
        """Names of the room types (not outdoor regions)."""
        return [n for n, r in self.room_types.items() if not r.outdoor]

    def region_types(self) -> list[str]:
        """Names of the outdoor region types."""
        return [n for n, r in self.room_types.items() if r.outdoor]


def default_catalog_path() -> Path:
    """``assets/catalog/catalog.yaml`` of this checkout."""
    return Path(__file__).resolve().parent.parent / "assets" / "catalog" / "catalog.yaml"


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load, validate and cache the catalog (``path`` defaults to the bundled one)."""
    p = Path(path) if path is not None else default_catalog_path()
    return _load_cached(str(p.resolve()))


@functools.lru_cache(maxsize=8)
def _load_cached(path: str) -> Catalog:
    try:
        doc = load_yaml(path)
    except ConfigError as e:
        raise CatalogError(f"cannot load the object catalog: {e}") from None
    cat = _Parser(doc.data, doc.lines, path).parse()
    log.debug("catalog %s: %d categories, %d room types", path, len(cat.categories), len(cat.room_types))
    return cat


class _Parser:
    """Builds a ``Catalog`` from plain YAML data, collecting every problem with its line."""

    def __init__(self, data: Any, lines: LineMap, source: str) -> None:
        self.data = data
        self.lines = lines
        self.source = source
        self.problems: list[str] = []

    def bad(self, path: tuple, msg: str) -> None:
        ln = self.lines.line(path)
        where = ".".join(str(p) for p in path)
        self.problems.append(f"line {ln}: {where}: {msg}" if ln else f"{where}: {msg}")

    # top level --------------------------------------------------------------------------------
    def parse(self) -> Catalog:
        if not isinstance(self.data, Mapping):
            raise CatalogValidationError(self.source, ["the catalog must be a mapping"])
        for key in ("palette", "affordances", "categories", "room_types"):
            if not isinstance(self.data.get(key), Mapping) or not self.data.get(key):
                self.bad((key,), "missing or empty section")
        if self.problems:
            raise CatalogValidationError(self.source, self.problems)
        palette = self._palette(self.data["palette"])
        affordances = {str(k): str(v) for k, v in self.data["affordances"].items()}
        room_names = [str(k) for k in self.data["room_types"]]
        categories: dict[str, Category] = {}
        for name, raw in self.data["categories"].items():
            c = self._category(str(name), raw, palette, affordances, room_names)
            if c is not None:
                categories[c.name] = c
        rooms: dict[str, RoomType] = {}
        for name, raw in self.data["room_types"].items():
            r = self._room_type(str(name), raw, palette)
            if r is not None:
                rooms[r.name] = r
        self._cross_check(categories, rooms)
        if self.problems:
            raise CatalogValidationError(self.source, self.problems)
        return Catalog(version=int(self.data.get("version", 1)), palette=palette,
                       affordances=MappingProxyType(affordances), categories=MappingProxyType(categories),
                       room_types=MappingProxyType(rooms), source=self.source)

    def _palette(self, raw: Mapping) -> Palette:
        out: dict[str, Colour] = {}
        for name, rgb in raw.items():
            ok = isinstance(rgb, (list, tuple)) and len(rgb) == 3 and all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in rgb)
            if not ok:
                self.bad(("palette", name), f"expected [r, g, b] with integers 0..255, got {rgb!r}")
                continue
            out[str(name)] = Colour(str(name), (int(rgb[0]), int(rgb[1]), int(rgb[2])))
        return Palette(MappingProxyType(out))

    # categories -------------------------------------------------------------------------------
    def _category(self, name: str, raw: Any, palette: Palette, affordances: Mapping[str, str],
                  room_names: list[str]) -> Category | None:
        path = ("categories", name)
        if not isinstance(raw, Mapping):
            self.bad(path, "expected a mapping of fields")
            return None
        known = {"habitat", "mpcat40", "size", "colours", "materials", "secondary", "support", "placement",
                 "affordances", "rooms", "count", "surface", "square", "outdoor"}
        for k in raw:
            if k not in known:
                self.bad(path + (k,), f"unknown field {k!r}. Valid fields: {', '.join(sorted(known))}")
        n0 = len(self.problems)
        habitat = self._text(raw, path, "habitat")
        mpcat40 = self._text(raw, path, "mpcat40")
        size = self._size(raw.get("size"), path + ("size",), with_h=True)
        colours = self._names(raw, path, "colours", palette.names(), "colour", required=True)
        secondary = self._names(raw, path, "secondary", palette.names(), "colour", required=True)
        materials = self._names(raw, path, "materials", MATERIALS, "material", required=True)
        support = raw.get("support")
        if support not in SUPPORTS:
            self.bad(path + ("support",), f"must be one of {', '.join(SUPPORTS)}, got {support!r}")
        placement = self._placement(raw.get("placement"), path + ("placement",))
        affs = self._names(raw, path, "affordances", tuple(affordances), "affordance", required=True)
        rooms_raw = raw.get("rooms", {}) or {}
        rooms: dict[str, float] = {}
        if not isinstance(rooms_raw, Mapping):
            self.bad(path + ("rooms",), "expected a mapping room type -> probability")
        else:
            for rname, p in rooms_raw.items():
                if rname not in room_names:
                    self.bad(path + ("rooms", rname), f"unknown room type {rname!r}. Known: {', '.join(room_names)}")
                elif not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 < float(p) <= 1.0:
                    self.bad(path + ("rooms", rname), f"probability must be in (0, 1], got {p!r}")
                else:
                    rooms[str(rname)] = float(p)
        count = raw.get("count", [1, 1])
        if not (isinstance(count, (list, tuple)) and len(count) == 2 and all(isinstance(v, int) for v in count)
                and 1 <= count[0] <= count[1] <= 12):
            self.bad(path + ("count",), f"expected [min, max] integers with 1 <= min <= max <= 12, got {count!r}")
            count = [1, 1]
        flags = {}
        for flag in ("surface", "square", "outdoor"):
            v = raw.get(flag, False)
            if not isinstance(v, bool):
                self.bad(path + (flag,), f"must be true or false, got {v!r}")
                v = False
            flags[flag] = v
        if len(self.problems) > n0 or size is None or placement is None:
            return None
        return Category(name=name, habitat=habitat, mpcat40=mpcat40, size=size, colours=colours,
                        materials=materials, secondary=secondary, support=str(support), placement=placement,
                        affordances=affs, rooms=MappingProxyType(rooms), count=(int(count[0]), int(count[1])),
                        **flags)

    def _text(self, raw: Mapping, path: tuple, key: str) -> str:
        v = raw.get(key)
        if not isinstance(v, str) or not v.strip():
            self.bad(path + (key,), "missing text")
            return ""
        return v

    def _names(self, raw: Mapping, path: tuple, key: str, valid: tuple[str, ...], what: str,
               required: bool) -> tuple[str, ...]:
        v = raw.get(key, [])
        if not isinstance(v, (list, tuple)) or (required and not v):
            self.bad(path + (key,), f"expected a non-empty list of {what} names")
            return ()
        out = []
        for i, item in enumerate(v):
            if item not in valid:
                self.bad(path + (key, i), f"unknown {what} {item!r}. Valid: {', '.join(valid)}")
            else:
                out.append(str(item))
        return tuple(out)

    def _range(self, v: Any, path: tuple, lo_limit: float, hi_limit: float) -> tuple[float, float] | None:
        ok = (isinstance(v, (list, tuple)) and len(v) == 2
              and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v))
        if not ok or not (lo_limit <= float(v[0]) <= float(v[1]) <= hi_limit):
            self.bad(path, f"expected [min, max] with {lo_limit} <= min <= max <= {hi_limit}, got {v!r}")
            return None
        return (float(v[0]), float(v[1]))

    def _size(self, raw: Any, path: tuple, with_h: bool) -> SizeRange | None:
        if not isinstance(raw, Mapping):
            self.bad(path, "expected {w: [min, max], d: [min, max]" + (", h: [min, max]}" if with_h else "}"))
            return None
        keys = ("w", "d", "h") if with_h else ("w", "d")
        vals = [self._range(raw.get(k), path + (k,), 0.001, 200.0) for k in keys]
        if any(v is None for v in vals):
            return None
        return SizeRange(vals[0], vals[1], vals[2] if with_h else (0.0, 0.0))  # type: ignore[arg-type]

    def _placement(self, raw: Any, path: tuple) -> Placement | None:
        if isinstance(raw, str):
            raw = {"rule": raw}
        if not isinstance(raw, Mapping):
            self.bad(path, f"expected a rule name or a mapping with 'rule', got {raw!r}")
            return None
        rule = raw.get("rule")
        if isinstance(rule, bool):  # YAML 1.1 reads bare on/off/yes/no as booleans
            self.bad(path + ("rule",), f"placement rule read as {rule!r}: quote it or use a rule name from "
                                       f"{', '.join(RULES)}")
            return None
        if rule not in RULES:
            self.bad(path + ("rule",), f"unknown placement rule {rule!r}. Valid: {', '.join(RULES)}")
            return None
        targets = raw.get("targets", [])
        if rule in _TARGET_RULES and (not isinstance(targets, list) or not targets):
            self.bad(path + ("targets",), f"rule {rule!r} needs a non-empty list of target categories")
            return None
        kw: dict[str, Any] = {"rule": rule, "targets": tuple(str(t) for t in targets)}
        for key in ("gap", "mount"):
            if key in raw:
                r = self._range(raw[key], path + (key,), 0.0, 3.0)
                if r is None:
                    return None
                kw[key] = r
        at = raw.get("at", "any")
        if at not in ("any", "back"):
            self.bad(path + ("at",), f"must be 'any' or 'back', got {at!r}")
        face = raw.get("face", "same")
        if face not in ("same", "toward"):
            self.bad(path + ("face",), f"must be 'same' or 'toward', got {face!r}")
        fallback = raw.get("fallback", "")
        if fallback and fallback not in _FALLBACK_RULES:
            self.bad(path + ("fallback",), f"must be one of {', '.join(_FALLBACK_RULES)}, got {fallback!r}")
        extra = set(raw) - {"rule", "targets", "gap", "mount", "at", "face", "fallback"}
        for k in sorted(extra):
            self.bad(path + (k,), f"unknown placement field {k!r}")
        return Placement(**kw, at=str(at), face=str(face), fallback=str(fallback))

    # room types -------------------------------------------------------------------------------
    def _room_type(self, name: str, raw: Any, palette: Palette) -> RoomType | None:
        path = ("room_types", name)
        if not isinstance(raw, Mapping):
            self.bad(path, "expected a mapping of fields")
            return None
        known = {"size", "required", "any_of", "density", "floor", "walls", "outdoor"}
        for k in raw:
            if k not in known:
                self.bad(path + (k,), f"unknown field {k!r}. Valid fields: {', '.join(sorted(known))}")
        n0 = len(self.problems)
        size = self._size(raw.get("size"), path + ("size",), with_h=False)
        required = raw.get("required", []) or []
        if not isinstance(required, list):
            self.bad(path + ("required",), "expected a list of categories")
            required = []
        any_of = raw.get("any_of", []) or []
        if not (isinstance(any_of, list) and all(isinstance(g, list) and g for g in any_of)):
            self.bad(path + ("any_of",), "expected a list of non-empty category lists")
            any_of = []
        density = raw.get("density", 0.3)
        if not isinstance(density, (int, float)) or not 0.0 <= float(density) <= 2.0:
            self.bad(path + ("density",), f"must be a number in [0, 2], got {density!r}")
            density = 0.0
        floor = raw.get("floor", {}) or {}
        if not isinstance(floor, Mapping):
            self.bad(path + ("floor",), "expected {colours: [...], materials: [...]}")
            floor = {}
        fc = self._names(floor, path + ("floor",), "colours", palette.names(), "colour", required=True)
        fm = self._names(floor, path + ("floor",), "materials", MATERIALS, "material", required=True)
        outdoor = bool(raw.get("outdoor", False))
        walls = self._names(raw, path, "walls", palette.names(), "colour", required=not outdoor)
        if len(self.problems) > n0 or size is None:
            return None
        return RoomType(name=name, size=(size.w, size.d), required=tuple(str(c) for c in required),
                        any_of=tuple(tuple(str(c) for c in g) for g in any_of), density=float(density),
                        floor_colours=fc, floor_materials=fm, wall_colours=walls, outdoor=outdoor)

    # consistency ------------------------------------------------------------------------------
    def _cross_check(self, cats: Mapping[str, Category], rooms: Mapping[str, RoomType]) -> None:
        for c in cats.values():
            p = c.placement
            for t in p.targets:
                if t not in cats:
                    self.bad(("categories", c.name, "placement", "targets"), f"unknown target category {t!r}")
                elif p.rule == "on_top" and not cats[t].surface:
                    self.bad(("categories", c.name, "placement", "targets"),
                             f"{t!r} is not a supporting surface (surface: true)")
            if p.rule == "on_top" and c.support != "surface":
                self.bad(("categories", c.name, "support"), "rule 'on_top' needs support: surface")
            if p.rule in ("wall_mounted", "above") and c.support != "wall":
                self.bad(("categories", c.name, "support"), f"rule {p.rule!r} needs support: wall")
            if p.rule == "flat" and c.support != "flat":
                self.bad(("categories", c.name, "support"), "rule 'flat' needs support: flat")
            if c.support == "floor" and p.rule in ("on_top", "wall_mounted", "above", "flat"):
                self.bad(("categories", c.name, "placement"), f"a floor-standing object cannot use rule {p.rule!r}")
            if c.surface and c.support != "floor":
                self.bad(("categories", c.name, "surface"), "only floor-standing objects can be surfaces")
            for rname in c.rooms:
                if rname in rooms and rooms[rname].outdoor != c.outdoor and c.outdoor:
                    self.bad(("categories", c.name, "rooms", rname), "outdoor-only category in an indoor room type")
        for r in rooms.values():
            for cname in r.required + tuple(x for g in r.any_of for x in g):
                if cname not in cats:
                    self.bad(("room_types", r.name, "required"), f"unknown category {cname!r}")
                elif r.name not in cats[cname].rooms:
                    self.bad(("room_types", r.name, "required"),
                             f"{cname!r} is required here but its 'rooms' does not list {r.name!r}")
