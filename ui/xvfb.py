"""A private X server (Xvfb) for GL work without a display: tests, benchmarks, screenshots.

``private_display()`` starts ``Xvfb -displayfd`` (the server picks a free display number and
writes it back, so parallel runs never collide), yields ``":N"`` and always stops the server.
No Qt here: callers set ``DISPLAY`` for a subprocess, or for themselves before creating a
``QApplication``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator

from sim.errors import BackendUnavailable

log = logging.getLogger(__name__)

__all__ = ["private_display", "XVFB_SCREEN"]

XVFB_SCREEN = "1600x1000x24"


@contextlib.contextmanager
def private_display(screen: str = XVFB_SCREEN, timeout: float = 20.0) -> Iterator[str]:
    """Run a private Xvfb for the duration of the block; yields its display name (``":N"``)."""
    exe = shutil.which("Xvfb")
    if exe is None:
        raise BackendUnavailable("Xvfb is not installed: run 'python3 launcher.py setup' as root "
                                 "(or 'apt-get install xvfb xauth') for GL tests and benchmarks")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([exe, "-displayfd", str(write_fd), "-screen", "0", screen, "-nolisten", "tcp",
                             "-noreset"], pass_fds=(write_fd,), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    os.close(write_fd)
    try:
        number = _read_display(read_fd, proc, timeout)
        display = f":{number}"
        log.info("Xvfb %s started (pid %d)", display, proc.pid)
        yield display
    finally:
        os.close(read_fd)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stderr is not None:
            proc.stderr.close()


def _read_display(fd: int, proc: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 64)
            buf += chunk
            if buf.endswith(b"\n") or (not chunk and buf):
                return buf.decode().strip()
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr is not None else ""
            raise BackendUnavailable(f"Xvfb exited with code {proc.returncode}: {err.strip()[-300:]}")
    raise BackendUnavailable(f"Xvfb did not report a display within {timeout:.0f} s")
