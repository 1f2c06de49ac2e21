"""Simulator benchmark: render rate, step rate, world generation and NavMap build times.

``run_sim_bench(quick)`` returns a nested dict of medians over repeated runs; ``app.cli.bench``
prints it. Each figure comes from one *section* function ``(BenchContext) -> dict``; the
sections run in the order of ``SECTIONS``, and other modules contribute theirs (for example
exploration steps to 95 % coverage) with ``register_section`` instead of editing this file.
"""
from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.builtin import BuiltinSimulator
from sim.errors import LabError
from sim.loader import load_scene
from sim.motion import MotionModel
from sim.navmap import NavMap, raycast_scene
from sim.raycast import Renderer
from sim.scene import Scene
from sim.simulator import SimConfig
from sim.types import Action, Pose
from sim.worlds import WORLDS

log = logging.getLogger(__name__)

__all__ = ["BenchContext", "SECTIONS", "register_section", "run_sim_bench", "bench_scene_spec",
           "bench_render", "bench_steps", "bench_worlds", "bench_navmap"]

HOUSE_SPEC = "house:seed=3,rooms=6"
FALLBACK_SPEC = "rooms:n=6,seed=3"  # used while no 'house' world type is registered
RESOLUTIONS = ((320, 240), (640, 480))
THREADS = (1, 2)


@dataclass
class BenchContext:
    """What every section gets: the benchmark scene and how long to measure."""

    quick: bool
    spec: str
    scene: Scene
    config: SimConfig = field(default_factory=SimConfig)
    seed: int = 0
    _navmap: NavMap | None = None

    @property
    def repeats(self) -> int:
        return 1 if self.quick else 3

    @property
    def navmap(self) -> NavMap:
        """The scene's NavMap at the config's resolution and radius (built once, shared by sections)."""
        if self._navmap is None:
            c = self.config
            self._navmap = NavMap.from_scene(self.scene, resolution=c.nav_resolution, robot_radius=c.robot_radius,
                                             robot_height=c.robot_height)
        return self._navmap

    def free_poses(self, n: int) -> list[Pose]:
        """``n`` seeded random poses where the robot can stand (on the start's floor)."""
        rng = np.random.default_rng(self.seed)
        floor = self.scene.start.floor
        g = self.navmap.grid(floor)
        ii, jj = np.nonzero(g.navigable(self.config.robot_radius))
        if len(ii) == 0:
            raise LabError(f"benchmark scene {self.spec!r} has no navigable cell on floor {floor}")
        pick = rng.integers(0, len(ii), size=n)
        xs, ys = g.spec.to_world(ii[pick], jj[pick])
        yaws = rng.uniform(-math.pi, math.pi, size=n)
        z = g.floor.elevation
        return [Pose(float(x), float(y), z, float(a), floor) for x, y, a in zip(xs, ys, yaws, strict=True)]


Section = Callable[[BenchContext], dict]
SECTIONS: list[tuple[str, Section]] = []


def register_section(name: str, fn: Section) -> None:
    """Add (or replace) a section; its dict appears under ``name`` in the result."""
    for i, (n, _) in enumerate(SECTIONS):
        if n == name:
            SECTIONS[i] = (name, fn)
            return
    SECTIONS.append((name, fn))


def _median_runs(fn: Callable[[], float], repeats: int) -> float:
    return float(statistics.median(fn() for _ in range(repeats)))


def bench_scene_spec() -> str:
    """The 6-room house when the ``house`` world exists, else a 6-room ``rooms`` world."""
    return HOUSE_SPEC if "house" in WORLDS else FALLBACK_SPEC


# sections -----------------------------------------------------------------------------------------
def bench_render(ctx: BenchContext) -> dict:
    """Frames per second (from the median wall-clock frame time) per resolution and thread count."""
    frames = 20 if ctx.quick else 100
    poses = ctx.free_poses(frames)
    raycaster = raycast_scene(ctx.scene)
    out: dict[str, Any] = {}
    for w, h in RESOLUTIONS:
        for threads in THREADS:
            cam = SimConfig(width=w, height=h).camera
            r = Renderer(ctx.scene, cam, threads=threads, raycaster=raycaster)
            r.render(poses[0])  # warm-up

            cpu: list[float] = []

            def run(r: Renderer = r, cpu: list[float] = cpu) -> float:
                wall, proc = [], []
                for p in poses:
                    t0, c0 = time.perf_counter(), time.process_time()
                    r.render(p)
                    wall.append(time.perf_counter() - t0)
                    proc.append(time.process_time() - c0)
                cpu.append(float(np.median(proc)))
                return float(np.median(wall))

            ms = _median_runs(run, ctx.repeats) * 1e3
            # cpu_ms (process CPU time, all threads) is less disturbed by other load on the machine
            out[f"{w}x{h}_t{threads}"] = {"frame_ms": round(ms, 2), "fps": round(1e3 / ms, 1),
                                          "cpu_ms": round(float(np.median(cpu)) * 1e3, 2)}
    return out


def _action_mix(n: int, seed: int) -> list[Action]:
    """Forward 60 %, turn left 20 %, turn right 20 % (seeded)."""
    rng = np.random.default_rng(seed)
    k = rng.random(n)
    return [Action.forward() if u < 0.6 else Action.turn_left() if u < 0.8 else Action.turn_right() for u in k]


def bench_steps(ctx: BenchContext) -> dict:
    """Steps per second with collision checking: full steps (render included) and motion alone."""
    n_full = 30 if ctx.quick else 200
    n_motion = 2000 if ctx.quick else 20000
    cfg = ctx.config
    with BuiltinSimulator(cfg, ctx.scene) as sim:
        actions = _action_mix(n_full, ctx.seed)

        def full() -> float:
            sim.reset()
            t0 = time.perf_counter()
            for a in actions:
                sim.step(a)
            return n_full / (time.perf_counter() - t0)

        full_rate = _median_runs(full, ctx.repeats)
        motion = MotionModel(sim.navmap, ctx.scene.info.floors, radius=cfg.robot_radius, collision=cfg.collision,
                             portals=ctx.scene.portals)
        start = sim.pose
    actions = _action_mix(n_motion, ctx.seed + 1)
    turn = math.radians(cfg.turn_deg)
    collisions = 0

    def motion_only() -> float:
        nonlocal collisions
        pose, collisions = start, 0
        t0 = time.perf_counter()
        for a in actions:
            if a.kind.value == "forward":
                res = motion.translate(pose, cfg.forward_step)
            else:
                res = motion.rotate(pose, turn if a.kind.value == "turn_left" else -turn)
            pose = res.pose
            collisions += res.collided
        return n_motion / (time.perf_counter() - t0)

    motion_rate = _median_runs(motion_only, ctx.repeats)
    return {"steps_per_s": round(full_rate, 1), "motion_steps_per_s": round(motion_rate, 0),
            "resolution": f"{cfg.width}x{cfg.height}", "render_threads": cfg.render_threads,
            "collision": cfg.collision, "collided_fraction": round(collisions / n_motion, 3)}


def bench_worlds(ctx: BenchContext) -> dict:
    """Generation time of every registered world type with its default parameters."""
    out: dict[str, Any] = {}
    for name in WORLDS.names():
        try:
            scenes: list[Scene] = []

            def gen(name: str = name, scenes: list[Scene] = scenes) -> float:
                t0 = time.perf_counter()
                scenes.append(load_scene(name))
                return time.perf_counter() - t0

            s = _median_runs(gen, ctx.repeats)
            out[name] = {"seconds": round(s, 3), "triangles": scenes[-1].mesh.n_triangles,
                         "objects": len(scenes[-1].info.objects)}
        except LabError as e:  # one broken world type must not hide the others' figures
            log.warning("bench: world %s failed: %s", name, e)
            out[name] = {"error": str(e)}
    return out


def bench_navmap(ctx: BenchContext) -> dict:
    """NavMap build time (including the Open3D scene) for the benchmark scene."""
    c = ctx.config
    maps: list[NavMap] = []

    def build() -> float:
        t0 = time.perf_counter()
        maps.append(NavMap.from_scene(ctx.scene, resolution=c.nav_resolution, robot_radius=c.robot_radius,
                                      robot_height=c.robot_height))
        return time.perf_counter() - t0

    s = _median_runs(build, ctx.repeats)
    g = next(iter(maps[-1].floors.values()))
    return {"seconds": round(s, 3), "floors": len(maps[-1].floors), "grid": list(g.spec.shape),
            "resolution": g.spec.resolution}


def bench_exploration(ctx: BenchContext) -> dict:
    """Frontier-exploration steps to 95 % coverage (one run each; 2-floor house skipped in quick mode)."""
    from app.robot.exploration import steps_to_coverage

    out = {"house": steps_to_coverage(ctx.spec, target=0.95, max_steps=3000)}
    if not ctx.quick:
        out["multifloor"] = steps_to_coverage("multifloor:seed=2,floors=2", target=0.90, max_steps=4000)
    return out


for _name, _fn in (("render", bench_render), ("steps", bench_steps), ("worlds", bench_worlds),
                   ("navmap", bench_navmap), ("exploration", bench_exploration)):
    register_section(_name, _fn)


def run_sim_bench(quick: bool = False) -> dict:
    """Measure the simulator; ``quick`` uses fewer frames/steps and a single repeat."""
    spec = bench_scene_spec()
    t0 = time.perf_counter()
    scene = load_scene(spec)
    ctx = BenchContext(quick=quick, spec=spec, scene=scene)
    result: dict[str, Any] = {
        "scene": {"spec": spec, "triangles": scene.mesh.n_triangles, "objects": len(scene.info.objects),
                  "load_seconds": round(time.perf_counter() - t0, 3)},
        "repeats": ctx.repeats,
    }
    for name, fn in list(SECTIONS):
        log.info("bench sim: %s", name)
        result[name] = fn(ctx)
    return result
