"""One writer per memory file (``memory.file_lock``): a second writing process is refused at once with
one line naming the writer; readers keep reading the last checkpoint; a crash releases the lock.

Two processes are real processes here: the lock is the kernel's, and a lock taken twice in one process
is re-entrant by design.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from memory.errors import MemoryFileLocked, MemoryFileUnwritable, NotAMemoryFile
from memory.file_lock import check_no_writer, lock_holder, lock_path, writer_lock
from memory.store import MemoryStore
from memory.types import PlaceRecord
from sim.types import Pose

ROOT = Path(__file__).resolve().parents[2]

# Holds a memory file open for writing: checkpoints places 0..2, writes place 3 without a checkpoint,
# says "ready" and waits for a line on stdin before closing (which checkpoints place 3).
WRITER = """
import sys
from memory.store import MemoryStore
from memory.types import PlaceRecord
from sim.types import Pose

def place(i):
    return PlaceRecord(f"place/{i}", Pose(float(i), 0.0, 0.0), float(i), i, f"place {i}")

store = MemoryStore.open(sys.argv[1])
store.upsert_places(place(i) for i in range(3))
store.checkpoint()
store.upsert_places([place(3)])
print("ready", flush=True)
sys.stdin.readline()
store.close()
print("closed", flush=True)
"""

# Tries to open a memory file for writing; prints the error class and its one line.
SECOND = """
import sys
from memory.store import MemoryStore
from sim.errors import LabError
try:
    MemoryStore.open(sys.argv[1]).close()
except LabError as e:
    print(type(e).__name__, getattr(e, "pid", ""), str(e), sep="|")
else:
    print("opened")
"""


def _place(i: int) -> PlaceRecord:
    return PlaceRecord(f"place/{i}", Pose(float(i), 0.0, 0.0), float(i), i, f"place {i}")


def _writer(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read()
    return proc


def _second(path: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-c", SECOND, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split("|")


def test_a_second_writer_is_refused_and_readers_see_the_last_checkpoint(tmp_path):
    path = tmp_path / "c.db"
    proc = _writer(path)
    try:
        assert lock_holder(path) == proc.pid
        assert lock_path(path).read_text().strip() == str(proc.pid)
        # another process: refused at once, one line naming the writer
        kind, pid, message = _second(path)
        assert kind == "MemoryFileLocked" and int(pid) == proc.pid
        assert message == f"{path} is being written by process {proc.pid}"
        # this process too (its own lock table is empty)
        with pytest.raises(MemoryFileLocked, match=f"being written by process {proc.pid}$") as info:
            MemoryStore.open(path)
        assert info.value.pid == proc.pid and info.value.path == str(path)
        with pytest.raises(MemoryFileLocked):
            check_no_writer(path)
        with MemoryStore.open(tmp_path / "mine.db") as mine:  # nor is a copy saved over it (GUI "Save as")
            with pytest.raises(MemoryFileLocked):
                mine.save_as(path)
        # a reader sees the last checkpoint, not the open transaction
        with MemoryStore.open(path, create=False, readonly=True) as reader:
            assert [p.id for p in reader.load().places] == ["place/0", "place/1", "place/2"]
    finally:
        out, err = proc.communicate("\n", timeout=60)
    assert proc.returncode == 0 and "closed" in out, err
    assert lock_holder(path) is None and not lock_path(path).exists()  # released and tidied
    with MemoryStore.open(path, create=False) as store:
        assert store.node_count("place") == 4


def test_a_killed_writer_releases_the_lock(tmp_path):
    path = tmp_path / "k.db"
    proc = _writer(path)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert lock_path(path).exists()  # left behind with the dead writer's pid ...
    assert lock_holder(path) is None  # ... but nobody holds it
    with MemoryStore.open(path, create=False) as store:  # the next writer takes it over
        assert lock_path(path).read_text().strip() == str(os.getpid())
        assert store.node_count("place") == 3  # the kill lost only the work since the checkpoint
    assert not lock_path(path).exists()


def test_new_files_are_locked_too(tmp_path):
    """Two processes creating the same new file: the second is refused instead of replacing the first."""
    path = tmp_path / "new.db"
    with writer_lock(path):
        assert not path.exists()
        kind, _, message = _second(path)
    assert kind == "MemoryFileLocked" and message.endswith(f"being written by process {os.getpid()}")
    assert not path.exists()


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    path = tmp_path / "r.db"
    outer = writer_lock(path)
    with MemoryStore.open(path) as store:  # the store takes it again
        store.upsert_places([_place(0)])
        store.save_as(tmp_path / "copy.db")
    assert lock_holder(path) == os.getpid() and lock_path(path).exists()  # still held by ``outer``
    outer.release()
    outer.release()  # a second release does nothing
    assert lock_holder(path) is None and not lock_path(path).exists()
    assert not lock_path(tmp_path / "copy.db").exists()  # save_as locked its target only while copying


def test_readers_take_no_lock_and_leave_nothing_behind(tmp_path):
    path = tmp_path / "m.db"
    MemoryStore.open(path).close()
    listing = sorted(os.listdir(tmp_path))
    with writer_lock(path):
        with MemoryStore.open(path, create=False, readonly=True) as reader:
            assert reader.node_count() == 0
    assert sorted(os.listdir(tmp_path)) == listing


def test_unlockable_places_are_one_clear_line(tmp_path):
    with pytest.raises(MemoryFileUnwritable, match="does not exist") as info:
        writer_lock(tmp_path / "missing" / "m.db")
    assert "\n" not in str(info.value)
    refused = tmp_path / "bad.db"
    refused.write_text("some notes\n")
    with pytest.raises(NotAMemoryFile):  # a refused open releases the lock it took
        MemoryStore.open(refused)
    assert not lock_path(refused).exists() and lock_holder(refused) is None


def _try_lock(path: str, results) -> None:
    try:
        with writer_lock(path):
            results.put("locked")
    except MemoryFileLocked as e:
        results.put(f"refused: {e}")


def test_a_forked_child_does_not_inherit_the_right_to_write(tmp_path):
    import multiprocessing

    path = tmp_path / "f.db"
    ctx = multiprocessing.get_context("fork")
    with writer_lock(path):
        results = ctx.Queue()
        child = ctx.Process(target=_try_lock, args=(str(path), results))
        child.start()
        child.join(60)
        assert results.get(timeout=10) == f"refused: {path} is being written by process {os.getpid()}"
        assert lock_path(path).exists() and lock_holder(path) == os.getpid()  # the child left it alone
    assert not lock_path(path).exists()
