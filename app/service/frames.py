"""The frame format of ``POST /observations``: one RGB-D view with its camera and pose.

A frame is JSON (all arrays little-endian, row-major)::

    {
      "rgb":   "<base64 PNG or JPEG>"  |  {"dtype": "uint8", "shape": [H, W, 3], "data": "<base64>"},
      "depth": "<base64 16-bit PNG>"   |  {"dtype": "float32" | "float16" | "uint16", "shape": [H, W], "data": ...},
      "depth_scale": 0.001,            # metres per unit of an integer depth (16-bit PNG, uint16); z-depth, 0 = none
      "pose":   {"x": 1.0, "y": 2.0, "z": 0.0, "yaw": 0.5, "floor": 0},   # robot base, metres / radians, z-up
      "camera": {"hfov_deg": 90} | {"fx": 160.0},    # plus optional cy/cx/fy (checked), sensor_height, max_depth
      "timestamp": 12.5,               # seconds on the sender's clock
      "instance": optional 8/16-bit PNG or {"dtype": "uint8|uint16|int32", ...}: per-pixel object ids, 0 = none,
      "labels":   optional {"<id>": "chair" | {"category": "chair", "colour": "red", "material": "wooden"}},
      "caption":  optional text describing the view (replaces perception's own caption),
      "step":     optional step number
    }

The camera model is the memory's: a centred pinhole with square pixels, level (zero pitch),
``sensor_height`` metres above the pose. ``decode_frame`` turns a frame into the same
``sim.types.Observation`` the simulator produces, so HTTP frames take the exploration path
(``EmbodiedMemory.ingest``) unchanged; ``encode_frame`` is the inverse a client uses.
"""
from __future__ import annotations

import base64
import binascii
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from app.service.errors import BadRequest, PayloadTooLarge
from sim.types import CameraSpec, ObjectInfo, Observation, Pose

__all__ = ["Limits", "RawArray", "PoseBody", "CameraBody", "FrameBody", "Frame", "decode_frame", "encode_frame",
           "decode_image", "MAX_CAPTION_CHARS"]

MAX_CAPTION_CHARS = 2000
_RAW_DTYPES = {"uint8": "<u1", "uint16": "<u2", "int32": "<i4", "uint32": "<u4", "float16": "<f2", "float32": "<f4"}
_FIELD_DTYPES = {"rgb": ("uint8",), "depth": ("float32", "float16", "uint16"),
                 "instance": ("uint8", "uint16", "int32", "uint32")}


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one request may carry."""

    max_body_bytes: int = 64 * 1024 * 1024
    max_pixels: int = 4_000_000  # per image (e.g. 2560 x 1440 is 3.7 MP)
    max_labels: int = 10_000


class RawArray(BaseModel):
    """A raw little-endian array: ``dtype``, ``shape`` and the base64 of its bytes."""

    model_config = ConfigDict(extra="forbid")
    dtype: str
    shape: list[int]
    data: str


class PoseBody(BaseModel):
    """The robot base in the world frame (z-up, metres; ``yaw`` in radians, 0 along +x)."""

    model_config = ConfigDict(extra="forbid")
    x: float
    y: float
    z: float = 0.0
    yaw: float = 0.0
    floor: int = 0


class CameraBody(BaseModel):
    """Pinhole intrinsics: ``hfov_deg`` or ``fx`` (``fy``, ``cx``, ``cy`` are checked against the model)."""

    model_config = ConfigDict(extra="forbid")
    hfov_deg: float | None = None
    fx: float | None = None
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None
    width: int | None = None
    height: int | None = None
    sensor_height: float = 1.25
    max_depth: float = 20.0


class FrameBody(BaseModel):
    """One RGB-D observation (see the module docstring of ``app.service.frames``)."""

    model_config = ConfigDict(extra="forbid")
    rgb: str | RawArray
    depth: str | RawArray
    pose: PoseBody
    camera: CameraBody
    timestamp: float
    depth_scale: float = 0.001
    instance: str | RawArray | None = None
    labels: dict[str, str | dict[str, str]] | None = None
    caption: str | None = Field(default=None, max_length=MAX_CAPTION_CHARS)
    step: int | None = None


@dataclass(frozen=True)
class Frame:
    """A decoded frame: the observation for the memory and the sender's caption, if any."""

    observation: Observation
    caption: str | None = None


def _b64(data: str, field: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{field}: not valid base64") from None


def decode_image(data: str, field: str, limits: Limits) -> np.ndarray:
    """A base64 PNG or JPEG as an array (RGB uint8, or the PNG's own 8/16-bit grey levels for ``mode != RGB``)."""
    from PIL import Image, UnidentifiedImageError

    raw = _b64(data, field)
    try:
        with Image.open(io.BytesIO(raw), formats=["PNG", "JPEG"]) as im:
            w, h = im.size
            if w * h > limits.max_pixels:
                raise PayloadTooLarge(f"{field}: {w}x{h} pixels is over the limit of {limits.max_pixels}")
            im.load()
            if field == "rgb" or field == "image":
                return np.asarray(im.convert("RGB"), dtype=np.uint8)
            if im.mode not in ("L", "I;16", "I;16B", "I;16L", "I", "P"):
                raise BadRequest(f"{field}: a single-channel PNG is expected, got mode {im.mode}")
            return np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise BadRequest(f"{field}: not a PNG or JPEG image that can be read ({e.__class__.__name__})") from None


def _decode_raw(arr: RawArray, field: str, limits: Limits) -> np.ndarray:
    allowed = _FIELD_DTYPES[field]
    if arr.dtype not in allowed:
        raise BadRequest(f"{field}: dtype {arr.dtype!r} is not accepted; use one of {', '.join(allowed)}")
    want = 3 if field == "rgb" else 2
    if len(arr.shape) != want or any(n <= 0 for n in arr.shape) or (field == "rgb" and arr.shape[2] != 3):
        raise BadRequest(f"{field}: shape must be {'[H, W, 3]' if field == 'rgb' else '[H, W]'}, got {arr.shape}")
    if arr.shape[0] * arr.shape[1] > limits.max_pixels:
        raise PayloadTooLarge(f"{field}: {arr.shape[1]}x{arr.shape[0]} pixels is over the limit of "
                              f"{limits.max_pixels}")
    raw = _b64(arr.data, field)
    dt = np.dtype(_RAW_DTYPES[arr.dtype])
    need = math.prod(arr.shape) * dt.itemsize
    if len(raw) != need:
        raise BadRequest(f"{field}: {len(raw)} bytes of data for shape {arr.shape} {arr.dtype}; expected {need}")
    return np.frombuffer(raw, dtype=dt).reshape(arr.shape)


def _array(value: str | RawArray, field: str, limits: Limits) -> np.ndarray:
    return decode_image(value, field, limits) if isinstance(value, str) else _decode_raw(value, field, limits)


def _camera(body: CameraBody, w: int, h: int) -> CameraSpec:
    if (body.width is not None and body.width != w) or (body.height is not None and body.height != h):
        raise BadRequest(f"camera: width x height {body.width}x{body.height} differs from the images' {w}x{h}")
    if body.hfov_deg is None and body.fx is None:
        raise BadRequest("camera: give hfov_deg or fx")
    if body.fx is not None:
        if not math.isfinite(body.fx) or body.fx <= 0:
            raise BadRequest(f"camera: fx must be positive, got {body.fx}")
        hfov = math.degrees(2.0 * math.atan(0.5 * w / body.fx))
        if body.hfov_deg is not None and abs(body.hfov_deg - hfov) > 0.5:
            raise BadRequest(f"camera: hfov_deg {body.hfov_deg} and fx {body.fx} disagree ({hfov:.2f} deg)")
    else:
        hfov = float(body.hfov_deg)
    if not 1.0 <= hfov <= 170.0:
        raise BadRequest(f"camera: horizontal field of view must be 1..170 degrees, got {hfov:.2f}")
    cam = CameraSpec(width=w, height=h, hfov_deg=hfov, sensor_height=float(body.sensor_height),
                     max_depth=float(body.max_depth))
    # the memory's camera model is a centred pinhole with square pixels: say so instead of misplacing objects
    if body.fy is not None and abs(body.fy - cam.fx) > 0.01 * cam.fx:
        raise BadRequest(f"camera: fy {body.fy} differs from fx {cam.fx:.2f}; only square pixels are supported "
                         "(resample the images first)")
    for name, given, centre in (("cx", body.cx, cam.cx), ("cy", body.cy, cam.cy)):
        if given is not None and abs(given - centre) > 1.5:
            raise BadRequest(f"camera: {name} {given} is off the image centre {centre:.1f}; only a centred "
                             "principal point is supported (crop the images to centre it)")
    if not (0.0 <= cam.sensor_height <= 10.0) or not (0.5 <= cam.max_depth <= 1000.0):
        raise BadRequest("camera: sensor_height must be 0..10 m and max_depth 0.5..1000 m")
    return cam


def _labels(labels: Mapping[str, str | Mapping[str, str]] | None, limits: Limits) -> dict[int, ObjectInfo]:
    if not labels:
        return {}
    if len(labels) > limits.max_labels:
        raise PayloadTooLarge(f"labels: {len(labels)} entries is over the limit of {limits.max_labels}")
    out: dict[int, ObjectInfo] = {}
    for key, value in labels.items():
        try:
            oid = int(key)
        except ValueError:
            raise BadRequest(f"labels: key {key!r} is not an instance id (a positive integer)") from None
        if oid <= 0:
            raise BadRequest(f"labels: instance id {oid} must be positive (0 means 'no object')")
        if isinstance(value, str):
            value = {"category": value}
        unknown = set(value) - {"category", "colour", "material"}
        if unknown:
            raise BadRequest(f"labels[{key}]: unknown field(s) {', '.join(sorted(unknown))}; "
                             "expected category, colour, material")
        category = str(value.get("category", "")).strip()
        if not category or len(category) > 80:
            raise BadRequest(f"labels[{key}]: category must be 1..80 characters")
        out[oid] = ObjectInfo(id=oid, category=category, colour=str(value.get("colour", "")).strip()[:40],
                              material=str(value.get("material", "")).strip()[:40])
    return out


def decode_frame(body: FrameBody, limits: Limits | None = None, *, default_step: int = 0) -> Frame:
    """Validate a frame and build its ``Observation``; ``BadRequest`` / ``PayloadTooLarge`` name the field."""
    limits = limits or Limits()
    rgb = _array(body.rgb, "rgb", limits)
    h, w = rgb.shape[:2]
    depth = _array(body.depth, "depth", limits)
    if depth.shape != (h, w):
        raise BadRequest(f"depth: shape {list(depth.shape)} differs from the rgb image's {[h, w]}")
    if depth.dtype.kind in "ui":  # integer depth (16-bit PNG, uint16): units of depth_scale metres
        if not (math.isfinite(body.depth_scale) and 0.0 < body.depth_scale <= 1.0):
            raise BadRequest(f"depth_scale must be in (0, 1] metres per unit, got {body.depth_scale}")
        depth = depth.astype(np.float32) * np.float32(body.depth_scale)
    else:
        depth = depth.astype(np.float32)
    if not np.isfinite(depth).all() or (depth < 0).any():  # NaN, inf or negative: no depth there
        depth = np.where(np.isfinite(depth) & (depth > 0), depth, np.float32(0.0)).astype(np.float32)
    if body.instance is not None:
        inst = _array(body.instance, "instance", limits)
        if inst.shape != (h, w):
            raise BadRequest(f"instance: shape {list(inst.shape)} differs from the rgb image's {[h, w]}")
        if inst.dtype.kind == "u" and inst.dtype.itemsize == 4 and int(inst.max(initial=0)) > np.iinfo(np.int32).max:
            raise BadRequest("instance: ids must fit in int32")
        if (inst < 0).any():
            raise BadRequest("instance: ids must not be negative (0 means 'no object')")
        instance = inst.astype(np.int32)
    else:
        instance = np.zeros((h, w), dtype=np.int32)
    objects = _labels(body.labels, limits)
    p = body.pose
    values = (p.x, p.y, p.z, p.yaw, body.timestamp)
    if not all(math.isfinite(v) for v in values):
        raise BadRequest("pose and timestamp must be finite numbers")
    if max(abs(p.x), abs(p.y), abs(p.z)) > 1e7:
        raise BadRequest("pose: coordinates must be within 10,000 km of the origin")
    pose = Pose(float(p.x), float(p.y), float(p.z), float(p.yaw), int(p.floor))
    camera = _camera(body.camera, w, h)
    caption = body.caption.strip() if body.caption and body.caption.strip() else None
    obs = Observation(rgb=np.ascontiguousarray(rgb, dtype=np.uint8), depth=np.ascontiguousarray(depth),
                      instance=np.ascontiguousarray(instance), pose=pose, timestamp=float(body.timestamp),
                      camera=camera, step=int(body.step) if body.step is not None else default_step, objects=objects)
    return Frame(obs, caption)


def _raw(a: np.ndarray, dtype: str) -> dict[str, Any]:
    a = np.ascontiguousarray(a, dtype=np.dtype(_RAW_DTYPES[dtype]))
    return {"dtype": dtype, "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def _png(a: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def encode_frame(rgb: np.ndarray, depth: np.ndarray, pose: Pose, camera: CameraSpec, timestamp: float, *,
                 instance: np.ndarray | None = None, labels: Mapping[int, ObjectInfo | str] | None = None,
                 caption: str | None = None, step: int | None = None, exact: bool = True) -> dict[str, Any]:
    """A frame for ``POST /observations``; ``exact`` sends float32 depth raw (bit-exact), else a 16-bit PNG in mm."""
    visible = set(np.unique(instance).tolist()) - {0} if instance is not None else set()
    doc: dict[str, Any] = {
        "rgb": _png(np.asarray(rgb, dtype=np.uint8)),
        "depth": (_raw(depth, "float32") if exact
                  else _png(np.clip(np.round(np.nan_to_num(depth) * 1000.0), 0, 65535).astype(np.uint16))),
        "depth_scale": 0.001,
        "pose": {"x": pose.x, "y": pose.y, "z": pose.z, "yaw": pose.yaw, "floor": pose.floor},
        "camera": {"hfov_deg": camera.hfov_deg, "width": camera.width, "height": camera.height,
                   "sensor_height": camera.sensor_height, "max_depth": camera.max_depth},
        "timestamp": float(timestamp),
    }
    if instance is not None:
        doc["instance"] = _raw(instance, "int32")
    if labels:
        doc["labels"] = {str(k): (v if isinstance(v, str) else
                                  {"category": v.category, "colour": v.colour, "material": v.material})
                         for k, v in labels.items() if int(k) in visible}
    if caption:
        doc["caption"] = caption
    if step is not None:
        doc["step"] = int(step)
    return doc
