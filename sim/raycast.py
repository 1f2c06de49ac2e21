"""The built-in renderer: one Open3D ray per pixel, shaded with vectorised numpy.

Each frame casts the camera's rays (``CameraSpec.pixel_rays`` convention: forward component
1, so the hit parameter *is* the z-depth) into an Open3D ``RaycastingScene`` and turns the
hits into three images:

* ``rgb``: albedo x (ambient + directional light + a weak head-light), two-sided (the
  normal is flipped towards the camera), a Blinn specular term for shiny materials and a
  cheap procedural texture per material (wood planks, tile grout, brick courses, fabric and
  grass noise, marble veins ...) computed from the hit positions. Rays that hit nothing
  show a sky gradient; outdoor scenes get distance fog. Everything is deterministic.
* ``depth``: z-depth in metres, 0 where nothing was hit within ``max_depth``.
* ``instance``: the hit triangle's object id, 0 for structure, sky and beyond ``max_depth``.

The unit rays are cached per camera; a frame only rotates them by the yaw and refills the
origin, in place, in an array that Open3D reads without a copy.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from sim.scene import MATERIALS, Scene
from sim.types import CameraSpec, Pose

log = logging.getLogger(__name__)

__all__ = ["RenderStyle", "Frame", "Renderer"]


@dataclass(frozen=True, kw_only=True)
class RenderStyle:
    """Lighting and look of the built-in renderer."""

    light_dir: tuple[float, float, float] = (0.35, 0.55, 0.76)  # towards the light; normalised on use
    ambient: float = 0.40
    diffuse: float = 0.42
    headlight: float = 0.22  # a light at the camera: keeps faces turned away from the sun readable
    specular: float = 1.0  # scales each material's specular strength
    shininess_pow2: int = 5  # Blinn exponent = 2 ** shininess_pow2
    textures: bool = True
    fog_distance: float | None = None  # metres for 63 % fog; None: outdoor scenes only, from max_depth
    sky_top: tuple[int, int, int] = (110, 160, 225)
    sky_horizon: tuple[int, int, int] = (200, 222, 240)
    ground_haze: tuple[int, int, int] = (170, 175, 170)


@dataclass(frozen=True, eq=False)
class Frame:
    """One rendered frame: ``rgb (H,W,3) uint8``, ``depth (H,W) float32``, ``instance (H,W) int32``."""

    rgb: np.ndarray
    depth: np.ndarray
    instance: np.ndarray


# Texture kinds, selected by material.
_N_TEX = 12
_BLOCK = 1 << 14  # pixels shaded at a time
_TEX_NONE, _TEX_WOOD, _TEX_FABRIC, _TEX_TILE, _TEX_BRICK, _TEX_GRASS, _TEX_STONE, _TEX_MARBLE, _TEX_METAL, \
    _TEX_WATER, _TEX_CARPET, _TEX_LEATHER = range(_N_TEX)
_MATERIAL_TEXTURE = {
    "wood": _TEX_WOOD, "fabric": _TEX_FABRIC, "carpet": _TEX_CARPET, "leather": _TEX_LEATHER,
    "tile": _TEX_TILE, "brick": _TEX_BRICK, "grass": _TEX_GRASS, "foliage": _TEX_GRASS,
    "stone": _TEX_STONE, "concrete": _TEX_STONE, "asphalt": _TEX_STONE, "marble": _TEX_MARBLE,
    "metal": _TEX_METAL, "water": _TEX_WATER,
}
_NOISE_ONLY = frozenset({_TEX_GRASS, _TEX_STONE, _TEX_FABRIC, _TEX_CARPET, _TEX_LEATHER})
_MATERIAL_SPECULAR = {
    "metal": 0.45, "glass": 0.6, "ceramic": 0.4, "marble": 0.35, "plastic": 0.3, "water": 0.55, "leather": 0.12,
}


def _lut(table: dict[str, float], dtype) -> np.ndarray:
    return np.array([table.get(m, 0) for m in MATERIALS], dtype=dtype)


_TEX_LUT = _lut(_MATERIAL_TEXTURE, np.uint8)
_SPEC_LUT = _lut(_MATERIAL_SPECULAR, np.float32)


def _hash01(*cells: np.ndarray) -> np.ndarray:
    """Deterministic pseudo-random value in [0, 1) per integer cell."""
    primes = (73856093, 19349663, 83492791)
    h = np.zeros(cells[0].shape, dtype=np.int64)
    for c, p in zip(cells, primes[:len(cells)], strict=True):
        h ^= c.astype(np.int64) * p
    h ^= h >> 13
    h *= 1274126177
    h ^= h >> 16
    return (h & 1023).astype(np.float32) * np.float32(1.0 / 1024.0)


def _noise(x: np.ndarray, y: np.ndarray, z: np.ndarray, cell: float) -> np.ndarray:
    k = np.float32(1.0 / cell)
    return _hash01(np.floor(x * k).astype(np.int64), np.floor(y * k).astype(np.int64),
                   np.floor(z * k).astype(np.int64))


def _texture(kind: int, x: np.ndarray, y: np.ndarray, z: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Brightness multiplier (around 1) of one texture kind at hit points (x, y, z).

    ``u``/``v`` are the hit face's in-plane coordinates ((x, y) on floors, (x or y, z) on walls).
    """
    one = np.float32(1.0)
    if kind == _TEX_WOOD:  # planks 0.18 m wide, grain along them, dark seams
        k = np.floor(v * np.float32(1.0 / 0.18))
        frac = v * np.float32(1.0 / 0.18) - k
        tone = _hash01(k.astype(np.int64)) * np.float32(0.16) - np.float32(0.08)
        grain = np.float32(0.06) * np.sin(np.float32(38.0) * v + np.float32(3.0) * np.sin(np.float32(2.3) * u + k))
        return one + tone + grain - np.float32(0.22) * (frac < 0.04)
    if kind == _TEX_TILE:  # 0.3 m tiles, grout lines
        a = u * np.float32(1.0 / 0.3)
        b = v * np.float32(1.0 / 0.3)
        ia, ib = np.floor(a), np.floor(b)
        grout = (a - ia < 0.04) | (b - ib < 0.04)
        tone = _hash01(ia.astype(np.int64), ib.astype(np.int64)) * np.float32(0.08)
        return np.where(grout, np.float32(0.72), np.float32(0.96) + tone)
    if kind == _TEX_BRICK:  # 0.075 m courses of 0.22 m bricks, staggered, light mortar
        row = np.floor(z * np.float32(1.0 / 0.075))
        fz = z * np.float32(1.0 / 0.075) - row
        irow = row.astype(np.int64)
        s = (u + np.float32(0.11) * (irow & 1)) * np.float32(1.0 / 0.22)
        col = np.floor(s)
        mortar = (fz < 0.14) | (s - col < 0.05)
        tone = _hash01(irow, col.astype(np.int64)) * np.float32(0.22)
        return np.where(mortar, np.float32(1.3), np.float32(0.86) + tone)
    if kind == _TEX_GRASS:
        return np.float32(0.72) + np.float32(0.4) * _noise(x, y, z, 0.03) + np.float32(0.15) * _noise(x, y, z, 0.6)
    if kind == _TEX_STONE:
        return np.float32(0.86) + np.float32(0.14) * _noise(x, y, z, 0.02) + np.float32(0.12) * _noise(x, y, z, 0.45)
    if kind in (_TEX_FABRIC, _TEX_CARPET, _TEX_LEATHER):
        amp = {_TEX_FABRIC: 0.16, _TEX_CARPET: 0.26, _TEX_LEATHER: 0.08}[kind]
        return np.float32(1.0 - amp / 2) + np.float32(amp) * _noise(x, y, z, 0.012)
    if kind == _TEX_MARBLE:
        s = np.sin(np.float32(2.5) * u + np.float32(1.7) * v + np.float32(4.0) * np.sin(np.float32(1.3) * v))
        return np.where(np.abs(s) < 0.07, np.float32(0.78), one)
    if kind == _TEX_METAL:  # brushed: thin streaks along u
        return np.float32(0.97) + np.float32(0.05) * _hash01(np.floor(v * np.float32(250.0)).astype(np.int64))
    if kind == _TEX_WATER:
        return one + np.float32(0.08) * np.sin(np.float32(7.0) * u + np.float32(2.0) * np.sin(np.float32(5.0) * v))
    return np.ones(len(x), dtype=np.float32)


class Renderer:
    """Renders RGB, depth and instance images of a ``Scene`` from robot poses.

    ``raycaster`` lets the caller share one Open3D ``RaycastingScene`` (e.g. with the
    ``NavMap``); ``threads`` is passed to Open3D's ``cast_rays``. One renderer reuses one ray
    buffer, so it must not render from two threads at once.
    """

    def __init__(self, scene: Scene, camera: CameraSpec, *, threads: int = 1, style: RenderStyle | None = None,
                 raycaster=None) -> None:
        import open3d as o3d

        from sim.navmap import raycast_scene

        self._o3d = o3d
        self.scene = scene
        self.camera = camera
        self.threads = int(threads)
        self.style = style or RenderStyle()
        self._rs = raycaster if raycaster is not None else raycast_scene(scene)
        mesh = scene.mesh
        n = mesh.n_triangles
        self.n_triangles = n
        # per-triangle tables with one extra row (index n) that misses map to
        self._albedo = np.zeros((n + 1, 3), dtype=np.float32)
        self._albedo[:n] = mesh.tri_colour
        self._inst = np.zeros(n + 1, dtype=np.int32)
        self._inst[:n] = mesh.tri_instance
        mat = np.minimum(mesh.tri_material, len(MATERIALS) - 1)
        self._tex = np.zeros(n + 1, dtype=np.uint8)  # texture kind per triangle
        self._tex[:n] = _TEX_LUT[mat]
        self._tex_kinds = [int(k) for k in np.unique(self._tex) if k != _TEX_NONE]
        self._ks = np.zeros(n + 1, dtype=np.float32)  # specular strength per triangle
        self._ks[:n] = _SPEC_LUT[mat]
        self._any_shiny = bool(np.any(self._ks > 0))
        self._sentinel = np.uint32(n)
        self._miss = n
        light = np.asarray(self.style.light_dir, dtype=np.float32)
        self._light = light / np.linalg.norm(light)
        fog = self.style.fog_distance
        if fog is None and scene.info.outdoor:
            fog = 1.5 * camera.max_depth
        self._fog = float(fog) if fog else None
        self._setup_camera()

    # camera-dependent caches --------------------------------------------------------------------
    def _setup_camera(self) -> None:
        cam = self.camera
        h, w = cam.height, cam.width
        right = ((np.arange(w, dtype=np.float64) - cam.cx) / cam.fx).astype(np.float32)
        up = (-(np.arange(h, dtype=np.float64) - cam.cy) / cam.fy).astype(np.float32)
        self._right = right[None, :]  # (1, W)
        self._rays = np.empty((h, w, 6), dtype=np.float32)
        self._rays[..., 5] = up[:, None]  # zero pitch: the vertical component never changes
        self._rays_t = self._o3d.core.Tensor.from_numpy(self._rays)  # shares memory with _rays
        inv_len = 1.0 / np.sqrt(1.0 + right[None, :] ** 2 + up[:, None] ** 2)
        self._inv_len = inv_len.astype(np.float32).ravel()  # |ray| does not change with yaw
        elev = np.clip(up * (1.0 / np.sqrt(1.0 + up ** 2)), -1.0, 1.0)  # sine of each row's elevation
        top = np.asarray(self.style.sky_top, np.float32)
        hor = np.asarray(self.style.sky_horizon, np.float32)
        haze = np.asarray(self.style.ground_haze, np.float32)
        a = np.clip(elev * 1.6, 0.0, 1.0)[:, None]
        b = np.clip(-elev * 4.0, 0.0, 1.0)[:, None]
        sky_rows = hor * (1.0 - a) + top * a
        sky_rows = sky_rows * (1.0 - b) + haze * b
        self._sky = np.broadcast_to(sky_rows[:, None, :], (h, w, 3)).reshape(-1, 3).astype(np.float32)
        self._fog_colour = hor
        self._yaw: float | None = None
        self._origin: tuple[float, float, float] | None = None

    def _fill_rays(self, pose: Pose) -> np.ndarray:
        origin = tuple(float(v) for v in self.camera.camera_position(pose))
        if origin != self._origin:
            for k in range(3):
                self._rays[..., k] = origin[k]
            self._origin = origin
        if pose.yaw != self._yaw:
            c, s = np.float32(math.cos(pose.yaw)), np.float32(math.sin(pose.yaw))
            # world direction = forward + right * r + up * z with forward (c, s, 0), r = (s, -c, 0)
            np.multiply(self._right, s, out=self._rays[..., 3])
            self._rays[..., 3] += c
            np.multiply(self._right, -c, out=self._rays[..., 4])
            self._rays[..., 4] += s
            self._yaw = pose.yaw
        return np.asarray(origin, dtype=np.float32)

    # rendering ------------------------------------------------------------------------------------
    def cast(self, pose: Pose) -> dict:
        """Raw Open3D hits (``t_hit``, ``primitive_ids``, ``primitive_normals`` ...) for a pose."""
        self._fill_rays(pose)
        return self._rs.cast_rays(self._rays_t, nthreads=self.threads)

    def render(self, pose: Pose) -> Frame:
        """Render the view of a robot at ``pose`` (fresh arrays every call)."""
        cam = self.camera
        h, w = cam.height, cam.width
        origin = self._fill_rays(pose)
        res = self._rs.cast_rays(self._rays_t, nthreads=self.threads)
        t = res["t_hit"].numpy().reshape(-1)
        idx = np.minimum(res["primitive_ids"].numpy().reshape(-1), self._sentinel).astype(np.intp)
        nrm = res["primitive_normals"].numpy().reshape(-1, 3)

        in_range = t <= np.float32(cam.max_depth)  # inf (a miss) is out of range too
        all_in = bool(in_range.all())
        depth = t.copy() if all_in else np.where(in_range, t, np.float32(0.0))
        instance = np.take(self._inst, idx)
        if not all_in:
            instance[~in_range] = 0

        rgb = np.empty((h * w, 3), dtype=np.uint8)
        # shade in blocks that stay in cache: the temporaries of a whole 640x480 frame do not
        for a in range(0, h * w, _BLOCK):
            sl = slice(a, min(a + _BLOCK, h * w))
            rgb[sl] = self._shade(sl, t[sl], idx[sl], nrm[sl], origin)
        return Frame(rgb.reshape(h, w, 3), depth.reshape(h, w), instance.reshape(h, w))

    def _shade(self, sl: slice, t: np.ndarray, idx: np.ndarray, nrm: np.ndarray, origin: np.ndarray) -> np.ndarray:
        """Colours (n, 3) uint8 of the pixels ``sl`` (flat indices) from their hits."""
        st = self.style
        rays = self._rays.reshape(-1, 6)[sl]
        dx, dy, dz = rays[:, 3], rays[:, 4], rays[:, 5]
        inv_len = self._inv_len[sl]
        nx, ny, nz = nrm[:, 0], nrm[:, 1], nrm[:, 2]
        ndotd = nx * dx + ny * dy + nz * dz  # > 0: we see the back of the face
        sign = np.where(ndotd > 0, np.float32(-1.0), np.float32(1.0))
        lx, ly, lz = (np.float32(v) for v in self._light)
        lambert = np.maximum((nx * lx + ny * ly + nz * lz) * sign, np.float32(0.0))
        shade = np.float32(st.ambient) + np.float32(st.diffuse) * lambert
        shade += np.float32(st.headlight) * np.abs(ndotd) * inv_len

        hit = idx != self._miss
        if st.textures and self._tex_kinds:
            self._textures(shade, np.take(self._tex, idx), t, origin, nrm, (dx, dy, dz))
        # saturate the brightness, not each channel: keeps hues and makes a per-channel clamp unnecessary
        np.minimum(shade, np.float32(1.0), out=shade)
        col = np.take(self._albedo, idx, axis=0)
        col *= shade[:, None]

        if st.specular > 0.0 and self._any_shiny:
            ks = np.take(self._ks, idx)
            shiny = np.flatnonzero(ks)
            if len(shiny):
                s = self._specular(shiny, nrm, sign, (dx, dy, dz), inv_len)
                lit = col[shiny] + (np.float32(255.0 * st.specular) * ks[shiny] * s)[:, None]
                col[shiny] = np.minimum(lit, np.float32(255.0))
        if self._fog is not None:
            f = (np.float32(1.0) - np.exp(-np.minimum(t, np.float32(1e4)) * np.float32(1.0 / self._fog)))[:, None]
            col *= np.float32(1.0) - f
            col += f * self._fog_colour
        if not hit.all():
            miss = ~hit
            col[miss] = self._sky[sl][miss]
        return col.astype(np.uint8)

    def _textures(self, shade: np.ndarray, kinds: np.ndarray, t: np.ndarray, origin: np.ndarray,
                  nrm: np.ndarray, d: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Multiply ``shade`` by each pixel's material texture (in place)."""
        for kind in self._tex_kinds:
            sel = np.flatnonzero(kinds == kind)
            if len(sel) == 0:
                continue
            ts = t[sel]
            x = origin[0] + d[0][sel] * ts
            y = origin[1] + d[1][sel] * ts
            z = origin[2] + d[2][sel] * ts
            if kind in _NOISE_ONLY:  # 3D noise needs no in-plane coordinates
                u = v = x
            else:
                n = np.abs(nrm[sel])
                horizontal = n[:, 2] >= 0.7
                # in-plane coordinates: (x, y) on floors, (y, z) on x-facing, (x, z) on y-facing faces
                u = np.where(horizontal | (n[:, 0] <= n[:, 1]), x, y)
                v = np.where(horizontal, y, z)
            shade[sel] *= _texture(kind, x, y, z, u, v)

    def _specular(self, sel: np.ndarray, nrm: np.ndarray, sign: np.ndarray,
                  d: tuple[np.ndarray, np.ndarray, np.ndarray], inv_len: np.ndarray) -> np.ndarray:
        il = inv_len[sel]
        lx, ly, lz = (float(c) for c in self._light)
        hx = lx - d[0][sel] * il  # light + view (view = -d / |d|)
        hy = ly - d[1][sel] * il
        hz = lz - d[2][sel] * il
        n = nrm[sel]
        c = (n[:, 0] * hx + n[:, 1] * hy + n[:, 2] * hz) * sign[sel]
        c *= np.float32(1.0) / np.sqrt(np.maximum(hx * hx + hy * hy + hz * hz, np.float32(1e-12)))
        np.maximum(c, np.float32(0.0), out=c)
        for _ in range(self.style.shininess_pow2):
            c *= c
        return c
