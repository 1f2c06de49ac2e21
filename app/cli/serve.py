"""``launcher.py serve MEM.db [--host H] [--port P] [--token T] [--readonly] [--create]``, ``launcher.py mcp MEM.db``.

``serve`` runs the HTTP API (``app.service.http``) under uvicorn; it binds to 127.0.0.1 unless
told otherwise, and any other address needs ``--token`` (bearer auth on every route). ``mcp``
runs the MCP server (``app.service.mcp``) on stdio for an LLM agent; it reads the memory file
read-only, so it can run beside a ``serve`` process that owns the file.
"""
from __future__ import annotations

import os

# Before numpy loads: a served memory answers many small questions at once, and BLAS threads per
# question oversubscribe the cores (measured on 2 cores: 16 clients got 5 q/s with the default BLAS
# threads, 95 q/s with one). Torch keeps its own setting (the encoder's ``threads``).
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

from app.config import load_lab_config  # noqa: E402
from app.service.core import MemoryService  # noqa: E402
from app.service.frames import Limits  # noqa: E402
from app.service.net import is_loopback  # noqa: E402
from sim.errors import LabError  # noqa: E402

log = logging.getLogger(__name__)

__all__ = ["ServeError", "check_bind", "cmd_serve", "cmd_mcp", "is_loopback", "MIN_TOKEN_CHARS"]

MIN_TOKEN_CHARS = 16


class ServeError(LabError):
    """Bad arguments of ``serve`` / ``mcp`` (an unsafe bind, a busy port, a short token)."""


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token, or with a token too short to guess hard."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ServeError(f"--token must be at least {MIN_TOKEN_CHARS} characters "
                         "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')")
    if not is_loopback(host) and token is None:
        raise ServeError(f"serving on {host} exposes the memory beyond this machine: give --token T "
                         "(clients then send 'Authorization: Bearer T'), or keep the default --host 127.0.0.1")


def _check_port(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise ServeError(f"--port must be 1..65535, got {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise ServeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve a memory file over HTTP until interrupted."""
    check_bind(args.host, args.token)
    _check_port(args.host, args.port)
    try:
        import uvicorn

        from app.service.http import create_app
    except ImportError as e:
        raise ServeError(f"serve needs fastapi and uvicorn ({e.name} is missing): pip install -e .") from None
    config = load_lab_config(args.config)
    limits = Limits(max_body_bytes=int(args.max_body_mb * 1024 * 1024), max_pixels=args.max_pixels)
    service = MemoryService.open(args.db, config=config, readonly=args.readonly, create=args.create, limits=limits)
    try:
        service.warm()
        app = create_app(service, token=args.token)
        mode = "read-only" if args.readonly else "taking frames"
        print(f"serving {args.db} ({mode}) on http://{args.host}:{args.port} - API docs at /docs; Ctrl-C stops",
              file=sys.stderr, flush=True)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning" if args.verbose == 0 else "info",
                    access_log=args.verbose > 0)
    finally:
        service.close()  # checkpoints what came in since the last one
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    """Run the MCP server on stdio over a memory file (read-only)."""
    try:
        from app.service.mcp import build_mcp_server
    except ImportError as e:
        raise ServeError(f"mcp needs the mcp package ({e.name} is missing): pip install -e .") from None
    config = load_lab_config(args.config)
    with MemoryService.open(args.db, config=config, readonly=True) as service:
        service.warm()
        build_mcp_server(service).run("stdio")
    return 0
