"""``launcher.py query``: the JSON contract, batches with models loaded once, and one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import launcher
from app.query import QueryRequest, QueryResponse, answer_query, engine_for
from memory.encoders import minilm
from tests.fake_llm import dead_url

DESIGN_KEYS = ["query", "query_type", "answer", "found", "confidence", "goal", "latency_ms", "hits"]
HIT_KEYS = ["id", "level", "kind", "name", "text", "position", "score"]


def _run(capsys, *argv):
    code = launcher.main(["query", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def _error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("Loading weights")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_json_answer_has_the_design_shape(capsys, house_world):
    code, out, _ = _run(capsys, house_world.path, "where can I take a nap?", "--json", "--top-k", 3)
    assert code == 0
    d = json.loads(out)
    assert list(d)[:8] == DESIGN_KEYS
    assert d["query_type"] == "implicit" and d["answer"].startswith("For somewhere to take a nap")
    assert len(d["goal"]) == 3 and d["latency_ms"] > 0 and len(d["hits"]) == 3
    for h in d["hits"]:
        assert list(h)[:7] == HIT_KEYS and len(h["position"]) == 3
    assert d["goal"] == d["hits"][0]["position"]


def test_readable_output_with_robot_and_flat(capsys, house_world):
    code, out, _ = _run(capsys, house_world.path, "how many bedrooms are there?", "--retriever", "flat",
                        "--robot", "2,2")
    assert code == 0 and out.startswith("answer   From the") and "· flat · template ·" in out


def test_batch_answers_every_line_with_models_loaded_once(capsys, house_world, tmp_path, monkeypatch):
    loads = []
    real = minilm.MiniLMEncoder._load_model
    monkeypatch.setattr(minilm.MiniLMEncoder, "_load_model", lambda self: loads.append(1) or real(self))
    batch = tmp_path / "questions.txt"
    batch.write_text("where is the fridge?\n\nhow many rooms are there?\nwhat did you see first?\n" + "x" * 100_000
                     + "\nsomewhere to wash my hands\n", encoding="utf-8")
    code, out, err = _run(capsys, house_world.path, "--batch", batch)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r.get("query_type") for r in rows] == ["explicit", "global", "temporal", None, "implicit"]
    assert rows[3]["line"] == 5 and "limit" in rows[3]["error"]
    assert all(list(r)[:8] == DESIGN_KEYS for r in rows if "error" not in r)
    assert code == 2 and "1 of 5 questions" in _error_line(err)
    assert len(loads) == 1


@pytest.mark.parametrize("make_args, message", [
    (lambda p, t: [t / "missing.db", "where?"], "does not exist"),
    (lambda p, t: [p, ""], "empty"),
    (lambda p, t: [p], "ask a question"),
    (lambda p, t: [p, "x" * 100_000], "limit"),
    (lambda p, t: [p, "where?", "--top-k", "0"], "--top-k"),
    (lambda p, t: [p, "where?", "--robot", "north"], "robot pose"),
    (lambda p, t: [p, "where?", "--generator", "llm"], "'llm' section"),
    (lambda p, t: [p, "where?", "--batch", t / "q.txt"], "not both"),
])
def test_bad_arguments_give_one_line(capsys, house_world, tmp_path, make_args, message):
    code, _, err = _run(capsys, *make_args(house_world.path, tmp_path))
    assert code == 2 and message in _error_line(err)


def test_bad_files_give_one_line(capsys, house_world, tmp_path):
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not sqlite" * 100)
    code, _, err = _run(capsys, corrupt, "where is the sofa?")
    assert code == 2 and str(corrupt) in _error_line(err)
    batch = tmp_path / "latin1.txt"
    batch.write_bytes("where is the sofa?\nwhere is the caf\xe9?\n".encode("latin-1"))
    code, _, err = _run(capsys, house_world.path, "--batch", batch)
    assert code == 2 and "not UTF-8" in _error_line(err) and "line 2" in err
    text = tmp_path / "not-an-image.png"
    text.write_text("hello")
    code, _, err = _run(capsys, house_world.path, "--image", text)
    assert code == 2 and "not an image" in _error_line(err)
    config = tmp_path / "bad.yaml"
    config.write_text("query: {retriever: forest, beam_width: 3}\n")
    code, _, err = _run(capsys, house_world.path, "where?", "--config", config)
    assert code == 2 and "beam_width" in _error_line(err)


def test_image_query_without_an_image_encoder_names_what_to_configure(capsys, house_world, tmp_path):
    png = tmp_path / "red.png"
    Image.fromarray(np.full((32, 32, 3), (200, 30, 30), dtype=np.uint8)).save(png)
    config = tmp_path / "text-only.yaml"
    config.write_text("memory: {image_encoder: null}\n")
    code, _, err = _run(capsys, house_world.path, "--image", png, "--config", config)
    line = _error_line(err)
    assert code == 2 and "memory.image_encoder" in line and "simclip" in line


def test_a_dead_llm_server_falls_back_to_the_template(capsys, house_world, tmp_path):
    config = tmp_path / "llm.yaml"
    config.write_text(f"llm: {{base_url: '{dead_url()}', retries: 0, timeout_s: 2.0, api_key_env: ''}}\n")
    code, out, _ = _run(capsys, house_world.path, "where is the red bed?", "--generator", "llm", "--retriever", "llm",
                        "--config", config, "--json")
    d = json.loads(out)
    assert code == 0 and d["answer_metadata"]["fallback"] is True and "LLMUnavailable" in d["answer_metadata"]["reason"]
    assert d["generator"] == "template" and d["retriever"] == "llm" and any("LLM error" in n for n in d["notes"])
    assert d["goal"] is not None


def test_answer_query_reuses_one_engine_and_honours_cancel(house_mem):
    from app.progress import Cancelled, CancelToken

    assert engine_for(house_mem) is engine_for(house_mem)
    r = answer_query(house_mem, QueryRequest(text="where is the kettle?", top_k=2))
    assert isinstance(r, QueryResponse) and len(r.result.hits) == 2 and r.to_json()["cited"]
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        answer_query(house_mem, QueryRequest(text="where is the kettle?"), cancel=token)


def test_image_query_end_to_end_with_a_configured_image_encoder(capsys, house_world, tmp_path, monkeypatch):
    """A registered image encoder (a colour histogram standing in for SimCLIP) makes --image work."""
    import shutil

    from app.config import load_lab_config
    from memory.core import EmbodiedMemory
    from memory.encoders import ENCODERS
    from tests.explored_worlds import shared_text_encoder
    from tests.fake_image_encoder import ColourHistogramEncoder

    monkeypatch.setitem(ENCODERS._entries, "test-colour", lambda cfg: ColourHistogramEncoder())
    config = tmp_path / "image.yaml"
    config.write_text("memory: {image_encoder: {type: test-colour}}\n")
    db = tmp_path / "house-images.db"
    shutil.copy(house_world.path, db)
    with EmbodiedMemory.open(db, load_lab_config(config).memory, text_encoder=shared_text_encoder()) as mem:
        objs = [o for o in mem.graph.objects() if mem.graph.crop(o.id) is not None]
        vecs = mem.image_encoder.encode_image([mem.graph.crop(o.id) for o in objs])
        for o, v in zip(objs, vecs, strict=True):
            mem.image.set(o.id, v, "crop")
        target = next(o for o in objs if o.label == "bed")
        crop = mem.graph.crop(target.id)
    png = tmp_path / "bed.png"
    Image.fromarray(crop).save(png)
    code, out, _ = _run(capsys, db, "--image", png, "--config", config, "--json")
    d = json.loads(out)
    assert code == 0 and list(d)[:8] == DESIGN_KEYS and d["query"].startswith("[image")
    assert target.id in [h["id"] for h in d["hits"]] and d["goal"] is not None


def test_a_users_prior_pack_adds_words_and_bad_packs_give_one_line(capsys, house_world, tmp_path):
    pack = tmp_path / "pack.yaml"
    pack.write_text("name: mine\nsynonyms:\n  - [fridge, icebox]\n")
    code, out, _ = _run(capsys, house_world.path, "where is the icebox?", "--priors", pack, "--json")
    d = json.loads(out)
    assert code == 0 and d["analysis"].get("target") == "icebox" and d["found"] is True
    assert d["hits"][0]["label"] == "fridge"
    bad = tmp_path / "bad.yaml"
    bad.write_text("rooms: {}\n")
    code, _, err = _run(capsys, house_world.path, "where is the icebox?", "--priors", bad)
    assert code == 2 and "unknown keys rooms; valid:" in _error_line(err)


# ---------------------------------------------------------------------- issue 14: bounded inputs
def png_header(w: int, h: int) -> bytes:
    """The start of a PNG that says it is ``w`` x ``h`` (no pixel data): PIL reads the size from it."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def test_a_question_of_non_utf8_bytes_is_one_line(capsys, house_world):
    # used to fail inside the encoder: "MiniLM encoding failed: TypeError: TextEncodeInput must be Union[...]"
    question = b"\xff\xfe\xfa".decode("utf-8", "surrogateescape")  # what Python makes of such argv bytes
    code, _, err = _run(capsys, house_world.path, question)
    assert code == 2 and "not UTF-8 text" in _error_line(err)


def test_the_analyser_refuses_undecodable_text_too(house_mem):
    from memory.errors import QueryError

    engine = engine_for(house_mem)
    with pytest.raises(QueryError, match="not UTF-8 text"):
        engine.ask(QueryRequest(text="where is the \udcff sofa?"))


@pytest.mark.parametrize("content", [b"", b"\n\n   \n", b"\xef\xbb\xbf\n"])
def test_an_empty_batch_file_is_one_line(capsys, tmp_path, content):
    # used to print nothing and exit 0
    batch = tmp_path / "empty.txt"
    batch.write_bytes(content)
    code, out, err = _run(capsys, tmp_path / "any.db", "--batch", batch)
    assert code == 2 and out == "" and "holds no questions" in _error_line(err)


def test_a_batch_is_streamed_not_read_whole(tmp_path):
    import tracemalloc

    from app.cli.query import MAX_BATCH_LINE_BYTES, count_batch, iter_batch

    batch = tmp_path / "big.txt"
    with open(batch, "wb") as f:
        f.write(b"where is the sofa?\n")
        f.write(b"y" * (40 * 2**20) + b"\n")  # one 40 MiB line
        f.write(b"where is the fridge?\n" * 1000)
    tracemalloc.start()
    try:
        assert count_batch(batch) == 1002
        rows = list(iter_batch(batch))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rows[0].text == "where is the sofa?" and rows[1].too_long and len(rows[1].text) <= MAX_BATCH_LINE_BYTES
    assert rows[2].line == 3 and rows[-1].text == "where is the fridge?"
    assert peak < 8 * 2**20  # far less than the file (41 MiB)


@pytest.mark.parametrize("size, message", [
    ((1, 1), "too small (1x1 pixels)"),
    ((8000, 8000), "8000x8000 pixels; the limit is 16.8 megapixels"),
    ((100_000, 100_000), "over the limit of 16.8 megapixels"),
])
def test_query_images_are_sized_from_the_header_before_decoding(capsys, house_world, tmp_path, size, message):
    # a 1x1 image used to give "must be ... shape (H, W, 3), got uint8 (1, 1, 3)"; an 8000x8000 PNG used 2.2 GB
    png = tmp_path / "q.png"
    if size == (1, 1):
        Image.new("RGB", size).save(png)
    else:
        png.write_bytes(png_header(*size))  # no pixel data: decoding it would fail, so this proves no decode
    code, _, err = _run(capsys, house_world.path, "--image", png)
    assert code == 2 and message in _error_line(err)


def test_a_truncated_image_is_one_line(capsys, house_world, tmp_path):
    import io

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(buf, format="JPEG")
    jpg = tmp_path / "cut.jpg"
    jpg.write_bytes(buf.getvalue()[:300])
    code, _, err = _run(capsys, house_world.path, "--image", jpg)
    assert code == 2 and "not an image that can be read" in _error_line(err)


@pytest.mark.parametrize("flag", ["--config", "--priors"])
def test_alias_bombs_in_config_and_prior_packs_are_refused(capsys, house_world, tmp_path, flag):
    from tests.sim.test_yaml_safe import billion_laughs

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs(), encoding="utf-8")
    code, _, err = _run(capsys, house_world.path, "where is the sofa?", flag, bomb)
    assert code == 2 and "aliases expand" in _error_line(err) and str(bomb) in err
