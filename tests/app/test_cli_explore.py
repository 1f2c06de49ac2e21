"""``launcher.py explore``: writes a memory file, continues it, survives a kill, rejects bad input."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import launcher
from memory.core import EmbodiedMemory

ROOT = Path(__file__).resolve().parents[2]


def test_explore_writes_a_memory_and_continues_it(tmp_path, capsys):
    db = tmp_path / "rooms.db"
    assert launcher.main(["explore", "--scene", "rooms:n=2,seed=0", "--steps", "120", "--out", str(db),
                          "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["steps"] == 120 and out["memory"]["objects"] >= 3 and out["coverage"]["total"] > 0.3
    with EmbodiedMemory.open(db, readonly=True) as mem:
        first = mem.observations
        assert mem.forest.clusters(4)
    assert launcher.main(["explore", "--scene", "rooms:n=2,seed=0", "--steps", "40", "--out", str(db)]) == 0
    text = capsys.readouterr()
    assert "explored" in text.out and "coverage" in text.out
    with EmbodiedMemory.open(db, readonly=True) as mem:
        assert mem.observations > first


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert "Traceback" not in err[0]
    return err[0]


def test_explore_rejects_bad_input(tmp_path, capsys):
    db = tmp_path / "m.db"
    assert launcher.main(["explore", "--scene", "rooms:n=2", "--steps", "0", "--out", str(db)]) == 2
    assert "--steps" in _one_error_line(capsys)
    assert launcher.main(["explore", "--scene", "rooms:n=2", "--steps", "5", "--out", str(tmp_path / "m.txt")]) == 2
    assert ".db" in _one_error_line(capsys)
    assert launcher.main(["explore", "--scene", "castle:seed=1", "--steps", "5", "--out", str(db)]) == 2
    assert "castle" in _one_error_line(capsys)
    assert launcher.main(["explore", "--scene", "rooms:n=2", "--steps", "5", "--out",
                          str(tmp_path / "missing" / "m.db")]) == 2
    _one_error_line(capsys)
    bad = tmp_path / "bad.yaml"
    bad.write_text("sim:\n  widht: 320\n")
    assert launcher.main(["explore", "--scene", "rooms:n=2", "--steps", "5", "--out", str(db),
                          "--config", str(bad)]) == 2
    line = _one_error_line(capsys)
    assert "widht" in line and ":2" in line
    # a memory of another world is not mixed with this one
    assert launcher.main(["explore", "--scene", "rooms:n=2,seed=0", "--steps", "10", "--out", str(db)]) == 0
    capsys.readouterr()
    assert launcher.main(["explore", "--scene", "rooms:n=3,seed=1", "--steps", "10", "--out", str(db)]) == 2
    assert "another --out" in _one_error_line(capsys)
    # a file that is not a memory is refused and left alone
    png = tmp_path / "picture.db"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    before = png.read_bytes()
    assert launcher.main(["explore", "--scene", "rooms:n=2", "--steps", "5", "--out", str(png)]) == 2
    _one_error_line(capsys)
    assert png.read_bytes() == before


def test_a_killed_exploration_keeps_its_last_checkpoint(tmp_path):
    db = tmp_path / "killed.db"
    cfg = tmp_path / "fast.yaml"
    cfg.write_text("memory:\n  ingest:\n    checkpoint_seconds: 1.0\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "launcher.py", "explore", "--scene", "house:seed=3,rooms=6",
                             "--steps", "3000", "--out", str(db), "--config", str(cfg)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        # wait until at least two checkpoints with objects are on disk, then kill without warning
        while time.monotonic() < deadline:
            time.sleep(1.0)
            if db.exists():
                try:
                    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                    n = con.execute("SELECT COUNT(*) FROM nodes WHERE kind = 'object'").fetchone()[0]
                    con.close()
                except sqlite3.Error:
                    n = 0
                if n >= 5:
                    time.sleep(1.5)
                    break
        assert proc.poll() is None, "exploration ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with EmbodiedMemory.open(db, readonly=True) as mem:
        assert len(mem.graph.objects()) >= 5
        assert mem.forest.clusters(2)
        # every leaf in the file is in the forest: no half-written checkpoint
        assert len(mem.forest.leaves()) == len(mem.graph.places()) + len(mem.graph.objects())
