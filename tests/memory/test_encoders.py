"""Encoders: the real MiniLM text model, the real open_clip towers (random weights), the registry and cache."""
from __future__ import annotations

import numpy as np
import pytest

from memory.encoders import ENCODERS, CachedEncoder, Encoder, EncoderConfig, make_encoder
from memory.encoders.minilm import MiniLMEncoder
from memory.encoders.openclip import OpenCLIPEncoder, read_state_dict
from memory.errors import EncoderError
from sim.config import from_dict
from sim.errors import ConfigError, RegistryError


def _assert_unit_rows(v: np.ndarray, n: int, dim: int) -> None:
    assert v.shape == (n, dim)
    assert v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


@pytest.fixture(scope="module")
def minilm() -> CachedEncoder:
    enc = make_encoder(EncoderConfig())
    assert isinstance(enc, CachedEncoder)
    return enc


@pytest.fixture(scope="module")
def clip() -> Encoder:
    return make_encoder(EncoderConfig(type="openclip", pretrained="none"))


# -- MiniLM -----------------------------------------------------------------------------------

def test_minilm_vectors_are_unit_float32_rows(minilm):
    v = minilm.encode_text(["a red chair", "a wooden table in the kitchen", ""])
    _assert_unit_rows(v, 3, 384)
    assert minilm.dim == 384
    assert minilm.modalities == frozenset({"text"})
    assert isinstance(minilm, Encoder)


def test_minilm_related_texts_score_higher(minilm):
    bed, bedroom, stove = minilm.encode_text(["a bed to sleep in", "bedroom", "a kitchen stove"])
    assert float(bed @ bedroom) > float(bed @ stove) + 0.1


def test_minilm_batch_equals_one_by_one(minilm):
    texts = ["sofa", "a blue sofa next to the window", "fridge", "where is the kettle?", "garage door"]
    small_batches = MiniLMEncoder(EncoderConfig(batch_size=2))
    together = minilm.inner.encode_text(texts)
    in_pairs = small_batches.encode_text(texts)
    alone = np.concatenate([minilm.inner.encode_text([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(in_pairs, alone, atol=1e-5)


def test_minilm_empty_input_gives_empty_matrix(minilm):
    assert minilm.encode_text([]).shape == (0, 384)


def test_minilm_rejects_a_bare_string(minilm):
    with pytest.raises(TypeError, match="wrap it in a list"):
        minilm.encode_text("a chair")


def test_cache_hit_returns_the_same_vector(minilm):
    minilm.clear_cache()
    first = minilm.encode_text(["the lamp in the study"])
    first_copy = first.copy()
    first[:] = 0.0  # callers own their arrays: this must not reach the cache
    again = minilm.encode_text(["the lamp in the study", "the lamp in the study"])
    info = minilm.cache_info()
    assert info.hits == 2 and info.misses == 1 and info.size == 1
    np.testing.assert_array_equal(again[0], first_copy[0])
    np.testing.assert_array_equal(again[1], first_copy[0])
    np.testing.assert_array_equal(first_copy, minilm.inner.encode_text(["the lamp in the study"]))


def test_cache_evicts_least_recently_used(minilm):
    enc = CachedEncoder(minilm.inner, maxsize=2)
    enc.encode_text(["a", "b"])
    enc.encode_text(["a"])  # "a" is now the most recent
    enc.encode_text(["c"])  # evicts "b"
    enc.encode_text(["a"])
    assert enc.cache_info().hits == 2
    enc.encode_text(["b"])
    assert enc.cache_info().misses == 4


def test_minilm_id_is_stable(minilm):
    assert minilm.id == "minilm:all-MiniLM-L6-v2"
    assert MiniLMEncoder().id == minilm.id
    assert make_encoder(EncoderConfig(cache_size=0)).id == minilm.id


def test_encoders_are_safe_to_share_between_threads(minilm):
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"object number {i}" for i in range(12)]
    expected = minilm.inner.encode_text(texts)
    minilm.clear_cache()
    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(lambda t: minilm.encode_text([t])[0], texts))
    np.testing.assert_allclose(np.stack(rows), expected, atol=1e-5)


def test_minilm_has_no_image_tower(minilm):
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(EncoderError, match="text-only"):
        minilm.encode_image([img])


def test_minilm_bad_model_path(tmp_path):
    with pytest.raises(EncoderError, match="not a sentence-transformers folder"):
        MiniLMEncoder(EncoderConfig(model_path=str(tmp_path)))


def test_minilm_user_model_path_names_its_weights():
    from memory.encoders.minilm import bundled_model_dir

    enc = MiniLMEncoder(EncoderConfig(model_path=str(bundled_model_dir())))
    assert enc.id.startswith("minilm:model:") and len(enc.id.split(":")[-1]) == 12


def _varied_texts(n: int) -> list[str]:
    """Edge cases (empty, whitespace, accents, CJK, emoji, over the 256-token cut) plus random captions/questions."""
    rng = np.random.default_rng(7)
    words = ("the a red navy wooden leather chair sofa kitchen where is near window bedroom fridge lamp desk "
             "office printer stairs café naïve 東京 🙂 ŁÓDŹ 12.5m ? , . Where's I'm hungry sit somewhere").split()
    fixed = ["", " ", "a", "?", "where is the sofa?", "A\tB\nC  D", "x" * 3000, " ".join(words * 20),
             "kitchen view: a white fridge, a steel sink, a wooden table"]
    return fixed + [" ".join(rng.choice(words, int(rng.integers(1, 12)))) for _ in range(n - len(fixed))]


def test_minilm_numpy_runtime_gives_sentence_transformers_vectors(minilm):
    """The torch-free runtime must keep the vector space: same id, cosine >= 0.9999 on 300 varied texts."""
    assert minilm.inner.runtime == "numpy"  # the default for the bundled model
    texts = _varied_texts(300)
    fast = MiniLMEncoder(runtime="numpy").encode_text(texts)
    torch_enc = MiniLMEncoder(runtime="torch")
    reference = torch_enc.encode_text(texts)
    _assert_unit_rows(fast, 300, 384)
    cosines = np.sum(fast * reference, axis=1)
    assert cosines.min() >= 0.9999, f"min cosine {cosines.min():.6f} on {texts[int(cosines.argmin())]!r}"
    assert torch_enc.id == minilm.id and torch_enc.cache_id == MiniLMEncoder(runtime="numpy").cache_id


def test_minilm_text_query_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys; from memory.encoders import make_encoder; v = make_encoder().encode_text(['a sofa']); "
            "print(v.shape, sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(1, 384) []"


def test_minilm_runtime_choice(tmp_path):
    import json

    with pytest.raises(EncoderError, match="runtime must be one of auto, numpy, torch"):
        MiniLMEncoder(runtime="onnx")
    dense = tmp_path / "dense"  # a folder with a Dense projection: only sentence-transformers runs it
    dense.mkdir()
    (dense / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]))
    assert MiniLMEncoder(EncoderConfig(model_path=str(dense))).runtime == "torch"
    with pytest.raises(EncoderError, match="numpy cannot run .*Dense"):
        MiniLMEncoder(EncoderConfig(model_path=str(dense)), runtime="numpy")
    assert MiniLMEncoder(EncoderConfig(device="cuda")).runtime == "torch"
    assert MiniLMEncoder(EncoderConfig(runtime="torch")).runtime == "torch"
    with pytest.raises(ConfigError, match="runtime must be auto, numpy or torch"):
        from_dict(EncoderConfig, {"type": "minilm", "runtime": "onnx"})


# -- registry and config ----------------------------------------------------------------------

def test_registry_unknown_name_lists_the_valid_ones():
    with pytest.raises(RegistryError) as e:
        make_encoder(EncoderConfig(type="word2vec"))
    msg = str(e.value)
    assert "word2vec" in msg and "minilm" in msg and "openclip" in msg
    assert {"minilm", "openclip"} <= set(ENCODERS.names())


def test_config_from_dict_rejects_unknown_keys_and_bad_values():
    cfg = from_dict(EncoderConfig, {"type": "openclip", "model": "ViT-B-32", "pretrained": "none", "batch_size": 8})
    assert cfg.batch_size == 8 and cfg.device == "cpu"
    with pytest.raises(ConfigError, match="Valid keys: .*batch_size"):
        from_dict(EncoderConfig, {"type": "minilm", "batchsize": 8})
    with pytest.raises(ConfigError, match="batch_size must be at least 1"):
        from_dict(EncoderConfig, {"batch_size": 0})
    with pytest.raises(ConfigError, match="device"):
        EncoderConfig(device="gpu")


# -- open_clip --------------------------------------------------------------------------------

def test_openclip_random_weights_run_the_real_towers(clip):
    assert clip.id == "openclip:ViT-B-32:none"
    assert clip.dim == 512 and clip.modalities == frozenset({"text", "image"})
    t = clip.encode_text(["a photo of a chair", "a photo of a dog"])
    _assert_unit_rows(t, 2, 512)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), rng.integers(0, 256, (50, 31, 3), dtype=np.uint8)]
    v = clip.encode_image(images)
    _assert_unit_rows(v, 2, 512)
    assert not np.allclose(v[0], v[1])
    np.testing.assert_allclose(clip.encode_image(images[:1]), v[:1], atol=1e-5)


def test_openclip_random_weights_are_one_stable_space():
    config = EncoderConfig(type="openclip", model="ViT-S-32-alt", pretrained="none")
    a, b = OpenCLIPEncoder(config), OpenCLIPEncoder(config)
    assert a.id == b.id == "openclip:ViT-S-32-alt:none"
    np.testing.assert_allclose(a.encode_text(["a lamp"]), b.encode_text(["a lamp"]), atol=1e-6)


def test_openclip_rejects_non_rgb_images(clip):
    with pytest.raises(EncoderError, match=r"RGB uint8 of shape \(H, W, 3\)"):
        clip.encode_image([np.zeros((10, 10), np.float32)])


def test_openclip_without_weights_says_how_to_fix(tmp_path):
    with pytest.raises(EncoderError) as e:
        make_encoder(EncoderConfig(type="openclip", cache_dir=str(tmp_path)))
    msg = str(e.value)
    assert "no weights for open_clip ViT-B-32" in msg
    assert str(tmp_path) in msg
    assert "laion2b_s34b_b79k" in msg and "openai" in msg
    assert "checkpoint file" in msg and "pretrained: none" in msg
    assert "\n" not in msg


def test_openclip_named_tag_missing_or_unknown(tmp_path):
    with pytest.raises(EncoderError, match="tag 'openai' is not in the Hugging Face cache"):
        OpenCLIPEncoder(EncoderConfig(type="openclip", pretrained="openai", cache_dir=str(tmp_path)))
    with pytest.raises(EncoderError, match="unknown pretrained tag 'laion5x'.*Available: .*openai"):
        OpenCLIPEncoder(EncoderConfig(type="openclip", pretrained="laion5x", cache_dir=str(tmp_path)))
    with pytest.raises(EncoderError, match="unknown open_clip model 'ViT-Z-99'"):
        OpenCLIPEncoder(EncoderConfig(type="openclip", model="ViT-Z-99", pretrained="none"))


def test_openclip_missing_checkpoint_file(tmp_path):
    with pytest.raises(EncoderError, match="checkpoint not found"):
        OpenCLIPEncoder(EncoderConfig(type="openclip", pretrained=str(tmp_path / "clip.pt")))


@pytest.mark.parametrize("name", ["garbage.pt", "garbage.safetensors"])
def test_openclip_garbage_checkpoint_is_a_clear_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    enc = OpenCLIPEncoder(EncoderConfig(type="openclip", pretrained=str(path)))
    with pytest.raises(EncoderError, match=f"cannot read checkpoint .*{name}"):
        enc.encode_text(["a chair"])


def test_openclip_checkpoint_of_another_model_is_a_clear_error(tmp_path):
    import torch

    path = tmp_path / "tiny.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    enc = OpenCLIPEncoder(EncoderConfig(type="openclip", model="ViT-S-32-alt", pretrained=str(path)))
    with pytest.raises(EncoderError, match="does not fit open_clip ViT-S-32-alt: missing .*unexpected weight"):
        enc.load()


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_openclip_user_checkpoint_round_trip(tmp_path, suffix):
    import torch
    from safetensors.torch import save_file

    config = EncoderConfig(type="openclip", model="ViT-S-32-alt", pretrained="none")
    fresh = OpenCLIPEncoder(config)
    source = OpenCLIPEncoder(config)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():  # move away from the seeded init, so only real loading can match it
        for p in source.module.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    state = {k: v.detach().clone().contiguous() for k, v in source.module.state_dict().items()}
    path = tmp_path / f"clip{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save({"state_dict": {"module." + k: v for k, v in state.items()}}, path)
    assert set(read_state_dict(path)) == set(state)
    loaded = OpenCLIPEncoder(EncoderConfig(type="openclip", model="ViT-S-32-alt", pretrained=str(path)))
    assert loaded.id.startswith("openclip:ViT-S-32-alt:") and len(loaded.id.rsplit(":", 1)[1]) == 12
    img = np.full((64, 48, 3), 120, np.uint8)
    np.testing.assert_allclose(loaded.encode_image([img]), source.encode_image([img]), atol=1e-5)
    np.testing.assert_allclose(loaded.encode_text(["a sink"]), source.encode_text(["a sink"]), atol=1e-5)
    assert not np.allclose(fresh.encode_image([img]), source.encode_image([img]), atol=1e-3)
