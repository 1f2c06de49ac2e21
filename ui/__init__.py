"""The desktop app (PySide6, pyqtgraph): the only package that imports Qt or GL.

Importing ``ui`` loads triton (torch's compiler, pulled in by the text encoder) first when it is
installed: triton carries its own LLVM, and loading it after Mesa's llvmpipe (the software GL of
Xvfb and many VMs) has loaded another LLVM crashes the process. Loading it before any GL context
exists is safe and costs a fraction of a second.
"""
from __future__ import annotations

import importlib.util


def _preload_triton() -> None:
    if importlib.util.find_spec("triton") is None:
        return
    try:
        import triton  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken triton only matters to torch.compile, not to us
        pass


_preload_triton()
