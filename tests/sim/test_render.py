"""The built-in raycast renderer: depth, instance ids, shading, sky, determinism."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sim import geometry
from sim.raycast import Renderer, RenderStyle
from sim.scene import Scene, SceneBuilder, SurfaceKind
from sim.types import CameraSpec, FloorInfo, ObjectInfo, Pose, SceneInfo

WALL_X = 5.0  # centre line of the east wall; its inner face is at x = 4.95
RED = (200, 30, 30)
BLUE = (30, 40, 200)
WHITE = (220, 220, 220)


def _box_object(b: SceneBuilder, oid: int, cat: str, lo, hi, rgb, colour: str, material: str = "plain") -> ObjectInfo:
    b.add(geometry.box(lo, hi), colour=rgb, material=material, kind=SurfaceKind.OBJECT, instance=oid)
    centre = tuple((a + c) / 2.0 for a, c in zip(lo, hi, strict=True))
    return ObjectInfo(oid, cat, colour, material, 0, 0, centre, tuple(lo), tuple(hi))


def _scene(*, ceiling: bool = True) -> Scene:
    """A 10 x 8 m room: east wall at x = 5, a red box, a blue box and a white box."""
    b = SceneBuilder()
    b.add_floor(-5.0, -4.0, WALL_X, 4.0, 0.0, colour=(150, 140, 130), material="wood")
    if ceiling:
        b.add_ceiling(-5.0, -4.0, WALL_X, 4.0, 2.7)
    b.add_wall((WALL_X, -4.0), (WALL_X, 4.0), z0=0.0, height=2.7)
    b.add_wall((-5.0, 4.0), (-5.0, -4.0), z0=0.0, height=2.7)
    objects = [
        _box_object(b, 1, "cabinet", (2.0, 1.0, 0.0), (2.6, 1.6, 1.2), RED, "red", "wood"),
        _box_object(b, 2, "fridge", (2.0, -1.6, 0.0), (2.6, -1.0, 1.2), BLUE, "blue", "metal"),
        _box_object(b, 3, "crate", (-3.0, -0.5, 0.0), (-2.0, 0.5, 1.0), WHITE, "white"),
    ]
    mesh = b.build()
    lo, hi = mesh.bounds()
    info = SceneInfo(name="render-test", kind="test", floors=(FloorInfo(0, 0.0, 2.7),), objects=tuple(objects),
                     bounds_min=tuple(float(v) for v in lo), bounds_max=tuple(float(v) for v in hi))
    return Scene(info, mesh, Pose(0.0, 0.0, 0.0, 0.0))


@pytest.fixture(scope="module")
def scene() -> Scene:
    return _scene()


@pytest.fixture(scope="module")
def camera() -> CameraSpec:
    return CameraSpec(width=160, height=120, hfov_deg=90.0, sensor_height=1.25, max_depth=20.0)


@pytest.fixture(scope="module")
def renderer(scene, camera) -> Renderer:
    return Renderer(scene, camera, threads=1)


def test_frame_shapes_and_types(renderer, camera):
    f = renderer.render(Pose(0.0, 0.0, 0.0, 0.0))
    assert f.rgb.shape == (camera.height, camera.width, 3) and f.rgb.dtype == np.uint8
    assert f.depth.shape == (camera.height, camera.width) and f.depth.dtype == np.float32
    assert f.instance.shape == (camera.height, camera.width) and f.instance.dtype == np.int32


def test_wall_depth_is_z_depth_within_1cm(renderer, camera):
    # facing the east wall straight on from x = 1.95: the face at x = 4.95 is 3 m ahead
    pose = Pose(1.95, 0.0, 0.0, 0.0)
    f = renderer.render(pose)
    row = camera.height // 2 - 10  # above the boxes' tops, below the ceiling
    wall = f.instance[row] == 0
    d = f.depth[row][wall]
    assert len(d) > camera.width // 2
    # z-depth of a plane facing the camera is constant along the row (ray length would not be)
    assert np.all(np.abs(d - 3.0) < 0.01), (d.min(), d.max())
    # the centre pixel as well, and the depth is the forward distance, not the ray length
    assert abs(float(f.depth[camera.height // 2, camera.width // 2]) - 3.0) < 0.01


def test_depth_at_angle_is_still_z_depth(renderer, camera):
    # yawed 20 degrees: every wall pixel's back-projection lands on the plane x = 4.95
    pose = Pose(1.0, 0.3, 0.0, math.radians(20.0))
    f = renderer.render(pose)
    mask = (f.instance == 0) & (f.depth > 0)
    pts = camera.backproject(f.depth, pose, mask)
    on_wall = pts[np.abs(pts[:, 0] - 4.95) < 0.01]
    # the wall covers much of the view; floor/ceiling pixels do not lie on it
    assert len(on_wall) > 0.2 * mask.sum()
    floor_pts = pts[np.abs(pts[:, 2]) < 0.01]
    assert len(floor_pts) + len(on_wall) + np.sum(np.abs(pts[:, 2] - 2.7) < 0.01) >= 0.97 * len(pts)


def test_instance_ids_match_object_table(renderer, scene, camera):
    table = scene.info.object_table()
    pose = Pose(0.0, 0.0, 0.0, 0.0)
    f = renderer.render(pose)
    ids = set(np.unique(f.instance).tolist()) - {0}
    assert ids == {1, 2}  # both boxes ahead are visible; the crate behind is not
    assert ids <= set(table)
    for oid in ids:
        o = table[oid]
        pts = camera.backproject(f.depth, pose, f.instance == oid)
        assert len(pts) > 50
        lo = np.asarray(o.bbox_min) - 0.02
        hi = np.asarray(o.bbox_max) + 0.02
        assert np.all((pts >= lo) & (pts <= hi)), oid


def test_objects_project_where_rendered(renderer, scene, camera):
    pose = Pose(0.0, 0.0, 0.0, 0.0)
    f = renderer.render(pose)
    for oid in (1, 2):
        o = scene.info.object_table()[oid]
        uv, z = camera.project(np.array([[o.bbox_min[0], (o.bbox_min[1] + o.bbox_max[1]) / 2, 0.6]]), pose)
        u, v = int(round(uv[0, 0])), int(round(uv[0, 1]))
        assert z[0] > 0 and f.instance[v, u] == oid
        assert abs(float(f.depth[v, u]) - o.bbox_min[0]) < 0.01


def test_colours_differ_between_objects(renderer):
    f = renderer.render(Pose(0.0, 0.0, 0.0, 0.0))
    red = f.rgb[f.instance == 1].astype(float).mean(axis=0)
    blue = f.rgb[f.instance == 2].astype(float).mean(axis=0)
    assert red[0] > 2 * red[2] and blue[2] > 2 * blue[0]
    assert np.linalg.norm(red - blue) > 100


def test_lit_and_unlit_faces_differ(renderer):
    # the crate's +y face points towards the light, its -y face away; same distance, same head-light
    north = renderer.render(Pose(-2.5, 2.5, 0.0, -math.pi / 2))
    south = renderer.render(Pose(-2.5, -2.5, 0.0, math.pi / 2))
    lit = north.rgb[north.instance == 3].astype(float).mean()
    unlit = south.rgb[south.instance == 3].astype(float).mean()
    assert (north.instance == 3).sum() > 100 and (south.instance == 3).sum() > 100
    assert lit - unlit > 25


def test_materials_are_textured(renderer, camera):
    # the wooden floor shows plank seams and grain; an untextured plain wall is smooth
    f = renderer.render(Pose(0.0, 0.0, 0.0, 0.0))
    floor_rows = f.rgb[camera.height - 20:, :, 0].astype(float)
    wall_row = f.rgb[camera.height // 2 - 10, 60:100, 0].astype(float)
    assert np.std(np.diff(floor_rows, axis=1)) > 2.0
    assert np.std(np.diff(wall_row)) < 1.0
    flat = Renderer(renderer.scene, camera, style=RenderStyle(textures=False)).render(Pose(0.0, 0.0, 0.0, 0.0))
    assert not np.array_equal(flat.rgb, f.rgb)


def test_sky_where_nothing_is_hit(camera):
    r = Renderer(_scene(ceiling=False), camera)
    f = r.render(Pose(0.0, 0.0, 0.0, math.pi / 2))  # facing the open north side
    top = f.instance[:10], f.depth[:10], f.rgb[:10]
    assert np.all(top[0] == 0) and np.all(top[1] == 0.0)
    sky = top[2].reshape(-1, 3).astype(float)
    assert sky[:, 2].mean() > sky[:, 0].mean() + 20  # bluish


def test_beyond_max_depth_is_zero(scene):
    cam = CameraSpec(width=64, height=48, max_depth=2.0)
    f = Renderer(scene, cam).render(Pose(1.95, 0.0, 0.0, 0.0))  # wall at 3 m
    centre = f.depth[20:28, 28:36]
    assert np.all(centre == 0.0)
    assert np.all(f.depth <= 2.0)
    assert np.all(f.instance[f.depth == 0.0] == 0)


def test_deterministic_and_thread_independent(scene, camera, renderer):
    pose = Pose(-1.0, 0.5, 0.0, 0.4)
    a = renderer.render(pose)
    b = renderer.render(pose)
    c = Renderer(scene, camera, threads=2).render(pose)
    for x, y in ((a, b), (a, c)):
        assert np.array_equal(x.rgb, y.rgb) and np.array_equal(x.depth, y.depth)
        assert np.array_equal(x.instance, y.instance)


def test_frames_are_fresh_arrays(renderer):
    a = renderer.render(Pose(0.0, 0.0, 0.0, 0.0))
    keep = a.depth.copy()
    renderer.render(Pose(-2.0, 1.0, 0.0, 2.0))
    assert np.array_equal(a.depth, keep)


def test_generated_world_renders_its_objects(rooms_scene):
    cam = CameraSpec(width=96, height=72)
    r = Renderer(rooms_scene, cam)
    table = rooms_scene.info.object_table()
    seen: set[int] = set()
    start = rooms_scene.start
    for k in range(8):
        pose = start.moved(yaw=start.yaw + k * math.pi / 4)
        f = r.render(pose)
        ids = set(np.unique(f.instance).tolist()) - {0}
        assert ids <= set(table)
        for oid in ids:
            pts = cam.backproject(f.depth, pose, f.instance == oid)
            o = table[oid]
            assert np.all((pts >= np.asarray(o.bbox_min) - 0.03) & (pts <= np.asarray(o.bbox_max) + 0.03))
        seen |= ids
    assert seen  # a full turn sees at least one object
