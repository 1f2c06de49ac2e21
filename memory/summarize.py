"""The built-in extractive summariser: names and short descriptions of clusters, no LLM.

Room types are inferred from contents with a naive-Bayes model over a prior pack's region
knowledge (``RoomModel``; ``memory.priors``); a room no type fits with confidence is named from
what it holds ("Area with recliner sofas and TVs"). Salient objects are the large and distinctive ones.
It never produces a failure text: an empty cluster is described as the open floor it is.
"""
from __future__ import annotations

import functools
import logging
import math
from collections import Counter
from dataclasses import dataclass, field

from memory.forest import ClusterView, Summary
from memory.priors import PriorPack, general_pack
from memory.types import NodeKind

log = logging.getLogger(__name__)

__all__ = ["RoomModel", "ExtractiveSummariser", "plural", "join_words", "number_word"]

_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
_HOUSE_ROOMS = frozenset({"bedroom", "bathroom", "kitchen", "living room", "dining room", "hallway", "office",
                          "laundry room", "storage room", "stairwell", "gym", "room"})
_STRUCTURAL = frozenset({"door", "window", "wall", "floor", "ceiling", "light switch", "outlet", "stairs"})
_FLOOR_WORDS = ("ground floor", "first floor", "second floor", "third floor", "fourth floor")
ROOM_CONFIDENCE = 0.5  # below this a region is named from its contents, not given a type


def _plural_name(name: str, n: int) -> str:
    return plural(name, n) if n > 1 else name


def number_word(n: int) -> str:
    return _NUMBERS[n] if 0 <= n < len(_NUMBERS) else str(n)


def plural(word: str, n: int = 2) -> str:
    if n == 1:
        return word
    irregular = {"shelf": "shelves", "bookshelf": "bookshelves", "person": "people", "mouse": "mice",
                 "knife": "knives", "leaf": "leaves"}
    head, _, last = word.rpartition(" ")
    pre = f"{head} " if head else ""
    if last in irregular:
        return pre + irregular[last]
    if last.endswith(("s", "x", "ch", "sh")):
        return pre + last + "es"
    if last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        return pre + last[:-1] + "ies"
    return pre + last + "s"


def _article(phrase: str) -> str:
    if phrase.lower().startswith("other "):
        return "an" + phrase  # "another room", not "an other room"
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def join_words(items: list[str]) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _counted(label: str, n: int) -> str:
    return _article(label) if n == 1 else f"{number_word(n)} {plural(label, n)}"


@dataclass(frozen=True)
class RoomModel:
    """P(object label | room type) weights, object sizes, and which labels are outdoor."""

    weights: dict[str, dict[str, float]]  # room type -> label -> weight
    volumes: dict[str, float] = field(default_factory=dict)  # label -> typical volume m^3
    outdoor_types: frozenset[str] = frozenset()
    alpha: float = 0.05
    priors: dict[str, float] = field(default_factory=dict)  # room type -> prior weight (default 1)

    @classmethod
    def from_pack(cls, pack: PriorPack) -> RoomModel:
        """The model a prior pack's region knowledge gives (cached per pack)."""
        return _model_of(pack)

    @classmethod
    def default(cls) -> RoomModel:
        """The general pack's model (``assets/priors/general.yaml``)."""
        return _model_of(general_pack())

    def _p(self, room: str, label: str) -> float:
        w = self.weights.get(room, {})
        total = sum(w.values()) or 1.0
        return (w.get(label, 0.0) / total) + self.alpha / max(len(self.volumes), 1)

    def infer(self, counts: dict[str, int] | list[tuple[str, int]], *, outdoor: bool | None = None,
              elongated: bool = False) -> tuple[str, float]:
        """Most likely room type for these object counts, with a confidence in [0, 1]."""
        items = list(counts.items()) if isinstance(counts, dict) else list(counts)
        rooms = [r for r in self.weights if outdoor is None or (r in self.outdoor_types) == outdoor]
        if not rooms:
            return "", 0.0
        if not items:
            corridor = [r for r in rooms if r in ("hallway", "corridor", "path")]
            return (corridor[0], 0.3) if corridor else ("", 0.0)
        scores = []
        for r in rooms:
            s = math.log(self.priors.get(r, 1.0))
            for label, n in items:
                s += min(n, 3) * math.log(self._p(r, label))
            if elongated and r in ("hallway", "corridor", "path"):
                s += 2.0
            scores.append(s)
        m = max(scores)
        ex = [math.exp(s - m) for s in scores]
        z = sum(ex)
        best = max(range(len(rooms)), key=lambda i: (scores[i], rooms[i]))
        known = sum(n for label, n in items if any(label in self.weights[r] for r in rooms))
        if known == 0:
            return "", 0.0
        return rooms[best], ex[best] / z

    def salience(self, label: str) -> float:
        """Large and distinctive objects first; doors, windows and clutter last."""
        vol = self.volumes.get(label, 0.1)
        rooms_with = sum(1 for w in self.weights.values() if w.get(label, 0.0) > 0)
        specific = 1.0 / (1.0 + rooms_with)
        low = 0.2 if label in _STRUCTURAL else 1.0
        return low * math.log1p(20.0 * vol) * (0.5 + specific)


@functools.lru_cache(maxsize=8)
def _model_of(pack: PriorPack) -> RoomModel:
    weights = {r: dict(w) for r, w in pack.regions.items()}
    return RoomModel(weights, dict(pack.sizes), frozenset(pack.outdoor_regions), priors=dict(pack.region_priors))


class ExtractiveSummariser:
    """Summaries from counts, salient objects and inferred room types (levels 1-4)."""

    def __init__(self, model: RoomModel | None = None) -> None:
        self._model = model

    @property
    def model(self) -> RoomModel:
        if self._model is None:
            self._model = RoomModel.default()
        return self._model

    def summarise(self, view: ClusterView) -> Summary:
        if view.level == 1:
            return self._area(view)
        if view.level == 2:
            return self._room(view)
        if view.level == 3:
            return self._floor(view)
        return self._site(view)

    # -- helpers ------------------------------------------------------------------------------
    def _outdoor(self, counts: list[tuple[str, int]]) -> bool:
        m = self.model
        out = sum(n for lab, n in counts if any(lab in m.weights.get(r, {}) for r in m.outdoor_types))
        tot = sum(n for _, n in counts) or 1
        return out / tot > 0.5

    def _salient(self, view: ClusterView, k: int) -> list[tuple[str, int, str]]:
        """Top ``k`` (label, count, best description) by salience."""
        desc: dict[str, Counter] = {}
        for lf in view.leaves:
            if lf.kind == NodeKind.OBJECT and lf.label:
                name = lf.extra.get("name") or lf.label
                desc.setdefault(lf.label, Counter())[name] += 1
        counts = dict(view.counts)
        ranked = sorted(counts, key=lambda lab: (-self.model.salience(lab) * (1 + 0.15 * min(counts[lab], 4)), lab))
        out = []
        for lab in ranked[:k]:
            d = desc.get(lab)
            out.append((lab, counts[lab], d.most_common(1)[0][0] if d else lab))
        return out

    @staticmethod
    def _size(view: ClusterView) -> tuple[float, float]:
        w = max(0.0, view.bbox_max[0] - view.bbox_min[0])
        d = max(0.0, view.bbox_max[1] - view.bbox_min[1])
        return w, d

    def _room_type(self, view: ClusterView) -> tuple[str, float]:
        w, d = self._size(view)
        elongated = max(w, d) > 2.5 * max(min(w, d), 0.5) and min(w, d) < 2.2
        return self.model.infer(view.counts, outdoor=self._outdoor(view.counts), elongated=elongated)

    def _things(self, view: ClusterView, k: int) -> str:
        parts = []
        for lab, n, name in self._salient(view, k):
            parts.append(_article(name) if n == 1 else f"{number_word(n)} {plural(lab, n)}")
        return join_words(parts)

    # -- levels -------------------------------------------------------------------------------
    def _area(self, view: ClusterView) -> Summary:
        room, conf = self._room_type(view)
        top = self._salient(view, 2)
        n_views = sum(1 for lf in view.leaves if lf.kind == NodeKind.PLACE)
        where = f"{room} " if room and conf >= 0.5 else ""
        if top:
            head = f"{where.capitalize()}area" if where else "Area"
            name = f"{head} with {join_words([lab for lab, _, _ in top])}"
            things = self._things(view, 4)
            summary = f"An area{f' of {_article(room)}' if where else ''} with {things}."
        else:
            name = f"{where.capitalize()}open floor" if where else "Open floor"
            summary = "An open stretch of floor with no objects seen."
        if n_views:
            summary += f" Seen from {number_word(n_views)} {plural('view', n_views)}."
        return Summary(name, summary, room if conf >= 0.5 else "")

    def _room(self, view: ClusterView) -> Summary:
        room, conf = self._room_type(view)
        top = self._salient(view, 2)
        if conf < ROOM_CONFIDENCE and top:  # no type fits with confidence: named from what it holds
            room = ""
        typed = room
        room = room or ("open area" if self._outdoor(view.counts) else "area")
        w, d = self._size(view)
        name = room.capitalize() + (f" with {join_words([_plural_name(n, c) for _, c, n in top])}" if top else "")
        n_obj = sum(n for _, n in view.counts)
        things = self._things(view, 5)
        size = f" of about {max(w, 1.0):.1f} by {max(d, 1.0):.1f} m" if w > 0 and d > 0 else ""
        floor = f" on the {_FLOOR_WORDS[view.floor]}" if 0 <= view.floor < len(_FLOOR_WORDS) else ""
        if things:
            summary = f"{_article(room).capitalize()}{size}{floor} with {things}"
            summary += f" ({n_obj} {plural('object', n_obj)} in all)." if n_obj > 3 else "."
        else:
            summary = f"{_article(room).capitalize()}{size}{floor}; no objects seen in it."
        return Summary(name, summary, typed)

    def _floor(self, view: ClusterView) -> Summary:
        types = Counter(r.room_type or "room" for r in view.rooms)
        if "room" in types and len(types) > 1:
            types["other room"] = types.pop("room")
        n_rooms = sum(types.values())
        listed = join_words([_counted(t, n) for t, n in sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))])
        label = _FLOOR_WORDS[view.floor] if 0 <= view.floor < len(_FLOOR_WORDS) else f"floor {view.floor}"
        outdoor = self._outdoor(view.counts)
        unit = "area" if outdoor else "room"
        name = f"{label.capitalize()}: {listed}" if listed else label.capitalize()
        n_obj = sum(n for _, n in view.counts)
        notable = [(lab, n) for lab, n in view.counts if lab not in _STRUCTURAL]
        common = join_words([f"{plural(lab, n)} ({n})" for lab, n in notable[:3]])
        summary = (f"The {label} has {number_word(n_rooms)} {plural(unit, n_rooms)}: {listed}."
                   if n_rooms else f"The {label} has no {plural(unit)} mapped yet.")
        if n_obj:
            summary += f" {n_obj} {plural('object', n_obj)} in all" + (f", most often {common}." if common else ".")
        return Summary(name, summary, "")

    def _site(self, view: ClusterView) -> Summary:
        floors = view.children
        n_floors = len(floors)
        counts = dict(view.counts)
        outdoor = self._outdoor(view.counts)
        office = counts.get("desk", 0) + counts.get("office chair", 0) >= max(4, 0.25 * sum(counts.values()))
        room_types = Counter(r.room_type or "room" for r in view.rooms)
        homely = set(room_types) <= _HOUSE_ROOMS and sum(room_types.values()) <= 14
        kind = "campus" if outdoor else ("office" if office else ("house" if homely else "building"))
        if "room" in room_types and len(room_types) > 1:
            room_types["other room"] = room_types.pop("room")
        n_rooms = sum(room_types.values())
        unit = "area" if outdoor else "room"
        storeys = f"{number_word(n_floors)}-floor " if n_floors > 1 else ("single-floor " if not outdoor else "")
        name = f"{_article(storeys + kind).capitalize()} with {number_word(n_rooms)} {plural(unit, n_rooms)}"
        listed = join_words([_counted(t, n) for t, n in sorted(room_types.items(), key=lambda kv: (-kv[1], kv[0]))])
        n_obj = sum(counts.values())
        summary = f"{_article(storeys + kind).capitalize()} with {number_word(n_rooms)} {plural(unit, n_rooms)}"
        summary += f": {listed}." if listed else "."
        if n_obj:
            summary += f" {n_obj} {plural('object', n_obj)} seen in all."
        return Summary(name, summary, kind)


__all__.append("object_name")
