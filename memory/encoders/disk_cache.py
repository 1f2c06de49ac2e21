"""A persistent text-embedding cache shared by every memory file and process on the machine.

Vectors are keyed by ``(encoder id, content hash of the text)``, so importing the same file again,
or a second file with the same captions (the authors' graph and forest files share their leaves),
never re-embeds a text. One SQLite file (WAL) under ``user_cache_dir()``; concurrent readers and
writers in other processes are safe (short ``BEGIN IMMEDIATE`` transactions, a busy timeout,
``INSERT OR IGNORE``: the first writer of a key wins and every writer computed the same vector).
Vectors are float32 little-endian blobs, never pickles. The cache is an optimisation only: if its
file cannot be opened or written, it logs one line and turns itself off; callers never see an error.
Past ``max_entries`` the oldest entries are dropped.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from memory.encoders import check_texts, user_cache_dir
from memory.records_json import content_hash

log = logging.getLogger(__name__)

__all__ = ["EmbeddingCache", "DiskCachedEncoder", "CACHE_FILE"]

_OPEN_TRIES = 40  # a cache being created by another process at the same moment
CACHE_FILE = "text-embeddings.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    encoder TEXT NOT NULL, hash TEXT NOT NULL, dim INTEGER NOT NULL, vec BLOB NOT NULL,
    UNIQUE (encoder, hash));
"""
_CHUNK = 400  # keys per "IN (...)" query, under SQLite's variable limit


class EmbeddingCache:
    """``(encoder id, text hash) -> float32 vector`` in one SQLite file; thread- and process-safe."""

    def __init__(self, path: str | Path, *, max_entries: int = 200_000) -> None:
        self.path = Path(path)
        self.max_entries = int(max_entries)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._off = False

    @classmethod
    def default(cls) -> EmbeddingCache | None:
        """The user's cache (``<user_cache_dir()>/text-embeddings.sqlite``), or ``None`` when caching is off."""
        base = user_cache_dir()
        return None if base is None else cls(base / CACHE_FILE)

    # ------------------------------------------------------------------ connection
    def _c(self) -> sqlite3.Connection | None:
        if self._conn is not None or self._off:
            return self._conn
        for attempt in range(_OPEN_TRIES):
            conn = None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA busy_timeout = 30000")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")  # a lost cache entry is only recomputed
                conn.executescript(_SCHEMA)
                self._conn = conn
                break
            except sqlite3.OperationalError as e:
                if conn is not None:
                    conn.close()
                # switching a new file to WAL takes the lock without waiting on the busy timeout: another
                # process creating the same cache at the same moment makes this "locked"; try again shortly
                if "locked" in str(e) and attempt + 1 < _OPEN_TRIES:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                self._disable(f"cannot open {self.path} ({e})")
                break
            except (OSError, sqlite3.Error) as e:
                if conn is not None:
                    conn.close()
                self._disable(f"cannot open {self.path} ({e})")
                break
        return self._conn

    def _disable(self, why: str) -> None:
        if not self._off:
            log.warning("embedding cache off for this run: %s", why)
        self._off = True
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ reading and writing
    def get(self, encoder_id: str, hashes: Sequence[str], dim: int | None = None) -> dict[str, np.ndarray]:
        """Cached vectors of those ``hashes`` that have one (of length ``dim`` when given)."""
        out: dict[str, np.ndarray] = {}
        keys = list(dict.fromkeys(hashes))
        with self._lock:
            conn = self._c()
            if conn is None or not keys:
                return out
            try:
                for i in range(0, len(keys), _CHUNK):
                    part = keys[i:i + _CHUNK]
                    for h, d, blob in conn.execute(
                            f"SELECT hash, dim, vec FROM vectors WHERE encoder = ? AND hash IN "
                            f"({','.join('?' * len(part))})", (encoder_id, *part)):
                        if len(blob) == 4 * d and (dim is None or d == dim):
                            out[h] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
            except sqlite3.Error as e:
                self._disable(f"cannot read {self.path} ({e})")
                return {}
        return out

    def put(self, encoder_id: str, hashes: Sequence[str], matrix: np.ndarray) -> None:
        """Store one vector per hash (rows of ``matrix``); existing keys are left as they are."""
        m = np.ascontiguousarray(np.asarray(matrix), dtype="<f4")
        if m.ndim != 2 or m.shape[0] != len(hashes) or not len(hashes):
            return
        rows = [(encoder_id, str(h), int(m.shape[1]), m[k].tobytes()) for k, h in enumerate(hashes)]
        with self._lock:
            conn = self._c()
            if conn is None:
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany("INSERT OR IGNORE INTO vectors (encoder, hash, dim, vec) VALUES (?, ?, ?, ?)",
                                     rows)
                    excess = conn.execute("SELECT count(*) FROM vectors").fetchone()[0] - self.max_entries
                    if excess > 0:
                        conn.execute("DELETE FROM vectors WHERE rowid IN (SELECT rowid FROM vectors ORDER BY rowid "
                                     "LIMIT ?)", (excess,))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                self._disable(f"cannot write {self.path} ({e})")

    def __len__(self) -> int:
        with self._lock:
            conn = self._c()
            if conn is None:
                return 0
            try:
                return int(conn.execute("SELECT count(*) FROM vectors").fetchone()[0])
            except sqlite3.Error:
                return 0


class DiskCachedEncoder:
    """An encoder whose text vectors are looked up in an ``EmbeddingCache`` first; only texts never
    seen by this encoder are embedded (each once, however often it repeats), then stored.

    Transparent to callers: same ``id``, ``dim``, ``modalities`` and vectors. Entries are keyed by the
    inner encoder's ``cache_id`` where it has one (a quantised model shares its ``id``, the space, but
    not its exact vectors), else its ``id``. ``hits``/``misses`` count texts since creation. The wrapped
    model is not loaded when every text is cached.
    """

    def __init__(self, inner, cache: EmbeddingCache) -> None:
        self.inner = inner
        self.cache = cache
        self.hits = 0
        self.misses = 0

    @property
    def id(self) -> str:
        return self.inner.id

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def modalities(self) -> frozenset[str]:
        return self.inner.modalities

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        hashes = [content_hash(t) for t in items]
        key = str(getattr(self.inner, "cache_id", self.id))
        found = self.cache.get(key, hashes, self.dim)
        todo = list(dict.fromkeys(h for h in hashes if h not in found))
        if todo:
            wanted = set(todo)
            first = {h: t for t, h in zip(items, hashes, strict=True) if h in wanted}
            vecs = np.asarray(self.inner.encode_text([first[h] for h in todo]), dtype=np.float32)
            # the model decides what it is when it loads (an int8 model may fall back to float32)
            self.cache.put(str(getattr(self.inner, "cache_id", self.id)), todo, vecs)
            found.update(zip(todo, vecs, strict=True))
        self.misses += len(todo)
        self.hits += len(items) - len(todo)
        return np.stack([found[h] for h in hashes]).astype(np.float32, copy=False)

    def encode_image(self, images):
        return self.inner.encode_image(images)

    def __repr__(self) -> str:
        return f"DiskCachedEncoder({self.inner!r}, {str(self.cache.path)!r})"
