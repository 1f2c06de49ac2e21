"""The lab config file: every section a frozen dataclass that refuses unknown keys (pydantic), and a bad
file is one line with its line number (the CLI exits with 2)."""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

import launcher
from app.config import LabConfig, load_lab_config
from app.eval.scenario import Scenario
from sim.errors import ConfigError
from sim.worlds import WORLDS

CONFIGS = Path(__file__).resolve().parents[2] / "assets" / "configs"


def _config_classes() -> set[type]:
    seen: set[type] = set()

    def walk(tp: typing.Any) -> None:
        if dataclasses.is_dataclass(tp) and tp not in seen:
            seen.add(tp)
            for hint in typing.get_type_hints(tp).values():
                walk(hint)
        for arg in typing.get_args(tp):
            walk(arg)

    for root in (LabConfig, Scenario, *(WORLDS.get(n).config for n in WORLDS.names())):
        walk(root)
    return seen


def test_every_config_section_refuses_unknown_keys_itself():
    classes = _config_classes()
    assert len(classes) >= 30  # LabConfig's sections, the scenario's parts and the world types
    for cls in classes:
        # its own setting, not the one pydantic would borrow from an enclosing config
        assert cls.__dict__.get("__pydantic_config__", {}).get("extra") == "forbid", cls.__qualname__
        assert cls.__dataclass_params__.frozen, cls.__qualname__


def test_defaults_and_the_shipped_config():
    assert load_lab_config() == LabConfig()
    cfg = load_lab_config(CONFIGS / "geometric.yaml")
    assert isinstance(cfg, LabConfig) and cfg.memory.perception.type == "geometric"
    assert dataclasses.replace(cfg, llm=None).memory == cfg.memory


def test_sections_load_typed(tmp_path):
    f = tmp_path / "lab.yaml"
    f.write_text("sim: {width: 160, hfov_deg: 75}\nmemory:\n  forest: {area_radius: 2}\n  image_encoder: null\n"
                 "query: {retrieval: {beam: [8, 4, 2]}}\nllm: {base_url: 'http://127.0.0.1:9/v1', model: m}\n",
                 encoding="utf-8")
    cfg = load_lab_config(f)
    assert cfg.sim.width == 160 and cfg.sim.hfov_deg == 75.0 and cfg.sim.height == LabConfig().sim.height
    assert cfg.memory.forest.area_radius == 2.0 and cfg.memory.image_encoder is None
    assert cfg.query.retrieval.beam == (8, 4, 2) and cfg.llm is not None and cfg.llm.model == "m"


@pytest.mark.parametrize("text, expected", [
    ("sim:\n  width: 320\n  height: tall\n", ":3: sim.height must be an integer, got 'tall'"),
    ("memory:\n  forest:\n    area_radius: 1.0\n    aera_threshold: 0.5\n",
     ":4: unknown key 'aera_threshold' in memory.forest. Valid keys: area_radius, area_threshold, "),
    ("memory:\n  perception:\n    encoder: {type: openclip, batch_size: 0}\n",
     ":3: invalid memory.perception.encoder: encoder batch_size must be at least 1, got 0"),
    ("query:\n  retrieval:\n    beam: [16, six, 3]\n", ":3: query.retrieval.beam.1 must be an integer, got 'six'"),
    ("explorer:\n  view_distance: [1.0]\n", ":2: explorer.view_distance must be a list of 2 values, got [1.0]"),
    ("sim: {collision: bounce}\n", ":1: sim.collision must be one of 'slide' or 'stop', got 'bounce'"),
    ("\nllm: 5\n", ":2: llm must be a mapping of settings, got 5"),
    ("simulator: {width: 3}\n", ":1: unknown key 'simulator' in "),
])
def test_bad_config_is_one_line_with_its_line(tmp_path, capsys, text, expected):
    f = tmp_path / "lab.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_lab_config(f)
    assert str(e.value).startswith(f"{f}{expected}")
    assert launcher.main(["explore", "--scene", "rooms:n=2", "--steps", "5", "--out", str(tmp_path / "m.db"),
                          "--config", str(f)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith(f"error: {f}{expected}")
