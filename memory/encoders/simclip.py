"""SimCLIP: a small CNN image tower trained on the simulator's renders, aligned to MiniLM's text space.

The project cannot download CLIP weights, so it trains its own image tower (``launcher.py
train-simclip``, see ``app/simclip/train.py``): a VGG-style CNN (3x3 convolutions with batch norm,
four stride-2 stages, a two-layer head over the final feature map) maps an RGB crop to a 384-d unit
vector, trained with open_clip's ``ClipLoss`` against the *locked* MiniLM embeddings of captions
("a red wooden chair in the kitchen"). The shipped weights are ``assets/models/simclip.pt`` (fp16
state dict, read with ``torch.load(weights_only=True)``) with the model card ``simclip.json`` beside
them (architecture, data, recipe, metrics, seed, the weights' SHA-256).

How vectors compare — read this before mixing them:

* ``encode_text`` **is** the bundled MiniLM (``minilm:all-MiniLM-L6-v2``): its vectors are
  identical to the ``minilm`` encoder's, so text vectors a memory already stores under the MiniLM
  id can be reused as they are (``text_space_id`` names that space).
* ``encode_image`` vectors live in that same MiniLM space, but only *these* weights put them
  there: store them under ``id`` (``simclip:<sha256[:12]>``), and compare them only with each other
  and with text vectors of ``text_space_id``. They are never comparable with ``openclip`` vectors
  of any kind, nor with a SimCLIP of other weights (another ``id``).
* Cross-modal cosines are lower than text-text ones (the model card's ``similarity`` section gives
  matched and unmatched means); fuse image and text scores after calibrating on those.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memory.encoders import (
    IMAGE,
    TEXT,
    Encoder,
    EncoderConfig,
    check_images,
    check_texts,
    configure_torch_threads,
    file_digest,
)
from memory.encoders.batching import embed_in_batches
from memory.errors import EncoderError

log = logging.getLogger(__name__)

__all__ = ["SimClipEncoder", "TowerArch", "build_tower", "preprocess", "default_weights_path", "card_path",
           "read_card", "load_weights", "save_weights", "shipped_weights_available", "text_space_id",
           "CARD_FORMAT", "TEXT_SPACE"]

TEXT_SPACE = "minilm:all-MiniLM-L6-v2"  # the locked text encoder's id (the bundled MiniLM)
CARD_FORMAT = "simclip-card/1"
# per-channel normalisation of [0, 1] RGB (CLIP's constants; any fixed pair works, it is in the card)
_MEAN = (0.48145466, 0.4578275, 0.40821073)
_STD = (0.26862954, 0.26130258, 0.27577711)


def default_weights_path() -> Path:
    """``assets/models/simclip.pt`` of this checkout."""
    return Path(__file__).resolve().parents[2] / "assets" / "models" / "simclip.pt"


def card_path(weights: str | Path) -> Path:
    """The model card beside a weights file (``simclip.pt`` -> ``simclip.json``)."""
    return Path(weights).with_suffix(".json")


def shipped_weights_available() -> bool:
    """True when the shipped weights and their card are both present (cheap: no torch import)."""
    p = default_weights_path()
    return p.is_file() and card_path(p).is_file()


@dataclass(frozen=True, kw_only=True)
class TowerArch:
    """Shape of the image tower; saved in the model card so the loader rebuilds the same network."""

    width: int = 32  # channels of the first stage; stages have width, 2, 4 and 8 times it
    image_size: int = 64  # input side in pixels (crops are resized to it)
    head_dim: int = 512
    embed_dim: int = 384  # MiniLM's size
    # "flatten" keeps the final (S/16 x S/16) layout (object in the middle, context around it);
    # "avg" pools it away
    pool: str = "flatten"
    mean: tuple[float, float, float] = _MEAN
    std: tuple[float, float, float] = _STD

    def __post_init__(self) -> None:
        if not 4 <= self.width <= 256:
            raise EncoderError(f"SimCLIP width must be 4..256, got {self.width}")
        if self.image_size < 16 or self.image_size % 16:
            raise EncoderError(f"SimCLIP image_size must be a multiple of 16 and at least 16, got {self.image_size}")
        if self.embed_dim < 1 or self.head_dim < 1:
            raise EncoderError("SimCLIP embed_dim and head_dim must be positive")
        if self.pool not in ("flatten", "avg"):
            raise EncoderError(f"SimCLIP pool must be 'flatten' or 'avg', got {self.pool!r}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TowerArch:
        """From a model card's ``arch`` section; unknown keys raise ``EncoderError``."""
        known = set(cls.__dataclass_fields__)
        bad = sorted(set(d) - known)
        if bad:
            raise EncoderError(f"unknown SimCLIP arch keys {bad}; known: {sorted(known)}")
        kw = dict(d)
        for k in ("mean", "std"):
            if k in kw:
                kw[k] = tuple(float(x) for x in kw[k])
        try:
            return cls(**kw)
        except TypeError as e:
            raise EncoderError(f"bad SimCLIP arch {dict(d)}: {e}") from e

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d


def build_tower(arch: TowerArch) -> Any:
    """The image tower as a ``torch.nn.Module``: ``(N, 3, S, S)`` normalised RGB -> ``(N, embed_dim)``.

    Unnormalised outputs; ``encode_image`` and the training loss L2-normalise them.
    """
    from torch import nn

    def conv(cin: int, cout: int, stride: int) -> list:
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    w = arch.width
    layers: list = []
    cin = 3
    for k, cout in enumerate((w, 2 * w, 4 * w, 8 * w)):
        # each stage halves the resolution, then refines at that resolution
        layers += conv(cin, cout, 2) + conv(cout, cout, 1)
        if k == 3:
            layers += conv(cout, cout, 1)
        cin = cout
    cells = 1 if arch.pool == "avg" else (arch.image_size // 16) ** 2
    pool = [nn.AdaptiveAvgPool2d(1)] if arch.pool == "avg" else []
    layers += pool + [nn.Flatten(), nn.Linear(cin * cells, arch.head_dim), nn.ReLU(inplace=True),
                      nn.Linear(arch.head_dim, arch.embed_dim)]
    return nn.Sequential(*layers)


def preprocess(images: Sequence[np.ndarray], arch: TowerArch, *, normalize: bool = True) -> Any:
    """RGB uint8 images of any size -> a float tensor ``(N, 3, S, S)``, normalised with the arch's mean/std.

    Each image is centre-cropped to a square (object crops from perception already are) and
    resized with antialiasing to ``arch.image_size``. Training uses this same function (with
    ``normalize=False`` it returns [0, 1] values, for augmentation before normalising).
    """
    import torch
    import torch.nn.functional as F

    s = arch.image_size
    mean = torch.tensor(arch.mean).view(1, 3, 1, 1)
    std = torch.tensor(arch.std).view(1, 3, 1, 1)
    out = torch.empty((len(images), 3, s, s), dtype=torch.float32)
    groups: dict[tuple[int, int], list[int]] = {}
    squares = []
    for i, im in enumerate(images):
        a = np.asarray(im)
        h, w = a.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        squares.append(a[top:top + side, left:left + side])
        groups.setdefault((side, side), []).append(i)
    for (side, _), idx in groups.items():  # one resize per input size (crops mostly share one)
        x = torch.from_numpy(np.stack([squares[i] for i in idx])).permute(0, 3, 1, 2).float().div_(255.0)
        if side != s:
            x = F.interpolate(x, size=(s, s), mode="bilinear", antialias=side > s, align_corners=False)
        out[idx] = x
    return (out - mean) / std if normalize else out


def read_card(weights: str | Path) -> dict:
    """The model card beside ``weights``; ``EncoderError`` when missing, unreadable or not a SimCLIP card."""
    p = card_path(weights)
    if not p.is_file():
        raise EncoderError(f"SimCLIP model card not found: {p} (it is written beside the weights by "
                           "'python launcher.py train-simclip')")
    try:
        card = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EncoderError(f"cannot read the SimCLIP model card {p}: {e}") from e
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT or not isinstance(card.get("arch"), dict):
        raise EncoderError(f"{p} is not a SimCLIP model card (expected format {CARD_FORMAT!r} with an 'arch' section)")
    return card


def load_weights(path: str | Path) -> tuple[Any, TowerArch, dict]:
    """``(tower in eval mode, arch, card)`` from a weights file and its card; ``EncoderError`` on any problem.

    Checks, in order: the file exists; the card exists and names the same SHA-256 as the file;
    the file is a state dict of tensors (``torch.load(weights_only=True)``, never pickle); every
    tensor fits the card's architecture.
    """
    import torch

    p = Path(path).expanduser()
    if not p.is_file():
        raise EncoderError(f"SimCLIP weights not found: {p}. Train them with 'python launcher.py train-simclip' "
                           "or configure another image encoder (type: openclip with a checkpoint)")
    card = read_card(p)
    arch = TowerArch.from_dict(card["arch"])
    digest = file_digest(p, 64)
    if card.get("weights_sha256") and card["weights_sha256"] != digest:
        raise EncoderError(f"SimCLIP weights {p} do not match their model card {card_path(p)} "
                           f"(card SHA-256 {str(card['weights_sha256'])[:12]}…, file {digest[:12]}…): "
                           "the two files come from different training runs")
    try:
        state = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated or foreign files
        raise EncoderError(f"cannot read SimCLIP weights {p}: {e.__class__.__name__}: {_first_line(e)} "
                           "(expected a state dict saved by train-simclip)") from e
    if not isinstance(state, Mapping) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise EncoderError(f"SimCLIP weights {p} hold {type(state).__name__}, not a state dict of tensors")
    tower = build_tower(arch)
    own = {f"tower.{k}": v for k, v in tower.state_dict().items()}
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own) - {"logit_scale"})
    wrong = sorted(k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape))
    if missing or extra or wrong:
        parts = [f"{len(missing)} missing (e.g. {missing[0]})" if missing else "",
                 f"{len(extra)} unexpected (e.g. {extra[0]})" if extra else "",
                 f"{len(wrong)} of the wrong shape (e.g. {wrong[0]})" if wrong else ""]
        raise EncoderError(f"SimCLIP weights {p} do not fit the architecture in its card {arch}: "
                           + ", ".join(x for x in parts if x))
    tower.load_state_dict({k[len("tower."):]: state[k].float() if state[k].is_floating_point() else state[k]
                           for k in own})
    tower.eval()
    return tower, arch, card


def save_weights(tower: Any, logit_scale: Any, path: str | Path) -> str:
    """Write the tower (and the learned log temperature) as an fp16 state dict; returns its SHA-256."""
    import torch

    state = {f"tower.{k}": (v.detach().half() if v.is_floating_point() else v.detach()).contiguous()
             for k, v in tower.state_dict().items()}
    state["logit_scale"] = logit_scale.detach().float().reshape(1).clone()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    torch.save(state, str(tmp))
    tmp.replace(p)
    return file_digest(p, 64)


def text_space_id(encoder: Encoder) -> str:
    """The id of the text space ``encoder``'s image vectors compare with (its own id unless it says otherwise).

    Unwraps ``CachedEncoder``. SimCLIP returns ``minilm:all-MiniLM-L6-v2``; open_clip its own id.
    """
    inner = getattr(encoder, "inner", encoder)
    return str(getattr(inner, "text_space_id", encoder.id))


class SimClipEncoder:
    """Image tower of SimCLIP plus the locked MiniLM text encoder; thread-safe, loads on first use.

    ``config.model_path`` names the weights (``""`` = the shipped ``assets/models/simclip.pt``).
    A missing, corrupt or mismatched weights file or card raises ``EncoderError`` when the encoder
    is built (the card and the file's digest are checked at once; the tensors on first use).
    """

    modalities: frozenset[str] = frozenset({TEXT, IMAGE})
    text_space_id: str = TEXT_SPACE

    def __init__(self, config: EncoderConfig | None = None) -> None:
        self.config = config or EncoderConfig(type="simclip")
        self.path = Path(self.config.model_path).expanduser() if self.config.model_path else default_weights_path()
        if not self.path.is_file():
            raise EncoderError(f"SimCLIP weights not found: {self.path}. Train them with "
                               "'python launcher.py train-simclip' or configure another image encoder "
                               "(type: openclip with a checkpoint)")
        self.card = read_card(self.path)
        self.arch = TowerArch.from_dict(self.card["arch"])
        if self.card.get("text_encoder", TEXT_SPACE) != TEXT_SPACE:
            raise EncoderError(f"SimCLIP weights {self.path} were trained against {self.card.get('text_encoder')!r}, "
                               f"but the text encoder here is {TEXT_SPACE!r}")
        self._digest = file_digest(self.path)
        if str(self.card.get("weights_sha256", ""))[:12] not in ("", self._digest):
            raise EncoderError(f"SimCLIP weights {self.path} do not match their model card {card_path(self.path)}: "
                               "the two files come from different training runs")
        self._tower: Any = None
        self._text: Any = None
        self._lock = threading.RLock()

    @property
    def id(self) -> str:
        """``simclip:<weights sha256[:12]>`` — the space of the image vectors."""
        return f"simclip:{self._digest}"

    @property
    def dim(self) -> int:
        return self.arch.embed_dim

    @property
    def loaded(self) -> bool:
        return self._tower is not None

    def load(self) -> None:
        """Read the weights now (otherwise the first ``encode_image`` does)."""
        self._get_tower()

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """MiniLM's vectors of ``texts`` (identical to the ``minilm`` encoder's)."""
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._get_text().encode_text(items)

    def encode_image(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Embed RGB uint8 ``(H, W, 3)`` images of any size as ``(N, 384)`` float32 unit rows."""
        arrays = check_images(images)
        if not arrays:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        tower = self._get_tower()
        with self._lock:
            return embed_in_batches(arrays, self.dim, lambda batch: tower(preprocess(batch, self.arch).to(
                self.config.device).contiguous(memory_format=torch.channels_last)),
                batch_size=self.config.batch_size, context=torch.inference_mode())

    def _get_tower(self) -> Any:
        if self._tower is not None:
            return self._tower
        import torch

        with self._lock:
            if self._tower is None:
                configure_torch_threads(self.config.threads)
                t0 = time.perf_counter()
                tower, _, _ = load_weights(self.path)
                # channels-last convolutions are about 1.5x faster on CPU
                self._tower = tower.to(self.config.device, memory_format=torch.channels_last)
                log.info("loaded SimCLIP %s from %s in %.2f s", self.id, self.path, time.perf_counter() - t0)
        return self._tower

    def _get_text(self) -> Encoder:
        if self._text is None:
            with self._lock:
                if self._text is None:
                    from memory.encoders.minilm import MiniLMEncoder

                    self._text = MiniLMEncoder(EncoderConfig(type="minilm", threads=self.config.threads,
                                                             batch_size=self.config.batch_size,
                                                             device=self.config.device, cache_size=0))
        return self._text

    def __repr__(self) -> str:
        return f"SimClipEncoder(path={str(self.path)!r}, id={self.id!r}, loaded={self.loaded})"


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0] if s else e.__class__.__name__
