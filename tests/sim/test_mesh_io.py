"""World export/import: exact glb round trips, external meshes without sidecars, and every load error."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import trimesh

from sim import geometry
from sim.errors import SceneLoadError
from sim.loader import load_scene
from sim.mesh_io import SCHEMA_VERSION, SceneExportError, export_scene, find_sidecar, load_mesh_scene
from sim.navmap import NavMap
from sim.scene import Portal, Scene, SceneBuilder, SurfaceKind
from sim.types import FloorInfo, ObjectInfo, Pose, RoomInfo, SceneInfo
from sim.worlds import WORLDS


# ------------------------------------------------------------------------------------------ fixtures
def two_floor_scene() -> Scene:
    """A 6 x 4 m two-storey box with a stairwell hole, one object per floor and a stairs portal."""
    b = SceneBuilder()
    b.add_floor(0, 0, 6, 4, 0.0, colour=(170, 160, 150), material="wood")
    b.add_ceiling(0, 0, 4.5, 4, 2.95)
    b.add_floor(0, 0, 4.5, 4, 3.0, colour=(120, 120, 160), material="carpet")  # hole over x > 4.5
    for fz in (0.0, 3.0):
        b.add_wall((0, 0), (6, 0), z0=fz, height=3.0)
        b.add_wall((6, 0), (6, 4), z0=fz, height=3.0)
        b.add_wall((6, 4), (0, 4), z0=fz, height=3.0)
        b.add_wall((0, 4), (0, 0), z0=fz, height=3.0)
    b.add(geometry.box((1, 1, 0), (2.2, 1.8, 0.75)), colour=(120, 80, 45), material="wood", instance=1)
    b.add(geometry.box((1, 2, 3), (2.6, 4 - 0.1, 3.5)), colour=(170, 40, 40), material="fabric", instance=2)
    b.add(geometry.box((4.6, 0.2, 0), (5.8, 1.0, 0.1)), colour=(90, 90, 90), kind=SurfaceKind.STAIRS)
    mesh = b.build()
    lo, hi = mesh.bounds()
    objects = (ObjectInfo(1, "table", "brown", "wood", 0, 0, (1.6, 1.4, 0.375), (1, 1, 0), (2.2, 1.8, 0.75)),
               ObjectInfo(2, "bed", "red", "fabric", 1, 1, (1.8, 2.95, 3.25), (1, 2, 3), (2.6, 3.9, 3.5)))
    rooms = (RoomInfo(0, "living room", 0, ((0, 0), (6, 0), (6, 4), (0, 4)), "living room"),
             RoomInfo(1, "bedroom", 1, ((0, 0), (4.5, 0), (4.5, 4), (0, 4)), "bedroom"))
    info = SceneInfo("two-floors", "test", rooms, (FloorInfo(0, 0.0, 3.0), FloorInfo(1, 3.0, 3.0)), objects,
                     tuple(map(float, lo)), tuple(map(float, hi)))
    portal = Portal(0, "stairs", 0, (5.2, 2.0), math.pi / 2, 1, (3.8, 2.0), math.pi, 0.35)
    return Scene(info, mesh, Pose(3.0, 1.0, 0.0, 0.5, 0), (portal,), spec="test:two-floors", meta={"seed": 7})


def room_parts() -> list[tuple[str, trimesh.Trimesh]]:
    """An open-topped 6 x 4 x 2.5 m room (z-up) with a red table, as named trimesh parts."""
    def box(lo, hi, rgb):
        m = trimesh.creation.box(bounds=np.array([lo, hi], dtype=float))
        m.visual.face_colors = np.tile([*rgb, 255], (len(m.faces), 1)).astype(np.uint8)
        return m

    walls = trimesh.util.concatenate([box((-0.1, -0.1, 0), (6.1, 0, 2.5), (220, 220, 215)),
                                      box((-0.1, 4, 0), (6.1, 4.1, 2.5), (220, 220, 215)),
                                      box((-0.1, 0, 0), (0, 4, 2.5), (220, 220, 215)),
                                      box((6, 0, 0), (6.1, 4, 2.5), (220, 220, 215))])
    return [("Floor", box((-0.1, -0.1, -0.1), (6.1, 4.1, 0), (150, 120, 90))), ("Walls", walls),
            ("Table_01", box((1.4, 1.6, 0), (2.6, 2.4, 0.75), (200, 30, 30))),
            ("chair", box((3.0, 1.8, 0), (3.45, 2.25, 0.9), (30, 60, 200))),
            ("mesh_0", box((5.5, 3.5, 0), (5.9, 3.9, 0.3), (60, 60, 60)))]


def to_yup(m: trimesh.Trimesh) -> trimesh.Trimesh:
    m = m.copy()
    v = np.asarray(m.vertices)
    m.vertices = np.column_stack([v[:, 0], v[:, 2], -v[:, 1]])
    return m


def write_single(path, *, yup: bool, parts=None) -> None:
    mesh = trimesh.util.concatenate([m for _, m in (parts or room_parts())])
    (to_yup(mesh) if yup else mesh).export(str(path))


def assert_navigable(scene: Scene) -> NavMap:
    nm = NavMap.from_scene(scene)
    assert nm.is_free(scene.start.x, scene.start.y, scene.start.floor)
    assert nm.navigable_area(scene.start) > 10.0
    return nm


# ------------------------------------------------------------------------------------------ round trips
def assert_same_scene(a: Scene, b: Scene) -> None:
    assert b.info == a.info
    assert b.info.object_table() == a.info.object_table()
    assert b.portals == a.portals
    assert b.start == a.start
    for name in ("tri_instance", "tri_kind", "tri_material", "tri_colour"):
        np.testing.assert_array_equal(getattr(b.mesh, name), getattr(a.mesh, name), err_msg=name)
    np.testing.assert_allclose(b.mesh.vertices[b.mesh.triangles], a.mesh.vertices[a.mesh.triangles], atol=1e-6)


ROUND_TRIP_SPECS = ["rooms:n=3,seed=1"] + [f"{w}:seed=1" for w in ("house", "multifloor") if w in WORLDS.names()]


@pytest.mark.parametrize("spec", ROUND_TRIP_SPECS)
def test_generated_world_round_trips_through_glb(tmp_path, spec):
    scene = load_scene(spec)
    files = export_scene(scene, tmp_path)
    assert files["mesh"].suffix == ".glb" and files["mesh"].stat().st_size > 0
    assert files["semantics"].name.endswith(".semantic.json")
    back = load_mesh_scene(files["mesh"])
    assert_same_scene(scene, back)
    assert back.meta["exported_from"] == scene.spec


def test_two_floor_scene_round_trip_keeps_floors_portals_meta(tmp_path):
    scene = two_floor_scene()
    files = export_scene(scene, tmp_path, stem="tower")
    assert files["mesh"].name == "tower.glb"
    back = load_mesh_scene(files["mesh"])
    assert_same_scene(scene, back)
    assert [f.elevation for f in back.info.floors] == [0.0, 3.0]
    assert back.portals[0].b == (3.8, 2.0)
    assert back.meta["seed"] == 7


def test_glb_nodes_are_named_by_object_and_kind_and_y_is_up(tmp_path, rooms_scene):
    files = export_scene(rooms_scene, tmp_path)
    loaded = trimesh.load(str(files["mesh"]), process=False)
    names = set(loaded.graph.nodes_geometry)
    want = {f"obj_{o.id}_{o.category}" for o in rooms_scene.info.objects} | {"floor", "wall", "ceiling"}
    assert names == want
    # glTF is y-up: the ceiling (z = 2.7 here) is at y = 2.7 there
    ceiling = loaded.geometry["ceiling"]
    np.testing.assert_allclose(ceiling.vertices[:, 1], 2.7, atol=1e-5)
    side = json.loads(files["semantics"].read_text())
    assert side["schema_version"] == SCHEMA_VERSION
    assert side["object_ids"] == sorted(o.id for o in rooms_scene.info.objects)
    assert side["scene"] == rooms_scene.info.to_dict()


def test_sidecar_may_be_named_after_the_whole_file_name(tmp_path, rooms_scene):
    files = export_scene(rooms_scene, tmp_path, stem="w")
    alt = tmp_path / "w.glb.semantic.json"
    files["semantics"].rename(alt)
    assert find_sidecar(files["mesh"]) == alt
    assert_same_scene(rooms_scene, load_mesh_scene(files["mesh"]))


def test_export_to_unwritable_folder_raises(tmp_path, rooms_scene):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SceneExportError, match="cannot write"):
        export_scene(rooms_scene, blocker / "sub")


# ------------------------------------------------------------------------------------------ no sidecar
def test_exported_glb_without_sidecar_is_still_a_usable_scene(tmp_path, rooms_scene):
    files = export_scene(rooms_scene, tmp_path)
    files["semantics"].unlink()
    scene = load_mesh_scene(files["mesh"])
    got = {(o.id, o.category) for o in scene.info.objects}
    assert got == {(o.id, o.category) for o in rooms_scene.info.objects}
    for o in scene.info.objects:
        ref = rooms_scene.info.object_table()[o.id]
        np.testing.assert_allclose(o.bbox_min, ref.bbox_min, atol=1e-4)
        np.testing.assert_allclose(o.bbox_max, ref.bbox_max, atol=1e-4)
        assert o.colour == ref.colour
    assert sorted(np.unique(scene.mesh.tri_instance)) == [0] + sorted(o.id for o in rooms_scene.info.objects)
    assert len(scene.info.floors) == 1
    assert scene.info.floors[0].elevation == pytest.approx(0.0, abs=1e-6)
    assert scene.info.floors[0].height == pytest.approx(2.7, abs=0.01)  # the ceiling, not a door lintel
    # per-triangle kinds survive through the structure node names
    for kind in (SurfaceKind.FLOOR, SurfaceKind.WALL, SurfaceKind.CEILING):
        assert (scene.mesh.tri_kind == kind).sum() == (rooms_scene.mesh.tri_kind == kind).sum()
    assert_navigable(scene)


def test_ply_room_without_sidecar_is_z_up_navigable_and_coloured(tmp_path):
    path = tmp_path / "scan.ply"
    write_single(path, yup=False)
    scene = load_mesh_scene(path)
    assert scene.meta["up_axis"] == "z"
    assert (scene.mesh.tri_instance == 0).all() and scene.info.objects == ()
    lo, hi = np.asarray(scene.info.bounds_min), np.asarray(scene.info.bounds_max)
    np.testing.assert_allclose(hi - lo, [6.2, 4.2, 2.6], atol=1e-5)
    assert scene.info.floors[0].elevation == pytest.approx(0.0, abs=1e-6)
    floor = scene.mesh.tri_kind == SurfaceKind.FLOOR
    assert floor.any()
    np.testing.assert_allclose(scene.mesh.vertices[scene.mesh.triangles[floor]][:, :, 2], 0.0, atol=1e-6)
    assert (scene.mesh.tri_kind == SurfaceKind.WALL).sum() >= 16
    colours = {tuple(c) for c in scene.mesh.tri_colour}
    assert (200, 30, 30) in colours and (150, 120, 90) in colours
    nm = assert_navigable(scene)
    assert not nm.is_free(2.0, 2.0)  # the table is an obstacle
    assert 0.0 < scene.start.x < 6.0 and 0.0 < scene.start.y < 4.0


@pytest.mark.parametrize("suffix", [".obj", ".glb"])
def test_y_up_files_are_turned_z_up(tmp_path, suffix):
    path = tmp_path / f"room{suffix}"
    write_single(path, yup=True)
    scene = load_mesh_scene(path)
    assert scene.meta["up_axis"] == "y"
    lo, hi = np.asarray(scene.info.bounds_min), np.asarray(scene.info.bounds_max)
    np.testing.assert_allclose(lo, [-0.1, -0.1, -0.1], atol=1e-5)
    np.testing.assert_allclose(hi, [6.1, 4.1, 2.5], atol=1e-5)
    floor = scene.mesh.tri_kind == SurfaceKind.FLOOR
    z = scene.mesh.vertices[scene.mesh.triangles[floor]][:, :, 2]
    assert floor.any() and np.allclose(z, 0.0, atol=1e-6)  # horizontal, at the bottom of the walls
    assert_navigable(scene)


def test_up_axis_override(tmp_path):
    path = tmp_path / "yup.ply"  # .ply defaults to z-up; this one was written y-up
    write_single(path, yup=True)
    scene = load_mesh_scene(path, up="y")
    np.testing.assert_allclose(scene.info.bounds_max, [6.1, 4.1, 2.5], atol=1e-5)
    with pytest.raises(SceneLoadError, match="up axis"):
        load_mesh_scene(path, up="x")


def test_glb_node_names_become_objects(tmp_path):
    ts = trimesh.Scene()
    for name, m in room_parts():
        ts.add_geometry(to_yup(m), node_name=name, geom_name=name)
    path = tmp_path / "named.glb"
    path.write_bytes(ts.export(file_type="glb"))
    scene = load_mesh_scene(path)
    cats = {o.category: o for o in scene.info.objects}
    assert set(cats) == {"table", "chair"}  # "mesh_0" is a generic name: structure
    table = cats["table"]
    np.testing.assert_allclose(table.bbox_min, (1.4, 1.6, 0.0), atol=1e-5)
    np.testing.assert_allclose(table.position, (2.0, 2.0, 0.375), atol=1e-5)
    assert table.colour == "red" and cats["chair"].colour == "blue"
    assert (scene.mesh.tri_kind[scene.mesh.tri_instance == table.id] == SurfaceKind.OBJECT).all()
    assert len({o.id for o in scene.info.objects}) == 2
    assert_navigable(scene)


def test_partial_sidecar_labels_objects_of_a_single_mesh(tmp_path):
    path = tmp_path / "scan.ply"
    write_single(path, yup=False)
    labels = {"schema_version": 1, "scene": {"name": "my scan", "objects": [
        {"id": 5, "category": "table", "colour": "red", "bbox_min": [1.4, 1.6, 0], "bbox_max": [2.6, 2.4, 0.75],
         "position": [2, 2, 0.375]}]}}
    (tmp_path / "scan.semantic.json").write_text(json.dumps(labels))
    scene = load_mesh_scene(path)
    assert scene.name == "my scan"
    assert [o.id for o in scene.info.objects] == [5]
    tris = scene.mesh.vertices[scene.mesh.triangles[scene.mesh.tri_instance == 5]]
    assert len(tris) == 12  # exactly the table's box
    assert tris[:, :, 2].max() == pytest.approx(0.75)


def test_partial_sidecar_labels_replace_guesses_from_plain_node_names(tmp_path):
    ts = trimesh.Scene()
    for name, m in room_parts():
        ts.add_geometry(to_yup(m), node_name=name, geom_name=name)
    path = tmp_path / "named.glb"
    path.write_bytes(ts.export(file_type="glb"))
    desk = {"id": 7, "category": "desk", "bbox_min": [1.4, 1.6, 0], "bbox_max": [2.6, 2.4, 0.75]}
    (tmp_path / "named.semantic.json").write_text(json.dumps({"scene": {"objects": [desk]}}))
    scene = load_mesh_scene(path)
    assert [(o.id, o.category) for o in scene.info.objects] == [(7, "desk")]
    assert set(np.unique(scene.mesh.tri_instance)) == {0, 7}  # the chair node is structure now


# ------------------------------------------------------------------------------------------ errors
def _corrupt(p):
    p.write_bytes(b"glTF" + bytes(range(200)))


def _empty_ply(p):
    p.write_bytes(trimesh.Trimesh(np.zeros((3, 3)), np.zeros((0, 3), int)).export(file_type="ply"))


def _vertices_only_obj(p):
    p.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")


def _huge(p):
    write_single(p, yup=False, parts=[("f", trimesh.creation.box(extents=(20_000.0, 10.0, 1.0)))])


def _tiny(p):
    write_single(p, yup=False, parts=[("f", trimesh.creation.box(extents=(0.1, 0.1, 0.1)))])


def _nan(p):
    p.write_text("v 0 0 0\nv nan 0 0\nv 0 1 0\nv 5 5 5\nf 1 2 3\nf 1 3 4\n")


def _zero_bytes(p):
    p.write_bytes(b"")


@pytest.mark.parametrize("name, make, needle", [
    ("missing.glb", None, "file not found"),
    ("model.stl", lambda p: p.write_text("solid x"), "unsupported mesh type"),
    ("broken.glb", _corrupt, "cannot read mesh"),
    ("zero.ply", _zero_bytes, "the file is empty"),
    ("empty.ply", _empty_ply, "no triangles"),
    ("points.obj", _vertices_only_obj, "no triangles"),
    ("huge.ply", _huge, "absurd size"),
    ("tiny.ply", _tiny, "absurd size"),
    ("nan.obj", _nan, "NaN"),
])
def test_bad_mesh_files_raise_one_line_errors(tmp_path, name, make, needle):
    path = tmp_path / name
    if make is not None:
        make(path)
    with pytest.raises(SceneLoadError) as e:
        load_mesh_scene(path)
    msg = str(e.value)
    assert needle in msg and name in msg and "\n" not in msg


@pytest.fixture
def exported(tmp_path, rooms_scene):
    return export_scene(rooms_scene, tmp_path)


def _edit_sidecar(files, fn) -> None:
    d = json.loads(files["semantics"].read_text())
    fn(d)
    files["semantics"].write_text(json.dumps(d))


def test_sidecar_with_invalid_json(exported):
    exported["semantics"].write_text('{"schema_version": 1, "scene": ')
    with pytest.raises(SceneLoadError, match="invalid JSON in sidecar") as e:
        load_mesh_scene(exported["mesh"])
    assert "\n" not in str(e.value)


def test_sidecar_from_a_newer_version(exported):
    _edit_sidecar(exported, lambda d: d.update(schema_version=SCHEMA_VERSION + 1))
    with pytest.raises(SceneLoadError, match="newer than this program supports"):
        load_mesh_scene(exported["mesh"])


def test_sidecar_whose_object_ids_do_not_match_the_mesh(exported):
    _edit_sidecar(exported, lambda d: d.update(object_ids=d["object_ids"][:-1] + [99]))
    with pytest.raises(SceneLoadError, match=r"object ids do not match the mesh \(only in mesh: \[\d+\], "
                                             r"only in sidecar: \[99\]\)") as e:
        load_mesh_scene(exported["mesh"])
    assert "\n" not in str(e.value)


def test_partial_sidecar_whose_objects_do_not_match_node_names(tmp_path, exported):
    exported["semantics"].write_text(json.dumps({"scene": {"objects": [{"id": 42, "category": "lamp"}]}}))
    with pytest.raises(SceneLoadError, match="object ids do not match"):
        load_mesh_scene(exported["mesh"])


def test_sidecar_with_wrong_structure(exported):
    _edit_sidecar(exported, lambda d: d.update(nodes={"not": "a list"}))
    with pytest.raises(SceneLoadError, match="'nodes' must be a list"):
        load_mesh_scene(exported["mesh"])


def test_sidecar_whose_nodes_do_not_fit_the_mesh(exported):
    def shrink(d):
        d["nodes"][0]["triangles"] = [[0, 1]]

    _edit_sidecar(exported, shrink)
    with pytest.raises(SceneLoadError, match="sidecar does not fit the mesh .*has 12 triangles, the sidecar lists 1"):
        load_mesh_scene(exported["mesh"])
