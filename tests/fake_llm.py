"""A scripted OpenAI-compatible chat server on 127.0.0.1 for fast, deterministic LLM-path tests.

``FakeLLM(reply)`` answers every ``POST /v1/chat/completions`` with ``reply(request_json)`` (or a
fixed string); ``mode="garbage"`` sends a body that is not JSON, ``mode="slow"`` waits ``delay``
seconds first. ``dead_url()`` is an address where nothing listens. The real model is tested
against the SmolLM2 server of ``tests/fixtures_llm.py``.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from memory.llm import LLMConfig


class FakeLLM:
    def __init__(self, reply: str | Callable[[dict], str] = "OK", *, mode: str = "ok", delay: float = 0.0) -> None:
        self.reply = reply
        self.mode = mode
        self.delay = delay
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append(body)
                if fake.mode == "slow":
                    time.sleep(fake.delay)
                if fake.mode == "garbage":
                    data = b"<html>this is not json"
                else:
                    text = fake.reply(body) if callable(fake.reply) else fake.reply
                    data = json.dumps({"model": "fake", "choices": [{"message": {"role": "assistant", "content": text},
                                                                     "finish_reason": "stop"}]}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout tests)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def config(self, **overrides: Any) -> LLMConfig:
        kw = {"base_url": self.url, "api_key_env": "", "timeout_s": 5.0, "retries": 0, **overrides}
        return LLMConfig(**kw)

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def dead_url() -> str:
    """A local URL where nothing listens (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/v1"
