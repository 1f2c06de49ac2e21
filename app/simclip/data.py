"""SimCLIP training data: labelled object crops rendered from the catalog, and their captions.

Every crop is cut from a full robot frame (320 x 240, 90 degrees; the camera 1.25 m high in worlds,
0.9-1.5 m in showrooms) with the instance mask, by the same ``extract_segments`` the perception
layer uses, so the encoder trains on exactly the kind of crop the memory later embeds. Part-views
(masks on the frame border) are kept at ``CUT_KEEP`` in training and flagged (``CropSet.cut``). Two
sources:

* **showrooms** — small rooms (or outdoor lots) built for the purpose with 6-10 catalog objects of
  balanced categories, random catalog looks and sizes, wall/floor colours of a random room type,
  surface objects on plinths, wall objects on the walls, and a random light (direction, ambient,
  diffuse, head-light). The camera looks at one object per frame; every object in view is cropped.
* **worlds** — generated houses, offices, multi-floor buildings and campuses; the camera stands on
  free cells of the ground-truth navigation map and looks at an object.

Labels come from the scene's ground truth: category, colour, material and room type.

Held-out evaluation (fixed, seed-independent): *viewpoints* — camera azimuths relative to the
object's front inside ``VIEW_HOLDOUT_SECTORS`` never reach training; *looks* — one
(category, colour, material) combination per category with three or more colours
(``held_out_looks``) never reaches training. Test crops come only from test scenes (fresh
instances, sizes, rooms and lights), so no test object was ever seen.

Rendering runs in worker processes (``spawn``); results are assembled in job order, so a seed gives
the same data whatever the worker count.
"""
from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context

import numpy as np

from app.progress import CancelToken, Progress
from memory.perception import PerceptionConfig
from memory.perception.segments import extract_segments
from memory.types import object_name
from sim import geometry
from sim.catalog import Catalog, load_catalog
from sim.errors import LabError
from sim.raycast import Renderer, RenderStyle
from sim.scene import Scene, SurfaceKind
from sim.types import CameraSpec, FloorInfo, ObjectInfo, Observation, Pose, RoomInfo, wrap_angle
from sim.worlds.assembly import Look, WorldAssembler, pick_look

log = logging.getLogger(__name__)

__all__ = ["DataConfig", "CropSet", "HeldOut", "SPLITS", "VIEW_HOLDOUT_SECTORS", "CAPTION_TEMPLATES",
           "held_out_looks", "generate_crops", "captions_for", "relative_azimuth", "SimClipDataError"]

SPLITS = ("train", "test_view", "test_look")
TRAIN, TEST_VIEW, TEST_LOOK = 0, 1, 2
# degrees of camera azimuth around the object, measured from the direction its front faces
VIEW_HOLDOUT_SECTORS: tuple[tuple[float, float], ...] = ((30.0, 50.0), (130.0, 150.0), (210.0, 230.0),
                                                         (310.0, 330.0))
# {name} is the memory's object name ("red wooden chair"), {room} a room or region type
CAPTION_TEMPLATES: tuple[str, ...] = (
    "a photo of a {category}",
    "a {colour} {category}",
    "a photo of a {name}",
    "a {name} in the {room}",
    "a {category} in the {room}",
)
_WORLD_KINDS = ("house", "office", "multifloor", "campus")
CUT_KEEP = 0.35  # share of part-view crops (cut by the frame border) kept for training


class SimClipDataError(LabError):
    """The data settings are unusable."""


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """How much to render. Test scenes are every ``test_every``-th scene of each source."""

    seed: int = 0
    showrooms: int = 500
    outdoor_showrooms: int = 80
    views_per_showroom: int = 10
    houses: int = 40
    offices: int = 10
    multifloors: int = 5
    campuses: int = 6
    frames_per_world: int = 60
    max_crops_per_instance: int = 3  # keeps the dozen identical windows of a house from dominating
    test_every: int = 6
    width: int = 320
    height: int = 240
    workers: int = 2

    def __post_init__(self) -> None:
        counts = (self.showrooms, self.outdoor_showrooms, self.houses, self.offices, self.multifloors, self.campuses)
        if any(c < 0 for c in counts) or sum(counts) == 0:
            raise SimClipDataError(f"scene counts must be zero or more and not all zero, got {counts}")
        if self.views_per_showroom < 1 or self.frames_per_world < 1 or self.max_crops_per_instance < 1:
            raise SimClipDataError("views_per_showroom, frames_per_world and max_crops_per_instance must be >= 1")
        if self.test_every < 2:
            raise SimClipDataError(f"test_every must be 2 or more, got {self.test_every}")
        if self.workers < 1:
            raise SimClipDataError(f"workers must be 1 or more, got {self.workers}")


@dataclass(frozen=True)
class HeldOut:
    """The held-out looks and viewpoint sectors."""

    looks: frozenset[tuple[str, str, str]]
    sectors: tuple[tuple[float, float], ...] = VIEW_HOLDOUT_SECTORS

    def look(self, category: str, colour: str, material: str) -> bool:
        return (category, colour, material) in self.looks

    def view(self, azimuth_deg: float) -> bool:
        a = azimuth_deg % 360.0
        return any(lo <= a < hi for lo, hi in self.sectors)

    def has_look(self, category: str) -> bool:
        return any(c == category for c, _, _ in self.looks)


def held_out_looks(catalog: Catalog) -> HeldOut:
    """One (category, colour, material) per category with >= 3 colours, picked by a stable hash."""
    looks = set()
    for name, cat in catalog.categories.items():
        if len(cat.colours) < 3:
            continue
        colour = cat.colours[zlib.crc32(name.encode()) % len(cat.colours)]
        material = cat.materials[zlib.crc32((name + "/material").encode()) % len(cat.materials)]
        looks.add((name, colour, material))
    return HeldOut(frozenset(looks))


def relative_azimuth(camera_xy: Sequence[float], obj: ObjectInfo) -> float:
    """Degrees in [0, 360) of the camera around ``obj``, 0 = straight in front of it."""
    a = math.atan2(camera_xy[1] - obj.position[1], camera_xy[0] - obj.position[0]) - obj.yaw
    return math.degrees(a) % 360.0


@dataclass
class CropSet:
    """Crops with their labels; label columns index the vocabularies."""

    images: np.ndarray  # (N, S, S, 3) uint8
    category: np.ndarray  # (N,) int16 into categories
    colour: np.ndarray  # (N,) int16 into colours
    material: np.ndarray  # (N,) int16 into materials
    room: np.ndarray  # (N,) int16 into rooms, -1 = unknown
    split: np.ndarray  # (N,) uint8 into SPLITS
    instance: np.ndarray  # (N,) int64, unique per object instance over the whole set
    azimuth: np.ndarray  # (N,) float32 degrees
    source: np.ndarray  # (N,) uint8: 0 showroom, 1 world
    cut: np.ndarray  # (N,) bool: the mask touches the frame border (only part of the object in view)
    categories: tuple[str, ...]
    colours: tuple[str, ...]
    materials: tuple[str, ...]
    rooms: tuple[str, ...]
    scenes: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(len(self.images))

    def subset(self, mask: np.ndarray) -> CropSet:
        """The crops where ``mask`` is true (or at the given indices)."""
        cols = {k: getattr(self, k)[mask] for k in ("images", "category", "colour", "material", "room", "split",
                                                     "instance", "azimuth", "source", "cut")}
        return CropSet(**cols, categories=self.categories, colours=self.colours, materials=self.materials,
                       rooms=self.rooms, scenes=dict(self.scenes))

    def split_of(self, name: str) -> CropSet:
        return self.subset(self.split == SPLITS.index(name))

    def summary(self) -> dict:
        """Counts per split and source, and category coverage."""
        out: dict = {"crops": len(self), "scenes": dict(self.scenes)}
        for i, s in enumerate(SPLITS):
            m = self.split == i
            out[s] = {"crops": int(m.sum()), "showroom": int((m & (self.source == 0)).sum()),
                      "part_views": int((m & self.cut).sum()),
                      "world": int((m & (self.source == 1)).sum()),
                      "instances": int(len(np.unique(self.instance[m]))),
                      "categories": int(len(np.unique(self.category[m])))}
        return out


def captions_for(crops: CropSet, index: int) -> list[str]:
    """The caption of crop ``index`` under every template (in ``CAPTION_TEMPLATES`` order)."""
    cat = crops.categories[int(crops.category[index])]
    colour = crops.colours[int(crops.colour[index])]
    material = crops.materials[int(crops.material[index])]
    r = int(crops.room[index])
    room = crops.rooms[r] if r >= 0 else ""
    name = object_name(cat, colour, material)
    out = []
    for t in CAPTION_TEMPLATES:
        if "{room}" in t and not room:
            t = t.replace(" in the {room}", "")
        text = t.format(category=cat, colour=colour, name=name, room=room)
        out.append(_fix_article(text))
    return out


def _fix_article(text: str) -> str:
    words = text.split(" ")
    for i, w in enumerate(words[:-1]):
        if w == "a" and words[i + 1][:1].lower() in "aeiou":
            words[i] = "an"
    return " ".join(words)


# --------------------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class _Job:
    index: int
    kind: str  # "showroom", "outdoor" or a world kind
    seed: int
    test: bool
    frames: int
    width: int
    height: int
    max_per_instance: int


def _jobs(cfg: DataConfig) -> list[_Job]:
    """Every scene to render, interleaved so that workers finish at about the same time."""
    groups = [("showroom", cfg.showrooms, cfg.views_per_showroom), ("outdoor", cfg.outdoor_showrooms,
                                                                     cfg.views_per_showroom),
              ("house", cfg.houses, cfg.frames_per_world), ("office", cfg.offices, cfg.frames_per_world),
              ("multifloor", cfg.multifloors, cfg.frames_per_world), ("campus", cfg.campuses, cfg.frames_per_world)]
    jobs: list[_Job] = []
    for g, (kind, n, frames) in enumerate(groups):
        for k in range(n):
            # world seeds start at 100 so that the small seeds people explore (house:seed=3) stay unseen
            seed = 100 + 1000 * cfg.seed + k if kind in _WORLD_KINDS else int(
                np.random.SeedSequence([cfg.seed, g, k]).generate_state(1)[0])
            jobs.append(_Job(0, kind, seed, (k % cfg.test_every) == cfg.test_every - 1, frames, cfg.width,
                             cfg.height, cfg.max_crops_per_instance))
    # worlds first (slowest), then showrooms: a pool drains evenly
    jobs.sort(key=lambda j: (j.kind not in _WORLD_KINDS, j.kind, j.seed))
    return [_Job(i, j.kind, j.seed, j.test, j.frames, j.width, j.height, j.max_per_instance)
            for i, j in enumerate(jobs)]


def generate_crops(cfg: DataConfig, cancel: CancelToken | None = None) -> Generator[Progress, None, CropSet]:
    """Render every scene of ``cfg`` and return the labelled crops (train and test splits)."""
    catalog = load_catalog()
    jobs = _jobs(cfg)
    results: dict[int, dict] = {}
    yield Progress("render", 0, len(jobs), "starting")
    if cfg.workers == 1:
        for job in jobs:
            if cancel is not None:
                cancel.check()
            results[job.index] = render_job(job)
            yield Progress("render", len(results), len(jobs), _job_msg(results))
    else:
        with ProcessPoolExecutor(max_workers=cfg.workers, mp_context=get_context("spawn")) as pool:
            todo = list(reversed(jobs))
            running: dict[Future, int] = {}
            try:
                while todo or running:
                    while todo and len(running) < 2 * cfg.workers:
                        j = todo.pop()
                        running[pool.submit(render_job, j)] = j.index
                    done, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
                    for f in done:
                        results[running.pop(f)] = f.result()
                    if cancel is not None:
                        cancel.check()
                    if done:
                        yield Progress("render", len(results), len(jobs), _job_msg(results))
            except BaseException:
                for f in running:
                    f.cancel()
                raise
    return _assemble(catalog, jobs, results)


def _job_msg(results: dict[int, dict]) -> str:
    return f"{sum(len(r['category']) for r in results.values())} crops"


def _assemble(catalog: Catalog, jobs: list[_Job], results: dict[int, dict]) -> CropSet:
    categories = tuple(catalog.categories)
    colours = catalog.palette.names()
    materials = tuple(sorted({m for c in catalog.categories.values() for m in c.materials}))
    rooms = tuple(catalog.room_types)
    cols: dict[str, list] = {k: [] for k in ("images", "category", "colour", "material", "room", "split", "instance",
                                             "azimuth", "source", "cut")}
    scenes: dict[str, int] = {}
    for job in jobs:
        r = results[job.index]
        scenes[job.kind] = scenes.get(job.kind, 0) + 1
        n = len(r["category"])
        if n == 0:
            continue
        cols["images"].append(r["images"])
        cols["category"].append(np.array([categories.index(c) for c in r["category"]], dtype=np.int16))
        cols["colour"].append(np.array([colours.index(c) for c in r["colour"]], dtype=np.int16))
        cols["material"].append(np.array([materials.index(m) for m in r["material"]], dtype=np.int16))
        cols["room"].append(np.array([rooms.index(x) if x in rooms else -1 for x in r["room"]], dtype=np.int16))
        cols["split"].append(np.asarray(r["split"], dtype=np.uint8))
        cols["instance"].append(np.asarray(r["instance"], dtype=np.int64) + 100_000 * job.index)
        cols["azimuth"].append(np.asarray(r["azimuth"], dtype=np.float32))
        cols["source"].append(np.full(n, 0 if job.kind in ("showroom", "outdoor") else 1, dtype=np.uint8))
        cols["cut"].append(np.asarray(r["cut"], dtype=bool))
    if not cols["images"]:
        raise SimClipDataError("rendering produced no crops; raise the scene counts")
    return CropSet(**{k: np.concatenate(v) for k, v in cols.items()}, categories=categories, colours=colours,
                   materials=materials, rooms=rooms, scenes=scenes)


# ------------------------------------------------------------------------------------ rendering


def render_job(job: _Job) -> dict:
    """Render one scene's frames and cut its labelled crops (runs in a worker process)."""
    rng = np.random.default_rng(job.seed)
    catalog = load_catalog()
    held = held_out_looks(catalog)
    camera = CameraSpec(width=job.width, height=job.height)
    navmap = rs = None
    if job.kind in ("showroom", "outdoor"):
        scene, room_of = _showroom(catalog, held, rng, outdoor=job.kind == "outdoor", test=job.test)
    else:
        from sim.loader import load_scene
        from sim.navmap import NavMap, raycast_scene

        scene = load_scene(_world_spec(job.kind, job.seed))
        rs = raycast_scene(scene)
        navmap = NavMap.from_scene(scene, resolution=0.1, raycaster=rs)
        rooms = {r.id: r.type for r in scene.info.rooms}
        room_of = {o.id: rooms.get(o.room_id, "") for o in scene.info.objects}
    renderer = Renderer(scene, camera, style=_random_style(rng), raycaster=rs)
    objects = {o.id: o for o in scene.info.objects}
    target_list = [objects[i] for i in room_of]
    weights = _balance_weights(target_list)
    pcfg = PerceptionConfig()
    out: dict[str, list] = {k: [] for k in ("images", "category", "colour", "material", "room", "split",
                                            "instance", "azimuth", "cut")}
    per_instance: dict[int, int] = {}
    for _ in range(job.frames):
        target = target_list[int(rng.choice(len(target_list), p=weights))]
        pose = _camera_pose(scene, target, rng, navmap, held, job)
        if pose is None:
            continue
        frame = renderer.render(pose)
        obs = Observation(rgb=frame.rgb, depth=frame.depth, instance=frame.instance, pose=pose, timestamp=0.0,
                          camera=camera)
        for seg in extract_segments(obs, pcfg):
            info = objects.get(seg.instance)
            if info is None or per_instance.get(info.id, 0) >= job.max_per_instance:
                continue
            az = relative_azimuth((pose.x, pose.y), info)
            split = _split(info, az, held, job.test)
            # part-views (mask on the frame border) are real but often ambiguous: fewer of them in training
            if split is None or (seg.cut and split == TRAIN and rng.random() > CUT_KEEP):
                continue
            per_instance[info.id] = per_instance.get(info.id, 0) + 1
            out["images"].append(seg.crop)
            out["category"].append(info.category)
            out["colour"].append(info.colour)
            out["material"].append(info.material)
            out["room"].append(room_of.get(info.id, ""))
            out["split"].append(split)
            out["instance"].append(info.id)
            out["azimuth"].append(az)
            out["cut"].append(seg.cut)
    size = pcfg.crop_size
    imgs = np.stack(out["images"]) if out["images"] else np.zeros((0, size, size, 3), np.uint8)
    return {**out, "images": imgs}


def _world_spec(kind: str, seed: int) -> str:
    return {"house": f"house:seed={seed},rooms={4 + seed % 7}", "office": f"office:seed={seed}",
            "multifloor": f"multifloor:seed={seed},floors=2", "campus": f"campus:seed={seed}"}[kind]


def _split(info: ObjectInfo, az: float, held: HeldOut, test: bool) -> int | None:
    look = held.look(info.category, info.colour, info.material)
    if not test:
        return None if look or held.view(az) else TRAIN
    if look:
        return TEST_LOOK
    return TEST_VIEW if held.view(az) else None


def _balance_weights(objects: list[ObjectInfo]) -> np.ndarray:
    """Target-choice weights that make each category equally likely (not each instance)."""
    counts: dict[str, int] = {}
    for o in objects:
        counts[o.category] = counts.get(o.category, 0) + 1
    w = np.array([1.0 / counts[o.category] for o in objects])
    return w / w.sum()


def _random_style(rng: np.random.Generator) -> RenderStyle:
    el = rng.uniform(0.35, 1.3)
    az = rng.uniform(0, 2 * math.pi)
    return RenderStyle(light_dir=(math.cos(az) * math.cos(el), math.sin(az) * math.cos(el), math.sin(el)),
                       ambient=float(rng.uniform(0.3, 0.5)), diffuse=float(rng.uniform(0.3, 0.55)),
                       headlight=float(rng.uniform(0.1, 0.3)))


def _camera_pose(scene: Scene, target: ObjectInfo, rng: np.random.Generator, navmap, held: HeldOut,
                 job: _Job) -> Pose | None:
    """A free camera pose looking at ``target`` from an allowed azimuth, or None after 30 tries."""
    floor = next((f for f in scene.info.floors if f.index == target.floor), scene.info.floors[0])
    ext = np.asarray(target.bbox_max) - np.asarray(target.bbox_min)
    reach = 0.5 * float(max(ext[0], ext[1]))
    wall = load_catalog().category(target.category).support == "wall"
    for _ in range(30):
        if wall:
            az = rng.uniform(-75.0, 75.0) % 360.0
        else:
            az = rng.uniform(0.0, 360.0)
        want_held = job.test and rng.random() < 0.6
        if held.view(az) != want_held:
            continue
        dist = reach + rng.uniform(1.0, 3.5)
        a = target.yaw + math.radians(az)
        x = target.position[0] + dist * math.cos(a)
        y = target.position[1] + dist * math.sin(a)
        if navmap is not None:
            if target.floor not in navmap.floors or not navmap.is_free(x, y, target.floor, radius=0.2):
                continue
            z = floor.elevation
        else:
            if not _showroom_free(scene, x, y):
                continue
            z = float(rng.uniform(-0.35, 0.25))
        look = math.atan2(target.position[1] - y, target.position[0] - x) + rng.normal(0.0, math.radians(10.0))
        return Pose(x, y, z, wrap_angle(look), target.floor)
    return None


# ------------------------------------------------------------------------------------ showrooms


def _showroom(catalog: Catalog, held: HeldOut, rng: np.random.Generator, *, outdoor: bool,
              test: bool) -> tuple[Scene, dict[int, str]]:
    """A room (or an outdoor lot) with a few catalog objects; returns the scene and each object's room type."""
    asm = WorldAssembler(catalog)
    if outdoor:
        region = str(rng.choice(catalog.region_types()))
        cats = [n for n, c in catalog.categories.items() if c.outdoor or region in c.rooms] or ["bench"]
        w = d = 14.0
        ground = str(rng.choice(["green", "dark green", "olive", "grey", "light grey", "dark grey", "beige", "tan"]))
        mat = {"green": "grass", "dark green": "grass", "olive": "grass"}.get(ground, str(rng.choice(
            ["concrete", "asphalt", "stone"])))
        asm.add_structure(geometry.quad(-2, -2, w + 2, d + 2, 0.0), colour=catalog.colour(ground), material=mat,
                          kind=SurfaceKind.GROUND)
        room_type = region
    else:
        room_type = str(rng.choice(catalog.indoor_room_types()))
        rt = catalog.room_type(room_type)
        cats = [n for n, c in catalog.categories.items() if not c.outdoor]
        w, d = float(rng.uniform(5.5, 8.0)), float(rng.uniform(5.5, 8.0))
        floor_c = catalog.colour(str(rng.choice(rt.floor_colours)))
        wall_c = catalog.colour(str(rng.choice(rt.wall_colours)))
        asm.builder.add_floor(0, 0, w, d, 0.0, colour=floor_c, material=str(rng.choice(rt.floor_materials)))
        asm.builder.add_ceiling(0, 0, w, d, 2.7)
        for p0, p1 in (((0, 0), (w, 0)), ((w, 0), (w, d)), ((w, d), (0, d)), ((0, d), (0, 0))):
            asm.builder.add_wall(p0, p1, z0=0.0, height=2.7, colour=wall_c)
    in_room = [c for c, _ in catalog.categories_for_room(room_type)] if not outdoor else cats
    placed: list[tuple[float, float, float]] = []  # (x, y, radius) footprints on the floor
    wall_used: dict[int, list[tuple[float, float]]] = {}
    room_of: dict[int, str] = {}
    n = int(rng.integers(6, 11))
    for _ in range(n):
        pool = in_room if (in_room and rng.random() < 0.4) else cats
        name = str(rng.choice(pool))
        cat = catalog.category(name)
        if outdoor and cat.support == "wall":
            continue
        look = _look(catalog, held, name, rng, test)
        size = cat.size.sample(rng, square=cat.square)
        info = _place(asm, catalog, name, size, look, rng, w, d, placed, wall_used, outdoor)
        if info is not None:
            room_of[info.id] = room_type if (room_type in cat.rooms or outdoor) else ""
    if not room_of:  # every placement failed: one object in the middle, always possible
        name = "bench" if outdoor else "armchair"
        look = _look(catalog, held, name, rng, test)
        info = asm.add_object(name, catalog.category(name).size.sample(rng), x=w / 2, y=d / 2, z=0.0,
                              yaw=float(rng.uniform(-math.pi, math.pi)), look=look, room_id=0, floor=0)
        room_of[info.id] = room_type if room_type in catalog.category(name).rooms else ""
    rooms = (RoomInfo(0, room_type, 0, ((0.0, 0.0), (w, 0.0), (w, d), (0.0, d))),)
    scene = asm.scene(name="showroom", kind="showroom", rooms=rooms, floors=(FloorInfo(0, 0.0, 2.7),),
                      start=Pose(w / 2, d / 2), outdoor=outdoor)
    scene.meta["size"] = (w, d)
    return scene, room_of


def _look(catalog: Catalog, held: HeldOut, name: str, rng: np.random.Generator, test: bool) -> Look:
    """A catalog look; training scenes never get a held-out one, test scenes get one half the time."""
    if test and held.has_look(name) and rng.random() < 0.5:
        _, colour, material = next(x for x in sorted(held.looks) if x[0] == name)
        base = pick_look(catalog, name, rng)
        secondary = base.secondary if base.secondary != colour else base.colour
        return Look(colour, material, secondary)
    for _ in range(20):
        look = pick_look(catalog, name, rng)
        if not held.look(name, look.colour, look.material):
            return look
    return look


def _place(asm: WorldAssembler, catalog: Catalog, name: str, size: tuple[float, float, float], look: Look,
           rng: np.random.Generator, w: float, d: float, placed: list[tuple[float, float, float]],
           wall_used: dict[int, list[tuple[float, float]]], outdoor: bool) -> ObjectInfo | None:
    cat = catalog.category(name)
    sw, sd, sh = size
    if cat.support == "wall":
        return _place_on_wall(asm, catalog, name, size, look, rng, w, d, wall_used)
    radius = 0.5 * math.hypot(sw, sd) + 0.1
    margin = 1.0 if not outdoor else 2.0
    for _ in range(25):
        x = float(rng.uniform(margin + radius, w - margin - radius)) if w - 2 * (margin + radius) > 0 else w / 2
        y = float(rng.uniform(margin + radius, d - margin - radius)) if d - 2 * (margin + radius) > 0 else d / 2
        if any(math.hypot(x - px, y - py) < radius + pr + 0.25 for px, py, pr in placed):
            continue
        yaw = float(rng.uniform(-math.pi, math.pi))
        z = 0.0
        if cat.support == "surface":  # a plinth (structure, unlabelled) to stand on
            z = float(rng.uniform(0.45, 0.95))
            top = str(rng.choice(["brown", "dark brown", "white", "tan", "black", "grey"]))
            hw, hd = sw / 2 + 0.12, sd / 2 + 0.12
            box = geometry.transform(geometry.box((-hd, -hw, 0.0), (hd, hw, z)), yaw, (x, y, 0.0))
            asm.add_structure(box, colour=catalog.colour(top), material="wood", kind=SurfaceKind.OBJECT)
        placed.append((x, y, radius))
        return asm.add_object(name, size, x=x, y=y, z=z, yaw=yaw, look=look, room_id=0, floor=0)
    return None


def _place_on_wall(asm: WorldAssembler, catalog: Catalog, name: str, size: tuple[float, float, float], look: Look,
                   rng: np.random.Generator, w: float, d: float,
                   wall_used: dict[int, list[tuple[float, float]]]) -> ObjectInfo | None:
    cat = catalog.category(name)
    sw, sd, sh = size
    if name == "door":
        z = 0.0
    elif name == "window":
        z = float(rng.uniform(0.8, 1.0))
    else:
        lo, hi = cat.placement.mount
        z = float(rng.uniform(lo, hi))
    z = min(z, max(0.0, 2.65 - sh))
    for _ in range(15):
        side = int(rng.integers(4))
        length = w if side in (0, 2) else d
        if length < sw + 0.6:
            continue
        t = float(rng.uniform(0.3 + sw / 2, length - 0.3 - sw / 2))
        if any(abs(t - u) < (sw + v) / 2 + 0.2 for u, v in wall_used.get(side, [])):
            continue
        off = 0.05 + sd / 2 + 0.01
        # wall side 0: y = 0 facing +y; 1: x = w facing -x; 2: y = d facing -y; 3: x = 0 facing +x
        x, y, yaw = {0: (t, off, math.pi / 2), 1: (w - off, t, math.pi), 2: (w - t, d - off, -math.pi / 2),
                     3: (off, d - t, 0.0)}[side]
        wall_used.setdefault(side, []).append((t, sw))
        return asm.add_object(name, size, x=x, y=y, z=z, yaw=yaw, look=look, room_id=0, floor=0)
    return None


def _showroom_free(scene: Scene, x: float, y: float) -> bool:
    """Camera spot inside the showroom and clear of every object's box."""
    w, d = scene.meta["size"]
    if not (0.35 < x < w - 0.35 and 0.35 < y < d - 0.35):
        return False
    for o in scene.info.objects:
        if (o.bbox_min[0] - 0.3 < x < o.bbox_max[0] + 0.3) and (o.bbox_min[1] - 0.3 < y < o.bbox_max[1] + 0.3):
            return False
    return True
