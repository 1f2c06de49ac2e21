"""The startup bench's measurement: a fresh launcher process, its exit code, wall time and its own peak RSS."""
from __future__ import annotations

from app.bench.startup import measure_command


def test_measure_command_reports_a_child_process(house_world):
    info = measure_command(["memory", "info", str(house_world.path), "--json"])
    assert info["rc"] == 0 and '"nodes"' in info["stdout"]
    assert info["seconds"] > 0
    assert 10 < info["peak_rss_mb"] < 4096  # this child's own peak, not the test process's


def test_measure_command_keeps_the_error_line(tmp_path):
    info = measure_command(["query", str(tmp_path / "missing.db"), "where is the sofa?"])
    assert info["rc"] == 2
    assert info["stderr"] and "does not exist" in info["stderr"][-1]
