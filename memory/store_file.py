"""The on-disk side of a memory file: schema SQL and version, read-only validation of an existing
file, and the helpers that write files atomically (temp file beside the target, fsync, rename).
"""
from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from memory.errors import CorruptMemoryFile, MemoryFileError, MemoryStoreError, NewerSchemaError, NotAMemoryFile

__all__ = ["SCHEMA_VERSION", "TABLES", "OPTIONAL_TABLES", "SCHEMA_SQL", "SOURCES_SQL", "validate_file", "fsync_path",
           "temp_file", "remove_sidecars",
           "now_iso", "app_version", "dumps_json"]

SCHEMA_VERSION = 1
TABLES = ("meta", "nodes", "edges", "membership", "embeddings", "images")
OPTIONAL_TABLES = ("sources",)  # added after schema 1 shipped: files without it are still schema 1
_SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA_SQL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE nodes (
    id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL CHECK (kind IN ('place', 'object', 'cluster')),
    level INTEGER NOT NULL, name TEXT NOT NULL, text TEXT NOT NULL, x REAL, y REAL, z REAL,
    floor INTEGER, t_first REAL, t_last REAL, data TEXT NOT NULL);
CREATE INDEX nodes_kind_level ON nodes (kind, level);
CREATE TABLE edges (
    src TEXT NOT NULL, dst TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}',
    UNIQUE (src, dst, kind));
CREATE INDEX edges_dst ON edges (dst);
CREATE INDEX edges_kind ON edges (kind);
CREATE TABLE membership (child TEXT PRIMARY KEY, parent TEXT NOT NULL, level INTEGER NOT NULL);
CREATE INDEX membership_parent ON membership (parent);
CREATE TABLE embeddings (
    node_id TEXT NOT NULL, modality TEXT NOT NULL CHECK (modality IN ('text', 'image')),
    encoder TEXT NOT NULL, dim INTEGER NOT NULL, dtype TEXT NOT NULL, vec BLOB NOT NULL,
    source_hash TEXT NOT NULL, PRIMARY KEY (node_id, modality, encoder));
CREATE INDEX embeddings_space ON embeddings (encoder, modality);
CREATE TABLE images (
    node_id TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('thumb', 'crop', 'view', 'map')),
    png BLOB NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, PRIMARY KEY (node_id, kind));
CREATE TABLE sources (node_id TEXT PRIMARY KEY, data TEXT NOT NULL);
"""
# The attributes an imported node had in its source file (JSON), for exports that write them back.
SOURCES_SQL = "CREATE TABLE IF NOT EXISTS sources (node_id TEXT PRIMARY KEY, data TEXT NOT NULL)"


def fsync_path(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_file(target: Path, suffix: str) -> Path:
    """A new empty file beside ``target`` with the usual permissions (``mkstemp`` would make it 0600)."""
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{os.urandom(4).hex()}{suffix}"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")


def remove_sidecars(path: Path) -> None:
    """Delete a stale ``-wal``/``-shm`` beside ``path``: SQLite would replay a foreign WAL into a new file."""
    for suffix in ("-wal", "-shm", "-journal"):
        side = Path(str(path) + suffix)
        if side.exists():
            side.unlink()


def validate_file(path: Path) -> None:
    """Check a file read-only (header, integrity, tables, schema version); never writes to it."""
    with open(path, "rb") as f:
        header = f.read(100)
    if not header:
        raise NotAMemoryFile(f"{path} is an empty file, not a memory file", path=path)
    if not header.startswith(_SQLITE_MAGIC):
        raise NotAMemoryFile(f"{path} is not a memory file (not an SQLite database)", path=path)
    sidecars = {s: Path(str(path) + s).exists() for s in ("-wal", "-shm")}
    try:
        _check_database(path)
    except MemoryFileError:
        for s, existed in sidecars.items():  # a refused file keeps no trace of our visit
            side = Path(str(path) + s)
            if not existed and side.exists() and (s == "-shm" or side.stat().st_size == 0):
                side.unlink()
        raise


def _check_database(path: Path) -> None:
    conn = None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            detail = " ".join("; ".join(problems).split())  # one line, however SQLite formats it
            raise CorruptMemoryFile(f"{path} is damaged ({detail[:160]})", path=path)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            raise NotAMemoryFile(f"{path} is an SQLite database but not a memory file (no meta table)", path=path)
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            raise NotAMemoryFile(f"{path} is an SQLite database but not a memory file (no schema version)",
                                 path=path)
        version = json.loads(row[0])
        if not isinstance(version, int) or version < 1:
            raise CorruptMemoryFile(f"{path} has an invalid schema version {row[0]!r}", path=path)
        if version > SCHEMA_VERSION:
            raise NewerSchemaError(f"{path} was written by a newer version of the app (schema {version}; "
                                   f"this version reads up to {SCHEMA_VERSION}); update the app to open it",
                                   path=path)
        missing = [t for t in TABLES if t not in tables]
        if missing:
            raise CorruptMemoryFile(f"{path} lacks the tables {', '.join(missing)}", path=path)
    except sqlite3.DatabaseError as e:
        raise CorruptMemoryFile(f"{path} is damaged or not a memory file ({e})", path=path) from e
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptMemoryFile(f"{path} has an unreadable meta table ({e})", path=path) from e
    finally:
        if conn is not None:
            conn.close()


# ------------------------------------------------------------------------------ meta values
def now_iso() -> str:
    """The current UTC time, to the second, as stored in ``meta``."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def app_version() -> str:
    """The installed version of the project, or ``unknown`` when run from a bare checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("embodied-rag-lab")
    except PackageNotFoundError:
        return "unknown"


def dumps_json(obj: Any) -> str:
    """Compact JSON of a stored value (numpy scalars and arrays become lists)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _json_default(v: Any) -> Any:
    if isinstance(v, (np.generic, np.ndarray)):
        return v.tolist()
    if isinstance(v, Mapping):
        return dict(v)
    raise MemoryStoreError(f"cannot store a value of type {type(v).__name__} as JSON")
