"""Query analysis: what kind of question this is and what it asks for - deterministic, no LLM.

``QueryAnalyser.analyse(text, image=None)`` returns a ``QueryAnalysis``:

* **type** - ``explicit`` ("where is the red chair?"), ``implicit`` ("somewhere to take a nap"),
  ``global`` ("how many bedrooms are there?", "describe this place"), ``temporal`` ("when did
  you last see the kettle?", "what did you see first?") or ``relational`` ("the lamp next to
  the bed"); an image alone is an explicit query by example.
* **target** - the object category asked for, with the labels that count as it (synonyms and
  plurals: "couch" finds sofas), its colour / material, a room-type and floor constraint; for
  relational queries the relation kind and the anchor; for temporal ones the direction.
* **implicit** queries are linked to a prior pack's needs (``memory.priors``) by embedding the
  question against the ways people say them plus word matches, giving weighted *things* that
  satisfy them (plain words: "bed", "exit sign") and an ``expansion`` text. Retrieval uses them
  as soft evidence matched by similarity against the memory's own text, never as a lookup.

Vocabulary: what the memory holds (its labels, room names, colours and materials, given by the
caller) plus the prior pack's synonyms, region names, colours and materials. Nothing here reads
the procedural generator's catalog: a memory imported from elsewhere is analysed with its own
words. The analysis is a soft prior for retrieval: every word of the question is still embedded.
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
from memory.priors import PriorPack, general_pack
from memory.summarize import plural
from memory.text_norm import singular, stem
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
_COLOUR_ALIASES = {"gray": "grey", "dark gray": "dark grey", "light gray": "light grey"}
_MATERIAL_ADJ = {"wooden": "wood", "metallic": "metal", "steel": "metal", "woollen": "fabric", "cloth": "fabric",
                 "leathern": "leather", "plastic": "plastic"}
_FLOORS = {"ground floor": 0, "first floor": 1, "second floor": 2, "third floor": 3, "fourth floor": 4,
           "downstairs": 0, "basement": -1}
_STOP = frozenset("a an the my our your some any to of for in on at with up me i it this that is are be do".split())
_VAGUE = frozenset({"somewhere", "something", "some", "soft", "place", "way", "thing"})
_LOCATIVE = frozenset({"at", "in", "inside", "near", "by", "beside", "behind", "under", "outside", "from", "on",
                       "past", "opposite", "beyond", "across"})
_COMMANDS = frozenset({"take", "bring", "guide", "get", "lead", "show", "go", "navigate", "me", "us", "drive", "walk"})
# verbs too common to say which need a question expresses on their own ("go" in "go for a swim")
_WEAK = frozenset({"go", "get", "have", "take", "make", "do", "need", "want", "put", "find", "use", "like"})
_TEMPORAL_RES = (
    re.compile(r"\bwhen\b.*\b(see|saw|seen|notice|noticed|spot|spotted|pass|passed|visit|visited|find|found)\b"),
    re.compile(r"\b(first|last|latest|earliest|most recent(ly)?)\b.*\b(see|saw|seen|noticed|spotted|found)\b"),
    re.compile(r"\b(see|saw|seen|noticed|spotted|found)\b.*\b(first|last|latest|earliest|most recently)\b"),
    re.compile(r"\bhow long ago\b"),
)
_GLOBAL_RES = (
    re.compile(r"\b(what|which) (kinds?|types?|sorts?) of (rooms?|areas?|spaces?|places) (are|did|have|do)\b"),
    re.compile(r"\b(what|which) rooms\b|\blist (all )?(the )?rooms\b|\brooms (are|did) (there|you)\b"),
    re.compile(r"\b(describe|summari[sz]e|summary|overview|layout|floor plan)\b"),
    re.compile(r"\bwhat (is|kind of|sort of|type of) (this|the) (place|building|house|home|environment|site)\b"),
    re.compile(r"\bwhat (kind|sort|type) of (place|building|environment|site)\b"),
    re.compile(r"\btell me about (this|the) (place|house|building|floor|site|environment|home|area)\b"),
    re.compile(r"\b(main|different|various) (areas|parts|sections|spaces|zones|rooms)\b"),
    re.compile(r"\bwhat (kind|sort|type) of (area|neighbou?rhood|district|town|city|street)\b"),
    re.compile(r"\bwhat (is|'s) (this|the) (area|neighbou?rhood|district)( like)?\b"),
    re.compile(r"\bwhat(?: is|'s| are|'re)? (?:the )?"
               r"(?:architecture|buildings|streets|surroundings|area|place) like\b"),
    re.compile(r"\b(which|what) (university|college|city|town|campus|neighbou?rhood|district|country|state) "
               r"(is|are) (this|it|that|here|we in)\b"),
    re.compile(r"\bwhere (are we|am i)\b"),
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
_BARE_NOUN_RE = re.compile(
    r"^(?!(?:can|could|is|are|was|were|do|does|did|what|where|how|why|who|when|which|will|would|should|i|i'm|"
    r"i'd|im|we|let|please|tell|give)\b)(?:the |a |an |my |some |any )?[a-z][a-z'-]*(?: [a-z][a-z'-]*){0,3}\??$")
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


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower().replace("’", "'"))


def _group_index(synonyms: Sequence[Sequence[str]]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for group in synonyms:
        for w in group:
            out.setdefault(w, set()).update(group)
    return {k: frozenset(v) for k, v in out.items()}


@functools.cache
def _general_groups() -> dict[str, frozenset[str]]:
    return _group_index(general_pack().synonyms)


def label_group(label: str, groups: dict[str, frozenset[str]] | None = None) -> frozenset[str]:
    """Every label that counts as ``label`` (itself and its synonyms in ``groups``, by default the
    general prior pack's), lower case."""
    key = label.lower()
    return (groups if groups is not None else _general_groups()).get(key, frozenset()) | {key}


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str  # label | room | colour | material | relation | floor
    value: str


class _Vocab:
    """Phrase tables of the memory's own words and a prior pack, matched longest first."""

    def __init__(self, labels: Iterable[str], pack: PriorPack, *, rooms: Iterable[str] = (),
                 colours: Iterable[str] = (), materials: Iterable[str] = ()) -> None:
        self.phrases: dict[tuple[str, ...], tuple[str, str]] = {}
        for lab in [*labels, *pack.objects]:
            low = lab.lower().strip()
            if low:
                for form in {low, plural(low)}:
                    self.phrases.setdefault(tuple(_words(form)), ("label", low))
        for group in pack.synonyms:
            for w in group:
                for form in {w, plural(w)}:
                    self.phrases.setdefault(tuple(_words(form)), ("label", w))
        for room in [*rooms, *pack.regions]:
            room = room.lower().strip()
            for form in {room, plural(room)}:
                if room:
                    self.phrases.setdefault(tuple(_words(form)), ("room", room))
        for room, syns in pack.region_synonyms.items():
            for syn in syns:
                for form in {syn, plural(syn)}:
                    self.phrases.setdefault(tuple(_words(form)), ("room", room))
        for colour in [*colours, *pack.colours]:
            if colour.strip():
                self.phrases.setdefault(tuple(_words(colour)), ("colour", colour.lower().strip()))
        for alias, colour in _COLOUR_ALIASES.items():
            self.phrases.setdefault(tuple(_words(alias)), ("colour", colour))
        known = {m.lower().strip() for m in [*materials, *pack.materials] if m.strip()} - {"foliage"}
        for m in sorted(known):
            self.phrases.setdefault((m,), ("material", m))
            adj = object_name("", "", m).strip()
            if adj and adj != m:
                self.phrases.setdefault((adj,), ("material", m))
        for adj, m in _MATERIAL_ADJ.items():
            if m in known:
                self.phrases.setdefault((adj,), ("material", m))
        for phrase, kind in RELATION_WORDS.items():
            self.phrases[tuple(phrase.split())] = ("relation", kind)
        for phrase, f in _FLOORS.items():
            self.phrases[tuple(phrase.split())] = ("floor", str(f))
        self.phrases.pop((), None)
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
    """Analyses questions with the memory's own words and a prior pack.

    ``vocabulary`` - the memory's labels; ``rooms`` / ``colours`` / ``materials`` - its room
    names and attribute words; ``priors`` - a ``PriorPack`` (default: the general pack);
    ``encoder`` (any text encoder) links implicit questions to the pack's needs.
    """

    def __init__(self, *, encoder: Any | None = None, vocabulary: Iterable[str] = (), priors: PriorPack | None = None,
                 rooms: Iterable[str] = (), colours: Iterable[str] = (), materials: Iterable[str] = ()) -> None:
        self.priors = priors if priors is not None else general_pack()
        self.encoder = encoder
        self._groups = _group_index(self.priors.synonyms)
        self._vocab = _Vocab(vocabulary, self.priors, rooms=rooms, colours=colours, materials=materials)
        self._aff_names = list(self.priors.affordances)
        self._say: list[str] = []
        self._say_of: list[int] = []
        for i, name in enumerate(self._aff_names):
            for phrase in self.priors.affordances[name].say or (name,):
                self._say.append(phrase)
                self._say_of.append(i)
        self._say_stems = [frozenset(stem(w) for w in _words(p) if w not in _STOP and w not in _VAGUE)
                           for p in self._say]
        # a phrase of weak verbs alone never matches by words
        self._say_stems = [st if st - {stem(w) for w in _WEAK} else frozenset() for st in self._say_stems]
        self._aff_vectors: np.ndarray | None = None

    def group(self, label: str) -> frozenset[str]:
        """``label`` and its synonyms in this analyser's prior pack."""
        return label_group(label, self._groups)

    # ------------------------------------------------------------------ public
    def analyse(self, text: str | None = None, image: np.ndarray | None = None) -> QueryAnalysis:
        """Analyse a question (text, an RGB image, or both)."""
        raw = "" if text is None else str(text)
        if len(raw) > MAX_QUERY_CHARS:
            raise QueryError(f"the question is {len(raw)} characters long; the limit is {MAX_QUERY_CHARS}")
        if not _is_utf8(raw):  # bytes the shell could not decode arrive as lone surrogates
            raise QueryError("the question is not UTF-8 text (it holds bytes that are not characters)")
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
        # a region word right before a thing describes the thing ("an office chair"), it is no place
        named = {s.start for s in labels}
        rooms = [s for s in spans if s.kind == "room" and s.end not in named]
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
            unknown = self._named_before_place(labels[0], spans, words)
            if unknown:  # "the coat hook by the stairs": the known word only says where
                return self._attributes(QueryAnalysis(type=QueryType.EXPLICIT, target=unknown, **base), spans, None,
                                        rooms)
            return self._with_target(QueryAnalysis(type=QueryType.EXPLICIT, **base), spans, labels, rooms)
        if rooms and re.search(r"\b(where|find|take me|go to|show me|navigate|way to)\b", low):
            return QueryAnalysis(type=QueryType.EXPLICIT, target_room=rooms[0].value, **base)
        m = next((m for clause in reversed(re.split(r"\s*[,;.!]\s+", low)) if (m := _UNKNOWN_TARGET_RE.match(clause))),
                 None)  # "I'm almost out of gas, is there a gas station?": the asking clause
        target = self._unknown_target(m.group(1), spans, words) if m else ""
        if not target and _BARE_NOUN_RE.match(low):  # "the fish tank": a thing named without a lead-in
            target = self._unknown_target(low, spans, words)
        if target:
            return self._attributes(QueryAnalysis(type=QueryType.EXPLICIT, target=target, **base), spans, None,
                                    rooms)
        return self._implicit(QueryAnalysis(type=QueryType.IMPLICIT, **base), words, spans)

    # ------------------------------------------------------------------ parts
    def _with_target(self, q: QueryAnalysis, spans: list[_Span], labels: list[_Span],
                     rooms: list[_Span]) -> QueryAnalysis:
        target = labels[0] if labels else None
        if target is not None:
            q = replace(q, target=target.value, target_labels=tuple(sorted(self.group(target.value))))
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
                                   "anchor_labels": tuple(sorted(self.group(anchor.value)))}
            if target is not None:
                out["target"] = target.value
                out["target_labels"] = tuple(sorted(self.group(target.value)))
            for x in spans:
                if x.kind in ("colour", "material"):
                    own = "anchor" if x.start > s.start else "target"
                    key = f"{own}_{x.kind}" if own == "anchor" else x.kind
                    out.setdefault(key, x.value)
            return out
        return None

    def _named_before_place(self, label: _Span, spans: list[_Span], words: list[str]) -> str:
        """An unknown thing named before a locative phrase holding ``label`` ("the coat hook by the
        stairs" -> "coat hook"), else ""."""
        k = label.start - 1
        while k >= 0 and words[k] in ("the", "a", "an", "this", "that", "my", "our"):
            k -= 1
        if k < 1 or words[k] not in _LOCATIVE:
            return ""
        if _COMMANDS & set(words[:k]):
            return ""
        head = " ".join(words[:k])
        m = _UNKNOWN_TARGET_RE.match(head)
        return self._unknown_target(m.group(1) if m else head, spans, words)

    def _unknown_target(self, phrase: str, spans: list[_Span], words: list[str]) -> str:
        ws = _words(phrase)
        for cut in ("in", "on", "at", "near", "nearby", "around", "close", "by", "from", "that", "which", "you", "i",
                    "here", "somewhere", "anywhere", "with", "where"):
            if cut in ws[1:]:
                ws = ws[:ws.index(cut, 1)]
        known = {w for s in spans if s.kind in ("colour", "material", "room") for w in words[s.start:s.end]}
        ws = [w for w in ws if w not in known and w not in _STOP]
        if not ws or len(ws) > 3 or ws[0] in _VAGUE or ws[0] in ("where", "what", "how", "when", "which"):
            return ""
        return " ".join([*ws[:-1], singular(ws[-1])])

    def _affordance_vectors(self) -> np.ndarray | None:
        if self.encoder is None or not self._say:
            return None
        if self._aff_vectors is None:
            self._aff_vectors = np.asarray(self.encoder.encode_text(self._say), dtype=np.float32)
        return self._aff_vectors

    def _implicit(self, q: QueryAnalysis, words: list[str], spans: list[_Span]) -> QueryAnalysis:
        """Needs of the prior pack the question expresses, and the things that satisfy them."""
        room = next((s.value for s in spans if s.kind == "room"), "")
        q = replace(q, room=room, expansion=q.text)
        if not self._aff_names:
            return q
        stems = {stem(w) for w in words}
        lex = np.array([1.0 if p and p <= stems else 0.0 for p in self._say_stems], dtype=np.float32)
        vecs = self._affordance_vectors()
        if vecs is not None:
            qv = np.asarray(self.encoder.encode_text([q.text.lower()]), dtype=np.float32)[0]  # type: ignore[union-attr]
            say_score = vecs @ qv + 0.25 * lex
            floor_score = 0.45
        else:
            say_score = lex
            floor_score = 0.5
        score = np.full(len(self._aff_names), -1.0, dtype=np.float32)
        np.maximum.at(score, np.asarray(self._say_of), say_score)
        best = float(score.max())
        if best < floor_score:
            return q
        order = np.argsort(-score, kind="stable")
        chosen: list[tuple[str, float]] = []
        for i in order[:3]:
            s = float(score[i])
            if s < best - 0.06:
                break
            chosen.append((self._aff_names[i], round(1.0 - 0.5 * (best - s) / 0.06, 4)))
        things: dict[str, float] = {}
        for a, w in chosen:
            aff = self.priors.affordances[a]
            for i, t in enumerate(aff.things):
                things[t] = max(things.get(t, 0.0), round(w * aff.weight(i), 4))
        ranked = tuple(sorted(things.items(), key=lambda kv: (-kv[1], kv[0])))
        top = [c for c, w in ranked if w >= 0.99][:6] or [c for c, _ in ranked[:4]]
        expansion = f"{q.text} {', '.join(top)}" if top else q.text
        return replace(q, affordances=tuple(chosen), categories=ranked, expansion=expansion)


_LEAD_IN_RE = re.compile(
    r"^(?:(?:hey|ok|okay|so|um|please)[, ]+)*"
    r"(?:(?:can|could|would|will) you (?:please )?(?:tell me |show me |remind me )?|please |do you know |"
    r"i (?:am|'m) (?:looking|searching) for |i (?:want|need|would like|'d like) to (?:find|see|locate) |"
    r"have you (?:seen|noticed|spotted) |did you (?:see|notice|spot) |do you remember |is there |are there |"
    r"(?:where|what) (?:is|are|was|were|'s|'re) |where(?:'s| is| are| was| were)? |where did you (?:see|put|last see) |"
    r"where can i find |where do i find |where would i find |where could i find |"
    r"(?:find|locate|show|take|bring|guide|get|lead) (?:me )?(?:to )?|go to |navigate to |look for |search for )+")


def focus_text(text: str) -> str:
    """The question without its lead-in ("where is", "can you find me"): the words that say what is
    wanted, all of them (attributes included)."""
    low = " ".join(str(text).replace("’", "'").split())
    cut = _LEAD_IN_RE.sub("", low.lower(), count=1)
    out = low[len(low) - len(cut):] if cut and len(cut) < len(low) else low
    out = out.strip(" ?!.")
    return out or low


__all__.append("focus_text")


def _check_image(image: Any) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise QueryError(f"a query image must be RGB uint8 of shape (H, W, 3), got {a.dtype} {a.shape}")
    if a.shape[0] < 2 or a.shape[1] < 2:
        raise QueryError(f"the query image is too small ({a.shape[1]}x{a.shape[0]} pixels)")
    return a


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def number_in(text: str) -> int | None:
    """The first number in ``text`` as an int (digits or a word up to ten), else None."""
    for w in _words(text):
        if w.isdigit():
            return int(w)
        if w in _NUMBER_WORDS:
            return _NUMBER_WORDS[w]
    return None


__all__.append("number_in")
