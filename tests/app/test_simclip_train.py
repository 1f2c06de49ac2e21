"""SimCLIP training: labelled crops, a tiny run that learns, determinism, the CLI and the evaluation."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.progress import drain
from app.simclip.data import (
    SPLITS,
    CropSet,
    DataConfig,
    _Job,
    captions_for,
    generate_crops,
    held_out_looks,
    relative_azimuth,
    render_job,
)
from app.simclip.evaluate import category_prompts, evaluate_vectors
from app.simclip.train import TrainConfig, embed_captions, encode_crops, fit_tower, quick_config
from memory.encoders import CachedEncoder, EncoderConfig
from memory.encoders.minilm import MiniLMEncoder
from memory.encoders.simclip import SimClipEncoder, TowerArch, build_tower
from sim.catalog import load_catalog
from sim.types import ObjectInfo

TINY_DATA = DataConfig(seed=0, showrooms=6, outdoor_showrooms=0, views_per_showroom=10, houses=1, offices=0,
                       multifloors=0, campuses=0, frames_per_world=30, test_every=3, workers=1)


@pytest.fixture(scope="module")
def crops() -> CropSet:
    return drain(generate_crops(TINY_DATA))


@pytest.fixture(scope="module")
def text() -> CachedEncoder:
    return CachedEncoder(MiniLMEncoder(EncoderConfig(threads=1)), maxsize=10_000)


def _fit(train: CropSet, text, cfg: TrainConfig):
    idx, vec, _ = embed_captions(train, text)
    return drain(fit_tower(train, idx, vec, cfg))


def test_crops_carry_ground_truth_and_respect_the_held_out_rules(crops):
    assert len(crops) > 100 and crops.images.shape[1:] == (64, 64, 3)
    held = held_out_looks(load_catalog())
    train = crops.split_of("train")
    for i in range(len(train)):
        look = (train.categories[train.category[i]], train.colours[train.colour[i]], train.materials[train.material[i]])
        assert not held.look(*look)  # no held-out look reaches training
        assert not held.view(float(train.azimuth[i]))  # nor a held-out viewpoint
    view = crops.split_of("test_view")
    assert all(held.view(float(a)) for a in view.azimuth)
    assert set(np.unique(crops.split)) <= set(range(len(SPLITS)))


def test_rendering_a_scene_is_deterministic():
    job = _Job(0, "showroom", 1234, False, 6, 320, 240, 3)
    a, b = render_job(job), render_job(job)
    assert a["category"] == b["category"] and np.array_equal(a["images"], b["images"])


def test_relative_azimuth_is_measured_from_the_front():
    obj = ObjectInfo(id=1, category="sofa", position=(0.0, 0.0, 0.0), yaw=np.pi / 2)  # front looks along +y
    assert relative_azimuth((0.0, 2.0), obj) == pytest.approx(0.0)
    assert relative_azimuth((-2.0, 0.0), obj) == pytest.approx(90.0)


def test_captions_use_the_memory_names(crops):
    caps = captions_for(crops, 0)
    cat = crops.categories[crops.category[0]]
    assert caps[0] in (f"a photo of a {cat}", f"a photo of an {cat}")
    assert all(cat in c for c in caps)


def test_a_tiny_run_lowers_the_loss_and_beats_chance(crops, text):
    train = crops.split_of("train")
    cfg = replace(quick_config(0, epochs=40), data=TINY_DATA)
    tower, scale, losses = _fit(train, text, cfg)
    assert losses[-1] < losses[0] - 0.3, losses
    # zero-shot over all 80 categories, on the crops it trained on (a fitting check, not a held-out figure)
    cv = text.encode_text(category_prompts(train.categories))
    acc = float(np.mean(np.argmax(encode_crops(tower, train, cfg.arch) @ cv.T, axis=1) == train.category))
    baseline = build_tower(cfg.arch).eval()
    base = float(np.mean(np.argmax(encode_crops(baseline, train, cfg.arch) @ cv.T, axis=1) == train.category))
    assert acc > max(3 * base, 5 / 80), (acc, base)


def test_training_is_deterministic_for_a_seed(crops, text):
    train = crops.split_of("train").subset(np.arange(128))
    cfg = replace(quick_config(3, epochs=1), data=TINY_DATA)
    a, _, la = _fit(train, text, cfg)
    b, _, lb = _fit(train, text, cfg)
    assert la == lb
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert np.array_equal(x.numpy(), y.numpy()), k


def test_evaluation_figures_are_fractions_and_perfect_vectors_score_one(crops, text):
    part = crops.split_of("train").subset(np.arange(120))
    # the category prompt itself is the ideal image vector: zero-shot category must be exact
    ideal = text.encode_text(category_prompts(part.categories))[part.category.astype(int)]
    m = evaluate_vectors(ideal, part, text, draws=3)
    assert m["category_top1"] == 1.0
    for k in ("colour_top1", "joint_top1", "implicit_recall5", "image_to_image_top1"):
        assert 0.0 <= m[k] <= 1.0


def test_cli_quick_run_writes_loadable_weights_and_card(tmp_path):
    import launcher

    out = tmp_path / "q.pt"
    assert launcher.main(["train-simclip", "--quick", "--out", str(out), "--seed", "1", "--epochs", "2"]) == 0
    enc = SimClipEncoder(EncoderConfig(type="simclip", model_path=str(out)))
    card = enc.card
    assert card["seed"] == 1 and card["recipe"]["epochs"] == 2
    assert set(card["metrics"]) <= {"test_view", "test_look"} and card["metrics"]
    assert enc.encode_image([crops_image()]).shape == (1, 384)
    assert TowerArch.from_dict(card["arch"]) == quick_config().arch


def crops_image() -> np.ndarray:
    return np.full((64, 64, 3), 128, np.uint8)


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    import launcher

    assert launcher.main(["train-simclip", "--quick", "--out", str(tmp_path / "w.bin")]) == 2
    assert "--out must name a .pt" in capsys.readouterr().err
    assert launcher.main(["train-simclip", "--quick", "--epochs", "0"]) == 2
