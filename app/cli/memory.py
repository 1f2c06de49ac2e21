"""Memory-file commands: ``import-gml FILE --out MEM.db [--keep-forest]`` and ``memory info|export-gml``.

The import is a progress generator (``import_gml_job``) so the GUI can run it in a worker while
the CLI shows a progress bar (plain lines when not on a terminal). Its stages: read the GML, write
the leaves, embed leaf texts, keep the file's forest or rebuild one from the leaves
(``rebuild_forest``), embed cluster texts, store thumbnails of street-view images, and save the
memory file atomically.

Texts are embedded once per machine: the default import looks every text up in the on-disk
embedding cache (``memory.encoders.disk_cache``, keyed by encoder id and text hash) and embeds only
the new ones, longest-similar texts batched together. Street-view (geographic) memories get a
forest of blocks, neighbourhoods and districts named from their captions (``memory.summarize_geo``);
``memory info`` names the levels from the memory's meta.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import textwrap
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.progress import CancelToken, Progress, run_with_progress
from memory.errors import GmlError
from memory.file_lock import check_no_writer
from memory.gml import GmlImport, export_gml, import_gml
from memory.store import Membership, MemoryFileError, MemoryFileUnwritable, MemoryStore, content_hash, relation_to_edge
from memory.store_file import fsync_path, temp_file
from memory.summarize_geo import is_geographic, level_names
from memory.types import ClusterRecord, ObjectRecord, PlaceRecord
from sim.errors import LabError

log = logging.getLogger(__name__)

__all__ = [
    "MemoryCommandError", "ForestUnavailable", "ImportSummary", "import_gml_job", "rebuild_forest",
    "embed_records", "load_text_encoder", "memory_info", "format_memory_info",
    "cmd_import_gml", "cmd_memory",
]

THUMB_SIZE = 160  # longest side of a stored thumbnail, pixels
EMBED_BATCH = 16  # texts per encoder call, sorted by length: little padding, activations fit in cache


class MemoryCommandError(LabError):
    """A memory command cannot do what was asked (bad output path, nothing to export ...)."""


class ForestUnavailable(MemoryCommandError):
    """The semantic forest module is not part of this build, so the forest cannot be rebuilt."""


@dataclass(frozen=True)
class ImportSummary:
    """What ``import_gml_job`` wrote."""

    out: str
    format: str
    environment: str
    places: int
    objects: int
    clusters: int
    relations: int
    traverse: int
    forest: str  # "file" (kept) or "rebuilt"
    encoder: str  # "" when no text encoder was available
    embedded: int  # vectors written (cached ones included)
    thumbnails: int
    seconds: float
    computed: int = 0  # vectors the encoder had to compute (the rest came from the cache)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage


# ------------------------------------------------------------------------------------------ import
def load_text_encoder(*, bulk: bool = False) -> Any | None:
    """The default text encoder (MiniLM), or ``None`` when the encoder package or its model is missing.

    ``bulk``: for embedding thousands of texts at once (an import): MiniLM with int8 linear layers where
    the CPU supports them (same vector space, cosine >= 0.99 to the float32 model; see
    ``memory.encoders.minilm``), without the per-text LRU cache.
    """
    try:
        from memory.encoders import EncoderConfig, make_encoder
    except ImportError as e:
        log.info("no encoder package (%s); the memory is written without vectors", e)
        return None
    try:
        if bulk:
            from memory.encoders.minilm import MiniLMEncoder

            return MiniLMEncoder(EncoderConfig(cache_size=0), int8=True)
        return make_encoder(EncoderConfig())
    except (LabError, ImportError) as e:
        log.warning("text encoder unavailable, the memory is written without vectors: %s", e)
        return None


def rebuild_forest(records: Sequence[PlaceRecord | ObjectRecord], vectors: Mapping[str, np.ndarray] | None = None,
                   *, geographic: bool = False, sources: Mapping[str, Mapping[str, Any]] | None = None,
                   ) -> tuple[list[ClusterRecord], list[Membership]]:
    """A new semantic forest over places and objects (``memory.forest`` batch build); ``vectors`` are
    the leaves' text embeddings, where known.

    Buildings get areas, rooms, floors and a site with the built-in extractive summaries; geographic
    memories (``geographic``: street views) get blocks, neighbourhoods, districts and a site grouped by
    projected distance and named from the captions (``memory.summarize_geo``; ``sources`` give each
    leaf's own name and caption). Cluster texts are not embedded here: ``embed_records`` does it with
    the caches. Raises ``ForestUnavailable`` when the forest module is not part of this build.
    """
    try:
        from memory.forest import SemanticForest, leaf_from_record
        from memory.summarize import ExtractiveSummariser
    except ModuleNotFoundError as e:
        if e.name not in ("memory.forest", "memory.summarize"):
            raise
        raise ForestUnavailable(f"cannot rebuild the forest: {e.name} is not available in this build; "
                                "use --keep-forest to keep the file's clusters") from None
    vectors = vectors or {}
    leaves = [leaf_from_record(r, vectors.get(r.id)) for r in records]
    if geographic:
        from memory.summarize_geo import GEO_FOREST, GeoSummariser

        for lf in leaves:
            src = (sources or {}).get(lf.id) or {}
            lf.extra.update({k: str(src[k]) for k in ("name", "caption") if src.get(k)})
        forest = SemanticForest(GEO_FOREST, summariser=GeoSummariser(leaves))
    else:
        forest = SemanticForest(summariser=ExtractiveSummariser())
    report = forest.build(leaves)
    clusters, pairs = forest.to_records()
    level = {c.id: c.level for c in clusters}
    log.info("rebuilt the %sforest: %d clusters in %.2f s", "geographic " if geographic else "", len(clusters),
             report.seconds)
    return clusters, [Membership(child, parent, level[parent]) for child, parent in pairs]


def embed_records(store: MemoryStore, encoder: Any, records: Sequence[Any], *,
                  cancel: CancelToken | None = None) -> Generator[Progress, None, dict[str, np.ndarray]]:
    """Embed the ``text`` of records whose vector is missing or stale in ``store``; returns id -> vector
    for every record (cached vectors included).

    Texts go to the encoder shortest first, ``EMBED_BATCH`` at a time, so each batch pads to a
    similar length; the vectors are stored in the records' order, each text's vector the same
    whatever batch it was in.
    """
    texts = {r.id: r.text for r in records}
    hashes = {i: content_hash(t) for i, t in texts.items()}
    todo = store.missing_embeddings(encoder.id, "text", hashes)
    yield Progress("embed text", 0, len(todo), f"{len(texts) - len(todo)} cached")
    order = sorted(todo, key=lambda i: (len(texts[i]), i))
    done: dict[str, np.ndarray] = {}
    for start in range(0, len(order), EMBED_BATCH):
        if cancel is not None:
            cancel.check()
        ids = order[start:start + EMBED_BATCH]
        done.update(zip(ids, encoder.encode_text([texts[i] for i in ids]), strict=True))
        yield Progress("embed text", start + len(ids), len(todo))
    if todo:
        store.put_embeddings(encoder.id, "text", todo, np.stack([done[i] for i in todo]), [hashes[i] for i in todo])
    got_ids, mat = store.get_embeddings(encoder.id, "text", list(texts))
    return dict(zip(got_ids, mat, strict=True))


def _check_out(out: Path) -> None:
    """Refuse an output that cannot be written or that is something other than a memory file."""
    if out.is_dir():
        raise MemoryCommandError(f"cannot write {out}: it is a folder")
    if not out.parent.is_dir():
        raise MemoryFileUnwritable(f"cannot write {out}: folder {out.parent} does not exist", path=out)
    if out.exists() and out.stat().st_size > 0:
        try:
            MemoryStore.open(out, create=False, readonly=True).close()
        except MemoryFileError as e:
            raise MemoryCommandError(f"refusing to overwrite {out}: {e}") from None
    check_no_writer(out)  # at once; saving takes the writer lock again to replace the file
    try:
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".probe"):
            pass
    except OSError as e:
        raise MemoryFileUnwritable(f"cannot write in {out.parent}: {e.strerror or e}", path=out) from e


def _thumbnails(store: MemoryStore, gml: GmlImport, base: Path) -> int:
    """Thumbnails of the images the file names (paths relative to the file's folder); one warning line
    for all that are missing or unreadable: their places keep the path, in the node's source attributes."""
    from PIL import Image, UnidentifiedImageError

    done, missing = 0, []
    for pid, rel in gml.image_paths.items():
        p = Path(rel) if Path(rel).is_absolute() else base / rel
        try:
            with Image.open(p) as im:
                im = im.convert("RGB")
                im.thumbnail((THUMB_SIZE, THUMB_SIZE))
                store.put_image(pid, "thumb", np.asarray(im))
                done += 1
        except (OSError, UnidentifiedImageError):
            missing.append(rel)
    if missing:
        log.warning("%d of %d images not found or unreadable (e.g. %s, looked for under %s); their places keep "
                    "the image path", len(missing), len(gml.image_paths), missing[0], base)
    return done


def _embedding_cache(cache: Any, encoder: Any) -> Any | None:
    """The on-disk embedding cache to use: the user's for the default encoder (``"auto"``), else as given."""
    if cache == "auto":
        if encoder != "auto":
            return None
        from memory.encoders.disk_cache import EmbeddingCache

        return EmbeddingCache.default()
    return cache


def import_gml_job(gml_path: str | Path, out: str | Path, *, keep_forest: bool = False, encoder: Any = "auto",
                   cache: Any = "auto", cancel: CancelToken | None = None) -> Generator[Progress, None, ImportSummary]:
    """Import an Embodied-RAG GML file into a new memory file at ``out`` (replaced atomically).

    ``encoder``: ``"auto"`` loads the default text encoder when available, ``None`` skips vectors,
    anything else is used as the encoder. ``cache``: an ``EmbeddingCache`` that serves and keeps text
    vectors across imports; ``"auto"`` is the user's cache when the encoder is the default one, ``None``
    none. An existing ``out`` is only replaced if it is a memory file.
    """
    t0 = time.perf_counter()
    stages: dict[str, float] = {}
    src, dst = Path(gml_path), Path(out)
    yield Progress("read GML", 0, 1, src.name)
    gml = import_gml(src)
    _check_out(dst)
    geographic = is_geographic(gml.meta)
    stages["read"] = time.perf_counter() - t0
    yield Progress("read GML", 1, 1, src.name)
    enc = load_text_encoder(bulk=True) if encoder == "auto" else encoder
    disk = _embedding_cache(cache, encoder) if enc is not None else None
    if disk is not None:
        from memory.encoders.disk_cache import DiskCachedEncoder

        enc = DiskCachedEncoder(enc, disk)
    with tempfile.TemporaryDirectory(prefix="import-gml-") as tmp:
        with MemoryStore.open(Path(tmp) / "memory.db") as store:
            store.upsert_places(gml.places)
            store.upsert_objects(gml.objects)
            store.put_edges([*gml.traverse, *gml.sees, *(relation_to_edge(r) for r in gml.relations)])
            if gml.sources:
                store.put_sources(gml.sources)
            vectors: dict[str, np.ndarray] = {}
            t = time.perf_counter()
            if enc is not None:
                vectors = yield from embed_records(store, enc, [*gml.places, *gml.objects], cancel=cancel)
            stages["embed leaves"] = time.perf_counter() - t
            if cancel is not None:
                cancel.check()
            yield Progress("forest", 0, 1, "kept from the file" if keep_forest else "rebuilding")
            t = time.perf_counter()
            if keep_forest:
                clusters, membership = list(gml.clusters), list(gml.membership)
            else:
                clusters, membership = rebuild_forest([*gml.places, *gml.objects], vectors, geographic=geographic,
                                                      sources=gml.sources)
            store.upsert_clusters(clusters)
            store.set_membership(membership, replace=True)
            stages["forest"] = time.perf_counter() - t
            yield Progress("forest", 1, 1, f"{len(clusters)} clusters")
            t = time.perf_counter()
            if enc is not None and clusters:
                yield from embed_records(store, enc, clusters, cancel=cancel)
            stages["embed clusters"] = time.perf_counter() - t
            t = time.perf_counter()
            thumbs = _thumbnails(store, gml, src.parent) if gml.image_paths else 0
            digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
            top = max((c.level for c in clusters), default=0)
            imported = {**gml.meta, "geographic": geographic,
                        "level_names": list(level_names(top, geographic=geographic))}
            store.set_meta("scene", "")
            store.set_meta("source", {"kind": "gml", "file": str(src.resolve()), "sha256": digest,
                                      **{k: gml.meta[k] for k in ("format", "environment") if k in gml.meta}})
            store.set_meta("import", imported)
            store.set_meta("forest", "file" if keep_forest else "rebuilt")
            yield Progress("save", 0, 1, dst.name)
            store.save_as(dst)
    stages["save"] = time.perf_counter() - t
    if disk is not None:
        disk.close()
    yield Progress("save", 1, 1, dst.name)
    computed = getattr(enc, "misses", len(vectors) + len(clusters)) if enc is not None else 0
    return ImportSummary(str(dst), str(gml.meta.get("format", "")), str(gml.meta.get("environment", "")),
                         len(gml.places), len(gml.objects), len(clusters), len(gml.relations), len(gml.traverse),
                         "file" if keep_forest else "rebuilt", getattr(enc, "id", "") if enc is not None else "",
                         len(vectors) + (len(clusters) if enc is not None else 0), thumbs,
                         time.perf_counter() - t0, computed, {k: round(v, 2) for k, v in stages.items()})


def cmd_import_gml(args: argparse.Namespace) -> int:
    """``import-gml FILE --out MEM.db [--keep-forest]``."""
    job = import_gml_job(args.file, args.out, keep_forest=bool(args.keep_forest))
    s = run_with_progress(job, desc="import-gml")
    vec = f", {s.embedded} vectors ({s.encoder})" if s.encoder else ", no vectors (no text encoder)"
    cached = f"; {s.embedded - s.computed} vectors from the cache" if s.encoder and s.computed < s.embedded else ""
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in s.stages.items() if v >= 0.05)
    print(f"imported {Path(args.file).name} ({s.format}, {s.environment}): {s.places} places, {s.objects} objects, "
          f"{s.clusters} clusters ({'from the file' if s.forest == 'file' else 'rebuilt'}), {s.relations} relations, "
          f"{s.traverse} traverse edges{vec}" + (f", {s.thumbnails} thumbnails" if s.thumbnails else "")
          + f" -> {s.out} in {s.seconds:.1f} s" + (f" ({stages}{cached})" if stages or cached else ""))
    return 0


# -------------------------------------------------------------------------------------- memory info
def memory_info(path: str | Path) -> dict[str, Any]:
    """Counts per kind and level, edges per kind, vectors, size, schema, source and top-level summaries."""
    with MemoryStore.open(path, create=False, readonly=True) as store:
        st = store.stats()
        meta = store.meta()
        spaces = store.embedding_spaces()
        snap = store.load()
        size = store.file_size()
    kinds: dict[str, int] = {"place": 0, "object": 0, "cluster": 0}
    levels: dict[str, int] = {}
    for (kind, level), n in st["nodes"].items():
        kinds[kind] = kinds.get(kind, 0) + n
        levels[str(level)] = levels.get(str(level), 0) + n
    top_level = max((c.level for c in snap.clusters), default=None)
    parents = snap.parents
    names = _level_names(meta, top_level or 0)
    return {
        "path": str(path), "size_bytes": size, "schema_version": meta.get("schema_version"),
        "app_version": meta.get("app_version"), "created": meta.get("created"), "modified": meta.get("modified"),
        "scene": meta.get("scene", ""), "source": meta.get("source"), "forest": meta.get("forest", ""),
        "perception": meta.get("perception", ""),
        "nodes": kinds, "levels": dict(sorted(levels.items(), key=lambda kv: int(kv[0]))), "level_names": names,
        "edges": st["edges"],
        "membership": st["membership"],
        "orphan_leaves": sum(1 for r in (*snap.places, *snap.objects) if r.id not in parents) if snap.clusters else 0,
        "embeddings": [s._asdict() for s in spaces], "images": st["images"], "top_level": top_level,
        "top": [{"id": c.id, "level": c.level, "name": c.name, "summary": c.summary, "n_leaves": c.n_leaves}
                for c in snap.clusters if c.level == top_level],
    }


def _level_names(meta: Mapping[str, Any], top_level: int) -> list[str]:
    """Names of levels 0..top: a geographic memory's (place, block, neighbourhood ... site) from its
    import meta, else ours (leaf, area, room, floor, site; deeper kept levels go unnamed)."""
    if is_geographic(meta):
        given = (meta.get("import") or {}).get("level_names")
        if isinstance(given, list) and len(given) == top_level + 1 and all(isinstance(n, str) for n in given):
            return given
        return list(level_names(top_level, geographic=True))
    return list(level_names(min(top_level, 4), geographic=False))


def _level_name(level: int, names: Sequence[str] = ()) -> str:
    names = names or level_names(4, geographic=False)
    return f"L{level} {names[level]}" if 0 <= level < len(names) and names[level] else f"L{level}"


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def format_memory_info(info: dict[str, Any], width: int | None = None) -> str:
    """``memory_info`` as aligned text, summaries wrapped to ``width`` (the terminal's, at most 100)."""
    width = width or min(100, shutil.get_terminal_size((100, 24)).columns)
    src = info.get("source") or {}
    rows = [
        ("memory file", f"{info['path']} ({_size(info['size_bytes'])}, schema {info['schema_version']}, "
                        f"app {info['app_version']})"),
        ("created", f"{info['created']}, modified {info['modified']}"),
        ("source", (f"{src.get('format', '')} GML {Path(src.get('file', '')).name} ({src.get('environment', '')})"
                    if src.get("kind") == "gml" else info.get("scene") or "—")),
        ("perception", info.get("perception") or "—"),
        ("nodes", ", ".join(f"{n} {k}s" for k, n in info["nodes"].items())),
        ("levels", " · ".join(f"{_level_name(int(lv), info.get('level_names', ()))}: {n}"
                              for lv, n in info["levels"].items()) or "—"),
        ("edges", ", ".join(f"{k} {n}" for k, n in info["edges"].items()) or "—"),
        ("forest", f"{info['membership']} memberships"
                   + (f", {info['orphan_leaves']} leaves without a cluster" if info["orphan_leaves"] else "")
                   + (f" ({info['forest']})" if info["forest"] else "")),
        ("embeddings", "; ".join(f"{e['encoder']} {e['modality']} {e['dim']}-d {e['dtype']} x {e['count']}"
                                 for e in info["embeddings"]) or "none"),
        ("images", ", ".join(f"{k} {n}" for k, n in info["images"].items()) or "none"),
    ]
    lines = [f"{k:<12} {v}" for k, v in rows]
    if info["top"]:
        lines.append(f"top level ({_level_name(info['top_level'], info.get('level_names', ()))}):")
        for c in info["top"]:
            lines.append(textwrap.fill(f"{c['name']} ({c['n_leaves']} leaves): {c['summary']}".strip(), width,
                                       initial_indent="  - ", subsequent_indent="    "))
    return "\n".join(lines)


_GML_START = re.compile(rb"\A\s*(?:#[^\n]*\n\s*)*(?:graph|Creator|Version)\b")


def _check_export_target(db: Path, out: Path, *, force: bool) -> None:
    """An export replaces an existing GML file only; anything else (a memory file above all) needs ``--force``."""
    if out.is_dir():
        raise MemoryCommandError(f"cannot write {out}: it is a folder")
    if not out.parent.is_dir():
        raise MemoryCommandError(f"cannot write {out}: folder {out.parent} does not exist")
    if not out.exists() or out.stat().st_size == 0:
        return
    if db.exists() and out.resolve() == db.resolve():
        raise MemoryCommandError(f"cannot export {db} onto itself; choose another --out")
    if force:
        return
    with open(out, "rb") as f:
        head = f.read(4096)
    if head.startswith(b"SQLite format 3\x00"):
        raise MemoryCommandError(f"refusing to overwrite {out}: it is a memory file (add --force to replace it)")
    if not _GML_START.match(head):
        raise MemoryCommandError(f"refusing to overwrite {out}: it is not a GML file (add --force to replace it)")


def _export_atomically(snap: Any, out: Path) -> Path:
    """Export into a temp file beside ``out``, then rename it over ``out``: a failure (a full disk)
    leaves whatever was at ``out`` as it was."""
    try:
        tmp = temp_file(out, ".gml.tmp")
    except OSError as e:
        raise MemoryFileUnwritable(f"cannot write {out}: {e.strerror or e}", path=out) from e
    try:
        try:
            export_gml(snap, tmp)
        except GmlError as e:
            if isinstance(e.__cause__, OSError):  # name the file the user asked for, not the temp file
                raise e.__cause__ from e
            raise
        fsync_path(tmp)
        os.replace(tmp, out)
        fsync_path(out.parent, directory=True)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise MemoryFileUnwritable(f"cannot write {out}: {e.strerror or e}", path=out) from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def cmd_memory(args: argparse.Namespace) -> int:
    """``memory info MEM.db [--json]`` and ``memory export-gml MEM.db --out FILE.gml``."""
    if args.memory_command == "info":
        info = memory_info(args.db)
        print(json.dumps(info, indent=2, ensure_ascii=False) if args.json else format_memory_info(info))
        return 0
    if args.memory_command == "export-gml":
        _check_export_target(Path(args.db), Path(args.out), force=bool(getattr(args, "force", False)))
        with MemoryStore.open(args.db, create=False, readonly=True) as store:
            snap = store.load()
        if not snap.records:
            raise MemoryCommandError(f"{args.db} holds no nodes to export")
        out = _export_atomically(snap, Path(args.out))
        print(f"exported {len(snap.places)} places, {len(snap.objects)} objects, {len(snap.clusters)} clusters "
              f"-> {out}")
        return 0
    raise MemoryCommandError(f"unknown memory action {args.memory_command!r}; expected info or export-gml")
