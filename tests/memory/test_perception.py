"""Perception backends: segment filters and geometry, captions, oracle, clip and vlm."""
from __future__ import annotations

import json
import math
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from memory.encoders import EncoderConfig
from memory.errors import EmbodiedMemoryError
from memory.llm import ChatClient, LLMConfig
from memory.perception import (
    PERCEIVERS,
    Perceiver,
    PerceptionConfig,
    PerceptionConfigError,
    make_perceiver,
)
from memory.perception.caption import compose_caption, guess_room
from memory.perception.clip import ClipPerceiver
from memory.perception.oracle import OraclePerceiver
from memory.perception.segments import backproject_pixels, dominant_colour, extract_segments, min_pixels_for
from memory.perception.vlm import UNLABELLED, VLMPerceiver, VLMUnavailable, parse_reply
from memory.summarize import RoomModel
from memory.types import Sighting
from sim.config import from_dict
from sim.errors import ConfigError, RegistryError
from sim.simulator import SimConfig, make_simulator
from sim.types import CameraSpec, ObjectInfo, Observation, Pose

ROOMS = RoomModel({
    "kitchen": {"fridge": 3.0, "sink": 2.0, "table": 1.0, "chair": 1.0},
    "bedroom": {"bed": 3.0, "nightstand": 2.0, "lamp": 1.0},
    "dining room": {"table": 3.0, "chair": 3.0},
    "office": {"desk": 3.0, "chair": 2.0},
}, {})
PALETTE = {"red": (196, 48, 43), "white": (242, 242, 240), "blue": (50, 95, 180), "grey": (135, 135, 138)}


# ------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def rooms_sim():
    sim = make_simulator(SimConfig(), "rooms:n=3,seed=1")
    yield sim
    sim.close()


def blob_obs(blobs, *, width=320, height=240, background=5.0, objects=None, pose=Pose(0.0, 0.0, 0.0, 0.0)):
    """An observation with rectangular blobs: ``(id, u0, v0, u1, v1, depth, rgb)``."""
    inst = np.zeros((height, width), np.int32)
    depth = np.full((height, width), background, np.float32)
    rgb = np.full((height, width, 3), 90, np.uint8)
    for iid, u0, v0, u1, v1, d, colour in blobs:
        inst[v0:v1, u0:u1] = iid
        depth[v0:v1, u0:u1] = d
        rgb[v0:v1, u0:u1] = colour
    cam = CameraSpec(width=width, height=height)
    return Observation(rgb=rgb, depth=depth, instance=inst, pose=pose, timestamp=1.5, camera=cam, step=3,
                       objects=objects if objects is not None else {})


def info(iid, category, colour="", material=""):
    return ObjectInfo(iid, category, colour, material)


def visible_box_centre(obs: Observation, iid: int) -> np.ndarray:
    """Exact centre of the visible part: min/max of every back-projected pixel of the object."""
    pts = obs.camera.backproject(obs.depth, obs.pose, obs.instance == iid)
    return 0.5 * (pts.min(axis=0) + pts.max(axis=0))


# ---------------------------------------------------------------------------- segments
def test_backprojection_matches_camera_spec():
    cam = CameraSpec()
    pose = Pose(1.0, -2.0, 0.3, 0.7)
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 6.0, (cam.height, cam.width)).astype(np.float32)
    mask = np.zeros_like(depth, bool)
    mask[50:60, 100:140] = True
    vv, uu = np.nonzero(mask)
    ours = backproject_pixels(cam, pose, uu, vv, depth[vv, uu])
    np.testing.assert_allclose(ours, cam.backproject(depth, pose, mask), atol=1e-9)


def test_pixel_filter_drops_small_and_cut_objects():
    obs = blob_obs([
        (1, 140, 100, 180, 140, 2.0, (200, 40, 40)),  # 1600 px, fully in view: kept
        (2, 60, 60, 70, 70, 2.0, (200, 40, 40)),  # 100 px < 150: too small
        (3, 0, 100, 20, 115, 2.0, (200, 40, 40)),  # 300 px touching the left border: cut and small
        (4, 290, 150, 320, 180, 2.0, (200, 40, 40)),  # 900 px touching the right border: cut but big
    ])
    segs = {s.instance: s for s in extract_segments(obs, PerceptionConfig())}
    assert set(segs) == {1, 4}
    assert not segs[1].cut and segs[4].cut
    assert segs[1].pixels == 1600 and segs[1].bbox2d == (140, 100, 180, 140)
    assert segs[1].crop.shape == (64, 64, 3) and segs[1].crop.dtype == np.uint8
    assert [s.instance for s in extract_segments(obs, PerceptionConfig(min_pixels=2000))] == []


def test_min_pixels_scale_with_image_area():
    cfg = PerceptionConfig(min_pixels=150)
    assert min_pixels_for(cfg, 240, 320) == 150
    assert min_pixels_for(cfg, 480, 640) == 600
    small = blob_obs([(1, 300, 200, 320, 215, 2.0, (0, 0, 0))], width=640, height=480)  # 300 px
    assert extract_segments(small, cfg) == []
    same = blob_obs([(1, 150, 100, 170, 115, 2.0, (0, 0, 0))])  # the same 300 px in a 320x240 image
    assert [s.instance for s in extract_segments(same, cfg)] == [1]


def test_depth_range_filter_drops_far_objects():
    obs = blob_obs([(1, 100, 100, 160, 150, 9.5, (0, 0, 0)), (2, 200, 100, 260, 150, 3.0, (0, 0, 0))],
                   background=12.0)
    assert [s.instance for s in extract_segments(obs, PerceptionConfig(max_depth=8.0))] == [2]


def test_flying_edge_pixels_do_not_stretch_the_box():
    # A 40x40 object at 2 m whose one-pixel rim reads the wall behind it (mixed depths).
    obs = blob_obs([(1, 140, 100, 180, 140, 2.0, (0, 0, 0))], background=6.0)
    obs.depth[100, 140:180] = 6.0
    obs.depth[139, 140:180] = 6.0
    obs.depth[100:140, 140] = 6.0
    obs.depth[100:140, 179] = 6.0
    clean = extract_segments(obs, PerceptionConfig(percentile=0.0))[0]
    assert clean.bbox_max[0] == pytest.approx(2.0, abs=1e-6)  # x is forward at yaw 0
    assert clean.centroid[0] == pytest.approx(2.0, abs=1e-6)
    raw = extract_segments(obs, PerceptionConfig(percentile=0.0, erode=0))[0]
    assert raw.bbox_max[0] == pytest.approx(6.0, abs=1e-6)


def test_dominant_colour_ignores_shadowed_pixels():
    lit = np.tile(np.array([[200, 50, 45]], np.uint8), (300, 1))
    shadow = (lit * 0.45).astype(np.uint8)
    assert dominant_colour(np.vstack([lit, shadow]), PALETTE) == "red"
    assert dominant_colour(np.full((50, 3), 236, np.uint8), PALETTE) == "white"
    assert dominant_colour(np.zeros((0, 3), np.uint8), PALETTE) == ""


# ------------------------------------------------------------------------------- oracle
def test_oracle_centroid_from_depth_matches_the_visible_part(rooms_sim):
    table = next(o for o in rooms_sim.info.objects if o.category == "table")
    obs = rooms_sim.set_pose(Pose(table.position[0], 3.6, 0.0, -math.pi / 2))  # across the table
    lo, hi = table.bbox_min, table.bbox_max
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    uv, _ = obs.camera.project(corners, obs.pose)
    assert (uv[:, 0] > 2).all() and (uv[:, 0] < obs.camera.width - 3).all()
    assert (uv[:, 1] < obs.camera.height - 3).all()  # fully in view
    percept = OraclePerceiver(PerceptionConfig(), room_model=ROOMS).perceive(obs)
    s = next(s for s in percept.sightings if s.instance == table.id)
    err = np.abs(np.array(s.centroid) - visible_box_centre(obs, table.id))
    assert err.max() < 0.04, err
    # Seen from above and in front, the visible part spans nearly the whole table (its far edge
    # is seen at a grazing angle, where a pixel row covers several centimetres).
    true_centre = 0.5 * (np.array(table.bbox_min) + np.array(table.bbox_max))
    assert np.abs(np.array(s.centroid) - true_centre).max() < 0.1
    assert s.label == "table" and s.colour == table.colour and s.material == table.material
    assert s.instance == table.id and s.confidence == 1.0 and s.pixels > 1000
    assert s.depth == pytest.approx(np.median(obs.depth[obs.instance == table.id]), abs=0.05)


def test_oracle_percept_fields_and_caption(rooms_sim):
    obs = rooms_sim.reset()
    p = OraclePerceiver(PerceptionConfig(thumbnail_width=80), room_model=ROOMS)
    assert isinstance(p, Perceiver)
    percept = p.perceive(obs)
    assert percept.pose == obs.pose and percept.step == obs.step and percept.timestamp == obs.timestamp
    assert percept.image.shape == (60, 80, 3) and percept.image.dtype == np.uint8
    names = [s.name for s in percept.sightings]
    assert names, "the start view of rooms:n=3,seed=1 shows the kitchen's objects"
    for name in names:
        assert name in percept.caption
    assert percept.room_guess == "kitchen" and percept.room_confidence >= 0.5
    assert percept.caption.startswith("kitchen: a ")
    _assert_reads_naturally(percept.caption)


def test_oracle_room_guess_is_inferred_not_read_from_the_scene(rooms_sim):
    # From the kitchen doorway the robot sees the bedroom's bed: the guess follows the labels.
    obs = rooms_sim.set_pose(Pose(3.2, 2.0, 0.0, 0.0))
    truth = rooms_sim.info.room_at(obs.pose.x, obs.pose.y).type
    percept = OraclePerceiver(PerceptionConfig(), room_model=ROOMS).perceive(obs)
    labels = {s.label for s in percept.sightings}
    assert "bed" in labels and truth == "kitchen"
    if labels == {"bed"}:
        assert percept.room_guess == "bedroom"
    unsure = OraclePerceiver(PerceptionConfig(room_min_confidence=0.999), room_model=ROOMS).perceive(obs)
    assert unsure.room_guess == "" and ":" not in unsure.caption
    _assert_reads_naturally(unsure.caption)


def test_oracle_sweep_captions_always_read_naturally(rooms_sim):
    p = OraclePerceiver(PerceptionConfig(), room_model=ROOMS)
    poses = [Pose(1.0 + 0.5 * k, 1.0 + (k % 3), 0.0, k * math.pi / 6) for k in range(22)]
    poses = [q for q in poses if rooms_sim.is_free(q)]
    assert len(poses) >= 10
    for pose in poses:
        percept = p.perceive(rooms_sim.set_pose(pose))
        _assert_reads_naturally(percept.caption)
        for s in percept.sightings:
            assert s.name in percept.caption or "and more" in percept.caption


def _assert_reads_naturally(caption: str) -> None:
    assert caption and caption == caption.strip()
    low = caption.lower()
    for bad in ("none", "unknown", "  ", " ,", "and and", ", and", "::", "[", "{", "_"):
        assert bad not in low, (bad, caption)
    assert re.match(r"^([a-z ]+: )?(an? |one |two |three |four |five |six |open |a bare )", caption), caption


# ------------------------------------------------------------------------------ captions
def _s(label, u0, u1, depth, pixels, colour="", material=""):
    return Sighting(label=label, centroid=(0.0, 0.0, 0.0), bbox_min=(0.0, 0.0, 0.0), bbox_max=(0.0, 0.0, 0.0),
                    pixels=pixels, bbox2d=(u0, 50, u1, 90), colour=colour, material=material, depth=depth)


def test_caption_orders_by_prominence_with_position_words():
    sightings = [
        _s("table", 130, 190, 2.0, 900, "brown", "wood"),
        _s("fridge", 10, 60, 2.5, 3000, "white", "metal"),
        _s("door", 260, 310, 3.0, 2500),
        _s("chair", 250, 270, 1.0, 300, "green"),
        _s("chair", 280, 300, 1.2, 280, "green"),
    ]
    cap = compose_caption(sightings, 320, room="kitchen")
    assert cap == ("kitchen: a white metal fridge on the left, a brown wooden table ahead and two green chairs "
                   "close on the right; a door on the right")
    assert compose_caption(sightings[:1], 320) == "a brown wooden table ahead"
    far = compose_caption([_s("bed", 140, 180, 6.0, 400, "red")], 320)
    assert far == "a red bed in the distance"


def test_caption_caps_the_number_of_groups():
    many = [_s(f"thing{i}", 100, 140, 2.0, 1000 - i) for i in range(8)]
    cap = compose_caption(many, 320, max_objects=3)
    assert cap == "a thing0 ahead, a thing1 ahead, a thing2 ahead and more"


def test_room_guess_needs_confidence():
    assert guess_room(["fridge", "sink"], ROOMS, 0.5)[0] == "kitchen"
    room, conf = guess_room(["chair"], ROOMS, 0.9)
    assert room == "" and 0.0 < conf < 0.9
    assert guess_room([], ROOMS, 0.5) == ("", 0.0)
    assert guess_room(["spaceship"], ROOMS, 0.0)[0] == ""


# --------------------------------------------------------------------------------- clip
class FakeImageEncoder:
    """An image+text encoder for three categories: an image is the category of its centre colour."""

    id = "fake-clip"
    dim = 3
    modalities = frozenset({"text", "image"})
    CATS = ("bed", "fridge", "sofa")
    RGB = ((200, 40, 40), (240, 240, 240), (50, 80, 200))

    def __init__(self):
        self.image_calls = 0

    def encode_text(self, texts):
        out = np.zeros((len(texts), 3), np.float32)
        for i, t in enumerate(texts):
            out[i, [k for k, c in enumerate(self.CATS) if c in t][0]] = 1.0
        return out

    def encode_image(self, images):
        self.image_calls += 1
        out = []
        for im in images:
            c = im[im.shape[0] // 2, im.shape[1] // 2].astype(float)
            d = [np.abs(c - np.array(r)).sum() for r in self.RGB]
            v = np.zeros(3, np.float32)
            if min(d) < 60:
                v[int(np.argmin(d))] = 1.0
            else:
                v[:] = 1.0 / math.sqrt(3.0)  # equally like everything
            out.append(v)
        return np.stack(out)


def test_clip_labels_crops_without_reading_the_object_table():
    obs = blob_obs([
        (7, 20, 60, 100, 140, 2.0, (200, 40, 40)),
        (8, 140, 60, 200, 140, 3.0, (240, 240, 240)),
        (9, 230, 60, 290, 140, 3.0, (20, 200, 20)),  # matches nothing: low confidence, dropped
    ], objects={7: info(7, "fridge"), 8: info(8, "sofa")})  # wrong truth on purpose: must not be used
    enc = FakeImageEncoder()
    p = ClipPerceiver(PerceptionConfig(type="clip", clip_min_confidence=0.5), enc,
                      vocabulary=list(FakeImageEncoder.CATS), palette=PALETTE, room_model=ROOMS)
    percept = p.perceive(obs)
    got = {s.instance: s for s in percept.sightings}
    assert set(got) == {7, 8}
    assert got[7].label == "bed" and got[7].colour == "red" and got[7].confidence > 0.99
    assert got[8].label == "fridge" and got[8].colour == "white"
    assert got[7].material == "" and enc.image_calls == 1
    assert "a red bed" in percept.caption and "a white fridge" in percept.caption
    _assert_reads_naturally(percept.caption)


def test_clip_runs_the_real_openclip_code_path_with_random_weights():
    vocab = ("bed", "chair", "fridge", "table")
    cfg = PerceptionConfig(type="clip", clip_min_confidence=0.0, clip_vocabulary=vocab,
                           encoder=EncoderConfig(type="openclip", model="ViT-S-32-alt", pretrained="none",
                                                 cache_size=0))
    p = make_perceiver(cfg)
    assert isinstance(p, ClipPerceiver)
    p._room_model = ROOMS  # keep the room guess independent of the catalog here
    obs = blob_obs([(1, 20, 60, 100, 140, 2.0, (200, 40, 40)), (2, 140, 60, 200, 140, 3.0, (240, 240, 240))])
    percept = p.perceive(obs)
    assert len(percept.sightings) == 2  # no accuracy claim: random weights
    for s in percept.sightings:
        assert s.label in vocab and 0.0 < s.confidence <= 1.0
    assert p.text_vectors.shape == (4, p.encoder.dim)


def test_clip_without_an_image_encoder_is_a_clear_error():
    with pytest.raises(PerceptionConfigError, match="perception.encoder.*openclip"):
        make_perceiver(PerceptionConfig(type="clip"))

    class TextOnly(FakeImageEncoder):
        id = "minilm:test"
        modalities = frozenset({"text"})

    with pytest.raises(PerceptionConfigError, match="'minilm:test' encodes only text"):
        make_perceiver(PerceptionConfig(type="clip"), encoder=TextOnly())


# ---------------------------------------------------------------------------------- vlm
class _FakeVisionServer:
    """A tiny OpenAI-compatible chat server answering every request with ``self.reply``."""

    def __init__(self):
        self.reply = ""
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append(json.loads(body))
                data = json.dumps({"model": "fake-vision", "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": outer.reply},
                     "finish_reason": "stop"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.config = LLMConfig(base_url=f"http://127.0.0.1:{self.server.server_address[1]}/v1",
                                model="fake-vision", retries=0, timeout_s=10.0, api_key_env="")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vision_server():
    server = _FakeVisionServer()
    yield server
    server.close()


def _vlm_obs():
    return blob_obs([(4, 20, 60, 120, 160, 2.0, (240, 240, 240)), (5, 180, 100, 240, 150, 3.0, (125, 82, 48))])


def test_vlm_happy_path(vision_server):
    vision_server.reply = ("Sure! Here is the JSON:\n```json\n"
                           '{"caption": "A kitchen with a white fridge and a small table.", "objects": ['
                           '{"segment": 1, "label": "A Fridge", "colour": "White"}, '
                           '{"segment": "2", "label": "table", "colour": "brown"}]}\n```\nAnything else?')
    p = make_perceiver(PerceptionConfig(type="vlm"), llm=vision_server.config)
    assert isinstance(p, VLMPerceiver)
    p._room_model = ROOMS
    percept = p.perceive(_vlm_obs())
    got = {s.instance: s for s in percept.sightings}
    assert got[4].label == "fridge" and got[4].colour == "white" and got[4].confidence == 1.0
    assert got[5].label == "table" and got[5].colour == "brown"
    assert percept.caption == "A kitchen with a white fridge and a small table."
    assert percept.room_guess == "kitchen"
    req = vision_server.requests[0]
    assert req["model"] == "fake-vision" and req["temperature"] == 0.0
    parts = req["messages"][0]["content"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert "1: [20, 60, 120, 160]" in parts[0]["text"] and "2: [180, 100, 240, 150]" in parts[0]["text"]


def test_vlm_garbage_reply_gives_unlabelled_segments(vision_server):
    vision_server.reply = "I am sorry, I cannot see images. {not json at all"
    p = VLMPerceiver(PerceptionConfig(type="vlm"), ChatClient(vision_server.config), room_model=ROOMS)
    percept = p.perceive(_vlm_obs())
    assert [s.label for s in percept.sightings] == [UNLABELLED, UNLABELLED]
    assert all(s.confidence == 0.0 for s in percept.sightings)
    assert percept.caption == "2 unrecognised objects in view" and percept.room_guess == ""
    assert p.unreadable == 1
    # Half-usable replies keep what can be read.
    vision_server.reply = '{"objects": [{"segment": 2, "label": "table"}, {"segment": "x", "label": "bed"}, 7]}'
    percept = p.perceive(_vlm_obs())
    assert [s.label for s in percept.sightings] == [UNLABELLED, "table"]
    assert "table" in percept.caption


def test_vlm_unreachable_server_is_a_clear_error_or_a_fallback():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = LLMConfig(base_url=f"http://127.0.0.1:{port}/v1", model="fake-vision", retries=0, timeout_s=5.0,
                    api_key_env="")
    p = VLMPerceiver(PerceptionConfig(type="vlm"), ChatClient(cfg), room_model=ROOMS)
    with pytest.raises(VLMUnavailable, match=r"vlm perceiver: cannot connect to .*connection refused") as e:
        p.perceive(_vlm_obs())
    assert isinstance(e.value, EmbodiedMemoryError)
    soft = VLMPerceiver(PerceptionConfig(type="vlm", vlm_fallback_on_error=True), ChatClient(cfg), room_model=ROOMS)
    percept = soft.perceive(_vlm_obs())
    assert [s.label for s in percept.sightings] == [UNLABELLED, UNLABELLED] and soft.failures == 1


def test_vlm_configuration_errors_say_what_to_set():
    with pytest.raises(PerceptionConfigError, match="perception.llm.base_url"):
        make_perceiver(PerceptionConfig(type="vlm"))
    with pytest.raises(PerceptionConfigError, match="perception.llm.model"):
        make_perceiver(PerceptionConfig(type="vlm", llm=LLMConfig(base_url="http://127.0.0.1:9/v1")))


def test_parse_reply_edge_cases():
    r = parse_reply("{'caption': 'a bed', 'objects': [{'segment': 1, 'label': 'the bed', 'color': 'red'}]}")
    assert r.caption == "a bed" and r.labels == {1: ("bed", "red")}
    assert parse_reply("") is None and parse_reply("[1, 2]") is None and parse_reply('{"a": 1}') is None
    assert parse_reply('{"caption": 3, "objects": "x"}').labels == {}


# ------------------------------------------------------------------------------ registry
def test_registry_and_config_loading():
    assert {"oracle", "clip", "vlm"} <= set(PERCEIVERS.names())
    with pytest.raises(RegistryError, match="unknown perceiver 'yolo'. Available: clip, geometric, oracle, vlm"):
        make_perceiver(PerceptionConfig(type="yolo"))
    cfg = from_dict(PerceptionConfig, {"type": "clip", "min_pixels": 80,
                                       "encoder": {"type": "openclip", "pretrained": "none"}})
    assert cfg.encoder.type == "openclip" and cfg.min_pixels == 80
    with pytest.raises(ConfigError, match="unknown key 'min_pixel'"):
        from_dict(PerceptionConfig, {"min_pixel": 3})
    with pytest.raises(ConfigError, match="max_depth"):
        PerceptionConfig(min_depth=5.0, max_depth=2.0)
    assert isinstance(make_perceiver(), OraclePerceiver)
