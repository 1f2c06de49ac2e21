"""The ``openai`` SDK's exceptions as our ``LLMError`` subclasses, each one line that names the URL.

``openai.APITimeoutError`` → ``LLMTimeout`` (``LLMUnavailable`` when it was the connect that timed out),
``APIConnectionError`` → ``LLMUnavailable`` (refused, unknown host, TLS, dropped), ``APIStatusError`` and its
subclasses (``BadRequestError``, ``AuthenticationError``, ``NotFoundError``, ``RateLimitError``, …) →
``LLMBadResponse`` carrying the HTTP status, with a hint for the usual causes. The number of attempts the SDK
made is read from the last request it sent (its ``x-stainless-retry-count`` header).
"""
from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from memory.errors import LLMBadResponse, LLMError, LLMTimeout, LLMUnavailable

__all__ = ["from_sdk_error", "attempts_of", "error_text", "int_fields", "snippet", "one_line", "some"]

_HINTS = {401: " (check the API key)", 403: " (check the API key)",
          404: " (does base_url end in /v1, and is the model name right?)", 429: " (rate limited)"}


def from_sdk_error(e: BaseException, url: str, *, timeout_s: float, connect_s: float, has_key: bool) -> LLMError:
    """One ``LLMError`` for an exception raised by the ``openai`` SDK (or its transport) calling ``url``."""
    import openai

    attempts = attempts_of(e)
    after = f" (after {attempts} attempts)" if attempts > 1 else ""
    if isinstance(e, openai.APIStatusError):
        status = e.status_code
        resp = e.response
        hint = _HINTS.get(status, "")
        if status in (401, 403) and not has_key:
            hint = " (no API key was sent: set the variable named by llm.api_key_env, or llm.api_key)"
        try:
            detail = error_text(_loads_or(resp.content))
        except Exception:  # noqa: BLE001 - a body not read (a streamed reply): the SDK's summary
            detail = one_line(e.message)
        retry_after = (resp.headers.get("retry-after") or "").strip()
        return LLMBadResponse(f"{url} returned HTTP {status} {resp.reason_phrase}{hint}: {detail}{after}", url=url,
                              status=status, attempts=attempts,
                              retry_after_s=float(retry_after) if retry_after.isdigit() else None)
    chain = list(_chain(e))
    if any(type(x).__name__ == "ConnectTimeout" for x in chain):
        return LLMUnavailable(f"cannot connect to {url}: no answer within {connect_s:g} s{after}", url=url,
                              attempts=attempts)
    if isinstance(e, openai.APITimeoutError) or any(type(x).__name__.endswith("Timeout") for x in chain):
        return LLMTimeout(f"{url} did not answer within {timeout_s:g} s{after}", url=url, attempts=attempts)
    if isinstance(e, openai.APIConnectionError) or not isinstance(e, openai.OpenAIError):
        return LLMUnavailable(_connection_text(chain, url) + after, url=url, attempts=attempts)
    if isinstance(e, openai.APIError):  # e.g. APIResponseValidationError, an error event
        detail = error_text(e.body) if e.body else one_line(e.message)
        return LLMBadResponse(f"{url} returned an error: {detail}{after}", url=url, attempts=attempts)
    return LLMError(f"request to {url} failed: {e.__class__.__name__}: {one_line(str(e))}", url=url,
                    attempts=attempts)


def attempts_of(e: BaseException) -> int:
    """Requests the SDK made before raising ``e``: its retry counter on the last one, plus one."""
    request = getattr(e, "request", None)
    try:
        return int(request.headers.get("x-stainless-retry-count", "0")) + 1 if request is not None else 1
    except (AttributeError, ValueError):
        return 1


def _chain(e: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def _connection_text(chain: list[BaseException], url: str) -> str:
    for x in chain:
        if isinstance(x, ConnectionRefusedError):
            return f"cannot connect to {url}: connection refused (is the server running?)"
        if isinstance(x, socket.gaierror):
            return f"cannot connect to {url}: unknown host ({x.strerror or x})"
        if isinstance(x, ssl.SSLError):
            return f"cannot connect to {url}: TLS error ({one_line(str(x))})"
    names = {type(x).__name__ for x in chain}
    if names & {"RemoteProtocolError", "RemoteDisconnected"}:
        return f"{url} closed the connection without answering"
    last = chain[-1]
    reason = last.strerror if isinstance(last, OSError) and last.strerror else str(last) or type(last).__name__
    return f"cannot talk to {url}: {one_line(reason)}"


def _loads_or(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw.decode("utf-8", "replace")


def error_text(obj: Any) -> str:
    """The human part of an error body: OpenAI's ``{"error": {"message": ...}}`` or a snippet."""
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or json.dumps(err)
        else:
            msg = str(err)
        return one_line(str(msg)) or "(empty)"
    return one_line(str(obj)) or "(empty body)"


def int_fields(d: Mapping[str, Any]) -> dict[str, int]:
    """The integer-valued entries of a usage mapping (nested detail objects dropped)."""
    return {str(k): int(v) for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def snippet(raw: bytes | str, n: int = 120) -> str:
    """The start of a body, quoted on one line."""
    text = one_line(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)
    return repr(text if len(text) <= n else text[:n] + "…")


def one_line(s: str, n: int = 300) -> str:
    """``s`` with whitespace runs folded, cut to ``n`` characters."""
    s = " ".join(s.split())
    return s if len(s) <= n else s[:n - 1] + "…"


def some(items: Sequence[str], n: int = 3) -> str:
    """The first ``n`` items, and how many there are when more."""
    return ", ".join(items[:n]) + (f" … ({len(items)})" if len(items) > n else "")
