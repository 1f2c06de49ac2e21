"""``EmbodiedMemory``: the robot's memory as one object - perception, graph, forest, vectors, file.

One observation flows through ``ingest``: the structure map (for rooms) takes its depth,
perception turns it into a percept, the topological graph adds places and merges objects,
new or changed leaves are embedded (each text once) and inserted into the semantic forest.
``refresh`` re-segments rooms and re-summarises only what changed; ``checkpoint`` writes
everything since the last checkpoint to the SQLite file in one transaction.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import ConfigDict

from memory.encoders import Encoder, EncoderConfig, make_encoder
from memory.forest import ForestConfig, RefreshReport, SemanticForest, leaf_from_record
from memory.image_views import ViewVectors, views_of_source, views_source
from memory.perception import Perceiver, PerceptionConfig, make_perceiver
from memory.perception.segments import touches_border
from memory.priors import PriorPack, general_pack, pack_from_dict
from memory.records_json import content_hash
from memory.regions import RegionMap, StructureConfig, StructureMap
from memory.store import MemoryStore
from memory.summarize import RoomModel
from memory.summarize_geo import GEO_FOREST, GeoSummariser, is_geographic
from memory.summarize_llm import SummariserConfig, make_summariser
from memory.topo_graph import GraphUpdate, TopoGraph, TopoGraphConfig
from memory.types import ClusterRecord, Leaf, NodeKind, ObjectRecord, Percept, PlaceRecord
from sim.errors import ConfigError
from sim.types import Observation

log = logging.getLogger(__name__)

__all__ = ["IngestConfig", "MemoryConfig", "EmbodiedMemory", "IngestResult", "default_image_encoder"]

LeafRecord = PlaceRecord | ObjectRecord


@dataclass(frozen=True, kw_only=True)
class IngestConfig:
    __pydantic_config__ = ConfigDict(extra="forbid")
    refresh_every: int = 20  # observations between room segmentation + forest refresh
    checkpoint_seconds: float = 10.0  # at most this much work is lost on a crash
    store_images: bool = True
    embed_images: bool = True  # image vectors for crops and views when an image encoder is set


def default_image_encoder() -> EncoderConfig | None:
    """SimCLIP (offline, ``assets/models/simclip.pt``) when its shipped weights are present, else none.

    A configured ``image_encoder`` (e.g. ``{type: openclip, pretrained: /path/ckpt.pt}``) replaces this
    default; ``image_encoder: null`` turns image embedding off. Vectors are stored per encoder id, so
    switching encoders never mixes spaces.
    """
    from memory.encoders.simclip import shipped_weights_available

    return EncoderConfig(type="simclip", threads=1) if shipped_weights_available() else None


@dataclass(frozen=True, kw_only=True)
class MemoryConfig:
    __pydantic_config__ = ConfigDict(extra="forbid")
    perception: PerceptionConfig = field(default_factory=PerceptionConfig)
    graph: TopoGraphConfig = field(default_factory=TopoGraphConfig)
    forest: ForestConfig = field(default_factory=ForestConfig)
    structure: StructureConfig = field(default_factory=StructureConfig)
    # one torch thread: beside the raycaster, two threads oversubscribe a 2-core CPU (4x slower)
    text_encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(threads=1))
    image_encoder: EncoderConfig | None = field(default_factory=default_image_encoder)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    summariser: SummariserConfig = field(default_factory=SummariserConfig)


@dataclass
class IngestResult:
    percept: Percept
    update: GraphUpdate
    refreshed: RefreshReport | None = None
    checkpointed: bool = False


class _Vectors:
    """Vectors of one modality and encoder, with the hash of what each was computed from."""

    def __init__(self) -> None:
        self.vec: dict[str, np.ndarray] = {}
        self.src: dict[str, str] = {}
        self.dirty: set[str] = set()

    def set(self, node_id: str, v: np.ndarray, source: str) -> None:
        self.vec[node_id] = np.asarray(v, dtype=np.float32)
        self.src[node_id] = source
        self.dirty.add(node_id)

    def drop(self, node_id: str) -> None:
        self.vec.pop(node_id, None)
        self.src.pop(node_id, None)
        self.dirty.discard(node_id)

    def load(self, ids: Sequence[str], matrix: np.ndarray, hashes: dict[str, str]) -> None:
        for i, v in zip(ids, matrix, strict=True):
            self.vec[i] = np.asarray(v, dtype=np.float32)
            self.src[i] = hashes.get(i, "")


class EmbodiedMemory:
    """The robot's non-parametric memory (optionally backed by a memory file)."""

    def __init__(self, config: MemoryConfig | None = None, *, store: MemoryStore | None = None,
                 text_encoder: Encoder | None = None, image_encoder: Encoder | None = None,
                 perceiver: Perceiver | None = None, llm=None, priors: PriorPack | None = None,
                 default_priors: PriorPack | None = None) -> None:
        self.config = config or MemoryConfig()
        # world knowledge beside what the memory holds: ``priors`` when given, else the pack stored in the
        # file, else ``default_priors`` (a file written before packs were recorded), else the general pack
        self._priors_given = priors is not None
        self.priors = priors if priors is not None else (default_priors or general_pack())
        self.store = store
        self.text_encoder = text_encoder or make_encoder(self.config.text_encoder)
        if image_encoder is None and self.config.image_encoder is not None:
            image_encoder = make_encoder(self.config.image_encoder)
        self.image_encoder = image_encoder
        self._perceiver = perceiver
        self._llm = llm
        self.graph = TopoGraph(self.config.graph)
        self.structure = StructureMap(self.config.structure)
        self.summariser = make_summariser(self.config.summariser, llm=llm, room_model=RoomModel.from_pack(self.priors))
        self.forest = SemanticForest(self.config.forest, summariser=self.summariser, encoder=self.text_encoder)
        self.text = _Vectors()
        self.image = _Vectors()
        self.regions: RegionMap | None = None
        self.observations = 0
        self._since_refresh = 0
        self._last_checkpoint = time.monotonic()
        self._removed: set[str] = set()
        self._text_pending: set[str] = set()
        self._image_pending: set[str] = set()
        self.views = ViewVectors()  # object image vectors: mean over crops from distinct bearings
        self.meta: dict = {"priors": self.priors.to_dict()} if default_priors is not None and priors is None else {}
        # callables(store) run inside every checkpoint's transaction (the app saves the robot's map)
        self.checkpoint_hooks: list = []

    # ------------------------------------------------------------------ files
    @classmethod
    def open(cls, path: str | Path, config: MemoryConfig | None = None, *, create: bool = True,
             readonly: bool = False, **kwargs) -> EmbodiedMemory:
        """Open a memory file (creating an empty one when allowed) and load what it holds."""
        store = MemoryStore.open(path, create=create, readonly=readonly)
        try:
            mem = cls(config, store=store, **kwargs)
            mem._load()
        except BaseException:
            store.close()
            raise
        return mem

    def _load(self) -> None:
        assert self.store is not None
        snap = self.store.load()
        self.meta = {**self.meta, **snap.meta}
        if not self._priors_given and isinstance(self.meta.get("priors"), dict):
            try:
                self.priors = pack_from_dict(self.meta["priors"], "the memory file's prior pack")
            except ConfigError as e:
                log.warning("%s; using the general pack", e)
            self.summariser = make_summariser(self.config.summariser, llm=self._llm,
                                              room_model=RoomModel.from_pack(self.priors))
            self.forest.summariser = self.summariser
        if not snap.places and not snap.objects:
            return
        self.graph = TopoGraph.load_from(self.store, config=self.config.graph)
        records = [*self.graph.places(), *self.graph.objects()]
        self._load_vectors(self.text, self.text_encoder.id, "text",
                           {r.id: content_hash(r.text) for r in records})
        missing = [r for r in records if r.id not in self.text.vec]
        if missing:
            self._embed_records(missing)
        if self.image_encoder is not None:
            ids, mat = self.store.get_embeddings(self.image_encoder.id, "image")
            self.image.load(ids, mat, self.store.embedding_sources(self.image_encoder.id, "image"))
            for i in ids:  # object vectors averaged over views keep averaging with the right weight
                self.views.seed(i, self.image.vec[i], views_of_source(self.image.src[i]))
        leaves = [self._leaf(r) for r in records]
        cluster_hashes = {c.id: content_hash(c.text) for c in snap.clusters}
        cl_ids, cl_mat = self.store.get_embeddings(self.text_encoder.id, "text", list(cluster_hashes))
        vectors = {i: v for i, v in zip(cl_ids, cl_mat, strict=True)}
        forest_config = self.config.forest
        if is_geographic(self.meta):  # streets, not rooms: a changed cluster is re-named for what it is
            self.summariser = GeoSummariser(leaves)
            forest_config = GEO_FOREST
        self.forest = SemanticForest.from_records(
            leaves, snap.clusters, [(m.child, m.parent) for m in snap.membership], config=forest_config,
            summariser=self.summariser, encoder=self.text_encoder, vectors=vectors)
        if len(snap.clusters) == 0 and leaves:
            self.forest.build(leaves)
        self.observations = int(self.meta.get("observations", 0))
        log.info("loaded memory: %d places, %d objects, %d clusters", len(snap.places), len(snap.objects),
                 len(snap.clusters))

    def _load_vectors(self, target: _Vectors, encoder_id: str, modality: str, hashes: dict[str, str]) -> None:
        assert self.store is not None
        ids, mat = self.store.get_embeddings(encoder_id, modality)
        if hashes:
            stale = set(self.store.missing_embeddings(encoder_id, modality, hashes))
            keep = [k for k, i in enumerate(ids) if i not in stale]
            ids, mat = [ids[k] for k in keep], mat[keep] if len(keep) else mat[:0]
        target.load(ids, mat, hashes)

    def checkpoint(self) -> None:
        """Write everything since the last checkpoint to the memory file in one transaction."""
        if self.store is None:
            return
        if self._text_pending or self.forest.dirty:
            self.refresh(segment=False)
        s = self.store
        self.graph.write_to(s, images=self.config.ingest.store_images)
        clusters, pairs = self.forest.to_records()
        if self._removed:
            s.delete_nodes(sorted(self._removed))
            self._removed.clear()
        s.upsert_clusters(clusters)
        level = {c.id: c.level for c in clusters}
        s.set_membership([(c, p, level[p]) for c, p in pairs if p in level], replace=True)
        self._flush_vectors(self.text, self.text_encoder.id, "text")
        cvecs = self.forest.cluster_vectors()
        if cvecs:
            by_id = {c.id: c for c in clusters}
            ids = [i for i in cvecs if i in by_id]
            if ids:
                s.put_embeddings(self.text_encoder.id, "text", ids, np.stack([cvecs[i] for i in ids]),
                                 [content_hash(by_id[i].text) for i in ids])
        if self.image_encoder is not None:
            self._flush_vectors(self.image, self.image_encoder.id, "image")
        if self._priors_given or "priors" in self.meta:
            self.meta["priors"] = self.priors.to_dict()
        self.meta.update({"observations": self.observations, "text_encoder": self.text_encoder.id,
                          "image_encoder": self.image_encoder.id if self.image_encoder else None})
        for k, v in self.meta.items():
            if k != "schema_version":  # the store's own
                s.set_meta(k, v)
        for hook in self.checkpoint_hooks:
            hook(s)
        s.checkpoint()
        self.graph.images_committed(s)
        self._last_checkpoint = time.monotonic()

    def _flush_vectors(self, vs: _Vectors, encoder_id: str, modality: str) -> None:
        ids = sorted(i for i in vs.dirty if i in vs.vec)
        if ids and self.store is not None:
            self.store.put_embeddings(encoder_id, modality, ids, np.stack([vs.vec[i] for i in ids]),
                                      [vs.src[i] for i in ids])
        vs.dirty.clear()

    def save_as(self, path: str | Path) -> Path:
        """Checkpoint, then copy the memory file atomically to ``path`` (the open file stays open)."""
        if self.store is None:
            store = MemoryStore.open(path, create=True)
            self.store = store
            self.checkpoint()
            return Path(path)
        self.checkpoint()
        return self.store.save_as(path)

    def close(self) -> None:
        """Checkpoint (unless the file is read-only or a disk error ended its writing) and close the file;
        the file is closed, and its writer lock released, even when the checkpoint fails."""
        if self.store is not None:
            try:
                if not getattr(self.store, "readonly", False) and not getattr(self.store, "failed", ""):
                    self.checkpoint()
            finally:
                store, self.store = self.store, None
                store.close()

    def __enter__(self) -> EmbodiedMemory:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ ingestion
    @property
    def perceiver(self) -> Perceiver:
        if self._perceiver is None:
            enc = self.image_encoder if self.config.perception.type in ("clip", "geometric") else None
            self._perceiver = make_perceiver(self.config.perception, encoder=enc, llm=self._llm, priors=self.priors)
        return self._perceiver

    def ingest(self, obs: Observation) -> IngestResult:
        """Add one observation to the memory."""
        self.structure.integrate(obs)
        percept = self.perceiver.perceive(obs)
        update = self.graph.add(percept)
        self.observations += 1
        for oid in update.removed_objects:
            self.forest.remove(oid)
            self.text.drop(oid)
            self.image.drop(oid)
            self.views.drop(oid)
            self._image_pending.discard(oid)
            self._text_pending.discard(oid)
        changed: list[LeafRecord] = []
        if update.place is not None:
            changed.append(self.graph.place(update.place))
        for oid in (*update.new_objects, *update.updated_objects):
            changed.append(self.graph.object(oid))
        # texts are embedded in one batch at the next refresh (a batch of 30 costs about what 3
        # single calls do); until then a leaf is placed by position alone
        for rec in changed:
            self.forest.insert(self._leaf(rec))  # insert updates leaves it already holds
            if self.text.src.get(rec.id) != content_hash(rec.text):
                self._text_pending.add(rec.id)
        if self.image_encoder is not None and self.config.ingest.embed_images:
            self._image_pending.update(r.id for r in changed)
            h, w = np.asarray(obs.rgb).shape[:2]
            margin = self.config.perception.edge_margin
            for oid, s in update.sightings:
                if not touches_border(s.bbox2d, h, w, margin):  # whole object in view
                    self.views.offer(oid, s.crop, percept.pose, s.centroid)
        result = IngestResult(percept, update)
        self._since_refresh += 1
        if self._since_refresh >= self.config.ingest.refresh_every:
            result.refreshed = self.refresh()
        if self.store is not None and time.monotonic() - self._last_checkpoint >= self.config.ingest.checkpoint_seconds:
            self.checkpoint()
            result.checkpointed = True
        return result

    def refresh(self, segment: bool = True) -> RefreshReport:
        """Re-segment rooms from the structure map, repair the forest, re-summarise what changed."""
        if segment and self.structure.floors:
            self.regions = self.structure.segment()
            self.forest.set_regions(self.regions)
        self._embed_pending_texts()
        self._embed_pending_images()
        rep = self.forest.refresh()
        self._removed.update(rep.removed)
        self._since_refresh = 0
        return rep

    def _leaf(self, rec: LeafRecord) -> Leaf:
        leaf = leaf_from_record(rec, self.text.vec.get(rec.id))
        if rec.kind == NodeKind.OBJECT:
            leaf.extra["name"] = rec.name
        return leaf

    def _embed_records(self, records: Iterable[LeafRecord]) -> None:
        todo = []
        for r in records:
            h = content_hash(r.text)
            if self.text.src.get(r.id) != h:
                todo.append((r.id, r.text, h))
        if not todo:
            return
        vecs = self.text_encoder.encode_text([t for _, t, _ in todo])
        for (i, _, h), v in zip(todo, vecs, strict=True):
            self.text.set(i, v, h)

    def _embed_pending_texts(self) -> None:
        if not self._text_pending:
            return
        records = [self.graph.node(i) for i in sorted(self._text_pending)]
        self._text_pending.clear()
        self._embed_records(records)
        for rec in records:
            self.forest.update(self._leaf(rec))

    def _embed_pending_images(self) -> None:
        if self.image_encoder is None:
            return
        for oid, (v, n) in self.views.flush(self.image_encoder).items():
            if oid in self.graph:
                self.image.set(oid, v, views_source(n))
        if not self._image_pending:
            return
        ids, imgs, hashes = [], [], []
        for nid in sorted(self._image_pending):
            if nid in self.views:  # objects seen whole: the mean of their views (above)
                continue
            im = self._image_of(nid)
            if im is None:
                continue
            h = content_hash(im)
            if self.image.src.get(nid) == h:
                continue
            ids.append(nid)
            imgs.append(im)
            hashes.append(h)
        self._image_pending.clear()
        if ids:
            vecs = self.image_encoder.encode_image(imgs)
            for i, v, h in zip(ids, vecs, hashes, strict=True):
                self.image.set(i, v, h)

    def _image_of(self, node_id: str) -> np.ndarray | None:
        if node_id.startswith("place/"):
            return self.graph.thumbnail(node_id)
        return self.graph.crop(node_id)

    # ------------------------------------------------------------------ reading
    def leaf_records(self) -> list[LeafRecord]:
        return [*self.graph.places(), *self.graph.objects()]

    def node(self, node_id: str) -> LeafRecord | ClusterRecord:
        if self.forest.has(node_id) and not node_id.startswith(("place/", "obj/")):
            return self.forest.cluster(node_id)
        return self.graph.node(node_id)

    def text_vector(self, node_id: str) -> np.ndarray | None:
        if node_id in self.text.vec:
            return self.text.vec[node_id]
        if self.forest.has(node_id) and not node_id.startswith(("place/", "obj/")):
            return self.forest.summary_vector(node_id)
        return None

    def stats(self) -> dict:
        levels = self.forest.level_counts()
        return {"observations": self.observations, "places": len(self.graph.places()),
                "objects": len(self.graph.objects()), "levels": {str(k): v for k, v in levels.items()},
                "rooms": levels.get(2, 0), "floors": levels.get(3, 0)}
