"""``launcher.py bench [sim|memory|retrieval|gui|simclip|perception|all] [--json] [--quick]``.

Each area has a measurement function returning a nested dict of figures; this module runs
them and prints either JSON or a readable table. Benchmarks print figures; tests never
assert wall-clock times.
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import platform
import sys
import time
from typing import Any

log = logging.getLogger(__name__)

# area -> "module:function(quick: bool) -> dict"
BENCHES = {
    "sim": "app.bench.sim:run_sim_bench",
    "memory": "app.bench.memory:run_memory_bench",
    "retrieval": "app.bench.retrieval:run_retrieval_bench",
    "gui": "ui.bench_gui:run_gui_bench",
    "simclip": "app.bench.simclip:run_simclip_bench",
    "perception": "app.bench.perception:run_perception_bench",  # not in ``all``: two long explorations
    "serve": "app.bench.serve:run_serve_bench",  # not in ``all``: builds a 10k-leaf memory, starts two servers
    "startup": "app.bench.startup:run_startup_bench",  # not in ``all``: ~10 fresh processes
    "soak": "app.bench.soak:run_soak_bench",  # not in ``all``: 10,000 exploration steps (--quick: 300)
}
ALL_ORDER = ("sim", "memory", "retrieval", "simclip", "gui")


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                            "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def run_benches(names: list[str], quick: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": machine_info(), "quick": quick}
    for name in names:
        module, _, func = BENCHES[name].partition(":")
        t0 = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        result = getattr(importlib.import_module(module), func)(quick=quick)
        result["bench_seconds"] = round(time.perf_counter() - t0, 2)
        out[name] = result
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            rows.extend(_flatten(v, key + "."))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for i, x in enumerate(v):
                rows.extend(_flatten(x, f"{key}[{i}]."))
        else:
            rows.append((key, _fmt(v)))
    return rows


def format_table(results: dict[str, Any]) -> str:
    lines = []
    for section, body in results.items():
        if not isinstance(body, dict):
            lines.append(f"{section}: {_fmt(body)}")
            continue
        lines.append(f"\n== {section}")
        rows = _flatten(body)
        width = max((len(k) for k, _ in rows), default=0)
        lines.extend(f"  {k.ljust(width)}  {v}" for k, v in rows)
    return "\n".join(lines).lstrip("\n")


def cmd_bench(args) -> int:
    names = list(ALL_ORDER) if args.what == "all" else [args.what]
    results = run_benches(names, quick=bool(args.quick))
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        print(format_table(results))
    return 0
