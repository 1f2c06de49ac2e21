"""Scenario files: the shipped examples validate, one runs end to end with its report and plots, and
invalid files give one line naming the file and line (exit code 2)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import launcher
from app.eval.scenario import Scenario, ScenarioError, load_scenario, run_scenario
from memory.core import EmbodiedMemory, MemoryConfig

SCENARIOS = Path(__file__).resolve().parents[2] / "assets" / "scenarios"
QUICK = SCENARIOS / "three-rooms-quick.yaml"


def _error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("Loading weights")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_shipped_scenarios_are_valid_and_documented():
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert 3 <= len(files) <= 5
    for f in files:
        sc = load_scenario(f)
        assert isinstance(sc, Scenario) and sc.name == f.stem
        text = f.read_text(encoding="utf-8")
        assert text.lstrip().startswith("#") and text.count("#") >= 5, f"{f.name} needs comments"
        assert sc.queries or sc.generated is not None


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenario") / "quick"
    stages = []
    gen = run_scenario(QUICK, out)
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return out, stop.value, stages
        stages.append(p)


def test_quick_scenario_runs_end_to_end(quick_run):
    out, report, progress = quick_run
    assert report.report_path == out / "report.md" and report.report_path.is_file()
    assert {p.name for p in out.iterdir()} >= {"report.md", "report.json", "trajectory.png", "forest.png", "hits.png",
                                               "accuracy.png", "memory.db"}
    for png in ("trajectory.png", "forest.png", "hits.png", "accuracy.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (out / png).stat().st_size > 10_000
    md = report.report_path.read_text(encoding="utf-8")
    for png in ("trajectory.png", "forest.png", "hits.png", "accuracy.png"):
        assert f"]({png})" in md
    assert progress and all(p.total == 100 and 0 <= p.done <= 100 for p in progress)
    assert [p.done for p in progress] == sorted(p.done for p in progress)


def test_quick_scenario_answers_checks_and_drives(quick_run):
    out, report, _ = quick_run
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report.ok and report.checks_total == 3
    sleep, fridge, rooms = data["queries"]
    assert sleep["query_type"] == "implicit" and sleep["nav"]["judged_against"] == "the expected objects"
    for q in (sleep, fridge):
        assert q["nav"]["success"] and q["nav"]["distance_m"] <= 1.0 and 0.0 < q["nav"]["spl"] <= 1.0
    assert rooms["nav"] is None and rooms["check"] == {"passed": True, "why": ""}
    (goal,) = data["goals"]
    assert goal["success"] and goal["final_distance_m"] <= 1.0 and 0.0 < goal["spl"] <= 1.0
    acc = {(r["type"], r["retriever"]): r for r in data["accuracy"]}
    assert acc[("all", "forest")]["n"] == acc[("all", "flat")]["n"] > 0
    assert acc[("implicit", "forest")]["top1"] >= acc[("implicit", "flat")]["top1"]
    # the saved memory opens and holds what the robot saw (and its map: navigate can use it)
    with EmbodiedMemory.open(out / "memory.db", MemoryConfig(image_encoder=None), create=False, readonly=True) as m:
        assert m.stats()["objects"] == data["exploration"]["memory"]["objects"] >= 4
        assert m.meta["scene"] == "rooms:n=3,seed=1"


def test_failed_checks_exit_with_1_and_say_why(tmp_path, capsys):
    f = tmp_path / "blind.yaml"
    f.write_text("world: rooms:n=2,seed=0\nexploration: {policy: none}\nqueries:\n"
                 "  - text: where is the bathtub?\n    expect: {categories: [bathtub]}\n"
                 "  - text: how many rooms are there?\n    expect: {type: global}\n", encoding="utf-8")
    code = launcher.main(["run", str(f), "--out", str(tmp_path / "out")])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "1 of 2 checks passed" in out and "failed: 'where is the bathtub?': the world has no bathtub" in out
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert data["exploration"]["policy"] == "none" and data["exploration"]["steps"] == 0


BAD = {
    "bad key": ("world: house:seed=3,rooms=4\nexploration:\n  policy: frontier\n  stpes: 10\n",
                r":4: unknown key 'stpes' in exploration\. Valid keys: policy, steps, waypoints"),
    "wrong type": ("world: house:seed=3,rooms=4\nexploration:\n  steps: many\n",
                   r":3: exploration\.steps must be an integer, got 'many'"),
    "missing world": ("name: nowhere\nqueries:\n  - text: where is the bed?\n",
                      r":1: missing key 'world' in scenario"),
    "misspelt key": ("name: typo\nwrold: rooms:n=2\n",
                     r":2: unknown key 'wrold' in scenario\. Valid keys: config, description, exploration, "),
    "unknown nested key": ("world: rooms:n=2\nqueries:\n  - text: hi\n    expect:\n      top_1: true\n",
                           r":5: unknown key 'top_1' in queries\.0\.expect\. Valid keys: answer_contains, "),
    "wrong type in a list": ("world: rooms:n=2\ngoals:\n  - {x: 1, y: 2}\n  - {x: east, y: 2}\n",
                             r":4: goals\.1\.x must be a number, got 'east'"),
    "not a list": ("world: rooms:n=2\ngoals: {x: 1, y: 2}\n", r":2: goals must be a list, got \{'x': 1, 'y': 2\}"),
    "flag as number": ("world: rooms:n=2\nsave_memory: 1\n", r":2: save_memory must be true or false, got 1"),
    "bad world": ("name: typo\n\nworld: house:sed=3\n", r":3: world: bad scene spec 'house:sed=3'"),
    "bad query type": ("world: rooms:n=2\nqueries:\n  - text: hi\n    expect:\n      type: spatial\n",
                       r":5: queries\.0\.expect\.type must be one of 'explicit'"),
    "llm without server": ("world: rooms:n=2\nretriever: llm\n", r":2: retriever 'llm' needs an 'llm' section"),
    "waypoints missing": ("world: rooms:n=2\nexploration: {policy: waypoints}\n",
                          r":2: invalid exploration: policy 'waypoints' needs a list of waypoints"),
    "bad waypoint": ("world: rooms:n=2\nexploration:\n  policy: waypoints\n  waypoints: [[1, 2], [1]]\n",
                     r":2: invalid exploration: waypoint 2 must be \[x, y\] or \[x, y, floor\]"),
    "invalid yaml": ("world: rooms:n=2\nqueries: [\n", r":3: invalid YAML"),
    # issue 14: a billion-laughs scenario grew ~100 MB/s with no output; 10k levels exited 1 (RecursionError)
    "alias bomb": ("world: rooms:n=2\nx0: &x0 [lol]\n" + "".join(
        f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]\n" for i in range(1, 10)), r": invalid YAML: aliases expand"),
    "deep nesting": ("world: rooms:n=2\nqueries: " + "[" * 10_000 + "]" * 10_000 + "\n",
                     r":2: invalid YAML: nested deeper than 64 levels"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_scenario_is_one_line_with_file_and_line(case, tmp_path, capsys):
    text, pattern = BAD[case]
    f = tmp_path / "scenario.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=pattern):
        load_scenario(f)
    code = launcher.main(["run", str(f), "--out", str(tmp_path / "out")])
    _, err = capsys.readouterr()
    line = _error_line(err)
    assert code == 2 and line.startswith(f"error: {f}:")
    assert not (tmp_path / "out").exists()  # nothing was built


def test_missing_and_empty_scenario_files(tmp_path, capsys):
    assert launcher.main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "file not found" in _error_line(capsys.readouterr()[1])
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n", encoding="utf-8")
    assert launcher.main(["run", str(empty)]) == 2
    assert "the scenario is empty" in _error_line(capsys.readouterr()[1])


def test_drives_without_world_truth_are_not_judged_nor_counted():
    from app.eval.scenario import _check_rows

    qs = [{"query_type": "explicit", "check": {"passed": True}, "nav": {"success": True, "spl": 0.8}},
          {"query_type": "implicit", "check": {"passed": True},
           "nav": {"success": None, "spl": None, "judged_against": "not judged", "reached_goal": True}}]
    rows = {r["type"]: r for r in _check_rows(qs, "forest")}
    assert rows["all"]["nav_n"] == 1 and rows["all"]["nav_success"] == 1.0 and rows["implicit"]["nav_n"] == 0
