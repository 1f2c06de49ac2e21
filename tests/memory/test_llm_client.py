"""The OpenAI-compatible chat client: against a real llama.cpp server (SmolLM2-135M), and its error
handling against small scripted stdlib HTTP servers."""
from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from memory.errors import LLMBadResponse, LLMError, LLMTimeout, LLMUnavailable
from memory.llm import ChatClient, LLMConfig, image_message
from sim.config import from_dict
from sim.errors import ConfigError

HELLO = [{"role": "user", "content": "Say hello."}]


# -- against the real server ------------------------------------------------------------------

def test_chat_returns_text_and_usage(llm_server):  # noqa: F811
    client = ChatClient(llm_server)
    r = client.chat([{"role": "system", "content": "You are terse."},
                     {"role": "user", "content": "What colour is the sky on a clear day?"}])
    assert r.text.strip()
    assert r.model == "SmolLM2-135M-Instruct"
    assert r.finish_reason in ("stop", "length")
    assert r.usage["completion_tokens"] > 0 and r.usage["prompt_tokens"] > 0
    assert r.attempts == 1 and r.latency_ms > 0


def test_streaming_delivers_tokens_as_they_arrive(llm_server):  # noqa: F811
    client = ChatClient(llm_server)
    tokens: list[str] = []
    r = client.chat([{"role": "user", "content": "List three fruits."}], stream=True, on_token=tokens.append)
    assert len(tokens) > 3
    assert "".join(tokens) == r.text and r.text.strip()
    assert r.finish_reason in ("stop", "length")
    assert r.usage.get("completion_tokens", 0) > 0


def test_greedy_answers_repeat(llm_server):  # noqa: F811
    client = ChatClient(llm_server)
    plain = client.chat(HELLO, max_tokens=12)
    streamed = client.chat(HELLO, max_tokens=12, stream=True)
    assert plain.text == streamed.text


def test_list_models_and_check(llm_server):  # noqa: F811
    client = ChatClient(llm_server)
    assert client.list_models() == ["SmolLM2-135M-Instruct"]
    line = client.check()
    assert line.startswith("ok: ") and llm_server.base_url in line and "SmolLM2-135M-Instruct" in line
    assert "\n" not in line


# -- messages and config ----------------------------------------------------------------------

def test_image_message_is_a_png_data_url():
    from PIL import Image

    rgb = np.zeros((6, 9, 3), np.uint8)
    rgb[2, 3] = (255, 10, 20)
    msg = image_message("what is this?", rgb)
    assert msg["role"] == "user"
    text, image = msg["content"]
    assert text == {"type": "text", "text": "what is this?"}
    url = image["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))
    np.testing.assert_array_equal(back, rgb)
    with pytest.raises(ValueError, match="RGB uint8"):
        image_message("x", np.zeros((4, 4), np.float32))


def test_config_validation_and_loading():
    cfg = from_dict(LLMConfig, {"base_url": "http://localhost:11434/v1", "model": "llava", "retries": 0})
    assert cfg.retries == 0 and cfg.timeout_s == 60.0
    with pytest.raises(ConfigError, match="base_url must look like"):
        LLMConfig(base_url="localhost:8080")
    with pytest.raises(ConfigError, match="timeout_s"):
        LLMConfig(timeout_s=0)
    with pytest.raises(ConfigError, match="retries"):
        from_dict(LLMConfig, {"retries": -1})
    with pytest.raises(ConfigError, match="Valid keys"):
        from_dict(LLMConfig, {"base_url": "http://x/v1", "key": "sk-1"})
    assert "sk-secret" not in repr(LLMConfig(api_key="sk-secret"))


# -- failure modes, against scripted local servers --------------------------------------------

@dataclass
class Reply:
    status: int = 200
    body: bytes | dict = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before the status line
    events: list[bytes] | None = None  # raw SSE bytes, written one piece at a time
    stall_s: float = 0.0  # after the events, before closing


def completion(text: str = "hi there", finish: str = "stop") -> dict:
    return {"model": "fake-model", "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                                "finish_reason": finish}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}


class FakeServer:
    """Answers each request with the next scripted reply (the last one repeats)."""

    def __init__(self, script: list[Reply]) -> None:
        self.script = script
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                fake.requests.append((self.command, self.path, dict(self.headers), body))
                reply = fake.script[min(len(fake.requests), len(fake.script)) - 1]
                if reply.delay_s and fake.stop.wait(reply.delay_s):
                    return
                try:
                    self.send_response(reply.status)
                    if reply.events is not None:
                        self.send_header("Content-Type", "text/event-stream")
                        self.end_headers()
                        for piece in reply.events:
                            self.wfile.write(piece)
                            self.wfile.flush()
                            time.sleep(0.01)
                        fake.stop.wait(reply.stall_s)
                        return
                    raw = json.dumps(reply.body).encode() if isinstance(reply.body, dict) else reply.body
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first, as some tests intend

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def config(self, **kw) -> LLMConfig:
        return LLMConfig(base_url=self.base_url, api_key_env="", **{"timeout_s": 5.0, "backoff_s": 0.01, **kw})

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def fake() -> Iterator:
    servers: list[FakeServer] = []

    def start(*script: Reply) -> FakeServer:
        s = FakeServer(list(script))
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_unavailable_and_fast():
    import openai  # noqa: F401 - its one-time import (seconds on a busy machine) is not the call's time

    url = f"http://127.0.0.1:{free_port()}/v1"
    client = ChatClient(LLMConfig(base_url=url, retries=1, backoff_s=0.05, api_key_env=""))
    t0 = time.monotonic()
    with pytest.raises(LLMUnavailable) as e:
        client.chat(HELLO)
    assert time.monotonic() - t0 < 2.0
    assert url + "/chat/completions" in str(e.value) and "connection refused" in str(e.value)
    assert e.value.attempts == 2 and "\n" not in str(e.value)
    assert client.check().startswith("failed: cannot connect to " + url)


def test_slow_server_times_out_within_the_bound(fake):
    server = fake(Reply(body=completion(), delay_s=30))
    cfg = server.config(timeout_s=0.5, retries=1, backoff_s=0.05)
    t0 = time.monotonic()
    with pytest.raises(LLMTimeout, match="did not answer within 0.5 s") as e:
        ChatClient(cfg).chat(HELLO)
    elapsed = time.monotonic() - t0
    assert 1.0 <= elapsed < cfg.max_wait_s() + 1.0
    assert e.value.attempts == 2 and len(server.requests) == 2


def test_stalled_stream_times_out_and_is_not_retried_after_tokens(fake):
    first = b'data: {"choices":[{"delta":{"content":"Hel"},"finish_reason":null}]}\n\n'
    server = fake(Reply(events=[first], stall_s=30))
    tokens: list[str] = []
    with pytest.raises(LLMTimeout, match="sent nothing for 0.5 s while streaming") as e:
        ChatClient(server.config(timeout_s=0.5, retries=2)).chat(HELLO, stream=True, on_token=tokens.append)
    assert tokens == ["Hel"]
    assert e.value.attempts == 1 and len(server.requests) == 1


def test_stream_events_split_across_writes(fake):
    events = [
        b": keep-alive comment\r\n\r\n",
        b'data: {"model":"fake-model","choices":[{"delta":{"role":"assistant"}}]}\r\n\r\n',
        b'data: {"choices":[{"delta":{"content":"Hel',
        b'lo"}}]}\n\ndata: {"choices":[{"delta":{"content":", w"}}]}\n',
        b'\ndata: {"choices":[{"delta":{"content":"orld"},"finish_reason":"stop"}]}\n\n',
        b'data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":3,"total_tokens":7}}\n\n',
        b"data: [DONE]\n\n",
    ]
    server = fake(Reply(events=events))
    tokens: list[str] = []
    r = ChatClient(server.config()).chat(HELLO, stream=True, on_token=tokens.append)
    assert tokens == ["Hello", ", w", "orld"] and r.text == "Hello, world"
    assert (r.model, r.finish_reason, r.usage["completion_tokens"]) == ("fake-model", "stop", 3)
    sent = json.loads(server.requests[0][3])
    assert sent["stream"] is True and sent["messages"] == HELLO


def test_stream_cut_before_the_end_is_a_bad_response(fake):
    server = fake(Reply(events=[b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n']))
    with pytest.raises(LLMBadResponse, match="closed the stream before it finished"):
        ChatClient(server.config(retries=0)).chat(HELLO, stream=True)


@pytest.mark.parametrize("body, match", [
    (b"<html>502 bad gateway</html>", "not JSON: '<html>502 bad gateway</html>'"),
    ({"foo": 1}, "without a 'choices' list"),
    ({"model": "m", "choices": []}, "returned no choices"),
    ({"choices": [{"text": "old completions format"}]}, "choice without a 'message'"),
])
def test_malformed_bodies_are_bad_responses_without_retry(fake, body, match):
    server = fake(Reply(body=body))
    with pytest.raises(LLMBadResponse, match=match) as e:
        ChatClient(server.config(retries=2)).chat(HELLO)
    assert server.base_url in str(e.value) and "\n" not in str(e.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_are_retried(fake, status):
    server = fake(Reply(status=status, body={"error": {"message": "busy, try later"}}, headers={"Retry-After": "0"}),
                  Reply(body=completion("recovered")))
    r = ChatClient(server.config(retries=2)).chat(HELLO)
    assert r.text == "recovered" and r.attempts == 2 and len(server.requests) == 2


def test_server_errors_give_up_after_the_last_retry(fake):
    server = fake(Reply(status=500, body={"error": {"message": "model crashed"}}))
    with pytest.raises(LLMBadResponse, match=r"HTTP 500 .*model crashed \(after 3 attempts\)") as e:
        ChatClient(server.config(retries=2)).chat(HELLO)
    assert e.value.status == 500 and e.value.attempts == 3 and len(server.requests) == 3


def test_client_errors_are_not_retried(fake):
    server = fake(Reply(status=400, body={"error": {"message": "max_tokens is too large", "type": "invalid"}}))
    with pytest.raises(LLMBadResponse) as e:
        ChatClient(server.config(retries=3)).chat(HELLO)
    msg = str(e.value)
    assert msg.startswith(server.base_url + "/chat/completions returned HTTP 400")
    assert "max_tokens is too large" in msg
    assert e.value.status == 400 and e.value.attempts == 1 and len(server.requests) == 1


def test_an_unknown_model_lists_what_the_server_has(fake):
    server = fake(Reply(status=404, body={"error": {"message": "model 'llava' not found"}}),
                  Reply(body={"object": "list", "data": [{"id": m} for m in ("qwen", "smol", "phi", "gemma")]}))
    with pytest.raises(LLMBadResponse) as e:
        ChatClient(server.config(model="llava", retries=2)).chat(HELLO)
    assert str(e.value) == (f"{server.base_url}/chat/completions: the server has no model 'llava'; it offers "
                            "qwen, smol, phi, gemma")
    assert e.value.status == 404 and [r[1] for r in server.requests] == ["/v1/chat/completions", "/v1/models"]


def test_a_rejected_request_without_a_key_says_none_was_sent(fake):
    server = fake(Reply(status=401, body={"error": {"message": "Incorrect API key provided: no-key"}}))
    with pytest.raises(LLMBadResponse, match=r"HTTP 401 Unauthorized \(no API key was sent: set the variable named "
                                             r"by llm.api_key_env, or llm.api_key\): Incorrect API key") as e:
        ChatClient(server.config(retries=2)).chat(HELLO)
    assert e.value.attempts == 1 and len(server.requests) == 1


def test_a_server_that_ignores_stream_answers_in_one_piece(fake):
    server = fake(Reply(body=completion("all at once")))
    tokens: list[str] = []
    r = ChatClient(server.config()).chat(HELLO, stream=True, on_token=tokens.append)
    assert tokens == ["all at once"] and (r.text, r.finish_reason) == ("all at once", "stop")


def test_an_error_event_mid_stream_is_a_bad_response(fake):
    events = [b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n',
              b'data: {"error":{"message":"context window exceeded","type":"server_error"}}\n\n']
    server = fake(Reply(events=events))
    tokens: list[str] = []
    with pytest.raises(LLMBadResponse, match="reported an error mid-stream: context window exceeded") as e:
        ChatClient(server.config(retries=2)).chat(HELLO, stream=True, on_token=tokens.append)
    assert tokens == ["Hi"] and e.value.attempts == 1 and len(server.requests) == 1


def test_importing_the_client_does_not_import_openai():
    import subprocess
    import sys

    code = "import sys, memory.llm; print('openai' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                         cwd=root)
    assert out.stdout.strip() == "False"


def test_api_key_from_the_environment_and_request_body(fake, monkeypatch):
    monkeypatch.setenv("LAB_TEST_LLM_KEY", "sk-test-123")
    server = fake(Reply(body=completion()))
    cfg = LLMConfig(base_url=server.base_url, model="gpt-test", api_key_env="LAB_TEST_LLM_KEY", temperature=0.5,
                    max_tokens=7)
    client = ChatClient(cfg)
    monkeypatch.delenv("LAB_TEST_LLM_KEY")  # read once, when the client was built
    r = client.chat(HELLO)
    assert (r.text, r.model, r.usage["total_tokens"]) == ("hi there", "fake-model", 5)
    method, path, headers, body = server.requests[0]
    assert (method, path) == ("POST", "/v1/chat/completions")
    assert {k.lower(): v for k, v in headers.items()}["authorization"] == "Bearer sk-test-123"
    sent = json.loads(body)
    assert (sent["model"], sent["max_tokens"], sent["temperature"], sent["stream"]) == ("gpt-test", 7, 0.5, False)


def test_check_reports_a_failing_chat(fake):
    server = fake(Reply(body={"object": "list", "data": [{"id": "fake-model"}]}),
                  Reply(status=401, body={"error": {"message": "invalid api key"}}))
    line = ChatClient(server.config()).check()
    assert line.startswith("failed: ") and "HTTP 401" in line and "invalid api key" in line


def test_errors_share_one_base():
    assert issubclass(LLMUnavailable, LLMError) and issubclass(LLMTimeout, LLMError)
    assert issubclass(LLMBadResponse, LLMError)


def test_a_hung_server_is_paused_after_repeated_timeouts_and_said_once(fake, caplog):
    # issue 14: with the server hanging, every question of a --batch waited the full timeout (100 ≈ 33 min)
    server = fake(*[Reply(body=completion(), delay_s=30)] * 5, Reply(body=completion("back")))
    cfg = server.config(timeout_s=0.3, retries=1, pause_after=2, pause_s=0.6)
    with caplog.at_level("WARNING", logger="memory.llm"):
        for _ in range(2):
            with pytest.raises(LLMTimeout):
                ChatClient(cfg).chat(HELLO)
        assert len(server.requests) == 4  # two calls of two attempts each
        for _ in range(20):  # paused: no request, no wait
            with pytest.raises(LLMUnavailable, match=r"is not asked for another \d+ s: 2 calls in a row failed"):
                ChatClient(cfg).chat(HELLO)
        assert len(server.requests) == 4
    pauses = [r for r in caplog.records if "not asking it" in r.getMessage()]
    assert len(pauses) == 1 and "failed 2 calls in a row" in pauses[0].getMessage()
    time.sleep(0.7)
    # after the pause one probe (no retries) finds it still hung: paused again at once, no second warning
    with pytest.raises(LLMTimeout) as e:
        ChatClient(cfg).chat(HELLO)
    assert e.value.attempts == 1 and len(server.requests) == 5
    with pytest.raises(LLMUnavailable, match="3 calls in a row"):
        ChatClient(cfg).chat(HELLO)
    time.sleep(0.7)
    assert ChatClient(cfg).chat(HELLO).text == "back"  # it answers again: the breaker closes
    assert ChatClient(cfg).chat(HELLO).text == "back" and len(server.requests) == 7
    assert len([r for r in caplog.records if "not asking it" in r.getMessage()]) == 1


def test_the_breaker_can_be_turned_off(fake):
    server = fake(Reply(body=completion(), delay_s=30))
    cfg = server.config(timeout_s=0.2, retries=0, pause_after=0)
    for _ in range(4):
        with pytest.raises(LLMTimeout):
            ChatClient(cfg).chat(HELLO)
    assert len(server.requests) == 4
    with pytest.raises(ConfigError, match="pause_after"):
        LLMConfig(pause_after=-1)


def test_direct_construction_checks_every_range_in_one_line():
    for kw, field_name in [({"temperature": 2.5}, "temperature"), ({"max_tokens": 0}, "max_tokens"),
                           ({"pause_s": 0}, "pause_s"), ({"api_key_env": "MY KEY"}, "api_key_env"),
                           ({"base_url": "http://host:99999/v1"}, "base_url"), ({"retries": 11}, "retries")]:
        with pytest.raises(ConfigError) as e:
            LLMConfig(**kw)
        msg = str(e.value)
        assert msg.startswith((f"{field_name}:", f"invalid {field_name}:")) and "\n" not in msg
        assert msg.endswith(f"got {next(iter(kw.values()))!r}")
    assert LLMConfig(backoff_s=2.0, timeout_s=5).timeout_s == 5  # backoff_s still loads (unused); ints are numbers
