"""Memories shared by the retrieval tests, built once per session.

The explored house is the root conftest's ``house_memory`` file; Building99 is imported from
the shared GML once (the cache below makes the second test directory reuse it). One MiniLM
encoder serves every memory the tests open. ``tests/memory/conftest.py`` and
``tests/app/conftest.py`` import these fixtures.
"""
from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.progress import drain
from memory.core import EmbodiedMemory, MemoryConfig
from memory.encoders import EncoderConfig, make_encoder
from sim.loader import load_scene
from sim.types import SceneInfo

HOUSE_SPEC = "house:seed=3,rooms=6"
MULTIFLOOR_SPEC = "multifloor:seed=2,floors=2"  # the root conftest's ``multifloor_memory``
B99_GML = (Path(__file__).resolve().parent.parent / "assets" / "data" / "embodied-rag-building99"
           / "building99_graph.gml")


@dataclass(frozen=True)
class ExploredWorld:
    spec: str
    path: Path
    info: SceneInfo


_WORLDS: dict[str, ExploredWorld] = {}


@functools.cache
def shared_text_encoder():
    """One MiniLM encoder (one thread) for every memory opened by the tests."""
    return make_encoder(EncoderConfig(threads=1))


def open_memory(path: Path, **kwargs) -> EmbodiedMemory:
    """A memory file opened read-only, text only unless ``image_encoder=`` is given (whatever the
    default image encoder of the day is, these tests pin their configuration)."""
    return EmbodiedMemory.open(path, MemoryConfig(image_encoder=None), create=False, readonly=True,
                               text_encoder=shared_text_encoder(), **kwargs)


@pytest.fixture(scope="session")
def house_world(house_memory) -> ExploredWorld:
    """``house:seed=3,rooms=6`` explored to completion: the root conftest's ``house_memory`` file."""
    path, _ = house_memory
    return ExploredWorld(HOUSE_SPEC, Path(path), load_scene(HOUSE_SPEC).info)


@pytest.fixture(scope="session")
def house_mem(house_world) -> Iterator[EmbodiedMemory]:
    """The explored house, opened read-only with the shared encoder (shared: do not change it)."""
    mem = open_memory(house_world.path)
    yield mem
    mem.close()


@pytest.fixture(scope="session")
def b99_memory(tmp_path_factory) -> Iterator[EmbodiedMemory]:
    """The paper's Building99 graph, imported from the shared GML (forest rebuilt)."""
    if "b99" not in _WORLDS:
        from app.cli.memory import import_gml_job

        out = tmp_path_factory.mktemp("b99") / "b99.db"
        drain(import_gml_job(B99_GML, out, encoder=shared_text_encoder()))
        _WORLDS["b99"] = ExploredWorld("b99", out, SceneInfo("building99"))
    mem = open_memory(_WORLDS["b99"].path)
    yield mem
    mem.close()
