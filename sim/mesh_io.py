"""World export/import: binary glTF plus a semantic sidecar, and external meshes.

Export writes ``<stem>.glb`` (one glTF node per object instance, named ``obj_<id>_<category>``, and one
per structure kind: ``floor``, ``wall``, ``ceiling``, ``fixture``, ``stairs``, ``ground``, ``roof``; vertex
colours carry the per-triangle albedo) and ``<stem>.semantic.json`` (the sidecar: ``SceneInfo``, portals,
start pose, spec, and for every node the original triangle indices and run-length encoded kinds and
materials, so loading restores the ``Scene`` exactly).

Axes: the project is z-up; glTF is y-up. Our exports are always y-up and converted back on load. For other
files the up axis comes, in order, from the ``up`` argument, the sidecar's ``"up_axis"``, or the file type's
convention: ``.glb``/``.gltf``/``.obj`` are y-up, ``.ply`` is z-up (scanners and Open3D write z-up).

Without a full sidecar a mesh still becomes a usable scene:

* glTF/OBJ nodes named ``obj_<id>_<category>`` become objects with that id; other nodes with a specific
  name (not ``mesh_3``, ``node``, ``geometry_0``, ...) that are furniture-sized (≤ 6 m) become objects whose
  category is the cleaned name; nodes named after a structure kind take that kind; the rest is structure
  (instance 0).
* Structure kinds are guessed per triangle: floors are large up-facing areas at the levels found in the
  height histogram of up-facing area (an upper level counts as a floor only with geometry ≥ 1 m above it,
  otherwise it is a roof); vertical faces reaching ≥ 1.2 m above their floor are walls; down-facing faces
  ≥ 1.8 m above their floor are ceilings; everything else is ``OBJECT`` kind.
* A partial sidecar (any subset of the full one: ``up_axis``, ``scene`` with objects/rooms/floors,
  ``start``, ``portals``) is honoured; objects given there but absent from the node names claim the
  triangles that lie wholly inside their bounding box.
* The start pose is the freest cell of the largest navigable region on the lowest floor.
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import SceneLoadError, SimError
from sim.scene import Portal, Scene, SceneMesh, SurfaceKind
from sim.spec import MESH_SUFFIXES
from sim.types import FloorInfo, ObjectInfo, Pose, SceneInfo

log = logging.getLogger(__name__)

__all__ = ["export_scene", "load_mesh_scene", "find_sidecar", "SceneExportError", "SCHEMA_VERSION",
           "SIDECAR_SUFFIX", "DEFAULT_UP_AXIS", "MAX_EXTENT", "MIN_EXTENT"]

SCHEMA_VERSION = 1
SIDECAR_FORMAT = "embodied-rag-lab/semantic"
SIDECAR_SUFFIX = ".semantic.json"
DEFAULT_UP_AXIS = {".glb": "y", ".gltf": "y", ".obj": "y", ".ply": "z"}
MAX_EXTENT = 10_000.0  # metres; beyond this a file is in the wrong unit or broken
MIN_EXTENT = 0.5  # metres; smaller than any walkable world
NEUTRAL_GREY = (180, 180, 180)

_STRUCTURE_NAMES = {SurfaceKind.FLOOR: "floor", SurfaceKind.WALL: "wall", SurfaceKind.CEILING: "ceiling",
                    SurfaceKind.OBJECT: "fixture", SurfaceKind.STAIRS: "stairs", SurfaceKind.GROUND: "ground",
                    SurfaceKind.ROOF: "roof"}
_NAME_KINDS = [(re.compile(p), k) for p, k in (
    (r"floor|ground_?plane|slab", SurfaceKind.FLOOR), (r"wall", SurfaceKind.WALL),
    (r"ceiling", SurfaceKind.CEILING), (r"stair|step", SurfaceKind.STAIRS), (r"roof", SurfaceKind.ROOF),
    (r"terrain|ground|lawn|grass|road|path", SurfaceKind.GROUND))]
_OBJ_NODE = re.compile(r"^obj_(\d+)_(.+)$")
_GENERIC = re.compile(r"^(mesh|node|geometry|object|obj|group|default|scene|root|model|untitled|part|"
                      r"primitive|shape|polysurface|structure|building|world|fixture)?[\s_.:-]*\d*$")
_MAX_OBJECT_SIZE = 6.0
_COLOUR_NAMES = {"white": (240, 240, 240), "black": (25, 25, 25), "grey": (128, 128, 128),
                 "red": (190, 40, 40), "green": (50, 150, 60), "blue": (50, 80, 180), "yellow": (230, 210, 60),
                 "orange": (230, 130, 40), "brown": (120, 80, 45), "pink": (230, 150, 170),
                 "purple": (120, 60, 150), "beige": (220, 200, 160)}


class SceneExportError(SimError):
    """A scene could not be written (output folder not writable, empty scene)."""


# ------------------------------------------------------------------------------------------ export
def export_scene(scene: Scene, out_dir: str | Path, stem: str | None = None) -> dict[str, Path]:
    """Write ``<stem>.glb`` and ``<stem>.semantic.json`` into ``out_dir``.

    Returns ``{"mesh": path, "semantics": path}``. ``stem`` defaults to the scene name made file-safe.
    Raises ``SceneExportError`` when the folder cannot be written or the scene has no triangles.
    """
    import trimesh

    mesh = scene.mesh
    if mesh.n_triangles == 0:
        raise SceneExportError(f"scene {scene.name!r} has no triangles to export")
    out = Path(out_dir)
    stem = stem or (re.sub(r"[^A-Za-z0-9._-]+", "_", scene.name).strip("._") or "scene")
    groups: list[tuple[str, int, np.ndarray]] = []  # (node name, instance, triangle indices ascending)
    table = scene.info.object_table()
    for oid in np.unique(mesh.tri_instance[mesh.tri_instance != 0]):
        cat = table[int(oid)].category if int(oid) in table else "object"
        groups.append((f"obj_{int(oid)}_{cat}", int(oid), np.nonzero(mesh.tri_instance == oid)[0]))
    structure = mesh.tri_instance == 0
    for k in np.unique(mesh.tri_kind[structure]):
        name = _STRUCTURE_NAMES.get(int(k), f"kind_{int(k)}")
        groups.append((name, 0, np.nonzero(structure & (mesh.tri_kind == k))[0]))
    tscene = trimesh.Scene()
    nodes = []
    for name, inst, idx in groups:
        faces = mesh.triangles[idx]
        cols = mesh.tri_colour[idx]
        # weld per (vertex, colour) so each triangle's three vertex colours equal its albedo exactly
        keys = np.column_stack([faces.reshape(-1).astype(np.int64), np.repeat(cols, 3, axis=0).astype(np.int64)])
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        verts = _zup_to_yup(mesh.vertices[uniq[:, 0]])
        rgba = np.column_stack([uniq[:, 1:4], np.full(len(uniq), 255)]).astype(np.uint8)
        tm = trimesh.Trimesh(verts, inv.reshape(-1, 3), vertex_colors=rgba, process=False)
        tscene.add_geometry(tm, node_name=name, geom_name=name)
        nodes.append({"name": name, "instance": inst, "triangles": _runs(idx),
                      "kind": _rle(mesh.tri_kind[idx]), "material": _rle(mesh.tri_material[idx])})
    sidecar = {
        "format": SIDECAR_FORMAT, "schema_version": SCHEMA_VERSION, "mesh": f"{stem}.glb", "up_axis": "y",
        "spec": scene.spec, "scene": scene.info.to_dict(), "start": scene.start.to_list(),
        "portals": [p.to_dict() for p in scene.portals], "meta": _json_safe(scene.meta),
        "n_triangles": mesh.n_triangles, "object_ids": sorted(g[1] for g in groups if g[1]), "nodes": nodes,
    }
    paths = {"mesh": out / f"{stem}.glb", "semantics": out / f"{stem}{SIDECAR_SUFFIX}"}
    try:
        out.mkdir(parents=True, exist_ok=True)
        _write_atomic(paths["mesh"], tscene.export(file_type="glb"))
        _write_atomic(paths["semantics"], json.dumps(sidecar, indent=1).encode("utf-8"))
    except OSError as e:
        raise SceneExportError(f"cannot write to {out}: {e.strerror or e}") from None
    log.info("exported %s (%d triangles, %d nodes) to %s", scene.name, mesh.n_triangles, len(nodes), out)
    return paths


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _runs(idx: np.ndarray) -> list[list[int]]:
    """Ascending indices as ``[[start, count], ...]``."""
    if len(idx) == 0:
        return []
    breaks = np.nonzero(np.diff(idx) != 1)[0] + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(idx)]])
    return [[int(idx[s]), int(e - s)] for s, e in zip(starts, ends, strict=True)]


def _rle(values: np.ndarray) -> list[list[int]]:
    """Run-length encoding ``[[value, count], ...]``."""
    if len(values) == 0:
        return []
    breaks = np.nonzero(np.diff(values.astype(np.int64)) != 0)[0] + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(values)]])
    return [[int(values[s]), int(e - s)] for s, e in zip(starts, ends, strict=True)]


def _unrle(runs: list, n: int, what: str) -> np.ndarray:
    vals = np.repeat([int(v) for v, _ in runs], [int(c) for _, c in runs]) if runs else np.zeros(0, np.int64)
    if len(vals) != n:
        raise ValueError(f"{what} runs cover {len(vals)} triangles, node has {n}")
    return vals


def _json_safe(meta: dict) -> dict:
    out = {}
    for k, v in meta.items():
        try:
            json.dumps(v)
            out[str(k)] = v
        except (TypeError, ValueError):
            log.debug("meta key %r is not JSON data; not exported", k)
    return out


def _zup_to_yup(v: np.ndarray) -> np.ndarray:
    return np.column_stack([v[:, 0], v[:, 2], -v[:, 1]])


def _yup_to_zup(v: np.ndarray) -> np.ndarray:
    return np.column_stack([v[:, 0], -v[:, 2], v[:, 1]])


# -------------------------------------------------------------------------------------------- load
@dataclass
class _Part:
    name: str
    vertices: np.ndarray  # (V, 3) float64, file frame
    faces: np.ndarray  # (F, 3) int64
    colours: np.ndarray  # (F, 3) uint8


def find_sidecar(path: str | Path) -> Path | None:
    """The sidecar of a mesh file: ``<stem>.semantic.json`` or ``<file>.semantic.json``, if either exists."""
    p = Path(path)
    for cand in (p.with_name(p.stem + SIDECAR_SUFFIX), p.with_name(p.name + SIDECAR_SUFFIX)):
        if cand.is_file():
            return cand
    return None


def load_mesh_scene(path: str | Path, *, up: str | None = None) -> Scene:
    """Load a ``.glb/.gltf/.ply/.obj`` file as a ``Scene``.

    ``up`` ("y" or "z") overrides the up axis (see the module docstring for the default rule). With a full
    sidecar written by ``export_scene`` the scene is restored exactly; otherwise semantics are guessed.
    Every problem raises ``SceneLoadError`` with a one-line message.
    """
    p = Path(path)
    if p.suffix.lower() not in MESH_SUFFIXES:
        raise SceneLoadError(f"{p}: unsupported mesh type {p.suffix or '(none)'!r}; "
                             f"expected one of {', '.join(MESH_SUFFIXES)}")
    if not p.exists():
        raise SceneLoadError(f"{p}: file not found")
    if not p.is_file():
        raise SceneLoadError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise SceneLoadError(f"{p}: the file is empty")
    side_path = find_sidecar(p)
    side = _read_sidecar(side_path) if side_path else {}
    axis = (up or side.get("up_axis") or DEFAULT_UP_AXIS[p.suffix.lower()]).lower()
    if axis not in ("y", "z"):
        raise SceneLoadError(f"{p}: up axis must be 'y' or 'z', got {axis!r}")
    parts = _read_parts(p)
    n_tris = sum(len(q.faces) for q in parts)
    if n_tris == 0:
        raise SceneLoadError(f"{p}: the mesh has no triangles")
    for q in parts:
        if not np.all(np.isfinite(q.vertices)):
            raise SceneLoadError(f"{p}: the mesh has NaN or infinite vertex coordinates")
        if axis == "y":
            q.vertices = _yup_to_zup(q.vertices)
    used = np.vstack([q.vertices[np.unique(q.faces)] for q in parts if len(q.faces)])
    extent = float((used.max(axis=0) - used.min(axis=0)).max())
    if extent > MAX_EXTENT:
        raise SceneLoadError(f"{p}: absurd size: the mesh spans {extent:.3g} m (more than {MAX_EXTENT:.0f} m; "
                             "wrong units?)")
    if extent < MIN_EXTENT:
        raise SceneLoadError(f"{p}: absurd size: the mesh spans only {extent:.3g} m (less than {MIN_EXTENT} m; "
                             "wrong units?)")
    if side_path is None:
        scene = _guess(p, parts, side, axis)
    else:
        try:
            scene = _restore(parts, side, n_tris) if "nodes" in side else _guess(p, parts, side, axis)
        except (KeyError, ValueError, TypeError, IndexError) as e:
            msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
            raise SceneLoadError(f"{side_path}: sidecar does not fit the mesh ({e.__class__.__name__}: {msg})") \
                from None
    scene.spec = str(path)
    scene.meta.update({"source": str(p), "up_axis": axis, "sidecar": str(side_path) if side_path else None})
    log.info("loaded %s: %d triangles, %d objects, %d floors%s", p, scene.mesh.n_triangles,
             len(scene.info.objects), len(scene.info.floors), " (with sidecar)" if side_path else "")
    return scene


def _read_sidecar(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SceneLoadError(f"{path}: invalid JSON in sidecar (line {e.lineno}: {e.msg})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SceneLoadError(f"{path}: cannot read sidecar ({e.__class__.__name__}: {e})") from None
    if not isinstance(data, dict):
        raise SceneLoadError(f"{path}: sidecar must be a JSON object, got {type(data).__name__}")
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SceneLoadError(f"{path}: sidecar schema_version must be a positive integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise SceneLoadError(f"{path}: sidecar schema version {version} is newer than this program supports "
                             f"({SCHEMA_VERSION}); update Embodied-RAG Lab")
    for key, typ in (("scene", dict), ("nodes", list), ("portals", list), ("start", list), ("up_axis", str),
                     ("object_ids", list), ("meta", dict)):
        if key in data and not isinstance(data[key], typ):
            raise SceneLoadError(f"{path}: sidecar key {key!r} must be a {typ.__name__}")
    return data


def _read_parts(p: Path) -> list[_Part]:
    import trimesh

    try:
        loaded = trimesh.load(str(p), process=False)
    except Exception as e:  # noqa: BLE001 - parsers raise anything on corrupt files
        msg = (str(e).strip().splitlines() or [""])[0][:200]
        raise SceneLoadError(f"{p}: cannot read mesh ({e.__class__.__name__}: {msg})") from None
    parts: list[_Part] = []
    if isinstance(loaded, trimesh.Scene):
        for node in loaded.graph.nodes_geometry:
            transform, gname = loaded.graph[node]
            g = loaded.geometry.get(gname)
            if isinstance(g, trimesh.Trimesh) and len(g.faces):
                v = trimesh.transformations.transform_points(np.asarray(g.vertices, np.float64), transform)
                parts.append(_Part(str(node), v, np.asarray(g.faces, np.int64), _face_colours(g)))
    elif isinstance(loaded, trimesh.Trimesh) and len(loaded.faces):
        parts.append(_Part("", np.asarray(loaded.vertices, np.float64), np.asarray(loaded.faces, np.int64),
                           _face_colours(loaded)))
    return parts


def _face_colours(g) -> np.ndarray:
    n = len(g.faces)
    try:
        vis = g.visual
        if vis.kind == "texture":
            vis = vis.to_color()
        if vis.kind == "vertex":
            vc = np.asarray(vis.vertex_colors, np.float64)[:, :3]
            return np.round(vc[g.faces].mean(axis=1)).astype(np.uint8)
        if vis.kind == "face":
            return np.asarray(vis.face_colors, np.uint8)[:, :3].copy()
    except Exception as e:  # noqa: BLE001 - odd materials must not stop a load; grey is fine
        log.debug("no colours for %s: %s", getattr(g, "metadata", {}).get("name", "mesh"), e)
    return np.tile(np.array(NEUTRAL_GREY, np.uint8), (n, 1))


def _concat(parts: list[_Part]) -> tuple[np.ndarray, list[np.ndarray]]:
    """All vertices stacked, and each part's faces offset into them."""
    offs = np.cumsum([0] + [len(q.vertices) for q in parts])
    return np.vstack([q.vertices for q in parts]), [q.faces + o for q, o in zip(parts, offs[:-1], strict=True)]


def _restore(parts: list[_Part], side: dict, n_tris: int) -> Scene:
    """Exact reconstruction from a sidecar written by ``export_scene``."""
    by_name = {q.name: q for q in parts}
    node_names = [str(nd["name"]) for nd in side["nodes"]]
    if set(node_names) != set(by_name) or len(node_names) != len(parts):
        extra = sorted(set(by_name) - set(node_names))[:3]
        missing = sorted(set(node_names) - set(by_name))[:3]
        raise ValueError(f"mesh nodes differ from the sidecar's (only in mesh: {extra}, only in sidecar: {missing})")
    _check_ids(_node_ids(parts), side.get("object_ids", []))
    if int(side.get("n_triangles", n_tris)) != n_tris:
        raise ValueError(f"sidecar lists {side['n_triangles']} triangles, the mesh has {n_tris}")
    ordered = [by_name[nm] for nm in node_names]
    verts, faces = _concat(ordered)
    tris = np.full((n_tris, 3), -1, np.int64)
    inst = np.zeros(n_tris, np.int32)
    kind = np.zeros(n_tris, np.uint8)
    mat = np.zeros(n_tris, np.uint8)
    col = np.zeros((n_tris, 3), np.uint8)
    for nd, q, f in zip(side["nodes"], ordered, faces, strict=True):
        idx = np.concatenate([np.arange(int(s), int(s) + int(c)) for s, c in nd["triangles"]]) \
            if nd["triangles"] else np.zeros(0, np.int64)
        if len(idx) != len(q.faces):
            raise ValueError(f"node {q.name!r} has {len(q.faces)} triangles, the sidecar lists {len(idx)}")
        tris[idx] = f
        inst[idx] = int(nd["instance"])
        kind[idx] = _unrle(nd["kind"], len(idx), "kind")
        mat[idx] = _unrle(nd["material"], len(idx), "material")
        col[idx] = q.colours
    if (tris < 0).any():
        raise ValueError("sidecar triangle indices do not cover the mesh")
    info = SceneInfo.from_dict(side["scene"])
    start = Pose(*[float(v) for v in side["start"][:4]], floor=int(side["start"][4]))
    portals = tuple(Portal.from_dict(d) for d in side.get("portals", []))
    meta = dict(side.get("meta", {}))
    meta["exported_from"] = side.get("spec", "")
    return Scene(info, SceneMesh(verts, tris, inst, col, mat, kind), start, portals, meta=meta)


def _node_ids(parts: list[_Part]) -> set[int]:
    return {int(m.group(1)) for q in parts if (m := _OBJ_NODE.match(q.name))}


def _check_ids(mesh_ids: set[int], side_ids) -> None:
    want = {int(i) for i in side_ids}
    if mesh_ids != want:
        only_m, only_s = sorted(mesh_ids - want)[:5], sorted(want - mesh_ids)[:5]
        raise ValueError(f"object ids do not match the mesh (only in mesh: {only_m}, only in sidecar: {only_s})")


def _guess(p: Path, parts: list[_Part], side: dict, axis: str) -> Scene:
    """Semantics from node names, geometry and whatever a partial sidecar provides."""
    verts, faces = _concat(parts)
    tris = np.vstack(faces)
    lo, hi = verts[np.unique(tris)].min(axis=0), verts[np.unique(tris)].max(axis=0)
    scene_extent = float(max(hi[0] - lo[0], hi[1] - lo[1]))
    n = len(tris)
    inst = np.zeros(n, np.int32)
    named_kind = np.full(n, 255, np.uint8)  # 255 = guess from geometry
    objects: dict[int, tuple[str, np.ndarray]] = {}  # id -> (category, triangle mask)
    next_id = max(_node_ids(parts), default=0) + 1
    off = 0
    for q in parts:
        sl = slice(off, off + len(q.faces))
        off += len(q.faces)
        oid, cat = _classify_node(q, scene_extent)
        if oid is None and cat is None:
            continue
        if oid is None and isinstance(cat, SurfaceKind):
            named_kind[sl] = int(cat)
            continue
        if oid is None:
            oid, next_id = next_id, next_id + 1
        mask = np.zeros(n, bool)
        mask[sl] = True
        if oid in objects:  # the same object split over several nodes
            mask |= objects[oid][1]
        objects[oid] = (str(cat), mask)
        inst[sl] = oid
    sc = side.get("scene", {})
    given = {o.id: o for o in (ObjectInfo.from_dict(d) for d in sc.get("objects", []))}
    if given:
        if _node_ids(parts):  # nodes named obj_<id>_...: the sidecar must describe exactly the mesh's objects
            _check_ids(set(objects), given)
        else:  # the sidecar's labels (claimed by box below) replace objects guessed from plain node names
            objects.clear()
            inst[:] = 0
    floors, roofs = _detect_floors(verts, tris)
    if "floors" in sc:
        floors = SceneInfo.from_dict({"floors": sc["floors"]}).floors
    kind = _guess_kinds(verts, tris, floors, roofs)
    kind = np.where(named_kind != 255, named_kind, kind)
    kind[inst != 0] = SurfaceKind.OBJECT
    if given and not objects:
        _claim_by_bbox(verts, tris, kind, inst, given)
    col = np.vstack([q.colours for q in parts])
    mesh = SceneMesh(verts, tris, inst, col, np.zeros(n, np.uint8), kind)
    tri_pts = verts[tris]
    infos = []
    if given:
        infos = sorted(given.values(), key=lambda o: o.id)
    else:
        tmp = SceneInfo("tmp", floors=floors)
        for oid, (cat, mask) in sorted(objects.items()):
            pts = tri_pts[mask].reshape(-1, 3)
            a, b = pts.min(axis=0), pts.max(axis=0)
            c = (a + b) / 2.0
            infos.append(ObjectInfo(oid, cat, _colour_name(col[mask].mean(axis=0)), "", -1,
                                    tmp.floor_of_z(float(a[2])), tuple(map(float, c)), tuple(map(float, a)),
                                    tuple(map(float, b))))
    info = SceneInfo(name=str(side.get("name", sc.get("name", p.stem))), kind=str(sc.get("kind", "mesh")),
                     rooms=SceneInfo.from_dict({"rooms": sc.get("rooms", [])}).rooms, floors=floors,
                     objects=tuple(infos), bounds_min=tuple(map(float, lo)), bounds_max=tuple(map(float, hi)),
                     outdoor=bool(sc.get("outdoor", False)))
    portals = tuple(Portal.from_dict(d) for d in side.get("portals", []))
    scene = Scene(info, mesh, Pose(0.0, 0.0), portals)
    if "start" in side:
        s = side["start"]
        scene.start = Pose(float(s[0]), float(s[1]), float(s[2]) if len(s) > 2 else floors[0].elevation,
                           float(s[3]) if len(s) > 3 else 0.0, int(s[4]) if len(s) > 4 else 0)
    else:
        scene.start = _find_start(scene, p, axis)
    return scene


def _classify_node(q: _Part, scene_extent: float) -> tuple[int | None, str | SurfaceKind | None]:
    """``(id, category)`` for an object node, ``(None, kind)`` for a named structure node, else ``(None, None)``."""
    m = _OBJ_NODE.match(q.name)
    if m:
        return int(m.group(1)), m.group(2)
    name = re.sub(r"[\s_.:-]*\d+$", "", q.name.strip()).strip().lower()  # "Chair_003" -> "chair"
    for pat, kind in _NAME_KINDS:
        if pat.search(name):
            return None, kind
    if not name or _GENERIC.match(name) or re.fullmatch(r"[0-9a-f-]{8,}", name):
        return None, None
    used = q.vertices[np.unique(q.faces)]
    size = used.max(axis=0) - used.min(axis=0)
    if float(size[:2].max()) > min(_MAX_OBJECT_SIZE, 0.6 * scene_extent):
        return None, None  # too big for furniture: part of the building
    return None, re.sub(r"[_\s]+", " ", name).strip()


def _tri_geometry(verts: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-triangle area, unit-normal z component and centroid z."""
    t = verts[tris]
    nrm = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    length = np.linalg.norm(nrm, axis=1)
    nz = np.divide(nrm[:, 2], length, out=np.zeros(len(t)), where=length > 0)
    return 0.5 * length, nz, t[:, :, 2].mean(axis=1)


def _detect_floors(verts: np.ndarray, tris: np.ndarray) -> tuple[tuple[FloorInfo, ...], list[float]]:
    """Floor levels from the height histogram of up-facing area; upper levels with nothing above are roofs."""
    area, nz, cz = _tri_geometry(verts, tris)
    zmax_tri = verts[tris][:, :, 2].max(axis=1)
    up = (nz > 0.9) & (area > 0)
    zlo, ztop = float(verts[tris][:, :, 2].min()), float(verts[tris][:, :, 2].max())
    if not up.any():
        return (FloorInfo(0, zlo, max(2.0, min(ztop - zlo, 10.0))),), []
    edges = np.arange(zlo - 0.05, ztop + 0.15, 0.1)
    hist, _ = np.histogram(cz[up], bins=edges, weights=area[up])
    threshold = max(1.0, 0.15 * float(hist.max())) if hist.max() >= 1.0 else float(hist.max())
    levels: list[float] = []
    for b in np.argsort(-hist, kind="stable"):
        if hist[b] < threshold:
            break
        z = 0.5 * (edges[b] + edges[b + 1])
        if all(abs(z - lv) >= 1.8 for lv in levels):
            near = up & (np.abs(cz - z) <= 0.1)
            levels.append(float(np.average(cz[near], weights=area[near])))
    levels.sort()
    floors_z, roofs = [levels[0]], []
    for z in levels[1:]:
        (floors_z if (zmax_tri > z + 1.0).any() else roofs).append(z)
    down = (nz < -0.9) & (area > 0)
    floors = []
    for i, z in enumerate(floors_z):
        if i + 1 < len(floors_z):
            h = floors_z[i + 1] - z
        else:
            above = down & (cz > z + 1.8)
            if above.any():  # the level with the most down-facing area (not a door lintel)
                zs = np.round(cz[above], 1)
                levels_c, inv = np.unique(zs, return_inverse=True)
                h = float(levels_c[int(np.argmax(np.bincount(inv, weights=area[above])))] - z)
            else:
                h = min(max(ztop - z, 2.0), 10.0)
        floors.append(FloorInfo(i, round(z, 4), round(max(h, 1.5), 4)))
    return tuple(floors), roofs


def _guess_kinds(verts: np.ndarray, tris: np.ndarray, floors: tuple[FloorInfo, ...],
                 roofs: list[float]) -> np.ndarray:
    area, nz, cz = _tri_geometry(verts, tris)
    zmax = verts[tris][:, :, 2].max(axis=1)
    elev = np.array(sorted(f.elevation for f in floors))
    below = elev[np.clip(np.searchsorted(elev, cz + 0.15, side="right") - 1, 0, len(elev) - 1)]
    kind = np.full(len(tris), int(SurfaceKind.OBJECT), np.uint8)
    kind[(np.abs(nz) < 0.3) & (zmax > below + 1.2)] = SurfaceKind.WALL
    kind[(nz < -0.7) & (cz > below + 1.8)] = SurfaceKind.CEILING
    up = nz > 0.7
    kind[up & (np.abs(cz - below) <= 0.15)] = SurfaceKind.FLOOR
    for r in roofs:
        kind[up & (np.abs(cz - r) <= 0.15)] = SurfaceKind.ROOF
    # the narrow top and bottom faces of a wall (all corners on wall faces) are wall too
    on_wall = np.zeros(len(verts), bool)
    on_wall[tris[kind == SurfaceKind.WALL].ravel()] = True
    t = verts[tris]
    narrow = (t[:, :, :2].max(axis=1) - t[:, :, :2].min(axis=1)).min(axis=1) <= 0.5
    kind[(np.abs(nz) >= 0.3) & narrow & on_wall[tris].all(axis=1) & (kind != SurfaceKind.CEILING)] = SurfaceKind.WALL
    return kind


def _claim_by_bbox(verts: np.ndarray, tris: np.ndarray, kind: np.ndarray, inst: np.ndarray,
                   objects: dict[int, ObjectInfo]) -> None:
    """Triangles wholly inside a sidecar object's box (and not floor/wall/ceiling) become that object."""
    t = verts[tris]
    tmin, tmax = t.min(axis=1), t.max(axis=1)
    free = ~np.isin(kind, [SurfaceKind.FLOOR, SurfaceKind.WALL, SurfaceKind.CEILING])
    for o in sorted(objects.values(), key=lambda o: -float(np.prod(np.maximum(o.size, 1e-3)))):
        a, b = np.asarray(o.bbox_min) - 0.02, np.asarray(o.bbox_max) + 0.02
        m = free & (tmin >= a).all(axis=1) & (tmax <= b).all(axis=1)
        inst[m] = o.id
        kind[m] = SurfaceKind.OBJECT
        if not m.any():
            log.warning("sidecar object %d (%s) has no triangles inside its box", o.id, o.category)


def _find_start(scene: Scene, p: Path, axis: str) -> Pose:
    """The freest cell of the largest navigable region, trying floors from the lowest up."""
    from scipy import ndimage

    from sim.navmap import NavMap

    nm = NavMap.from_scene(scene, resolution=0.1, max_cells=1_000_000)
    for fl in sorted(scene.info.floors, key=lambda f: f.elevation):
        g = nm.grid(fl.index)
        labels, count = ndimage.label(g.navigable(nm.robot_radius))
        if count == 0:
            continue
        sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, count + 1))
        region = labels == 1 + int(np.argmax(sizes))
        i, j = np.unravel_index(int(np.argmax(np.where(region, g.clearance, -1.0))), region.shape)
        x, y = g.spec.to_world(int(i), int(j))
        return Pose(float(x), float(y), fl.elevation, 0.0, fl.index)
    raise SceneLoadError(f"{p}: no free floor space for a robot was found (is the up axis right? "
                         f"this file was read as {axis}-up)")


def _colour_name(rgb: np.ndarray) -> str:
    names = list(_COLOUR_NAMES)
    ref = np.array([_COLOUR_NAMES[k] for k in names], np.float64)
    return names[int(np.argmin(((ref - np.asarray(rgb, np.float64)) ** 2).sum(axis=1)))]
