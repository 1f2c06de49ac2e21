"""Object image vectors as the mean of crops seen from distinct bearings."""
from __future__ import annotations

import math

import numpy as np

from memory.image_views import ViewVectors, views_of_source, views_source
from sim.types import Pose


class _ColourEncoder:
    """Image 'embedding' = the crop's mean colour, normalised (enough to check the averaging)."""

    id = "fake:colour"
    dim = 3

    def __init__(self) -> None:
        self.calls = 0

    def encode_image(self, images):
        self.calls += 1
        v = np.array([np.asarray(im, dtype=np.float32).reshape(-1, 3).mean(axis=0) for im in images])
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def _crop(rgb):
    return np.full((8, 8, 3), rgb, dtype=np.uint8)


def _pose_at(bearing_deg: float, r: float = 2.0) -> Pose:
    a = math.radians(bearing_deg)
    return Pose(r * math.cos(a), r * math.sin(a), 0.0, a + math.pi)


def test_only_new_bearings_are_queued_and_the_vector_is_their_mean():
    views, enc = ViewVectors(max_views=12, min_turn_deg=25.0), _ColourEncoder()
    centre = (0.0, 0.0, 0.5)
    assert views.offer("obj/a/1", _crop((200, 0, 0)), _pose_at(0), centre)
    assert not views.offer("obj/a/1", _crop((0, 200, 0)), _pose_at(10), centre)  # same side: skipped
    assert views.offer("obj/a/1", _crop((0, 200, 0)), _pose_at(90), centre)
    assert not views.offer("obj/a/1", None, _pose_at(180), centre)
    assert views.pending == 2 and "obj/a/1" in views
    out = views.flush(enc)
    assert enc.calls == 1 and views.pending == 0  # one batch
    vec, n = out["obj/a/1"]
    assert n == 2
    np.testing.assert_allclose(vec, np.array([1, 1, 0]) / math.sqrt(2), atol=1e-6)


def test_views_stop_at_the_cap():
    views = ViewVectors(max_views=3, min_turn_deg=10.0)
    queued = [views.offer("obj/b/1", _crop((9, 9, 9)), _pose_at(b), (0, 0, 0)) for b in range(0, 360, 40)]
    assert sum(queued) == 3


def test_a_stored_mean_keeps_its_weight():
    views, enc = ViewVectors(), _ColourEncoder()
    views.seed("obj/c/1", np.array([1.0, 0.0, 0.0], dtype=np.float32), 3)
    views.offer("obj/c/1", _crop((0, 0, 50)), _pose_at(0), (0, 0, 0))
    vec, n = views.flush(enc)["obj/c/1"]
    assert n == 4
    np.testing.assert_allclose(vec, np.array([3, 0, 1]) / math.sqrt(10), atol=1e-6)


def test_dropped_objects_lose_their_queue():
    views, enc = ViewVectors(), _ColourEncoder()
    views.offer("obj/d/1", _crop((1, 2, 3)), _pose_at(0), (0, 0, 0))
    views.drop("obj/d/1")
    assert views.flush(enc) == {} and "obj/d/1" not in views


def test_source_field_round_trip():
    assert views_of_source(views_source(7)) == 7
    assert views_of_source("3f2a9c") == 0 and views_of_source("views:x") == 0
