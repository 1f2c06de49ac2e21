"""The memory file: record JSON, round trips, checkpoints, embeddings, images, save_as, bad files."""
from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory.store import (
    SCHEMA_VERSION,
    SEES,
    TRAVERSE,
    CorruptMemoryFile,
    EdgeRow,
    ImageNotFound,
    Membership,
    MemoryFileError,
    MemoryFileNotFound,
    MemoryFileUnwritable,
    MemoryStore,
    MemoryStoreError,
    NewerSchemaError,
    NotAMemoryFile,
    RecordFormatError,
    content_hash,
    record_from_json,
    record_to_json,
    relation_to_edge,
)
from memory.types import ClusterRecord, ObjectRecord, PlaceRecord, Relation
from sim.types import Pose

# ------------------------------------------------------------------------------------- strategies
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)  # SQLite text is UTF-8: no surrogates
FLOAT = st.floats(allow_nan=False, allow_infinity=False, width=64)
INT = st.integers(-(2 ** 63), 2 ** 63 - 1)
VEC3 = st.tuples(FLOAT, FLOAT, FLOAT)
IDS = st.lists(TEXT, max_size=4).map(tuple)
POSE = st.builds(Pose, FLOAT, FLOAT, FLOAT, FLOAT, INT)

PLACES = st.builds(PlaceRecord, id=TEXT, pose=POSE, timestamp=FLOAT, step=INT, caption=TEXT, room_guess=TEXT,
                   object_ids=IDS)
OBJECTS = st.builds(ObjectRecord, id=TEXT, label=TEXT, position=VEC3, floor=INT, colour=TEXT, material=TEXT,
                    bbox_min=VEC3, bbox_max=VEC3, n_views=INT, first_seen=FLOAT, last_seen=FLOAT, first_step=INT,
                    last_step=INT, attributes=IDS, room_guess=TEXT, confidence=FLOAT,
                    instance_hint=st.none() | INT)
CLUSTERS = st.builds(ClusterRecord, id=TEXT, level=INT, name=TEXT, summary=TEXT, position=VEC3, floor=INT,
                     children=IDS, parent=st.none() | TEXT, n_leaves=INT,
                     counts=st.lists(st.tuples(TEXT, INT), max_size=3).map(tuple), room_type=TEXT, bbox_min=VEC3,
                     bbox_max=VEC3, first_seen=FLOAT, last_seen=FLOAT)
RECORDS = PLACES | OBJECTS | CLUSTERS


@given(RECORDS)
@settings(max_examples=150, deadline=None)
def test_record_json_round_trip_is_exact(rec):
    obj = record_to_json(rec)
    again = record_from_json(json.loads(json.dumps(obj)))
    assert again == rec and type(again) is type(rec)
    assert repr(again) == repr(rec)  # -0.0, int vs float and tuple nesting survive too


@given(st.lists(RECORDS, min_size=1, max_size=6, unique_by=lambda r: r.id))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_records_round_trip_through_the_file(recs):
    with tempfile.TemporaryDirectory() as d:
        with MemoryStore.open(Path(d) / "m.db") as s:
            s.upsert_places([r for r in recs if isinstance(r, PlaceRecord)])
            s.upsert_objects([r for r in recs if isinstance(r, ObjectRecord)])
            s.upsert_clusters([r for r in recs if isinstance(r, ClusterRecord)])
        with MemoryStore.open(Path(d) / "m.db", create=False, readonly=True) as s:
            snap = s.load()
    assert {r.id: r for r in snap.records} == {r.id: r for r in recs}


@pytest.mark.parametrize("obj, message", [
    ({"type": "robot", "id": "x"}, "unknown record type"),
    ([1, 2], "must be a JSON object"),
    ({"type": "object", "id": "o", "label": "cup", "position": [0, 0, 0], "floor": 0, "wheels": 4}, "unknown fields"),
    ({"type": "object", "id": "o", "label": "cup", "floor": 0}, "lacks the field 'position'"),
    ({"type": "object", "id": "o", "label": "cup", "position": [0, 0], "floor": 0}, "expected 3 items"),
    ({"type": "object", "id": "o", "label": "cup", "position": [0, 0, "a"], "floor": 0}, "expected float"),
    ({"type": "object", "id": "o", "label": "cup", "position": [0, 0, 0], "floor": True}, "expected int"),
    ({"type": "place", "id": "p", "pose": {"x": 0, "y": 0, "roll": 1}, "timestamp": 0, "step": 0, "caption": ""},
     "unknown fields roll"),
])
def test_record_from_json_rejects_bad_objects(obj, message):
    with pytest.raises(RecordFormatError, match=message):
        record_from_json(obj)


def test_record_to_json_rejects_non_records():
    with pytest.raises(RecordFormatError):
        record_to_json(Pose(0, 0))


# ----------------------------------------------------------------------------------------- fixtures
def _place(i: int, **kw) -> PlaceRecord:
    return PlaceRecord(f"place/{i}", Pose(i, -i, 0.5, 0.25 * i, 0), 10.0 + i, i, f"view {i}: a chair",
                       object_ids=(f"obj/chair/{i}",), **kw)


def _object(i: int, **kw) -> ObjectRecord:
    return ObjectRecord(f"obj/chair/{i}", "chair", (i + 0.5, -i, 0.4), 0, colour="red", material="wood",
                        attributes=("tall",), instance_hint=i, **kw)


def _cluster(i: int, children: tuple[str, ...], level: int = 1) -> ClusterRecord:
    return ClusterRecord(f"cluster/{level}/{i}", level, f"area {i}", "chairs", (i, 0.0, 0.0), 0, children=children,
                         counts=(("chair", len(children)),), n_leaves=len(children))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def store(tmp_path):
    s = MemoryStore.open(tmp_path / "m.db")
    yield s
    s.close()


def _fill(s: MemoryStore, n: int = 3) -> None:
    s.upsert_places(_place(i) for i in range(n))
    s.upsert_objects(_object(i) for i in range(n))
    s.upsert_clusters([_cluster(0, tuple(f"obj/chair/{i}" for i in range(n)))])
    s.put_edges([EdgeRow(f"place/{i}", f"place/{i + 1}", TRAVERSE, {"length": 1.5}) for i in range(n - 1)])
    s.put_edges([(f"place/{i}", f"obj/chair/{i}", SEES) for i in range(n)])
    s.put_edges([relation_to_edge(Relation("obj/chair/0", "obj/chair/1", "near", "place/0", 0.8))])
    s.set_membership([(f"obj/chair/{i}", "cluster/1/0", 1) for i in range(n)])


# --------------------------------------------------------------------------------------- round trip
def test_everything_round_trips_through_a_reopened_file(tmp_path):
    path = tmp_path / "m.db"
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((3, 384)).astype(np.float32)
    thumb = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    with MemoryStore.open(path) as s:
        _fill(s)
        s.put_embeddings("minilm:x", "text", ["place/0", "place/1", "place/2"], vecs, ["a", "b", "c"])
        s.put_image("obj/chair/1", "crop", thumb)
        s.set_meta("scene", "house:seed=3,rooms=6")
    with MemoryStore.open(path, create=False, readonly=True) as s:
        snap = s.load()
        assert snap.places == tuple(_place(i) for i in range(3))
        assert snap.objects == tuple(_object(i) for i in range(3))
        assert snap.clusters == (_cluster(0, ("obj/chair/0", "obj/chair/1", "obj/chair/2")),)
        assert [e.kind for e in snap.edges] == [TRAVERSE, TRAVERSE, SEES, SEES, SEES, "near"]
        assert snap.edges_of(TRAVERSE)[0].data == {"length": 1.5}
        assert snap.relations == (Relation("obj/chair/0", "obj/chair/1", "near", "place/0", 0.8),)
        assert snap.membership == tuple(Membership(f"obj/chair/{i}", "cluster/1/0", 1) for i in range(3))
        assert snap.meta["scene"] == "house:seed=3,rooms=6"
        assert snap.meta["schema_version"] == SCHEMA_VERSION
        assert snap.meta["counts"] == {"place": 3, "object": 3, "cluster": 1, "edges": 6}
        assert snap.meta["encoders"] == [{"encoder": "minilm:x", "modality": "text", "dim": 384,
                                          "dtype": "float32", "count": 3}]
        ids, mat = s.get_embeddings("minilm:x", "text")
        assert ids == ["place/0", "place/1", "place/2"] and mat.dtype == np.float32
        np.testing.assert_array_equal(mat, vecs)
        np.testing.assert_array_equal(s.get_image("obj/chair/1", "crop"), thumb)
        assert s.stats()["nodes"] == {("cluster", 1): 1, ("object", 0): 3, ("place", 0): 3}


def test_upsert_replaces_in_place_and_keeps_insertion_order(store):
    store.upsert_places([_place(2), _place(1)])
    store.upsert_places([_place(2, room_guess="kitchen")])
    store.checkpoint()
    places = store.load().places
    assert [p.id for p in places] == ["place/2", "place/1"]
    assert places[0].room_guess == "kitchen"
    with pytest.raises(MemoryStoreError, match="expected PlaceRecord"):
        store.upsert_places([_object(0)])


def test_delete_nodes_removes_their_edges_membership_vectors_and_images(store):
    _fill(store)
    store.put_embeddings("e", "text", ["obj/chair/0", "obj/chair/1"], np.eye(2, 4), ["x", "y"])
    store.put_image("obj/chair/0", "thumb", np.zeros((4, 4, 3), np.uint8))
    assert store.delete_nodes(["obj/chair/0", "cluster/1/0", "nope"]) == 2
    snap = store.load()
    assert "obj/chair/0" not in {r.id for r in snap.records}
    assert all("obj/chair/0" not in (e.src, e.dst) for e in snap.edges)
    assert snap.membership == ()  # rows with the deleted cluster as parent go too
    assert store.get_embeddings("e", "text")[0] == ["obj/chair/1"]
    assert store.image_keys() == []


def test_put_edges_updates_data_and_replace_edges_swaps_one_kind(store):
    _fill(store)
    store.put_edges([EdgeRow("place/0", "place/1", TRAVERSE, {"length": np.float32(9.0), "via": np.arange(2)})])
    assert store.load().edges_of(TRAVERSE)[0].data == {"length": 9.0, "via": [0, 1]}
    with pytest.raises(MemoryStoreError, match="type object"):
        store.put_edges([("place/0", "place/1", TRAVERSE, {"bad": object()})])
    store.replace_edges(SEES, [("place/0", "obj/chair/2", SEES)])
    snap = store.load()
    assert [(e.src, e.dst) for e in snap.edges_of(SEES)] == [("place/0", "obj/chair/2")]
    assert len(snap.edges_of(TRAVERSE)) == 2
    with pytest.raises(MemoryStoreError, match="kind 'near'"):
        store.replace_edges(SEES, [("a", "b", "near")])
    with pytest.raises(MemoryStoreError, match="reserved"):
        relation_to_edge(Relation("a", "b", SEES))


def test_membership_detach_and_replace(store):
    _fill(store)
    store.set_membership([("obj/chair/0", None)])
    assert store.load().parents == {"obj/chair/1": "cluster/1/0", "obj/chair/2": "cluster/1/0"}
    store.set_membership([Membership("cluster/1/0", "cluster/2/0", 2)], replace=True)
    assert store.load().membership == (Membership("cluster/1/0", "cluster/2/0", 2),)
    with pytest.raises(MemoryStoreError, match="level"):
        store.set_membership([("a", "b")])


# ------------------------------------------------------------------------------------- transactions
def test_only_checkpointed_work_is_visible_and_durable(tmp_path):
    path = tmp_path / "m.db"
    s = MemoryStore.open(path)
    s.upsert_places([_place(0)])
    s.checkpoint()
    s.upsert_places([_place(1)])
    reader = MemoryStore.open(path, create=False, readonly=True)
    assert [p.id for p in reader.load().places] == ["place/0"]  # the open transaction is invisible
    s.checkpoint()
    assert [p.id for p in reader.load().places] == ["place/0", "place/1"]
    s.upsert_places([_place(2)])
    s.rollback()
    s.close()
    reader.close()
    with MemoryStore.open(path, create=False) as s:
        assert s.node_count("place") == 2


def test_context_manager_rolls_back_on_error_and_checkpoints_otherwise(tmp_path):
    path = tmp_path / "m.db"
    with MemoryStore.open(path) as s:
        s.upsert_places([_place(0)])
    with pytest.raises(RuntimeError):
        with MemoryStore.open(path) as s:
            s.upsert_places([_place(1)])
            raise RuntimeError("boom")
    with MemoryStore.open(path, create=False) as s:
        assert s.node_count() == 1
    assert s.closed
    with pytest.raises(MemoryStoreError, match="closed"):
        s.load()


def test_readonly_store_refuses_writes_and_leaves_the_file_alone(tmp_path):
    path = tmp_path / "m.db"
    with MemoryStore.open(path) as s:
        _fill(s)
    before, listing = _sha(path), sorted(os.listdir(tmp_path))
    with MemoryStore.open(path, readonly=True) as s:
        assert s.readonly and len(s.load().places) == 3
        with pytest.raises(MemoryStoreError, match="read-only"):
            s.upsert_places([_place(9)])
        with pytest.raises(MemoryStoreError, match="read-only"):
            s.set_meta("x", 1)
    assert _sha(path) == before and sorted(os.listdir(tmp_path)) == listing
    with pytest.raises(MemoryFileNotFound):
        MemoryStore.open(tmp_path / "absent.db", readonly=True)


# --------------------------------------------------------------------------------------- embeddings
def test_embeddings_cache_and_staleness(store):
    texts = {"place/0": "a red chair", "place/1": "a blue sofa", "place/2": "a lamp"}
    hashes = {i: content_hash(t) for i, t in texts.items()}
    assert store.missing_embeddings("enc", "text", hashes) == ["place/0", "place/1", "place/2"]
    store.put_embeddings("enc", "text", ["place/0", "place/1"], np.ones((2, 8)), [hashes["place/0"], hashes["place/1"]])
    assert store.missing_embeddings("enc", "text", hashes) == ["place/2"]
    changed = dict(hashes, **{"place/1": content_hash("a green sofa")})
    assert store.missing_embeddings("enc", "text", changed) == ["place/1", "place/2"]  # stale: text changed
    assert store.missing_embeddings("other", "text", hashes) == list(hashes)  # spaces never mix
    assert store.missing_embeddings("enc", "image", hashes) == list(hashes)
    ids, mat = store.get_embeddings("enc", "text", ["place/2", "place/1", "place/0"])
    assert ids == ["place/1", "place/0"] and mat.shape == (2, 8) and mat.dtype == np.float32
    assert store.get_embeddings("enc", "image") == ([], pytest.approx(np.zeros((0, 0))))


def test_embeddings_reject_bad_shapes_and_mixed_dimensions(store):
    store.put_embeddings("enc", "text", ["a"], np.zeros((1, 4)), ["h"])
    with pytest.raises(MemoryStoreError, match="dimension 4"):
        store.put_embeddings("enc", "text", ["b"], np.zeros((1, 5)), ["h"])
    store.put_embeddings("enc", "image", ["b"], np.zeros((1, 5)), ["h"])  # another modality is another space
    with pytest.raises(MemoryStoreError, match="do not match"):
        store.put_embeddings("enc", "text", ["a", "b"], np.zeros((1, 4)), ["h", "h"])
    with pytest.raises(MemoryStoreError, match="repeated"):
        store.put_embeddings("enc", "text", ["a", "a"], np.zeros((2, 4)), ["h", "h"])
    with pytest.raises(MemoryStoreError, match="modality"):
        store.put_embeddings("enc", "audio", ["a"], np.zeros((1, 4)), ["h"])
    assert [(s.encoder, s.modality, s.dim, s.count) for s in store.embedding_spaces()] == [
        ("enc", "image", 5, 1), ("enc", "text", 4, 1)]


def test_many_ids_are_fetched_in_chunks(store):
    ids = [f"obj/x/{i}" for i in range(1200)]
    vecs = np.arange(1200 * 3, dtype=np.float32).reshape(1200, 3)
    store.put_embeddings("enc", "text", ids, vecs, ["h"] * 1200)
    got, mat = store.get_embeddings("enc", "text", ids[::-1])
    assert got == ids[::-1]
    np.testing.assert_array_equal(mat, vecs[::-1])
    assert store.missing_embeddings("enc", "text", {i: "h" for i in ids}) == []


def test_content_hash_distinguishes_kinds_and_shapes():
    a = np.zeros((2, 3), np.uint8)
    assert content_hash("abc") == content_hash("abc") != content_hash(b"abc")
    assert content_hash(a) != content_hash(a.reshape(3, 2)) != content_hash(a.astype(np.float32))


# ------------------------------------------------------------------------------------------- images
def test_images_are_png_and_round_trip(store):
    from PIL import Image

    rgb = np.random.default_rng(1).integers(0, 255, (10, 12, 3), dtype=np.uint8)
    store.put_image("place/0", "thumb", rgb)
    png = store.get_image_png("place/0", "thumb")
    assert png.startswith(b"\x89PNG")
    np.testing.assert_array_equal(store.get_image("place/0", "thumb"), rgb)
    buf = io.BytesIO()
    Image.fromarray(rgb[:, :, 0]).save(buf, format="PNG")
    store.put_image("place/0", "view", buf.getvalue())
    assert store.get_image("place/0", "view").shape == (10, 12)
    assert store.image_keys() == [("place/0", "thumb"), ("place/0", "view")]
    with pytest.raises(ImageNotFound, match="no crop image"):
        store.get_image("place/0", "crop")
    with pytest.raises(MemoryStoreError, match="image kind"):
        store.put_image("place/0", "poster", rgb)
    with pytest.raises(MemoryStoreError, match="uint8"):
        store.put_image("place/0", "thumb", rgb.astype(np.float32))
    with pytest.raises(MemoryStoreError, match="not a readable image"):
        store.put_image("place/0", "thumb", b"not a png")


def test_meta_values_are_json(store):
    store.set_meta("encoders_cfg", {"text": "minilm", "dims": [384]})
    assert store.get_meta("encoders_cfg") == {"text": "minilm", "dims": [384]}
    assert store.get_meta("absent", 7) == 7
    with pytest.raises(MemoryStoreError, match="schema_version"):
        store.set_meta("schema_version", 2)


# ------------------------------------------------------------------------------------------ save as
def test_save_as_writes_a_complete_atomic_copy(tmp_path):
    src, dst = tmp_path / "m.db", tmp_path / "copy.db"
    Path(str(dst) + "-wal").write_bytes(b"stale wal of an older file")  # must not be replayed into the copy
    with MemoryStore.open(src) as s:
        _fill(s)
        s.put_embeddings("enc", "text", ["place/0"], np.ones((1, 4)), ["h"])
        s.upsert_places([_place(7)])  # pending: save_as checkpoints first
        s.save_as(dst)
        s.upsert_places([_place(8)])  # later work stays in the original only
    assert not Path(str(dst) + "-wal").exists()
    assert not [f for f in os.listdir(tmp_path) if f.endswith((".tmp", ".new"))]
    umask = os.umask(0)
    os.umask(umask)
    assert dst.stat().st_mode & 0o777 == 0o666 & ~umask
    with MemoryStore.open(dst, create=False) as c:
        assert [p.id for p in c.load().places] == ["place/0", "place/1", "place/2", "place/7"]
        assert c.get_embeddings("enc", "text")[0] == ["place/0"]
    with MemoryStore.open(src, create=False) as s:
        assert s.node_count("place") == 5
        with pytest.raises(MemoryFileUnwritable, match="does not exist"):
            s.save_as(tmp_path / "no" / "such" / "dir.db")


def test_open_creates_in_an_existing_folder_only(tmp_path):
    with pytest.raises(MemoryFileUnwritable, match="does not exist"):
        MemoryStore.open(tmp_path / "missing" / "m.db")
    empty = tmp_path / "empty.db"
    empty.touch()  # an empty placeholder becomes a memory when creating is allowed
    with pytest.raises(NotAMemoryFile, match="empty file"):
        MemoryStore.open(empty, create=False)
    with MemoryStore.open(empty) as s:
        assert s.get_meta("schema_version") == SCHEMA_VERSION


# ----------------------------------------------------------------------------------------- bad files
def _memory_file(path: Path) -> Path:
    with MemoryStore.open(path) as s:
        _fill(s, 40)
        s.put_embeddings("enc", "text", [f"place/{i}" for i in range(40)], np.ones((40, 384)), ["h"] * 40)
    return path


def _png_file(path: Path) -> Path:
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, format="PNG")
    return path


def _corrupt_pages(path: Path) -> Path:
    _memory_file(path)
    data = bytearray(path.read_bytes())
    data[4096 * 2: 4096 * 6] = os.urandom(4096 * 4)  # garbage over b-tree pages
    path.write_bytes(bytes(data))
    return path


def _truncated(path: Path) -> Path:
    _memory_file(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def _newer_schema(path: Path) -> Path:
    _memory_file(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    return path


def _plain_sqlite(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE songs (title TEXT)")
    conn.commit()
    conn.close()
    return path


def _header_only(path: Path) -> Path:
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(3000))
    return path


@pytest.mark.parametrize("make, error, words", [
    (_png_file, NotAMemoryFile, "not an SQLite database"),
    (lambda p: (p.write_text("just some notes\n"), p)[1], NotAMemoryFile, "not an SQLite database"),
    (_plain_sqlite, NotAMemoryFile, "not a memory file"),
    (_corrupt_pages, CorruptMemoryFile, "damaged"),
    (_truncated, CorruptMemoryFile, "damaged"),
    (_header_only, CorruptMemoryFile, "damaged"),
    (_newer_schema, NewerSchemaError, "newer version"),
])
@pytest.mark.parametrize("readonly", [False, True])
def test_bad_files_raise_one_clear_line_and_stay_untouched(tmp_path, make, error, words, readonly):
    path = make(tmp_path / "memory.db")
    before, listing = _sha(path), sorted(os.listdir(tmp_path))
    with pytest.raises(error) as info:
        MemoryStore.open(path, readonly=readonly)
    msg = str(info.value)
    assert words in msg and "\n" not in msg and str(path) in msg
    assert isinstance(info.value, MemoryFileError) and info.value.path == str(path)
    assert _sha(path) == before
    assert sorted(os.listdir(tmp_path)) == listing  # no -wal/-shm left behind either


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(MemoryFileNotFound, match="not found"):
        MemoryStore.open(tmp_path / "nope.db", create=False)
    assert not (tmp_path / "nope.db").exists()
    with pytest.raises(NotAMemoryFile, match="folder"):
        MemoryStore.open(tmp_path)
