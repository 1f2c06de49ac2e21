"""A BERT sentence encoder forward pass in numpy: the MiniLM weights without torch.

``sentence-transformers`` needs torch and transformers, whose imports alone take ~7 s and ~1 GB on
the 2-core machines (scikit-learn, scipy, torch.distributed and dynamo come with them). A text
query embeds one sentence: this module runs the same ``model.safetensors`` weights with the
folder's own ``tokenizer.json`` (the Rust ``tokenizers`` package) and plain numpy matrix products,
then mean-pools and L2-normalises as the sentence-transformers folder says. Its vectors match
sentence-transformers' to float32 rounding (cosine >= 0.99999 in the tests); it is used for
folders it can run exactly (``numpy_runnable``), the others go through sentence-transformers.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memory.errors import EncoderError

log = logging.getLogger(__name__)

__all__ = ["BertNumpy", "numpy_runnable"]

_MODULE_TYPES = (".Transformer", ".Pooling", ".Normalize")
_DEFAULT_MAX_TOKENS = 256  # sentence-transformers' own default when sentence_bert_config.json says none


def numpy_runnable(path: Path) -> str | None:
    """``None`` when the sentence-transformers folder ``path`` is a BERT + mean pooling (+ Normalize) model
    with safetensors weights and a ``tokenizer.json``, which ``BertNumpy`` runs exactly; else why not."""
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        types = [str(m.get("type", "")) for m in modules]
        if not types or not types[0].endswith(".Transformer") or not all(t.endswith(_MODULE_TYPES) for t in types):
            return f"modules {types} are not Transformer + Pooling (+ Normalize)"
        pooling = next((m for m in modules if str(m.get("type", "")).endswith(".Pooling")), None)
        if pooling is None:
            return "no Pooling module"
        pcfg = json.loads((path / pooling["path"] / "config.json").read_text(encoding="utf-8"))
        modes = sorted(k for k, v in pcfg.items() if k.startswith("pooling_mode") and v)
        if modes != ["pooling_mode_mean_tokens"]:
            return f"pooling {modes} is not mean pooling"
        if str(modules[0].get("path", "")) not in ("", "."):
            return "the transformer is not at the folder's top"
        cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
        if cfg.get("model_type") != "bert":
            return f"model_type {cfg.get('model_type')!r} is not bert"
        if cfg.get("hidden_act", "gelu") != "gelu" or cfg.get("position_embedding_type", "absolute") != "absolute":
            return "activation or position embeddings other than gelu / absolute"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        return f"cannot read the folder's configuration ({e.__class__.__name__}: {e})"
    for name in ("model.safetensors", "tokenizer.json"):
        if not (path / name).is_file():
            return f"no {name}"
    return None


class BertNumpy:
    """The BERT encoder of a sentence-transformers folder, run with numpy: ``embed(texts)`` gives
    mean-pooled, L2-normalised float32 rows. Not thread-safe (the caller holds a lock)."""

    def __init__(self, path: Path) -> None:
        why = numpy_runnable(path)
        if why is not None:
            raise EncoderError(f"cannot run {path} without torch: {why}")
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as e:
            raise EncoderError(f"the MiniLM encoder needs the packages safetensors and tokenizers: {e}") from e
        try:
            cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
            st_cfg_file = path / "sentence_bert_config.json"
            st_cfg = json.loads(st_cfg_file.read_text(encoding="utf-8")) if st_cfg_file.is_file() else {}
            weights = load_file(str(path / "model.safetensors"))
            tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        except Exception as e:  # noqa: BLE001 - a damaged folder, whatever the library raises
            raise EncoderError(f"cannot load the model in {path}: {e.__class__.__name__}: {e}") from e
        self.hidden = int(cfg["hidden_size"])
        self.heads = int(cfg["num_attention_heads"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        n_layers = int(cfg["num_hidden_layers"])
        max_pos = int(cfg.get("max_position_embeddings", 512))
        # sentence-transformers cuts at max_seq_length (not the tokenizer file's own truncation)
        self.max_tokens = min(int(st_cfg.get("max_seq_length") or _DEFAULT_MAX_TOKENS), max_pos)
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer = tokenizer
        self._threadpools: Any = None  # threadpoolctl's controller, made on first use
        w = {k.removeprefix("bert."): np.ascontiguousarray(v, dtype=np.float32)
             for k, v in weights.items() if v.dtype.kind == "f"}
        try:
            self._word = w["embeddings.word_embeddings.weight"]
            self._pos = w["embeddings.position_embeddings.weight"]
            self._type = w["embeddings.token_type_embeddings.weight"]
            self._emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
            self._layers = [self._layer(w, f"encoder.layer.{i}.") for i in range(n_layers)]
        except KeyError as e:
            raise EncoderError(f"the weights in {path} lack the BERT tensor {e}") from None

    @staticmethod
    def _layer(w: dict[str, np.ndarray], p: str) -> dict[str, Any]:
        a = p + "attention."
        # q, k and v in one product: (H, 3H), transposed once here rather than on every call
        qkv = np.concatenate([w[a + f"self.{n}.weight"] for n in ("query", "key", "value")]).T.copy()
        qkv_b = np.concatenate([w[a + f"self.{n}.bias"] for n in ("query", "key", "value")])
        return {
            "qkv": (qkv, qkv_b),
            "attn_out": (w[a + "output.dense.weight"].T.copy(), w[a + "output.dense.bias"]),
            "attn_ln": (w[a + "output.LayerNorm.weight"], w[a + "output.LayerNorm.bias"]),
            "ffn_in": (w[p + "intermediate.dense.weight"].T.copy(), w[p + "intermediate.dense.bias"]),
            "ffn_out": (w[p + "output.dense.weight"].T.copy(), w[p + "output.dense.bias"]),
            "ffn_ln": (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
        }

    @property
    def dim(self) -> int:
        return self.hidden

    def _blas_threads(self, threads: int) -> contextlib.AbstractContextManager[Any]:
        # OpenBLAS's threads spin-wait for each other: on a busy 2-core machine one short query on two
        # threads took 0.7-1.3 s instead of 64 ms.
        if threads <= 0:
            return contextlib.nullcontext()
        if self._threadpools is None:
            try:
                from threadpoolctl import ThreadpoolController

                self._threadpools = ThreadpoolController()
            except ImportError:
                self._threadpools = False
        if self._threadpools is False:
            return contextlib.nullcontext()
        return self._threadpools.limit(limits=threads, user_api="blas")

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, with ``[CLS]``/``[SEP]``, cut at ``max_tokens``."""
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str], batch_size: int = 64, threads: int = 0) -> np.ndarray:
        """Mean-pooled, L2-normalised ``(N, dim)`` float32 rows; ``threads`` > 0 caps the BLAS threads."""
        from memory.encoders.batching import embed_in_batches

        ids = self.tokenize(texts)
        return embed_in_batches(ids, self.hidden, self._forward, batches=_length_batches(ids, batch_size),
                                context=self._blas_threads(threads))

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        n, length = len(batch), max(len(t) for t in batch)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for i, t in enumerate(batch):
            ids[i, :len(t)] = t
            mask[i, :len(t)] = 1.0
        # Activations are kept 2-D (tokens x features): numpy multiplies 2-D arrays with BLAS, stacked ones slowly.
        x = (self._word[ids] + self._pos[:length][None] + self._type[0]).reshape(n * length, self.hidden)
        x = _layer_norm(x, *self._emb_ln, self.eps)
        # padded keys get the most negative float32 added, as transformers does
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        hd = self.hidden // self.heads
        scale = np.float32(1.0 / math.sqrt(hd))
        for L in self._layers:
            qkv = x @ L["qkv"][0]
            qkv += L["qkv"][1]
            q, k, v = (np.ascontiguousarray(qkv[:, j * self.hidden:(j + 1) * self.hidden]
                                            .reshape(n, length, self.heads, hd).transpose(0, 2, 1, 3))
                       for j in range(3))
            q *= scale
            scores = q @ k.transpose(0, 1, 3, 2)
            scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n * length, self.hidden)
            h = ctx @ L["attn_out"][0]
            h += L["attn_out"][1]
            h += x
            x = _layer_norm(h, *L["attn_ln"], self.eps)
            h = x @ L["ffn_in"][0]
            h += L["ffn_in"][1]
            h = _gelu(h)
            h = h @ L["ffn_out"][0]
            h += L["ffn_out"][1]
            h += x
            x = _layer_norm(h, *L["ffn_ln"], self.eps)
        x = x.reshape(n, length, self.hidden)
        summed = (x * mask[..., None]).sum(axis=1)
        return summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)


def _length_batches(ids: list[list[int]], batch_size: int) -> list[list[int]]:
    """Row indices in batches of similar token counts (longest first), at most ``batch_size`` each.

    Unlike sentence-transformers' fixed batches of the length-sorted texts, a batch also ends where
    the texts get less than half as long as its first: one 256-token caption among 63 short ones no
    longer pads them all to 256 (6.7 s of CPU instead of 0.1 s for such a batch here).
    """
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    batches: list[list[int]] = []
    for i in order:
        if batches and len(batches[-1]) < batch_size and 2 * len(ids[i]) >= len(ids[batches[-1][0]]):
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis; overwrites ``x``."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.mean(x * x, axis=-1, keepdims=True)
    var += np.float32(eps)
    x /= np.sqrt(var, out=var)
    x *= weight
    x += bias
    return x


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT's ``hidden_act: gelu``; overwrites ``x``."""
    e = _erf(x * np.float32(1.0 / math.sqrt(2.0)))
    e += np.float32(1.0)
    e *= np.float32(0.5)
    x *= e
    return x


# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, about float32's own rounding; numpy has no erf.
_P = np.float32(0.3275911)
_A = [np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)]


def _erf(x: np.ndarray) -> np.ndarray:
    """erf of a float32 array (returned in a new array, ``x`` kept)."""
    # erf(4) is 1 in float32; the clip also keeps exp() away from slow denormals
    ax = np.minimum(np.abs(x), np.float32(4.0))
    t = ax * _P
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    poly = t * _A[0]
    for a in _A[1:-1]:
        poly += a
        poly *= t
    poly += _A[-1]
    poly *= t
    np.square(ax, out=ax)
    np.negative(ax, out=ax)
    np.exp(ax, out=ax)
    poly *= ax
    np.subtract(np.float32(1.0), poly, out=poly)
    return np.copysign(poly, x, out=poly)
