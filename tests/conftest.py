"""Session-wide test settings: offline model loading, a private cache, small thread counts."""
from __future__ import annotations

import os

# Models ship inside packages; nothing may be fetched from a hub during tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "2")
# CLI progress (a bar or plain lines, app.progress) would mix with the error lines the tests read;
# tests/app/test_progress.py checks it on its own streams.
os.environ.setdefault("LAB_PROGRESS", "off")

import pytest  # noqa: E402

pytest_plugins = ["tests.fixtures_llm"]

from sim.loader import load_scene  # noqa: E402


@pytest.fixture(scope="session")
def rooms_scene():
    """A tiny two-room world (fast to build, for unit tests)."""
    return load_scene("rooms:n=2,seed=0")


def _explore_to_file(path, spec: str, steps: int):
    from app.progress import drain
    from app.session import Session

    with Session(spec, memory_path=path) as s:
        summary = drain(s.explore(steps))
    return summary


@pytest.fixture(scope="session")
def house_memory(tmp_path_factory):
    """``house:seed=3,rooms=6`` explored to completion once per test session: (db path, summary).

    Tests must not write to this file; copy it first (``shutil.copy``) when they need to.
    """
    path = tmp_path_factory.mktemp("house") / "house.db"
    summary = _explore_to_file(path, "house:seed=3,rooms=6", 1500)
    return path, summary



@pytest.fixture(scope="session")
def multifloor_memory(tmp_path_factory):
    """``multifloor:seed=2,floors=2`` explored to completion once per test session: (db path, summary).

    Shared by the forest's floor check and the map's label layout; copy the file before writing to it.
    """
    from tests.explored_worlds import MULTIFLOOR_SPEC

    path = tmp_path_factory.mktemp("multifloor") / "multifloor.db"
    summary = _explore_to_file(path, MULTIFLOOR_SPEC, 2500)
    return path, summary
