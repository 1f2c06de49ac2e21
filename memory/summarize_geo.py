"""Geographic memories (imported street views): level names, the forest preset and an extractive
summariser that names blocks, neighbourhoods, districts and the site from their captions.

A memory is geographic when it was imported from a street-view file (``is_geographic(meta)``). Its
forest levels are places -> blocks -> neighbourhoods -> districts -> site (``GEO_LEVEL_NAMES``), not
areas, rooms and floors; ``level_names`` names the levels of a kept forest of any depth.

``GeoSummariser`` is extractive, with no LLM and no fixed vocabulary: from every caption it takes
noun phrases (runs of content words, negated clauses left out: "no pedestrians visible" names no
pedestrians) and proper names of streets and landmarks ("Forbes Ave", "Wean Hall"); a cluster is
named for its most frequent street or landmark and described by its most salient phrases - frequent
in the cluster, rare in the whole memory (document frequency times inverse document frequency).
"""
from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from memory.forest_types import ClusterView, ForestConfig, Summary
from memory.text_norm import singular
from memory.types import LEVEL_NAMES, Leaf

__all__ = ["GEO_LEVEL_NAMES", "GEO_KINDS", "GEO_FOREST", "GeoSummariser", "is_geographic", "level_names", "phrases_of",
           "names_of"]

GEO_LEVEL_NAMES = ("place", "block", "neighbourhood", "district", "site")
GEO_KINDS = frozenset({"block", "neighbourhood", "district"})  # the kinds of cluster below a street-view site
_DEEP_NAMES = ("block", "neighbourhood", "district", "region", "zone", "area")  # levels below the site

# Street scale: street-view panoramas lie a few metres apart along streets. A block is ~60 m of street
# and its neighbours, a neighbourhood at most ~300 m across, a district at most ~600 m across (on the
# authors' CMU data: ~290 blocks, ~20 neighbourhoods, ~5 districts, one site).
GEO_FOREST = ForestConfig(area_radius=30.0, area_threshold=0.8, room_radius=150.0, room_threshold=0.8,
                          district_radius=300.0, max_area_leaves=80, use_regions=False, geographic=True)


def is_geographic(meta: Mapping[str, Any]) -> bool:
    """Whether a memory's meta says it holds geographic data (imported from a street-view file)."""
    for key in ("import", "source"):
        v = meta.get(key)
        if isinstance(v, Mapping) and v.get("format") == "streetview":
            return True
    return meta.get("format") == "streetview" or bool(meta.get("geographic"))


def level_names(top_level: int, *, geographic: bool) -> tuple[str, ...]:
    """Names of levels 0..``top_level``: ours (leaf, area, room, floor, site) for buildings, and for
    geographic memories place, block, neighbourhood, district ... with the top level always the site."""
    if not geographic:
        return tuple(LEVEL_NAMES[lv] if lv < len(LEVEL_NAMES) else f"level {lv}" for lv in range(top_level + 1))
    if top_level <= 0:
        return ("place",)
    below = [(_DEEP_NAMES[lv - 1] if lv - 1 < len(_DEEP_NAMES) else f"level {lv}") for lv in range(1, top_level)]
    return ("place", *below, "site")


# ----------------------------------------------------------------------------------- phrase mining
_FUNCTION = set("""a an the and or but nor of in on at to from by with without for as is are was were be been being
it its this that these those there here which who whom whose what where when while into onto over under above
below across along through between behind beside besides near around up down out off than then so such very
some any each every both either neither few many much more most other another one two three four five several
various numerous also just only still even not no their his her our your my they them he she we you i itself
has have had having do does did can could may might will would should shall must about against among amid upon
within toward towards beyond past via per like unlike including except next front top bottom""".split())
_VERBS = set("""depicts depict depicted features feature featured featuring shows show showing shown showcases
showcasing captures capturing captured displays display displaying includes include suggests suggesting suggest
indicating indicates indicate appears appear seems seem visible seen located situated lined lining
surrounded surrounding surround bordered bordering flanked framed dominated dominate dominates dominating covered
covering filled adds adding add creating create creates casting cast filter filtering filters allowing allow
allows provides providing provide contributes contributing enhancing enhance enhances offering offers offer reads
read reading running runs run leading leads lead sits sitting stands standing stand extends extending extend
stretches stretching stretch noted noticeable evident present presents set gives giving give hints hinting
remains remain appear looks look looking reflects reflecting reflect parallel adjacent nearby overall likely
possibly partially slightly clearly mostly typical mix blend variety presence array range sense touch hint
combination amidst among amid emphasizing highlights highlighting highlight suggest implies implying spans
spanning complemented accompanied interspersed dotted scattered""".split())
_GENERIC = set("""scene scenes image images view views picture photo photograph setting settings atmosphere vibe feel
ambiance ambience environment environments area areas space spaces side sides left right center centre middle
background foreground distance backdrop landscape sky skies day days time season seasons weather light sunlight
sunshine shadow shadows shade clouds cloud overcast character element elements feature features aspect aspects
detail details part parts portion style look mood tone row rows section sections kind type types number lot lots
way place places spot spots location locations surroundings setting panorama perspective angle color colors
colour colours shades shade hue hues mixture appearance vicinity glimpse bit structure structures design designs
interior exterior patch patches setup setups ample plenty abundance assortment collection series""".split())
_SUBJECTIVE = set("""serene quiet calm peaceful tranquil vibrant lush picturesque scenic bright clear sunny cloudy
partly typical beautiful pleasant natural rustic urban suburban bustling busy neat tidy colorful colourful vivid
distinct notable prominent large small tall wide narrow long short big little various multiple numerous several
few many other some overall charming inviting lively gentle soft warm cool cold crisp dense sparse mature
well-maintained well-kept maintained manicured open expansive spacious cozy relaxed relaxing idyllic stunning
striking impressive lovely nice good great main major minor slight dark light darker lighter brighter faint
golden rich deep subtle classic traditional contemporary clean fresh visible several distinctive unique diverse
mixed mix""".split())
_NOT_HEADS = set("""red orange yellow green blue purple pink white black grey gray brown beige tan silver gold teal
navy maroon industrial residential commercial religious academic historic historical architectural educational
institutional recreational cultural rural municipal public private modern classic gothic victorian colonial
metallic wooden overhead nearby above below ahead beyond outdoor indoor athletic sporty urban two-lane multi-story
one-way two-way four-way autumnal wintry snowy leafless deciduous evergreen ornate decorative various winter
autumn fall summer spring daytime nighttime""".split())
_UNCOUNTABLE = set("""grass foliage traffic signage greenery pavement asphalt snow water shrubbery vegetation
landscaping architecture brickwork scaffolding construction parking seating lighting fencing gravel concrete
ivy mulch equipment furniture machinery""".split())
_ING_NOUNS = {"building", "buildings", "parking", "crossing", "crossings", "railing", "railings", "awning", "awnings",
              "ceiling", "painting", "paintings", "housing", "landing", "clothing", "dining", "seating", "lighting",
              "fencing", "paving", "siding", "morning", "evening", "signage", "landscaping", "scaffolding", "string",
              "spring", "bedding", "planting", "plantings", "opening", "openings", "walkway", "gathering", "wiring"}
_NEGATORS = {"no", "not", "without", "nor", "never", "none", "lack", "lacks", "absent"}
_PLACE_SUFFIX = {"street", "st", "avenue", "ave", "road", "rd", "boulevard", "blvd", "drive", "dr", "way", "lane",
                 "ln", "trail", "place", "pl", "parkway", "square", "plaza", "hall", "center", "centre", "building",
                 "university", "college", "park", "library", "museum", "church", "school", "institute", "stadium",
                 "field", "hospital", "station", "garage", "tower", "house", "cafe", "café", "market", "bridge",
                 "gym", "gymnasium", "theater", "theatre", "chapel", "cathedral", "court", "terrace", "mall",
                 "apartments", "hotel", "restaurant", "store", "shop", "bank", "arena", "auditorium", "commons"}
_STREET_SUFFIX = {"street": "Street", "st": "Street", "avenue": "Avenue", "ave": "Avenue", "road": "Road", "rd": "Road",
                  "boulevard": "Boulevard", "blvd": "Boulevard", "drive": "Drive", "dr": "Drive", "way": "Way",
                  "lane": "Lane", "ln": "Lane", "parkway": "Parkway", "place": "Place", "pl": "Place", "trail": "Trail",
                  "terrace": "Terrace", "court": "Court"}
_NOT_NAMES = {"the", "a", "an", "this", "these", "there", "its", "it", "on", "in", "at", "one", "two", "no", "stop",
              "exit", "do", "are", "is", "welcome", "sorry", "parking", "one way", "wrong way", "bike lane",
              "fire lane", "private drive", "bus stop", "no parking", "speed limit", "do not enter", "speed hump",
              "no parking fire lane"}
_WORD = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'’\-]*")
_CAP_RUN = re.compile(r"(?<![A-Za-z])((?:[A-Z][\w'’.\-]*|of|and|&)(?:\s+(?:[A-Z][\w'’.\-]*|of|and|&))*)")
_CLAUSE = re.compile(r"[,;:()\[\]\"“”]|\s+-\s+|\s+(?:but|although|though|while|whereas)\s+")
_SENTENCE = re.compile(r"(?<=[.!?])(?<!\s[A-Z]\.)\s+")  # not after an initial ("Jared L. Cohon")


@functools.lru_cache(maxsize=65536)
def _content(w: str) -> bool:
    if w in _FUNCTION or w in _VERBS or len(w) < 3 or w.endswith("ly"):
        return False
    if w.endswith("ing") and w not in _ING_NOUNS:
        return False
    return True


def _chunks(clause: str) -> Iterable[list[str]]:
    """Runs of content words in a clause, up to a negation (the rest of a negated clause says what is
    absent); capitalised words after the clause's first are proper names (``names_of``), not phrases."""
    run: list[str] = []
    for k, tok in enumerate(_WORD.findall(clause)):
        w = tok.lower().strip("'’-")
        if w in _NEGATORS:
            break
        if _content(w) and not (k > 0 and tok[:1].isupper()):
            run.append(w)
        else:
            if run:
                yield run
            run = []
    if run:
        yield run


def phrases_of(text: str) -> set[str]:
    """Noun phrases of a caption, as keys: one or two content words ending in a concrete head noun,
    singular (``"parked car"``, ``"bus stop"``, ``"building"``); subjective and generic words left out."""
    return set(_phrases(text))


def _phrases(text: str) -> dict[str, bool]:
    """``phrases_of`` with, for each phrase, whether the caption wrote its head in the plural."""
    out: dict[str, bool] = {}
    for sentence in _SENTENCE.split(text):
        for clause in _CLAUSE.split(sentence):
            for run in _chunks(clause):
                while run and (run[-1].endswith("ed") or run[-1] in _GENERIC or run[-1] in _SUBJECTIVE
                               or run[-1] in _NOT_HEADS):
                    run = run[:-1]  # a chunk ending in a participle or a vague word has no head here
                if not run:
                    continue
                words = [w for w in run if w not in _SUBJECTIVE and w not in _GENERIC]
                if not words or words[-1] != run[-1]:
                    continue
                head = singular(words[-1])
                plural = head != words[-1]
                out[head] = out.get(head, False) or plural
                if len(words) >= 2 and not words[-2].isdigit():
                    key = f"{words[-2]} {head}"
                    out[key] = out.get(key, False) or plural
    return out


def _canonical_name(name: str) -> str:
    words = name.split()
    last = words[-1].lower().rstrip(".")
    if last in _STREET_SUFFIX:
        words[-1] = _STREET_SUFFIX[last]
    return " ".join(words)


def names_of(text: str, *, skip_first: bool = True) -> set[str]:
    """Proper names of streets and landmarks in a caption: capitalised runs of two or more words
    (``"Forbes Ave"``, ``"Carnegie Mellon University"``) that are not a sentence's first words, or that
    end in a place word (``"... Hall"``, ``"... Street"``); keys are canonical (``Ave`` -> ``Avenue``)."""
    out: set[str] = set()
    for sentence in _SENTENCE.split(text):
        for m in _CAP_RUN.finditer(sentence):
            words = [w.strip(".’'") for w in m.group(1).split()]
            while words and words[0].lower() in ("of", "and", "&", "the", "a", "an"):
                words = words[1:]
            while words and words[-1].lower() in ("of", "and", "&"):
                words = words[:-1]
            if len(words) < 2 or any(not w for w in words):
                continue
            at_start = m.start() == len(sentence) - len(sentence.lstrip())
            if (at_start and skip_first) and words[-1].lower() not in _PLACE_SUFFIX:
                continue
            if words[0].lower() in _NOT_NAMES or " ".join(words).lower() in _NOT_NAMES:
                continue
            if sum(w.isupper() for w in words) == len(words) and len(words) > 1:
                continue  # sign text in capitals ("NO PARKING", "PORT AUTHORITY") is not a place name
            words = [w.capitalize() if len(w) > 4 and w.isupper() else w for w in words]
            out.add(_canonical_name(" ".join(words)))
    return out


def _is_street(name: str) -> bool:
    return name.split()[-1].lower() in {v.lower() for v in _STREET_SUFFIX.values()}


@dataclass
class _Stats:
    """What a cluster's leaves mention: document frequencies of phrases, names and surface forms."""

    n: int = 0
    phrases: Counter = field(default_factory=Counter)
    names: Counter = field(default_factory=Counter)
    blocks: int = 0
    neighbourhoods: int = 0

    def add(self, other: _Stats) -> None:
        self.n += other.n
        self.phrases.update(other.phrases)
        self.names.update(other.names)
        self.blocks += other.blocks
        self.neighbourhoods += other.neighbourhoods


@dataclass(frozen=True)
class _Leaf:
    phrases: frozenset[str]
    names: frozenset[str]
    plural: frozenset[str]  # phrases whose head this caption wrote in the plural


class GeoSummariser:
    """Extractive names and summaries for geographic clusters (levels 1-4: block, neighbourhood,
    district, site). Give it every leaf first (``GeoSummariser(leaves)``) so that salience is measured
    against the whole memory; leaves may carry ``extra["name"]`` and ``extra["caption"]`` (the file's
    fields), else their text is read as a caption."""

    def __init__(self, leaves: Iterable[Leaf] = ()) -> None:
        self._leaf: dict[str, _Leaf] = {}
        self._df: Counter = Counter()
        self._plural_df: Counter = Counter()  # captions writing a phrase in the plural
        self._n = 0
        self._cluster: dict[str, _Stats] = {}
        self._ubiquitous: tuple[int, list[str]] = (-1, [])
        for lf in leaves:
            self._mine(lf)

    # ------------------------------------------------------------------ statistics
    def _mine(self, leaf: Leaf) -> _Leaf:
        got = self._leaf.get(leaf.id)
        if got is not None:
            return got
        name, caption = str(leaf.extra.get("name", "")), str(leaf.extra.get("caption", ""))
        if not caption:
            caption = leaf.text
        found = _phrases(caption)
        for k, v in (_phrases(name.lower()) if name else {}).items():
            found[k] = found.get(k, False) or v
        got = _Leaf(frozenset(found), frozenset(names_of(caption, skip_first=not name)),
                    frozenset(k for k, v in found.items() if v))
        self._leaf[leaf.id] = got
        self._df.update(got.phrases)
        self._plural_df.update(got.plural)
        self._df.update(f"@{n}" for n in got.names)
        self._n += 1
        return got

    def _idf(self, key: str) -> float:
        return math.log((self._n + 1) / (self._df.get(key, 0) + 1)) + 0.1

    def _stats(self, view: ClusterView) -> _Stats:
        st = _Stats()
        if view.leaves:
            for lf in view.leaves:
                m = self._mine(lf)
                st.n += 1
                st.phrases.update(m.phrases)
                st.names.update(m.names)
        else:
            for ch in view.children:
                sub = self._cluster.get(ch.id)
                if sub is None:  # a child summarised before this summariser existed: read its text
                    sub = _Stats(ch.n_leaves, Counter(phrases_of(ch.text)), Counter(names_of(ch.text)))
                st.add(sub)
        if view.level == 1:
            st.blocks = 1
        elif view.level == 2:
            st.blocks, st.neighbourhoods = len(view.children), 1
        self._cluster[view.id] = st
        return st

    def _top_phrases(self, st: _Stats, k: int) -> list[str]:
        """The ``k`` most salient phrases, without repeating a head already named."""
        n = max(st.n, 1)
        scored = sorted(((c / n) * self._idf(p) * (1.25 if " " in p else 1.0), p) for p, c in st.phrases.items()
                        if c >= (2 if st.n >= 4 else 1))
        out: list[str] = []
        for _, p in sorted(scored, key=lambda t: (-t[0], t[1])):
            head = p.split()[-1]
            if any(head == q.split()[-1] or p in q or q in p for q in out):
                continue
            out.append(p)
            if len(out) == k:
                break
        return out

    def _top_names(self, st: _Stats, k: int, *, streets: bool | None = None, least: int = 2,
                   distinctive: bool = False) -> list[str]:
        """The ``k`` most salient names mentioned at least ``least`` times; ``distinctive`` leaves out
        names found all over a large memory (in more than 3 % of its captions and at least 50), which name
        nothing apart, and the parts of such names ("Carnegie Mellon" of "Carnegie Mellon University")."""
        n = max(st.n, 1)
        everywhere = self._everywhere() if distinctive else []
        ranked = sorted(((c / n) * self._idf(f"@{p}"), p) for p, c in st.names.items()
                        if c >= min(least, st.n) and (streets is None or _is_street(p) == streets)
                        and not any(p in u for u in everywhere))
        out: list[str] = []
        for _, p in sorted(ranked, key=lambda t: (-t[0], t[1])):
            if any(p in q for q in out):  # "Carnegie Mellon" after "Carnegie Mellon University"
                continue
            out.append(p)
            if len(out) == k:
                break
        return out

    def _everywhere(self) -> list[str]:
        if self._ubiquitous[0] != self._n:
            least = max(0.03 * self._n, 50)
            self._ubiquitous = (self._n, [k[1:] for k, c in self._df.items() if k[:1] == "@" and c > least])
        return self._ubiquitous[1]

    def _written(self, phrase: str, st: _Stats) -> str:
        """A phrase as a caption would write it: plural where most captions did, else with an article."""
        if phrase.split()[-1] in _UNCOUNTABLE:
            return phrase
        if self._plural_df.get(phrase, 0) * 2 >= self._df.get(phrase, 1):
            *mods, last = phrase.split()
            return " ".join([*mods, _plural(last)])
        return _article(phrase)

    # ------------------------------------------------------------------ summaries
    def summarise(self, view: ClusterView) -> Summary:
        st = self._stats(view)
        level = min(view.level, 4)
        kind = GEO_LEVEL_NAMES[level]
        things = [self._written(p, st) for p in self._top_phrases(st, 4 if level < 4 else 6)]
        listed = _join(things)
        views = f"{st.n} street view{'s' if st.n != 1 else ''}"
        when = _dates(view.first_seen, view.last_seen)
        if level == 4:
            return self._site(view, st, listed, views, when)
        least = 2 if level == 1 else 3
        place = next(iter(self._top_names(st, 1, streets=True, least=least, distinctive=True)
                          or self._top_names(st, 1, streets=False, least=least, distinctive=True)), "")
        top2 = self._top_phrases(st, 2)
        if place:
            head = f"{place} block" if level == 1 else f"{kind.capitalize()} around {place}"
            name = head
        else:
            head = kind.capitalize()
            name = f"{head} with {_join([_plural_phrase(p) for p in top2])}" if top2 else head
        parts = [f"{head}: {listed}." if listed else f"{head}."]
        if level == 1:
            parts.append(f"{views.capitalize()}{when}.")
        else:
            below = (_count(st.blocks, "block") if level == 2 else
                     f"{_count(len(view.children), 'neighbourhood')}, {_count(st.blocks, 'block')}")
            parts.append(f"{below.capitalize()}, {views}{when}.")
            named = self._top_names(st, 4, least=2)
            if named:
                parts.append("Named: " + ", ".join(named) + ".")
        return Summary(name, " ".join(parts), kind)

    def _site(self, view: ClusterView, st: _Stats, listed: str, views: str, when: str) -> Summary:
        w = max(0.0, view.bbox_max[0] - view.bbox_min[0]) / 1000.0
        d = max(0.0, view.bbox_max[1] - view.bbox_min[1]) / 1000.0
        landmark = self._top_names(st, 1, streets=False, least=3)
        name = f"Street-view site around {landmark[0]}" if landmark else "Street-view site"
        counts = (f"{_count(len(view.children), 'district')}, {_count(len(view.rooms), 'neighbourhood')} "
                  f"and {_count(st.blocks, 'block')}")
        summary = f"{views.capitalize()} over about {w:.1f} by {d:.1f} km{when}, in {counts}."
        if listed:
            summary += f" Most distinctive: {listed}."
        streets = self._top_names(st, 5, streets=True, least=2)
        places = self._top_names(st, 5, streets=False, least=2)
        if streets:
            summary += " Streets: " + ", ".join(streets) + "."
        if places:
            summary += " Landmarks: " + ", ".join(places) + "."
        return Summary(name, summary, "site")


def _count(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else _plural(word)}"


def _article(phrase: str) -> str:
    vowel = phrase[:1] in "aeiou" and not phrase.startswith(("uni", "use", "usu", "uti", "ura", "ure", "eu", "one"))
    return ("an " if vowel or phrase.startswith(("hour", "honest")) else "a ") + phrase


def _plural(word: str) -> str:
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def _plural_phrase(phrase: str) -> str:
    *mods, last = phrase.split()
    return phrase if last in _UNCOUNTABLE else " ".join([*mods, _plural(last)])


def _join(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _dates(t0: float, t1: float) -> str:
    """`` taken 2019-07 to 2024-11`` (months of the first and last views; nothing when unknown)."""
    if not (t0 > 0 and t1 > 0 and math.isfinite(t0) and math.isfinite(t1)):
        return ""
    a, b = (datetime.fromtimestamp(t, UTC).strftime("%Y-%m") for t in (t0, t1))
    return f", taken {a}" if a == b else f", taken {a} to {b}"
