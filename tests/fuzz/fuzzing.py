"""What every fuzz test shares: the case budget, the one-case check, and the tally behind the README figures.

``FUZZ_EXAMPLES`` sets the generated cases per test (default 50, what CI runs; the README figures are
from ``FUZZ_EXAMPLES=1000``). With ``CI`` set the runs are derandomised, so CI never flakes on a new
example; locally every run explores new ones. ``FUZZ_REPORT=path.json`` writes the tally (cases,
outcomes, peak traced memory, seconds per loader) when the session ends.

A case passes when the loader returns, or raises one ``LabError`` whose message is one non-empty line,
within ``MEMORY_BUDGET`` bytes (``IMAGE_MEMORY_BUDGET`` for images) of Python-traced memory
(``tracemalloc``: Python objects and numpy arrays; C allocations of SQLite and PIL are not traced,
and are bounded by the loaders' own limits).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings

from sim.errors import LabError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
MEMORY_BUDGET = 64 * 2**20
# a query image may be decoded up to app.query.MAX_QUERY_IMAGE_PIXELS (4096 x 4096): PIL's bytes and the
# numpy array are both traced, 2 x 48 MiB at the limit
IMAGE_MEMORY_BUDGET = 128 * 2**20

FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])

TALLY: dict[str, dict[str, Any]] = defaultdict(lambda: {"cases": 0, "ok": 0, "lab_error": 0, "peak_bytes": 0,
                                                       "seconds": 0.0})


def check_case(loader: str, call: Callable[[], Any], budget: int = MEMORY_BUDGET) -> Any:
    """Run one case: the result, or None after one clear ``LabError``; anything else fails the test."""
    t = TALLY[loader]
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        result = call()
        outcome = "ok"
    except LabError as e:
        msg = str(e)
        assert msg.strip() and "\n" not in msg, f"{loader}: a LabError must be one non-empty line, got {msg!r}"
        assert "Traceback" not in msg
        result, outcome = None, "lab_error"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        t["seconds"] += time.perf_counter() - t0
    t["cases"] += 1
    t[outcome] += 1
    t["peak_bytes"] = max(t["peak_bytes"], peak)
    t["budget_bytes"] = budget
    assert peak <= budget, f"{loader}: one case traced {peak / 2**20:.0f} MiB (budget {budget >> 20} MiB)"
    return result


def write_report() -> None:
    path = os.environ.get("FUZZ_REPORT")
    if not path or not TALLY:
        return
    old = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = json.load(f)
    old.update({k: {**v, "seconds": round(v["seconds"], 2)} for k, v in TALLY.items()})
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"examples_per_test": EXAMPLES, **{k: v for k, v in old.items() if k != "examples_per_test"}},
                  f, indent=2, sort_keys=True)


class HashEncoder:
    """A tiny deterministic text encoder behind the ``Encoder`` interface (unit rows from a hash of the text),
    so memory files load in milliseconds."""

    id = "test:fuzz-hash16"
    dim = 16
    modalities = frozenset({"text"})

    def encode_text(self, texts):
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode("utf-8")).hexdigest()[:8], 16))
                .standard_normal(self.dim) for t in texts]
        m = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return m / np.linalg.norm(m, axis=1, keepdims=True)
