"""Bounded YAML: size, nesting and alias expansion are refused with one ConfigError line before data is built."""
from __future__ import annotations

import tracemalloc

import pytest

from sim.config import load_yaml
from sim.errors import ConfigError
from sim.yaml_safe import MAX_ALIAS_NODES, MAX_YAML_BYTES, MAX_YAML_DEPTH, safe_load_yaml


def billion_laughs(levels: int = 9) -> str:
    rows = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        rows.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(rows) + "\n"


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and msg
    return msg


@pytest.mark.parametrize("loader", [load_yaml, safe_load_yaml])
def test_billion_laughs_is_refused_before_it_grows(loader, tmp_path):
    # used to grow ~100 MB/s in sim.config's line-tracking walk until killed
    f = tmp_path / "bomb.yaml"
    f.write_text(billion_laughs(), encoding="utf-8")
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as e:
            loader(f)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"the limit is {MAX_ALIAS_NODES:,}" in _one_line(e) and str(f) in str(e.value)
    assert peak < 5 * 2**20


@pytest.mark.parametrize("text", [
    "a: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "".join(" " * i + "a:\n" for i in range(1500)) + " " * 1500 + "b: 1\n",
    "a: " + "[" * 200 + "]" * 200 + "\n",
])
@pytest.mark.parametrize("composer", ["libyaml", "python"])
def test_deep_nesting_is_one_line_not_recursion_error(text, composer, tmp_path, monkeypatch):
    # 10k levels used to exit 1 "internal error (RecursionError)"
    if composer == "python":  # the composer used where PyYAML was built without libyaml
        import sim.yaml_safe as ys

        monkeypatch.setattr(ys, "_COMPOSER", ys._DepthGuardLoader)
    f = tmp_path / "deep.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_yaml(f)
    assert f"nested deeper than {MAX_YAML_DEPTH} levels" in _one_line(e)


def test_nesting_through_aliases_counts_too(tmp_path):
    rows = ["l0: &l0 1"] + [f"l{i}: &l{i} [*l{i - 1}]" for i in range(1, MAX_YAML_DEPTH + 2)]
    f = tmp_path / "deep-alias.yaml"
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="nested deeper than"):
        load_yaml(f)


def test_recursive_alias_is_refused(tmp_path):
    f = tmp_path / "loop.yaml"
    f.write_text("a: &a [1, *a]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"loop\.yaml:1: invalid YAML: recursive alias"):
        load_yaml(f)


def test_modest_aliases_still_work(tmp_path):
    f = tmp_path / "shared.yaml"
    f.write_text("base: &b {x: 1, y: [1, 2]}\nuse: *b\nmerged:\n  <<: *b\n  z: 3\n", encoding="utf-8")
    doc = load_yaml(f)
    assert doc.data["use"] == {"x": 1, "y": [1, 2]} and doc.data["merged"]["z"] == 3
    assert doc.lines.line(("merged", "z")) == 5


def test_oversized_file_is_refused_before_reading(tmp_path):
    # a 12 MB scenario of 300k questions used to take 97 s to read, silently
    f = tmp_path / "big.yaml"
    with open(f, "w", encoding="utf-8") as out:
        out.write("world: rooms:n=3\nqueries:\n")
        line = "  - text: where is the fridge?\n"
        out.write(line * (MAX_YAML_BYTES // len(line) + 10))
    with pytest.raises(ConfigError) as e:
        load_yaml(f)
    assert "MiB; YAML files are limited to 2 MiB" in _one_line(e)


@pytest.mark.parametrize("raw, pattern", [
    (b"a: 1\nb: \xff\xfe\n", r":2: not UTF-8 text \(byte 0xff"),
    (b"? [a]\n: 1\n", r"invalid YAML: found unhashable key"),
    (b"d: 2024-13-45\n", r"invalid YAML value: month must be in 1\.\.12"),
    (b"n: " + b"7" * 5000 + b"\n", r"invalid YAML value: Exceeds the limit"),
])
def test_bad_values_are_config_errors(raw, pattern, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_bytes(raw)
    with pytest.raises(ConfigError, match=pattern):
        load_yaml(f)


def test_a_folder_or_missing_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        load_yaml(tmp_path)
    with pytest.raises(ConfigError, match="file not found"):
        load_yaml(tmp_path / "nope.yaml")
