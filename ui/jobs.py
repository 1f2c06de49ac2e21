"""The GUI's units of work over a ``LabState`` (no Qt here; the ``SessionWorker`` runs them).

Each job is ``fn(state, cancel, **params)``: long ones are generators of ``Progress`` (wrapping
the ``app`` generators: exploration, navigation, scenario runs) and return their result; short
ones return directly. They run in the worker thread, one at a time, so the memory is only ever
touched by that thread. The same functions run headless in tests.

A memory file that names no world (one imported with ``import-gml``) opens on its own: questions,
node details and saving work; the jobs that drive the robot raise ``NoWorld``.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.config import with_perception
from app.progress import CancelToken, Progress
from app.session import ExploreSummary, Session
from memory.core import EmbodiedMemory
from memory.file_lock import lock_holder
from memory.store import MemoryStore
from memory.summarize_geo import GEO_KINDS
from memory.types import LEVEL_NAMES
from sim.errors import LabError
from sim.loader import load_scene
from sim.types import Action, Pose
from ui import services
from ui.lab_state import LabState

log = logging.getLogger(__name__)

__all__ = ["WorldInfo", "NodeDetails", "QueryOutcome", "new_world", "open_memory", "save_memory", "save_memory_as",
           "explore", "step_once", "teleop", "refresh_memory", "node_details", "past_views", "ask", "go_to",
           "run_scenario", "rebuild_cloud", "TELEOP", "memory_scene"]

# key name -> action (the simulator's default step sizes)
TELEOP: dict[str, Action] = {
    "forward": Action.forward(), "backward": Action.backward(),
    "left": Action.turn_left(), "right": Action.turn_right(),
}


@dataclass(frozen=True)
class WorldInfo:
    """What the window shows about a newly opened session (``has_world`` False: a memory on its own,
    ``scene`` empty)."""

    scene: str
    name: str
    memory_path: str | None
    floors: int
    bounds: tuple[tuple[float, float, float], tuple[float, float, float]]
    has_world: bool = True


@dataclass(frozen=True, eq=False)
class NodeDetails:
    """A memory node for the forest pane: text, picture and members."""

    id: str
    title: str
    level: str
    summary: str
    image: np.ndarray | None
    members: tuple[tuple[str, str], ...]  # (id, name)
    position: tuple[float, float, float] | None = None


@dataclass(frozen=True, eq=False)
class QueryOutcome:
    """A query's response JSON and a thumbnail per hit that has one."""

    response: dict
    thumbnails: dict[str, np.ndarray]


def _info(state: LabState) -> WorldInfo:
    session = state.require()
    path = session.memory.store.path if session.memory.store is not None else None
    if session.scene is None:
        name = Path(path).name if path else "memory"
        floors = max(1, int(session.memory.stats()["floors"]))
        return WorldInfo("", name, str(path) if path else None, floors, state.bounds(), has_world=False)
    info = session.scene.info
    return WorldInfo(session.scene.spec or session.scene.name, info.name, str(path) if path else None,
                     len(info.floors), (tuple(info.bounds_min), tuple(info.bounds_max)))


def _warm_up(session: Session) -> None:
    # the text encoder and the query engine load on first use (seconds): now, not mid-exploration
    session.memory.text_encoder.encode_text(["warm up"])
    services.warm_query(session.memory)


def _warm_and_attach(state: LabState, session: Session, cancel: CancelToken | None,
                     step: Progress | None = None) -> Generator[Progress, None, None]:
    """Load the session's models (reporting ``step``) and hand it to ``state``; close it if that fails
    or is cancelled, so no half-opened session is left behind."""
    try:
        if step is not None:
            yield step
        _warm_up(session)
        if cancel is not None:
            cancel.check()
    except BaseException:
        session.close()
        raise
    state.attach(session)


def new_world(state: LabState, cancel: CancelToken, spec: str, perception: str | None = None
              ) -> Generator[Progress, None, WorldInfo]:
    """Build (or load) the world ``spec`` and start a session in it with an empty memory, its perception
    ``perception`` (``app.config.PERCEPTION_MODES``; None: the lab config's)."""
    if perception and perception != state.config.memory.perception.type:
        state.config = with_perception(state.config, perception)
    yield Progress("world", 0, 3, f"building {spec}")
    scene = load_scene(spec)
    cancel.check()
    yield Progress("world", 1, 3, "starting the simulator")
    session = Session(scene, config=state.config, memory_path=state.new_memory_path(scene.info.name or spec))
    yield from _warm_and_attach(state, session, cancel, Progress("world", 2, 3, "loading the text encoder"))
    log.info("opened %s (memory %s)", spec, state.memory_path)
    return _info(state)


def memory_scene(path: str | Path) -> str | None:
    """The scene spec a memory file was built in (its ``scene`` meta entry); None when it names
    none (a memory imported from elsewhere)."""
    store = MemoryStore.open(path, create=False, readonly=True)
    try:
        spec = store.get_meta("scene")
    finally:
        store.close()
    return str(spec) if spec else None


def open_memory(state: LabState, cancel: CancelToken, path: str, scene: str | None = None
                ) -> Generator[Progress, None, WorldInfo]:
    """Open a memory file in its world (or ``scene``) and redraw what it remembers; a memory that
    names no world opens on its own (no robot: it answers questions, nothing drives). So does, read-only,
    a memory another process is writing: it shows that writer's last checkpoint."""
    spec = scene or memory_scene(path)
    if spec is None or lock_holder(path) not in (None, os.getpid()):
        return (yield from _open_memory_alone(state, cancel, path))
    yield Progress("open", 0, 3, f"building {spec}")
    world = load_scene(spec)
    cancel.check()
    yield Progress("open", 1, 3, f"loading {Path(path).name}")
    session = Session(world, config=state.config, memory_path=path)
    yield from _warm_and_attach(state, session, None)
    yield from rebuild_cloud(state, cancel)
    return _info(state)


def _open_memory_alone(state: LabState, cancel: CancelToken, path: str) -> Generator[Progress, None, WorldInfo]:
    name = Path(path).name
    yield Progress("open", 0, 2, f"loading {name} (no world)")
    writer = lock_holder(path)
    memory = None
    if writer not in (None, os.getpid()):  # one writer per file: read its last checkpoint
        log.info("process %s is writing %s: opening it read-only", writer, path)
        memory = EmbodiedMemory.open(path, state.config.memory, create=False, readonly=True)
    session = Session(None, config=state.config, memory=memory, memory_path=path)
    yield from _warm_and_attach(state, session, cancel, Progress("open", 1, 2, "loading the text encoder"))
    log.info("opened %s without a world", path)
    return _info(state)


def rebuild_cloud(state: LabState, cancel: CancelToken, limit: int = 150) -> Generator[Progress, None, int]:
    """Re-render the views of up to ``limit`` remembered places into the point cloud (after opening
    a memory file, whose cloud is not stored); the robot stays where it is."""
    s = state.require_world()
    places = s.memory.graph.places()
    if len(places) > limit:
        places = [places[int(i)] for i in np.linspace(0, len(places) - 1, limit)]
    here = s.observation.pose
    done = 0
    try:
        for i, p in enumerate(places):
            cancel.check()
            try:
                obs = s.sim.set_pose(p.pose)
            except LabError:
                continue  # a pose the simulator refuses (moved furniture, another scene version)
            state.cloud.add(obs)
            done += 1
            if i % 5 == 0:
                yield Progress("redraw", i + 1, len(places), "redrawing remembered views")
    finally:
        s.sim.set_pose(here)
    return done


def save_memory(state: LabState, cancel: CancelToken) -> str:
    """Checkpoint the memory to its file; returns the path."""
    s = state.require()
    if s.memory.store is None:
        raise LabError("this memory has no file yet: use Save As")
    s.memory.checkpoint()
    return str(s.memory.store.path)


def save_memory_as(state: LabState, cancel: CancelToken, path: str) -> str:
    """Write the memory to ``path`` and keep working on that file from now on."""
    s = state.require()
    target = Path(path)
    mem = s.memory
    if mem.store is None:
        mem.save_as(target)
        return str(target)
    old = mem.store
    if target.exists() and target.resolve() == Path(old.path).resolve():
        mem.checkpoint()
        return str(target)
    mem.save_as(target)
    # every checkpoint writes the whole memory, so switching files keeps nothing behind
    mem.store = MemoryStore.open(target, create=False)
    old.close()
    return str(target)


def explore(state: LabState, cancel: CancelToken, steps: int) -> Generator[Progress, None, ExploreSummary]:
    """Frontier exploration for at most ``steps`` steps (cancel = pause: the explorer is kept)."""
    s = state.require_world()
    gen = s.explore(steps, cancel, report_every=1)
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            state.sync()
            return stop.value
        snap = p.snapshot
        if snap is not None and getattr(snap, "coverage", None) is not None:
            state.coverage = snap.coverage
        state.sync()
        yield Progress(p.stage, p.done, p.total, p.message)


def step_once(state: LabState, cancel: CancelToken) -> Generator[Progress, None, ExploreSummary]:
    """One step of the explorer."""
    return explore(state, cancel, 1)


def teleop(state: LabState, cancel: CancelToken, key: str) -> Pose:
    """Drive the robot by one key command (``forward``, ``backward``, ``left``, ``right``)."""
    if key not in TELEOP:
        raise LabError(f"unknown drive command {key!r}; expected one of {', '.join(TELEOP)}")
    s = state.require_world()
    s.step(TELEOP[key])
    state.sync()
    return s.observation.pose


def refresh_memory(state: LabState, cancel: CancelToken) -> Any:
    """Re-segment rooms and re-summarise what changed in the forest."""
    return state.require().memory.refresh()


def _image(memory: Any, node_id: str) -> np.ndarray | None:
    g = memory.graph
    try:
        if node_id.startswith("place/"):
            return g.thumbnail(node_id)
        if node_id.startswith("obj/"):
            return g.crop(node_id)
    except KeyError:
        return None
    # a cluster: the view of its first remembered place, else its first object's crop
    leaves = memory.forest.leaves_under(node_id) if memory.forest.has(node_id) else []
    for prefix in ("place/", "obj/"):
        for leaf in leaves:
            if leaf.startswith(prefix):
                im = _image(memory, leaf)
                if im is not None:
                    return im
    return None


def node_details(state: LabState, cancel: CancelToken, node_id: str) -> NodeDetails:
    """Text, picture and members of a forest cluster, a place or an object."""
    mem = state.require().memory
    g = mem.graph
    if node_id.startswith(("place/", "obj/")):
        rec = g.node(node_id)
        if node_id.startswith("place/"):
            members = tuple((o.id, o.name) for o in g.objects_seen_from(node_id))
            level = "view"
        else:
            members = tuple((p.id, p.name) for p in g.places_seeing(node_id))
            level = "object"
        return NodeDetails(node_id, rec.name, level, rec.text, _image(mem, node_id), members, tuple(rec.position))
    c = mem.forest.cluster(node_id)
    members = []
    for cid in mem.forest.children(node_id):
        try:
            members.append((cid, mem.node(cid).name))
        except KeyError:
            continue
    level = c.room_type if c.room_type in GEO_KINDS else (
        LEVEL_NAMES[c.level] if 0 <= c.level < len(LEVEL_NAMES) else str(c.level))
    counts = ", ".join(f"{n} {label}" for label, n in c.counts[:8])
    summary = c.summary + (f"\n\nObjects below: {counts}." if counts else "")
    return NodeDetails(node_id, c.name, f"level {c.level} ({level})", summary, _image(mem, node_id), tuple(members),
                       tuple(c.position))


def past_views(state: LabState, cancel: CancelToken, limit: int = 80) -> list[tuple[str, str, np.ndarray]]:
    """The most recent remembered views with a thumbnail: ``(place id, name, image)``."""
    g = state.require().memory.graph
    out = []
    for p in reversed(g.places()):
        im = g.thumbnail(p.id)
        if im is not None:
            out.append((p.id, p.name, im))
        if len(out) >= limit:
            break
    return out


def _llm_config(state: LabState, params: services.QueryParams) -> Any:
    if "llm" not in (params.retriever, params.generator):
        return None
    if state.llm is None:
        raise LabError("the LLM retriever and answers need a server: set one in Settings > LLM server")
    return state.llm


def ask(state: LabState, cancel: CancelToken, params: services.QueryParams) -> QueryOutcome:
    """Answer a question (text and/or image) from the memory; hits are drawn on the map."""
    s = state.require()
    pose = s.observation.pose if s.observation is not None else None  # no world: no robot to be near
    response = services.ask(s.memory, params, pose=pose, llm=_llm_config(state, params), cancel=cancel)
    state.set_query(response)
    state.set_path(np.zeros((0, 3), dtype=np.float32))
    thumbs = {}
    for h in response.get("hits", []):
        hid = str(h.get("id"))
        im = _image(s.memory, hid)
        if im is not None:
            thumbs[hid] = im
    return QueryOutcome(response, thumbs)


def go_to(state: LabState, cancel: CancelToken, goal: tuple[float, float, float], floor: int | None = None
          ) -> Generator[Progress, None, Any]:
    """Drive the robot to ``goal`` (on ``floor``, default: the floor of the goal's height)."""
    s = state.require_world()
    if floor is None:
        floor = s.scene.info.floor_of_z(float(goal[2])) if len(goal) > 2 else s.observation.pose.floor
    gen = services.drive(s, tuple(float(v) for v in goal), int(floor), cancel=cancel)
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            result = stop.value
            state.sync()
            planned = getattr(result, "planned", None)
            if planned:
                state.set_path(state.route_points(planned))
            return result
        if isinstance(p.snapshot, list) and p.snapshot:
            state.set_path(state.route_points(p.snapshot))
        state.sync()
        yield Progress(p.stage, p.done, p.total, p.message)  # navigation.progress_line: the answer's distance


def run_scenario(state: LabState, cancel: CancelToken, path: str, out_dir: str | None = None
                 ) -> Generator[Progress, None, Any]:
    """Run a scenario file (its own sessions; the open world is left as it is)."""
    gen = services.scenario(path, out_dir, cancel=cancel)
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        yield Progress(p.stage, p.done, p.total, p.message)
