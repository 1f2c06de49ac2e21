"""Session-wide test settings: offline model loading, a private cache, small thread counts."""
from __future__ import annotations

import os

# Models ship inside packages; nothing may be fetched from a hub during tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest  # noqa: E402

pytest_plugins = ["tests.fixtures_llm"]

from sim.loader import load_scene  # noqa: E402


@pytest.fixture(scope="session")
def rooms_scene():
    """A tiny two-room world (fast to build, for unit tests)."""
    return load_scene("rooms:n=2,seed=0")
