"""Config loading on pydantic: frozen dataclasses in, one ConfigError line out (file:line, the key or value,
the valid keys) for every bad key, type or range."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import pytest
from pydantic import ConfigDict

from sim.config import from_dict, load_yaml, to_dict
from sim.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class Lens:
    __pydantic_config__ = ConfigDict(extra="forbid")
    focal: float = 4.0
    size: tuple[int, int] = (320, 240)

    def __post_init__(self) -> None:
        if self.focal <= 0:
            raise ConfigError(f"focal must be positive, got {self.focal}")


@dataclass(frozen=True, kw_only=True)
class Camera:
    __pydantic_config__ = ConfigDict(extra="forbid")
    name: str
    fps: int = 30
    colour: bool = True
    mode: Literal["rgb", "depth"] = "rgb"
    lens: Lens = field(default_factory=Lens)
    spare: Lens | None = None
    presets: tuple[Lens, ...] = ()
    tags: tuple[str, ...] = ()


def _load(tmp_path, text: str) -> Camera:
    f = tmp_path / "camera.yaml"
    f.write_text(text, encoding="utf-8")
    doc = load_yaml(f)
    return from_dict(Camera, doc.data, where=str(f), lines=doc.lines)


def _error(tmp_path, text: str) -> str:
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, text)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(tmp_path / "camera.yaml") + ":")
    return msg.split("camera.yaml", 1)[1]


def test_yaml_builds_the_frozen_dataclasses():
    cam = from_dict(Camera, {"name": "front", "fps": 15, "lens": {"focal": 2, "size": [64, 48]},
                             "presets": [{"focal": 8.5}], "tags": ["a", "b"]})
    assert isinstance(cam, Camera) and isinstance(cam.lens, Lens) and isinstance(cam.presets[0], Lens)
    assert cam.lens == Lens(focal=2.0, size=(64, 48)) and isinstance(cam.lens.focal, float)
    assert cam.tags == ("a", "b") and cam.spare is None and cam.mode == "rgb"  # defaults kept
    with pytest.raises(dataclasses.FrozenInstanceError):
        cam.fps = 1  # type: ignore[misc]
    assert dataclasses.replace(cam, fps=60).fps == 60
    assert to_dict(cam)["lens"] == {"focal": 2.0, "size": [64, 48]}
    assert from_dict(Lens, None) == Lens()


@pytest.mark.parametrize("value, expected", [
    ("'30'", "fps must be an integer, got '30'"),  # no coercion from text
    ("30.0", "fps must be an integer, got 30.0"),
    ("true", "fps must be an integer, got True"),
])
def test_wrong_type_names_the_line_and_the_value(tmp_path, value, expected):
    assert _error(tmp_path, f"name: front\nfps: {value}\n") == f":2: {expected}"


def test_flags_text_and_choices_are_not_coerced(tmp_path):
    assert _error(tmp_path, "name: front\ncolour: 1\n") == ":2: colour must be true or false, got 1"
    assert _error(tmp_path, "name: 7\n") == ":1: name must be text, got 7"
    assert _error(tmp_path, "name: a\nmode: ir\n") == ":2: mode must be one of 'rgb' or 'depth', got 'ir'"


def test_unknown_key_lists_the_valid_ones(tmp_path):
    assert _error(tmp_path, "name: front\n\nfsp: 30\n") == (
        ":3: unknown key 'fsp' in " + str(tmp_path / "camera.yaml")
        + ". Valid keys: colour, fps, lens, mode, name, presets, spare, tags")


def test_nested_sections_report_their_key_path_and_line(tmp_path):
    assert _error(tmp_path, "name: a\nlens:\n  focal: 2\n  zoom: 3\n") == (
        ":4: unknown key 'zoom' in lens. Valid keys: focal, size")
    assert _error(tmp_path, "name: a\nspare:\n  focal: wide\n") == ":3: spare.focal must be a number, got 'wide'"
    assert _error(tmp_path, "name: a\npresets:\n  - {focal: 1}\n  - {size: [1, x]}\n") == (
        ":4: presets.1.size.1 must be an integer, got 'x'")
    assert _error(tmp_path, "name: a\nlens: 5\n") == ":2: lens must be a mapping of settings, got 5"
    assert _error(tmp_path, "name: a\ntags: solo\n") == ":2: tags must be a list, got 'solo'"
    assert _error(tmp_path, "name: a\nlens: {size: [1, 2, 3]}\n") == (
        ":2: lens.size must be a list of 2 values, got [1, 2, 3]")
    assert _error(tmp_path, "- name\n") == ":1: expected a mapping of settings, got ['name']"


def test_post_init_checks_are_one_line_at_their_section(tmp_path):
    assert _error(tmp_path, "name: a\nfps: 5\nlens:\n  focal: -1\n") == (
        ":3: invalid lens: focal must be positive, got -1.0")


def test_missing_key_and_a_misspelt_one(tmp_path):
    assert _error(tmp_path, "fps: 5\n") == f":1: missing key 'name' in {tmp_path / 'camera.yaml'}"
    # a misspelt required key is unknown and missing: the unknown one (its line, the valid keys) is reported
    assert _error(tmp_path, "fps: 5\nnmae: a\n").startswith(":2: unknown key 'nmae'")


def test_the_first_problem_in_the_file_is_reported(tmp_path):
    assert _error(tmp_path, "name: a\nzzz: 1\nfps: x\n") == (
        ":2: unknown key 'zzz' in " + str(tmp_path / "camera.yaml")
        + ". Valid keys: colour, fps, lens, mode, name, presets, spare, tags")
    assert _error(tmp_path, "lens: {focal: x}\nfps: y\n") == ":1: lens.focal must be a number, got 'x'"


def test_without_lines_the_message_names_where():
    with pytest.raises(ConfigError, match=r"^unknown key 'zoom' in lens\. Valid keys: focal, size$"):
        from_dict(Camera, {"name": "a", "lens": {"zoom": 2}}, where="camera")
    with pytest.raises(ConfigError, match=r"^unknown key 'x' in camera\. Valid keys: colour, "):
        from_dict(Camera, {"name": "a", "x": 1}, where="camera")
    with pytest.raises(ConfigError, match=r"^fps must be an integer, got 'many'$"):
        from_dict(Camera, {"name": "a", "fps": "many"})


def test_values_json_cannot_hold_are_taken_as_their_text(tmp_path):
    assert _load(tmp_path, "name: 2024-01-02\n").name == "2024-01-02"
