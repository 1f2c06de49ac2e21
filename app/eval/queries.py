"""Query sets with ground truth, generated from a world's semantic truth, and their scoring.

``generate_queries(scene_info, seed=...)`` writes questions of every type with the objects (or
facts) that answer them, several phrasings per intent, deterministic per seed:

* **explicit** - an object made unique among all objects of the world by its category plus the
  fewest of colour / material / room type ("where is the red fabric lamp in the bedroom?");
* **implicit** - through the catalog's affordances ("somewhere to take a nap"): every object of
  a category that affords it satisfies the query;
* **global** - room, room-type and floor counts, the kinds of rooms, a description;
* **temporal** - what was seen first / last and when a unique object was last seen (needs the
  exploration's sightings: ``sightings_from_memory``; without them only "when did you last see"
  questions are made, scored on the object alone);
* **relational** - "the lamp next to the bed": targets whose category needs the anchor to be
  told apart, relations computed from the true boxes (``memory.perception.relations``).

Every query has at least one satisfying object in the world (and, with ``seen_only``, one the
robot saw). Scoring (``score_hits``, ``score_answer``): a hit is right when it is a satisfying
object or within 1 m of one (same floor); global answers are checked programmatically - the
numbers they claim ("six rooms", "three bedrooms", "single-floor"), the room types they name,
and for descriptions the embedding similarity to a reference description.
"""
from __future__ import annotations

import logging
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memory.perception.relations import spatial_relations
from memory.summarize import join_words, number_word, plural
from memory.types import object_name
from sim.catalog import Catalog, load_catalog
from sim.types import ObjectInfo, Pose, SceneInfo

log = logging.getLogger(__name__)

__all__ = ["QUERY_TYPES", "GroundTruthQuery", "SightingTimes", "generate_queries", "sightings_from_memory",
           "score_hits", "score_answer", "count_claims", "HitScore", "SUCCESS_RADIUS_M", "reference_description",
           "true_relations"]

QUERY_TYPES = ("explicit", "implicit", "global", "temporal", "relational")
SUCCESS_RADIUS_M = 1.0
DESCRIBE_MIN_SIMILARITY = 0.6
_STRUCTURAL = frozenset({"door", "window", "stairs"})
_RELATION_PHRASES = {"on": ("on", "on top of"), "next_to": ("next to", "beside"), "above": ("above",),
                     "under": ("under",)}

_EXPLICIT = ("where is the {d}?", "find the {d}", "take me to the {d}", "I'm looking for the {d}.",
             "can you show me the {d}?", "where can I find the {d}?")
_IMPLICIT_VERB = ("where can I {v}?", "I want to {v}.", "I need to {v}, where should I go?", "Where could I {v}?")
_IMPLICIT_PHRASE = ("I'm looking for {p}.", "I need {p}.", "is there {p} around here?", "find me {p}")
_RELATIONAL = ("where is the {t} {r} the {a}?", "find the {t} {r} the {a}", "which {t} is {r} the {a}?",
               "take me to the {t} {r} the {a}")
_WHEN_LAST = ("when did you last see the {d}?", "where did you last see the {d}?", "when did you see the {d} last?")
_FIRST = ("what did you see first?", "what was the first thing you saw?", "which object did you see first?")
_LAST = ("what did you see last?", "what was the last thing you saw?", "which object did you see most recently?")


@dataclass(frozen=True)
class SightingTimes:
    """When the robot saw one world object (from the memory's object nodes)."""

    first_seen: float
    last_seen: float
    first_step: int
    last_step: int


@dataclass(frozen=True)
class GroundTruthQuery:
    """A question with what answers it: satisfying object ids and/or expected facts."""

    id: str
    text: str
    type: str
    intent: str
    satisfying: tuple[int, ...] = ()
    targets: tuple[tuple[float, float, float, int], ...] = ()  # x, y, z, floor of satisfying objects
    expected: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "type": self.type, "intent": self.intent,
                "satisfying": list(self.satisfying), "expected": dict(self.expected)}


@dataclass(frozen=True)
class HitScore:
    top1: bool
    topk: bool
    top1_exact: bool  # the top hit is a satisfying object itself (not just within 1 m of one)
    rank: int | None  # 0-based rank of the first correct hit


def sightings_from_memory(memory: Any) -> dict[int, SightingTimes]:
    """World object id -> when the robot saw it, from the object nodes' ``instance_hint``."""
    out: dict[int, SightingTimes] = {}
    for o in memory.graph.objects():
        if o.instance_hint is None:
            continue
        s = SightingTimes(o.first_seen, o.last_seen, o.first_step, o.last_step)
        old = out.get(int(o.instance_hint))
        if old is not None:
            s = SightingTimes(min(old.first_seen, s.first_seen), max(old.last_seen, s.last_seen),
                              min(old.first_step, s.first_step), max(old.last_step, s.last_step))
        out[int(o.instance_hint)] = s
    return out


# --------------------------------------------------------------------------------- generation
class _World:
    def __init__(self, info: SceneInfo, catalog: Catalog) -> None:
        self.info = info
        self.catalog = catalog
        self.objects = sorted(info.objects, key=lambda o: o.id)
        self.room_type = {r.id: r.type for r in info.rooms}

    def room_of(self, o: ObjectInfo) -> str:
        return self.room_type.get(o.room_id, "")

    def target(self, objs: Iterable[ObjectInfo]) -> tuple[tuple[int, ...], tuple[tuple[float, float, float, int], ...]]:
        objs = list(objs)
        return tuple(o.id for o in objs), tuple((*map(float, o.position), int(o.floor)) for o in objs)  # type: ignore[misc]

    def matches(self, o: ObjectInfo, keys: Sequence[str], ref: ObjectInfo) -> bool:
        if o.category != ref.category:
            return False
        for k in keys:
            if k == "colour" and o.colour != ref.colour:
                return False
            if k == "material" and o.material != ref.material:
                return False
            if k == "room" and self.room_of(o) != self.room_of(ref):
                return False
        return True

    def describe(self, o: ObjectInfo, keys: Sequence[str]) -> str:
        name = object_name(o.category, o.colour if "colour" in keys else "", o.material if "material" in keys else "")
        room = self.room_of(o)
        return name + (f" in the {room}" if "room" in keys and room else "")


_KEYSETS = ((), ("colour",), ("material",), ("room",), ("colour", "material"), ("colour", "room"),
            ("material", "room"), ("colour", "material", "room"))


def _unique_description(w: _World, o: ObjectInfo) -> str | None:
    for keys in _KEYSETS:
        if "room" in keys and not w.room_of(o):
            continue
        if sum(1 for x in w.objects if w.matches(x, keys, o)) == 1:
            return w.describe(o, keys)
    return None


def _phrasings(rng: random.Random, templates: Sequence[str], n: int, **kw: str) -> list[str]:
    picked = rng.sample(list(templates), min(n, len(templates)))
    return [t.format(**kw) for t in picked]


def _verb_of(phrase: str) -> str:
    """``"wash my hands"`` of ``"somewhere to wash my hands"`` (a trailing with / from / in dropped
    when a verb phrase remains: "serve food in" -> "serve food", but "check in" stays)."""
    m = re.match(r"^(?:somewhere|something)(?: soft)? to (.+)$", phrase)
    if not m:
        return ""
    verb = m.group(1)
    head, _, tail = verb.rpartition(" ")
    if tail in ("with", "from") or (tail == "in" and " " in head):
        return head
    return verb


def generate_queries(info: SceneInfo, *, seed: int = 0, per_intent: int = 2, max_per_type: int = 24,
                     types: Sequence[str] = QUERY_TYPES, sightings: Mapping[int, SightingTimes] | None = None,
                     seen_only: bool = False, catalog: Catalog | None = None) -> list[GroundTruthQuery]:
    """Questions with ground truth for a world (see the module docstring); deterministic per seed.

    ``seen_only`` (needs ``sightings``) asks only about objects the robot saw; ``per_intent``
    phrasings of each intent; at most ``max_per_type`` questions of each type.
    """
    bad = [t for t in types if t not in QUERY_TYPES]
    if bad:
        raise ValueError(f"unknown query types {bad}. Known: {', '.join(QUERY_TYPES)}")
    w = _World(info, catalog or load_catalog())
    seen = set(sightings) if sightings is not None and seen_only else None
    rng = random.Random(seed)
    out: list[GroundTruthQuery] = []
    makers: dict[str, Callable[[], list[tuple[str, str, tuple, tuple, dict]]]] = {
        "explicit": lambda: _explicit(w, rng, per_intent, seen),
        "implicit": lambda: _implicit(w, rng, per_intent, seen),
        "global": lambda: _global(w, rng, per_intent),
        "temporal": lambda: _temporal(w, rng, per_intent, sightings, seen),
        "relational": lambda: _relational(w, rng, per_intent, seen),
    }
    for t in QUERY_TYPES:
        if t not in types:
            continue
        items = makers[t]()
        by_intent: dict[str, list] = {}
        for it in items:
            by_intent.setdefault(it[1], []).append(it)
        intents = sorted(by_intent)
        rng.shuffle(intents)
        chosen = [it for intent in intents for it in by_intent[intent]][:max_per_type]
        for n, (text, intent, sat, targets, expected) in enumerate(chosen):
            out.append(GroundTruthQuery(f"{t}/{n}", text, t, intent, sat, targets, expected))
    return out


def _visible(o: ObjectInfo, seen: set[int] | None) -> bool:
    return seen is None or o.id in seen


def _explicit(w: _World, rng: random.Random, k: int, seen: set[int] | None) -> list:
    items = []
    for o in w.objects:
        if o.category in _STRUCTURAL or not _visible(o, seen):
            continue
        d = _unique_description(w, o)
        if d is None:
            continue
        sat, tg = w.target([o])
        for text in _phrasings(rng, _EXPLICIT, k, d=d):
            items.append((text, f"find:{o.id}", sat, tg, {"description": d}))
    return items


def _implicit(w: _World, rng: random.Random, k: int, seen: set[int] | None) -> list:
    items = []
    for aff, phrase in w.catalog.affordances.items():
        cats = set(w.catalog.categories_with_affordance(aff))
        objs = [o for o in w.objects if o.category in cats]
        if not objs or not any(_visible(o, seen) for o in objs):
            continue
        sat, tg = w.target(objs)
        verb = _verb_of(phrase)
        templates = [t.replace("{v}", verb) for t in _IMPLICIT_VERB] if verb else []
        templates += [t.replace("{p}", phrase) for t in _IMPLICIT_PHRASE]
        for text in _phrasings(rng, templates, k):
            items.append((text, f"afford:{aff}", sat, tg, {"affordance": aff, "categories": sorted(cats)}))
    return items


def reference_description(info: SceneInfo) -> str:
    """A truthful description of a world: kind, floors, rooms by type."""
    types = Counter(r.type for r in info.rooms)
    n_floors, n_rooms = len(info.floors), len(info.rooms)
    listed = join_words([(f"a {t}" if n == 1 else f"{number_word(n)} {plural(t, n)}")
                         for t, n in sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))])
    storeys = f"{number_word(n_floors)}-floor" if n_floors > 1 else "single-floor"
    kind = {"house": "house", "multifloor": "house", "office": "office", "campus": "campus"}.get(info.kind, "place")
    unit = "area" if info.outdoor else "room"
    return f"A {storeys} {kind} with {number_word(n_rooms)} {plural(unit, n_rooms)}: {listed}."


def _global(w: _World, rng: random.Random, k: int) -> list:
    info = w.info
    types = Counter(r.type for r in info.rooms)
    n_rooms, n_floors = len(info.rooms), len(info.floors)
    unit = "area" if info.outdoor else "room"
    items = []
    for text in _phrasings(rng, (f"how many {unit}s are there?", f"how many {unit}s does this place have?",
                                 f"how many {unit}s did you find?"), k):
        items.append((text, f"count:{unit}", (), (), {"count": n_rooms, "of": "room"}))
    for text in _phrasings(rng, ("how many floors does the building have?", "how many floors are there?",
                                 "how many floors did you explore?"), k):
        items.append((text, "count:floor", (), (), {"count": n_floors, "of": "floor"}))
    for t, n in sorted(types.items()):
        for text in _phrasings(rng, ("how many {p} are there?", "how many {p} did you see?",
                                     "how many {p} does it have?"), k, p=plural(t)):
            items.append((text, f"count:{t}", (), (), {"count": n, "of": t}))
    for text in _phrasings(rng, ("what kinds of rooms are there?", "which rooms did you find?",
                                 "what types of rooms does this place have?"), k):
        items.append((text, "types", (), (), {"types": dict(types)}))
    ref = reference_description(info)
    for text in _phrasings(rng, ("describe this place", "give me an overview of the place you explored",
                                 "what kind of place is this?"), k):
        items.append((text, "describe", (), (), {"reference": ref, "count": n_rooms, "of": "room"}))
    return items


def _temporal(w: _World, rng: random.Random, k: int, sightings: Mapping[int, SightingTimes] | None,
              seen: set[int] | None) -> list:
    items = []
    objs = {o.id: o for o in w.objects}
    if sightings:
        known = {i: s for i, s in sightings.items() if i in objs}
        if known:
            first = min(s.first_step for s in known.values())
            last = max(s.last_step for s in known.values())
            firsts = [objs[i] for i, s in known.items() if s.first_step == first]
            lasts = [objs[i] for i, s in known.items() if s.last_step == last]
            for text in _phrasings(rng, _FIRST, k):
                items.append((text, "first", *w.target(firsts), {"step": first}))
            for text in _phrasings(rng, _LAST, k):
                items.append((text, "last", *w.target(lasts), {"step": last}))
    for o in w.objects:
        if o.category in _STRUCTURAL or not _visible(o, seen) or (sightings is not None and o.id not in sightings):
            continue
        d = _unique_description(w, o)
        if d is None:
            continue
        expected: dict[str, Any] = {"description": d}
        if sightings is not None and o.id in sightings:
            expected.update(time=sightings[o.id].last_seen, step=sightings[o.id].last_step)
        for text in _phrasings(rng, _WHEN_LAST, k, d=d):
            items.append((text, f"when:{o.id}", *w.target([o]), expected))
    return items


def true_relations(info: SceneInfo) -> list[tuple[int, int, str]]:
    """(a, b, kind) for world objects: "a kind b" from their true boxes, per floor (no left/right)."""
    out = []
    by_floor: dict[int, list[ObjectInfo]] = {}
    for o in info.objects:
        by_floor.setdefault(o.floor, []).append(o)
    for objs in by_floor.values():
        objs.sort(key=lambda o: o.id)
        found = spatial_relations([o.bbox_min for o in objs], [o.bbox_max for o in objs], Pose(0.0, 0.0))
        for i, j, kind, _ in found:
            if kind in ("on", "next_to", "above", "under", "near"):
                out.append((objs[i].id, objs[j].id, kind))
    return out


def _relational(w: _World, rng: random.Random, k: int, seen: set[int] | None) -> list:
    rels = true_relations(w.info)
    objs = {o.id: o for o in w.objects}
    per_cat = Counter(o.category for o in w.objects)
    items = []
    pairs = sorted({(objs[a].category, kind, objs[b].category) for a, b, kind in rels if kind in _RELATION_PHRASES})
    for tcat, kind, acat in pairs:
        if tcat in _STRUCTURAL or tcat == acat:
            continue
        sat_objs = sorted({objs[a] for a, b, kd in rels if kd == kind and objs[a].category == tcat
                           and objs[b].category == acat}, key=lambda o: o.id)
        if not sat_objs or not any(_visible(o, seen) for o in sat_objs):
            continue
        if per_cat[tcat] < 2 or len(sat_objs) == per_cat[tcat]:
            continue  # the anchor must tell the target apart from others of its category
        sat, tg = w.target(sat_objs)
        phrase = rng.choice(_RELATION_PHRASES[kind])
        for text in _phrasings(rng, _RELATIONAL, k, t=tcat, r=phrase, a=acat):
            items.append((text, f"rel:{tcat}:{kind}:{acat}", sat, tg, {"relation": kind, "anchor": acat}))
    return items


# ------------------------------------------------------------------------------------ scoring
def _get(hit: Any, key: str) -> Any:
    return hit[key] if isinstance(hit, Mapping) else getattr(hit, key)


def score_hits(q: GroundTruthQuery, hits: Sequence[Any], instance_of: Mapping[str, int | None] | Callable,
               *, radius: float = SUCCESS_RADIUS_M) -> HitScore:
    """Whether the top hit (and any hit) is a satisfying object or within ``radius`` of one.

    ``hits``: ``memory.retrieval.Hit`` objects or their JSON dicts; ``instance_of`` maps a node
    id to the world object it is (``ObjectRecord.instance_hint``), or None.
    """
    lookup = instance_of if callable(instance_of) else instance_of.get
    sat = set(q.satisfying)
    rank = None
    exact0 = False
    for r, h in enumerate(hits):
        inst = lookup(_get(h, "id"))
        exact = inst is not None and inst in sat
        ok = exact
        if not ok and q.targets:
            pos = _get(h, "position")
            floor = int(h.get("floor", 0) if isinstance(h, Mapping) else getattr(h, "floor", 0))
            ok = any(math.hypot(pos[0] - t[0], pos[1] - t[1]) <= radius and floor == t[3] for t in q.targets)
        if r == 0:
            exact0 = exact
        if ok and rank is None:
            rank = r
    return HitScore(rank == 0, rank is not None, exact0, rank)


_NUM = {w: i for i, w in enumerate("no one two three four five six seven eight nine ten eleven twelve".split())}
_NUM.update({"a": 1, "an": 1, "single": 1, "zero": 0})


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def count_claims(text: str, nouns: Iterable[str] = ()) -> dict[str, int]:
    """Numbers an answer claims for nouns: ``{"room": 6, "bedroom": 3, "floor": 1}``.

    Reads "six rooms", "3 bedrooms", "a single-floor house", "a kitchen", "one floor" and
    "not seen any bathrooms" (0); multi-word nouns ("living room") win over their last word.
    """
    words = [_singular(w) for w in re.findall(r"[a-z0-9]+", text.lower())]
    phrases = sorted({tuple(_singular(p) for p in n.lower().split()) for n in [*nouns, "room", "floor", "area"]},
                     key=len, reverse=True)
    out: dict[str, int] = {}
    i = 0
    while i < len(words):
        for ph in phrases:
            if tuple(words[i:i + len(ph)]) == ph:
                back = words[max(0, i - 3):i]
                value = None
                for j in range(len(back) - 1, -1, -1):
                    b = back[j]
                    if b.isdigit():
                        value = int(b)
                        break
                    if b == "any":
                        if "not" in back[:j] or "never" in back[:j]:
                            value = 0
                            break
                        continue
                    if b in _NUM:
                        value = _NUM[b]
                        break
                key = " ".join(ph)
                if value is not None and key not in out:
                    out[key] = value
                i += len(ph) - 1
                break
        i += 1
    return out


def score_answer(q: GroundTruthQuery, answer: str, *, encoder: Any = None) -> bool:
    """Whether an answer states the expected facts (global questions; temporal times)."""
    exp = q.expected
    if q.type == "temporal" and "time" in exp:
        times = [float(x) for x in re.findall(r"(\d+(?:\.\d+)?)\s*s\b", answer)]
        return any(abs(t - float(exp["time"])) <= 1.0 for t in times)
    if "types" in exp:
        low = answer.lower()
        return all(t in low or plural(t) in low for t in exp["types"])
    if "count" in exp:
        noun = exp["of"]
        claims = count_claims(answer, [noun])
        key = " ".join(_singular(p) for p in noun.split())
        ok = claims.get(key) == int(exp["count"])
        if "reference" in exp:
            ok = (ok or key not in claims) and _similar(answer, str(exp["reference"]), encoder)
        return ok
    return False


def _similar(a: str, b: str, encoder: Any) -> bool:
    if encoder is None:
        return True
    va, vb = np.asarray(encoder.encode_text([a, b]), dtype=np.float32)
    return float(va @ vb) >= DESCRIBE_MIN_SIMILARITY

