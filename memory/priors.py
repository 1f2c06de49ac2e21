"""Prior packs: world knowledge the memory may use beside what it holds.

The memory is open-vocabulary: its words are the labels, attributes and captions it holds. A
*prior pack* adds knowledge that no single memory contains, as plain data:

* ``synonyms`` - groups of words naming the same thing ("sofa", "couch", "settee");
* ``affordances`` - needs, with how people say them (``say``) and what satisfies them
  (``things``: plain words, matched against whatever the memory holds by text similarity, so a
  pack never has to know the memory's labels);
* ``regions`` - region types (kitchen, office, street ...) with the things that suggest them
  (weights), ``region_synonyms``, ``outdoor_regions`` and per-type prior weights;
* ``colours`` (name -> RGB), ``materials``, ``sizes`` (thing -> typical volume in m^3, for
  salience).

Packs are YAML files (``load_pack``) or built in code (the app builds one from the procedural
generator's catalog and hands it in for generated worlds; ``memory`` never reads that catalog).
The general pack shipped in ``assets/priors/general.yaml`` (household, office, public and outdoor
places, written independently of the generator) is the default. A memory records the pack it was
built with in its file, so every process that opens it reasons with the same knowledge.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["Affordance", "PriorPack", "load_pack", "merge_packs", "general_pack", "GENERAL_PACK_PATH",
           "pack_from_dict"]

GENERAL_PACK_PATH = Path(__file__).resolve().parent.parent / "assets" / "priors" / "general.yaml"
_KEYS = ("name", "objects", "synonyms", "affordances", "regions", "region_synonyms", "outdoor_regions", "region_priors",
         "colours", "materials", "sizes")


@dataclass(frozen=True)
class Affordance:
    """A need: how people say it and what satisfies it (plain words)."""

    name: str
    say: tuple[str, ...]
    things: tuple[str, ...]
    weights: tuple[float, ...] = ()  # per thing (1.0 when not given): a sofa serves sleep less than a bed

    def weight(self, i: int) -> float:
        return self.weights[i] if i < len(self.weights) else 1.0

    @property
    def phrase(self) -> str:
        """The need in a few words ("somewhere to sleep" style when a pack gives it first)."""
        return self.say[0] if self.say else self.name


@dataclass(frozen=True, kw_only=True, eq=False)
class PriorPack:
    """World knowledge as data (see the module docstring). Identity-hashed: packs hold dicts."""

    name: str = ""
    objects: tuple[str, ...] = ()  # thing names for zero-shot labelling (empty: ``things()``)
    synonyms: tuple[tuple[str, ...], ...] = ()
    affordances: Mapping[str, Affordance] = field(default_factory=dict)
    regions: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    region_synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    outdoor_regions: frozenset[str] = frozenset()
    region_priors: Mapping[str, float] = field(default_factory=dict)
    colours: Mapping[str, tuple[int, int, int]] = field(default_factory=dict)
    materials: tuple[str, ...] = ()
    sizes: Mapping[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"PriorPack({self.name!r}: {len(self.affordances)} needs, {len(self.regions)} region types, "
                f"{len(self.synonyms)} synonym groups)")

    @property
    def is_empty(self) -> bool:
        return not (self.synonyms or self.affordances or self.regions or self.colours or self.materials)

    def things(self) -> tuple[str, ...]:
        """Every thing the pack names (regions' evidence, affordances' things, synonyms), sorted."""
        out = {t for w in self.regions.values() for t in w}
        out.update(t for a in self.affordances.values() for t in a.things)
        out.update(w for g in self.synonyms for w in g)
        return tuple(sorted(out))

    def vocabulary(self) -> tuple[str, ...]:
        """Object names for zero-shot labelling: ``objects`` when given, else every thing named."""
        return self.objects or self.things()

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON/YAML), the inverse of ``pack_from_dict``."""
        return {
            "name": self.name,
            "objects": list(self.objects),
            "synonyms": [list(g) for g in self.synonyms],
            "affordances": {k: {"say": list(a.say), "things": {t: a.weight(i) for i, t in enumerate(a.things)}}
                            for k, a in self.affordances.items()},
            "regions": {k: dict(v) for k, v in self.regions.items()},
            "region_synonyms": {k: list(v) for k, v in self.region_synonyms.items()},
            "outdoor_regions": sorted(self.outdoor_regions),
            "region_priors": dict(self.region_priors),
            "colours": {k: list(v) for k, v in self.colours.items()},
            "materials": list(self.materials),
            "sizes": dict(self.sizes),
        }


def _words(v: Any, where: str) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) and x.strip() for x in v):
        raise ConfigError(f"{where} must be a list of words")
    return tuple(x.strip().lower() for x in v)


def _weights(v: Any, where: str, limit: float = 10.0) -> dict[str, float]:
    if isinstance(v, (list, tuple)):
        v = {x: 1.0 for x in v}
    if not isinstance(v, Mapping):
        raise ConfigError(f"{where} must map things to weights")
    out = {}
    for k, w in v.items():
        if not isinstance(k, str) or isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w <= limit:
            raise ConfigError(f"{where}: {k!r} needs a number between 0 and {limit:g}, got {w!r}")
        out[k.strip().lower()] = float(w)
    return out


def _section(data: Mapping, key: str, source: str) -> Mapping:
    v = data.get(key) or {}
    if not isinstance(v, Mapping):
        raise ConfigError(f"{source}: {key} must be a mapping, got {type(v).__name__}")
    return v


def pack_from_dict(data: Any, source: str = "prior pack") -> PriorPack:
    """A pack from plain data; unknown keys or wrong shapes raise ``ConfigError`` naming them."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a prior pack is a mapping with keys {', '.join(_KEYS)}")
    unknown = sorted(map(str, set(data) - set(_KEYS)))
    if unknown:
        raise ConfigError(f"{source}: unknown keys {', '.join(unknown)}; valid: {', '.join(_KEYS)}")
    affs = {}
    for k, a in _section(data, "affordances", source).items():
        if not isinstance(a, Mapping) or set(a) - {"say", "things"}:
            raise ConfigError(f"{source}: affordance {k!r} needs 'say' and 'things' lists")
        raw = a.get("things", [])
        if isinstance(raw, Mapping):
            tw = _weights(raw, f"{source}: {k}.things", limit=1.0)
            things, weights = tuple(tw), tuple(tw.values())
        else:
            things = _words(raw, f"{source}: {k}.things")
            weights = (1.0,) * len(things)
        affs[str(k)] = Affordance(str(k), _words(a.get("say", []), f"{source}: {k}.say"), things, weights)
    colours = {}
    for k, rgb in _section(data, "colours", source).items():
        if not (isinstance(rgb, (list, tuple)) and len(rgb) == 3 and all(isinstance(c, int) and 0 <= c <= 255
                                                                          for c in rgb)):
            raise ConfigError(f"{source}: colour {k!r} needs [r, g, b] in 0..255")
        colours[str(k).lower()] = (int(rgb[0]), int(rgb[1]), int(rgb[2]))
    return PriorPack(
        name=str(data.get("name", "")),
        objects=_words(data.get("objects") or [], f"{source}: objects"),
        synonyms=tuple(_words(g, f"{source}: synonyms") for g in (data.get("synonyms") or [])),
        affordances=affs,
        regions={str(k).lower(): _weights(v, f"{source}: regions.{k}")
                 for k, v in _section(data, "regions", source).items()},
        region_synonyms={str(k).lower(): _words(v, f"{source}: region_synonyms.{k}")
                         for k, v in _section(data, "region_synonyms", source).items()},
        outdoor_regions=frozenset(_words(data.get("outdoor_regions") or [], f"{source}: outdoor_regions")),
        region_priors=_weights(data.get("region_priors") or {}, f"{source}: region_priors"),
        colours=colours,
        materials=_words(data.get("materials") or [], f"{source}: materials"),
        sizes=_weights(data.get("sizes") or {}, f"{source}: sizes", limit=1e6),
    )


def load_pack(path: str | Path) -> PriorPack:
    """Read a prior pack YAML file; any problem is one ``ConfigError`` line naming the file."""
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read prior pack {p}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"prior pack {p} is not valid YAML: {str(e).splitlines()[0]}") from None
    return pack_from_dict(data, str(p))


def merge_packs(packs: Iterable[PriorPack], name: str = "") -> PriorPack:
    """One pack holding all of ``packs`` (earlier packs win on conflicting values; lists join)."""
    packs = list(packs)
    if len(packs) == 1 and not name:
        return packs[0]
    affs: dict[str, Affordance] = {}
    regions: dict[str, dict[str, float]] = {}
    rsyn: dict[str, tuple[str, ...]] = {}
    priors: dict[str, float] = {}
    colours: dict[str, tuple[int, int, int]] = {}
    sizes: dict[str, float] = {}
    for p in packs:
        for k, a in p.affordances.items():
            if k in affs:
                old = affs[k]
                tw = {t: old.weight(i) for i, t in enumerate(old.things)}
                for i, t in enumerate(a.things):
                    tw.setdefault(t, a.weight(i))
                affs[k] = Affordance(k, tuple(dict.fromkeys(old.say + a.say)), tuple(tw), tuple(tw.values()))
            else:
                affs[k] = a
        for k, w in p.regions.items():
            cur = regions.setdefault(k, {})
            for t, v in w.items():
                cur.setdefault(t, v)
        for k, v in p.region_synonyms.items():
            rsyn[k] = tuple(dict.fromkeys(rsyn.get(k, ()) + v))
        for src, dst in ((p.region_priors, priors), (p.colours, colours), (p.sizes, sizes)):
            for k, v in src.items():
                dst.setdefault(k, v)
    return PriorPack(
        name=name or "+".join(p.name for p in packs if p.name),
        objects=tuple(dict.fromkeys(o for p in packs for o in p.objects)),
        synonyms=tuple(g for p in packs for g in p.synonyms),
        affordances=affs, regions=regions, region_synonyms=rsyn,
        outdoor_regions=frozenset().union(*(p.outdoor_regions for p in packs)) if packs else frozenset(),
        region_priors=priors, colours=colours,
        materials=tuple(dict.fromkeys(m for p in packs for m in p.materials)), sizes=sizes)


@functools.cache
def general_pack() -> PriorPack:
    """The general pack shipped with the lab (``assets/priors/general.yaml``)."""
    return load_pack(GENERAL_PACK_PATH)
