"""Fuzzing the small loaders: scene specs, question text (any Unicode, up to 1 MB, through the real MiniLM
encoder and the whole answer path) and query images (PNG/JPEG headers with absurd sizes, truncated files)."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from app.query import QueryEngine, QueryRequest, load_query_image
from memory.core import EmbodiedMemory, MemoryConfig
from sim.loader import world_config
from sim.spec import parse_spec
from tests.explored_worlds import shared_text_encoder
from tests.fuzz.fuzzing import FUZZ_SETTINGS, IMAGE_MEMORY_BUDGET, check_case

pytestmark = pytest.mark.fuzz

KINDS = ["house", "office", "multifloor", "campus", "rooms", "castle", "habitat", "", "HOUSE", "rooms "]
KEYS = ["seed", "rooms", "n", "floors", "width", "depth", "colour", "", "1x", "seed "]
VALUES = ["3", "-1", "0", "3.5", "1e999", "nan", "inf", "-inf", "9" * 5000, "true", "", "=", "a,b", "1e-320",
          "99999999999999999999", "0x10", "2"]


@st.composite
def scene_specs(draw) -> str:
    if draw(st.booleans()):
        return draw(st.text(max_size=60))
    params = ",".join(f"{draw(st.sampled_from(KEYS))}={draw(st.sampled_from(VALUES))}"
                      for _ in range(draw(st.integers(0, 4))))
    suffix = draw(st.sampled_from(["", "", ".glb", ".5", "/x", ":", ",,"]))
    return f"{draw(st.sampled_from(KINDS))}:{params}{suffix}"


def _spec(text: str):
    sp = parse_spec(text)
    return world_config(sp) if sp.kind not in ("file", "habitat") else sp


@FUZZ_SETTINGS
@given(text=scene_specs())
def test_fuzz_scene_specs(text):
    check_case("scene spec", lambda: _spec(text))


@pytest.fixture(scope="module")
def engine(small_memory):
    mem = EmbodiedMemory.open(small_memory, MemoryConfig(image_encoder=None), create=False, readonly=True,
                              text_encoder=shared_text_encoder())
    yield QueryEngine(mem).warm()
    mem.close()


questions = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=300),  # surrogates and controls too
    st.text(max_size=40).map(lambda s: "where is the " + s + "?"),
    st.tuples(st.text(min_size=1, max_size=50), st.integers(1, 2**20)).map(lambda t: (t[0] * t[1])[:2**20]),
    st.sampled_from(["\x00", "\ufeff", "\u202e where is the sofa", "🛋" * 500, "a\u0301" * 999, "?" * 2000,
                     "where is the " + "very " * 398 + "sofa", "\udcff\udcfe"]),
)


@FUZZ_SETTINGS
@given(text=questions)
def test_fuzz_question_text(engine, text):
    resp = check_case("question text", lambda: engine.ask(QueryRequest(text=text, top_k=3)))
    if resp is not None:
        assert isinstance(resp.to_json()["answer"], str)


def _png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (90, 120, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 10, 10)).save(buf, format="JPEG")
    return buf.getvalue()


def _resize_header(data: bytes, w: int, h: int, fix_crc: bool) -> bytes:
    if data.startswith(b"\x89PNG"):
        ihdr = struct.pack(">II", w, h) + data[24:29]
        crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) if fix_crc else data[29:33]
        return data[:16] + ihdr + crc + data[33:]
    i = data.find(b"\xff\xc0")  # JPEG baseline frame header: length, precision, height, width
    return data[:i + 5] + struct.pack(">HH", h % 65536, w % 65536) + data[i + 9:] if i >= 0 else data


@st.composite
def image_files(draw) -> bytes:
    w, h = draw(st.integers(1, 80)), draw(st.integers(1, 80))
    data = draw(st.sampled_from([_png, _jpeg]))(w, h)
    op = draw(st.sampled_from(["size", "size", "truncate", "flip", "random", "none"]))
    if op == "size":
        big = st.integers(0, 2**31 - 1) | st.sampled_from([0, 1, 4096, 4097, 65535, 100_000])
        data = _resize_header(data, draw(big), draw(big), draw(st.booleans()))
    elif op == "truncate":
        data = data[:draw(st.integers(0, len(data)))]
    elif op == "flip":
        b = bytearray(data)
        for _ in range(draw(st.integers(1, 16))):
            i = draw(st.integers(0, len(b) * 8 - 1))
            b[i // 8] ^= 1 << (i % 8)
        data = bytes(b)
    elif op == "random":
        data = data[:draw(st.integers(0, 40))] + draw(st.binary(max_size=2048))
    return data


@FUZZ_SETTINGS
@given(data=image_files())
def test_fuzz_query_images(tmp_path_factory, data):
    f = tmp_path_factory.mktemp("img") / "q.img"
    f.write_bytes(data)
    img = check_case("query image", lambda: load_query_image(f), budget=IMAGE_MEMORY_BUDGET)
    if img is not None:
        assert img.dtype.name == "uint8" and img.ndim == 3 and img.shape[2] == 3
        assert 16 <= min(img.shape[:2]) and img.shape[0] * img.shape[1] <= 4096 * 4096
