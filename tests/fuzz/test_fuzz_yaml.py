"""Fuzzing the YAML loaders: scenario files, ``--config`` files and prior packs, from mutations of the
shipped files plus alias bombs and deep nesting."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.config import load_lab_config
from app.eval.scenario import load_scenario
from memory.priors import pack_from_dict
from sim.yaml_safe import safe_load_yaml
from tests.fuzz.fuzzing import FUZZ_SETTINGS, check_case

pytestmark = pytest.mark.fuzz

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "assets" / "scenarios").glob("*.yaml"))]
CONFIGS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "assets" / "configs").glob("*.yaml"))] + [
    "sim: {width: 320, height: 240, hfov_deg: 90}\nmemory:\n  perception: {type: oracle, min_pixels: 150}\n"
    "  forest: {area_radius: 1.75}\n  text_encoder: {type: minilm}\n  image_encoder: null\n"
    "explorer: {look_around: true}\nllm: {base_url: 'http://127.0.0.1:8080/v1', model: smollm2}\n"
    "query: {retriever: forest, generator: template, top_k: 5, retrieval: {beam: [16, 6, 3]}}\n",
]
PACKS = [(ROOT / "assets" / "priors" / "general.yaml").read_text(encoding="utf-8"),
         "name: mine\nobjects: [icebox, lamp]\nsynonyms:\n  - [fridge, icebox]\nregions:\n  kitchen: {icebox: 1.0}\n"]
PIECES = ["&a ", "*a", "<<: *a\n", "- ", ": ", "{", "}", "[", "]", ",", "\n  ", "\n", "!!python/object:os.system ",
          "!!binary ", "? ", "|\n", ">-\n", "'", '"', "#", "~", ".nan", ".inf", "-.inf", "1e999", "9" * 5000,
          "2024-13-45", "0x7f", "0o17", "true", "null", "\t", "\ufeff", "%YAML 1.1\n", "---\n", "...\n", "\x00"]
VALUES = ["-1", "0", "100001", "1e999", ".nan", "[]", "{}", "[1, 2, 3]", "''", "llm", "house:seed=-1",
          "rooms:n=3.5", "waypoints", "{x: 1}", "*a", "!!str 5", "9" * 400]


def alias_bomb(levels: int, width: int) -> str:
    rows = ["b0: &b0 [lol]"] + [f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(rows) + "\n"


@st.composite
def yaml_texts(draw, seeds: list[str]) -> str:
    kind = draw(st.sampled_from(["mutate"] * 6 + ["bomb", "deep", "random"]))
    if kind == "bomb":
        return draw(st.sampled_from(seeds)) + alias_bomb(draw(st.integers(2, 12)), draw(st.integers(2, 12)))
    if kind == "deep":
        depth = draw(st.integers(1, 3000))
        if draw(st.booleans()):
            return "world: rooms:n=2\nqueries: " + "[" * depth + "]" * depth + "\n"
        return "world: rooms:n=2\n" + "".join(" " * i + "k:\n" for i in range(min(depth, 1200))) + "x: 1\n"
    if kind == "random":
        return draw(st.text(max_size=400))
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "value", "duplicate"]))
        if op == "insert":
            text = text[:i] + draw(st.sampled_from(PIECES) | st.text(max_size=8)) + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 40)):]
        elif op == "duplicate":
            j = min(len(text), i + draw(st.integers(1, 200)))
            text = text[:j] + text[i:j] * draw(st.integers(1, 50)) + text[j:]
        else:  # replace the value after a ':' with a hostile one
            k = text.find(": ", i)
            if k >= 0:
                end = text.find("\n", k)
                end = len(text) if end < 0 else end
                text = text[:k + 2] + draw(st.sampled_from(VALUES)) + text[end:]
    return text


def _write(d: Path, text: str) -> Path:
    p = d / "case.yaml"
    p.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    return p


@FUZZ_SETTINGS
@given(text=yaml_texts(SCENARIOS))
def test_fuzz_scenario_files(tmp_path_factory, text):
    p = _write(tmp_path_factory.mktemp("scenario"), text)
    check_case("scenario YAML", lambda: load_scenario(p))


@FUZZ_SETTINGS
@given(text=yaml_texts(CONFIGS))
def test_fuzz_config_files(tmp_path_factory, text):
    p = _write(tmp_path_factory.mktemp("config"), text)
    check_case("config YAML", lambda: load_lab_config(p))


@FUZZ_SETTINGS
@given(text=yaml_texts(PACKS))
def test_fuzz_prior_packs(tmp_path_factory, text):
    p = _write(tmp_path_factory.mktemp("pack"), text)
    check_case("prior pack YAML", lambda: pack_from_dict(safe_load_yaml(p), str(p)))
