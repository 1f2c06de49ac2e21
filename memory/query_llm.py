"""An LLM's help with a question, when one is configured: what would meet an implicit request.

``expand_with_llm(analysis, client)`` asks any OpenAI-compatible chat model (``memory.llm.ChatClient``)
for the kinds of thing that would help and merges them into the analysis as soft evidence beside the
prior pack's; on any failure the analysis comes back unchanged with a note saying why.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from memory.query import QueryAnalysis, QueryType

__all__ = ["expand_with_llm"]

_LLM_NEED = ("A robot remembers objects and places it has seen. Someone says: \"{q}\". List up to {n} kinds of "
             "object or place (two or three words each) that would help them, most useful first, one per line, "
             "no other words.")
_THING_RE = re.compile(r"^[a-z][a-z' -]{1,40}$")


def expand_with_llm(q: QueryAnalysis, client: Any, *, max_things: int = 8,
                    max_tokens: int = 64) -> tuple[QueryAnalysis, str]:
    """An implicit question's things, suggested by an LLM (``memory.llm.ChatClient``) and merged
    into ``q.categories`` as soft evidence beside the prior pack's. Returns the analysis and a note
    (what was added, or why nothing was: the question is answered without the LLM then)."""
    if q.type != QueryType.IMPLICIT or not q.text:
        return q, ""
    from memory.errors import LLMError

    messages = [{"role": "user", "content": _LLM_NEED.format(q=q.text.replace('"', "'"), n=max_things)}]
    try:
        r = client.chat(messages, max_tokens=max_tokens, temperature=0.0)
    except LLMError as e:
        return q, f"LLM expansion skipped: {e.__class__.__name__}: {e}"
    things: list[str] = []
    for line in re.split(r"[\n,;]+", r.text.lower()):
        t = re.sub(r"^[\s\-*\d.)]+", "", line).strip(" .:\"'")
        if _THING_RE.match(t) and len(t.split()) <= 4 and t not in things:
            things.append(t)
    things = things[:max_things]
    if not things:
        return q, "LLM expansion skipped: the reply named no things"
    cats = dict(q.categories)
    for i, t in enumerate(things):
        cats[t] = max(cats.get(t, 0.0), round(0.95 - 0.05 * i, 4))
    ranked = tuple(sorted(cats.items(), key=lambda kv: (-kv[1], kv[0])))
    return replace(q, categories=ranked, expansion=f"{q.text} {', '.join(things[:4])}"), \
        f"LLM suggested: {', '.join(things)}"
