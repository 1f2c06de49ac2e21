"""``launcher.py bench serve``: the memory service over HTTP - question latency, throughput, frame ingest.

* **Questions** - a memory file of ``N`` leaves (10k; 2k with ``--quick``) is built from a synthetic
  house-like layout (rooms of the generator's catalog, objects of their categories, views) with
  MiniLM vectors and a batch-built forest; ``launcher.py serve FILE --readonly`` runs in its own
  process on a free loopback port, and clients in this process send text questions over HTTP
  (``httpx``): warm latency p50/p95 with one client, then throughput with 1, 4 and 16 concurrent
  clients (each client sends its share of the questions, one at a time).
* **Ingest** - frames of the simulator exploring ``rooms:n=3,seed=1`` are encoded once
  (``app.service.frames``), then posted one after another to ``serve NEW.db --create``: frames/s
  over HTTP, including perception, graph and forest updates, then a checkpoint.

Every request loop is bounded; the servers are stopped at the end. Figures depend on the machine
and its load: they are printed, never asserted.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["run_serve_bench", "synthetic_memory_file", "QUESTIONS"]

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ("where is the bed?", "where can I sleep?", "where is a red chair?", "find the fridge",
             "where can I wash my hands?", "what rooms are there?", "where is the sofa?", "is there a piano?",
             "where did you see a lamp?", "somewhere to sit")
INGEST_SPEC = "rooms:n=3,seed=1"


def _pct(values: Sequence[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values, dtype=np.float64), q)), 2) if values else float("nan")


def synthetic_memory_file(path: Path, n_leaves: int, *, seed: int = 0) -> dict[str, Any]:
    """Write a memory file of about ``n_leaves`` leaves (objects and views in catalog rooms); returns counts."""
    from app.cli.memory import rebuild_forest
    from memory.encoders import EncoderConfig, make_encoder
    from memory.store import MemoryStore
    from memory.types import ObjectRecord, PlaceRecord
    from sim.catalog import load_catalog
    from sim.types import Pose

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    cat = load_catalog()
    rooms_of: dict[str, list[str]] = {}
    for c in cat.categories.values():
        for room in c.rooms:
            rooms_of.setdefault(room, []).append(c.name)
    room_types = sorted(r for r in rooms_of if r in cat.room_types)
    places: list[PlaceRecord] = []
    objects: list[ObjectRecord] = []
    per_room, side = 30, 5.0
    n_rooms = max(1, n_leaves // (per_room + 4))
    cols = int(np.ceil(np.sqrt(n_rooms)))
    for r in range(n_rooms):
        rtype = room_types[int(rng.integers(len(room_types)))]
        x0, y0 = (r % cols) * side, (r // cols) * side
        ids = []
        for _ in range(per_room):
            label = rooms_of[rtype][int(rng.integers(len(rooms_of[rtype])))]
            c = cat.categories[label]
            # a few colours and one material per category: texts repeat as in a real house, and each
            # distinct text is embedded once
            colour = c.colours[int(rng.integers(min(3, len(c.colours))))] if c.colours else ""
            material = c.materials[0] if c.materials else ""
            oid = f"obj/{label}/{len(objects)}"
            pos = (x0 + float(rng.uniform(0.3, side - 0.3)), y0 + float(rng.uniform(0.3, side - 0.3)), 0.5)
            t = float(len(objects))
            objects.append(ObjectRecord(id=oid, label=label, position=pos, floor=0, colour=colour,
                                        material=material, bbox_min=(pos[0] - 0.3, pos[1] - 0.3, 0.0),
                                        bbox_max=(pos[0] + 0.3, pos[1] + 0.3, 1.0), first_seen=t, last_seen=t,
                                        room_guess=rtype))
            ids.append(oid)
        for k in range(4):  # four views per room, each seeing a quarter of its objects
            seen = ids[k::4]
            names = ", ".join(sorted({o.split("/")[1] for o in seen})[:3])
            pose = Pose(x0 + side / 2 + (k % 2 - 0.5), y0 + side / 2 + (k // 2 - 0.5), 0.0, k * np.pi / 2)
            places.append(PlaceRecord(id=f"place/{len(places)}", pose=pose, timestamp=float(len(places)),
                                      step=len(places), caption=f"{rtype} view: {names}", room_guess=rtype,
                                      object_ids=tuple(seen)))
    records = [*places, *objects]
    encoder = make_encoder(EncoderConfig())  # the encoder ``serve`` loads, so no vector is made twice
    with MemoryStore.open(path, create=True) as store:
        store.upsert_places(places)
        store.upsert_objects(objects)
        store.put_edges((a.id, b.id, "traverse", {"length": 1.0}) for a, b in zip(places, places[1:], strict=False))
        store.put_edges((p.id, o, "sees", {}) for p in places for o in p.object_ids)
        vectors = _embed(store, encoder, records)
        clusters, membership = rebuild_forest(records, vectors)
        store.upsert_clusters(clusters)
        store.set_membership(membership, replace=True)
        _embed(store, encoder, clusters)
        store.set_meta("scene", f"synthetic:{len(records)}")
        store.set_meta("text_encoder", encoder.id)
        store.checkpoint()
    return {"leaves": len(records), "objects": len(objects), "places": len(places), "clusters": len(clusters),
            "build_s": round(time.perf_counter() - t0, 1)}


def _embed(store: Any, encoder: Any, records: Sequence[Any]) -> dict[str, np.ndarray]:
    """Text vectors of ``records``, each distinct text encoded once (synthetic objects repeat their texts)."""
    from memory.records_json import content_hash

    texts = sorted({r.text for r in records}, key=lambda t: (len(t), t))
    by_text: dict[str, np.ndarray] = {}
    for start in range(0, len(texts), 256):
        batch = texts[start:start + 256]
        by_text.update(zip(batch, encoder.encode_text(batch), strict=True))
    ids = [r.id for r in records]
    store.put_embeddings(encoder.id, "text", ids, np.stack([by_text[r.text] for r in records]),
                         [content_hash(r.text) for r in records])
    return {r.id: by_text[r.text] for r in records}


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(db: Path, *extra: str, start_timeout: float = 300.0) -> Iterator[str]:
    """``launcher.py serve db`` in its own process on a free loopback port; yields the base URL."""
    import httpx

    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "launcher.py"), "serve", str(db), "--port", str(port),
                             *extra], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited: {proc.stderr.read().strip()[-500:]}")
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not start in time")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _ask_many(url: str, n: int, offset: int, out: list[float], errors: list[str]) -> None:
    import httpx

    with httpx.Client(base_url=url, timeout=120) as c:
        for i in range(n):
            t = time.perf_counter()
            r = c.post("/query", json={"text": QUESTIONS[(offset + i) % len(QUESTIONS)]})
            out.append((time.perf_counter() - t) * 1000.0)
            if r.status_code != 200:
                errors.append(f"{r.status_code} {r.text[:120]}")


def _throughput(url: str, clients: int, total: int) -> dict[str, Any]:
    per = max(1, total // clients)
    lat: list[float] = []
    errors: list[str] = []
    threads = [threading.Thread(target=_ask_many, args=(url, per, k * 7, lat, errors)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    return {"clients": clients, "queries": per * clients, "qps": round(per * clients / dt, 1),
            "p50_ms": _pct(lat, 50), "p95_ms": _pct(lat, 95), "errors": len(errors)}


def bench_queries(db: Path, *, warm: int, latency_n: int, throughput_n: int) -> dict[str, Any]:
    """Warm latency and throughput of text questions over HTTP against ``serve db --readonly``."""
    with _server(db, "--readonly") as url:
        lat: list[float] = []
        errors: list[str] = []
        _ask_many(url, warm, 0, [], errors)  # first answers build the index and the analyser
        _ask_many(url, latency_n, 3, lat, errors)
        out: dict[str, Any] = {"latency": {"queries": latency_n, "p50_ms": _pct(lat, 50), "p95_ms": _pct(lat, 95),
                                           "errors": len(errors)}}
        out["throughput"] = [_throughput(url, c, throughput_n) for c in (1, 4, 16)]
    return out


def _frames(spec: str, steps: int) -> list[dict[str, Any]]:
    from app.service.frames import encode_frame
    from sim.explore import FrontierExplorer
    from sim.simulator import SimConfig, make_simulator

    frames = []
    with make_simulator(SimConfig(), spec) as sim:
        obs = sim.reset()
        policy = FrontierExplorer.for_simulator(sim)
        for _ in range(steps + 1):
            frames.append(encode_frame(obs.rgb, obs.depth, obs.pose, obs.camera, obs.timestamp,
                                       instance=obs.instance, labels=obs.objects, step=obs.step))
            action = policy.act(obs)
            if action is None:
                break
            obs = sim.step(action)
    return frames


def bench_ingest(folder: Path, *, steps: int) -> dict[str, Any]:
    """Frames/s of ``POST /observations`` (one sender) into a new memory, then the checkpoint time."""
    import httpx

    frames = _frames(INGEST_SPEC, steps)
    size = sum(len(f["rgb"]) + len(str(f["depth"])) + len(str(f.get("instance", ""))) for f in frames) / len(frames)
    with _server(folder / "ingest.db", "--create") as url, httpx.Client(base_url=url, timeout=300) as c:
        t0 = time.perf_counter()
        per: list[float] = []
        for f in frames:
            t = time.perf_counter()
            r = c.post("/observations", json=f)
            per.append((time.perf_counter() - t) * 1000.0)
            r.raise_for_status()
        dt = time.perf_counter() - t0
        t = time.perf_counter()
        stats = c.post("/checkpoint").json()["stats"]
        ck = time.perf_counter() - t
    return {"spec": INGEST_SPEC, "frames": len(frames), "frame_kb": round(size / 1024, 1),
            "frames_per_s": round(len(frames) / dt, 1), "p50_ms": _pct(per, 50), "p95_ms": _pct(per, 95),
            "checkpoint_s": round(ck, 2), "memory": stats}


def run_serve_bench(quick: bool = False) -> dict[str, Any]:
    """The figures of ``bench serve`` (see the module docstring)."""
    n = 2_000 if quick else 10_000
    out: dict[str, Any] = {"load_average": [round(v, 2) for v in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        folder = Path(tmp)
        db = folder / f"synthetic-{n}.db"
        out["memory"] = synthetic_memory_file(db, n)
        out["queries"] = bench_queries(db, warm=10, latency_n=40 if quick else 100,
                                       throughput_n=40 if quick else 160)
        out["ingest"] = bench_ingest(folder, steps=30 if quick else 120)
    out["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    return out
