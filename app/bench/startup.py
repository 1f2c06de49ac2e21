"""``launcher.py bench startup``: what one shell command costs from process start to exit.

A memory file is explored once (a small world), then each command runs as a fresh process several
times: wall time (first run and median) and peak RSS (``wait4``'s ``ru_maxrss`` of that child only).
``query`` runs twice over: as shipped (MiniLM on the numpy runtime) and with
``memory.text_encoder.runtime: torch`` (sentence-transformers, what every query paid before), so the
before/after figures come from the same run on the same, equally busy machine. "Cold" is a new
process; the OS file cache is warm after the first run. The goal for ``query``: < 3 s, < 600 MB.
"""
from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["run_startup_bench", "measure_command"]

LAUNCHER = Path(__file__).resolve().parents[2] / "launcher.py"
QUESTION = "where is the sofa?"
SCENE = "rooms:n=3"
GOAL_SECONDS = 3.0
GOAL_MB = 600.0


def measure_command(args: list[str], *, timeout: float = 600.0) -> dict[str, Any]:
    """Run ``launcher.py ARGS`` as a new process: exit code, wall seconds, peak RSS (MB), stdout."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, str(LAUNCHER), *args], stdout=out, stderr=err,
                                env={**os.environ, "HF_HUB_OFFLINE": "1"})
        deadline = time.monotonic() + timeout
        while True:  # wait4 gives this child's own peak RSS (getrusage(CHILDREN) is the max over all)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return {"rc": proc.returncode, "seconds": wall, "peak_rss_mb": usage.ru_maxrss / 1024.0,
            "stdout": stdout, "stderr": stderr.strip().splitlines()[-1:]}


def _series(args: list[str], repeats: int) -> dict[str, Any]:
    runs = [measure_command(args) for _ in range(repeats)]
    bad = [r for r in runs if r["rc"] != 0]
    if bad:
        raise RuntimeError(f"launcher.py {' '.join(args)} exited {bad[0]['rc']}: {' '.join(bad[0]['stderr'])}")
    walls = [r["seconds"] for r in runs]
    out: dict[str, Any] = {
        "runs": repeats,
        "first_seconds": round(walls[0], 2),
        "median_seconds": round(statistics.median(walls), 2),
        "min_seconds": round(min(walls), 2),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
    }
    try:  # the answer's own latency, as the command reports it
        out["answer_ms"] = round(float(json.loads(runs[-1]["stdout"])["latency_ms"]), 1)
    except (ValueError, KeyError, TypeError):
        pass
    return out


def run_startup_bench(quick: bool = False, *, db: str | Path | None = None) -> dict[str, Any]:
    """Cold-start figures of ``query`` (numpy and torch MiniLM) and ``memory info``; ``quick``: one run each."""
    repeats = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        tmp_path = Path(tmp)
        made = {}
        if db is None:
            db = tmp_path / "startup.db"
            t0 = time.perf_counter()
            explored = measure_command(["explore", "--scene", SCENE, "--steps", "60" if quick else "150",
                                        "--out", str(db)])
            if explored["rc"] != 0:
                raise RuntimeError(f"explore for the startup bench failed: {' '.join(explored['stderr'])}")
            made = {"scene": SCENE, "explore_seconds": round(time.perf_counter() - t0, 1)}
        torch_cfg = tmp_path / "torch.yaml"
        torch_cfg.write_text("memory:\n  text_encoder:\n    runtime: torch\n", encoding="utf-8")
        query = ["query", str(db), QUESTION, "--json"]
        result: dict[str, Any] = {"memory_file": made or str(db), "goal": f"query < {GOAL_SECONDS:g} s, "
                                  f"< {GOAL_MB:g} MB", "load_average": _load_average()}
        result["query"] = _series(query, repeats)
        result["query_torch_runtime"] = _series([*query, "--config", str(torch_cfg)], repeats)
        result["memory_info"] = _series(["memory", "info", str(db)], repeats)
        q = result["query"]
        result["query_meets_goal"] = bool(q["median_seconds"] < GOAL_SECONDS and q["peak_rss_mb"] < GOAL_MB)
        result["load_average_after"] = _load_average()
    return result


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)  # the 2-core machines are shared: timings follow the load
    except OSError:
        return None
