"""How answers speak of what they rest on: the words that name what was asked, whether a hit names
them, what to call a hit in a sentence (never an internal id), the caption sentence to quote, and how
a region's name reads mid-sentence. Pure functions of hits and analyses; ``memory.generation`` uses them."""
from __future__ import annotations

import re
from typing import Any

from memory.query import QueryAnalysis, QueryType
from memory.retrieval import Hit

__all__ = ["asked_words", "names_thing", "shared_words", "title_of", "first_sentence", "quote_of", "capitalised",
           "region_phrase", "a_phrase", "is_node_id", "GENERIC_WORDS", "REGION_WORDS"]


def asked_words(q: QueryAnalysis) -> list[str]:
    """Words that name what was asked for: the target, its synonyms (for implicit needs: none)."""
    if q.type == QueryType.IMPLICIT:
        return []
    out = [*q.target_labels, q.target] if q.target else []
    if q.target and " " in q.target.strip():  # "security scanner": a scanner of another kind still names it
        out.append(q.target.split()[-1])
    return [w.lower() for w in dict.fromkeys(out) if w]


def names_thing(hit: Hit, words: Any) -> bool:
    """Whether the hit's label, name or caption names one of ``words`` (whole words, plural too)."""
    body = f" {hit.label} {hit.name} {hit.text} ".lower()
    body = re.sub(r"[^a-z0-9]+", " ", body)
    for w in words:
        w = re.sub(r"[^a-z0-9]+", " ", w.lower()).strip()
        if w and (f" {w} " in body or f" {w}s " in body or f" {w}es " in body):
            return True
    return False


GENERIC_WORDS = frozenset("a an the my some any thing things stuff one someone something down up in on of".split())


def shared_words(hit: Hit, target: str) -> int:
    """How many of the target's words the hit's name or text holds, when that is at least half of
    them ("fake lettuce decorations" and a "fake lettuce cabbage"), else 0."""
    words = [w for w in re.findall(r"[a-z0-9]+", target.lower()) if w not in GENERIC_WORDS]
    n = sum(names_thing(hit, [w]) for w in words)
    return n if words and n * 2 >= len(words) and len(target.split()) > 1 else 0


def title_of(hit: Hit) -> str:
    """What to call a hit in a sentence: "the round metal table", "the view "Forbes Avenue Bus Stop"",
    "the cafeteria area" - never an internal id."""
    if hit.kind == "place":
        first = first_sentence(hit.text)
        if first and len(first) <= 60:
            return f"the view \u201c{first}\u201d"
        return "a view I took"
    name = hit.name if not is_node_id(hit.name) else (hit.label or "that place")
    return f"the {name}"


def first_sentence(text: str) -> str:
    t = " ".join(str(text).split())
    m = re.match(r"(.+?[.!?])(\s|$)", t)
    return (m.group(1) if m else t).rstrip(".")


def quote_of(hit: Hit, question: str = "", words: Any = ()) -> str:
    """The sentence of a place's caption that bears on the question (it names what was asked, or
    shares the most words with the question); "" for bare objects."""
    if hit.kind != "place":
        return ""
    t = " ".join(str(hit.text).split())
    first = first_sentence(t)
    body = t[len(first):].lstrip(". ") if first and len(first) <= 60 and len(t) > len(first) + 2 else t
    sentences = [x.strip() for x in re.split(r"(?<=[.!?])\s+", body) if x.strip()]
    if not sentences:
        return ""
    q = {w for w in re.findall(r"[a-z0-9]+", question.lower()) if len(w) > 2 and w not in GENERIC_WORDS}

    def rank(x: str) -> tuple[int, int]:
        low = f" {re.sub(r'[^a-z0-9]+', ' ', x.lower())} "
        named = any(f" {re.sub(r'[^a-z0-9]+', ' ', w.lower()).strip()} " in low for w in words if w)
        return int(named), len(q & set(low.split()))

    best = max(sentences, key=rank)  # the first of equals: captions open with the gist
    return best if len(best) <= 240 else best[:237].rsplit(" ", 1)[0] + "..."


def a_phrase(phrase: str) -> str:
    """``phrase`` with its indefinite article: "an office", "a kitchen", "another room"."""
    if phrase.lower().startswith("other "):
        return "an" + phrase
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def is_node_id(name: str) -> bool:
    """Whether ``name`` is an internal node id (``cluster/4/0``, ``place/17``, ``obj/tv/2``), which no
    sentence may show."""
    return re.match(r"^(cluster|place|obj)/", name.strip()) is not None


def capitalised(s: str) -> str:
    return s[:1].upper() + s[1:]


REGION_WORDS = frozenset("area open room region place block street neighbourhood neighborhood zone site".split())


def region_phrase(name: str) -> str:
    """A region's name as it reads mid-sentence: common words lower-cased, proper names kept,
    the part after a colon (its contents list) left out."""
    head = name.split(":", 1)[0].strip()
    first = head.split(" ", 1)[0]
    return head[:1].lower() + head[1:] if first.lower() in REGION_WORDS else head
