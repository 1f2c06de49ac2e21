"""``import-gml`` and ``memory info|export-gml`` through ``launcher.main``: happy paths and bad inputs."""
from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import launcher
from app.cli import memory as cli_memory
from app.progress import drain
from memory.gml import import_gml
from memory.store import MemoryStore, content_hash

DATA = Path(__file__).resolve().parents[2] / "assets" / "data" / "embodied-rag-building99"
GRAPH = DATA / "building99_graph.gml"
FOREST = DATA / "building99_forest.gml"


class HashEncoder:
    """A tiny deterministic text encoder (unit rows from a hash of the text)."""

    id = "test:hash16"
    dim = 16
    modalities = frozenset({"text"})

    def __init__(self) -> None:
        self.calls = 0

    def encode_text(self, texts):
        self.calls += len(texts)
        rows = [np.random.default_rng(int(content_hash(t)[:8], 16)).standard_normal(self.dim) for t in texts]
        m = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return m / np.linalg.norm(m, axis=1, keepdims=True)


@pytest.fixture(autouse=True)
def _private_embedding_cache(monkeypatch, tmp_path_factory):
    """Imports keep text vectors in the user's cache: here, one per test."""
    from memory.encoders import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("embedding-cache")))


@pytest.fixture
def encoder(monkeypatch):
    enc = HashEncoder()
    monkeypatch.setattr(cli_memory, "load_text_encoder", lambda **kw: enc)
    return enc


@pytest.fixture(scope="module")
def b99_db(tmp_path_factory):
    """The Building99 graph imported once with its own forest (hash encoder)."""
    out = tmp_path_factory.mktemp("b99") / "b99.db"
    drain(cli_memory.import_gml_job(GRAPH, out, keep_forest=True, encoder=HashEncoder()))
    return out


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = launcher.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -------------------------------------------------------------------------------------- happy paths
def test_import_keep_forest_then_info_then_export(tmp_path, capsys, encoder):
    db = tmp_path / "b99.db"
    code, out, err = _run(capsys, "import-gml", str(GRAPH), "--out", str(db), "--keep-forest")
    assert code == 0, err
    assert re.search(r"253 places, 257 objects, 31 clusters \(from the file\), 1702 relations, 252 traverse edges, "
                     r"541 vectors \(test:hash16\)", out)
    with MemoryStore.open(db, create=False, readonly=True) as s:
        snap = s.load()
        assert encoder.calls == len({r.text for r in snap.records}) < 541  # each distinct text embedded once
        assert s.get_meta("forest") == "file" and s.get_meta("source")["format"] == "airsim"
        ids, mat = s.get_embeddings("test:hash16", "text")
        assert len(ids) == 541 and mat.shape == (541, 16)
        assert s.missing_embeddings("test:hash16", "text", {r.id: content_hash(r.text) for r in snap.records}) == []
    g = import_gml(GRAPH)
    assert snap.places == g.places and snap.objects == g.objects and snap.clusters == g.clusters
    assert set(snap.membership) == set(g.membership) and set(snap.relations) == set(g.relations)
    assert len(snap.edges_of("sees")) == sum(len(p.object_ids) for p in g.places)

    code, out, err = _run(capsys, "memory", "info", str(db))
    assert code == 0 and err == ""
    assert "253 places, 257 objects, 31 clusters" in out
    assert "L1 area: 17" in out and "L5: 1" in out and "traverse 252" in out
    assert "test:hash16 text 16-d float32 x 541" in out and "schema 1" in out
    assert "top level (L5):" in out and "social interaction space (256 leaves)" in out
    assert max(len(line) for line in out.splitlines() if line.startswith("    ")) <= 100

    code, out, err = _run(capsys, "memory", "info", str(db), "--json")
    info = json.loads(out)
    assert info["nodes"] == {"place": 253, "object": 257, "cluster": 31}
    assert info["levels"] == {"0": 510, "1": 17, "2": 7, "3": 3, "4": 3, "5": 1}
    assert info["edges"]["traverse"] == 252 and info["membership"] == 286 and info["orphan_leaves"] == 254
    assert info["embeddings"] == [{"encoder": "test:hash16", "modality": "text", "dim": 16, "dtype": "float32",
                                   "count": 541}]
    assert info["schema_version"] == 1 and info["size_bytes"] == db.stat().st_size
    assert [t["name"] for t in info["top"]] == ["social interaction space"]

    gml = tmp_path / "again.gml"
    code, out, err = _run(capsys, "memory", "export-gml", str(db), "--out", str(gml))
    assert code == 0 and "253 places, 257 objects, 31 clusters" in out
    again = import_gml(gml)
    assert (len(again.places), len(again.objects), len(again.clusters)) == (253, 257, 31)
    assert [p.position for p in again.places] == [p.position for p in g.places]
    assert [o.position for o in again.objects] == [o.position for o in g.objects]


def test_reimport_reuses_nothing_but_replaces_the_file_atomically(tmp_path, capsys, encoder, b99_db):
    db = tmp_path / "m.db"
    db.write_bytes(b99_db.read_bytes())
    code, _, err = _run(capsys, "import-gml", str(FOREST), "--out", str(db), "--keep-forest")
    assert code == 0, err
    with MemoryStore.open(db, create=False, readonly=True) as s:
        assert s.node_count("cluster") == 0 and s.node_count("place") == 253  # the forest file has no clusters
        assert s.get_meta("source")["environment"] == "Building99"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.db"]


def test_default_import_rebuilds_the_forest_from_the_leaves(tmp_path, encoder):
    db = tmp_path / "rebuilt.db"
    s = drain(cli_memory.import_gml_job(FOREST, db, encoder=encoder))
    assert s.forest == "rebuilt" and s.clusters > 0
    with MemoryStore.open(db, create=False, readonly=True) as st:
        snap = st.load()
        assert st.get_meta("forest") == "rebuilt"
        assert len(st.get_embeddings("test:hash16", "text")[0]) == 510 + len(snap.clusters)
    parents = snap.parents
    assert all(r.id in parents for r in (*snap.places, *snap.objects))  # every leaf has a cluster
    assert {c.id for c in snap.clusters} >= set(parents.values())


def test_street_view_import_with_the_real_text_encoder(tmp_path, capsys):
    pytest.importorskip("sentence_transformers")
    from PIL import Image

    Image.fromarray(np.full((300, 400, 3), 120, np.uint8)).save(tmp_path / "a.png")
    gml = tmp_path / "street.gml"
    gml.write_text('graph [\n'
                   '  node [ id 0 type "base" name "Forbes Ave" caption "a bus stop with a bench" '
                   'position [ x -79.9436 y 40.4433 ] image_path "a.png" timestamp "2024-05-01 10:00:00" ]\n'
                   '  node [ id 1 type "base" name "Craig St" caption "a bookstore" '
                   'position [ x -79.9426 y 40.4443 ] image_path "missing.png" ]\n'
                   '  node [ id 2 type "cluster" level 1 name "street corner" summary "bus stop, books" '
                   'members 0 members 1 ]\n]\n')
    db = tmp_path / "street.db"
    code, out, err = _run(capsys, "import-gml", str(gml), "--out", str(db), "--keep-forest")
    assert code == 0, err
    assert "2 places, 0 objects, 1 clusters" in out and "3 vectors (minilm:" in out and "1 thumbnails" in out
    with MemoryStore.open(db, create=False, readonly=True) as s:
        (space,) = s.embedding_spaces()
        assert space.encoder.startswith("minilm:") and space.dim == 384 and space.count == 3
        ids, mat = s.get_embeddings(space.encoder, "text")
        assert np.allclose(np.linalg.norm(mat, axis=1), 1.0, atol=1e-5)
        thumb = s.get_image("place/0", "thumb")
        assert max(thumb.shape[:2]) == cli_memory.THUMB_SIZE and thumb.shape[2] == 3
        assert s.get_meta("source")["format"] == "streetview"


def _streets(path: Path, extra: str = "") -> Path:
    """Forty panoramas along two streets 150 m apart, as the authors write them (images not shipped)."""
    nodes = []
    for k in range(40):
        street, thing = ("Forbes Ave", "a coffee shop") if k < 20 else ("Craig St", "a bookstore")
        lon, lat = -79.9436 + (k % 20) * 5e-5, 40.4433 + (0.00135 if k >= 20 else 0.0)
        nodes.append(f'  node [ id {k} label "{k}" type "street_view" image_path "images/sv_{k:04d}.jpg" '
                     f'name "View {k}" caption "A street view of {street} with {thing} and parked cars." '
                     f'position [ x {lon!r} y {lat!r} z 0.0 ] timestamp "2023-1{k % 3}" level 0 pano_id "p{k}" '
                     f'base_heading 0 ]\n')
    path.write_text("graph [\n" + "".join(nodes) + extra + "]\n")
    return path


def test_street_view_import_is_geographic_and_reuses_the_cache(tmp_path, capsys, caplog, encoder):
    gml = _streets(tmp_path / "streets.gml", '  node [ id 90 type "poi" ]\n  node [ id 91 type "poi" ]\n')
    db = tmp_path / "streets.db"
    with caplog.at_level(logging.WARNING):
        code, out, err = _run(capsys, "import-gml", str(gml), "--out", str(db))
    assert code == 0, err
    assert "40 places, 0 objects" in out and "(rebuilt)" in out
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings  # one line for the skipped nodes, one for all the missing images
    assert "skipped 2 nodes" in warnings[0] and "poi 2" in warnings[0]
    assert "40 of 40 images not found" in warnings[1] and "images/sv_0000.jpg" in warnings[1]
    first = encoder.calls
    with MemoryStore.open(db, create=False, readonly=True) as s:
        snap = s.load()
    n_clusters = len(snap.clusters)
    assert first == 40 + n_clusters and snap.sources["place/7"]["image_path"] == "images/sv_0007.jpg"
    assert snap.meta["import"]["level_names"] == ["place", "block", "neighbourhood", "district", "site"]

    code, out, err = _run(capsys, "import-gml", str(gml), "--out", str(db))  # again: nothing to embed
    assert code == 0 and encoder.calls == first and f"{40 + n_clusters} vectors from the cache" in out

    code, out, err = _run(capsys, "memory", "info", str(db))
    assert code == 0 and err == ""
    assert re.search(r"levels +L0 place: 40 · L1 block: \d+ · L2 neighbourhood: \d+ · L3 district: 1 · L4 site: 1",
                     out), out
    assert "top level (L4 site):" in out and "Forbes Avenue" in out
    for word in ("room", "floor", "hallway"):
        assert word not in out.lower()
    info = json.loads(_run(capsys, "memory", "info", str(db), "--json")[1])
    assert info["level_names"] == ["place", "block", "neighbourhood", "district", "site"]


# ------------------------------------------------------------------------------------------- errors
def _one_error_line(code: int, out: str, err: str) -> str:
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def _png(path: Path) -> Path:
    from PIL import Image

    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path, format="PNG")
    return path


def test_import_errors(tmp_path, capsys, encoder):
    line = _one_error_line(*_run(capsys, "import-gml", str(tmp_path / "nope.gml"), "--out", str(tmp_path / "m.db")))
    assert "GML file not found" in line
    odd = tmp_path / "odd.gml"
    odd.write_text('graph [ node [ id 0 type "poi" ] node [ id 1 type "sensor" ] ]')
    line = _one_error_line(*_run(capsys, "import-gml", str(odd), "--out", str(tmp_path / "m.db")))
    assert "nothing to import" in line and "node types found: poi 1, sensor 1" in line
    odd.unlink()
    notes = tmp_path / "notes.gml"
    notes.write_text("these are not the droids you are looking for\n")
    assert "is not a GML file" in _one_error_line(*_run(capsys, "import-gml", str(notes), "--out",
                                                       str(tmp_path / "m.db")))
    line = _one_error_line(*_run(capsys, "import-gml", str(GRAPH), "--out", str(tmp_path / "no" / "m.db")))
    assert "does not exist" in line
    assert "it is a folder" in _one_error_line(*_run(capsys, "import-gml", str(GRAPH), "--out", str(tmp_path)))
    precious = _png(tmp_path / "holiday.db")
    before = _sha(precious)
    line = _one_error_line(*_run(capsys, "import-gml", str(GRAPH), "--out", str(precious), "--keep-forest"))
    assert "refusing to overwrite" in line and _sha(precious) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["holiday.db", "notes.gml"]
    assert encoder.calls == 0  # every check happens before the slow work


@pytest.mark.parametrize("value, words", [
    ("x " + "[ a " * 10_000 + "]" * 10_000, "blocks nested deeper than 64 levels"),
    ("x " + "9" * 5000, "x is an integer of 5000 digits"),
    ("x 1e999", "x is not a finite number (1e999)"),
    ("x NAN", "x is not a finite number (NAN)"),
])
def test_hostile_gml_values_exit_2_with_the_line(tmp_path, capsys, encoder, value, words):
    # issue 14: each of these exited 1 "internal error" (RecursionError, ValueError, OverflowError, ValueError)
    gml = tmp_path / "hostile.gml"
    gml.write_text('graph [\n  node [ id 0 type "drone" position [ x 0.0 y 0.0 z 0.0 ] ]\n'
                   f'  node [ id 1 type "drone"\n    {value}\n  ]\n]\n')
    code, out, err = _run(capsys, "import-gml", str(gml), "--out", str(tmp_path / "m.db"))
    line = _one_error_line(code, out, err)
    assert code == 2 and "hostile.gml: line 4: " + words in line
    assert not (tmp_path / "m.db").exists() and encoder.calls == 0


def test_rebuild_without_the_forest_module_is_one_clear_line(tmp_path, capsys, encoder, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_forest(name, *args, **kw):
        if name == "memory.forest":
            raise ModuleNotFoundError("No module named 'memory.forest'", name="memory.forest")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_forest)
    line = _one_error_line(*_run(capsys, "import-gml", str(FOREST), "--out", str(tmp_path / "m.db")))
    assert "memory.forest is not available" in line and "--keep-forest" in line
    assert not (tmp_path / "m.db").exists()


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "absent.db", "memory file not found"),
    (lambda d: _png(d / "photo.db"), "not an SQLite database"),
    (lambda d: (d / "c.db").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 20) and d / "c.db", "damaged"),
])
@pytest.mark.parametrize("action", ["info", "export-gml"])
def test_memory_commands_on_bad_files(tmp_path, capsys, make, words, action):
    path = make(tmp_path)
    before = _sha(path) if path.exists() else None
    argv = ["memory", action, str(path)] + (["--out", str(tmp_path / "o.gml")] if action == "export-gml" else [])
    assert words in _one_error_line(*_run(capsys, *argv))
    assert (_sha(path) if path.exists() else None) == before
    assert not (tmp_path / "o.gml").exists()


def test_export_errors(tmp_path, capsys, b99_db):
    line = _one_error_line(*_run(capsys, "memory", "export-gml", str(b99_db), "--out",
                                 str(tmp_path / "missing" / "x.gml")))
    assert "cannot write" in line
    empty = tmp_path / "empty.db"
    MemoryStore.open(empty).close()
    assert "holds no nodes" in _one_error_line(*_run(capsys, "memory", "export-gml", str(empty), "--out",
                                                     str(tmp_path / "x.gml")))


def test_export_never_overwrites_a_memory_or_a_file_that_is_not_gml(tmp_path, capsys, b99_db):
    other = tmp_path / "other.db"
    MemoryStore.open(other).close()
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for target, what in ((other, "it is a memory file"), (notes, "it is not a GML file")):
        before = _sha(target)
        line = _one_error_line(*_run(capsys, "memory", "export-gml", str(b99_db), "--out", str(target)))
        assert line == f"error: refusing to overwrite {target}: {what} (add --force to replace it)"
        assert _sha(target) == before
    line = _one_error_line(*_run(capsys, "memory", "export-gml", str(b99_db), "--out", str(b99_db), "--force"))
    assert line == f"error: cannot export {b99_db} onto itself; choose another --out"
    assert _run(capsys, "memory", "export-gml", str(b99_db), "--out", str(notes), "--force")[0] == 0
    assert notes.read_text().startswith("graph [")
    old_gml = tmp_path / "old.gml"
    old_gml.write_text("graph [\n  node [\n    id 0\n  ]\n]\n")
    assert _run(capsys, "memory", "export-gml", str(b99_db), "--out", str(old_gml))[0] == 0  # GML replaces GML
    assert import_gml(old_gml).places
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "old.gml", "other.db"]  # no temp files


def test_export_into_a_full_disk_leaves_the_old_gml_intact(tmp_path, b99_db):
    """The disk fills up (a file-size limit in the child: writes past it fail with EFBIG)."""
    from tests.memory.test_store_full_disk import limit_file_size

    old_gml = tmp_path / "b99.gml"
    old_gml.write_text("graph [\n  node [\n    id 0\n    label \"kept\"\n  ]\n]\n")
    before = _sha(old_gml)
    done = subprocess.run([sys.executable, "launcher.py", "memory", "export-gml", str(b99_db), "--out", str(old_gml)],
                          cwd=Path(launcher.__file__).parent, capture_output=True, text=True, timeout=120,
                          preexec_fn=limit_file_size(64 * 1024))  # room to read
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"error: cannot write {old_gml}: ") and done.stderr.count("\n") == 1
    assert _sha(old_gml) == before
    assert [p.name for p in tmp_path.iterdir()] == ["b99.gml"]  # the temp file is gone
