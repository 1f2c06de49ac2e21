"""``launcher.py drive``: explore / waypoints / teleop; map PNG and summary; bad input is one line and exit 2."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import launcher

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = launcher.main(["drive", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_drive_explore_writes_map_and_summary(tmp_path, capsys):
    code, out, err = run(capsys, "--scene", "rooms:n=2,seed=0", "--explore", "--steps", "400", "--out",
                         str(tmp_path), "--json")
    assert code == 0, err
    s = json.loads(out)
    assert s["mode"] == "explore" and s["scene"] == "rooms:n=2,seed=0"
    assert s["stop_reason"].startswith("explored") and 0 < s["steps"] < 400
    assert s["coverage"]["total"] >= 0.9 and list(s["coverage"]["per_floor"]) == ["0"]
    assert s["distance_m"] > 3.0 and s["keyframes"] > 5 and s["collisions"] >= 0
    assert "trajectory" not in s
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png", "summary.json"]
    with Image.open(tmp_path / "map.png") as im:
        px = np.asarray(im.convert("RGB")).reshape(-1, 3)
        assert im.size[0] > 400 and len(np.unique(px, axis=0)) > 50
    full = json.loads((tmp_path / "summary.json").read_text())
    assert len(full["trajectory"]) == s["steps"] + 1 and len(full["trajectory"][0]) == 5
    assert full["keyframes"][0]["reason"] == "start"


def test_drive_waypoints_text_output(capsys, tmp_path):
    wp = tmp_path / "route.txt"
    wp.write_text("6 1\n2 3\n")
    code, out, err = run(capsys, "--scene", "rooms:n=2,seed=0", "--waypoints", str(wp))
    assert code == 0, err
    assert "rooms:n=2,seed=0 (waypoints):" in out and "coverage" in out and "collisions" in out
    assert "waypoint 1 (6, 1): reached" in out and "waypoint 2 (2, 3): reached" in out
    assert "stopped: waypoints done: 2 of 2 reached" in out


def test_drive_teleop_reads_keys_until_eof(capsys, caplog, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("ww a\nx d\nw\n"))
    code, out, err = run(capsys, "--scene", "rooms:n=2,seed=0", "--teleop", "--json")
    assert code == 0
    s = json.loads(out)
    assert s["mode"] == "teleop" and s["steps"] == 5 and s["stop_reason"] == "end of input"
    assert "ignoring key 'x'" in caplog.text


def test_drive_teleop_q_quits(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("wq\nwwww\n"))
    code, out, _ = run(capsys, "--scene", "rooms:n=2,seed=0", "--teleop", "--json")
    assert code == 0 and json.loads(out)["steps"] == 1


@pytest.mark.parametrize("argv, needle", [
    (["--scene", "rooms:n=2,seed=0", "--waypoints", "1,2;oops"], "waypoint 2 'oops' is malformed"),
    (["--scene", "rooms:n=2,seed=0", "--waypoints", "1,1;30,30"], "waypoint 2 (30, 30) cannot be reached"),
    (["--scene", "castle:seed=1", "--explore"], "unknown world type 'castle'"),
    (["--scene", "rooms:n=2,seed=0", "--explore", "--steps", "0"], "--steps must be a positive"),
    (["--scene", "rooms:n=2", "--waypoints", "1,1", "--teleop"], "not allowed with argument"),
])
def test_drive_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err
    assert "Traceback" not in err


def test_drive_bad_spec_in_a_real_process():
    r = subprocess.run([sys.executable, "launcher.py", "drive", "--scene", "rooms:n=99", "--explore"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith("error:") and "n must be between" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
