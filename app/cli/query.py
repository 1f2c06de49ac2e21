"""``launcher.py query MEM.db "question" [--top-k K] [--retriever forest|flat|llm] [--generator template|llm]
[--image PATH] [--batch FILE] [--robot x,y[,floor]] [--priors PACK.yaml ...] [--config YAML] [--json]``.

One question (text, an image, or both) prints the answer and the hits (``--json``: the
DESIGN.md shape); ``--batch FILE`` answers one question per line as JSON lines, loading the
memory and the models once - a line that cannot be answered gets an ``"error"`` object and the
command exits with 2 after the others. Bad input raises ``LabError`` subclasses, which the
launcher prints as one line (exit code 2); an LLM that fails falls back to the template answer.
"""
from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.config import LabConfig, load_lab_config
from app.progress import Progress, run_with_progress
from app.query import QueryEngine, QueryRequest, QueryResponse, load_query_image
from memory.core import EmbodiedMemory
from memory.llm import ChatClient
from memory.priors import PriorPack, merge_packs, pack_from_dict
from memory.query import MAX_QUERY_CHARS
from memory.retrieval import RobotPose
from sim.errors import LabError
from sim.yaml_safe import safe_load_yaml

log = logging.getLogger(__name__)

__all__ = ["cmd_query", "QueryCommandError", "BatchLine", "iter_batch", "count_batch", "format_response",
           "MAX_BATCH_LINE_BYTES"]

MAX_BATCH_LINE_BYTES = 4 * MAX_QUERY_CHARS + 4  # no question over MAX_QUERY_CHARS fits in fewer UTF-8 bytes


class QueryCommandError(LabError):
    """Bad arguments or input files of ``query``."""


@dataclass(frozen=True)
class BatchLine:
    """One question of a batch file: its line number, its text, and whether the line was cut at
    ``MAX_BATCH_LINE_BYTES`` (a question over the length limit; only its start is kept)."""

    line: int
    text: str
    too_long: bool = False


def iter_batch(path: str | Path) -> Iterator[BatchLine]:
    """The questions of a batch file, read line by line (never whole): blank lines skipped, strict UTF-8."""
    p = Path(path)
    try:
        f = open(p, "rb")
    except FileNotFoundError:
        raise QueryCommandError(f"batch file {p} does not exist") from None
    except IsADirectoryError:
        raise QueryCommandError(f"batch file {p} is a folder") from None
    except OSError as e:
        raise QueryCommandError(f"cannot read batch file {p}: {e.strerror or e}") from None
    with f:
        n = 0
        while raw := f.readline(MAX_BATCH_LINE_BYTES + 1):
            n += 1
            too_long = len(raw) > MAX_BATCH_LINE_BYTES
            rest, raw = raw, raw[:MAX_BATCH_LINE_BYTES]
            while rest and not rest.endswith(b"\n") and too_long:  # skip the rest of an over-long line
                rest = f.readline(1 << 20)
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8", errors="ignore" if too_long else "strict")
            except UnicodeDecodeError as e:
                raise QueryCommandError(f"batch file {p} is not UTF-8 text: byte 0x{raw[e.start]:02x} on line {n} "
                                        "cannot be decoded") from None
            if text.strip():
                yield BatchLine(n, text.strip(), too_long)


def count_batch(path: str | Path) -> int:
    """How many questions a batch file holds; reads it through once, so a bad line fails before any model loads."""
    n = sum(1 for _ in iter_batch(path))
    if n == 0:
        raise QueryCommandError(f"batch file {path} holds no questions (one question per line; blank lines "
                                "are skipped)")
    return n


def _load_packs(paths: list[str]) -> list[PriorPack]:
    """The user's prior packs, read with the bounded YAML loader (size, nesting and aliases limited)."""
    return [pack_from_dict(safe_load_yaml(f), str(f)) for f in paths]


def _llm_client(config: LabConfig, retriever: str, generator: str) -> ChatClient | None:
    needs = [f"--{flag} llm" for flag, name in (("retriever", retriever), ("generator", generator)) if name == "llm"]
    if not needs:
        return ChatClient(config.llm) if config.llm is not None else None
    if config.llm is None:
        raise QueryCommandError(f"{' and '.join(needs)} needs an LLM server: add an 'llm' section "
                                "(base_url, model) to a --config YAML file")
    return ChatClient(config.llm)


def _check_image_support(memory: EmbodiedMemory, db: str, config: LabConfig) -> None:
    made_by = memory.meta.get("image_encoder")
    if config.memory.image_encoder is None or memory.image_encoder is None:
        held = f" (its image vectors were made by {made_by!r})" if made_by else " (it holds no image vectors)"
        raise QueryCommandError(
            f"--image needs an image encoder: {db} cannot be searched by image{held}; set memory.image_encoder "
            "in a --config YAML (type: simclip, the project's offline image encoder, or openclip with weights) "
            "and explore again with that config")
    if not memory.image.vec:
        raise QueryCommandError(
            f"--image: {db} holds no image vectors of the configured encoder {memory.image_encoder.id!r}"
            + (f" (they were made by {made_by!r})" if made_by else "") + "; explore again with that encoder")


def format_response(resp: QueryResponse) -> str:
    """A readable answer with its hits."""
    d = resp.to_json()
    lines = [f"answer   {d['answer']}"]
    if d["goal"] is not None:
        g = d["goal"]
        lines.append(f"goal     ({g[0]:.2f}, {g[1]:.2f}, {g[2]:.2f}) floor {d['goal_floor']}")
    gen = d["generator"] + (" (fallback)" if d["answer_metadata"].get("fallback") else "")
    lines.append(f"type     {d['query_type']} · {d['retriever']} · {gen} · {d['latency_ms']:.1f} ms"
                 + (f" · {d['llm_calls']} LLM calls" if d["llm_calls"] else ""))
    if d["answer_metadata"].get("fallback"):
        lines.append(f"note     {d['answer_metadata'].get('reason', '')}")
    for n in d["notes"]:
        lines.append(f"note     {n}")
    if d["hits"]:
        lines.append("hits")
        for i, h in enumerate(d["hits"], 1):
            text = h["text"] if h["text"] and h["text"] != h["name"] else ""
            text = text if len(text) <= 90 else text[:89] + "…"
            lines.append(f"  {i:2d}. {h['id']:<22} {h['score']:7.3f}  {h['name']}" + (f" - {text}" if text else ""))
    return "\n".join(lines)


def cmd_query(args: argparse.Namespace) -> int:
    """Answer a question, an image query, or a batch file of questions about a memory file."""
    batch = getattr(args, "batch", None)
    image_path = getattr(args, "image", None)
    if batch and args.question is not None:
        raise QueryCommandError("give either a question or --batch FILE, not both")
    if batch and image_path:
        raise QueryCommandError("--image cannot be combined with --batch")
    if not batch and args.question is None and not image_path:
        raise QueryCommandError('ask a question: query MEM.db "where is the sofa?" '
                                "(or use --batch FILE or --image PATH)")
    if args.question is not None and not args.question.strip() and not image_path:
        raise QueryCommandError("the question is empty")
    if args.question is not None and len(args.question) > MAX_QUERY_CHARS:
        raise QueryCommandError(f"the question is {len(args.question)} characters long; the limit is {MAX_QUERY_CHARS}")
    if args.question is not None and not _is_text(args.question):
        raise QueryCommandError("the question is not UTF-8 text (the shell passed bytes that are not characters)")
    if not 1 <= args.top_k <= 100:
        raise QueryCommandError(f"--top-k must be 1..100, got {args.top_k}")
    robot = RobotPose.parse(args.robot) if getattr(args, "robot", None) else None
    config = load_lab_config(args.config)
    retriever = args.retriever or config.query.retriever
    generator = args.generator or config.query.generator
    total = count_batch(batch) if batch else 0
    image = load_query_image(image_path) if image_path else None
    db = args.db
    if not Path(db).exists():
        raise QueryCommandError(f"memory file {db} does not exist (make one with 'explore' or 'import-gml')")
    client = _llm_client(config, retriever, generator)
    packs = _load_packs(getattr(args, "priors", None) or [])
    with EmbodiedMemory.open(db, config.memory, create=False, readonly=True) as memory:
        if packs:  # the user's knowledge first, then what the memory was built with
            memory.priors = merge_packs([*packs, memory.priors])
        if image is not None:
            _check_image_support(memory, db, config)
        engine = QueryEngine(memory, config=config.query, llm=client).warm()

        def request(text: str | None) -> QueryRequest:
            return QueryRequest(text=text, image=image, retriever=retriever, generator=generator,
                                top_k=args.top_k, robot=robot)

        if not batch:
            resp = engine.ask(request(args.question))
            print(json.dumps(resp.to_json(), ensure_ascii=False) if args.json else format_response(resp))
            return 0
        failed = run_with_progress(_answer_batch(engine, batch, total, request),
                                   desc="questions")
    if failed:
        raise QueryCommandError(f"{failed} of {total} questions in {batch} could not be answered "
                                "(see their \"error\" lines)")
    return 0


def _answer_batch(engine: QueryEngine, batch: str, total: int,
                  request: Callable[[str], QueryRequest]) -> Generator[Progress, None, int]:
    """Answer a batch file line by line, printing one JSON line each; returns how many failed."""
    failed = 0
    for done, q in enumerate(iter_batch(batch), 1):
        try:
            if q.too_long:
                raise QueryCommandError(f"the question is over {MAX_BATCH_LINE_BYTES} bytes long; the limit is "
                                        f"{MAX_QUERY_CHARS} characters")
            out = engine.ask(request(q.text)).to_json()
        except LabError as e:
            failed += 1
            out = {"query": q.text[:200], "line": q.line, "error": str(e)}
        print(json.dumps(out, ensure_ascii=False), flush=True)
        yield Progress("questions", done, total, f"{failed} failed" if failed else "")
    return failed


def _is_text(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
