"""The LLM client's circuit breaker: a server that keeps failing is not asked for a while.

After ``config.pause_after`` chat calls in a row that could not reach a server (timeouts, refused
connections; each after its own retries), calls to it fail at once with ``LLMUnavailable`` for
``config.pause_s`` seconds; the pause is said once, in one warning. When it ends one attempt (no
retries) probes the server; a success closes the breaker, a failure pauses again. One breaker per
server URL, shared by every ``ChatClient`` of it, since callers make bounded copies of a client per call.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from memory.errors import LLMError, LLMUnavailable

log = logging.getLogger("memory.llm")

__all__ = ["Breaker", "breaker_for"]


class Breaker:
    """Failed chat calls in a row to one server, and until when it is not asked (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failures = 0
        self.paused_until = 0.0
        self.last = ""

    def admit(self, config: Any, url: str) -> int | None:
        """None: call as usual; 0: a probe after a pause (one attempt). Raises while paused."""
        with self._lock:
            if not config.pause_after or self.failures < config.pause_after:
                return None
            left = self.paused_until - time.monotonic()
            if left > 0:
                raise LLMUnavailable(f"{url} is not asked for another {left:.0f} s: {self.failures} calls in a row "
                                     f"failed (last: {self.last})", url=url)
            return 0

    def failed(self, config: Any, e: LLMError) -> None:
        with self._lock:
            self.failures += 1
            self.last = " ".join(str(e).split())[:160]
            if config.pause_after and self.failures >= config.pause_after:
                if self.failures == config.pause_after:  # said once, not after every failed probe
                    log.warning("LLM server %s failed %d calls in a row (%s); not asking it for %g s at a time "
                                "until it answers", e.url or "?", self.failures, self.last, config.pause_s)
                self.paused_until = time.monotonic() + config.pause_s

    def succeeded(self) -> None:
        with self._lock:
            self.failures = 0


_BREAKERS: dict[str, Breaker] = {}
_BREAKERS_LOCK = threading.Lock()


def breaker_for(root: str) -> Breaker:
    """The breaker of one server, shared by every client of it (``bounded_client`` makes copies per call)."""
    with _BREAKERS_LOCK:
        return _BREAKERS.setdefault(root, Breaker())
