"""Word normalisation shared by the query analyser and the summarisers.

``stem`` is the Snowball English stemmer (PyStemmer) with a few irregular verb forms mapped to their
lemma first ("slept" -> "sleep"), so "napping", "naps" and "nap" meet. ``singular`` turns a plural noun
into its singular for display names ("benches" -> "bench", "campus" stays); it is deliberately
conservative, since a wrong singular shows in an answer while a missed one only reads a little long.
"""

from __future__ import annotations

import functools

import Stemmer

_STEMMER = Stemmer.Stemmer("english")

# Irregular forms the stemmer cannot reach, mapped to the lemma whose stem they should share.
_IRREGULAR = {"slept": "sleep", "ate": "eat", "took": "take", "lying": "lie", "lay": "lie", "sat": "sit",
              "ran": "run", "wrote": "write", "clothes": "clothes"}


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball stem of a lower-case word (irregular verb forms through their lemma)."""
    return _STEMMER.stemWord(_IRREGULAR.get(word, word))


@functools.lru_cache(maxsize=65536)
def singular(word: str) -> str:
    """A lower-case plural noun made singular; other words unchanged."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ous")):
        return word[:-1]
    return word
