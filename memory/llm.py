"""A client for OpenAI-compatible chat servers (OpenAI, Ollama, vLLM, llama.cpp) on the official ``openai`` package.

* ``chat`` (plain or streamed, text pieces to ``on_token`` as they arrive), ``list_models`` and ``check``
  (the settings dialog's "Test connection") go through ``openai.OpenAI(base_url=...)``; the package is
  imported on the first request, so commands that never talk to an LLM do not pay for it.
* Timeouts and retries are the SDK's: ``timeout_s`` bounds each read (the whole wait for a plain answer,
  the wait for each streamed chunk), connecting is bounded by ``min(timeout_s, 10 s)``; connection errors,
  timeouts, HTTP 408/409/429 and 5xx are retried ``retries`` times with the SDK's backoff (0.5 s doubling up to
  8 s, with jitter; a server's ``Retry-After`` is honoured). A stream is never retried once it has begun, so
  ``on_token`` never sees text twice.
* Every failure raises ``LLMUnavailable`` / ``LLMTimeout`` / ``LLMBadResponse`` with one line naming the URL
  (``memory.llm_errors`` turns the SDK's exceptions into them).
* A circuit breaker per server (``memory.llm_breaker``): after ``pause_after`` chat calls in a row that could
  not reach it (each after its retries), chats to that server fail at once with ``LLMUnavailable`` for
  ``pause_s`` seconds, said once in a warning; then one attempt (no retries) probes it again. So a batch
  against a hung server falls back quickly instead of waiting every timeout.

The API key is read once, when the client is built: ``config.api_key`` or else the environment variable
``config.api_key_env``.
"""
from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from pydantic import ConfigDict

from memory.errors import LLMBadResponse, LLMError, LLMTimeout, LLMUnavailable
from memory.llm_breaker import breaker_for
from memory.llm_errors import error_text, from_sdk_error, int_fields, snippet, some
from sim.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["LLMConfig", "ChatResult", "ChatClient", "image_message", "Message"]

Message = Mapping[str, Any]

_CONNECT_TIMEOUT_S = 10.0  # a dead host should not eat a long generation timeout
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NO_KEY = "no-key"  # the SDK insists on a key; servers without authentication ignore it
# the openai SDK's retry schedule (openai._constants): 0.5 s doubling, at most 8 s
_SDK_FIRST_BACKOFF_S, _SDK_MAX_BACKOFF_S = 0.5, 8.0


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """Where the chat server is and how to talk to it.

    * ``base_url`` — the API root, e.g. ``http://127.0.0.1:8080/v1`` or ``https://api.openai.com/v1``.
    * ``model`` — model name sent with each request (``""`` sends none: single-model servers such
      as llama.cpp answer with theirs).
    * ``api_key`` — the key itself (prefer ``api_key_env``); never shown in ``repr``.
    * ``api_key_env`` — environment variable holding the key when ``api_key`` is unset (``""``: none).
    * ``timeout_s`` — seconds one attempt may wait for the answer (plain) or for each chunk (streaming).
    * ``retries`` — extra attempts after a connection error, timeout, HTTP 408/409/429 or 5xx.
    * ``backoff_s`` — accepted so existing configs load, no longer used: the ``openai`` SDK waits 0.5 s
      before the first retry, doubling up to 8 s (see ``max_wait_s``).
    * ``temperature``, ``max_tokens``, ``stream`` — request defaults, overridable per call.
    * ``pause_after``, ``pause_s`` — the circuit breaker: after this many failed calls in a row, stop
      asking the server for this many seconds (``pause_after: 0`` never stops).
    """

    __pydantic_config__ = ConfigDict(extra="forbid")
    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = ""
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 60.0
    retries: int = 2
    backoff_s: float = 0.5
    temperature: float = 0.2
    max_tokens: int = 512
    stream: bool = False
    pause_after: int = 3
    pause_s: float = 60.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first bad value."""
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"llm base_url must look like http://host:port/v1, got {self.base_url!r}")
        try:
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise ConfigError(f"llm base_url has an invalid port: {self.base_url!r}") from None
        if parts.query or parts.fragment:
            raise ConfigError(f"llm base_url must not have a query or fragment: {self.base_url!r}")
        if self.api_key_env and not _ENV_NAME_RE.match(self.api_key_env):
            raise ConfigError(f"llm api_key_env must be an environment variable name, got {self.api_key_env!r}")
        if not 0 < self.timeout_s <= 3600:
            raise ConfigError(f"llm timeout_s must be in (0, 3600] seconds, got {self.timeout_s}")
        if not 0 <= self.retries <= 10:
            raise ConfigError(f"llm retries must be 0..10, got {self.retries}")
        if not 0 <= self.backoff_s <= 60:
            raise ConfigError(f"llm backoff_s must be 0..60 seconds, got {self.backoff_s}")
        if not 0 <= self.temperature <= 2:
            raise ConfigError(f"llm temperature must be 0..2, got {self.temperature}")
        if self.max_tokens < 1:
            raise ConfigError(f"llm max_tokens must be at least 1, got {self.max_tokens}")
        if not 0 <= self.pause_after <= 1000 or not 0 < self.pause_s <= 86400:
            raise ConfigError(f"llm pause_after must be 0..1000 and pause_s in (0, 86400], got {self.pause_after}, "
                              f"{self.pause_s}")

    def max_wait_s(self) -> float:
        """Upper bound of one call's time on a silent server (all attempts plus the SDK's backoffs)."""
        backoff = sum(min(_SDK_FIRST_BACKOFF_S * 2 ** i, _SDK_MAX_BACKOFF_S) for i in range(self.retries))
        return self.timeout_s * (self.retries + 1) + backoff


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
        config.validate()
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

    def list_models(self) -> list[str]:
        """Model ids the server offers (``GET /models``)."""
        return self._list_models(self.config.retries)

    def check(self) -> str:
        """Test the connection with one tiny request; a single line for a status bar.

        Starts with ``ok:`` when a model answered, ``failed:`` otherwise; never raises ``LLMError``.
        """
        t0 = time.perf_counter()
        note = ""
        try:
            models = self._list_models(retries=0)
            if self.config.model and models and self.config.model not in models:
                note = f"; note: {self.config.model!r} is not in its model list ({some(models)})"
        except LLMBadResponse as e:
            if e.status != 404:
                return f"failed: {e}"
            models = []
            note = "; it has no model list"
        except LLMError as e:
            return f"failed: {e}"
        try:
            r = self._chat([{"role": "user", "content": "Reply with the word OK."}], max_tokens=4,
                           temperature=0.0, stream=False, on_token=None, retries=0)
        except LLMError as e:
            return f"failed: {e}"
        ms = (time.perf_counter() - t0) * 1000.0
        served = f", serving {some(models)}" if models else ""
        return f"ok: {self._root} answered as {r.model or 'an unnamed model'!r} in {ms:.0f} ms{served}{note}"

    # -- requests ----------------------------------------------------------------------------

    def _sdk(self, retries: int) -> Any:
        """The server's shared ``openai.OpenAI`` client with this call's timeout and retries."""
        import openai

        t = self.config.timeout_s
        return _openai_client(self._root, self._api_key).with_options(
            timeout=openai.Timeout(t, connect=min(t, _CONNECT_TIMEOUT_S)), max_retries=retries)

    def _error(self, e: Exception, url: str) -> LLMError:
        return from_sdk_error(e, url, timeout_s=self.config.timeout_s,
                              connect_s=min(self.config.timeout_s, _CONNECT_TIMEOUT_S), has_key=self.has_api_key)

    def _chat(self, messages: Sequence[Message], *, max_tokens: int | None, temperature: float | None,
              stream: bool | None, on_token: Callable[[str], None] | None, retries: int) -> ChatResult:
        import openai

        msgs = _check_messages(messages)
        do_stream = self.config.stream if stream is None else bool(stream)
        extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if do_stream else {}
        url = self._root + "/chat/completions"
        t0 = time.perf_counter()
        try:
            raw = self._sdk(retries).chat.completions.with_raw_response.create(
                messages=msgs, model=self.config.model or openai.omit, stream=do_stream,
                max_tokens=int(self.config.max_tokens if max_tokens is None else max_tokens),
                temperature=float(self.config.temperature if temperature is None else temperature), **extra)
        except openai.NotFoundError as e:
            raise self._unknown_model(e, url) from e
        except openai.OpenAIError as e:
            raise self._error(e, url) from e
        attempts = raw.retries_taken + 1
        ctype = raw.http_response.headers.get("content-type", "").lower()
        if do_stream and "text/event-stream" in ctype:
            text, model, finish, usage = self._consume_stream(raw.parse(), url, on_token, attempts)
        else:  # a plain answer, or a server that ignored "stream": take it as one piece
            try:
                body = raw.http_response.read()
            except Exception as e:  # noqa: BLE001 - the transport's errors, named by from_sdk_error
                raise self._error(e, url) from e
            text, model, finish, usage = _parse_completion(_parse_json(body, url), url)
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
                    event = chunk.to_dict()
                    model = str(event.get("model") or model)
                    if isinstance(event.get("usage"), dict):
                        usage = int_fields(event["usage"])
                    choices = event.get("choices")
                    if not choices:
                        continue
                    if not isinstance(choices, list) or not isinstance(choices[0], dict):
                        raise LLMBadResponse(f"{url} streamed 'choices' of the wrong shape: "
                                             f"{snippet(json.dumps(event))}", url=url, attempts=attempts)
                    delta = choices[0].get("delta") or {}
                    piece = delta.get("content") if isinstance(delta, dict) else None
                    if isinstance(piece, str) and piece:
                        pieces.append(piece)
                        if on_token is not None:
                            on_token(piece)
                    finish = str(choices[0].get("finish_reason") or finish)
        except openai.APITimeoutError:
            raise LLMTimeout(f"{url} sent nothing for {self.config.timeout_s:g} s while streaming", url=url,
                             attempts=attempts) from None
        except openai.APIConnectionError as e:
            raise LLMUnavailable(f"{url} dropped the connection while streaming ({len(pieces)} pieces received)",
                                 url=url, attempts=attempts) from e
        except openai.APIError as e:  # an error event in the stream
            raise LLMBadResponse(f"{url} reported an error mid-stream: {error_text(e.body) if e.body else e}",
                                 url=url, attempts=attempts) from None
        except json.JSONDecodeError as e:
            raise LLMBadResponse(f"{url} streamed an event that is not JSON: {snippet(e.doc)}", url=url,
                                 attempts=attempts) from None
        if not finish:
            raise LLMBadResponse(f"{url} closed the stream before it finished ({len(pieces)} pieces received)",
                                 url=url, attempts=attempts)
        return "".join(pieces), model, finish, usage

    def _unknown_model(self, e: Exception, url: str) -> LLMError:
        """A 404 from chat: when the server lists models without ours, say which it has."""
        err = self._error(e, url)
        model = self.config.model
        if not model:
            return err
        try:
            models = self._list_models(retries=0)
        except LLMError:
            return err
        if not models or model in models:
            return err
        return LLMBadResponse(f"{url}: the server has no model {model!r}; it offers {some(models, 5)}", url=url,
                              status=404, attempts=err.attempts)

    def _list_models(self, retries: int) -> list[str]:
        import openai

        url = self._root + "/models"
        try:
            body = self._sdk(retries).models.with_raw_response.list().http_response.read()
        except openai.OpenAIError as e:
            raise self._error(e, url) from e
        data = _parse_json(body, url)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise LLMBadResponse(f"{url} returned JSON without a 'data' list of models", url=url)
        return [str(m["id"]) for m in items if isinstance(m, dict) and m.get("id") is not None]


_SDK_CLIENTS: dict[tuple[str, str], Any] = {}
_SDK_LOCK = threading.Lock()


def _openai_client(root: str, api_key: str | None) -> Any:
    """One ``openai.OpenAI`` per server and key, so its connections are reused across ``ChatClient`` copies."""
    import openai

    with _SDK_LOCK:
        client = _SDK_CLIENTS.get((root, api_key or ""))
        if client is None:
            client = openai.OpenAI(base_url=root, api_key=api_key or _NO_KEY, max_retries=0)
            _SDK_CLIENTS[(root, api_key or "")] = client
        return client


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

def _check_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    if isinstance(messages, (str, bytes, Mapping)):
        raise TypeError("chat takes a list of messages like [{'role': 'user', 'content': '...'}]")
    msgs = [dict(m) for m in messages]
    if not msgs:
        raise ValueError("chat needs at least one message")
    for i, m in enumerate(msgs):
        if not isinstance(m.get("role"), str) or "content" not in m:
            raise ValueError(f"message {i} needs a 'role' and a 'content'")
    return msgs


def _parse_json(raw: bytes, url: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise LLMBadResponse(f"{url} returned a body that is not JSON: {snippet(raw)}", url=url) from None


def _parse_completion(data: Any, url: str) -> tuple[str, str, str, dict[str, int]]:
    if not isinstance(data, dict):
        raise LLMBadResponse(f"{url} returned JSON that is not an object: {snippet(json.dumps(data))}", url=url)
    if data.get("error"):
        raise LLMBadResponse(f"{url} returned an error: {error_text(data)}", url=url)
    choices = data.get("choices")
    if not isinstance(choices, list):
        raise LLMBadResponse(f"{url} returned JSON without a 'choices' list: {snippet(json.dumps(data))}", url=url)
    if not choices:
        raise LLMBadResponse(f"{url} returned no choices", url=url)
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise LLMBadResponse(f"{url} returned a choice without a 'message': {snippet(json.dumps(choice))}", url=url)
    content = message.get("content")
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    elif isinstance(content, list):  # content parts
        text = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    else:
        raise LLMBadResponse(f"{url} returned message content of type {type(content).__name__}", url=url)
    usage = int_fields(data.get("usage")) if isinstance(data.get("usage"), dict) else {}
    return text, str(data.get("model") or ""), str(choice.get("finish_reason") or ""), usage
