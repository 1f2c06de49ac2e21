"""The evaluation's question bank: load and validate it, fill it for one world, score answers.

The bank (``assets/eval/bank.yaml``) holds intents x phrasings written by people; each intent
has a ``split`` (dev | test, split by intent) and a ``truth`` rule. ``fill_questions`` turns the
intents of one split into questions for one world, taking every fact from the world and the
exploration's ``VisibilityLog`` (``app.eval.truth``), never from the memory:

* an answerable question is asked only when something that satisfies it was in the robot's view
  during exploration (the memory cannot know what it never saw); what satisfies it is every world
  object that does, seen or not;
* slots ({colour}, {material}, {room}) are filled with a value that a seen satisfying object has;
* temporal: the instance of the named categories that was in view last (``VisibilityLog``), asked
  only where it is not trivial: at least ``MIN_TEMPORAL_SEEN`` (2) instances of those categories
  were in view during exploration, so "where did you last see a lamp?" has a wrong answer (another
  lamp) as well as a right one - with a single seen lamp any lamp hit would pass, and the question
  would test explicit retrieval, not time. ``{last_seen: any}`` / ``{first_seen: any}`` ("what did
  you see last / first?") are satisfied by the instances in view in the last / first frame of the
  log that showed any; they are asked in every world whose log has such a frame;
* relational: targets in the relation to an anchor by the boxes' rule of ``app.eval.truth``;
* global: counts and types of the rooms the robot saw and of the objects it saw, checked exactly
  in the answer's text (no similarity to any reference sentence);
* unanswerable: asked only in a world that has none of the named things.

``score_answer`` judges one answer: a hit is right when it is an object the simulator's instance
says satisfies the question, or (a view, place or area hit, or an object with no instance) lies
within 1 m of a satisfying object's footprint on the same floor; an object hit of another
instance is wrong however close it is. "exact" = the top hit is a satisfying object itself.
"""
from __future__ import annotations

import logging
import random
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.eval.truth import RELATIONS, VisibilityLog, related_targets, rooms_seen
from sim.catalog import load_catalog
from sim.config import LineMap, load_yaml
from sim.errors import ConfigError
from sim.types import ObjectInfo, SceneInfo

log = logging.getLogger(__name__)

__all__ = ["BANK_PATH", "MIN_TEMPORAL_SEEN", "QUESTION_TYPES", "SPLITS", "BankError", "Intent", "Bank", "load_bank",
           "EvalQuestion", "fill_questions", "AnswerScore", "score_answer", "count_claims"]

BANK_PATH = Path(__file__).resolve().parents[2] / "assets" / "eval" / "bank.yaml"
QUESTION_TYPES = ("explicit", "implicit", "global", "temporal", "relational", "unanswerable")
SPLITS = ("dev", "test")
SLOTS = ("colour", "material", "room")
SUCCESS_RADIUS_M = 1.0
MIN_TEMPORAL_SEEN = 2  # a "last seen" question needs this many seen instances of its categories
_TRUTH_KEYS = {"categories", "slot", "last_seen", "first_seen", "target", "relation", "anchor", "count_rooms",
               "count_objects", "count_floors", "room_types", "describe", "absent"}
_INTENT_KEYS = {"id", "type", "split", "truth", "phrasings"}


class BankError(ConfigError):
    """A question bank that cannot be used (the message names the file and line)."""


@dataclass(frozen=True)
class Intent:
    """One thing people ask, in several phrasings, with the rule that finds its truth in a world."""

    id: str
    type: str
    split: str
    truth: Mapping[str, Any]
    phrasings: tuple[str, ...]
    line: int | None = None


@dataclass(frozen=True)
class Bank:
    intents: tuple[Intent, ...]
    source: str = ""

    def split(self, name: str) -> tuple[Intent, ...]:
        return tuple(i for i in self.intents if i.split == name)

    @property
    def n_phrasings(self) -> int:
        return sum(len(i.phrasings) for i in self.intents)


def _fail(lines: LineMap, path: tuple, msg: str) -> BankError:
    return BankError(f"{lines.where(path)}: {msg}")


def _names(value: Any, lines: LineMap, path: tuple, known: set[str] | None, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise _fail(lines, path, f"{what} must be a non-empty list of names")
    if known is not None:
        bad = [v for v in value if v not in known]
        if bad:
            raise _fail(lines, path, f"unknown {what} {bad[0]!r}. Available: {', '.join(sorted(known))}")
    return tuple(value)


def _check_truth(kind: str, truth: Any, phrasings: Sequence[str], lines: LineMap, path: tuple,
                 cats: set[str], rooms: set[str]) -> None:
    if not isinstance(truth, dict) or not truth:
        raise _fail(lines, path, "truth must be a mapping (see the shapes at the top of the bank)")
    bad = set(truth) - _TRUTH_KEYS
    if bad:
        raise _fail(lines, path + (sorted(bad)[0],), f"unknown truth key {sorted(bad)[0]!r}. "
                                                     f"Valid: {', '.join(sorted(_TRUTH_KEYS))}")
    used = {s for s in SLOTS if "{" + s + "}" in " ".join(phrasings)}
    slot = truth.get("slot")
    if slot is not None and slot not in SLOTS:
        raise _fail(lines, path + ("slot",), f"unknown slot {slot!r}. Available: {', '.join(SLOTS)}")
    if used != ({slot} if slot else set()):
        raise _fail(lines, path, f"the phrasings use slots {sorted(used) or 'none'} but truth fills "
                                 f"{slot or 'none'}")
    if kind in ("explicit", "implicit"):
        _names(truth.get("categories"), lines, path + ("categories",), cats, "category")
    elif kind == "temporal":
        keys = [k for k in ("last_seen", "first_seen") if k in truth]
        if len(keys) != 1:
            raise _fail(lines, path, "a temporal truth has exactly one of last_seen, first_seen")
        if truth[keys[0]] != "any":
            if keys[0] == "first_seen":
                raise _fail(lines, path + ("first_seen",), "first_seen takes only 'any'")
            _names(truth["last_seen"], lines, path + ("last_seen",), cats, "category")
    elif kind == "relational":
        _names(truth.get("target"), lines, path + ("target",), cats, "category")
        _names(truth.get("anchor"), lines, path + ("anchor",), cats, "category")
        if truth.get("relation") not in RELATIONS:
            raise _fail(lines, path + ("relation",), f"relation must be one of {', '.join(RELATIONS)} "
                                                     "(quote \"on\": YAML reads a bare on as true)")
    elif kind == "unanswerable":
        _names(truth.get("absent"), lines, path + ("absent",), None, "absent thing")
    elif kind == "global":
        shapes = [k for k in ("count_rooms", "count_objects", "count_floors", "room_types", "describe") if k in truth]
        if len(shapes) != 1:
            raise _fail(lines, path, "a global truth has exactly one of count_rooms, count_objects, count_floors, "
                                     "room_types, describe")
        if "count_rooms" in truth and truth["count_rooms"] != "all":
            _names(truth["count_rooms"], lines, path + ("count_rooms",), rooms, "room type")
        if "count_objects" in truth:
            _names(truth["count_objects"], lines, path + ("count_objects",), cats, "category")


def load_bank(path: str | Path | None = None) -> Bank:
    """Read and validate a question bank (default: the shipped one); ``BankError`` names file and line."""
    p = Path(path) if path is not None else BANK_PATH
    if not p.is_file():
        raise BankError(f"question bank {p} does not exist")
    doc = load_yaml(p)
    data, lines = doc.data, doc.lines
    if not isinstance(data, dict) or not isinstance(data.get("intents"), list):
        raise _fail(lines, (), "a question bank is a mapping with a list 'intents'")
    cat = load_catalog()
    cats, rooms = set(cat.categories), set(cat.room_types)
    out: list[Intent] = []
    seen_ids: set[str] = set()
    for i, it in enumerate(data["intents"]):
        path_ = ("intents", i)
        if not isinstance(it, dict):
            raise _fail(lines, path_, "an intent is a mapping")
        bad = set(it) - _INTENT_KEYS
        missing = _INTENT_KEYS - set(it)
        if bad or missing:
            why = f" (unknown {sorted(bad)[0]!r})" if bad else f" (missing {sorted(missing)[0]!r})"
            raise _fail(lines, path_, f"intent keys must be {', '.join(sorted(_INTENT_KEYS))}{why}")
        iid, kind, split = it["id"], it["type"], it["split"]
        if not isinstance(iid, str) or iid in seen_ids:
            raise _fail(lines, path_ + ("id",), f"intent id {iid!r} is missing or repeated")
        seen_ids.add(iid)
        if kind not in QUESTION_TYPES:
            raise _fail(lines, path_ + ("type",), f"unknown type {kind!r}. Available: {', '.join(QUESTION_TYPES)}")
        if not iid.startswith(kind + "."):
            raise _fail(lines, path_ + ("id",), f"intent id {iid!r} must start with its type {kind!r}")
        if split not in SPLITS:
            raise _fail(lines, path_ + ("split",), f"split must be dev or test, got {split!r}")
        ph = it["phrasings"]
        if not isinstance(ph, list) or not ph or not all(isinstance(s, str) and s.strip() for s in ph):
            raise _fail(lines, path_ + ("phrasings",), "phrasings must be a non-empty list of questions")
        if len(set(ph)) != len(ph):
            raise _fail(lines, path_ + ("phrasings",), "a phrasing is repeated")
        _check_truth(kind, it["truth"], ph, lines, path_ + ("truth",), cats, rooms)
        out.append(Intent(iid, kind, split, dict(it["truth"]), tuple(s.strip() for s in ph), lines.line(path_)))
    return Bank(tuple(out), str(p))


# ------------------------------------------------------------------------------------- filling
@dataclass(frozen=True)
class EvalQuestion:
    """A bank phrasing filled for one world, with its truth from that world."""

    id: str
    text: str
    type: str
    intent: str
    split: str
    satisfying: tuple[int, ...] = ()
    targets: tuple[tuple[float, float, float, int], ...] = ()
    expected: Mapping[str, Any] = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"

    @property
    def navigable(self) -> bool:
        return bool(self.satisfying)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "type": self.type, "intent": self.intent, "split": self.split,
                "satisfying": list(self.satisfying), "expected": dict(self.expected)}


def _rng(intent: str, world: str, seed: int) -> random.Random:
    return random.Random(zlib.crc32(f"{intent}|{world}|{seed}".encode()))


def _room_type(info: SceneInfo) -> Callable[[ObjectInfo], str]:
    types = {r.id: r.type for r in info.rooms}
    return lambda o: types.get(o.room_id, "")


def _question(intent: Intent, k: int, text: str, objs: Sequence[ObjectInfo], expected: Mapping[str, Any] | None = None
              ) -> EvalQuestion:
    targets = tuple((o.position[0], o.position[1], o.position[2], o.floor) for o in objs)
    return EvalQuestion(f"{intent.id}#{k}", text, intent.type, intent.id, intent.split,
                        tuple(sorted(o.id for o in objs)), targets, dict(expected or {}))


def fill_questions(bank: Bank, info: SceneInfo, visibility: VisibilityLog, *, split: str | None = "test",
                   seed: int = 0) -> list[EvalQuestion]:
    """The questions of ``split`` (None: both) that apply to this world, with truth from the world."""
    seen = visibility.seen
    objects = list(info.objects)
    present = {o.category for o in objects}
    room_of = _room_type(info)
    rooms = rooms_seen(info, visibility)
    world = info.name
    out: list[EvalQuestion] = []
    for it in bank.intents:
        if split is not None and it.split != split:
            continue
        t = it.truth
        rng = _rng(it.id, world, seed)
        if it.type in ("explicit", "implicit"):
            base = [o for o in objects if o.category in t["categories"]]
            slot = t.get("slot")
            if not any(o.id in seen for o in base):
                continue
            for k, ph in enumerate(it.phrasings):
                if slot is None:
                    out.append(_question(it, k, ph, base))
                    continue
                get = {"colour": lambda o: o.colour, "material": lambda o: o.material, "room": room_of}[slot]
                values = sorted({get(o) for o in base if o.id in seen and get(o)})
                if not values:
                    continue
                v = rng.choice(values)
                out.append(_question(it, k, ph.replace("{" + slot + "}", v), [o for o in base if get(o) == v],
                                     {slot: v}))
        elif it.type == "temporal":
            table = info.object_table()
            if t.get("last_seen", t.get("first_seen")) == "any":
                ids = visibility.edge_frame_ids(last="last_seen" in t)
                objs = [table[i] for i in sorted(ids) if i in table]
                if not objs:
                    continue
                for k, ph in enumerate(it.phrasings):
                    out.append(_question(it, k, ph, objs, {"frame": "last" if "last_seen" in t else "first"}))
                continue
            cand = [o for o in objects if o.category in t["last_seen"]]
            if sum(1 for o in cand if o.id in seen) < MIN_TEMPORAL_SEEN:
                continue  # one seen instance: any hit of the category would pass; not a question about time
            last = visibility.last_seen_of(o.id for o in cand)
            if last is None:
                continue
            obj = next(o for o in cand if o.id == last)
            for k, ph in enumerate(it.phrasings):
                out.append(_question(it, k, ph, [obj], {"last_seen": last}))
        elif it.type == "relational":
            sat = related_targets(objects, t["target"], t["relation"], t["anchor"])
            if not any(o.id in seen for o in sat):
                continue
            for k, ph in enumerate(it.phrasings):
                out.append(_question(it, k, ph, sat))
        elif it.type == "unanswerable":
            if present & set(t["absent"]):
                continue
            for k, ph in enumerate(it.phrasings):
                out.append(_question(it, k, ph, []))
        else:
            exp = _global_truth(t, info, rooms, [o for o in objects if o.id in seen])
            if exp is None:
                continue
            for k, ph in enumerate(it.phrasings):
                out.append(_question(it, k, ph, [], exp))
    return out


def _global_truth(t: Mapping[str, Any], info: SceneInfo, rooms: Sequence[Any], seen_objs: Sequence[ObjectInfo]
                  ) -> dict[str, Any] | None:
    types = sorted({r.type for r in rooms})
    if "count_rooms" in t:
        if t["count_rooms"] == "all":
            return {"count": len(rooms), "nouns": ["room"]} if rooms else None
        n = sum(1 for r in rooms if r.type in t["count_rooms"])
        # a count of zero is a fair question only where the world could have had one: skip it
        return {"count": n, "nouns": list(t["count_rooms"])} if n else None
    if "count_objects" in t:
        n = sum(1 for o in seen_objs if o.category in t["count_objects"])
        return {"count": n, "nouns": list(t["count_objects"])} if n else None
    if "count_floors" in t:
        return {"count": len(info.floors), "nouns": ["floor", "storey", "level"]}
    if "room_types" in t:
        return {"types": types} if types else None
    if "describe" in t:
        return {"mention": types, "at_least": min(2, len(types))} if types else None
    return None


# ------------------------------------------------------------------------------------- scoring
@dataclass(frozen=True)
class AnswerScore:
    """One answer judged: top-1 / any of top-k right, top hit exactly satisfying, and whether the
    system said it found something (``found``)."""

    top1: bool
    topk: bool
    exact: bool
    found: bool


_NUM = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                   "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split())}
_NUM.update({"no": 0, "a": 1, "an": 1, "single": 1})


def _singular(w: str) -> str:
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("ches") or w.endswith("shes") or w.endswith("xes"):
        return w[:-2]
    if w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def _plural(w: str) -> str:
    return w[:-1] + "ies" if w.endswith("y") and w[-2:-1] not in "aeiou" else (
        w + "es" if w.endswith(("ch", "sh", "x", "s")) else w + "s")


def count_claims(text: str, noun: str) -> list[int]:
    """The numbers the text puts right before ``noun`` (singular or plural, up to three words
    before: "6 rooms", "three of the bedrooms", "a single floor", "two-floor")."""
    words = [_singular(w) for w in re.findall(r"[a-z0-9]+", text.lower())]
    ph = tuple(_singular(p) for p in noun.lower().split())
    out = []
    for i in range(len(words) - len(ph) + 1):
        if tuple(words[i:i + len(ph)]) != ph:
            continue
        for b in reversed(words[max(0, i - 3):i]):
            if b.isdigit():
                out.append(int(b))
                break
            if b in _NUM:
                out.append(_NUM[b])
                break
    return out


def _names_in(text: str, name: str) -> bool:
    low = " " + re.sub(r"[^a-z0-9]+", " ", text.lower()) + " "
    return f" {name} " in low or f" {_plural(name)} " in low


def _global_ok(exp: Mapping[str, Any], answer: str) -> bool:
    if "count" in exp:
        claims = [c for n in exp["nouns"] for c in count_claims(answer, n)]
        return bool(claims) and claims[0] == int(exp["count"])
    if "types" in exp:
        return all(_names_in(answer, t) for t in exp["types"])
    if "mention" in exp:
        return sum(_names_in(answer, t) for t in exp["mention"]) >= int(exp["at_least"])
    return False


def _get(hit: Any, key: str, default: Any = None) -> Any:
    return hit.get(key, default) if isinstance(hit, Mapping) else getattr(hit, key, default)


def score_answer(q: EvalQuestion, hits: Sequence[Any], answer_text: str, found: bool,
                 instance_of: Mapping[str, int | None], objects: Mapping[int, ObjectInfo]) -> AnswerScore:
    """Judge one answer to ``q`` by the rules in the module docstring. Unanswerable questions
    score top-1 = top-k = exact = not ``found``."""
    if q.type == "unanswerable":
        return AnswerScore(not found, not found, not found, found)
    if q.type == "global":
        ok = _global_ok(q.expected, answer_text)
        return AnswerScore(ok, ok, ok, found)
    from app.eval.metrics import footprint_distance

    sat = set(q.satisfying)
    sat_objs = [objects[i] for i in sat if i in objects]
    first = None
    exact0 = False
    for r, h in enumerate(hits):
        inst = instance_of.get(_get(h, "id"))
        if inst is not None and _get(h, "kind", "object") == "object":
            ok = inst in sat
            if r == 0:
                exact0 = ok
        else:
            pos = _get(h, "position")
            floor = int(_get(h, "floor", 0) or 0)
            ok = any(o.floor == floor and footprint_distance(o, pos[0], pos[1]) <= SUCCESS_RADIUS_M for o in sat_objs)
        if ok and first is None:
            first = r
    return AnswerScore(first == 0, first is not None, exact0, found)
