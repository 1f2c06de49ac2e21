"""A client for OpenAI-compatible chat servers (OpenAI, Ollama, vLLM, llama.cpp) on the official ``openai`` package.

* ``chat`` (plain or streamed, text pieces to ``on_token`` as they arrive), ``list_models`` and ``check``
  (the settings dialog's "Test connection") go through ``openai.OpenAI(base_url=...)`` and its typed
  responses; the package is imported on the first request, so commands that never talk to an LLM do not pay for it.
* Timeouts and retries are the SDK's: ``timeout_s`` bounds each read (the whole wait for a plain answer,
  the wait for each streamed chunk), connecting is bounded by ``min(timeout_s, 10 s)``; connection errors,
  timeouts, HTTP 408/409/429 and 5xx are retried ``retries`` times with the SDK's backoff (0.5 s doubling up to
  8 s, with jitter; a server's ``Retry-After`` is honoured). A stream is never retried once it has begun, so
  ``on_token`` never sees text twice.
* Every failure raises ``LLMUnavailable`` / ``LLMTimeout`` / ``LLMBadResponse`` with one line naming the URL.
* A circuit breaker per server (``memory.llm_breaker``): after ``pause_after`` chat calls in a row that could
  not reach it, chats to that server fail at once with ``LLMUnavailable`` for ``pause_s`` seconds.

The API key is read once, when the client is built: ``config.api_key`` or else the environment variable
``config.api_key_env``.
"""
from __future__ import annotations

import base64
import functools
import io
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Annotated, Any
from urllib.parse import urlsplit

import numpy as np
from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, ValidationError

from memory.errors import LLMBadResponse, LLMError, LLMTimeout, LLMUnavailable
from memory.llm_breaker import breaker_for
from sim.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["LLMConfig", "ChatResult", "ChatClient", "image_message", "Message"]

Message = Mapping[str, Any]

_CONNECT_TIMEOUT_S = 10.0  # a dead host should not eat a long generation timeout
_HINTS = {401: " (check the API key)", 403: " (check the API key)",
          404: " (does base_url end in /v1, and is the model name right?)", 429: " (rate limited)"}


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    try:
        ok = parts.scheme in ("http", "https") and parts.hostname and not (parts.query or parts.fragment)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"base_url must look like http://host:port/v1 (no query or fragment), got {url!r}")
    return url


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """Where the chat server is and how to talk to it; a bad value raises ``ConfigError`` naming it.

    * ``base_url`` — the API root, e.g. ``http://127.0.0.1:8080/v1`` or ``https://api.openai.com/v1``.
    * ``model`` — model name sent with each request (``""`` sends none: single-model servers such
      as llama.cpp answer with theirs).
    * ``api_key`` — the key itself (prefer ``api_key_env``); never shown in ``repr``.
    * ``api_key_env`` — environment variable holding the key when ``api_key`` is unset (``""``: none).
    * ``timeout_s`` — seconds one attempt may wait for the answer (plain) or for each chunk (streaming).
    * ``retries`` — extra attempts after a connection error, timeout, HTTP 408/409/429 or 5xx.
    * ``backoff_s`` — accepted so existing configs load, not used: the ``openai`` SDK waits 0.5 s
      before the first retry, doubling up to 8 s (see ``max_wait_s``).
    * ``temperature``, ``max_tokens``, ``stream`` — request defaults, overridable per call.
    * ``pause_after``, ``pause_s`` — the circuit breaker: after this many failed calls in a row, stop
      asking the server for this many seconds (``pause_after: 0`` never stops).
    """

    __pydantic_config__ = ConfigDict(extra="forbid")
    base_url: Annotated[str, AfterValidator(_check_url)] = "http://127.0.0.1:8080/v1"
    model: str = ""
    api_key: str | None = field(default=None, repr=False)
    api_key_env: Annotated[str, Field(pattern=r"^([A-Za-z_][A-Za-z0-9_]*)?$")] = "OPENAI_API_KEY"
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    backoff_s: Annotated[float, Field(ge=0, le=60)] = 0.5
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.2
    max_tokens: Annotated[int, Field(ge=1)] = 512
    stream: bool = False
    pause_after: Annotated[int, Field(ge=0, le=1000)] = 3
    pause_s: Annotated[float, Field(gt=0, le=86400)] = 60.0

    def __post_init__(self) -> None:
        # built directly (the settings dialog, code): the same pydantic checks as loading the YAML section
        if _CHECKING.get():
            return
        token = _CHECKING.set(True)
        try:
            _adapter().validate_json(json.dumps({f.name: getattr(self, f.name) for f in fields(self)}), strict=True)
        except ValidationError as e:
            err = e.errors(include_url=False)[0]
            name = ".".join(map(str, err["loc"]))
            raise ConfigError(f"invalid {name}: {err['ctx']['error']}" if err["type"] == "value_error"
                              else f"{name}: {err['msg']}, got {err['input']!r}") from None
        finally:
            _CHECKING.reset(token)

    def max_wait_s(self) -> float:
        """Upper bound of one call's time on a silent server (all attempts plus the SDK's backoffs, 0.5 s
        doubling up to 8 s)."""
        return self.timeout_s * (self.retries + 1) + sum(min(0.5 * 2 ** i, 8.0) for i in range(self.retries))


_CHECKING: ContextVar[bool] = ContextVar("llm_config_checking", default=False)


@functools.cache
def _adapter() -> TypeAdapter:
    return TypeAdapter(LLMConfig)


@dataclass(frozen=True)
class ChatResult:
    """One chat completion: the text, who answered, why it stopped, tokens used, time taken."""

    text: str
    model: str
    finish_reason: str
    usage: dict[str, int]
    latency_ms: float
    attempts: int


class ChatClient:
    """Talks to one OpenAI-compatible server; safe to share across threads (the only state kept between calls
    is the server's circuit breaker, ``memory.llm_breaker``, and its ``openai`` client, shared by all its clients)."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        env_key = os.environ.get(config.api_key_env, "") if config.api_key_env else ""
        self._api_key = config.api_key or env_key or None
        self._root = config.base_url.rstrip("/")

    @property
    def has_api_key(self) -> bool:
        """Whether requests carry the configured API key."""
        return self._api_key is not None

    def chat(self, messages: Sequence[Message], *, max_tokens: int | None = None,
             temperature: float | None = None, stream: bool | None = None,
             on_token: Callable[[str], None] | None = None) -> ChatResult:
        """Send ``messages`` (OpenAI format, images as ``image_url`` parts) and return the reply.

        With ``stream`` (default ``config.stream``) each text piece goes to ``on_token`` as it
        arrives; the result's ``text`` is their concatenation. ``on_token`` without streaming is
        called once with the whole text.
        """
        breaker = breaker_for(self._root)
        retries = breaker.admit(self.config, self._root + "/chat/completions")
        try:
            result = self._chat(messages, max_tokens=max_tokens, temperature=temperature, stream=stream,
                                on_token=on_token, retries=self.config.retries if retries is None else retries)
        except (LLMUnavailable, LLMTimeout) as e:
            breaker.failed(self.config, e)
            raise
        breaker.succeeded()
        return result

    def list_models(self, retries: int | None = None) -> list[str]:
        """Model ids the server offers (``GET /models``); ``retries`` overrides ``config.retries``."""
        import openai

        url = self._root + "/models"
        try:
            page = self._sdk(self.config.retries if retries is None else retries).models.list()
        except openai.OpenAIError as e:
            raise self._error(e, url) from e
        except ValueError:  # the SDK's JSON decoding
            raise LLMBadResponse(f"{url} returned a body that is not JSON", url=url) from None
        if not isinstance(getattr(page, "data", None), list):
            raise LLMBadResponse(f"{url} returned JSON without a 'data' list of models", url=url)
        return [str(m.id) for m in page.data if getattr(m, "id", None) is not None]

    def check(self) -> str:
        """Test the connection with one tiny request; a single line for a status bar.

        Starts with ``ok:`` when a model answered, ``failed:`` otherwise; never raises ``LLMError``.
        """
        t0 = time.perf_counter()
        note = ""
        try:
            try:
                models = self.list_models(retries=0)
                if self.config.model and models and self.config.model not in models:
                    note = f"; note: {self.config.model!r} is not in its model list ({_some(models)})"
            except LLMBadResponse as e:
                if e.status != 404:
                    raise
                models, note = [], "; it has no model list"
            r = self._chat([{"role": "user", "content": "Reply with the word OK."}], max_tokens=4,
                           temperature=0.0, stream=False, on_token=None, retries=0)
        except LLMError as e:
            return f"failed: {e}"
        ms = (time.perf_counter() - t0) * 1000.0
        served = f", serving {_some(models)}" if models else ""
        return f"ok: {self._root} answered as {r.model or 'an unnamed model'!r} in {ms:.0f} ms{served}{note}"

    # -- requests ----------------------------------------------------------------------------

    def _sdk(self, retries: int) -> Any:
        """The server's shared ``openai.OpenAI`` client with this call's timeout and retries."""
        import openai

        t = self.config.timeout_s
        return _openai_client(self._root, self._api_key or "no-key").with_options(
            timeout=openai.Timeout(t, connect=min(t, _CONNECT_TIMEOUT_S)), max_retries=retries)

    def _chat(self, messages: Sequence[Message], *, max_tokens: int | None, temperature: float | None,
              stream: bool | None, on_token: Callable[[str], None] | None, retries: int) -> ChatResult:
        import openai
        from openai.types.chat import ChatCompletion

        if isinstance(messages, (str, bytes, Mapping)) or not messages:
            raise ValueError("chat takes a non-empty list of messages like [{'role': 'user', 'content': '...'}]")
        do_stream = self.config.stream if stream is None else bool(stream)
        extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if do_stream else {}
        url = self._root + "/chat/completions"
        t0 = time.perf_counter()
        try:
            raw = self._sdk(retries).chat.completions.with_raw_response.create(
                messages=[dict(m) for m in messages], model=self.config.model or openai.omit, stream=do_stream,
                max_tokens=int(self.config.max_tokens if max_tokens is None else max_tokens),
                temperature=float(self.config.temperature if temperature is None else temperature), **extra)
        except openai.NotFoundError as e:
            raise self._unknown_model(e, url) from e
        except openai.OpenAIError as e:
            raise self._error(e, url) from e
        attempts = raw.retries_taken + 1
        if do_stream and "text/event-stream" in raw.http_response.headers.get("content-type", "").lower():
            text, model, finish, usage = self._consume_stream(raw.parse(), url, on_token, attempts)
        else:  # a plain answer, or a server that ignored "stream" (which the SDK would read as events)
            try:
                completion = (ChatCompletion.construct(**json.loads(raw.http_response.read())) if do_stream
                              else raw.parse())
            except (ValueError, TypeError):  # the body is no JSON object
                completion = None
            except Exception as e:  # noqa: BLE001 - reading the body: the transport's errors
                raise self._error(e, url) from e
            text, model, finish, usage = _completion(completion, raw.http_response, url)
            if on_token is not None and text:
                on_token(text)
        latency = (time.perf_counter() - t0) * 1000.0
        log.debug("chat %s: %d chars, %s, %.0f ms, %d attempt(s)", url, len(text), finish, latency, attempts)
        return ChatResult(text=text, model=model, finish_reason=finish, usage=usage,
                          latency_ms=latency, attempts=attempts)

    def _consume_stream(self, stream: Any, url: str, on_token: Callable[[str], None] | None,
                        attempts: int) -> tuple[str, str, str, dict[str, int]]:
        """Text pieces to ``on_token`` as they arrive; a stream that has begun is never retried."""
        import openai

        pieces: list[str] = []
        model = finish = ""
        usage: dict[str, int] = {}
        try:
            with stream:
                for chunk in stream:
                    model, usage = str(chunk.model or model), _usage(chunk) or usage
                    choice = chunk.choices[0] if isinstance(chunk.choices, list) and chunk.choices else None
                    piece = getattr(getattr(choice, "delta", None), "content", None)
                    if isinstance(piece, str) and piece:
                        pieces.append(piece)
                        if on_token is not None:
                            on_token(piece)
                    finish = str(getattr(choice, "finish_reason", None) or finish)
        except openai.APITimeoutError:
            raise LLMTimeout(f"{url} sent nothing for {self.config.timeout_s:g} s while streaming", url=url,
                             attempts=attempts) from None
        except openai.APIConnectionError as e:
            raise LLMUnavailable(f"{url} dropped the connection while streaming ({len(pieces)} pieces received)",
                                 url=url, attempts=attempts) from e
        except openai.APIError as e:  # an error event in the stream
            raise LLMBadResponse(f"{url} reported an error mid-stream: {_error_text(e)}", url=url,
                                 attempts=attempts) from None
        except json.JSONDecodeError as e:
            raise LLMBadResponse(f"{url} streamed an event that is not JSON: {_snippet(e.doc)}",
                                 url=url, attempts=attempts) from None
        if not finish:
            raise LLMBadResponse(f"{url} closed the stream before it finished ({len(pieces)} pieces received)",
                                 url=url, attempts=attempts)
        return "".join(pieces), model, finish, usage

    def _unknown_model(self, e: Exception, url: str) -> LLMError:
        """A 404 from chat: when the server lists models without ours, say which it has."""
        err = self._error(e, url)
        try:
            models = self.list_models(retries=0) if self.config.model else []
        except LLMError:
            return err
        if not models or self.config.model in models:
            return err
        return LLMBadResponse(f"{url}: the server has no model {self.config.model!r}; it offers {_some(models, 5)}",
                              url=url, status=404, attempts=err.attempts)

    def _error(self, e: BaseException, url: str) -> LLMError:
        """One ``LLMError`` for an exception the ``openai`` SDK (or its transport) raised calling ``url``."""
        import openai

        try:  # the SDK's retry counter on the last request it sent
            attempts = int(e.request.headers.get("x-stainless-retry-count", "0")) + 1  # type: ignore[attr-defined]
        except (AttributeError, ValueError):
            attempts = 1
        after = f" (after {attempts} attempts)" if attempts > 1 else ""
        if isinstance(e, openai.APIStatusError):
            status, hint = e.status_code, _HINTS.get(e.status_code, "")
            if status in (401, 403) and not self.has_api_key:
                hint = " (no API key was sent: set the variable named by llm.api_key_env, or llm.api_key)"
            return LLMBadResponse(f"{url} returned HTTP {status} {e.response.reason_phrase}{hint}: "
                                  f"{_error_text(e)}{after}", url=url, status=status, attempts=attempts)
        chain = [e]  # the exception and its causes, bounded in case they loop
        while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None and len(chain) < 16:
            chain.append(cause)
        if any(type(x).__name__ == "ConnectTimeout" for x in chain):
            return LLMUnavailable(f"cannot connect to {url}: no answer within "
                                  f"{min(self.config.timeout_s, _CONNECT_TIMEOUT_S):g} s{after}", url=url,
                                  attempts=attempts)
        if isinstance(e, openai.APITimeoutError) or any(type(x).__name__.endswith("Timeout") for x in chain):
            return LLMTimeout(f"{url} did not answer within {self.config.timeout_s:g} s{after}", url=url,
                              attempts=attempts)
        if isinstance(e, openai.APIError) and not isinstance(e, openai.APIConnectionError):
            return LLMBadResponse(f"{url} returned an error: {_error_text(e)}{after}", url=url, attempts=attempts)
        if any(isinstance(x, ConnectionRefusedError) for x in chain):
            reason = "connection refused (is the server running?)"
        else:  # unknown host, TLS, a dropped connection: the innermost reason
            last = chain[-1]
            reason = _one_line(last.strerror if isinstance(last, OSError) and last.strerror else
                               str(last) or type(last).__name__)
        return LLMUnavailable(f"cannot connect to {url}: {reason}{after}", url=url, attempts=attempts)


@functools.cache
def _openai_client(root: str, api_key: str) -> Any:
    """One ``openai.OpenAI`` per server and key, so its connections are reused across ``ChatClient`` copies
    (servers without authentication ignore the placeholder key the SDK insists on)."""
    import openai

    return openai.OpenAI(base_url=root, api_key=api_key, max_retries=0)


def image_message(text: str, rgb_uint8: np.ndarray, *, role: str = "user") -> dict[str, Any]:
    """A chat message with ``text`` and a PNG data-URL image (OpenAI vision format)."""
    from PIL import Image

    a = np.asarray(rgb_uint8)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"image_message needs an RGB uint8 array of shape (H, W, 3), got {a.dtype} {a.shape}")
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(a)).save(out, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
    return {"role": role, "content": [{"type": "text", "text": text},
                                      {"type": "image_url", "image_url": {"url": url}}]}


# -- helpers -----------------------------------------------------------------------------------

def _completion(c: Any, response: Any, url: str) -> tuple[str, str, str, dict[str, int]]:
    """Text, model, finish reason and usage of the SDK's ``ChatCompletion``; ``LLMBadResponse`` for another shape."""
    def bad(what: str) -> LLMBadResponse:
        return LLMBadResponse(f"{url} returned {what}: {_snippet(response.content)}", url=url)

    if c is None or isinstance(c, str):  # the SDK gives the text of a body it cannot decode
        raise bad("a body that is not JSON")
    if not hasattr(c, "choices"):
        raise bad("JSON that is not an object")
    if getattr(c, "error", None):
        raise LLMBadResponse(f"{url} returned an error: {_error_text(c.error)}", url=url)
    if not isinstance(c.choices, list):
        raise bad("JSON without a 'choices' list")
    if not c.choices:
        raise LLMBadResponse(f"{url} returned no choices", url=url)
    message = getattr(c.choices[0], "message", None)
    if message is None:
        raise bad("a choice without a 'message'")
    content = getattr(message, "content", None)  # text, or content parts [{"type": "text", "text": ...}]
    text = content if isinstance(content, str) else "".join(
        str(p.get("text", "")) for p in content or () if isinstance(p, dict))
    return text, str(c.model or ""), str(c.choices[0].finish_reason or ""), _usage(c)


def _usage(c: Any) -> dict[str, int]:
    u = getattr(c, "usage", None)
    return {k: v for k, v in u.model_dump().items() if isinstance(v, int)} if hasattr(u, "model_dump") else {}


def _error_text(e: Any) -> str:
    """The human part of an SDK error or an error body: OpenAI's ``{"error": {"message": ...}}``, else a snippet."""
    body = getattr(e, "body", e)
    err = body.get("error", body) if isinstance(body, dict) else body
    msg = (err.get("message") or err.get("detail") or err) if isinstance(err, dict) else err
    return _one_line(str(msg or getattr(e, "message", "") or "(empty)"))


def _snippet(raw: bytes | str, n: int = 120) -> str:
    """The start of a body, quoted on one line."""
    text = _one_line(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)
    return repr(text if len(text) <= n else text[:n] + "…")


def _one_line(s: str, n: int = 300) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[:n - 1] + "…"


def _some(items: Sequence[str], n: int = 3) -> str:
    """The first ``n`` items, and how many there are when more."""
    return ", ".join(items[:n]) + (f" … ({len(items)})" if len(items) > n else "")
