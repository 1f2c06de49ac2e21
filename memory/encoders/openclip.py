"""open_clip text and image towers (default ``ViT-B-32``, 512-d) sharing one vector space.

Weights come from, in this order of preference:

* a user checkpoint, ``pretrained: /path/to/file.pt|.pth|.bin|.safetensors``;
* a pretrained tag (``openai``, ``laion2b_s34b_b79k`` ...) already in the local Hugging Face
  cache (or open_clip's URL cache, ``~/.cache/clip``); ``auto`` takes any tag found there;
  fetching a missing tag from the hub happens only with ``allow_download: true``;
* random weights, only with ``pretrained: none`` (a warning is logged; tests use it to run the
  real tokenizer, transforms and towers without weights).

Checkpoints are read with ``safetensors`` or ``torch.load(weights_only=True)`` — never pickle.
The weights source is resolved when the encoder is built (so a missing checkpoint fails at once);
the model itself is built on first use.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memory.encoders import (
    IMAGE,
    TEXT,
    EncoderConfig,
    check_images,
    check_texts,
    configure_torch_threads,
    file_digest,
)
from memory.encoders.batching import embed_in_batches
from memory.errors import EncoderError

log = logging.getLogger(__name__)

__all__ = ["OpenCLIPEncoder", "DEFAULT_MODEL", "CHECKPOINT_SUFFIXES", "read_state_dict"]

DEFAULT_MODEL = "ViT-B-32"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
_PREFERRED_TAGS = ("laion2b_s34b_b79k", "openai")
_HF_WEIGHTS_NAME = "open_clip_pytorch_model.bin"  # open_clip's default file name in a hub repo
_HF_SAFE_WEIGHTS_NAME = "open_clip_model.safetensors"
_RANDOM_SEED = 0  # random weights are seeded so that "pretrained: none" is one stable space


class OpenCLIPEncoder:
    """open_clip model with text and image towers; thread-safe, builds its model on first use."""

    modalities: frozenset[str] = frozenset({TEXT, IMAGE})

    def __init__(self, config: EncoderConfig | None = None) -> None:
        self.config = config or EncoderConfig(type="openclip")
        try:
            import open_clip
        except ImportError as e:
            raise EncoderError(f"the openclip encoder needs open-clip-torch (pip install open-clip-torch): {e}") from e
        self.model_name = self.config.model or DEFAULT_MODEL
        model_cfg = open_clip.get_model_config(self.model_name) if ":" not in self.model_name else None
        if model_cfg is None:
            if ":" in self.model_name:
                raise EncoderError(
                    f"open_clip model {self.model_name!r}: hf-hub:/local-dir: names are not supported; give a "
                    "built-in model name (e.g. ViT-B-32) and its weights file as pretrained")
            names = open_clip.list_models()
            shown = ", ".join(names[:40]) + (f" … ({len(names)} in all)" if len(names) > 40 else "")
            raise EncoderError(f"unknown open_clip model {self.model_name!r}. Available: {shown}")
        self._dim = int(model_cfg["embed_dim"])
        self.weights_tag, self.checkpoint, self._tag_cfg = self._resolve_weights()
        self._id: str | None = None
        self._model: Any = None
        self._preprocess: Any = None
        self._tokenizer: Any = None
        self._lock = threading.RLock()

    @property
    def id(self) -> str:
        """``openclip:<model>:<tag>``, ``openclip:<model>:<checkpoint sha256[:12]>`` or ``openclip:<model>:none``."""
        if self._id is None:
            if self.weights_tag == "file":
                assert self.checkpoint is not None
                self._id = f"openclip:{self.model_name}:{file_digest(self.checkpoint)}"
            else:
                self._id = f"openclip:{self.model_name}:{self.weights_tag}"
        return self._id

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._model is not None

    def load(self) -> None:
        """Build the model and read its weights now (otherwise the first encode does)."""
        self._get_model()

    @property
    def module(self) -> Any:
        """The underlying open_clip ``torch.nn.Module`` (built on first access), e.g. to save its weights."""
        return self._get_model()

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` (truncated to the model's context length) as ``(N, dim)`` float32 unit rows."""
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self._dim), dtype=np.float32)
        import torch

        model = self._get_model()
        with self._lock:
            return embed_in_batches(items, self._dim, lambda batch: model.encode_text(
                self._tokenizer(batch).to(self.config.device)), batch_size=self.config.batch_size,
                context=torch.inference_mode())

    def encode_image(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Embed RGB uint8 ``(H, W, 3)`` images of any size (resized and cropped by the model's transform)."""
        arrays = check_images(images)
        if not arrays:
            return np.zeros((0, self._dim), dtype=np.float32)
        import torch
        from PIL import Image

        model = self._get_model()
        with self._lock:
            return embed_in_batches(arrays, self._dim, lambda batch: model.encode_image(torch.stack(
                [self._preprocess(Image.fromarray(a)) for a in batch]).to(self.config.device)),
                batch_size=self.config.batch_size, context=torch.inference_mode())

    # -- weights -----------------------------------------------------------------------------

    def _resolve_weights(self) -> tuple[str, Path | None, dict]:
        """``(tag | "file" | "none", checkpoint path or None, the tag's open_clip config)``."""
        import open_clip

        p = self.config.pretrained.strip()
        if p.lower() == "none":
            log.warning("open_clip %s uses RANDOM weights (pretrained: none): its vectors carry no meaning; "
                        "use this for tests only", self.model_name)
            return "none", None, {}
        if _looks_like_path(p):
            path = Path(p).expanduser()
            if not path.is_file():
                raise EncoderError(f"open_clip checkpoint not found: {path}")
            if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
                raise EncoderError(f"open_clip checkpoint {path} must end in {', '.join(CHECKPOINT_SUFFIXES)}")
            return "file", path, {}

        tags = list(open_clip.list_pretrained_tags_by_model(self.model_name))
        if p.lower() == "auto":
            candidates = [t for t in _PREFERRED_TAGS if t in tags] + [t for t in tags if t not in _PREFERRED_TAGS]
        else:
            tag = p.lower().replace("-", "_")
            if tag not in tags:
                raise EncoderError(
                    f"unknown pretrained tag {p!r} for open_clip {self.model_name}. "
                    f"Available: {', '.join(tags) or 'none'}; or give a checkpoint path, or 'none'")
            candidates = [tag]

        for tag in candidates:
            cfg = open_clip.get_pretrained_cfg(self.model_name, tag)
            found = _find_cached(cfg, self.config.cache_dir)
            if found is not None:
                log.info("open_clip %s: using cached %s weights %s", self.model_name, tag, found)
                return tag, found, cfg

        download_error = ""
        if self.config.allow_download and candidates:
            tag = candidates[0]
            cfg = open_clip.get_pretrained_cfg(self.model_name, tag)
            try:
                from open_clip.pretrained import download_pretrained

                got = download_pretrained(cfg, cache_dir=self.config.cache_dir or None)
                if got and Path(got).is_file():
                    return tag, Path(got), cfg
                download_error = f"; downloading {tag!r} gave no file"
            except Exception as e:  # network, hub or disk failure: reported in the one error below
                download_error = f"; downloading {tag!r} failed ({e.__class__.__name__}: {_first_line(e)})"

        where = (f"the Hugging Face cache {_hf_cache_dir(self.config.cache_dir)} or "
                 f"{_url_cache_dirs(self.config.cache_dir)[-1]}")
        looked = (f"none of its {len(candidates)} pretrained tags is in {where}" if len(candidates) > 1
                  else f"tag {candidates[0]!r} is not in {where}" if candidates
                  else "it has no pretrained tags")
        raise EncoderError(
            f"no weights for open_clip {self.model_name} (pretrained: {p}): {looked}"
            f"{download_error or ('' if self.config.allow_download else ' (downloads are off)')}. "
            f"Fix: set pretrained to a checkpoint file ({'/'.join(CHECKPOINT_SUFFIXES)}), or fetch one of these "
            f"tags into the Hugging Face cache on a machine with internet: {', '.join(tags) or 'none'}; "
            f"'pretrained: none' gives random weights (tests only)")

    # -- model -------------------------------------------------------------------------------

    def _get_model(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._build()
        return self._model

    def _build(self) -> None:
        import open_clip
        import torch

        threads = configure_torch_threads(self.config.threads)
        t0 = time.perf_counter()
        # Read the checkpoint first: a bad file should fail before the slow model build.
        state = read_state_dict(self.checkpoint) if self.checkpoint is not None else None
        cfg = self._tag_cfg
        extra: dict[str, Any] = {}
        for key, arg in (("mean", "image_mean"), ("std", "image_std"),
                         ("interpolation", "image_interpolation"), ("resize_mode", "image_resize_mode")):
            if cfg.get(key) is not None:
                extra[arg] = cfg[key]
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(_RANDOM_SEED)
                model, _, preprocess = open_clip.create_model_and_transforms(
                    self.model_name, pretrained=None, device=self.config.device,
                    force_quick_gelu=bool(cfg.get("quick_gelu", False)),
                    pretrained_image=False, pretrained_text=False,
                    cache_dir=self.config.cache_dir or None, **extra)
            tokenizer = open_clip.get_tokenizer(self.model_name, cache_dir=self.config.cache_dir or None)
        except Exception as e:
            raise EncoderError(
                f"cannot build open_clip {self.model_name}: {e.__class__.__name__}: {_first_line(e)}") from e
        if state is not None:
            assert self.checkpoint is not None
            _load_into(model, state, self.checkpoint, self.model_name)
        model.eval()
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self._model = model
        log.info("built open_clip %s (%s) in %.2f s (%d torch threads)",
                 self.model_name, self.weights_tag, time.perf_counter() - t0, threads)

    def __repr__(self) -> str:
        return (f"OpenCLIPEncoder(model={self.model_name!r}, weights={self.weights_tag!r}, "
                f"loaded={self.loaded})")


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """Tensors of a checkpoint file, read safely (safetensors, or ``torch.load(weights_only=True)``).

    Unwraps ``{"state_dict": ...}`` training checkpoints and ``module.`` prefixes; anything that
    is not a mapping of names to tensors raises ``EncoderError``.
    """
    import torch

    p = Path(path)
    if p.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise EncoderError(f"checkpoint {p} must end in {', '.join(CHECKPOINT_SUFFIXES)}")
    try:
        if p.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(p), device="cpu")
        else:
            obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise EncoderError(f"checkpoint not found: {p}") from None
    except Exception as e:  # torch / safetensors raise many types for corrupt files
        raise EncoderError(
            f"cannot read checkpoint {p}: {e.__class__.__name__}: {_first_line(e)} "
            "(expected a PyTorch state dict saved with torch.save, or a .safetensors file; "
            "TorchScript archives are not accepted)") from e
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise EncoderError(f"checkpoint {p} holds {type(obj).__name__}, not a state dict of tensors")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise EncoderError(f"checkpoint {p} is not a state dict of tensors (entry {bad[0]!r})")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


def _load_into(model: Any, state: dict[str, Any], path: Path, model_name: str) -> None:
    """The conversions open_clip's ``load_checkpoint`` applies, on an already safely read state dict."""
    import torch
    from open_clip.convert import convert_state_dict
    from open_clip.model import convert_to_custom_text_state_dict, resize_pos_embed, resize_text_pos_embed

    try:
        state = convert_state_dict(model, state)
        if "positional_embedding" in state and not hasattr(model, "positional_embedding"):
            state = convert_to_custom_text_state_dict(state)
        for key in ("logit_scale", "logit_bias"):
            param = getattr(model, key, None)
            if key in state and param is not None and state[key].ndim != param.ndim:
                state[key] = state[key].reshape(param.shape)
        if "logit_bias" not in state and getattr(model, "logit_bias", None) is not None and "logit_scale" in state:
            state["logit_bias"] = torch.zeros_like(state["logit_scale"])
        state.pop("text.transformer.embeddings.position_ids", None)
        resize_pos_embed(state, model)
        resize_text_pos_embed(state, model)
        result = model.load_state_dict(state, strict=False)
    except Exception as e:
        raise EncoderError(
            f"checkpoint {path} does not fit open_clip {model_name}: {e.__class__.__name__}: {_first_line(e)}") from e
    if result.missing_keys or result.unexpected_keys:
        def some(keys: list[str]) -> str:
            return ", ".join(keys[:3]) + (f" … ({len(keys)})" if len(keys) > 3 else "")

        raise EncoderError(
            f"checkpoint {path} does not fit open_clip {model_name}: "
            f"missing {some(result.missing_keys) or 'nothing'}; unexpected {some(result.unexpected_keys) or 'nothing'}")


def _looks_like_path(s: str) -> bool:
    return "/" in s or "\\" in s or s.startswith("~") or s.lower().endswith(CHECKPOINT_SUFFIXES)


def _find_cached(cfg: Mapping[str, Any], cache_dir: str) -> Path | None:
    """A local file for an open_clip pretrained config, without touching the network."""
    hub = str(cfg.get("hf_hub") or "")
    if hub:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            try_to_load_from_cache = None
        if try_to_load_from_cache is not None:
            # open_clip's convention: "org/repo/file.bin", or "org/repo/" for the default file name
            repo_id, _, filename = hub.rpartition("/")
            if not filename:
                names = [_HF_SAFE_WEIGHTS_NAME, _HF_WEIGHTS_NAME]
            elif filename.endswith((".bin", ".pth")):
                names = [filename[:-4] + ".safetensors", filename]
            else:
                names = [filename]
            for name in names:
                hit = try_to_load_from_cache(repo_id, name, cache_dir=cache_dir or None)
                if isinstance(hit, str) and Path(hit).is_file():
                    return Path(hit)
    url = str(cfg.get("url") or "")
    if url:
        name = url.rsplit("/", 1)[-1]
        for d in _url_cache_dirs(cache_dir):
            if (d / name).is_file():
                return d / name
    return None


def _hf_cache_dir(cache_dir: str) -> str:
    if cache_dir:
        return cache_dir
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except ImportError:
        return "~/.cache/huggingface/hub"


def _url_cache_dirs(cache_dir: str) -> list[Path]:
    dirs = [Path(cache_dir).expanduser()] if cache_dir else []
    return dirs + [Path("~/.cache/clip").expanduser()]


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= 240 else line[:237] + "..."
