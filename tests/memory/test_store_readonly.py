"""Memory files on storage this process may not write: read-only folders and write-protected files.

Permissions are checked for real, by a process that lacks them: as root (who passes every permission
check) the checks run in a child process switched to the unprivileged ``nobody`` user; as any other
user, in a child process of that user. The files live in a folder everyone may enter (pytest's own
temporary folders are private to their owner).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.store import MemoryStore
from memory.types import PlaceRecord
from sim.types import Pose

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534


def run_unprivileged(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``args`` as a user the permission bits apply to (``nobody`` when we are root)."""
    if os.geteuid() == 0:
        kwargs.update(user=NOBODY, group=NOBODY, extra_groups=[])
    env = {**os.environ, "HOME": tempfile.gettempdir(), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env, **kwargs)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder everyone may enter and read (restored to writable for cleanup)."""
    d = Path(tempfile.mkdtemp(prefix="ro-memory-"))
    d.chmod(0o755)
    yield d
    d.chmod(0o755)
    shutil.rmtree(d, ignore_errors=True)


def _memory(path: Path, n: int = 5) -> Path:
    with MemoryStore.open(path) as s:
        s.upsert_places(PlaceRecord(f"place/{i}", Pose(float(i), 0.0, 0.0), float(i), i, f"place {i}")
                        for i in range(n))
    assert not Path(str(path) + "-wal").exists() and not Path(str(path) + "-shm").exists()
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


OPEN = """
import json, sys
from memory.store import MemoryStore
from sim.errors import LabError
try:
    with MemoryStore.open(sys.argv[1], create=False, readonly=sys.argv[2] == "read") as s:
        print(json.dumps({"places": s.node_count("place")}))
except LabError as e:
    print(json.dumps({"error": type(e).__name__, "message": str(e)}))
"""


def _open(path: Path, how: str) -> dict:
    done = run_unprivileged([sys.executable, "-c", OPEN, str(path), how])
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_a_memory_in_a_read_only_folder_opens_for_reading(open_dir):
    path = _memory(open_dir / "a.db")
    path.chmod(0o444)
    open_dir.chmod(0o555)  # no -wal/-shm can be made beside it
    before, listing = _sha(path), sorted(os.listdir(open_dir))
    assert _open(path, "read") == {"places": 5}
    info = run_unprivileged([sys.executable, "launcher.py", "memory", "info", str(path), "--json"])
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["nodes"]["place"] == 5
    # writing is refused at once, with the reason
    refused = _open(path, "write")
    assert refused["error"] == "MemoryFileUnwritable"
    assert refused["message"] == f"cannot write {path}: folder {open_dir} is read-only"
    assert _sha(path) == before and sorted(os.listdir(open_dir)) == listing


def test_a_write_protected_file_is_refused_for_writing_and_read_in_place(open_dir):
    path = _memory(open_dir / "a.db")
    path.chmod(0o444)
    open_dir.chmod(0o777)  # the folder is writable: only the file is protected
    before = _sha(path)
    refused = _open(path, "write")
    assert refused == {"error": "MemoryFileUnwritable", "message": f"cannot write {path}: the file is read-only"}
    assert _open(path, "read") == {"places": 5}
    assert _sha(path) == before
    assert not (open_dir / "a.db.lock").exists()  # the refused writer left no lock behind


def test_uncommitted_log_in_a_read_only_folder_is_one_clear_line(open_dir):
    """A -wal that SQLite cannot apply without writing beside the file: say so, never show an older state."""
    import sqlite3

    made = _memory(open_dir / "made.db")
    conn = sqlite3.connect(made, isolation_level=None)
    try:  # a commit still in the log (the connection stays open, so it is not folded into the file)
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("INSERT INTO meta (key, value) VALUES ('pending', '1')")
        ro = open_dir / "ro"
        ro.mkdir()
        shutil.copyfile(made, ro / "a.db")
        shutil.copyfile(Path(str(made) + "-wal"), ro / "a.db-wal")  # copied without its -shm
    finally:
        conn.close()
    for f in ro.iterdir():
        f.chmod(0o444)
    ro.chmod(0o555)
    got = _open(ro / "a.db", "read")
    assert got["error"] == "MemoryFileError" and "\n" not in got["message"]
    assert got["message"].startswith(f"cannot read {ro / 'a.db'}: its folder is read-only and a.db-wal")
    ro.chmod(0o755)
