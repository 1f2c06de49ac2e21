"""Top-down maps: the plan raster, overlays, and the labelled PNG."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sim import geometry
from sim.errors import SimError
from sim.navmap import NavMap
from sim.scene import Portal, Scene, SceneBuilder
from sim.topdown import (
    BACKGROUND,
    WALL_COLOUR,
    MapFrame,
    Mask,
    Points,
    Polyline,
    draw_overlays,
    navigable_overlay,
    render_topdown,
    save_topdown_png,
    trajectory_overlays,
)
from sim.types import FloorInfo, ObjectInfo, Pose, RoomInfo, SceneInfo


def px(img: np.ndarray, frame: MapFrame, x: float, y: float) -> tuple[int, ...]:
    c, r = frame.to_pixel(x, y)
    return tuple(int(v) for v in img[int(r), int(c)])


@pytest.fixture(scope="module")
def rooms_map(rooms_scene):
    frame = MapFrame.for_scene(rooms_scene, 0.05)
    return rooms_scene, frame, render_topdown(rooms_scene)


def test_frame_maps_world_to_pixels_north_up(rooms_scene):
    fr = MapFrame.for_scene(rooms_scene, 0.1, margin=0.5)
    lo, hi = rooms_scene.mesh.bounds()
    span = float(hi[0] - lo[0]) + 1.0
    assert (fr.width - 1) * 0.1 < span <= fr.width * 0.1
    c, r = fr.to_pixel(fr.x0, fr.y1)
    assert (c, r) == (0.0, 0.0)  # top-left corner is the north-west corner
    x, y = fr.to_world(0, fr.height - 1)
    assert x == pytest.approx(fr.x0 + 0.05) and y == pytest.approx(fr.y0 + 0.05)
    xs, ys = fr.centres()
    assert xs.shape == (fr.height, fr.width) and ys[0, 0] > ys[-1, 0]
    big = MapFrame.for_scene(rooms_scene, 0.001, max_pixels=10_000)
    assert big.width * big.height <= 10_000 and big.resolution > 0.001


def test_plan_view_shows_floor_walls_objects_and_doorways(rooms_map):
    scene, frame, img = rooms_map
    assert img.shape == (frame.height, frame.width, 3) and img.dtype == np.uint8
    assert px(img, frame, -0.4, -0.4) == BACKGROUND
    floor = px(img, frame, 1.0, 1.0)
    assert floor != BACKGROUND and floor != WALL_COLOUR
    # the partition wall between the two rooms is a wall, except at its door
    door_y = next(y for y in np.arange(0.5, 3.5, 0.05) if px(img, frame, 4.0, y) != WALL_COLOUR)
    assert px(img, frame, 4.0, 0.3) == WALL_COLOUR and px(img, frame, 4.0, 3.8) == WALL_COLOUR
    assert 0.5 < door_y < 3.5
    assert px(img, frame, 0.0, 2.0) == WALL_COLOUR  # outer wall
    # every object is seen from above in its own colour (centre pixel)
    for o in scene.info.objects:
        rgb = scene.mesh.tri_colour[scene.mesh.tri_instance == o.id][0]
        assert px(img, frame, o.position[0], o.position[1]) == tuple(int(v) for v in rgb), o.category
    # a ceiling covers the whole scene, yet the map is not one colour
    assert len(np.unique(img.reshape(-1, 3), axis=0)) >= 6


def test_overlays_are_drawn_where_they_belong(rooms_map):
    scene, frame, base = rooms_map
    line = Polyline(np.array([[1.0, 1.0], [3.0, 1.0]]), colour=(255, 0, 0), width=0.1)
    pts = Points(np.array([[6.0, 2.0]]), colour=(0, 0, 255), size=0.3, marker="x")
    head = Points(np.array([[2.0, 3.0]]), colour=(0, 255, 255), size=0.3, headings=np.array([0.0]))
    mask = np.zeros((4, 4), bool)
    mask[1, 1] = True  # cell centred at (7.5, 1.5) on a 1 m grid from (6, 0)
    blend = Mask(mask, 6.0, 0.0, 1.0, colour=(0, 255, 0), alpha=0.5)
    img = draw_overlays(base, frame, [line, pts, head, blend])
    assert px(img, frame, 2.0, 1.0) == (255, 0, 0)
    assert px(img, frame, 6.0, 2.0) == (0, 0, 255)
    assert px(img, frame, 2.25, 3.0) == (0, 255, 255)  # the heading tick points east
    before, after = np.array(px(base, frame, 7.5, 1.5)), np.array(px(img, frame, 7.5, 1.5))
    np.testing.assert_allclose(after, np.round(before * 0.5 + np.array([0, 255, 0]) * 0.5), atol=1)
    assert px(img, frame, 7.5, 2.6) == px(base, frame, 7.5, 2.6)  # outside the mask cell
    assert np.array_equal(base, rooms_map[2])  # the input is not modified


def test_render_with_navmap_trajectory_and_floor_filtering(rooms_scene):
    nm = NavMap.from_scene(rooms_scene)
    frame = MapFrame.for_scene(rooms_scene)
    plain = render_topdown(rooms_scene)
    shaded = render_topdown(rooms_scene, navmap=nm)
    nav = navigable_overlay(nm, 0)
    assert isinstance(nav, Mask) and nav.mask.any()
    changed = np.any(shaded != plain, axis=2)
    assert 0.3 < changed.mean() < 0.9
    traj = [Pose(1.0, 1.0), Pose(1.0, 3.0), Pose(3.0, 3.0)]
    drawn = render_topdown(rooms_scene, trajectory=traj)
    assert px(drawn, frame, 1.0, 2.0) == (220, 50, 40)
    other_floor = Polyline(np.array([[5.0, 1.0], [7.0, 1.0]]), colour=(255, 0, 255), floor=1)
    assert np.array_equal(render_topdown(rooms_scene, extra=[other_floor]), plain)


def test_trajectory_overlays_split_at_floor_changes():
    traj = [Pose(0, 0, 0, 0, 0), Pose(1, 0, 0, 0, 0), Pose(1, 1, 3, 0, 1), Pose(2, 1, 3, 0, 1)]
    ovs = trajectory_overlays(traj)
    lines = [o for o in ovs if isinstance(o, Polyline)]
    assert [(o.floor, len(o.points)) for o in lines] == [(0, 2), (1, 2)]
    marks = [o for o in ovs if isinstance(o, Points)]
    assert [(m.labels, m.floor) for m in marks] == [(("start",), 0), (("end",), 1)]
    arr = trajectory_overlays(np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]]))
    assert arr[0].floor is None and arr[0].points.shape == (2, 2)
    assert trajectory_overlays([]) == []


def two_storeys() -> Scene:
    b = SceneBuilder()
    for z, rgb in ((0.0, (170, 160, 150)), (3.0, (120, 120, 170))):
        b.add_floor(0, 0, 5, 4, z, colour=rgb)
        for p0, p1 in (((0, 0), (5, 0)), ((5, 0), (5, 4)), ((5, 4), (0, 4)), ((0, 4), (0, 0))):
            b.add_wall(p0, p1, z0=z, height=3.0)
    b.add_ceiling(0, 0, 5, 4, 2.95)
    b.add(geometry.box((1, 1, 0), (3, 2, 0.5)), colour=(200, 30, 30), instance=1)
    b.add(geometry.box((3.5, 3.5, 3), (3.7, 3.7, 3.4)), colour=(30, 30, 200), instance=2)
    mesh = b.build()
    info = SceneInfo("storeys", "test", (RoomInfo(0, "hall", 0, ((0, 0), (5, 0), (5, 4), (0, 4)), "hall"),
                                         RoomInfo(1, "study", 1, ((0, 0), (5, 0), (5, 4), (0, 4)), "study")),
                     (FloorInfo(0, 0.0, 3.0), FloorInfo(1, 3.0, 3.0)),
                     (ObjectInfo(1, "sofa", "red", "", 0, 0, (2, 1.5, 0.25), (1, 1, 0), (3, 2, 0.5)),
                      ObjectInfo(2, "lamp", "blue", "", 1, 1, (3.6, 3.6, 3.2), (3.5, 3.5, 3), (3.7, 3.7, 3.4))))
    return Scene(info, mesh, Pose(4.0, 1.0), (Portal(0, "stairs", 0, (4.5, 3.5), 0.0, 1, (4.5, 3.5), 0.0),))


def test_each_floor_shows_its_own_storey():
    scene = two_storeys()
    frame = MapFrame.for_scene(scene)
    f0, f1 = render_topdown(scene, 0), render_topdown(scene, 1)
    assert px(f0, frame, 2.0, 1.5) == (200, 30, 30)  # the sofa, not the floor above it
    assert px(f1, frame, 2.0, 1.5) != px(f0, frame, 2.0, 1.5)
    assert px(f1, frame, 3.6, 3.6) == (30, 30, 200)
    with pytest.raises(SimError, match="no floor 5"):
        render_topdown(scene, 5)


def _png(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_png_map_is_written_labelled_and_not_blank(tmp_path, rooms_scene):
    nm = NavMap.from_scene(rooms_scene)
    hit = Points(np.array([[5.7, 2.8]]), (200, 40, 200), 0.3, ("hit: red bed",), "x", label="retrieval hit")
    out = save_topdown_png(tmp_path / "map.png", rooms_scene, navmap=nm,
                           trajectory=[Pose(2.0, 0.8), Pose(2.0, 2.5), Pose(6.0, 2.0)], extra=[hit], dpi=100)
    assert out.exists()
    img = _png(out)
    frame = MapFrame.for_scene(rooms_scene)
    # one 9-inch panel (cropped to its content); the map is wider than tall, like the scene
    assert 0.8 * 900 < img.shape[1] <= 900
    map_h = 900 * frame.height / frame.width
    assert map_h < img.shape[0] < map_h + 200
    colours = {tuple(c) for c in img.reshape(-1, 3)[:: 7]}
    assert len(colours) > 50
    assert (np.abs(img.astype(int) - WALL_COLOUR).sum(axis=2) < 10).sum() > 1000  # walls visible


def test_png_has_one_panel_per_floor(tmp_path):
    scene = two_storeys()
    both = _png(save_topdown_png(tmp_path / "both.png", scene, dpi=60))
    one = _png(save_topdown_png(tmp_path / "one.png", scene, floor=1, dpi=60, labels=False))
    assert both.shape[1] > 1.5 * one.shape[1]
    with pytest.raises(SimError, match="no floor 3"):
        save_topdown_png(tmp_path / "bad.png", scene, floor=3)
