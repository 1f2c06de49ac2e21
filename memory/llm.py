"""A small client for OpenAI-compatible chat servers (OpenAI, Ollama, vLLM, llama.cpp), stdlib only.

* ``POST {base_url}/chat/completions``, plain or streamed (server-sent events parsed as bytes
  arrive), and ``GET {base_url}/models``.
* Every attempt is bounded: ``timeout_s`` covers connecting and the whole response (plain) or the
  wait for each streamed chunk (streaming). Connection failures, timeouts, HTTP 429 and 5xx are
  retried ``retries`` times with exponential backoff (``backoff_s``, doubling; a server's
  ``Retry-After`` is honoured up to ``timeout_s``); other HTTP errors are not. A stream that has
  already delivered tokens is never retried, so ``on_token`` never sees text twice.
* Failures raise ``LLMUnavailable`` / ``LLMTimeout`` / ``LLMBadResponse`` with one line naming the URL.
* A circuit breaker per server: after ``pause_after`` chat calls in a row that could not reach it
  (timeouts, refused connections; each after its retries), chats to that server fail at once with
  ``LLMUnavailable`` for ``pause_s`` seconds, said once in a warning; then one attempt (no retries)
  probes it again. So a batch against a hung server falls back quickly instead of waiting every timeout.

The API key is read once, when the client is built: ``config.api_key`` or else the environment
variable ``config.api_key_env``.
"""
from __future__ import annotations

import base64
import http.client
import io
import json
import logging
import os
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from memory.errors import LLMBadResponse, LLMError, LLMTimeout, LLMUnavailable
from memory.llm_breaker import breaker_for
from sim.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["LLMConfig", "ChatResult", "ChatClient", "image_message", "Message"]

Message = Mapping[str, Any]

_CONNECT_TIMEOUT_S = 10.0  # a dead host should not eat a long generation timeout
_MAX_BODY_BYTES = 32 * 1024 * 1024
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USER_AGENT = "embodied-rag-lab/0.1"


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """Where the chat server is and how to talk to it.

    * ``base_url`` — the API root, e.g. ``http://127.0.0.1:8080/v1`` or ``https://api.openai.com/v1``.
    * ``model`` — model name sent with each request (``""`` sends none: single-model servers such
      as llama.cpp answer with theirs).
    * ``api_key`` — the key itself (prefer ``api_key_env``); never shown in ``repr``.
    * ``api_key_env`` — environment variable holding the key when ``api_key`` is unset (``""``: none).
    * ``timeout_s`` — seconds one attempt may take (plain) or wait for each chunk (streaming).
    * ``retries`` — extra attempts after a connection error, timeout, HTTP 429 or 5xx.
    * ``backoff_s`` — wait before the first retry; doubles each time.
    * ``temperature``, ``max_tokens``, ``stream`` — request defaults, overridable per call.
    * ``pause_after``, ``pause_s`` — the circuit breaker: after this many failed calls in a row, stop
      asking the server for this many seconds (``pause_after: 0`` never stops).
    """

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
        """Upper bound of one call's time on a silent server (all attempts plus backoffs)."""
        backoff = sum(self.backoff_s * 2 ** i for i in range(self.retries))
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


class _Attempt:
    """What one attempt did, for the retry decision."""

    __slots__ = ("delivered",)

    def __init__(self) -> None:
        self.delivered = False


class ChatClient:
    """Talks to one OpenAI-compatible server; safe to share across threads (the only state kept between
    calls is the server's circuit breaker, ``memory.llm_breaker``, shared by all its clients)."""

    def __init__(self, config: LLMConfig) -> None:
        config.validate()
        self.config = config
        env_key = os.environ.get(config.api_key_env, "") if config.api_key_env else ""
        self._api_key = config.api_key or env_key or None
        parts = urlsplit(config.base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._root = config.base_url.rstrip("/")

    @property
    def has_api_key(self) -> bool:
        """Whether requests carry an ``Authorization`` header."""
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
                note = f"; note: {self.config.model!r} is not in its model list ({_some(models)})"
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
        served = f", serving {_some(models)}" if models else ""
        return f"ok: {self._root} answered as {r.model or 'an unnamed model'!r} in {ms:.0f} ms{served}{note}"

    # -- requests ----------------------------------------------------------------------------

    def _chat(self, messages: Sequence[Message], *, max_tokens: int | None, temperature: float | None,
              stream: bool | None, on_token: Callable[[str], None] | None, retries: int) -> ChatResult:
        msgs = _check_messages(messages)
        do_stream = self.config.stream if stream is None else bool(stream)
        body: dict[str, Any] = {
            "messages": msgs,
            "max_tokens": int(self.config.max_tokens if max_tokens is None else max_tokens),
            "temperature": float(self.config.temperature if temperature is None else temperature),
            "stream": do_stream,
        }
        if self.config.model:
            body["model"] = self.config.model
        if do_stream:
            body["stream_options"] = {"include_usage": True}
        payload = json.dumps(body).encode("utf-8")
        url = self._root + "/chat/completions"
        t0 = time.perf_counter()

        def attempt(state: _Attempt) -> tuple[str, str, str, dict[str, int]]:
            if do_stream:
                return self._stream_chat(url, payload, on_token, state)
            data = self._request_json("POST", "/chat/completions", payload)
            text, model, finish, usage = _parse_completion(data, url)
            if on_token is not None and text:
                on_token(text)
            return text, model, finish, usage

        (text, model, finish, usage), attempts = self._with_retries(attempt, url, retries)
        latency = (time.perf_counter() - t0) * 1000.0
        log.debug("chat %s: %d chars, %s, %.0f ms, %d attempt(s)", url, len(text), finish, latency, attempts)
        return ChatResult(text=text, model=model, finish_reason=finish, usage=usage,
                          latency_ms=latency, attempts=attempts)

    def _list_models(self, retries: int) -> list[str]:
        url = self._root + "/models"
        data, _ = self._with_retries(lambda state: self._request_json("GET", "/models", None), url, retries)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise LLMBadResponse(f"{url} returned JSON without a 'data' list of models", url=url)
        ids = [str(m["id"]) for m in items if isinstance(m, dict) and m.get("id") is not None]
        return ids

    def _with_retries(self, fn: Callable[[_Attempt], Any], url: str, retries: int) -> tuple[Any, int]:
        attempt = 0
        while True:
            attempt += 1
            state = _Attempt()
            try:
                return fn(state), attempt
            except LLMError as e:
                retryable = _retryable(e) and not state.delivered
                if not retryable or attempt > retries:
                    e.attempts = attempt
                    if attempt > 1 and retryable:
                        raise type(e)(f"{e} (after {attempt} attempts)", url=e.url, status=e.status,
                                      attempts=attempt) from e
                    raise
                delay = self.config.backoff_s * 2 ** (attempt - 1)
                if e.retry_after_s is not None:
                    delay = max(delay, min(e.retry_after_s, self.config.timeout_s))
                log.info("LLM request to %s failed (%s); retry %d of %d in %.2f s", url, e, attempt, retries, delay)
                time.sleep(delay)

    def _headers(self, accept: str) -> dict[str, str]:
        h = {"Accept": accept, "User-Agent": _USER_AGENT}
        if self._api_key:
            h["Authorization"] = f"Bearer {self._api_key}"
        return h

    def _open(self, method: str, path: str, payload: bytes | None, accept: str,
              deadline: float | None) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Connect, send, and read the status line and headers, within the attempt's limits."""
        url = self._root + path
        timeout = self.config.timeout_s
        conn_cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = conn_cls(self._host, self._port, timeout=min(timeout, _CONNECT_TIMEOUT_S))
        headers = self._headers(accept)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            try:
                conn.connect()
            except TimeoutError:
                raise LLMUnavailable(f"cannot connect to {url}: no answer within "
                                     f"{min(timeout, _CONNECT_TIMEOUT_S):g} s", url=url) from None
            _set_timeout(conn, deadline, timeout, url)
            conn.request(method, self._prefix + path, body=payload, headers=headers)
            _set_timeout(conn, deadline, timeout, url)
            resp = conn.getresponse()
            return conn, resp
        except LLMError:
            conn.close()
            raise
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise _network_error(e, url, timeout) from e
        except BaseException:
            conn.close()
            raise

    def _request_json(self, method: str, path: str, payload: bytes | None) -> Any:
        url = self._root + path
        deadline = time.monotonic() + self.config.timeout_s
        conn, resp = self._open(method, path, payload, "application/json", deadline)
        try:
            raw = _read_body(conn, resp, deadline, self.config.timeout_s, url)
        finally:
            conn.close()
        if resp.status != 200:
            raise _http_error(resp, raw, url)
        return _parse_json(raw, url)

    def _stream_chat(self, url: str, payload: bytes, on_token: Callable[[str], None] | None,
                     state: _Attempt) -> tuple[str, str, str, dict[str, int]]:
        timeout = self.config.timeout_s
        conn, resp = self._open("POST", "/chat/completions", payload, "text/event-stream", None)
        try:
            if resp.status != 200:
                raw = _read_body(conn, resp, time.monotonic() + timeout, timeout, url)
                raise _http_error(resp, raw, url)
            ctype = (resp.getheader("Content-Type") or "").lower()
            if "text/event-stream" not in ctype:
                # Some servers ignore "stream": take their plain answer as one piece.
                raw = _read_body(conn, resp, time.monotonic() + timeout, timeout, url)
                text, model, finish, usage = _parse_completion(_parse_json(raw, url), url)
                if on_token is not None and text:
                    state.delivered = True
                    on_token(text)
                return text, model, finish, usage
            return _consume_sse(conn, resp, url, timeout, on_token, state)
        except (OSError, http.client.HTTPException) as e:
            raise _network_error(e, url, timeout) from e
        finally:
            conn.close()


def _consume_sse(conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, url: str, timeout: float,
                 on_token: Callable[[str], None] | None, state: _Attempt) -> tuple[str, str, str, dict[str, int]]:
    pieces: list[str] = []
    model = ""
    finish = ""
    usage: dict[str, int] = {}
    done = False
    buf = b""
    data_lines: list[bytes] = []

    def dispatch(data: bytes) -> bool:
        nonlocal model, finish, usage
        if data.strip() == b"[DONE]":
            return True
        try:
            event = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise LLMBadResponse(f"{url} streamed an event that is not JSON: {_snippet(data)}", url=url) from None
        if not isinstance(event, dict):
            raise LLMBadResponse(f"{url} streamed JSON that is not an object: {_snippet(data)}", url=url)
        if event.get("error"):
            raise LLMBadResponse(f"{url} reported an error mid-stream: {_error_text(event)}", url=url)
        model = str(event.get("model") or model)
        if isinstance(event.get("usage"), dict):
            usage = _int_fields(event["usage"])
        choices = event.get("choices")
        if choices:
            if not isinstance(choices, list) or not isinstance(choices[0], dict):
                raise LLMBadResponse(f"{url} streamed 'choices' of the wrong shape: {_snippet(data)}", url=url)
            choice = choices[0]
            delta = choice.get("delta") or {}
            piece = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(piece, str) and piece:
                pieces.append(piece)
                if on_token is not None:
                    state.delivered = True
                    on_token(piece)
            if choice.get("finish_reason"):
                finish = str(choice["finish_reason"])
        return False

    while not done:
        _set_timeout(conn, None, timeout, url)
        try:
            chunk = resp.read1(65536)
        except TimeoutError:
            raise LLMTimeout(f"{url} sent nothing for {timeout:g} s while streaming", url=url) from None
        if not chunk:
            break
        buf += chunk
        while not done:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            line, buf = buf[:nl].rstrip(b"\r"), buf[nl + 1:]
            if not line:
                if data_lines:
                    done = dispatch(b"\n".join(data_lines))
                    data_lines = []
            elif line.startswith(b":"):
                continue  # SSE comment / keep-alive
            elif line.startswith(b"data:"):
                value = line[5:]
                data_lines.append(value[1:] if value.startswith(b" ") else value)
            elif line.startswith(b"{"):
                # Not SSE but a JSON error object on a stream response.
                raise LLMBadResponse(f"{url} answered the stream with: {_error_text(_loads_or(line))}", url=url)
    if not done and data_lines:
        done = dispatch(b"\n".join(data_lines))
    if not done and not finish:
        raise LLMBadResponse(f"{url} closed the stream before it finished ({len(pieces)} pieces received)", url=url)
    return "".join(pieces), model, finish, usage


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


def _set_timeout(conn: http.client.HTTPConnection, deadline: float | None, timeout: float, url: str) -> None:
    t = timeout if deadline is None else deadline - time.monotonic()
    if t <= 0:
        raise LLMTimeout(f"{url} did not answer within {timeout:g} s", url=url)
    if conn.sock is not None:
        conn.sock.settimeout(t)


def _read_body(conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, deadline: float,
               timeout: float, url: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            _set_timeout(conn, deadline, timeout, url)
            chunk = resp.read1(65536)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > _MAX_BODY_BYTES:
                raise LLMBadResponse(f"{url} sent more than {_MAX_BODY_BYTES >> 20} MiB", url=url)
            chunks.append(chunk)
    except LLMError:
        raise
    except (OSError, http.client.HTTPException) as e:
        raise _network_error(e, url, timeout) from e


def _network_error(e: BaseException, url: str, timeout: float) -> LLMError:
    if isinstance(e, TimeoutError):
        return LLMTimeout(f"{url} did not answer within {timeout:g} s", url=url)
    if isinstance(e, ConnectionRefusedError):
        return LLMUnavailable(f"cannot connect to {url}: connection refused (is the server running?)", url=url)
    if isinstance(e, socket.gaierror):
        return LLMUnavailable(f"cannot connect to {url}: unknown host ({e.strerror or e})", url=url)
    if isinstance(e, ssl.SSLError):
        return LLMUnavailable(f"cannot connect to {url}: TLS error ({_one_line(str(e))})", url=url)
    if isinstance(e, http.client.RemoteDisconnected):
        return LLMUnavailable(f"{url} closed the connection without answering", url=url)
    if isinstance(e, (ConnectionError, OSError)):
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e) or e.__class__.__name__
        return LLMUnavailable(f"cannot talk to {url}: {_one_line(reason)}", url=url)
    if isinstance(e, http.client.HTTPException):
        return LLMBadResponse(f"{url} sent a malformed HTTP response ({e.__class__.__name__})", url=url)
    return LLMError(f"request to {url} failed: {e.__class__.__name__}: {_one_line(str(e))}", url=url)


def _http_error(resp: http.client.HTTPResponse, raw: bytes, url: str) -> LLMBadResponse:
    status = resp.status
    detail = _error_text(_loads_or(raw))
    hint = {401: " (check the API key)", 403: " (check the API key)",
            404: " (does base_url end in /v1, and is the model name right?)"}.get(status, "")
    retry_after = (resp.getheader("Retry-After") or "").strip()
    return LLMBadResponse(f"{url} returned HTTP {status} {resp.reason}{hint}: {detail}", url=url, status=status,
                          retry_after_s=float(retry_after) if retry_after.isdigit() else None)


def _retryable(e: LLMError) -> bool:
    if isinstance(e, (LLMUnavailable, LLMTimeout)):
        return True
    return e.status is not None and (e.status == 429 or e.status >= 500)


def _parse_json(raw: bytes, url: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise LLMBadResponse(f"{url} returned a body that is not JSON: {_snippet(raw)}", url=url) from None


def _parse_completion(data: Any, url: str) -> tuple[str, str, str, dict[str, int]]:
    if not isinstance(data, dict):
        raise LLMBadResponse(f"{url} returned JSON that is not an object: {_snippet(json.dumps(data))}", url=url)
    if data.get("error"):
        raise LLMBadResponse(f"{url} returned an error: {_error_text(data)}", url=url)
    choices = data.get("choices")
    if not isinstance(choices, list):
        raise LLMBadResponse(f"{url} returned JSON without a 'choices' list: {_snippet(json.dumps(data))}", url=url)
    if not choices:
        raise LLMBadResponse(f"{url} returned no choices", url=url)
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise LLMBadResponse(f"{url} returned a choice without a 'message': {_snippet(json.dumps(choice))}", url=url)
    content = message.get("content")
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    elif isinstance(content, list):  # content parts
        text = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    else:
        raise LLMBadResponse(f"{url} returned message content of type {type(content).__name__}", url=url)
    usage = _int_fields(data.get("usage")) if isinstance(data.get("usage"), dict) else {}
    return text, str(data.get("model") or ""), str(choice.get("finish_reason") or ""), usage


def _int_fields(d: Mapping[str, Any]) -> dict[str, int]:
    return {str(k): int(v) for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _loads_or(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw.decode("utf-8", "replace")


def _error_text(obj: Any) -> str:
    """The human part of an error body: OpenAI's ``{"error": {"message": ...}}`` or a snippet."""
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or json.dumps(err)
        else:
            msg = str(err)
        return _one_line(str(msg)) or "(empty)"
    text = _one_line(str(obj))
    return text or "(empty body)"


def _snippet(raw: bytes | str, n: int = 120) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = _one_line(text)
    return repr(text if len(text) <= n else text[:n] + "…")


def _one_line(s: str, n: int = 300) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[:n - 1] + "…"


def _some(items: Sequence[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f" … ({len(items)})" if len(items) > n else "")
