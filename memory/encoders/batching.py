"""The encoders' batched-inference loop: items in batches through a model, unit float32 rows back in order.

The MiniLM numpy runtime, the open_clip towers and SimCLIP's image tower each cut their inputs into
batches, run one forward per batch under some context (torch's ``inference_mode``, a BLAS thread
limit), and L2-normalise the stacked outputs; ``embed_in_batches`` is that loop, once.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from memory.encoders import l2_normalize

__all__ = ["embed_in_batches"]

T = TypeVar("T")


def embed_in_batches(items: Sequence[T], dim: int, run_batch: Callable[[list[T]], Any], *,
                     batch_size: int = 64, batches: Iterable[Sequence[int]] | None = None,
                     context: contextlib.AbstractContextManager[Any] | None = None) -> np.ndarray:
    """``(len(items), dim)`` float32 unit rows: ``run_batch`` on each batch of items, inside ``context``.

    Batches are runs of ``batch_size`` consecutive items unless ``batches`` gives the row indices of each
    (e.g. texts grouped by length); every row must be in exactly one. ``run_batch`` returns a
    ``(len(batch), dim)`` array or torch tensor (taken as float32 on the CPU).
    """
    if batches is None:
        batches = (range(start, min(start + batch_size, len(items))) for start in range(0, len(items), batch_size))
    out = np.zeros((len(items), dim), dtype=np.float32)
    with context or contextlib.nullcontext():
        for rows in batches:
            vecs = run_batch([items[i] for i in rows])
            if hasattr(vecs, "detach"):  # a torch tensor
                vecs = vecs.detach().float().cpu().numpy()
            out[list(rows)] = vecs
    return l2_normalize(out)

