"""A full disk never breaks the atomic checkpoint.

No real full disk: each writer runs in a child process whose file-size limit (``RLIMIT_FSIZE``, with
``SIGXFSZ`` ignored) makes writes past it fail with ``EFBIG``, the way a full disk fails them. Then:

* a checkpoint whose COMMIT fails rolls back, and nothing is written on top of it afterwards (SQLite
  drops the transaction on such an error: later statements used to commit one by one, and closing
  checkpointed again: a half-written checkpoint);
* a commit that reached the write-ahead log but cannot be folded into the file at close is reported
  (it used to close silently, leaving the data only in the ``-wal``).

The file then opens with its previous contents.
"""
from __future__ import annotations

import json
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from memory.store import MemoryStore

ROOT = Path(__file__).resolve().parents[2]


def limit_file_size(max_bytes: int):
    """A ``preexec_fn``: files of the child cannot grow past ``max_bytes`` (writes fail with EFBIG)."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, resource.RLIM_INFINITY))
    return apply


PRELUDE = """
import json, sys
import numpy as np
from memory.store import MemoryStore
from memory.types import ObjectRecord, PlaceRecord
from sim.types import Pose

def places(batch, n=20):
    return [PlaceRecord(f"place/{batch}/{i}", Pose(float(i), float(batch), 0.0), float(i), i, f"batch {batch}")
            for i in range(n)]

def photo(seed):  # noise: PNG cannot shrink it, so it fills the disk
    return np.random.default_rng(seed).integers(0, 256, (160, 160, 3), dtype=np.uint8)

report = {}
"""

# Batch 1 is much bigger than the limit: its checkpoint fails. Then the writer goes on as a careless caller
# would (more places, another checkpoint, close) and reports what each step said.
COMMIT_FAILS = PRELUDE + """
store = MemoryStore.open(sys.argv[1], create=False)
store.upsert_places(places(1))
for k in range(12):
    store.put_image(f"place/1/{k}", "view", photo(k))
for step in ("checkpoint", "write", "checkpoint again", "close"):
    try:
        if step == "write":
            store.upsert_places(places(2))
        elif step == "close":
            store.close()
        else:
            store.checkpoint()
        report[step] = "ok"
    except Exception as e:  # LabError expected; anything else shows up in the report
        report[step] = f"{type(e).__name__}: {e}"
report["closed"] = store.closed
print(json.dumps(report))
"""

# The new batch (one photo) fits in the write-ahead log, which starts empty, but the file (already
# holding a photo) cannot grow to take it in at close.
FOLD_FAILS = PRELUDE + """
store = MemoryStore.open(sys.argv[1], create=False)
store.upsert_places(places(1))
store.put_image("place/1/0", "view", photo(1))
for step in ("checkpoint", "close"):
    try:
        store.close() if step == "close" else store.checkpoint()
        report[step] = "ok"
    except Exception as e:  # LabError expected; anything else shows up in the report
        report[step] = f"{type(e).__name__}: {e}"
print(json.dumps(report))
"""


def _batch0(path: Path, *, photo: bool = False) -> None:
    import numpy as np

    from memory.types import PlaceRecord
    from sim.types import Pose

    with MemoryStore.open(path) as s:
        s.upsert_places(PlaceRecord(f"place/0/{i}", Pose(float(i), 0.0, 0.0), float(i), i, "batch 0")
                        for i in range(20))
        s.set_meta("scene", "rooms:n=3")
        if photo:
            s.put_image("place/0/0", "view", np.random.default_rng(0).integers(0, 256, (160, 160, 3), np.uint8))


def _run(script: str, path: Path, limit: int) -> dict:
    done = subprocess.run([sys.executable, "-c", script, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, preexec_fn=limit_file_size(limit))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _contents(path: Path) -> tuple[list[str], dict]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    with MemoryStore.open(path, create=False, readonly=True) as s:
        return sorted({p.id.rsplit("/", 1)[0] for p in s.load().places}), s.meta()


def test_a_failed_commit_leaves_the_last_checkpoint_and_nothing_on_top(tmp_path):
    path = tmp_path / "a.db"
    _batch0(path)
    report = _run(COMMIT_FAILS, path, path.stat().st_size + 64 * 1024)
    assert report["checkpoint"].startswith("MemoryFileUnwritable: cannot write ")
    assert "keeps its last checkpoint" in report["checkpoint"] and "\n" not in report["checkpoint"]
    assert report["write"].startswith("MemoryFileUnwritable")  # nothing more is written ...
    assert report["checkpoint again"].startswith("MemoryFileUnwritable")  # ... nor committed
    assert report["close"] == "ok" and report["closed"]  # closing does not checkpoint on top
    batches, meta = _contents(path)
    assert batches == ["place/0"]  # the previous good state, whole
    assert meta["scene"] == "rooms:n=3" and meta["counts"] == {"place": 20, "edges": 0}
    with MemoryStore.open(path, create=False) as s:  # and it can be written again once there is room
        s.set_meta("after", 1)
    assert _contents(path)[1]["after"] == 1


def test_a_checkpoint_kept_only_in_the_wal_is_reported_at_close(tmp_path):
    path = tmp_path / "a.db"
    _batch0(path, photo=True)
    report = _run(FOLD_FAILS, path, path.stat().st_size + 16 * 1024)
    assert report["checkpoint"] == "ok"  # the commit reached the write-ahead log ...
    assert report["close"].startswith(f"MemoryFileUnwritable: cannot finish writing {path}")  # ... not the file
    assert "a.db-wal" in report["close"] and "\n" not in report["close"]
    assert Path(str(path) + "-wal").stat().st_size > 0
    batches, _ = _contents(path)  # the file with its log holds the last checkpoint, whole
    assert batches == ["place/0", "place/1"]


# The same through the memory itself, whose close() used to checkpoint again after the failed one.
MEMORY_CLOSE = PRELUDE + """
from memory.core import EmbodiedMemory, MemoryConfig

class HashText:  # the Encoder interface without a model
    id, dim, modalities = "test:hash8", 8, frozenset({"text"})

    def encode_text(self, texts):
        m = np.ones((len(texts), 8), np.float32)
        return m / np.linalg.norm(m, axis=1, keepdims=True)

mem = EmbodiedMemory.open(sys.argv[1], MemoryConfig(image_encoder=None), create=False, text_encoder=HashText())
mem.meta["run"] = "second"
for k in range(12):
    mem.store.put_image(f"place/0/{k}", "view", photo(k))
for step in ("checkpoint", "close"):
    try:
        mem.checkpoint() if step == "checkpoint" else mem.close()
        report[step] = "ok"
    except Exception as e:
        report[step] = f"{type(e).__name__}: {e}"
report["closed"] = mem.store is None
print(json.dumps(report))
"""


def test_closing_a_memory_after_a_failed_checkpoint_writes_nothing(tmp_path):
    path = tmp_path / "a.db"
    _batch0(path)
    report = _run(MEMORY_CLOSE, path, path.stat().st_size + 64 * 1024)
    assert report["checkpoint"].startswith("MemoryFileUnwritable: cannot write ")
    assert report["close"] == "ok" and report["closed"]  # closed (and unlocked) without a second checkpoint
    batches, meta = _contents(path)
    assert batches == ["place/0"] and "run" not in meta and meta["counts"] == {"place": 20, "edges": 0}
    assert not Path(str(path) + ".lock").exists()
