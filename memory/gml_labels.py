"""Engine label words: ``parse_label`` reads an AirSim object label (``chairOrange_lowBack33_123``)
into a category, colour, material, attributes and room (``ParsedLabel``), using the word tables
below; ``plural_phrase`` writes ``"an orange chair"`` / ``"3 people"`` for captions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ParsedLabel", "parse_label", "plural_phrase"]


@dataclass(frozen=True)
class ParsedLabel:
    """An engine label read as words: ``chairOrange_lowBack33_123`` -> chair, orange, ("low back",)."""

    category: str
    colour: str = ""
    material: str = ""
    attributes: tuple[str, ...] = ()
    room: str = ""
    raw: str = ""
    given: bool = False  # taken from our own export's fields rather than parsed


_COLOURS = {"red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "black", "grey", "brown",
            "beige", "cream", "charcoal", "silver", "gold", "tan", "navy", "teal"}
_MATERIALS = {"wooden": "wood", "wood": "wood", "metal": "metal", "steel": "metal", "leather": "leather",
              "glass": "glass", "fabric": "fabric", "plastic": "plastic", "marble": "marble", "stone": "stone"}
_FIXES = {"enrty": "entry", "refigerator": "refrigerator", "ajustable": "adjustable", "gray": "grey",
          "intergalatic": "intergalactic", "med": "medium", "capt": "captain", "tv": "TV"}
_DROP = {"blueprint", "bp", "sm", "generic", "setup", "mesh", "actor"}
_ROOMS = {"cafeteria", "snack shop", "kitchen", "lobby", "office", "bathroom", "bedroom", "garage"}
_ALIASES = {"base character": "person", "character": "person", "trashcan": "trash can"}
_CATEGORIES = {
    "chair", "table", "door", "sofa", "TV", "person", "cabinet", "bench", "light", "lamp", "sign", "exit sign",
    "plant", "palm", "planter", "desk", "reception desk", "monitor", "computer monitor", "counter", "bin",
    "recycle bin", "recycle station", "trash can", "fire extinguisher", "refrigerator", "register", "card reader",
    "shaker", "salt shaker", "pepper shaker", "napkin holder", "cup holder", "plant holder", "pillow", "block",
    "cube", "drone", "scanner", "entry scanner", "wall", "vent", "tower", "light bar", "coffee table", "shelf",
    "bookshelf", "window", "bed", "toilet", "sink", "stove", "oven", "microwave", "laptop", "computer", "rug",
    "curtain", "painting", "picture", "mirror", "clock", "vase", "bottle", "cup", "box", "car", "tree", "bush",
    "building", "stairs", "elevator", "railing", "column", "pillar", "printer", "phone", "keyboard", "stool"}
_ADJECTIVES = {"round", "square", "full", "half", "small", "tall", "hanging", "grill", "buffet", "low", "high",
               "long", "large", "napkin", "pepper", "salt", "cola", "lunch", "food", "exit", "fire", "reception",
               "recycle", "trash", "can", "holder", "extinguisher", "card", "reader", "coffee", "entry", "base",
               "character"}
_VOCAB = {w for c in _CATEGORIES for w in c.lower().split()} | _COLOURS | set(_MATERIALS) | _ADJECTIVES
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def _segment(word: str) -> list[str]:
    """Split a lower-case compound (``roundmetaltable``) into known words, or keep it whole."""
    if word in _VOCAB or len(word) < 6:
        return [word]
    best: list[list[str] | None] = [[]] + [None] * len(word)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 12), end):
            if best[start] is not None and word[start:end] in _VOCAB:
                cand = best[start] + [word[start:end]]
                if best[end] is None or len(cand) < len(best[end]):
                    best[end] = cand
    return best[-1] if best[-1] and len(best[-1]) > 1 else [word]


def _singular(phrase: str) -> str:
    head, _, last = phrase.rpartition(" ")
    if last.endswith("s") and last[:-1].lower() in _VOCAB:
        return f"{head} {last[:-1]}".strip()
    return phrase


def parse_label(raw: str) -> ParsedLabel:
    """Read an engine object label: split ``_`` parts and camelCase, drop numeric suffixes, variant
    letters and engine words (``Blueprint``), split compounds (``roundmetaltable``), fix known
    misspellings, and pick out the category, a colour, a material and a leading room namespace."""
    parts = []
    for part in raw.split("_"):
        words = []
        for w in _CAMEL.findall(part):
            w = _FIXES.get(w.lower(), w.lower())
            if w.isdigit() or len(w) < 2 or w in _DROP:
                continue
            words.extend(w.split() if " " in w else _segment(w))
        if words:
            parts.append(words)
    room = ""
    flat = " ".join(" ".join(p) for p in parts)
    for r in sorted(_ROOMS, key=len, reverse=True):
        n = len(r.split())
        if flat.startswith(r + " ") and parts and len(parts[0]) >= n:
            room, parts[0] = r, parts[0][n:]
            parts = [p for p in parts if p]
            break
    colours, material, rest = [], "", []
    for words in parts:
        keep = []
        for w in words:
            if w in _COLOURS:
                colours.append(w)
            elif w in _MATERIALS and not material:
                material = _MATERIALS[w]
            else:
                keep.append(w)
        rest.append(keep)
    category, attributes = "", []
    for words in rest:
        if category:
            attributes.append(" ".join(words))
            continue
        for n in (3, 2, 1):
            hit = next((s for s in range(len(words) - n, -1, -1)
                        if _ALIASES.get(" ".join(words[s:s + n]), _singular(" ".join(words[s:s + n]))) in _CATEGORIES
                        or " ".join(words[s:s + n]) in _ALIASES), None)
            if hit is not None:
                phrase = " ".join(words[hit:hit + n])
                category = _ALIASES.get(phrase, _singular(phrase))
                attributes += [" ".join(words[:hit]), " ".join(words[hit + n:])]
                break
        else:
            attributes.append(" ".join(words))
    if not category:
        first = next((a for a in attributes if a), "")
        category, attributes = (first or "object"), [a for a in attributes if a != first] if first else attributes
    return ParsedLabel(category, " ".join(colours), material, tuple(a for a in attributes if a), room, raw)


def plural_phrase(name: str, count: int) -> str:
    """``"a glass door"``, ``"an orange chair"``, ``"3 people"``, ``"2 benches"``."""
    if count == 1:
        return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
    head, _, last = name.rpartition(" ")
    if last == "person":
        last = "people"
    elif last.endswith(("s", "sh", "ch", "x", "z")):
        last += "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{count} {head + ' ' if head else ''}{last}"
