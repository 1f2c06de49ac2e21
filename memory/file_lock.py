"""One writer per memory file: an OS lock on ``MEM.db.lock`` beside the database.

Every process that opens a memory file for writing (``explore --out``, ``import-gml --out``, the GUI's
session, a server) takes the lock first; a second one fails at once with ``MemoryFileLocked``:
"MEM.db is being written by process N". Readers never take it: SQLite's WAL lets them read the last
checkpoint while the writer works.

The lock is ``fcntl.flock`` on the lock file, so the kernel releases it when the writer exits or
crashes (even ``kill -9``); the pid written into the file only names the holder in the message. The
holder deletes the file when it releases the lock; one left behind by a crash is simply reused.

Within one process the lock is re-entrant (a count per file): a command that holds it for its whole
run can open the store, which takes it again, without refusing itself.

Usage::

    with writer_lock("MEM.db"):          # raises MemoryFileLocked / MemoryFileUnwritable
        ...                              # write MEM.db
    holder = lock_holder("MEM.db")       # pid of the writer, or None
    check_no_writer("MEM.db")            # raises MemoryFileLocked while another process writes it
"""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from memory.errors import MemoryFileLocked, MemoryFileUnwritable

log = logging.getLogger(__name__)

__all__ = ["LOCK_SUFFIX", "WriterLock", "writer_lock", "lock_holder", "check_no_writer", "lock_path"]

LOCK_SUFFIX = ".lock"


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of the memory file ``path``: ``MEM.db`` -> ``MEM.db.lock``."""
    return Path(str(path) + LOCK_SUFFIX)


@dataclass
class _Held:
    fd: int
    count: int
    pid: int  # a forked child inherits the table, not the right to write: it must take its own lock


_held: dict[str, _Held] = {}  # lock files this process holds, by real path
_registry = threading.Lock()


class WriterLock:
    """A held writer lock on one memory file; release it with ``release()`` or a ``with`` block."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self._key = key
        self._released = False

    @property
    def lock_file(self) -> Path:
        return lock_path(self.path)

    @property
    def released(self) -> bool:
        return self._released

    def release(self) -> None:
        """Give the lock back (a no-op when already released); the last release deletes the lock file."""
        with _registry:
            if self._released:
                return
            self._released = True
            held = _held.get(self._key)
            if held is None or held.pid != os.getpid():
                return
            held.count -= 1
            if held.count > 0:
                return
            del _held[self._key]
            try:  # still holding the lock: a process waiting on this file re-checks it is the current one
                os.unlink(self._key)
            except OSError:
                pass
            os.close(held.fd)
        log.debug("released the writer lock of %s", self.path)

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"WriterLock({str(self.path)!r}{', released' if self._released else ''})"


def writer_lock(path: str | os.PathLike) -> WriterLock:
    """Take the writer lock of the memory file ``path`` (which need not exist yet) and return it.

    Raises ``MemoryFileLocked`` (with ``pid``) when another process holds it, ``MemoryFileUnwritable``
    when the lock file cannot be made (read-only or missing folder). Use as a context manager or call
    ``release()``; the OS releases it anyway when the process ends.
    """
    p = Path(path)
    lock = lock_path(p)
    key = os.path.realpath(lock)
    with _registry:
        held = _held.get(key)
        if held is not None and held.pid == os.getpid():
            held.count += 1
            return WriterLock(p, key)
        fd = _acquire(p, lock)
        _held[key] = _Held(fd, 1, os.getpid())
    log.debug("took the writer lock of %s", p)
    return WriterLock(p, key)


def lock_holder(path: str | os.PathLike) -> int | None:
    """The pid of the process writing the memory file ``path`` (0 when it cannot be read), or None
    when no process holds its writer lock. Never creates the lock file."""
    lock = lock_path(path)
    with _registry:
        held = _held.get(os.path.realpath(lock))
        if held is not None and held.pid == os.getpid():
            return held.pid
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def check_no_writer(path: str | os.PathLike) -> None:
    """Raise ``MemoryFileLocked`` when another process is writing ``path`` (a check before long work
    that will write it; the writer lock itself is taken when writing starts)."""
    pid = lock_holder(path)
    if pid is not None and pid != os.getpid():
        raise _locked(Path(path), pid)


def _locked(path: Path, pid: int) -> MemoryFileLocked:
    who = f"process {pid}" if pid else "another process"
    return MemoryFileLocked(f"{path} is being written by {who}", path=path, pid=pid)


def _acquire(path: Path, lock: Path) -> int:
    for _ in range(100):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except FileNotFoundError as e:
            raise MemoryFileUnwritable(f"cannot write {path}: folder {path.parent} does not exist", path=path) from e
        except OSError as e:
            if isinstance(e, PermissionError) or e.errno == errno.EROFS:
                raise MemoryFileUnwritable(f"cannot write {path}: folder {path.parent} is read-only",
                                           path=path) from e
            raise MemoryFileUnwritable(f"cannot write {path}: cannot create {lock.name} in {path.parent} "
                                       f"({e.strerror or e})", path=path) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise _locked(path, pid) from None
        except OSError as e:
            os.close(fd)
            raise MemoryFileUnwritable(f"cannot lock {path} for writing ({e.strerror or e})", path=path) from e
        # the previous holder deletes the file as it releases: lock the file that is there now
        try:
            st, now = os.fstat(fd), os.stat(lock)
            current = (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)
        except FileNotFoundError:
            current = False
        if current:
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError as e:  # a full disk: the lock holds all the same, only the message lacks the pid
                log.warning("cannot write the pid into %s (%s)", lock, e.strerror or e)
            return fd
        os.close(fd)
    raise MemoryFileUnwritable(f"cannot lock {path} for writing: its lock file keeps changing", path=path)


def _read_pid(fd: int) -> int:
    try:
        return int(os.pread(fd, 32, 0).decode("ascii", "replace").strip() or 0)
    except (OSError, ValueError):
        return 0
