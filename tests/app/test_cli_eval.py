"""``launcher.py navigate``: question -> answer -> drive, judged against the world's objects (or "not
judged" when the question names none and no --categories are given); the memory file is only read;
bad input is one line with exit code 2."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import launcher

HOUSE = "house:seed=3,rooms=6"
ROOT = Path(__file__).resolve().parents[2]


def _error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("Loading weights")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_navigate_drives_to_a_satisfying_object(house_world, tmp_path, capsys):
    before = _digest(house_world.path)
    code = launcher.main(["navigate", "--scene", HOUSE, str(house_world.path), "where can I take a nap?", "--json",
                          "--categories", "bed", "sofa", "--out", str(tmp_path / "route")])
    out, _ = capsys.readouterr()
    assert code == 0
    d = json.loads(out)
    assert list(d)[:8] == ["query", "query_type", "answer", "found", "confidence", "goal", "latency_ms", "hits"]
    n = d["navigation"]
    assert n["judged_against"] == "the given categories" and n["satisfying"]
    assert n["success"] and n["final_distance_m"] <= 1.0 and n["nearest"]["id"] in n["satisfying"]
    assert 0.0 < n["spl"] <= 1.0 and n["path_length_m"] >= n["shortest_length_m"] - 0.3
    assert n["steps"] > 0 and n["seconds"] > 0 and n["stop_reason"]
    assert (tmp_path / "route" / "route.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "route" / "navigate.json").read_text())["navigation"] == n
    assert _digest(house_world.path) == before  # the memory file is only read


def test_navigate_text_output_and_a_question_without_goal(house_world, capsys):
    assert launcher.main(["navigate", "--scene", HOUSE, str(house_world.path), "where is the fridge?"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("answer   ") and "\ndrive    " in out and "\nsuccess  yes" in out
    assert launcher.main(["navigate", "--scene", HOUSE, str(house_world.path), "how many rooms are there?"]) == 0
    out, _ = capsys.readouterr()
    assert "nothing to drive to" in out


def test_a_drive_the_world_cannot_judge_is_reported_not_judged(house_world, capsys):
    # an implicit question: only the analyser's tables would say what satisfies it, so no verdict
    assert launcher.main(["navigate", "--scene", HOUSE, str(house_world.path), "where can I take a nap?",
                          "--json"]) == 0
    n = json.loads(capsys.readouterr()[0])["navigation"]
    assert n["judged_against"] == "not judged" and n["success"] is None and n["spl"] is None
    assert isinstance(n["reached_goal"], bool) and n["satisfying"] is None
    assert launcher.main(["navigate", "--scene", HOUSE, str(house_world.path), "where can I take a nap?"]) == 0
    assert "\nsuccess  not judged" in capsys.readouterr()[0]


@pytest.mark.parametrize("argv, needle", [
    (["--scene", HOUSE, "{missing}", "where is the bed?"], "does not exist"),
    (["--scene", "house:seed=4,rooms=6", "{db}", "where is the bed?"], "holds the memory of 'house:seed=3,rooms=6'"),
    (["--scene", HOUSE, "{db}", "  "], "the question is empty"),
    (["--scene", HOUSE, "{db}", "where is the bed?", "--retriever", "llm"], "needs an LLM server"),
    (["--scene", "castle:seed=1", "{db}", "where is the bed?"], "castle"),
    (["--scene", HOUSE, "{db}", "where can I nap?", "--categories", "hammock"], "the world has no hammock"),
])
def test_navigate_bad_input_is_one_line_and_exit_2(argv, needle, house_world, tmp_path, capsys):
    args = [a.format(db=house_world.path, missing=tmp_path / "nope.db") for a in argv]
    code = launcher.main(["navigate", *args])
    assert code == 2 and needle in _error_line(capsys.readouterr()[1])


def test_run_bad_scenario_in_a_real_process(tmp_path):
    f = tmp_path / "scenario.yaml"
    f.write_text("world: house:seed=3,rooms=4\nexploration:\n  stpes: 10\n", encoding="utf-8")
    r = subprocess.run([sys.executable, str(ROOT / "launcher.py"), "run", str(f)], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert _error_line(r.stderr) == (f"error: {f}:3: unknown key 'stpes' in exploration. "
                                     "Valid keys: policy, steps, waypoints")
