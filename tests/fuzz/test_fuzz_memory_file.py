"""Fuzzing the memory-file loader (``EmbodiedMemory.open``, read-only, as ``query`` and ``memory info`` open
files): random bytes, truncated and bit-flipped copies of a real small memory file, and well-formed SQLite
databases with wrong tables or rows. The file handed in is never changed and nothing is left beside it."""
from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memory.core import EmbodiedMemory, MemoryConfig
from tests.fuzz.fuzzing import FUZZ_SETTINGS, HashEncoder, check_case

pytestmark = pytest.mark.fuzz

ODD_VALUES = [None, -1, 0, 2**63 - 1, 1e308, float("nan"), "", "{", "[]", '{"id": 5}', "x" * 10_000, b"",
              b"\x00" * 7, b"\xff" * 64, '{"kind": "place", "id": "place/0", "position": [1e999, 0, 0]}']


def _open(path: Path) -> None:
    mem = EmbodiedMemory.open(path, MemoryConfig(image_encoder=None), create=False, readonly=True,
                              text_encoder=HashEncoder())
    try:
        mem.graph.places()
        mem.forest.roots()
    finally:
        mem.close()


@st.composite
def damaged_copies(draw, real: bytes) -> bytes:
    kind = draw(st.sampled_from(["truncate", "flip", "flip", "random", "splice"]))
    if kind == "truncate":
        return real[:draw(st.integers(0, len(real) - 1))]
    if kind == "random":
        head = draw(st.sampled_from([b"", b"SQLite format 3\x00", real[:100]]))
        return head + draw(st.binary(max_size=8192))
    data = bytearray(real)
    if kind == "flip":
        for _ in range(draw(st.integers(1, 64))):
            i = draw(st.integers(0, len(data) * 8 - 1))
            data[i // 8] ^= 1 << (i % 8)
    else:  # a run of bytes overwritten
        i = draw(st.integers(0, len(data) - 1))
        chunk = draw(st.binary(min_size=1, max_size=512))
        data[i:i + len(chunk)] = chunk
    return bytes(data)


@st.composite
def sql_edits(draw) -> list[str | tuple]:
    """Statements that keep the file a well-formed SQLite database but make its content wrong."""
    edits = []
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["update", "update", "delete", "drop", "insert", "meta", "table"]))
        edits.append((op, draw(st.integers(0, 1000)), draw(st.sampled_from(ODD_VALUES))))
    return edits


def _apply(db: Path, edits: list[tuple]) -> None:
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for op, n, value in edits:
            if not tables:
                break
            t = tables[n % len(tables)]
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]
            rows = con.execute(f'SELECT rowid FROM "{t}"').fetchall()
            if op == "update" and rows and cols:
                col = cols[n % len(cols)]
                con.execute(f'UPDATE "{t}" SET "{col}" = ? WHERE rowid = ?', (value, rows[n % len(rows)][0]))
            elif op == "delete" and rows:
                con.execute(f'DELETE FROM "{t}" WHERE rowid = ?', (rows[n % len(rows)][0],))
            elif op == "drop":
                con.execute(f'DROP TABLE "{t}"')
                tables.remove(t)
            elif op == "insert" and cols:
                con.execute(f'INSERT OR IGNORE INTO "{t}" VALUES ({", ".join("?" * len(cols))})', [value] * len(cols))
            elif op == "meta" and "meta" in tables:
                con.execute("UPDATE meta SET value = ? WHERE rowid = ?", (value, 1 + n % 8))
            elif op == "table":
                con.execute(f'CREATE TABLE IF NOT EXISTS "odd{n}" (x)')
        con.commit()
    except sqlite3.Error:
        pass  # an edit SQLite itself refuses (a constraint) is no case
    finally:
        con.close()


def _check(d: Path, data: bytes | None = None) -> None:
    f = d / "case.db"
    if data is not None:
        f.write_bytes(data)
    before = hashlib.sha256(f.read_bytes()).hexdigest()
    check_case("memory file", lambda: _open(f))
    assert hashlib.sha256(f.read_bytes()).hexdigest() == before, "a read-only open changed the file"
    assert [p.name for p in d.iterdir()] == ["case.db"], "something was left beside the file"


@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzz_damaged_memory_files(small_memory, tmp_path_factory, data):
    real = small_memory.read_bytes()
    _check(tmp_path_factory.mktemp("mem"), data.draw(damaged_copies(real)))


@FUZZ_SETTINGS
@given(edits=sql_edits())
def test_fuzz_memory_files_with_wrong_tables_or_rows(small_memory, tmp_path_factory, edits):
    d = tmp_path_factory.mktemp("memsql")
    shutil.copy(small_memory, d / "case.db")
    _apply(d / "case.db", edits)
    for extra in ("case.db-wal", "case.db-shm"):
        (d / extra).unlink(missing_ok=True)
    _check(d)


# ------------------------------------------------------------ regressions of cases the fuzzing found
def _copy_with(small_memory: Path, tmp_path: Path, sql: str, params: tuple = ()) -> Path:
    """A copy of the small memory file with one SQL statement applied to it."""
    f = tmp_path / "case.db"
    shutil.copy(small_memory, f)
    con = sqlite3.connect(f)
    con.execute(sql, params)
    con.commit()
    con.close()
    return f


def test_text_that_is_not_utf8_inside_a_record_is_a_damaged_file(small_memory, tmp_path):
    # was sqlite3.OperationalError "Could not decode to UTF-8 column 'data'" out of MemoryStore.load
    from memory.errors import CorruptMemoryFile

    f = _copy_with(small_memory, tmp_path,
                   "UPDATE nodes SET data = CAST(X'FF7B22' AS TEXT) WHERE rowid = (SELECT min(rowid) FROM nodes)")
    with pytest.raises(CorruptMemoryFile, match=r"case\.db is damaged \(Could not decode to UTF-8"):
        _open(f)


def test_a_meta_value_that_is_not_json_is_a_damaged_file(small_memory, tmp_path):
    # was json.JSONDecodeError out of MemoryStore.load
    from memory.errors import CorruptMemoryFile

    f = _copy_with(small_memory, tmp_path, "UPDATE meta SET value = '{' WHERE key != 'schema_version'")
    with pytest.raises(CorruptMemoryFile, match=r"case\.db is damaged \(Expecting property name"):
        _open(f)


def test_a_damaged_schema_is_one_line(small_memory, tmp_path):
    # SQLite quotes the damaged CREATE statement with its line breaks; the message was several lines
    from memory.errors import CorruptMemoryFile

    data = bytearray(small_memory.read_bytes())
    i = data.find(b"text TEXT NOT NULL")
    assert i > 0
    data[i - 2] = ord('"')  # an unterminated quote inside the schema text of table 'nodes'
    f = tmp_path / "case.db"
    f.write_bytes(bytes(data))
    with pytest.raises(CorruptMemoryFile) as e:
        _open(f)
    assert "\n" not in str(e.value) and "damaged" in str(e.value)


@pytest.mark.parametrize("data", ["-1", '{"kind": "near"}', '{"key": 3}', "[]"])
def test_edge_attributes_that_are_not_an_object_are_a_damaged_file(small_memory, tmp_path, data):
    # was TypeError out of TopoGraph.from_snapshot ("'int' object is not iterable", "got multiple values for 'kind'")
    from memory.errors import CorruptMemoryFile

    f = _copy_with(small_memory, tmp_path, "UPDATE edges SET data = ? WHERE rowid = (SELECT min(rowid) FROM edges)",
                   (data,))
    with pytest.raises(CorruptMemoryFile, match="not an object of edge attributes"):
        _open(f)
