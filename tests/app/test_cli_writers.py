"""Writers of memory files through the command line: one writer per file, and an output that cannot be
written is refused before any work (issue 14, failures 1 and 4)."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import launcher
from memory.file_lock import lock_holder
from memory.store import MemoryStore
from tests.memory.test_store_readonly import _memory, open_dir, run_unprivileged  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[2]
GML = ROOT / "assets" / "data" / "embodied-rag-building99" / "building99_graph.gml"

# Writes a memory file: one checkpointed place, one more pending, until a line arrives on stdin.
HOLDER = """
import sys
from memory.store import MemoryStore
from memory.types import PlaceRecord
from sim.types import Pose
with MemoryStore.open(sys.argv[1]) as store:
    store.set_meta("scene", "rooms:n=3")
    store.upsert_places([PlaceRecord("place/0", Pose(0.0, 0.0, 0.0), 0.0, 0, "first")])
    store.checkpoint()
    store.upsert_places([PlaceRecord("place/1", Pose(1.0, 0.0, 0.0), 1.0, 1, "pending")])
    print("ready", flush=True)
    sys.stdin.readline()
"""


def _holder(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "Traceback" not in err[0], err
    return err[0]


def test_a_second_explore_or_import_is_refused_while_readers_read(tmp_path, capsys):
    db = tmp_path / "c.db"
    writer = _holder(db)
    try:
        assert launcher.main(["explore", "--scene", "rooms:n=3", "--steps", "150", "--seed", "1",
                              "--out", str(db)]) == 2
        assert _one_error_line(capsys) == f"error: {db} is being written by process {writer.pid}"
        assert launcher.main(["import-gml", str(GML), "--out", str(db)]) == 2
        assert _one_error_line(capsys) == f"error: {db} is being written by process {writer.pid}"
        assert launcher.main(["memory", "info", str(db), "--json"]) == 0  # a reader reads the last checkpoint
        assert '"place": 1' in capsys.readouterr().out
    finally:
        writer.communicate("\n", timeout=60)
    assert writer.returncode == 0
    with MemoryStore.open(db, create=False, readonly=True) as store:  # the writer's work only, whole
        assert [p.id for p in store.load().places] == ["place/0", "place/1"]
    assert lock_holder(db) is None


def test_explore_into_an_unwritable_file_or_folder_fails_before_exploring(open_dir):  # noqa: F811
    protected = _memory(open_dir / "old.db")
    protected.chmod(0o444)
    open_dir.chmod(0o777)
    before = _sha(protected)
    done = run_unprivileged([sys.executable, "launcher.py", "explore", "--scene", "rooms:n=3", "--steps", "150",
                             "--out", str(protected)])
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"error: cannot write {protected}: the file is read-only\n"
    assert _sha(protected) == before
    open_dir.chmod(0o555)
    new = open_dir / "new.db"
    done = run_unprivileged([sys.executable, "launcher.py", "explore", "--scene", "rooms:n=3", "--steps", "150",
                             "--out", str(new)])
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"error: cannot write {new}: folder {open_dir} is read-only\n"
    assert not new.exists()
