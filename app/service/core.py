"""``MemoryService``: one process owns a memory file; writes go through one worker, reads run side by side.

The HTTP API and the MCP server are thin layers over this class. Its rules:

* **One owner.** ``MemoryService.open`` is the only place the memory file is opened for writing; it
  holds the file's writer lock (``memory.file_lock``) until ``close``, so no other process writes it
  meanwhile (a read-only service takes no lock and never writes).
* **One writer.** Observations and checkpoints run on a single worker thread, one at a time, each
  holding the write side of a readers-writer lock for the whole of its change; a frame is validated
  and decoded before it is queued, so a client that disconnects never leaves half a frame behind.
* **Concurrent reads of a consistent state.** Questions, nodes and forest levels hold the read
  side: any number run together, and they see the memory as it was after the last whole frame.
* An ingest that fails half-way (a bug, a perception backend that raised) stops further writes:
  the file keeps its last checkpoint and reads go on; the error says so.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.config import LabConfig
from app.query import QueryEngine, QueryRequest
from app.service.errors import BadRequest, NotFound, ReadOnly, WritesStopped
from app.service.frames import Frame, Limits
from memory.core import EmbodiedMemory
from memory.file_lock import WriterLock, writer_lock
from memory.llm import ChatClient
from memory.perception import make_perceiver
from memory.records_json import record_to_json
from memory.summarize_geo import is_geographic, level_names
from memory.topo_graph import NodeNotFound, NoPath
from sim.errors import LabError

log = logging.getLogger(__name__)

__all__ = ["MemoryService", "RWLock", "SenderCaptionPerceiver"]

MAX_PAGE = 1000


class RWLock:
    """Many readers or one writer; a waiting writer goes before readers that come after it."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class SenderCaptionPerceiver:
    """The memory's configured perceiver; a frame that brings its own caption keeps that caption."""

    name = "sender"

    def __init__(self, inner: Any = None) -> None:
        """``inner``: the perceiver to use; by default the one the memory's config names, built on first use."""
        self.memory: EmbodiedMemory | None = None
        self.caption: str | None = None  # set by the writer for the frame being ingested
        self._inner: Any = inner

    def perceive(self, obs: Any) -> Any:
        if self._inner is None:  # built on first use, from the priors the memory file holds
            mem = self.memory
            assert mem is not None, "bind the perceiver to its memory first"
            enc = mem.image_encoder if mem.config.perception.type == "clip" else None
            self._inner = make_perceiver(mem.config.perception, encoder=enc, priors=mem.priors)
        percept = self._inner.perceive(obs)
        return dataclasses.replace(percept, caption=self.caption) if self.caption else percept


def _thumbnail_png(image: Any) -> str | None:
    if image is None:
        return None
    import base64
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


class MemoryService:
    """A memory file served to many clients (see the module docstring)."""

    def __init__(self, memory: EmbodiedMemory, *, path: str | Path, readonly: bool, config: LabConfig | None = None,
                 limits: Limits | None = None, perceiver: SenderCaptionPerceiver | None = None) -> None:
        self.memory = memory
        self.path = Path(path)
        self.readonly = readonly
        self.config = config or LabConfig()
        self.limits = limits or Limits()
        self._perceiver = perceiver
        client = ChatClient(self.config.llm) if self.config.llm is not None else None
        self.engine = QueryEngine(memory, config=self.config.query, llm=client)
        self._lock = RWLock()
        self._writer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="memory-writer")
        self._stopped: str | None = None  # why writes stopped, once an ingest failed half-way
        self._generation = 0  # checkpoints written by this process
        self._info: tuple[int, dict] | None = None
        self._info_lock = threading.Lock()
        self.frames = 0
        self.frames_since_checkpoint = 0
        self.started = time.time()
        self._closed = False
        self._file_lock: WriterLock | None = None  # held when ``open`` took the file for writing

    # ------------------------------------------------------------------ life
    @classmethod
    def open(cls, path: str | Path, *, config: LabConfig | None = None, readonly: bool = False, create: bool = False,
             limits: Limits | None = None, **memory_kwargs: Any) -> MemoryService:
        """Open ``path`` for serving: the one place the memory file is taken for writing.

        ``create`` makes a new empty memory when the file does not exist; ``memory_kwargs`` go to
        ``EmbodiedMemory.open`` (tests hand in a shared text encoder).
        """
        config = config or LabConfig()
        p = Path(path)
        if not p.exists() and (readonly or not create):
            hint = "" if readonly else " (pass --create to start a new one)"
            raise NotFound(f"memory file {p} does not exist{hint}")
        # the single-writer rule: held from here until ``close`` has written the last checkpoint; a second
        # process that serves, explores or imports into this file is refused with MemoryFileLocked
        lock = None if readonly else writer_lock(p)
        try:
            perceiver = None if readonly else SenderCaptionPerceiver()
            memory = EmbodiedMemory.open(p, config.memory, create=create and not readonly, readonly=readonly,
                                         perceiver=perceiver, **memory_kwargs)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        if perceiver is not None:
            perceiver.memory = memory
        service = cls(memory, path=p, readonly=readonly, config=config, limits=limits, perceiver=perceiver)
        service._file_lock = lock
        return service

    def warm(self) -> MemoryService:
        """Load the encoder, the index and the analyser now, so the first question is answered fast."""
        with self._lock.read():
            self.engine.warm()
        return self

    def close(self) -> None:
        """Finish queued writes, checkpoint (when writable and healthy) and close the file."""
        if self._closed:
            return
        self._closed = True
        self._writer.shutdown(wait=True)
        try:
            with self._lock.write():
                if self._stopped is not None and self.memory.store is not None:
                    self.memory.store.close()  # keep the last good checkpoint: do not write a half-ingested state
                    self.memory.store = None
                self.memory.close()
        finally:
            if self._file_lock is not None:
                self._file_lock.release()
                self._file_lock = None

    def __enter__(self) -> MemoryService:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ writes (one worker thread)
    def submit(self, fn: Any, *args: Any) -> concurrent.futures.Future:
        """Queue a write on the single writer thread."""
        self.check_writable()
        return self._writer.submit(fn, *args)

    def check_writable(self) -> None:
        """``ReadOnly`` / ``WritesStopped`` when this service takes no frames now."""
        if self.readonly:
            raise ReadOnly(f"{self.path.name} is served read-only; restart 'serve' without --readonly to add frames")
        if self._stopped is not None:
            raise WritesStopped(self._stopped)
        if self._closed:
            raise WritesStopped("the service is shutting down")

    def ingest(self, frame: Frame) -> dict[str, Any]:
        """Add one decoded frame to the memory (run it through ``submit``)."""
        self.check_writable()
        with self._lock.write():
            assert self._perceiver is not None
            self._perceiver.caption = frame.caption
            try:
                result = self.memory.ingest(frame.observation)
            except Exception as e:
                self._stopped = (f"writes stopped: ingesting frame {self.frames + 1} failed half-way "
                                 f"({e.__class__.__name__}: {e}); {self.path.name} keeps its last checkpoint - "
                                 "restart the server")
                log.exception("ingest failed; writes stopped")
                raise WritesStopped(self._stopped) from None
            finally:
                self._perceiver.caption = None
            self.frames += 1
            self.frames_since_checkpoint += 1
            if result.checkpointed:
                self._generation += 1
                self.frames_since_checkpoint = 0
            up = result.update
            return {"frame": self.frames, "step": frame.observation.step, "place": up.place,
                    "new_objects": list(up.new_objects), "updated_objects": list(up.updated_objects),
                    "removed_objects": list(up.removed_objects), "refreshed": result.refreshed is not None,
                    "checkpointed": result.checkpointed, "stats": self.memory.stats()}

    def checkpoint(self) -> dict[str, Any]:
        """Re-segment rooms, re-summarise what changed and write it all to the file (run it through ``submit``)."""
        self.check_writable()
        with self._lock.write():
            t0 = time.perf_counter()
            self.memory.refresh()
            self.memory.checkpoint()
            self._generation += 1
            self.frames_since_checkpoint = 0
            return {"checkpoint": self._generation, "seconds": round(time.perf_counter() - t0, 3),
                    "stats": self.memory.stats()}

    # ------------------------------------------------------------------ reads (concurrent)
    def ask(self, request: QueryRequest) -> dict[str, Any]:
        """The ``query --json`` answer to one question."""
        if request.image is not None:
            self._check_image_support()
        retriever = request.retriever or self.config.query.retriever
        if "llm" in (retriever, request.generator) and self.engine.llm is None:
            raise BadRequest("the llm retriever/generator needs an LLM server: start 'serve' with a --config that "
                             "has an 'llm' section")
        with self._lock.read():
            return self.engine.ask(request).to_json()

    def _check_image_support(self) -> None:
        mem = self.memory
        if mem.image_encoder is None:
            raise BadRequest(f"{self.path.name} cannot be searched by image: no image encoder is configured "
                             "(set memory.image_encoder in the --config YAML)")
        if not mem.image.vec:
            raise BadRequest(f"{self.path.name} holds no image vectors of {mem.image_encoder.id!r}")

    def info(self) -> dict[str, Any]:
        """What ``memory info --json`` says of the file (as of the last checkpoint), plus the live state."""
        from app.cli.memory import memory_info

        with self._info_lock:
            gen = self._generation
            if self._info is None or self._info[0] != gen:
                self._info = (gen, memory_info(self.path))
            info = dict(self._info[1])
        with self._lock.read():
            stats = self.memory.stats()
        info["live"] = {"readonly": self.readonly, "writes_stopped": self._stopped, "frames_received": self.frames,
                        "frames_since_checkpoint": self.frames_since_checkpoint, "checkpoints": self._generation,
                        "uptime_s": round(time.time() - self.started, 1), **stats}
        return info

    def _level_names(self) -> list[str]:
        top = max(self.memory.forest.level_counts(), default=0)
        return list(level_names(top, geographic=is_geographic(self.memory.meta)))

    def _record(self, node_id: str) -> Any:
        try:
            return self.memory.node(node_id)
        except (NodeNotFound, KeyError):
            raise NotFound(f"no node {node_id!r} in the memory (ids look like place/3, obj/chair/2, or a "
                           "cluster id from GET /forest)") from None

    def _brief(self, node_id: str) -> dict[str, Any]:
        rec = self._record(node_id)
        level = self.memory.forest.level_of(node_id) if self.memory.forest.has(node_id) else 0
        pos = getattr(rec, "position", None) or (0.0, 0.0, 0.0)
        text = getattr(rec, "summary", None) or rec.text
        return {"id": node_id, "level": level, "kind": rec.kind.value, "name": rec.name, "text": text,
                "position": [round(float(v), 3) for v in pos], "floor": int(rec.floor)}

    def node(self, node_id: str, *, thumbnail: bool = True) -> dict[str, Any]:
        """A node's record, its summary text, its ancestors and children, and its thumbnail (base64 PNG)."""
        with self._lock.read():
            mem = self.memory
            rec = self._record(node_id)
            forest = mem.forest
            in_forest = forest.has(node_id)
            out = self._brief(node_id)
            out["record"] = record_to_json(rec)
            out["ancestors"] = [self._brief(a) for a in forest.ancestors(node_id)] if in_forest else []
            out["children"] = [self._brief(c) for c in forest.children(node_id)] if in_forest and out["level"] else []
            if out["kind"] == "object":
                out["relations"] = [{"kind": r.kind, "other": r.dst if r.src == node_id else r.src,
                                     "distance": round(float(r.distance), 3)} for r in mem.graph.relations(node_id)]
            image = None
            if thumbnail and out["kind"] == "place":
                image = mem.graph.thumbnail(node_id)
            elif thumbnail and out["kind"] == "object":
                image = mem.graph.crop(node_id)
            out["thumbnail_png"] = _thumbnail_png(image)
            return out

    def forest_level(self, level: int, *, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """The nodes of one forest level (0 = leaves), a page at a time."""
        if not 0 <= offset or not 1 <= limit <= MAX_PAGE:
            raise BadRequest(f"offset must be >= 0 and limit 1..{MAX_PAGE}")
        with self._lock.read():
            forest = self.memory.forest
            counts = forest.level_counts()
            if level not in counts:
                have = ", ".join(str(k) for k in sorted(counts)) or "none (the memory is empty)"
                raise NotFound(f"the forest has no level {level}; levels: {have}")
            ids = ([r.id for r in self.memory.leaf_records()] if level == 0
                   else [c.id for c in forest.clusters(level)])
            page = ids[offset: offset + limit]
            names = self._level_names()
            nodes = []
            for i in page:
                b = self._brief(i)
                if level:
                    c = forest.cluster(i)
                    b.update(n_leaves=c.n_leaves, children=len(c.children), room_type=c.room_type,
                             counts=dict(c.counts[:12]))
                b["parent"] = forest.parent(i) if forest.has(i) else None
                nodes.append(b)
            return {"level": level, "level_name": names[level] if level < len(names) else f"level {level}",
                    "levels": {str(k): v for k, v in sorted(counts.items())}, "total": len(ids), "offset": offset,
                    "nodes": nodes}

    def seen(self, *, node_id: str | None = None, x: float | None = None, y: float | None = None,
             radius: float = 3.0, floor: int = 0, limit: int = 100) -> dict[str, Any]:
        """Objects remembered under a forest node (a room, an area) or within ``radius`` m of ``(x, y)``."""
        if (node_id is None) == (x is None or y is None):
            raise BadRequest("name a region: either a node id (a room or area from the forest) or x, y (and radius)")
        if not 1 <= limit <= MAX_PAGE or not 0.0 < radius <= 1000.0:
            raise BadRequest(f"limit must be 1..{MAX_PAGE} and radius 0..1000 m")
        with self._lock.read():
            mem = self.memory
            if node_id is not None:
                self._record(node_id)
                region = self._brief(node_id)
                if not mem.forest.has(node_id):
                    raise NotFound(f"{node_id!r} is not in the forest yet (new leaves join it at the next refresh)")
                leaf_ids = mem.forest.leaves_under(node_id) if region["level"] else [node_id]
                objects = [mem.graph.object(i) for i in leaf_ids if i.startswith("obj/") and i in mem.graph]
            else:
                region = {"x": x, "y": y, "radius": radius, "floor": floor}
                r2 = radius * radius
                objects = [o for o in mem.graph.objects()
                           if o.floor == floor and (o.position[0] - x) ** 2 + (o.position[1] - y) ** 2 <= r2]
            objects.sort(key=lambda o: (-o.n_views, o.id))
            return {"region": region, "total": len(objects),
                    "objects": [{"id": o.id, "name": o.name, "label": o.label,
                                 "position": [round(float(v), 3) for v in o.position], "floor": o.floor,
                                 "views": o.n_views, "last_seen": o.last_seen} for o in objects[:limit]]}

    def route(self, *, question: str | None = None, node_id: str | None = None,
              robot: tuple[float, float, int] | None = None) -> dict[str, Any]:
        """The way to a node, or to the answer of a question: places to pass (over the robot's own traverse
        edges, from the place nearest the robot, or its last place) and where the goal sits in the forest."""
        if (question is None) == (node_id is None):
            raise BadRequest("give either a question or a node id to route to")
        answer = None
        if question is not None:
            answer = self.ask(QueryRequest(text=question, robot=robot))
            if not answer["found"] or answer["goal"] is None:
                return {"answer": answer["answer"], "found": False, "goal": None, "waypoints": [], "forest_path": []}
            goal, goal_floor = answer["goal"], int(answer.get("goal_floor") or 0)
            target = answer["hits"][0]["id"] if answer["hits"] else None
        with self._lock.read():
            mem = self.memory
            if node_id is not None:
                b = self._brief(node_id)
                goal, goal_floor, target = b["position"], b["floor"], node_id
            graph = mem.graph
            try:
                if robot is not None:
                    start = graph.nearest_place(robot[0], robot[1], robot[2]).id
                else:
                    start = graph.last_place
                    if start is None:
                        raise NotFound("the memory holds no places to route over")
                end = graph.nearest_place(goal[0], goal[1], goal_floor).id
                path = graph.place_path(start, end)
            except NodeNotFound as e:
                raise NotFound(f"no route: {e}") from None
            except NoPath as e:
                raise NotFound(f"no route over the places the robot has travelled: {e}") from None
            waypoints = []
            length = 0.0
            prev = None
            for pid in path:
                p = graph.place(pid)
                if prev is not None:
                    length += ((p.position[0] - prev[0]) ** 2 + (p.position[1] - prev[1]) ** 2) ** 0.5
                prev = p.position
                waypoints.append({"id": pid, "name": p.name, "position": [round(float(v), 3) for v in p.position],
                                  "floor": p.floor})
            forest_path = ([self._brief(a)["name"] for a in reversed(mem.forest.ancestors(target))]
                           if target is not None and mem.forest.has(target) else [])
        return {"answer": answer["answer"] if answer else None, "found": True, "target": target,
                "goal": [round(float(v), 3) for v in goal], "goal_floor": goal_floor, "start": path[0],
                "waypoints": waypoints, "length_m": round(length, 2), "forest_path": forest_path}


def describe_error(e: BaseException) -> str:
    """One line for a ``LabError`` (its message) or anything else (its class; details go to the log)."""
    if isinstance(e, LabError):
        return str(e)
    return f"internal error ({e.__class__.__name__}); see the server log"
