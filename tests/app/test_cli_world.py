"""``launcher.py world``: writes mesh, sidecar and map; prints a summary; bad input is one line and exit 2."""
from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh
from PIL import Image

import launcher
from app.cli.world import world_summary


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = launcher.main(["world", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_world_writes_mesh_semantics_and_map(tmp_path, capsys):
    code, out, err = run(capsys, "rooms:n=2,seed=0", "--out", str(tmp_path))
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["rooms-0.glb", "rooms-0.map.png", "rooms-0.semantic.json"]
    with Image.open(tmp_path / "rooms-0.map.png") as im:
        px = np.asarray(im.convert("RGB")).reshape(-1, 3)
        assert im.size[0] > 400 and len(np.unique(px, axis=0)) > 50
    for needle in ("rooms-0 (rooms)", "rooms      2:", "objects    4", "navigable", "m²", "rooms-0.glb"):
        assert needle in out
    assert err == ""


def test_world_json_summary(tmp_path, capsys):
    code, out, _ = run(capsys, "rooms:n=3,seed=1", "--out", str(tmp_path), "--json")
    assert code == 0
    s = json.loads(out)
    assert s["name"] == "rooms-1" and s["kind"] == "rooms"
    assert s["rooms"]["count"] == 3 and sum(s["rooms"]["types"].values()) == 3
    assert s["objects"]["count"] == 4 and s["objects"]["top_categories"][0][1] == 1
    assert [f["index"] for f in s["floors"]] == [0]
    assert s["triangles"] > 100
    assert 30.0 < s["navigable_area_m2"] < 48.0  # three 4 x 4 m rooms less walls, furniture and margins
    assert s["generation_s"] >= 0.0
    assert set(s["files"]) == {"mesh", "semantics", "map"}
    for path in s["files"].values():
        assert (tmp_path / path.split("/")[-1]).exists()


def test_world_reloads_its_own_export(tmp_path, capsys):
    first = tmp_path / "a"
    assert run(capsys, "rooms:n=2,seed=0", "--out", str(first), "--json")[0] == 0
    code, out, err = run(capsys, str(first / "rooms-0.glb"), "--out", str(tmp_path / "b"), "--json")
    assert code == 0, err
    s = json.loads(out)
    assert s["name"] == "rooms-0" and s["objects"]["count"] == 4 and s["rooms"]["count"] == 2


def test_world_loads_an_external_mesh(tmp_path, capsys):
    room = trimesh.util.concatenate([
        trimesh.creation.box(bounds=np.array([[0, 0, -0.1], [5, 4, 0]])),
        trimesh.creation.box(bounds=np.array([[0, -0.1, 0], [5, 0, 2.4]])),
        trimesh.creation.box(bounds=np.array([[0, 4, 0], [5, 4.1, 2.4]])),
        trimesh.creation.box(bounds=np.array([[2, 1.5, 0], [3, 2.5, 0.7]])),
    ])
    room.export(str(tmp_path / "room.ply"))
    code, out, err = run(capsys, str(tmp_path / "room.ply"), "--out", str(tmp_path / "out"), "--json")
    assert code == 0, err
    s = json.loads(out)
    assert s["kind"] == "mesh" and s["navigable_area_m2"] > 10.0


def test_summary_of_a_scene_counts_rooms_and_objects(rooms_scene):
    s = world_summary(rooms_scene, navigable_area=12.345, generation_s=0.5)
    assert s["navigable_area_m2"] == 12.35
    assert s["objects"]["count"] == len(rooms_scene.info.objects)
    assert json.loads(json.dumps(s)) == s


def _empty_ply(p):
    p.write_bytes(trimesh.Trimesh(np.zeros((3, 3)), np.zeros((0, 3), int)).export(file_type="ply"))


def _huge_ply(p):
    trimesh.creation.box(extents=(50_000.0, 10.0, 1.0)).export(str(p))


@pytest.mark.parametrize("spec, make, needle", [
    ("castle:seed=1", None, "unknown world type 'castle'"),
    ("house:seed", None, "malformed scene spec"),
    ("{tmp}/missing.glb", None, "file not found"),
    ("{tmp}/zero.glb", lambda p: p.write_bytes(b""), "the file is empty"),
    ("{tmp}/empty.ply", _empty_ply, "no triangles"),
    ("{tmp}/huge.ply", _huge_ply, "absurd size"),
    ("{tmp}/broken.glb", lambda p: p.write_bytes(b"glTF\x02\x00\x00\x00garbage"), "cannot read mesh"),
    ("{tmp}/notes.txt", None, "unsupported scene file"),
])
def test_bad_specs_exit_2_with_one_line(tmp_path, capsys, spec, make, needle):
    spec = spec.format(tmp=tmp_path)
    if make is not None:
        make(tmp_path / spec.rsplit("/", 1)[-1])
    code, out, err = run(capsys, spec, "--out", str(tmp_path / "out"))
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert "Traceback" not in err


def test_unwritable_out_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "rooms:n=1", "--out", str(blocker / "sub"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "not a writable folder" in err
