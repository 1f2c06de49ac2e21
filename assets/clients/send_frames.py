#!/usr/bin/env python3
"""Feed a served memory with RGB-D frames and ask it a question - an example client of ``launcher.py serve``.

A robot needs only numpy, Pillow and the standard library to use ``encode_frame`` and ``post``
below: each frame is one ``POST /observations`` with the colour image, the depth image, the camera
intrinsics and the robot's pose (and, when the robot has them, per-pixel instance ids with their
labels, or a caption). The format is documented in ``app/service/frames.py`` and on ``/docs``.

Demo with the lab's own simulator as the robot (run from the repository root)::

    python launcher.py serve new.db --create &
    python assets/clients/send_frames.py --scene rooms:n=3,seed=1 --steps 150 --ask "where can I sleep?"

Options: ``--url`` (default http://127.0.0.1:8765), ``--token`` (or the environment variable
``LAB_TOKEN``) for a server started with ``--token``, ``--png-depth`` to send depth as a 16-bit PNG
in millimetres (what most RGB-D cameras give) instead of exact float32.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np
from PIL import Image


def _png(a: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _raw(a: np.ndarray, dtype: str, code: str) -> dict[str, Any]:
    a = np.ascontiguousarray(a, dtype=np.dtype(code))
    return {"dtype": dtype, "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def encode_frame(rgb: np.ndarray, depth_m: np.ndarray, *, x: float, y: float, z: float = 0.0, yaw: float = 0.0,
                 floor: int = 0, hfov_deg: float, timestamp: float, sensor_height: float = 1.25,
                 instance: np.ndarray | None = None, labels: dict[int, str | dict[str, str]] | None = None,
                 caption: str | None = None, png_depth: bool = False) -> dict[str, Any]:
    """One frame as the JSON body of ``POST /observations``.

    ``rgb`` (H, W, 3) uint8; ``depth_m`` (H, W) z-depth in metres, 0 where unknown; the pose is the
    robot's base (z-up world, yaw in radians from +x); the camera is a centred pinhole with square
    pixels, level, ``sensor_height`` m above the base. ``instance`` (H, W) holds object ids (0 = none)
    and ``labels`` names them: ``{3: "chair"}`` or ``{3: {"category": "chair", "colour": "red"}}``.
    """
    h, w = depth_m.shape
    frame: dict[str, Any] = {
        "rgb": _png(np.asarray(rgb, dtype=np.uint8)),
        "depth": (_png(np.clip(np.round(depth_m * 1000.0), 0, 65535).astype(np.uint16)) if png_depth
                  else _raw(depth_m, "float32", "<f4")),
        "depth_scale": 0.001,
        "pose": {"x": float(x), "y": float(y), "z": float(z), "yaw": float(yaw), "floor": int(floor)},
        "camera": {"hfov_deg": float(hfov_deg), "width": int(w), "height": int(h), "sensor_height": sensor_height},
        "timestamp": float(timestamp),
    }
    if instance is not None:
        frame["instance"] = _raw(instance, "int32", "<i4")
        visible = set(np.unique(instance).tolist())
        frame["labels"] = {str(k): v for k, v in (labels or {}).items() if k in visible}
    if caption:
        frame["caption"] = caption
    return frame


def post(url: str, path: str, body: dict | None, token: str | None = None, timeout: float = 60.0) -> dict:
    """POST (or GET when ``body`` is None) JSON; raises ``SystemExit`` with the server's one-line error."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method="POST" if data is not None else "GET")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        try:
            message = json.loads(e.read()).get("error", e.reason)
        except ValueError:
            message = e.reason
        raise SystemExit(f"error: {path}: {e.code} {message}") from None
    except urllib.error.URLError as e:
        raise SystemExit(f"error: cannot reach {url}: {e.reason} (is 'launcher.py serve' running?)") from None


def simulated_frames(spec: str, steps: int, png_depth: bool):
    """Frames of the lab's simulator driven by its frontier explorer (the demo robot)."""
    from sim.explore import FrontierExplorer
    from sim.simulator import SimConfig, make_simulator

    sim = make_simulator(SimConfig(), spec)
    with sim:
        obs = sim.reset()
        policy = FrontierExplorer.for_simulator(sim)
        for _ in range(steps + 1):
            p, cam = obs.pose, obs.camera
            labels = {k: {"category": o.category, "colour": o.colour, "material": o.material}
                      for k, o in obs.objects.items()}
            yield encode_frame(obs.rgb, obs.depth, x=p.x, y=p.y, z=p.z, yaw=p.yaw, floor=p.floor,
                               hfov_deg=cam.hfov_deg, sensor_height=cam.sensor_height, timestamp=obs.timestamp,
                               instance=obs.instance, labels=labels, png_depth=png_depth)
            action = policy.act(obs)
            if action is None:
                break
            obs = sim.step(action)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8765")
    ap.add_argument("--token", default=os.environ.get("LAB_TOKEN"))
    ap.add_argument("--scene", default="rooms:n=3,seed=1", help="world the simulated robot explores")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--png-depth", action="store_true", help="send depth as a 16-bit PNG in millimetres")
    ap.add_argument("--ask", default="where can I sleep?", help="question to ask once the frames are in")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    n = 0
    for frame in simulated_frames(args.scene, args.steps, args.png_depth):
        out = post(args.url, "/observations", frame, args.token)
        n += 1
        if out.get("new_objects"):
            print(f"frame {out['frame']}: new {', '.join(out['new_objects'])}", file=sys.stderr)
    dt = time.perf_counter() - t0
    done = post(args.url, "/checkpoint", {}, args.token)
    print(f"sent {n} frames in {dt:.1f} s ({n / max(dt, 1e-9):.1f} frames/s); memory: {done['stats']}")
    if args.ask:
        a = post(args.url, "/query", {"text": args.ask}, args.token)
        print(f"{args.ask} -> {a['answer']} (found: {a['found']}, {a['latency_ms']:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
