"""Query analysis: what kind of question this is and what it asks for - deterministic, no LLM.

``QueryAnalyser.analyse(text, image=None)`` returns a ``QueryAnalysis``:

* **type** - ``explicit`` ("where is the red chair?"), ``implicit`` ("somewhere to take a nap"),
  ``global`` ("how many bedrooms are there?", "describe this place"), ``temporal`` ("when did
  you last see the kettle?", "what did you see first?") or ``relational`` ("the lamp next to
  the bed"); an image alone is an explicit query by example.
* **target** - the object category asked for, with the labels that count as it (synonyms and
  plurals: "couch" finds sofas), its colour / material, a room-type and floor constraint; for
  relational queries the relation kind and the anchor; for temporal ones the direction.
* **implicit** queries are linked to the catalog's affordances by embedding the question
  against their phrases ("somewhere to sleep", ...) plus word matches, giving weighted
  categories (``sleep`` -> bed; ``nap`` -> bed, sofa) and an ``expansion`` text to embed.

Vocabulary: the catalog's categories, colours, materials and room types, plus any labels the
memory holds (``vocabulary=``), so non-catalog memories (Building99's "napkin holder") work too.
"""
from __future__ import annotations

import enum
import functools
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from memory.errors import QueryError
from memory.summarize import plural
from memory.types import object_name

log = logging.getLogger(__name__)

__all__ = ["QueryType", "QueryAnalysis", "QueryAnalyser", "MAX_QUERY_CHARS", "label_group", "RELATION_WORDS"]

MAX_QUERY_CHARS = 2000

# phrase -> relation kind of the topological graph (longest phrases are matched first)
RELATION_WORDS = {
    "on top of": "on", "resting on": "on", "sitting on": "on", "standing on": "on", "on": "on",
    "next to": "next_to", "beside": "next_to", "alongside": "next_to", "by": "next_to",
    "near": "near", "near to": "near", "close to": "near", "closest to": "near", "nearby": "near",
    "in front of": "near",
    "behind": "near", "around": "near",
    "under": "under", "underneath": "under", "below": "under", "beneath": "under",
    "above": "above", "over": "above", "hanging over": "above",
    "to the left of": "left_of", "left of": "left_of", "to the right of": "right_of", "right of": "right_of",
}
# object synonyms: every word of a group finds the labels of the whole group
_SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("sofa", "couch", "settee"), ("fridge", "refrigerator"), ("tv", "television", "telly", "tv set"),
    ("bookshelf", "bookcase", "book shelf"), ("wardrobe", "closet"), ("cabinet", "cupboard"),
    ("trash can", "bin", "garbage can", "rubbish bin", "waste bin", "dustbin", "trash bin", "wastebasket",
     "recycle bin"),
    ("sink", "washbasin", "wash basin", "basin"), ("bathtub", "bath tub", "tub", "bath"),
    ("stove", "oven", "cooker", "hob"), ("monitor", "computer monitor", "screen"), ("laptop", "computer"),
    ("potted plant", "plant", "houseplant", "small plant", "planter"), ("floor lamp", "standing lamp"),
    ("toilet", "loo", "wc", "lavatory"), ("office chair", "desk chair"), ("dining table", "kitchen table"),
    ("nightstand", "bedside table", "night stand", "bedside cabinet"), ("rug", "carpet"),
    ("painting", "picture", "artwork"), ("counter", "countertop", "worktop", "kitchen counter"),
    ("clothes dryer", "dryer", "tumble dryer"), ("coffee machine", "coffee maker"),
    ("stairs", "staircase", "stairway"), ("person", "people"), ("table", "dining table"),
)
_ROOM_SYNONYMS = {"living room": ("lounge", "sitting room", "family room"), "bathroom": ("washroom",),
                  "hallway": ("hall",), "bedroom": ("sleeping room",)}
_COLOUR_ALIASES = {"gray": "grey", "dark gray": "dark grey", "light gray": "light grey"}
_MATERIAL_ADJ = {"wooden": "wood", "metallic": "metal", "steel": "metal", "woollen": "fabric", "cloth": "fabric",
                 "leathern": "leather", "plastic": "plastic"}
_FLOORS = {"ground floor": 0, "first floor": 1, "second floor": 2, "third floor": 3, "fourth floor": 4,
           "downstairs": 0, "basement": -1}
_STOP = frozenset("a an the my our your some any to of for in on at with up me i it this that is are be do".split())
# states that imply what someone wants to do
_STATE_HINTS = {"hungry": ("eat", "cook"), "thirsty": ("drink", "get water"), "tired": ("sleep", "rest"),
                "sleepy": ("sleep", "nap"), "cold": ("warm up",), "dirty": ("take a shower", "bathe"),
                "bored": ("watch tv", "read"), "sweaty": ("take a shower",)}
_VAGUE = frozenset({"somewhere", "something", "some", "soft", "place", "way", "thing"})
_IRREGULAR = {"slept": "sleep", "ate": "eat", "took": "take", "lying": "lie", "lay": "lie", "sat": "sit",
              "ran": "run", "wrote": "write", "read": "read", "clothes": "clothes", "dishes": "dish",
              "glasses": "glass"}

_TEMPORAL_RES = (
    re.compile(r"\bwhen\b.*\b(see|saw|seen|notice|noticed|spot|spotted|pass|passed|visit|visited|find|found)\b"),
    re.compile(r"\b(first|last|latest|earliest|most recent(ly)?)\b.*\b(see|saw|seen|noticed|spotted|found)\b"),
    re.compile(r"\b(see|saw|seen|noticed|spotted|found)\b.*\b(first|last|latest|earliest|most recently)\b"),
    re.compile(r"\bhow long ago\b"),
)
_GLOBAL_RES = (
    re.compile(r"\b(what|which) (kinds?|types?|sorts?) of (rooms?|areas?|spaces?|places?)\b"),
    re.compile(r"\b(what|which) rooms\b|\blist (all )?(the )?rooms\b|\brooms (are|did) (there|you)\b"),
    re.compile(r"\b(describe|summari[sz]e|summary|overview|layout|floor plan)\b"),
    re.compile(r"\bwhat (is|kind of|sort of|type of) (this|the) (place|building|house|home|environment|site)\b"),
    re.compile(r"\bwhat (kind|sort|type) of (place|building|environment|site)\b"),
    re.compile(r"\btell me about (this|the) (place|house|building|floor|site|environment|home)\b"),
)
_IMPLICIT_RE = re.compile(
    r"\b(somewhere|something|someplace|anywhere|anything|a place|a spot|place)(\s+[a-z]+)?"
    r"\s+(to|for|i can|where|that)\b"
    r"|\bwhere (can|could|should|do|might|may) (i|we|one|you)\b|\bi (want|need|would like|wanna|have) to\b"
    r"|\bi'?d like to\b|\bi'?m (hungry|thirsty|tired|sleepy|cold|bored|dirty|sweaty)\b"
    r"|\bi feel (hungry|thirsty|tired|sleepy|cold|bored|dirty)\b|\bhelp me\b|\bis there (somewhere|a place)\b")
_FIND_VERBS = frozenset({"find", "locate", "see", "spot", "look"})
_UNKNOWN_TARGET_RE = re.compile(
    r"^(?:where(?:'s| is| are| was| were)|find|locate|show me|take me to|go to|navigate to|bring me to|"
    r"have you seen|did you see|is there|are there|do you remember|i'?m looking for|i am looking for|"
    r"look for|search for|get me to|guide me to)\s+(?:the |a |an |my |any |some |your |our )?(.+?)\??$")
_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NUMBER_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}


class QueryType(str, enum.Enum):
    EXPLICIT = "explicit"
    IMPLICIT = "implicit"
    GLOBAL = "global"
    TEMPORAL = "temporal"
    RELATIONAL = "relational"


@dataclass(frozen=True, kw_only=True, eq=False)
class QueryAnalysis:
    """What a question asks for (see the module docstring). Empty strings mean "not given"."""

    text: str
    type: QueryType
    target: str = ""  # canonical label asked for, or the unknown noun ("keys")
    target_labels: tuple[str, ...] = ()  # labels that count as the target (empty when unknown)
    target_room: str = ""  # the question asks for a room itself ("where is the kitchen?")
    colour: str = ""
    material: str = ""
    room: str = ""  # room-type constraint ("... in the kitchen")
    floor: int | None = None
    relation: str = ""
    anchor: str = ""
    anchor_labels: tuple[str, ...] = ()
    anchor_colour: str = ""
    anchor_material: str = ""
    temporal: str = ""  # "first" | "last"
    global_kind: str = ""  # "count" | "types" | "describe"
    count_of: str = ""  # "room" | "floor" | a room type | an object label
    affordances: tuple[tuple[str, float], ...] = ()  # (affordance, weight), best first
    categories: tuple[tuple[str, float], ...] = ()  # categories that satisfy an implicit query
    expansion: str = ""  # text to embed for the forest (question + satisfying categories)
    image: np.ndarray | None = field(default=None, repr=False)
    vector: np.ndarray | None = field(default=None, repr=False)  # a precomputed text-space vector

    @property
    def has_text(self) -> bool:
        return bool(self.text)

    @property
    def target_name(self) -> str:
        """The target as a natural phrase ("red wooden chair")."""
        return object_name(self.target, self.colour, self.material) if self.target else ""

    @property
    def anchor_name(self) -> str:
        return object_name(self.anchor, self.anchor_colour, self.anchor_material) if self.anchor else ""

    def with_vector(self, vector: np.ndarray) -> QueryAnalysis:
        return replace(self, vector=np.asarray(vector, dtype=np.float32))

    def to_dict(self) -> dict[str, Any]:
        """The analysis as plain data (no image, no vector)."""
        out: dict[str, Any] = {"type": self.type.value, "text": self.text}
        for name in ("target", "target_room", "colour", "material", "room", "relation", "anchor", "temporal",
                     "global_kind", "count_of"):
            v = getattr(self, name)
            if v:
                out[name] = v
        if self.floor is not None:
            out["floor"] = self.floor
        if self.affordances:
            out["affordances"] = [[a, round(w, 3)] for a, w in self.affordances]
        if self.image is not None:
            out["image"] = list(np.asarray(self.image).shape)
        return out


def _stem(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    for suf in ("ing", "ed", "es", "s"):
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            base = word[: -len(suf)]
            if suf == "ing" and len(base) >= 2 and base[-1] == base[-2]:  # napping -> nap
                base = base[:-1]
            return base
    return word


def _singular(word: str) -> str:
    if len(word) <= 3 or not word.endswith("s") or word.endswith("ss"):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1]


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower().replace("’", "'"))


@functools.cache
def _group_index() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for group in _SYNONYMS:
        for w in group:
            out.setdefault(w, set()).update(group)
    return {k: frozenset(v) for k, v in out.items()}


def label_group(label: str) -> frozenset[str]:
    """Every label that counts as ``label`` (itself and its synonyms), lower case."""
    key = label.lower()
    return _group_index().get(key, frozenset()) | {key}


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str  # label | room | colour | material | relation | floor
    value: str


class _Vocab:
    """Phrase tables of the catalog (and extra labels), matched longest first."""

    def __init__(self, labels: Iterable[str], extra_labels: Iterable[str] = ()) -> None:
        from sim.catalog import load_catalog

        cat = load_catalog()
        self.catalog = cat
        self.phrases: dict[tuple[str, ...], tuple[str, str]] = {}
        for lab in [*labels, *extra_labels]:
            low = lab.lower().strip()
            if low:
                for form in {low, plural(low)}:
                    self.phrases.setdefault(tuple(_words(form)), ("label", low))
        for group in _SYNONYMS:
            for w in group:
                for form in {w, plural(w)}:
                    self.phrases.setdefault(tuple(_words(form)), ("label", w))
        for room in cat.room_types:
            for form in {room, plural(room)}:
                self.phrases.setdefault(tuple(_words(form)), ("room", room))
        for room, syns in _ROOM_SYNONYMS.items():
            for s in syns:
                for form in {s, plural(s)}:
                    self.phrases.setdefault(tuple(_words(form)), ("room", room))
        for colour in cat.palette.names():
            self.phrases.setdefault(tuple(_words(colour)), ("colour", colour))
        for alias, colour in _COLOUR_ALIASES.items():
            self.phrases.setdefault(tuple(_words(alias)), ("colour", colour))
        materials = sorted({m for c in cat.categories.values() for m in c.materials} - {"foliage"})
        for m in materials:
            self.phrases.setdefault((m,), ("material", m))
            adj = object_name("", "", m).strip()
            if adj and adj != m:
                self.phrases.setdefault((adj,), ("material", m))
        for adj, m in _MATERIAL_ADJ.items():
            if m in materials:
                self.phrases.setdefault((adj,), ("material", m))
        for phrase, kind in RELATION_WORDS.items():
            self.phrases[tuple(phrase.split())] = ("relation", kind)
        for phrase, f in _FLOORS.items():
            self.phrases[tuple(phrase.split())] = ("floor", str(f))
        self.max_len = max(len(k) for k in self.phrases)

    def scan(self, words: Sequence[str]) -> list[_Span]:
        spans: list[_Span] = []
        i = 0
        while i < len(words):
            for n in range(min(self.max_len, len(words) - i), 0, -1):
                hit = self.phrases.get(tuple(words[i:i + n]))
                if hit is not None:
                    spans.append(_Span(i, i + n, hit[0], hit[1]))
                    i += n
                    break
            else:
                i += 1
        return spans


class QueryAnalyser:
    """Analyses questions; ``encoder`` (any text encoder) links implicit ones to affordances."""

    def __init__(self, *, encoder: Any | None = None, vocabulary: Iterable[str] = ()) -> None:
        from sim.catalog import load_catalog

        self.catalog = load_catalog()
        self.encoder = encoder
        self._vocab = _Vocab(self.catalog.categories, vocabulary)
        self._aff_names = list(self.catalog.affordances)
        self._aff_phrases = [self.catalog.affordances[a] for a in self._aff_names]
        self._aff_stems = [frozenset(_stem(w) for w in a.split() if w not in _STOP) for a in self._aff_names]
        self._phrase_stems = [frozenset(_stem(w) for w in _words(p) if w not in _STOP and w not in _VAGUE)
                              for p in self._aff_phrases]
        self._aff_vectors: np.ndarray | None = None

    # ------------------------------------------------------------------ public
    def analyse(self, text: str | None = None, image: np.ndarray | None = None) -> QueryAnalysis:
        """Analyse a question (text, an RGB image, or both)."""
        raw = "" if text is None else str(text)
        if len(raw) > MAX_QUERY_CHARS:
            raise QueryError(f"the question is {len(raw)} characters long; the limit is {MAX_QUERY_CHARS}")
        norm = " ".join(raw.replace("\x00", " ").split())
        if image is not None:
            image = _check_image(image)
        if not norm and image is None:
            raise QueryError("the question is empty: ask something, e.g. \"where is the sofa?\"")
        if not norm:
            return QueryAnalysis(text="", type=QueryType.EXPLICIT, image=image)
        low = norm.lower().replace("’", "'")
        words = _words(low)
        spans = self._vocab.scan(words)
        labels = [s for s in spans if s.kind == "label"]
        rooms = [s for s in spans if s.kind == "room"]
        base = dict(text=norm, image=image)
        floor = next((int(s.value) for s in spans if s.kind == "floor"), None)
        if floor is not None:
            base["floor"] = floor

        if any(r.search(low) for r in _TEMPORAL_RES):
            direction = "first" if re.search(r"\b(first|earliest)\b", low) else "last"
            return self._with_target(QueryAnalysis(type=QueryType.TEMPORAL, temporal=direction, **base), spans,
                                     labels, rooms)
        how_many = re.search(r"\bhow many\b", low)
        if how_many:
            after = [s for s in spans if s.start >= len(_words(low[:how_many.end()]))]
            count_of = self._count_of(after, words)
            if count_of:
                q = QueryAnalysis(type=QueryType.GLOBAL, global_kind="count", count_of=count_of, **base)
                room = next((s.value for s in rooms if s.value != count_of), "")
                return replace(q, room=room)
        for i, r in enumerate(_GLOBAL_RES):
            if r.search(low):
                kind = "types" if i < 2 else "describe"
                return QueryAnalysis(type=QueryType.GLOBAL, global_kind=kind, **base)

        if rooms and re.search(r"^what\b.*\b(in|inside) (the|a|this)\b", low) and not labels:
            return QueryAnalysis(type=QueryType.GLOBAL, global_kind="describe", room=rooms[0].value, **base)
        cue = _IMPLICIT_RE.search(low)
        if cue is not None:
            following = words[len(_words(low[:cue.end()])):][:2]
            if not _FIND_VERBS & set(following):
                return self._implicit(QueryAnalysis(type=QueryType.IMPLICIT, **base), words, spans)
        rel = self._relation(spans, words)
        if rel is not None:
            return replace(QueryAnalysis(type=QueryType.RELATIONAL, **base), **rel)
        if labels:
            return self._with_target(QueryAnalysis(type=QueryType.EXPLICIT, **base), spans, labels, rooms)
        if rooms and re.search(r"\b(where|find|take me|go to|show me|navigate|way to)\b", low):
            return QueryAnalysis(type=QueryType.EXPLICIT, target_room=rooms[0].value, **base)
        m = _UNKNOWN_TARGET_RE.match(low)
        target = self._unknown_target(m.group(1), spans, words) if m else ""
        if target:
            return self._attributes(QueryAnalysis(type=QueryType.EXPLICIT, target=target, **base), spans, None,
                                    rooms)
        return self._implicit(QueryAnalysis(type=QueryType.IMPLICIT, **base), words, spans)

    # ------------------------------------------------------------------ parts
    def _with_target(self, q: QueryAnalysis, spans: list[_Span], labels: list[_Span],
                     rooms: list[_Span]) -> QueryAnalysis:
        target = labels[0] if labels else None
        if target is not None:
            q = replace(q, target=target.value, target_labels=tuple(sorted(label_group(target.value))))
        return self._attributes(q, spans, target, rooms)

    def _attributes(self, q: QueryAnalysis, spans: list[_Span], target: _Span | None,
                    rooms: list[_Span]) -> QueryAnalysis:
        """Colour/material words before the target (or anywhere when no target), and a room constraint."""
        colour = material = ""
        for s in spans:
            if s.kind not in ("colour", "material"):
                continue
            if target is not None and s.start > target.start:
                continue
            if s.kind == "colour" and not colour:
                colour = s.value
            elif s.kind == "material" and not material:
                material = s.value
        room = rooms[0].value if rooms and q.target else ""
        return replace(q, colour=colour, material=material, room=room)

    def _count_of(self, spans: list[_Span], words: list[str]) -> str:
        for s in spans[:2]:
            if s.kind == "room":
                return s.value
            if s.kind == "label":
                return s.value
        for w in words:
            if w in ("room", "rooms", "space", "spaces", "area", "areas"):
                return "room"
            if w in ("floor", "floors", "storey", "storeys", "stories", "story", "level", "levels"):
                return "floor"
        return ""

    def _relation(self, spans: list[_Span], words: list[str]) -> dict | None:
        for k, s in enumerate(spans):
            if s.kind != "relation":
                continue
            before = [x for x in spans[:k] if x.kind == "label"]
            after = [x for x in spans[k + 1:] if x.kind == "label" and x.start - s.end <= 4]
            if not after:
                continue
            anchor = after[0]
            if not before and not re.match(r"^(what|which|anything|something|is there)\b", " ".join(words)):
                continue
            target = before[-1] if before else None
            out: dict[str, Any] = {"relation": s.value, "anchor": anchor.value,
                                   "anchor_labels": tuple(sorted(label_group(anchor.value)))}
            if target is not None:
                out["target"] = target.value
                out["target_labels"] = tuple(sorted(label_group(target.value)))
            for x in spans:
                if x.kind in ("colour", "material"):
                    own = "anchor" if x.start > s.start else "target"
                    key = f"{own}_{x.kind}" if own == "anchor" else x.kind
                    out.setdefault(key, x.value)
            return out
        return None

    def _unknown_target(self, phrase: str, spans: list[_Span], words: list[str]) -> str:
        ws = _words(phrase)
        for cut in ("in", "on", "at", "near", "by", "from", "that", "which", "you", "i"):
            if cut in ws[1:]:
                ws = ws[:ws.index(cut, 1)]
        known = {w for s in spans if s.kind in ("colour", "material", "room") for w in words[s.start:s.end]}
        ws = [w for w in ws if w not in known and w not in _STOP]
        if not ws or len(ws) > 3 or ws[0] in _VAGUE or ws[0] in ("where", "what", "how", "when", "which"):
            return ""
        return " ".join([*ws[:-1], _singular(ws[-1])])

    def _affordance_vectors(self) -> np.ndarray | None:
        if self.encoder is None:
            return None
        if self._aff_vectors is None:
            self._aff_vectors = np.asarray(self.encoder.encode_text(self._aff_phrases), dtype=np.float32)
        return self._aff_vectors

    def _implicit(self, q: QueryAnalysis, words: list[str], spans: list[_Span]) -> QueryAnalysis:
        stems = {_stem(w) for w in words}
        lex = np.array([1.0 if (a and a <= stems) or (p and p <= stems) else 0.0
                        for a, p in zip(self._aff_stems, self._phrase_stems, strict=True)], dtype=np.float32)
        hinted = {a for w in words for a in _STATE_HINTS.get(w, ())}
        for i, a in enumerate(self._aff_names):
            if a in hinted:
                lex[i] = max(lex[i], 0.8)
        vecs = self._affordance_vectors()
        if vecs is not None:
            qv = np.asarray(self.encoder.encode_text([q.text.lower()]), dtype=np.float32)[0]  # type: ignore[union-attr]
            sim = vecs @ qv
            score = sim + 0.25 * lex
            floor_score = 0.35
        else:
            score = lex.copy()
            floor_score = 0.5
        best = float(score.max())
        if best < floor_score:
            return replace(q, expansion=q.text)
        order = np.argsort(-score, kind="stable")
        chosen: list[tuple[str, float]] = []
        for i in order[:3]:
            s = float(score[i])
            if s < best - 0.06:
                break
            chosen.append((self._aff_names[i], round(1.0 - 0.5 * (best - s) / 0.06, 4)))
        cats: dict[str, float] = {}
        for a, w in chosen:
            for c in self.catalog.categories_with_affordance(a):
                cats[c] = max(cats.get(c, 0.0), w)
        ranked = tuple(sorted(cats.items(), key=lambda kv: (-kv[1], kv[0])))
        top = [c for c, w in ranked if w >= 0.99][:4] or [c for c, _ in ranked[:3]]
        expansion = f"{q.text} {', '.join(top)}" if top else q.text
        room = next((s.value for s in spans if s.kind == "room"), "")
        return replace(q, affordances=tuple(chosen), categories=ranked, expansion=expansion, room=room)


def _check_image(image: Any) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8 or a.shape[0] < 2 or a.shape[1] < 2:
        raise QueryError(f"a query image must be RGB uint8 of shape (H, W, 3), got {a.dtype} {a.shape}")
    return a


def number_in(text: str) -> int | None:
    """The first number in ``text`` as an int (digits or a word up to ten), else None."""
    for w in _words(text):
        if w.isdigit():
            return int(w)
        if w in _NUMBER_WORDS:
            return _NUMBER_WORDS[w]
    return None


__all__.append("number_in")
