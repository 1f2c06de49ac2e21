"""``launcher.py train-simclip [--out PATH] [--epochs N] [--seed S] [--quick] [--workers N] [--threads N]``.

Renders the training crops, trains the SimCLIP image tower against the locked MiniLM text space,
evaluates it on the held-out splits and writes the fp16 weights plus the JSON model card
(``assets/models/simclip.pt`` / ``.json`` by default). ``--quick`` is a tiny run of seconds for
tests; it writes weights only when ``--out`` is given, so it never replaces the shipped ones.
"""
from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

from app.progress import run_with_progress
from app.simclip.train import TrainConfig, quick_config, train_simclip
from sim.errors import LabError

log = logging.getLogger(__name__)

__all__ = ["cmd_train_simclip", "config_from_args", "format_card"]


class TrainCommandError(LabError):
    """Bad arguments to ``train-simclip``."""


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The training config the command line asks for."""
    seed = int(getattr(args, "seed", 0) or 0)
    if seed < 0:
        raise TrainCommandError(f"--seed must be zero or positive, got {seed}")
    cfg = quick_config(seed) if getattr(args, "quick", False) else TrainConfig(seed=seed)
    if not getattr(args, "quick", False):
        cfg = replace(cfg, data=replace(cfg.data, seed=seed))
    epochs = getattr(args, "epochs", None)
    if epochs is not None:
        if epochs < 1:
            raise TrainCommandError(f"--epochs must be 1 or more, got {epochs}")
        cfg = replace(cfg, epochs=int(epochs))
    workers = getattr(args, "workers", None)
    if workers is not None:
        if workers < 1:
            raise TrainCommandError(f"--workers must be 1 or more, got {workers}")
        cfg = replace(cfg, data=replace(cfg.data, workers=int(workers)))
    threads = getattr(args, "threads", None)
    if threads is not None:
        if threads < 1:
            raise TrainCommandError(f"--threads must be 1 or more, got {threads}")
        cfg = replace(cfg, threads=int(threads))
    return cfg


def cmd_train_simclip(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    out: str | Path | None
    if args.out:
        out = Path(args.out)
        if out.suffix != ".pt":
            raise TrainCommandError(f"--out must name a .pt weights file, got {out}")
        if not out.parent.exists():
            raise TrainCommandError(f"--out folder {out.parent} does not exist")
    else:
        out = "" if args.quick else None
    result = run_with_progress(train_simclip(cfg, out), desc="train-simclip")
    if getattr(args, "json", False):
        print(json.dumps(result.card, indent=2))
    else:
        print(format_card(result.card, result.weights))
    return 0


def format_card(card: dict, weights: Path | None) -> str:
    """A short readable summary of a model card: data, training, held-out figures beside their baselines."""
    d = card["data"]
    rec = card["recipe"]
    lines = [f"data       {d['crops']} crops: train {d['train']['crops']} ({d['train']['categories']} categories), "
             f"held-out viewpoints {d['test_view']['crops']}, held-out looks {d['test_look']['crops']}",
             f"training   {rec['epochs']} epochs, {card['parameters'] / 1e6:.2f} M parameters, "
             f"losses {rec['epoch_losses'][0]:.3f} -> {rec['epoch_losses'][-1]:.3f}, "
             f"temperature {rec['final_temperature']}"]
    keys = ("category_top1", "colour_top1", "joint_top1", "implicit_recall5", "image_to_image_top1")
    for split, title in (("test_view", "held-out viewpoints"), ("test_look", "held-out looks")):
        m = card["metrics"].get(split)
        if not m:
            continue
        lines.append(f"{title}, {m['simclip']['crops']} crops (SimCLIP / random init / chance / text ceiling):")
        for k in keys:
            lines.append(f"  {k:<20} {m['simclip'][k]:.3f} / {m['random_init'][k]:.3f} / {m['chance'][k]:.3f} / "
                         f"{m['text_ceiling'][k]:.3f}")
    t = card["timing"]
    lines.append("time       " + ", ".join(f"{k[:-2]} {v:.0f} s" for k, v in t.items()))
    lines.append(f"wrote      {weights} and {weights.with_suffix('.json')}" if weights else "wrote      nothing "
                 "(--quick without --out)")
    return "\n".join(lines)
