"""Persistence of the memory: one SQLite database (WAL) per memory file.

Tables (schema version ``SCHEMA_VERSION``):

* ``meta(key, value)`` — JSON values: ``schema_version``, ``created``, ``modified``, ``app_version``,
  ``counts``, ``encoders`` and whatever callers set (``scene``, ``source``, ...).
* ``nodes(id, kind, level, name, text, x, y, z, floor, t_first, t_last, data)`` — one row per place,
  object and cluster; ``data`` is the full record as JSON (``record_to_json``), the other columns are
  copies for queries. ``text`` is ``record.text``, the text an encoder embeds.
* ``edges(src, dst, kind, data)`` — ``traverse`` (place→place), ``sees`` (place→object) and spatial
  relations whose kind is the relation word (``near``, ``on``, ``east`` ...); ``data`` is JSON.
* ``membership(child, parent, level)`` — the forest parent of every leaf and cluster; ``level`` is the
  parent's level.
* ``embeddings(node_id, modality, encoder, dim, dtype, vec, source_hash)`` — float32 little-endian
  blobs; ``source_hash`` (``content_hash``) of the text or image the vector was computed from.
* ``images(node_id, kind, png, width, height)`` — ``thumb`` / ``crop`` / ``view`` PNGs.
* ``sources(node_id, data)`` — for imported nodes, their attributes in the source file (JSON); files
  written before this table existed simply have none.

Writes go into one open transaction that ``checkpoint()`` commits, so a crash (even ``kill -9``)
loses at most the work since the last checkpoint and never leaves a half-written checkpoint. A disk
error (a full disk) while writing rolls the transaction back and ends writing for this store: nothing
more is written on top, closing does not checkpoint again, and the file keeps its last checkpoint.
Closing folds the write-ahead log into the file and says so when it cannot.
One process writes a file at a time (``memory.file_lock``); readers see the last checkpoint.
Files are validated read-only before anything writes to them: a bad file raises one
``MemoryFileError`` and stays byte-for-byte as it was. Nothing is ever pickled.

Record JSON lives in ``memory.records_json``, the row and snapshot types in ``memory.store_types``, the
schema and file checks in ``memory.store_file`` and the errors in ``memory.errors``; all are re-exported here.
"""
from __future__ import annotations

import io
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memory.errors import (  # noqa: F401  (re-exported: callers import the errors from here)
    CorruptMemoryFile,
    ImageNotFound,
    MemoryFileError,
    MemoryFileLocked,
    MemoryFileNotFound,
    MemoryFileUnwritable,
    MemoryStoreError,
    NewerSchemaError,
    NotAMemoryFile,
    RecordFormatError,
)
from memory.file_lock import WriterLock, writer_lock
from memory.records_json import Record, content_hash, record_from_json, record_to_json  # noqa: F401
from memory.store_file import (
    SCHEMA_VERSION,
    SOURCES_SQL,
    GuardedWrites,
    check_writable,
    connect_reader,
    connect_writer,
    copy_database,
    create_file,
    dumps_json,
    encode_png,
    is_disk_error,
    now_iso,
    validate_file,
)
from memory.store_types import (  # noqa: F401
    SEES,
    TRAVERSE,
    EdgeRow,
    EmbeddingSpace,
    Membership,
    MemorySnapshot,
    relation_to_edge,
)
from memory.types import ClusterRecord, ObjectRecord, PlaceRecord

log = logging.getLogger(__name__)

__all__ = [
    "SCHEMA_VERSION", "TRAVERSE", "SEES", "IMAGE_KINDS", "MODALITIES", "Record",
    "MemoryStoreError", "RecordFormatError", "ImageNotFound", "MemoryFileError", "MemoryFileNotFound",
    "NotAMemoryFile", "CorruptMemoryFile", "NewerSchemaError", "MemoryFileUnwritable", "MemoryFileLocked",
    "EdgeRow", "Membership", "EmbeddingSpace", "MemorySnapshot", "MemoryStore",
    "record_to_json", "record_from_json", "relation_to_edge", "content_hash",
]

IMAGE_KINDS = ("thumb", "crop", "view", "map")  # map: the robot's own occupancy map, one per floor
MODALITIES = ("text", "image")
_CHUNK = 500  # ids per "IN (...)" query, under SQLite's variable limit


# ----------------------------------------------------------------------------------------- store
class MemoryStore:
    """A memory file: record-level reads and writes, committed in batches by ``checkpoint()``.

    Build with ``MemoryStore.open``; use as a context manager (normal exit checkpoints, an
    exception rolls back). Thread-safe: one lock serialises every call. A writable store holds the
    file's writer lock until it is closed.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool,
                 writer: WriterLock | None = None) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._path = path
        self._readonly = readonly
        self._writer = writer
        self._lock = threading.RLock()
        self._in_tx = False
        self._failed = ""  # why writing ended (a disk error): nothing more is written

    # ------------------------------------------------------------------------------- lifecycle
    @classmethod
    def open(cls, path: str | os.PathLike, *, create: bool = True, readonly: bool = False) -> MemoryStore:
        """Open (or with ``create`` make) the memory file at ``path``.

        A writable store first takes the file's writer lock (``memory.file_lock``). Raises
        ``MemoryFileNotFound``, ``NotAMemoryFile``, ``CorruptMemoryFile``, ``NewerSchemaError``,
        ``MemoryFileLocked`` (another process writes it) or ``MemoryFileUnwritable``; a refused file is
        left untouched. A read-only store also opens a file on read-only storage.
        """
        p = Path(path)
        if p.is_dir():
            raise NotAMemoryFile(f"{p} is a folder, not a memory file", path=p)
        exists = p.exists()
        if not exists and (not create or readonly):
            raise MemoryFileNotFound(f"memory file not found: {p}", path=p)
        writer = None if readonly else writer_lock(p)
        try:
            if exists and p.stat().st_size == 0 and create and not readonly:
                exists = False  # an empty placeholder (e.g. from mkstemp) becomes a new memory
            if not readonly:
                check_writable(p)
            if not exists:
                create_file(p)
                log.info("created memory file %s", p)
            else:
                try:
                    validate_file(p)
                except PermissionError as e:
                    raise MemoryFileError(f"cannot read {p}: permission denied", path=p) from e
            conn = connect_reader(p) if readonly else connect_writer(p)
        except BaseException:
            if writer is not None:
                writer.release()
            raise
        log.debug("opened memory file %s (readonly=%s)", p, readonly)
        return cls(conn, p, readonly, writer)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def readonly(self) -> bool:
        return self._readonly

    @property
    def closed(self) -> bool:
        return self._conn is None

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and not self.closed:
            self.rollback()
        self.close()

    def close(self) -> None:
        """Checkpoint pending writes, fold the write-ahead log into the file and close it (a no-op when
        already closed). After a failed write nothing is checkpointed: the file keeps its last checkpoint.
        Raises ``MemoryFileUnwritable`` when the disk refuses the last writes; the file is closed anyway."""
        with self._lock:
            if self._conn is None:
                return
            try:
                if self._in_tx and not self._failed:
                    self.checkpoint()
                if not self._readonly and not self._failed:
                    self._fold_wal()
            finally:
                self._conn.close()
                self._conn = None
                if self._writer is not None:
                    self._writer.release()

    def _fold_wal(self) -> None:
        # SQLite folds the log into the file when the last connection closes but ignores a failure
        # there (a full disk); asking first means a command never reports a file it could not finish
        try:
            self._c().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as e:
            raise MemoryFileUnwritable(
                f"cannot finish writing {self._path} ({e}): its last checkpoint is kept in {self._path.name}-wal "
                "beside it; keep both files together, free some space and open the memory again",
                path=self._path) from e

    def checkpoint(self) -> None:
        """Commit everything written since the last checkpoint in one transaction.

        A disk error rolls it back and raises ``MemoryFileUnwritable``; the file keeps the last checkpoint."""
        with self._lock:
            conn = self._c()
            if self._failed:
                raise MemoryFileUnwritable(self._failed, path=self._path)
            if not self._in_tx:
                return
            counts = dict(conn.execute("SELECT kind, count(*) FROM nodes GROUP BY kind").fetchall())
            counts["edges"] = conn.execute("SELECT count(*) FROM edges").fetchone()[0]
            spaces = [s._asdict() for s in self.embedding_spaces()]
            self._set_meta_rows({"modified": now_iso(), "counts": counts, "encoders": spaces})
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as e:
                raise self._abandon(e) from e
            self._in_tx = False

    def rollback(self) -> None:
        """Discard everything written since the last checkpoint."""
        with self._lock:
            if self._in_tx:
                conn = self._c()
                self._in_tx = False
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

    @property
    def failed(self) -> str:
        """Why writing ended (a disk error), or ``""`` while the store can write."""
        return self._failed

    def _abandon(self, e: sqlite3.Error) -> MemoryFileUnwritable:
        """End writing after a disk error: roll back (SQLite may already have done it, leaving later
        statements to commit one by one) and refuse every later write; returns the error to raise."""
        conn = self._c()
        self._in_tx = False
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.debug("rollback after %s failed", e)
        self._failed = (f"cannot write {self._path} ({e}); it keeps its last checkpoint, the work since then "
                        "is not saved")
        log.info("%s", self._failed)
        return MemoryFileUnwritable(self._failed, path=self._path)

    def save_as(self, path: str | os.PathLike) -> Path:
        """Checkpoint, then write a consistent copy to ``path`` atomically (backup to a temp file, fsync,
        rename), holding ``path``'s writer lock meanwhile. The store keeps working on its own file; open
        the copy with ``MemoryStore.open``."""
        target = Path(path)
        with self._lock:
            if not self._readonly:
                self.checkpoint()
            if target.exists() and target.resolve() == self._path.resolve():
                return target
            with writer_lock(target):
                copy_database(self._c(), target)
        log.info("saved a copy of %s to %s", self._path, target)
        return target

    # ----------------------------------------------------------------------------- internals
    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise MemoryStoreError(f"the memory store {self._path} is closed")
        return self._conn

    def _w(self) -> GuardedWrites:
        """The connection inside the open write transaction (begun on the first write)."""
        conn = self._c()
        if self._readonly:
            raise MemoryStoreError(f"the memory file {self._path} is open read-only")
        if self._failed:
            raise MemoryFileUnwritable(self._failed, path=self._path)
        if self._in_tx and not conn.in_transaction:  # SQLite rolled it back on an error we did not see
            raise self._abandon(sqlite3.OperationalError("the write transaction was lost"))
        if not self._in_tx:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                raise MemoryFileUnwritable(f"cannot write {self._path} ({e}); is another program using it?",
                                           path=self._path) from e
            self._in_tx = True
        return GuardedWrites(conn, self._write_failed)

    def _write_failed(self, e: sqlite3.Error) -> None:
        """A write statement failed: a disk error (or a transaction SQLite dropped) ends writing."""
        conn = self._c()
        if is_disk_error(e) or not conn.in_transaction:
            raise self._abandon(e) from e

    def _set_meta_rows(self, items: Mapping[str, Any]) -> None:
        self._w().executemany("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                              "SET value = excluded.value", [(k, dumps_json(v)) for k, v in items.items()])

    # ---------------------------------------------------------------------------------- nodes
    def upsert_places(self, records: Iterable[PlaceRecord]) -> int:
        """Insert or replace place records; returns how many were written."""
        return self._upsert(records, PlaceRecord)

    def upsert_objects(self, records: Iterable[ObjectRecord]) -> int:
        """Insert or replace object records; returns how many were written."""
        return self._upsert(records, ObjectRecord)

    def upsert_clusters(self, records: Iterable[ClusterRecord]) -> int:
        """Insert or replace cluster records; returns how many were written."""
        return self._upsert(records, ClusterRecord)

    def _upsert(self, records: Iterable[Record], cls: type) -> int:
        rows = []
        for r in records:
            if not isinstance(r, cls):
                raise MemoryStoreError(f"expected {cls.__name__}, got {type(r).__name__}")
            if isinstance(r, PlaceRecord):
                level, t0, t1 = 0, r.timestamp, r.timestamp
            elif isinstance(r, ObjectRecord):
                level, t0, t1 = 0, r.first_seen, r.last_seen
            else:
                level, t0, t1 = r.level, r.first_seen, r.last_seen
            x, y, z = r.position
            rows.append((r.id, r.kind.value, level, r.name, r.text, x, y, z, r.floor, t0, t1,
                         dumps_json(record_to_json(r))))
        with self._lock:
            self._w().executemany(
                "INSERT INTO nodes (id, kind, level, name, text, x, y, z, floor, t_first, t_last, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, "
                "level = excluded.level, name = excluded.name, text = excluded.text, x = excluded.x, "
                "y = excluded.y, z = excluded.z, floor = excluded.floor, t_first = excluded.t_first, "
                "t_last = excluded.t_last, data = excluded.data", rows)
        return len(rows)

    def delete_nodes(self, ids: Iterable[str]) -> int:
        """Delete nodes with their edges, membership rows (as child or parent), vectors and images."""
        ids = list(dict.fromkeys(ids))
        with self._lock:
            conn, n = self._w(), 0
            for i in range(0, len(ids), _CHUNK):
                part = ids[i:i + _CHUNK]
                q = ",".join("?" * len(part))
                n += conn.execute(f"DELETE FROM nodes WHERE id IN ({q})", part).rowcount
                conn.execute(f"DELETE FROM edges WHERE src IN ({q}) OR dst IN ({q})", part + part)
                conn.execute(f"DELETE FROM membership WHERE child IN ({q}) OR parent IN ({q})", part + part)
                conn.execute(f"DELETE FROM embeddings WHERE node_id IN ({q})", part)
                conn.execute(f"DELETE FROM images WHERE node_id IN ({q})", part)
                if self._has_sources():
                    conn.execute(f"DELETE FROM sources WHERE node_id IN ({q})", part)
        return n

    def node_count(self, kind: str | None = None) -> int:
        """Number of nodes (of one kind: ``place``, ``object`` or ``cluster``)."""
        with self._lock:
            if kind is None:
                return self._c().execute("SELECT count(*) FROM nodes").fetchone()[0]
            return self._c().execute("SELECT count(*) FROM nodes WHERE kind = ?", (kind,)).fetchone()[0]

    # ---------------------------------------------------------------------------------- edges
    def put_edges(self, rows: Iterable[EdgeRow | Sequence]) -> int:
        """Insert or update edges (unique per ``src, dst, kind``); tuples ``(src, dst, kind[, data])`` work."""
        values = []
        for row in rows:
            e = row if isinstance(row, EdgeRow) else EdgeRow(*row)
            values.append((str(e.src), str(e.dst), str(e.kind), dumps_json(dict(e.data))))
        with self._lock:
            self._w().executemany("INSERT INTO edges (src, dst, kind, data) VALUES (?, ?, ?, ?) "
                                  "ON CONFLICT(src, dst, kind) DO UPDATE SET data = excluded.data", values)
        return len(values)

    def replace_edges(self, kind: str, rows: Iterable[EdgeRow | Sequence]) -> int:
        """Replace every edge of ``kind`` by ``rows`` (which must all be of that kind)."""
        rows = [r if isinstance(r, EdgeRow) else EdgeRow(*r) for r in rows]
        bad = [r for r in rows if r.kind != kind]
        if bad:
            raise MemoryStoreError(f"replace_edges({kind!r}) got an edge of kind {bad[0].kind!r}")
        with self._lock:
            self._w().execute("DELETE FROM edges WHERE kind = ?", (kind,))
            return self.put_edges(rows)

    # ----------------------------------------------------------------------------- membership
    def set_membership(self, pairs: Iterable[Membership | Sequence], *, replace: bool = False) -> int:
        """Set the forest parent of children: ``(child, parent, level)``; ``parent=None`` detaches a child.

        With ``replace`` every existing row is dropped first (a forest rebuild).
        """
        put, drop = [], []
        for p in pairs:
            child, parent, *rest = p
            if parent is None:
                drop.append((child,))
            else:
                if not rest:
                    raise MemoryStoreError(f"membership of {child!r} needs the parent's level")
                put.append((str(child), str(parent), int(rest[0])))
        with self._lock:
            conn = self._w()
            if replace:
                conn.execute("DELETE FROM membership")
            conn.executemany("DELETE FROM membership WHERE child = ?", drop)
            conn.executemany("INSERT INTO membership (child, parent, level) VALUES (?, ?, ?) ON CONFLICT(child) "
                             "DO UPDATE SET parent = excluded.parent, level = excluded.level", put)
        return len(put)

    # ----------------------------------------------------------------------------- embeddings
    def put_embeddings(self, encoder_id: str, modality: str, ids: Sequence[str], matrix: np.ndarray,
                       source_hashes: Sequence[str]) -> int:
        """Store one vector per id (rows of ``matrix``), each with the hash of the text/image it came from.

        All vectors of one encoder and modality share one dimension; a mismatch raises.
        """
        if modality not in MODALITIES:
            raise MemoryStoreError(f"unknown modality {modality!r}; expected one of {', '.join(MODALITIES)}")
        m = np.asarray(matrix)
        if m.ndim != 2 or m.shape[0] != len(ids) or len(source_hashes) != len(ids):
            raise MemoryStoreError(f"put_embeddings: {len(ids)} ids, {len(source_hashes)} hashes and a matrix "
                                   f"of shape {m.shape} do not match")
        if len(set(ids)) != len(ids):
            raise MemoryStoreError("put_embeddings: repeated ids")
        m = np.ascontiguousarray(m, dtype="<f4")
        dim = int(m.shape[1])
        with self._lock:
            conn = self._w()
            row = conn.execute("SELECT dim FROM embeddings WHERE encoder = ? AND modality = ? AND dim != ? LIMIT 1",
                               (encoder_id, modality, dim)).fetchone()
            if row is not None:
                raise MemoryStoreError(f"encoder {encoder_id!r} already has {modality} vectors of dimension "
                                       f"{row[0]} in this file; got {dim}")
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (node_id, modality, encoder, dim, dtype, vec, source_hash) "
                "VALUES (?, ?, ?, ?, 'float32', ?, ?)",
                [(str(i), modality, encoder_id, dim, m[k].tobytes(), str(h))
                 for k, (i, h) in enumerate(zip(ids, source_hashes, strict=True))])
        return len(ids)

    def get_embeddings(self, encoder_id: str, modality: str,
                       ids: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
        """``(ids, (N, dim) float32)`` of stored vectors: all of them (in the order they were stored), or those
        of ``ids`` that exist (in the order given; check the returned ids, or ask ``missing_embeddings`` first)."""
        with self._lock:
            conn = self._c()
            if ids is None:
                rows = conn.execute("SELECT node_id, dim, vec FROM embeddings WHERE encoder = ? AND modality = ? "
                                    "ORDER BY rowid", (encoder_id, modality)).fetchall()
            else:
                found = {}
                wanted = list(dict.fromkeys(ids))
                for i in range(0, len(wanted), _CHUNK):
                    part = wanted[i:i + _CHUNK]
                    for r in conn.execute(
                            f"SELECT node_id, dim, vec FROM embeddings WHERE encoder = ? AND modality = ? "
                            f"AND node_id IN ({','.join('?' * len(part))})", (encoder_id, modality, *part)):
                        found[r[0]] = r
                rows = [found[i] for i in wanted if i in found]
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        dim = rows[0][1]
        if any(r[1] != dim or len(r[2]) != 4 * dim for r in rows):
            raise CorruptMemoryFile(f"{self._path}: {encoder_id} {modality} vectors have inconsistent sizes",
                                    path=self._path)
        mat = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4").reshape(len(rows), dim)
        return [r[0] for r in rows], mat.astype(np.float32)

    def missing_embeddings(self, encoder_id: str, modality: str, source_hashes: Mapping[str, str]) -> list[str]:
        """Ids (in the mapping's order) whose vector is absent or stale (computed from a different source)."""
        stored: dict[str, str] = {}
        ids = list(source_hashes)
        with self._lock:
            conn = self._c()
            for i in range(0, len(ids), _CHUNK):
                part = ids[i:i + _CHUNK]
                stored.update(conn.execute(
                    f"SELECT node_id, source_hash FROM embeddings WHERE encoder = ? AND modality = ? "
                    f"AND node_id IN ({','.join('?' * len(part))})", (encoder_id, modality, *part)).fetchall())
        return [i for i in ids if stored.get(i) != source_hashes[i]]

    def embedding_sources(self, encoder_id: str, modality: str) -> dict[str, str]:
        """``{node_id: source_hash}`` of every stored vector of one encoder and modality."""
        with self._lock:
            rows = self._c().execute("SELECT node_id, source_hash FROM embeddings WHERE encoder = ? AND modality = ?",
                                     (encoder_id, modality)).fetchall()
        return {str(i): str(h) for i, h in rows}

    def embedding_spaces(self) -> list[EmbeddingSpace]:
        """The encoders and modalities with vectors in this file, their dimension and count."""
        with self._lock:
            rows = self._c().execute("SELECT encoder, modality, dim, dtype, count(*) FROM embeddings "
                                     "GROUP BY encoder, modality, dim, dtype ORDER BY encoder, modality").fetchall()
        return [EmbeddingSpace(*r) for r in rows]

    # --------------------------------------------------------------------------------- images
    def put_image(self, node_id: str, kind: str, image: np.ndarray | bytes) -> int:
        """Store an RGB/RGBA/grey uint8 image (or PNG bytes) as a PNG; returns the PNG size in bytes."""
        if kind not in IMAGE_KINDS:
            raise MemoryStoreError(f"unknown image kind {kind!r}; expected one of {', '.join(IMAGE_KINDS)}")
        png, width, height = encode_png(image, f"put_image({node_id!r})")
        with self._lock:
            self._w().execute("INSERT OR REPLACE INTO images (node_id, kind, png, width, height) "
                              "VALUES (?, ?, ?, ?, ?)", (node_id, kind, png, width, height))
        return len(png)

    def get_image_png(self, node_id: str, kind: str) -> bytes:
        """The stored PNG bytes; ``ImageNotFound`` when there is none."""
        with self._lock:
            row = self._c().execute("SELECT png FROM images WHERE node_id = ? AND kind = ?",
                                    (node_id, kind)).fetchone()
        if row is None:
            raise ImageNotFound(f"no {kind} image for {node_id!r} in {self._path}")
        return bytes(row[0])

    def get_image(self, node_id: str, kind: str) -> np.ndarray:
        """The stored image as a uint8 array (RGB, RGBA or grey as it was stored)."""
        from PIL import Image

        with Image.open(io.BytesIO(self.get_image_png(node_id, kind))) as im:
            return np.asarray(im).copy()

    def image_keys(self) -> list[tuple[str, str]]:
        """``(node_id, kind)`` of every stored image."""
        with self._lock:
            return [tuple(r) for r in self._c().execute("SELECT node_id, kind FROM images ORDER BY node_id, kind")]

    # -------------------------------------------------------------------------------- sources
    def _has_sources(self) -> bool:
        return self._c().execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sources'"
                                 ).fetchone() is not None

    def put_sources(self, sources: Mapping[str, Mapping[str, Any]]) -> int:
        """Keep imported nodes' attributes as written in their source file (node id -> JSON-able dict)."""
        rows = [(str(i), dumps_json(dict(d))) for i, d in sources.items()]
        with self._lock:
            conn = self._w()
            conn.execute(SOURCES_SQL)  # files from before the table existed get it on first use
            conn.executemany("INSERT OR REPLACE INTO sources (node_id, data) VALUES (?, ?)", rows)
        return len(rows)

    def sources(self) -> dict[str, dict[str, Any]]:
        """Every node's source attributes (empty for memories that were not imported)."""
        with self._lock:
            if not self._has_sources():
                return {}
            rows = self._c().execute("SELECT node_id, data FROM sources ORDER BY rowid").fetchall()
        try:
            return {str(i): json.loads(d) for i, d in rows}
        except ValueError as e:
            raise CorruptMemoryFile(f"{self._path}: unreadable source attributes ({e})", path=self._path) from e

    # ----------------------------------------------------------------------------------- meta
    def get_meta(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key`` (``default`` when absent)."""
        with self._lock:
            row = self._c().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-able value under ``key`` (``schema_version`` is the store's own)."""
        if key == "schema_version":
            raise MemoryStoreError("schema_version is managed by the store")
        with self._lock:
            self._set_meta_rows({key: value})

    def meta(self) -> dict[str, Any]:
        """Every meta entry."""
        with self._lock:
            return {k: json.loads(v) for k, v in self._c().execute("SELECT key, value FROM meta ORDER BY key")}

    # ----------------------------------------------------------------------------------- load
    def load(self) -> MemorySnapshot:
        """All records, edges, membership and meta, to rebuild the in-memory graph and forest."""
        with self._lock:
            conn = self._c()
            try:  # bytes damaged inside a valid page: text that is not UTF-8, JSON that does not parse
                nodes = conn.execute("SELECT id, data FROM nodes ORDER BY rowid").fetchall()
                edges = conn.execute("SELECT src, dst, kind, data FROM edges ORDER BY rowid").fetchall()
                members = conn.execute("SELECT child, parent, level FROM membership ORDER BY rowid").fetchall()
                meta = self.meta()
                sources = self.sources()
            except (sqlite3.DatabaseError, ValueError) as e:
                detail = " ".join(str(e).split())[:200]
                raise CorruptMemoryFile(f"{self._path} is damaged ({detail})", path=self._path) from e
        try:
            return MemorySnapshot.from_rows(nodes, edges, members, meta, sources)
        except (RecordFormatError, ValueError) as e:
            raise CorruptMemoryFile(f"{self._path}: unreadable record ({e})", path=self._path) from e

    def stats(self) -> dict[str, Any]:
        """Counts without loading records: ``nodes`` per ``(kind, level)``, ``edges`` per kind,
        ``membership`` rows and ``images`` per kind."""
        with self._lock:
            conn = self._c()
            return {
                "nodes": {(k, lv): n for k, lv, n in conn.execute(
                    "SELECT kind, level, count(*) FROM nodes GROUP BY kind, level ORDER BY kind, level")},
                "edges": dict(conn.execute("SELECT kind, count(*) FROM edges GROUP BY kind ORDER BY count(*) DESC")),
                "membership": conn.execute("SELECT count(*) FROM membership").fetchone()[0],
                "images": dict(conn.execute("SELECT kind, count(*) FROM images GROUP BY kind ORDER BY kind")),
            }

    def file_size(self) -> int:
        """Bytes on disk: the database plus its write-ahead log."""
        wal = Path(str(self._path) + "-wal")
        return self._path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
