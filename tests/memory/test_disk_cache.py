"""The on-disk text-embedding cache: keys, isolation per encoder, concurrent writers, failing quietly."""
from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from memory.encoders import CACHE_ENV, user_cache_dir
from memory.encoders.disk_cache import CACHE_FILE, DiskCachedEncoder, EmbeddingCache
from memory.records_json import content_hash


class CountingEncoder:
    id = "test:count8"
    dim = 8
    modalities = frozenset({"text"})

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode_text(self, texts):
        self.seen.extend(texts)
        rows = [np.random.default_rng(int(content_hash(t)[:8], 16)).standard_normal(self.dim) for t in texts]
        m = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_cache_keys_are_encoder_and_text_hash(tmp_path):
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        v = np.arange(8, dtype=np.float32).reshape(2, 4)
        cache.put("enc:a", ["h1", "h2"], v)
        cache.put("enc:a", ["h1"], np.zeros((1, 4), np.float32))  # the first writer of a key wins
        got = cache.get("enc:a", ["h1", "h2", "h3"])
        assert set(got) == {"h1", "h2"} and np.array_equal(got["h2"], v[1]) and np.array_equal(got["h1"], v[0])
        assert cache.get("enc:b", ["h1"]) == {} and cache.get("enc:a", ["h1"], dim=5) == {}
        assert len(cache) == 2


def test_cached_encoder_embeds_each_new_text_once(tmp_path):
    inner = CountingEncoder()
    enc = DiskCachedEncoder(inner, EmbeddingCache(tmp_path / "c.sqlite"))
    a = enc.encode_text(["x", "y", "x"])
    assert inner.seen == ["x", "y"] and np.array_equal(a[0], a[2]) and (enc.hits, enc.misses) == (1, 2)
    again = DiskCachedEncoder(CountingEncoder(), EmbeddingCache(tmp_path / "c.sqlite"))  # another run
    b = again.encode_text(["y", "x", "z"])
    assert again.inner.seen == ["z"] and np.array_equal(b[0], a[1]) and np.array_equal(b[1], a[0])
    assert np.array_equal(b, CountingEncoder().encode_text(["y", "x", "z"]))  # the vectors themselves
    assert enc.id == inner.id and enc.dim == 8 and enc.encode_text([]).shape == (0, 8)


def test_concurrent_writers_share_one_file(tmp_path):
    path, errors = tmp_path / "c.sqlite", []

    def work(k: int) -> None:
        try:
            with EmbeddingCache(path) as cache:
                for start in range(0, 120, 20):
                    keys = [f"h{i}" for i in range(start + k, start + k + 20)]
                    cache.put("enc", keys, np.full((20, 4), float(k), np.float32))
                    assert len(cache.get("enc", keys)) == 20
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(EmbeddingCache(path)) == 123


def test_an_unusable_cache_turns_itself_off_with_one_line(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = EmbeddingCache(blocker / "c.sqlite")
    with caplog.at_level(logging.WARNING):
        cache.put("enc", ["h"], np.ones((1, 4), np.float32))
        assert cache.get("enc", ["h"]) == {}
        enc = DiskCachedEncoder(CountingEncoder(), cache)
        assert enc.encode_text(["q"]).shape == (1, 8)
    assert len([r for r in caplog.records if "embedding cache off" in r.getMessage()]) == 1


def test_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, "off")
    assert user_cache_dir() is None and EmbeddingCache.default() is None
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert EmbeddingCache.default().path == tmp_path / CACHE_FILE
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_dir() == tmp_path / "xdg" / "embodied-rag-lab"


@pytest.fixture(autouse=True)
def _no_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "user-cache"))


def test_int8_minilm_for_imports_stays_in_the_float_space():
    pytest.importorskip("sentence_transformers")
    from memory.encoders import EncoderConfig
    from memory.encoders.minilm import MiniLMEncoder, int8_supported
    from tests.explored_worlds import shared_text_encoder

    fast = MiniLMEncoder(EncoderConfig(cache_size=0, threads=1), int8=True)
    if not int8_supported():  # no VNNI: the flag is ignored and the encoder is the float one
        assert not fast.int8 and fast.cache_id == fast.id
        return
    texts = ["The scene depicts a quiet street lined with brick houses and parked cars.",
             "A bus stop with a shelter and a bench on Forbes Avenue, students waiting.",
             "Modern glass buildings of a university campus behind a green lawn in autumn.", "a coffee shop"]
    ref = shared_text_encoder().encode_text(texts)
    got = fast.encode_text(texts)
    assert fast.id == "minilm:all-MiniLM-L6-v2" and fast.cache_id == fast.id + "+int8"
    assert got.shape == ref.shape and np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert (got * ref).sum(axis=1).min() >= 0.99 and not np.array_equal(got, ref)
