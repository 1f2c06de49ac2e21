"""Exception tree of the memory package, rooted in ``EmbodiedMemoryError``.

A flat module on purpose: every memory component adds its classes here, so callers can catch
one base (or ``sim.errors.LabError`` at the CLI / GUI boundary) and show one clear line.
"""
from __future__ import annotations

from sim.errors import LabError

__all__ = [
    "EmbodiedMemoryError",
    "EncoderError",
    "LLMError",
    "LLMUnavailable",
    "LLMTimeout",
    "LLMBadResponse",
    "LLMServerError",
]


class EmbodiedMemoryError(LabError):
    """Base error of the memory package."""


class EncoderError(EmbodiedMemoryError):
    """An encoder cannot be built (missing weights, bad checkpoint) or cannot encode this input."""


class LLMError(EmbodiedMemoryError):
    """A chat request to an OpenAI-compatible server failed.

    ``url`` is the endpoint that was called, ``status`` the HTTP status when the server answered
    with one, ``attempts`` how many requests were made before giving up, ``retry_after_s`` the
    wait a server asked for (HTTP ``Retry-After``).
    """

    def __init__(self, message: str, *, url: str = "", status: int | None = None, attempts: int = 0,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts
        self.retry_after_s = retry_after_s


class LLMUnavailable(LLMError):
    """The server cannot be reached (connection refused or reset, unknown host)."""


class LLMTimeout(LLMError):
    """The server did not answer within the configured timeout."""


class LLMBadResponse(LLMError):
    """The server answered with an HTTP error, non-JSON, or JSON of the wrong shape."""


class LLMServerError(LLMError):
    """A local LLM server (``memory.llm_server``) could not be started."""
