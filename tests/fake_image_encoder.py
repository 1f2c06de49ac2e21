"""Tiny deterministic image encoders implementing the ``Encoder`` protocol, for image-path tests.

They stand in for SimCLIP / open_clip: a 4x4x4 colour histogram is enough to find an object
from its own crop, and the text variant maps colour words into the same space.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from memory.errors import EncoderError


class ColourHistogramEncoder:
    """A tiny deterministic image encoder (4x4x4 colour histogram) implementing the Encoder protocol."""

    id = "test:colour-histogram"
    dim = 64
    modalities = frozenset({"image"})

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        raise EncoderError(f"{self.id} has no text tower")

    def encode_image(self, images: Sequence[np.ndarray]) -> np.ndarray:
        out = []
        for im in images:
            q = (np.asarray(im, dtype=np.int32) // 64).reshape(-1, 3)
            h = np.bincount(q[:, 0] * 16 + q[:, 1] * 4 + q[:, 2], minlength=64).astype(np.float32)
            out.append(h / (np.linalg.norm(h) or 1.0))
        return np.stack(out)


class ColourTextEncoder(ColourHistogramEncoder):
    """The same space with a text tower: colour words become their histogram bin."""

    modalities = frozenset({"image", "text"})

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        from sim.catalog import load_catalog

        palette = load_catalog().palette
        out = []
        for t in texts:
            rgb = [palette.rgb(c) for c in palette.names() if c in t.split()] or [(128, 128, 128)]
            out.append(self.encode_image([np.full((2, 2, 3), rgb[0], dtype=np.uint8)])[0])
        return np.stack(out)
