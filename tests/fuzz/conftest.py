"""Fixtures of the fuzz tests: small slices of the authors' GML files and a small real memory file."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.fuzzing import write_report


def pytest_sessionfinish(session, exitstatus):
    write_report()


@pytest.fixture(scope="session")
def small_memory(tmp_path_factory) -> Path:
    """A real memory file (places, objects, edges, a forest and vectors) imported from a slice of Building99."""
    from app.cli import memory as cli_memory
    from app.progress import drain
    from tests.fuzz.fuzzing import HashEncoder
    from tests.fuzz.gml_slices import slice_text

    d = tmp_path_factory.mktemp("fuzz-memory")
    gml = d / "slice.gml"
    gml.write_text(slice_text("b99_graph", 40), encoding="utf-8")
    db = d / "small.db"
    drain(cli_memory.import_gml_job(gml, db, encoder=HashEncoder(), cache=None))
    return db
