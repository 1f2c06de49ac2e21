"""``eval --suite building99 | cmu500``: the authors' imported data, hand-written questions, baselines
and ablations; the Building99 memory of the test session is reused (no second import)."""
from __future__ import annotations

import json
import shutil

import launcher
from tests.explored_worlds import _WORLDS


def test_building99_suite_on_the_dev_split(b99_memory, tmp_path, capsys):
    out = tmp_path / "b99"
    out.mkdir()
    src = _WORLDS["b99"].path
    for suffix in ("", "-wal"):  # an existing memory file in --out is reused
        if src.with_name(src.name + suffix).is_file():
            shutil.copy(src.with_name(src.name + suffix), out / f"building99.db{suffix}")
    assert launcher.main(["eval", "--suite", "building99", "--out", str(out)]) == 0
    printed = capsys.readouterr()[0]
    assert "## Suite `building99`" in printed and "`dev` split" in printed
    d = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert d["split"] == "dev" and d["memory"] == str(out / "building99.db")
    assert list(d["retrievers"]) == ["random", "flat", "flat+analysis", "forest-analysis", "forest"]
    r = {k: v["overall"] for k, v in d["retrievers"].items()}
    assert r["random"]["top1"] <= 0.1 and r["forest"]["top1"] >= r["random"]["top1"] + 0.5
    assert r["forest"]["top1"] >= r["flat"]["top1"]
    assert all(v["n"] == d["n_questions"] > 0 for v in r.values())
    table = (out / "table.md").read_text(encoding="utf-8")
    assert "| explicit | forest − analysis |" in table and "| unanswerable | random |" in table


def test_a_real_suite_that_cannot_import_fails_in_one_line(tmp_path, capsys, monkeypatch):
    from app.eval import real as eval_real

    questions = eval_real.REAL_SUITES["cmu500"].questions
    missing = eval_real.RealSuite("cmu500", tmp_path / "missing.gml", questions)
    monkeypatch.setitem(eval_real.REAL_SUITES, "cmu500", missing)
    assert launcher.main(["eval", "--suite", "cmu500", "--out", str(tmp_path / "out")]) == 2
    err = [ln for ln in capsys.readouterr()[1].strip().splitlines() if not ln.startswith("Loading weights")]
    assert len(err) == 1 and "suite cmu500" in err[0] and "missing.gml" in err[0] and "Traceback" not in err[0]
