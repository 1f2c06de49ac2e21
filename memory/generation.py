"""Answers from retrieved memories: a built-in template generator and an LLM generator.

* ``template`` (default, no LLM) - explicit / implicit / relational questions: what and where
  (room, floor, coordinates, when seen, distance from the robot - straight on its floor, by the
  stairs on another) with a navigation goal;
  global ones from the counted facts of the top levels ("a single-floor house with six rooms:
  three bedrooms, ..."); temporal ones with times. Honest when unsure: "I have not seen a piano."
* ``llm`` - an OpenAI-compatible chat model answers from the retrieved context and must cite
  node ids in square brackets; on any failure (server down, slow, garbage, no citation) the
  template answer is returned and ``metadata["fallback"]`` says why.

The LLM summariser of the forest lives in ``memory.summarize_llm`` and is re-exported here.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ConfigDict

from memory.answer_words import (
    a_phrase,
    asked_words,
    capitalised,
    is_node_id,
    names_thing,
    quote_of,
    region_phrase,
    shared_words,
    title_of,
)
from memory.errors import LLMError
from memory.llm import ChatClient
from memory.query import QueryAnalysis, QueryType
from memory.retrieval import Hit, RetrievalResult, RobotPose, distance_to_goal
from memory.summarize import join_words, number_word, plural
from memory.summarize_geo import GEO_KINDS
from memory.summarize_llm import LLMSummariser, SummariserConfig, make_summariser
from sim.errors import ConfigError
from sim.registry import Registry

log = logging.getLogger(__name__)

__all__ = ["Answer", "GenerationConfig", "Generator", "GENERATORS", "make_generator", "TemplateGenerator",
           "LLMGenerator", "LLMSummariser", "SummariserConfig", "make_summariser", "bounded_client"]

_FLOOR_WORDS = ("ground floor", "first floor", "second floor", "third floor", "fourth floor")


@dataclass(frozen=True, kw_only=True)
class GenerationConfig:
    """Settings of the generators.

    * ``max_context`` - retrieved nodes put in an LLM prompt; ``max_tokens`` / ``temperature``
      of the answer; ``timeout_s`` - cap on one LLM call (the client's own timeout still applies
      when shorter) and ``retries`` - cap on its retries, so a dead server costs seconds.
    * ``min_similarity`` - below this score an unknown thing ("my keys") counts as not seen.
    * ``found_similarity`` - the text similarity of question and hit at which an answer is 50%
      likely right (calibrated on the dev question sets), ``found_similarity_need`` the same for
      implicit questions (a need shares fewer words with what meets it); ``found_threshold`` - the confidence at
      which an answer counts as found (``found: false`` below it: "I have not seen ...").
    """

    __pydantic_config__ = ConfigDict(extra="forbid")
    max_context: int = 8
    max_tokens: int = 160
    temperature: float = 0.2
    timeout_s: float = 30.0
    retries: int = 0
    min_similarity: float = 0.55
    found_similarity: float = 0.45
    found_similarity_need: float = 0.33
    found_threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.max_context < 1 or self.max_tokens < 8:
            raise ConfigError("generation max_context must be >= 1 and max_tokens >= 8")
        if not 0 < self.timeout_s <= 600 or not 0 <= self.retries <= 5:
            raise ConfigError("generation timeout_s must be in (0, 600] and retries in 0..5")


@dataclass(frozen=True)
class Answer:
    """An answer: text, where to go (or None), the node ids it rests on, and how it was made."""

    text: str
    goal: tuple[float, float, float] | None = None
    goal_floor: int | None = None
    cited: tuple[str, ...] = ()
    confident: bool = True
    found: bool = True  # something in memory answers the question
    confidence: float = 1.0  # 0..1, how sure the answer is right
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "goal": list(self.goal) if self.goal is not None else None,
                "goal_floor": self.goal_floor, "cited": list(self.cited), "confident": self.confident,
                "found": self.found, "confidence": self.confidence, "metadata": dict(self.metadata)}


class Generator(Protocol):
    """Turns a question and what was retrieved into an ``Answer``."""

    name: str

    def answer(self, query: QueryAnalysis, result: RetrievalResult, *, memory: Any = None,
               robot: Any = None) -> Answer: ...


GENERATORS: Registry[Any] = Registry("generator")


def make_generator(name: str, *, config: GenerationConfig | None = None, llm: ChatClient | None = None) -> Generator:
    """Build generator ``name`` (``template`` or ``llm``); unknown names list the registered ones."""
    return GENERATORS.get(name)(config=config, llm=llm)


def bounded_client(client: ChatClient, timeout_s: float, retries: int) -> ChatClient:
    """A client like ``client`` whose calls give up after ``timeout_s`` and ``retries`` retries."""
    cfg = client.config
    if cfg.timeout_s <= timeout_s and cfg.retries <= retries:
        return client
    return ChatClient(replace(cfg, timeout_s=min(cfg.timeout_s, max(timeout_s, 0.1)),
                              retries=min(cfg.retries, retries)))


# ------------------------------------------------------------------------------------- template
class _Facts:
    """What the generator may look up about hits in the memory (all optional)."""

    def __init__(self, memory: Any) -> None:
        self.memory = memory

    def record(self, node_id: str) -> Any:
        if self.memory is None:
            return None
        try:
            return self.memory.node(node_id)
        except Exception:  # noqa: BLE001 - a hit from another source: no record
            return None

    @property
    def priors(self) -> Any:
        return getattr(self.memory, "priors", None)

    @property
    def geographic(self) -> bool:
        """Whether the memory is of streets (blocks and neighbourhoods), not of a building's floors."""
        src = getattr(self.memory, "meta", {}).get("source")
        return isinstance(src, dict) and src.get("format") == "streetview"

    def room(self, hit: Hit) -> tuple[str, str]:
        """(how to name the hit's region, the id of the region that agrees - "" when none does).

        The hit's own record speaks first (its room is what its text and details say: an answer must
        not put the tv in the living room while the tv's own node says bedroom); else its level-2
        ancestor's type, or name when no type fits; outdoors (street-view memories) its block, by
        name. Never an internal id: a region not summarised yet is named by none."""
        if hit.path:
            first = self.record(hit.path[0])
            if first is not None and getattr(first, "room_type", "") in GEO_KINDS:
                return region_phrase(first.name), hit.path[0]
        own = getattr(self.record(hit.id), "room_guess", "") or ""
        for cid in hit.path:
            if cid.startswith("cluster/2/") or (self.memory is not None and self._level(cid) == 2):
                rec = self.record(cid)
                if rec is None:
                    continue
                name = rec.room_type or region_phrase(rec.name)
                if own:
                    return own, (cid if name == own else "")
                return ("", "") if is_node_id(name) else (name, cid)
        return own, ""

    def _level(self, cid: str) -> int:
        try:
            return int(self.memory.forest.level_of(cid))
        except Exception:  # noqa: BLE001
            return -1

    def knows(self, labels: tuple[str, ...]) -> bool:
        """Whether the memory holds an object with one of ``labels``."""
        if self.memory is None:
            return False
        from memory.retrieval_index import index_for

        return len(index_for(self.memory).labels_matching(labels)) > 0

    def n_floors(self) -> int:
        if self.memory is None:
            return 1
        return max(1, int(self.memory.forest.level_counts().get(3, 1)))

    def distance(self, robot: RobotPose | None, hit: Hit) -> tuple[float, str] | None:
        """(metres, how measured) from the robot to the hit: in a straight line on the robot's floor
        (``distance_to_goal``, the figure a drive there starts from); along the remembered places, by the
        stairs, on another floor; None when unknown."""
        if robot is None:
            return None
        straight = distance_to_goal(robot, hit.position, hit.floor)
        if math.isfinite(straight):
            return straight, "in a straight line"
        g = getattr(self.memory, "graph", None)
        if g is None:
            return None
        try:
            a = g.nearest_place(robot.x, robot.y, robot.floor)
            b = g.nearest_place(hit.position[0], hit.position[1], hit.floor)
            ids = g.place_path(a.id, b.id)
        except Exception:  # noqa: BLE001 - no place on that floor, or no connection: no figure
            return None
        pts = [(robot.x, robot.y)] + [(g.place(i).pose.x, g.place(i).pose.y) for i in ids]
        pts.append((hit.position[0], hit.position[1]))
        return sum(math.dist(p, q) for p, q in zip(pts, pts[1:], strict=False)), "by the stairs"


def _a(phrase: str) -> str:
    return a_phrase(phrase)


def _counted(label: str, n: int) -> str:
    return _a(label) if n == 1 else f"{number_word(n)} {plural(label, n)}"


def _afforded(q: QueryAnalysis, hit: Hit, priors: Any) -> str:
    """How to say the first of the question's needs that ``hit`` satisfies ("" when none is clear)."""
    affs = getattr(priors, "affordances", {}) or {}
    text = f"{hit.label} {hit.name}".lower()
    for aff, _ in q.affordances:
        a = affs.get(aff)
        if a is not None and any(t in text for t in a.things):
            return a.phrase
    return ""


def _wanted(q: QueryAnalysis) -> str:
    """The thing asked for, in words ("" for a need or an image)."""
    return q.target_name or q.target


_EPOCH_DATES = 3.0e8  # timestamps past 1979 are dates, not seconds since the robot started


def _secs(t: float) -> str:
    return f"{t:.1f} s"


class TemplateGenerator:
    """Answers composed from the hits and the memory's records, no LLM."""

    name = "template"

    def __init__(self, *, config: GenerationConfig | None = None, llm: ChatClient | None = None) -> None:
        self.config = config or GenerationConfig()

    def answer(self, query: QueryAnalysis, result: RetrievalResult, *, memory: Any = None,
               robot: Any = None) -> Answer:
        """Answer ``query`` from ``result`` (``memory`` adds rooms, times and path lengths)."""
        facts = _Facts(memory)
        robot = RobotPose.of(robot)
        meta = {"generator": self.name, "retriever": result.retriever}
        if query.type == QueryType.GLOBAL:
            return self._global(query, result, facts, meta)
        if query.type == QueryType.TEMPORAL and not query.target:
            return self._order(query, result, facts, meta)
        if query.target_room and not query.target:
            if any(h.level == 2 for h in result.hits):
                return self._room(query, result, meta)
            # no region of that type: the thing itself may still be in view ("the parking garage")
            syns = getattr(facts.priors, "region_synonyms", {}).get(query.target_room, ())
            query = replace(query, target=query.target_room, target_labels=(query.target_room, *syns))
        return self._thing(query, result, facts, robot, meta)

    # -- one thing ----------------------------------------------------------------------------
    def _where(self, hit: Hit, facts: _Facts, robot: RobotPose | None) -> str:
        room, _ = facts.room(hit)
        parts = []
        if room:
            parts.append(f"in the {room}")
        if (facts.n_floors() > 1 or hit.floor != 0) and not facts.geographic:
            parts.append(f"on the {_FLOOR_WORDS[hit.floor]}" if 0 <= hit.floor < len(_FLOOR_WORDS)
                         else f"on floor {hit.floor}")
        parts.append(f"at ({hit.position[0]:.1f}, {hit.position[1]:.1f})")
        text = " ".join(parts)
        dist = facts.distance(robot, hit)
        if dist is not None:
            text += f", about {dist[0]:.1f} m from you {dist[1]}"
        return text

    def _when(self, hit: Hit, facts: _Facts, last: bool = True) -> str:
        """``"at 237.5 s (step 475)"`` - when the hit was last (or first) seen; "" when unknown."""
        rec = facts.record(hit.id)
        if rec is None:
            return ""
        if hasattr(rec, "last_seen"):
            t, step = (rec.last_seen, rec.last_step) if last else (rec.first_seen, rec.first_step)
        elif hasattr(rec, "timestamp"):
            t, step = rec.timestamp, rec.step
        else:
            return ""
        if t >= _EPOCH_DATES:  # an absolute date (imported data: "2023-12"), not seconds into a run
            d = datetime.fromtimestamp(t, UTC)
            return f"in {d:%B %Y}" if (d.day, d.hour, d.minute) == (1, 0, 0) else f"on {d:%d %B %Y}"
        if t:
            return f"at {_secs(t)} (step {step})"
        return f"at step {step}" if step else ""

    def _thing(self, q: QueryAnalysis, result: RetrievalResult, facts: _Facts, robot: RobotPose | None,
               meta: dict) -> Answer:
        hits = result.hits
        asked = q.target_name or (q.text if q.image is None else "the pictured thing")
        meta["asked"] = asked
        wanted = _wanted(q)
        if not hits:
            return Answer(f"I have not seen {_a(wanted) if wanted else 'anything like that'}.", confident=False,
                          found=False, confidence=0.0, metadata=meta)
        best, conf, why = self._pick(q, result, facts)
        meta["evidence"] = why
        found = conf >= self.config.found_threshold
        if q.type == QueryType.RELATIONAL and any(n.startswith(f"no {q.anchor}") for n in result.notes):
            found, conf = False, min(conf, 0.2)
            wanted = q.anchor_name or q.anchor
        if not found:
            related = [h for h in hits[:3]]
            near = "; ".join(f"{title_of(h)} {self._where(h, facts, None)}" for h in related)
            lead = (f"I have not seen {_a(wanted)}" if wanted and q.type != QueryType.IMPLICIT
                    else f"I do not remember anything that clearly fits \"{q.text.rstrip('?.! ')}\"")
            text = f"{lead}. The nearest related things I remember: {near}."
            return Answer(text, cited=tuple(h.id for h in related), confident=False, found=False,
                          confidence=round(conf, 3), metadata=meta)
        where = self._where(best, facts, robot)
        when = self._when(best, facts, last=q.temporal != "first")
        name = title_of(best)
        quote = quote_of(best, q.text, [*asked_words(q), *(t for t, w in q.categories if w >= 0.8)])
        if q.type == QueryType.IMPLICIT:
            aff = _afforded(q, best, facts.priors)
            lead = f"For {aff}, try" if aff.split(" ", 1)[0] in ("somewhere", "something", "someplace") else "Try"
            text = f"{lead} {name} {where}."
            if quote:
                text += f" I noted: \"{quote}\""
                quote = ""
            others = [h for h in hits[1:4] if h.id != best.id
                      and result.facts.get("similarity", {}).get(h.id, 0.0) >= self.config.found_similarity - 0.05][:2]
            if others:
                text += " Also: " + "; ".join(f"{title_of(h)} {self._where(h, facts, None)}" for h in others) + "."
        elif q.type == QueryType.TEMPORAL:
            text = (f"I {'first' if q.temporal == 'first' else 'last'} saw {name}"
                    + (f" {when}" if when else "") + f", {where}.")
        elif q.type == QueryType.RELATIONAL:
            rel = q.relation.replace("_", " ")
            anchor = f" {rel} the {q.anchor_name}" if q.anchor else ""
            text = f"{capitalised(name)}{anchor} is {where}."
        else:
            text = f"{capitalised(name)} is {where}."
            if when:
                text += f" I last saw it {when}."
        if quote:
            text += f" I noted: \"{quote}\""
        _, region = facts.room(best)  # cite the region the sentence names, never one that contradicts it
        cited = tuple(dict.fromkeys((best.id, *best.path[:1], *((region,) if region else ()))))
        return Answer(text, goal=best.position, goal_floor=best.floor, cited=cited, confident=True, found=True,
                      confidence=round(conf, 3), metadata=meta)

    def _pick(self, q: QueryAnalysis, result: RetrievalResult, facts: _Facts) -> tuple[Hit, float, str]:
        """The hit that answers, how sure we are that it is what was asked for (0..1), and why.

        Evidence: the hit *names* what was asked (its label or a synonym, or the asked-for words in
        its name or caption), and the plain text similarity of question and hit, calibrated on the
        dev question sets (``found_similarity``). A named match is never reported as "not seen"."""
        hits = result.hits
        if q.image is not None and not q.text:
            return hits[0], 1.0, "image query"
        sims = result.facts.get("similarity", {})
        cfg = self.config

        centre = cfg.found_similarity_need if q.type == QueryType.IMPLICIT else cfg.found_similarity

        def sim_conf(h: Hit) -> float:
            v = sims.get(h.id, h.score if result.retriever == "flat" else None)
            if v is None:
                return 0.5
            return float(1.0 / (1.0 + math.exp(-(v - centre) / 0.04)))

        words = asked_words(q)
        for h in hits[:3]:  # a hit that names the asked-for thing answers it, attributes aside
            head_only = (bool(words) and " " in q.target and not names_thing(h, words[:-1])
                         and names_thing(h, words[-1:]))
            if head_only and sim_conf(h) < 0.5:  # "ski slopes" is not any slope
                continue
            shared = shared_words(h, q.target) if words else 0
            close = sim_conf(h)
            if words and (names_thing(h, words) or (shared >= 2 and close >= 0.2) or (shared == 1 and close >= 0.5)):
                if q.colour or q.material:
                    body = f"{h.name} {h.text}".lower()
                    if any(w and w not in body and not (w == "wood" and "wooden" in body)
                           for w in (q.colour, q.material)):
                        continue
                return h, max(0.9, sim_conf(h)), "named"
        if q.type == QueryType.IMPLICIT and q.categories:
            strong = [t for t, w in q.categories if w >= 0.99]
            for h in hits[:3]:
                if names_thing(h, strong):
                    return h, max(0.85, sim_conf(h)), "satisfies the need"
        best = hits[0]
        if words and q.type != QueryType.IMPLICIT:  # asked for a thing by name, and no hit names it
            return best, min(0.6, sim_conf(best)) * 0.5, "not named"
        return best, sim_conf(best), "similarity"

    # -- several things -----------------------------------------------------------------------
    def _order(self, q: QueryAnalysis, result: RetrievalResult, facts: _Facts, meta: dict) -> Answer:
        hits = [h for h in result.hits if h.level == 0]
        if not hits:
            return Answer("I have not seen anything yet.", confident=False, found=False, confidence=0.0, metadata=meta)
        first = q.temporal == "first"
        when = self._when(hits[0], facts, last=not first)
        lead = hits[:3]
        names = join_words([f"the {h.name}" for h in lead])
        verb = "The first things I saw were" if first else "The last things I saw were"
        if len(lead) == 1:
            verb = "The first thing I saw was" if first else "The last thing I saw was"
        text = f"{verb} {names}" + (f", {when}" if when else "") + "."
        return Answer(text, goal=hits[0].position, goal_floor=hits[0].floor, cited=tuple(h.id for h in lead),
                      metadata=meta)

    def _room(self, q: QueryAnalysis, result: RetrievalResult, meta: dict) -> Answer:
        rooms = [h for h in result.hits if h.level == 2]
        if not rooms:
            return Answer(f"I have not seen {_a(q.target_room)}.", confident=False, found=False, confidence=0.0,
                          metadata=meta)
        r = rooms[0]
        more = f" (I know {number_word(len(rooms))} of them)" if len(rooms) > 1 else ""
        text = f"The {q.target_room} is around ({r.position[0]:.1f}, {r.position[1]:.1f}){more}: {r.text}"
        return Answer(text, goal=r.position, goal_floor=r.floor, cited=tuple(h.id for h in rooms), metadata=meta)

    def _global(self, q: QueryAnalysis, result: RetrievalResult, facts: _Facts, meta: dict) -> Answer:
        f = result.facts
        if not f:
            return self._global_from_leaves(q, result, facts, meta)
        types: dict[str, int] = f.get("room_types", {})
        rooms, floors = int(f.get("rooms", 0)), int(f.get("floors", 1))
        listed = join_words([_counted(t, n) for t, n in types.items()])
        cited = tuple(h.id for h in result.hits[:5])
        counting_things = q.global_kind == "count" and q.count_of not in ("room", "floor")
        if facts.geographic and f.get("site") and not counting_things:
            # streets have blocks and neighbourhoods, not rooms and floors: the site's own description answers
            return Answer(str(f["site"]), cited=cited, metadata=meta)
        if q.global_kind == "count":
            what = q.count_of
            if what == "room":
                on = f" on {number_word(floors)} {plural('floor', floors)}" if floors > 1 else ""
                text = f"I have mapped {number_word(rooms)} {plural('room', rooms)}{on}"
                text += f": {listed}." if listed else "."
            elif what == "floor":
                text = f"The place has {number_word(floors)} {plural('floor', floors)}, with {number_word(rooms)} " \
                       f"{plural('room', rooms)} in all."
            elif what in types or "count" not in f:
                n = types.get(what, 0)
                text = (f"I have seen {_counted(what, n)}." if n else f"I have not seen any {plural(what)}.")
                cited = tuple(h.id for h in result.hits if h.label == what)[:8] or cited
            else:
                n = int(f["count"])
                where = f" in the {q.room}" if q.room else ""
                text = (f"I have seen {_counted(what, n)}{where}." if n
                        else f"I have not seen any {plural(what)}{where}.")
            return Answer(text, cited=cited, metadata=meta)
        if q.global_kind == "types":
            text = f"There are {number_word(rooms)} {plural('room', rooms)}" + (f": {listed}." if listed else ".")
            return Answer(text, cited=cited, metadata=meta)
        if q.room:
            rs = [h for h in result.hits if h.level == 2 and h.label == q.room]
            if not rs:
                return Answer(f"I have not seen {_a(q.room)}.", confident=False, found=False, confidence=0.0,
                              metadata=meta)
            text = " ".join(h.text for h in rs[:3])
            return Answer(text, goal=rs[0].position, goal_floor=rs[0].floor, cited=tuple(h.id for h in rs[:3]),
                          metadata=meta)
        text = f.get("site") or f"A place with {number_word(rooms)} {plural('room', rooms)}: {listed}."
        if floors > 1:
            text += " " + " ".join(s for _, s in sorted(f.get("floor_summaries", {}).items()))
        return Answer(text, cited=cited, metadata=meta)

    def _global_from_leaves(self, q: QueryAnalysis, result: RetrievalResult, facts: _Facts, meta: dict) -> Answer:
        """Only single nodes were retrieved (the flat baseline): say what they show, no more."""
        seen: dict[str, str] = {}
        for h in result.hits:
            room, rid = facts.room(h)
            if room:
                seen.setdefault(rid or room, room)
        n = len(result.hits)
        if not seen:
            return Answer(f"From the {number_word(n)} things I retrieved I cannot tell.", confident=False,
                          found=False, confidence=0.0,
                          cited=tuple(h.id for h in result.hits), metadata=meta)
        kinds: dict[str, int] = {}
        for room in seen.values():
            kinds[room] = kinds.get(room, 0) + 1
        listed = join_words([_counted(t, c) for t, c in kinds.items()])
        text = (f"From the {number_word(n)} things I retrieved I can see {number_word(len(seen))} "
                f"{plural('room', len(seen))}: {listed}.")
        return Answer(text, confident=False, cited=tuple(h.id for h in result.hits), metadata=meta)


# ------------------------------------------------------------------------------------------ LLM
_SYSTEM = ("You answer questions about places a robot has explored, using only the context. "
           "Each context line starts with a node id in square brackets. Answer in one or two sentences and cite "
           "the ids you use in square brackets, like [obj/bed/1].")
_ID_RE = re.compile(r"\[([A-Za-z0-9_./:-]+)\]")


class LLMGenerator:
    """Answers written by an OpenAI-compatible chat model, citing node ids; template fallback."""

    name = "llm"

    def __init__(self, *, config: GenerationConfig | None = None, llm: ChatClient | None = None) -> None:
        self.config = config or GenerationConfig()
        self.client = llm
        self.fallback = TemplateGenerator(config=self.config)

    def context(self, query: QueryAnalysis, result: RetrievalResult) -> list[str]:
        """The context lines of the prompt (one per hit, plus counted facts)."""
        lines = []
        for h in result.hits[: self.config.max_context]:
            text = h.text if h.text and h.text != h.name else ""
            lines.append(f"[{h.id}] {h.name}" + (f": {text}" if text else "")
                         + f" (at {h.position[0]:.1f}, {h.position[1]:.1f}, floor {h.floor})")
        f = result.facts
        if f.get("rooms") is not None:
            types = ", ".join(f"{n} {t}" for t, n in f.get("room_types", {}).items())
            lines.append(f"Facts: {f['rooms']} rooms ({types}) on {f.get('floors', 1)} floor(s); "
                         f"{f.get('objects', 0)} objects seen.")
        return lines

    def answer(self, query: QueryAnalysis, result: RetrievalResult, *, memory: Any = None,
               robot: Any = None) -> Answer:
        """The LLM's answer, or the template answer with ``metadata["fallback"]`` saying why."""
        base = self.fallback.answer(query, result, memory=memory, robot=robot)

        def fallback(reason: str) -> Answer:
            log.info("LLM generator fell back to the template: %s", reason)
            return replace(base, metadata={**base.metadata, "generator": "template", "requested": self.name,
                                           "fallback": True, "reason": reason})

        if self.client is None:
            return fallback("no LLM is configured (add an 'llm' section to the config)")
        if not result.hits:
            return fallback("nothing was retrieved to answer from")
        lines = self.context(query, result)
        question = query.text or "What is shown in the query image?"
        messages = [{"role": "system", "content": _SYSTEM},
                    {"role": "user", "content": "Context:\n" + "\n".join(lines) + f"\n\nQuestion: {question}\n"
                                                "Answer and cite ids:"}]
        client = bounded_client(self.client, self.config.timeout_s, self.config.retries)
        try:
            r = client.chat(messages, max_tokens=self.config.max_tokens, temperature=self.config.temperature)
        except LLMError as e:
            return fallback(f"{e.__class__.__name__}: {e}")
        text = " ".join(r.text.split())
        known = {h.id: h for h in result.hits[: self.config.max_context]}
        cited = tuple(dict.fromkeys(i for i in _ID_RE.findall(text) if i in known))
        if not cited:
            cited = tuple(i for i in known if i in text)
        if not text:
            return fallback("the LLM returned an empty answer")
        if not cited:
            return fallback("the LLM answer cited no node ids from the context")
        goal_hit = next((known[i] for i in cited if known[i].level == 0), None) or known[cited[0]]
        goal = goal_hit.position if base.goal is not None or goal_hit.level == 0 else base.goal
        meta = {**base.metadata, "generator": self.name, "fallback": False, "model": r.model,
                "llm_latency_ms": round(r.latency_ms, 1), "finish_reason": r.finish_reason}
        return Answer(text[:2000], goal=goal, goal_floor=goal_hit.floor if goal is not None else None, cited=cited,
                      confident=base.confident, found=base.found, confidence=base.confidence, metadata=meta)


GENERATORS.register("template", TemplateGenerator)
GENERATORS.register("llm", LLMGenerator)
