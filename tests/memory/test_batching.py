"""The encoders' shared batched-inference loop, on a tiny stand-in model."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest

from memory.encoders.batching import embed_in_batches


def model(batch: list[float]) -> np.ndarray:
    """Item ``x`` -> the row ``(x, 1)``; records each batch it sees."""
    seen.append(list(batch))
    return np.array([[x, 1.0] for x in batch])


seen: list[list[float]] = []


@pytest.fixture(autouse=True)
def _fresh():
    seen.clear()


def test_runs_of_batch_size_give_unit_float32_rows_in_order():
    out = embed_in_batches([3.0, 0.0, -1.0, 7.0, 2.0], 2, model, batch_size=2)
    assert seen == [[3.0, 0.0], [-1.0, 7.0], [2.0]]
    assert out.dtype == np.float32 and out.shape == (5, 2)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out[0], np.array([3.0, 1.0]) / np.sqrt(10.0), rtol=1e-6)
    np.testing.assert_allclose(out[1], [0.0, 1.0])


def test_given_batches_come_back_in_the_items_order():
    items = [1.0, 2.0, 3.0, 4.0]
    out = embed_in_batches(items, 2, model, batches=[[3, 0], [2], [1]])
    assert seen == [[4.0, 1.0], [3.0], [2.0]]
    np.testing.assert_array_equal(out, embed_in_batches(items, 2, model, batch_size=64))


def test_zero_rows_stay_zero_and_no_items_give_an_empty_matrix():
    out = embed_in_batches(["a", "b"], 3, lambda b: np.zeros((len(b), 3)))
    np.testing.assert_array_equal(out, np.zeros((2, 3), np.float32))
    empty = embed_in_batches([], 4, model)
    assert empty.shape == (0, 4) and empty.dtype == np.float32 and seen == []


def test_runs_inside_the_context_and_takes_torch_tensors():
    torch = pytest.importorskip("torch")
    modes: list[bool] = []

    def tower(batch: list[float]):
        modes.append(torch.is_inference_mode_enabled())
        return torch.tensor([[x, 0.0] for x in batch], dtype=torch.float64)

    out = embed_in_batches([2.0, -5.0, 1.0], 2, tower, batch_size=2, context=torch.inference_mode())
    assert modes == [True, True] and not torch.is_inference_mode_enabled()
    np.testing.assert_array_equal(out, np.array([[1, 0], [-1, 0], [1, 0]], np.float32))


def test_the_context_is_left_when_a_batch_fails():
    events: list[str] = []

    class Recorder(contextlib.AbstractContextManager):
        def __enter__(self):
            events.append("enter")
            return self

        def __exit__(self, *exc):
            events.append("exit")

    def failing(batch: list[float]) -> np.ndarray:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        embed_in_batches([1.0], 2, failing, context=Recorder())
    assert events == ["enter", "exit"]
