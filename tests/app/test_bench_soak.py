"""The soak bench on a short run: RSS and counts at each mark, and a reopened file identical to the one written."""
from __future__ import annotations

from app.bench.soak import RandomWalk, soak
from sim.types import ActionKind


def test_short_soak_reopens_identical(tmp_path):
    lines: list[str] = []
    result = soak("rooms:n=3", 30, tmp_path / "soak.db", marks=(15,), report=lines.append)
    assert [row["steps"] for row in result["marks"]] == [15, 30]
    assert len(lines) == 2 and lines[0].startswith("soak: ")
    first, last = result["marks"]
    assert 0 < first["peak_rss_mb"] <= last["peak_rss_mb"]
    assert last["places"] >= first["places"] > 0 and last["levels"]["0"] > 0
    assert result["written"]["counts"]["places"] == last["places"]
    assert result["reopened_counts_identical"] and result["reopened_answers_identical"]
    assert result["reopened"]["counts"] == result["written"]["counts"]
    assert [a["answer"] for a in result["reopened"]["answers"]] == [a["answer"] for a in result["written"]["answers"]]
    assert all(a["answer"] for a in result["written"]["answers"])


def test_random_walk_turns_when_blocked():
    from types import SimpleNamespace

    walk = RandomWalk(seed=0)
    at = SimpleNamespace(pose=SimpleNamespace(x=1.0, y=2.0))
    moved = SimpleNamespace(pose=SimpleNamespace(x=1.25, y=2.0))
    walk.act(at)
    assert walk.act(at).kind in (ActionKind.TURN_LEFT, ActionKind.TURN_RIGHT)  # the same pose twice: blocked
    kinds = {walk.act(SimpleNamespace(pose=SimpleNamespace(x=1.0 + 0.25 * i, y=2.0))).kind for i in range(50)}
    assert ActionKind.FORWARD in kinds and walk.stop_reason == ""
    assert walk.act(moved) is not None  # never finishes
