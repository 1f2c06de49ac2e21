#!/usr/bin/env python3
"""Embodied-RAG Lab command line: ``python launcher.py [command] ...`` (default: ``gui``).

Only the standard library is imported here; each command imports what it needs when it runs,
so ``setup`` works before anything is installed and only ``gui`` loads Qt.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

PROG = "launcher.py"

# command -> "module:function"; each function takes the parsed namespace and returns an exit code.
HANDLERS = {
    "setup": "app.bootstrap:cli",
    "gui": "ui.app:run_gui",
    "world": "app.cli.world:cmd_world",
    "drive": "app.cli.drive:cmd_drive",
    "explore": "app.cli.explore:cmd_explore",
    "import-gml": "app.cli.memory:cmd_import_gml",
    "memory": "app.cli.memory:cmd_memory",
    "query": "app.cli.query:cmd_query",
    "navigate": "app.cli.eval:cmd_navigate",
    "run": "app.cli.eval:cmd_run",
    "eval": "app.cli.eval:cmd_eval",
    "bench": "app.cli.bench:cmd_bench",
    "serve": "app.cli.serve:cmd_serve",
    "mcp": "app.cli.serve:cmd_mcp",
    "train-simclip": "app.cli.simclip:cmd_train_simclip",
}


class CliError(Exception):
    """A usage error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line instead of usage + message
        raise CliError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Embodied-RAG Lab: a robot explores 3D worlds and remembers them.")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    s = sub.add_parser("setup", help="install system packages (when root) and the .venv")
    s.add_argument("--dev", action="store_true", help="also install the test tools")
    s.add_argument("--skip-apt", action="store_true", help="do not check or install system packages")

    s = sub.add_parser("gui", help="open the desktop app (default)")
    s.add_argument("--scene", help="scene spec to open, e.g. house:seed=3,rooms=6")
    s.add_argument("--memory", help="memory file (.db) to open")
    s.add_argument("--screenshot", help="save a screenshot of the window to this PNG and quit")
    s.add_argument("--explore-steps", type=int, default=0, help="explore this many steps at start")
    s.add_argument("--query", help="ask this question once the start-up exploration is done")

    s = sub.add_parser("world", help="generate or load a world; write mesh, semantics and a map")
    s.add_argument("spec", help="house:seed=3,rooms=6 | office:seed=1 | multifloor:seed=2,floors=2 | "
                   "campus:seed=4 | path to .glb/.gltf/.ply/.obj")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")

    s = sub.add_parser("drive", help="drive the robot (explore, waypoints or keys); write a map and coverage")
    s.add_argument("--scene", required=True, help="scene spec")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--explore", action="store_true", help="frontier exploration until nothing is left")
    g.add_argument("--waypoints", help="'x,y;x,y;...' or a file with one 'x y [floor]' per line")
    g.add_argument("--teleop", action="store_true", help="read w/a/s/d/q (+Enter) from the terminal")
    s.add_argument("--steps", type=int, default=3000, help="maximum number of steps")
    s.add_argument("--out", help="folder for the trajectory map PNG and frames")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("explore", help="explore a world headless and write a memory file")
    s.add_argument("--scene", required=True, help="scene spec")
    s.add_argument("--steps", type=int, default=1500, help="maximum number of steps")
    s.add_argument("--out", required=True, help="memory file to write (.db)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--config", help="YAML file with memory/perception settings")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("import-gml", help="import an Embodied-RAG graph/forest GML file")
    s.add_argument("file", help=".gml file")
    s.add_argument("--out", required=True, help="memory file to write (.db)")
    s.add_argument("--keep-forest", action="store_true", help="keep the file's clusters instead of rebuilding")

    s = sub.add_parser("memory", help="inspect or export a memory file")
    msub = s.add_subparsers(dest="memory_command", parser_class=_Parser, metavar="ACTION", required=True)
    m = msub.add_parser("info", help="counts per level and kind, encoder, size, top summaries")
    m.add_argument("db")
    m.add_argument("--json", action="store_true")
    m = msub.add_parser("export-gml", help="write the memory in the Embodied-RAG GML format")
    m.add_argument("db")
    m.add_argument("--out", required=True, help=".gml file to write")
    m.add_argument("--force", action="store_true", help="replace an existing file that is not a GML file")

    s = sub.add_parser("query", help="ask the memory a question")
    s.add_argument("db", help="memory file (.db)")
    s.add_argument("question", nargs="?", help="the question (or use --batch / --image)")
    s.add_argument("--top-k", type=int, default=5)
    s.add_argument("--retriever", choices=["forest", "flat", "llm"], default=None,
                   help="default: forest (or the config's query.retriever)")
    s.add_argument("--generator", choices=["template", "llm"], default=None)
    s.add_argument("--image", help="query by image (PNG/JPEG)")
    s.add_argument("--batch", help="file with one question per line; JSON lines out")
    s.add_argument("--robot", help="robot position 'x,y[,floor]' for the spatial prior and path lengths")
    s.add_argument("--priors", action="append", default=[], metavar="PACK.yaml",
                   help="a prior pack (synonyms, needs, region types) added to the memory's own; may repeat")
    s.add_argument("--config", help="YAML file with encoder/LLM settings")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("navigate", help="answer a question and drive the robot to the answer")
    s.add_argument("--scene", required=True, help="scene spec (the world the memory was built in)")
    s.add_argument("db", help="memory file (.db)")
    s.add_argument("question")
    s.add_argument("--retriever", choices=["forest", "flat", "llm"], default="forest")
    s.add_argument("--categories", nargs="+", metavar="CAT",
                   help="world categories that satisfy the question (without them, a question that names no "
                        "object is not judged)")
    s.add_argument("--out", help="folder for a map of the route")
    s.add_argument("--config", help="YAML file with encoder/LLM settings")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("serve", help="serve a memory file over HTTP (query it, feed it RGB-D frames)")
    s.add_argument("db", help="memory file (.db)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need --token)")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--token", help="bearer token every request must carry (required off localhost)")
    s.add_argument("--readonly", action="store_true", help="answer questions only; refuse frames")
    s.add_argument("--create", action="store_true", help="start a new empty memory when the file does not exist")
    s.add_argument("--max-body-mb", type=float, default=64.0, help="largest request body (MiB)")
    s.add_argument("--max-pixels", type=int, default=4_000_000, help="largest image (pixels)")
    s.add_argument("--config", help="YAML file with memory/perception/LLM settings")

    s = sub.add_parser("mcp", help="serve a memory file to LLM agents over MCP (stdio)")
    s.add_argument("db", help="memory file (.db)")
    s.add_argument("--config", help="YAML file with encoder/LLM settings")

    s = sub.add_parser("run", help="run a scenario YAML file")
    s.add_argument("scenario", help="scenario .yaml")
    s.add_argument("--out", help="output folder (default: out/<scenario name>)")

    s = sub.add_parser("eval", help="evaluate retrievers on suites of worlds and generated queries")
    s.add_argument("--suite", default="smoke", help="suite name (smoke, standard, building99, cmu500)")
    s.add_argument("--scenes", nargs="+", help="explicit scene specs instead of a suite")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--workers", type=int, default=1, help="parallel workers (Ray) when > 1")
    s.add_argument("--ray-address", help="Ray cluster address (default: local Ray)")
    s.add_argument("--retrievers", nargs="+",
                   help="systems to compare (default: random flat flat+analysis forest-analysis forest [llm])")
    s.add_argument("--split", choices=["dev", "test"], help="question bank split (default: the suite's, test)")
    s.add_argument("--perception", nargs="+", choices=["oracle", "clip", "geometric"],
                   help="perception modes (default: the suite's; standard runs oracle and clip; geometric reads "
                        "no ground truth: noisy depth, drifting pose)")
    s.add_argument("--config", help="YAML file with LLM/retrieval settings (an 'llm' section adds the llm retriever)")

    s = sub.add_parser("bench", help="benchmarks that print figures")
    s.add_argument("what", nargs="?", default="all",
                   choices=["sim", "memory", "retrieval", "gui", "simclip", "perception", "serve", "startup", "soak",
                            "all"])
    s.add_argument("--json", action="store_true")
    s.add_argument("--quick", action="store_true", help="fewer repetitions")

    s = sub.add_parser("train-simclip", help="train the offline SimCLIP image encoder")
    s.add_argument("--out", help="weights file (default: assets/models/simclip.pt)")
    s.add_argument("--epochs", type=int, default=None)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quick", action="store_true", help="tiny run (seconds), for tests")
    s.add_argument("--workers", type=int, default=None, help="render processes (default 2)")
    s.add_argument("--threads", type=int, default=None, help="torch threads (default 2; 1 on a busy machine)")
    s.add_argument("--json", action="store_true", help="print the model card as JSON")
    return p


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else (logging.INFO if verbose == 1 else logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _resolve(target: str):
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:  # the app is the default command
            args = parser.parse_args(argv + ["gui"])
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    _setup_logging(args.verbose)
    try:
        handler = _resolve(HANDLERS[args.command])
        return int(handler(args) or 0)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - the boundary: one line for the user, details in a log
        lab_error = _lab_error_type()
        if lab_error is not None and isinstance(e, lab_error):
            print(f"error: {e}", file=sys.stderr)
            return 2
        log_path = _write_crash_log()
        print(f"error: internal error ({e.__class__.__name__}: {e}); details in {log_path}", file=sys.stderr)
        return 1


def _lab_error_type():
    mod = sys.modules.get("sim.errors")
    return getattr(mod, "LabError", None) if mod else None


def _write_crash_log() -> str:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "embodied-rag-lab"
    try:
        base.mkdir(parents=True, exist_ok=True)
        path = base / "last-error.log"
        path.write_text(traceback.format_exc(), encoding="utf-8")
        return str(path)
    except OSError:
        return "(log not writable)"


if __name__ == "__main__":
    sys.exit(main())
