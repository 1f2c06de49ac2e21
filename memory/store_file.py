"""The on-disk side of a memory file: schema SQL and version, read-only validation of an existing
file, connections for readers and writers (read-only folders included), creating and copying a file
atomically (temp file beside the target, fsync, rename), and which SQLite errors are the disk's.
"""
from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from memory.errors import (
    CorruptMemoryFile,
    MemoryFileError,
    MemoryFileUnwritable,
    MemoryStoreError,
    NewerSchemaError,
    NotAMemoryFile,
)

__all__ = ["SCHEMA_VERSION", "TABLES", "OPTIONAL_TABLES", "SCHEMA_SQL", "SOURCES_SQL", "validate_file", "fsync_path",
           "temp_file", "remove_sidecars", "check_writable", "connect_reader", "connect_writer", "create_file",
           "copy_database", "is_disk_error", "GuardedWrites", "now_iso", "app_version", "dumps_json", "encode_png"]

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


# ---------------------------------------------------------------------------------- connections
_DISK_ERRORS = (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN,
                sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def is_disk_error(e: sqlite3.Error) -> bool:
    """Whether an SQLite error comes from the file or the disk (full, I/O, read-only ...), not from a
    statement: after one the open transaction cannot be trusted."""
    code = getattr(e, "sqlite_errorcode", None)
    if code is None:
        return isinstance(e, sqlite3.OperationalError) and ("disk" in str(e) or "readonly" in str(e))
    return (code & 0xFF) in _DISK_ERRORS


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def check_writable(path: Path) -> None:
    """Raise ``MemoryFileUnwritable`` unless ``path`` (when it exists) and its folder can be written:
    SQLite opens a write-protected file read-only without a word, and needs the folder for its ``-wal``."""
    if not path.parent.is_dir():
        raise MemoryFileUnwritable(f"cannot write {path}: folder {path.parent} does not exist", path=path)
    if not _writable(path.parent):
        raise MemoryFileUnwritable(f"cannot write {path}: folder {path.parent} is read-only", path=path)
    if path.exists() and not _writable(path):
        raise MemoryFileUnwritable(f"cannot write {path}: the file is read-only", path=path)


def _connect(path: Path, query: str) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # SQLite opens lazily: read now
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _read_only(path: Path) -> sqlite3.Connection:
    """A ``mode=ro`` connection; in a folder nobody may write (a read-only mount), where SQLite cannot
    make the ``-shm`` a WAL database needs, an ``immutable`` one (nothing can change the file there)."""
    try:
        return _connect(path, "mode=ro")
    except sqlite3.OperationalError:
        wal = Path(str(path) + "-wal")
        if _writable(path.parent):
            raise
        if wal.exists() and wal.stat().st_size > 0:
            raise MemoryFileError(f"cannot read {path}: its folder is read-only and {wal.name} beside it holds "
                                  f"writes SQLite cannot apply there; copy both files to a writable folder",
                                  path=path) from None
    return _connect(path, "mode=ro&immutable=1")


def connect_reader(path: Path) -> sqlite3.Connection:
    """A connection that only reads (``query_only``). Where the OS allows, a read-write one, so that
    closing the last connection removes the ``-wal``/``-shm`` as SQLite does for writers; else read-only."""
    conn = None
    try:
        if _writable(path) and _writable(path.parent):
            try:
                conn = _connect(path, "mode=rw")
            except sqlite3.OperationalError:
                conn = None
        if conn is None:
            conn = _read_only(path)
        conn.execute("PRAGMA query_only = 1")
        conn.execute("SELECT count(*) FROM meta").fetchone()
    except sqlite3.Error as e:
        if conn is not None:
            conn.close()
        raise MemoryFileError(f"cannot read {path} ({e})", path=path) from e
    return conn


def connect_writer(path: Path) -> sqlite3.Connection:
    """A read-write WAL connection with full sync (a committed checkpoint survives power loss)."""
    conn = None
    try:
        conn = _connect(path, "mode=rw")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.Error as e:
        if conn is not None:
            conn.close()
        raise MemoryFileUnwritable(f"cannot open {path} ({e})", path=path) from e
    return conn


class GuardedWrites:
    """A connection inside a write transaction whose failed statements go to ``on_error`` first (the
    store ends writing after a disk error instead of leaving later statements to autocommit)."""

    __slots__ = ("_conn", "_on_error")

    def __init__(self, conn: sqlite3.Connection, on_error: Callable[[sqlite3.Error], None]) -> None:
        self._conn, self._on_error = conn, on_error

    def execute(self, sql: str, params: Sequence | Mapping = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as e:
            self._on_error(e)
            raise

    def executemany(self, sql: str, rows: Iterable) -> sqlite3.Cursor:
        try:
            return self._conn.executemany(sql, rows)
        except sqlite3.Error as e:
            self._on_error(e)
            raise


# ------------------------------------------------------------------------------- atomic writes
def create_file(path: Path) -> None:
    """Make a new memory file atomically: schema and meta in a temp file, then rename."""
    if not path.parent.is_dir():
        raise MemoryFileUnwritable(f"cannot create {path}: folder {path.parent} does not exist", path=path)
    try:
        tmp = temp_file(path, ".new")
    except OSError as e:
        raise MemoryFileUnwritable(f"cannot create {path}: {e.strerror or e}", path=path) from e
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN")
            for stmt in filter(str.strip, SCHEMA_SQL.split(";")):
                conn.execute(stmt)
            now = now_iso()
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
                ("schema_version", dumps_json(SCHEMA_VERSION)), ("created", dumps_json(now)),
                ("modified", dumps_json(now)), ("app_version", dumps_json(app_version())),
                ("counts", dumps_json({})), ("encoders", dumps_json([]))])
            conn.execute("COMMIT")
        finally:
            conn.close()
        fsync_path(Path(tmp))
        remove_sidecars(path)
        os.replace(tmp, path)
        fsync_path(path.parent, directory=True)
    except (OSError, sqlite3.Error) as e:
        Path(tmp).unlink(missing_ok=True)
        remove_sidecars(Path(tmp))
        raise MemoryFileUnwritable(f"cannot create {path}: {e}", path=path) from e


def copy_database(conn: sqlite3.Connection, target: Path) -> None:
    """Write a consistent copy of ``conn``'s database to ``target`` atomically (backup into a temp file
    beside it, fsync, rename): a failure (a full disk) leaves whatever was at ``target`` as it was."""
    if not target.parent.is_dir():
        raise MemoryFileUnwritable(f"cannot save to {target}: folder {target.parent} does not exist", path=target)
    if target.is_dir():
        raise MemoryFileUnwritable(f"cannot save to {target}: it is a folder", path=target)
    tmp = None
    try:
        tmp = temp_file(target, ".tmp")
        dst = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.backup(dst)
        finally:
            dst.close()
        fsync_path(Path(tmp))
        remove_sidecars(target)
        os.replace(tmp, target)
        fsync_path(target.parent, directory=True)
    except (OSError, sqlite3.Error) as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
            remove_sidecars(Path(tmp))
        raise MemoryFileUnwritable(f"cannot save to {target}: {e}", path=target) from e


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
        conn = _read_only(path)
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
        if (getattr(e, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL):
            raise MemoryFileError(f"cannot read {path} ({e}); is the disk full?", path=path) from e
        detail = " ".join(str(e).split())  # SQLite quotes a damaged schema with its line breaks
        raise CorruptMemoryFile(f"{path} is damaged or not a memory file ({detail[:200]})", path=path) from e
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


def encode_png(image: np.ndarray | bytes, what: str) -> tuple[bytes, int, int]:
    """``(png, width, height)`` of an RGB/RGBA/grey uint8 array or of image bytes; ``what`` names the
    caller in the ``MemoryStoreError`` raised for anything else."""
    from PIL import Image

    try:
        if isinstance(image, (bytes, bytearray)):
            im = Image.open(io.BytesIO(image))
            im.load()
        else:
            a = np.asarray(image)
            if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
                raise MemoryStoreError(f"{what}: expected uint8 (H, W[, 3|4]), got {a.dtype} {a.shape}")
            im = Image.fromarray(np.ascontiguousarray(a))
        buf = io.BytesIO()
        im.save(buf, format="PNG")
    except (OSError, ValueError) as e:
        raise MemoryStoreError(f"{what}: not a readable image ({e})") from e
    return buf.getvalue(), im.width, im.height


def _json_default(v: Any) -> Any:
    if isinstance(v, (np.generic, np.ndarray)):
        return v.tolist()
    if isinstance(v, Mapping):
        return dict(v)
    raise MemoryStoreError(f"cannot store a value of type {type(v).__name__} as JSON")
