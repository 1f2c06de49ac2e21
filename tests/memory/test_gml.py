"""Embodied-RAG GML import/export: the shared Building99 files, a street-view fixture, the label reader."""
from __future__ import annotations

import logging
import math
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from memory.gml import (
    EARTH_RADIUS_M,
    RAW_LABEL_PREFIX,
    GmlError,
    export_gml,
    format_gml,
    import_gml,
    lonlat_to_local,
    ned_to_local,
    parse_gml,
    parse_label,
    plural_phrase,
)
from memory.gml_format import LIST_START, group_pairs
from memory.gml_records import TimestampReader
from memory.store import MemoryStore, relation_to_edge
from memory.types import ClusterRecord, ObjectRecord, PlaceRecord, Relation
from sim.types import Pose

DATA = Path(__file__).resolve().parents[2] / "assets" / "data" / "embodied-rag-building99"
GRAPH = DATA / "building99_graph.gml"
FOREST = DATA / "building99_forest.gml"


def _text_counts(path: Path) -> Counter:
    """Node types and edge kinds counted with a plain text scan, independently of any GML reader."""
    text = path.read_text()
    c = Counter(re.findall(r'^\s*type "(drone|object|cluster|base)"\s*$', text, re.M))
    c["part_of"] = len(re.findall(r'relationship "part_of"', text))
    c["spatial"] = len(re.findall(r'type "spatial"', text))
    c["drone_path"] = len(re.findall(r'type "drone_path"', text))
    return c


@pytest.fixture(scope="module")
def graph():
    return import_gml(GRAPH)


# ------------------------------------------------------------------------------------- shared files
@pytest.mark.parametrize("path", [GRAPH, FOREST], ids=["graph", "forest"])
def test_counts_match_the_file(path):
    want = _text_counts(path)
    g = import_gml(path)
    assert want["drone"] == 253 and want["object"] == 257  # the files as shipped
    assert len(g.places) == want["drone"]
    assert len(g.objects) == want["object"]
    assert len(g.clusters) == want["cluster"]
    assert len(g.membership) == want["part_of"]
    assert len(g.relations) == want["spatial"]
    assert len(g.traverse) == want["drone_path"]
    assert g.meta["format"] == "airsim" and g.meta["skipped_nodes"] == {} and g.meta["skipped_edges"] == {}
    assert len({r.id for r in g.records}) == len(g.records)
    # networkx reads the same nodes (it only loses edge direction, which is why we parse ourselves)
    nxg = nx.read_gml(path, label="id")
    assert nxg.number_of_nodes() == len(g.records)
    assert nxg.number_of_edges() == len(g.membership) + len(g.relations) + len(g.traverse)


def test_forest_file_header(tmp_path):
    g = import_gml(FOREST)
    assert g.meta["environment"] == "Building99" and g.meta["detection_radius"] == 5
    assert g.places[0].timestamp == 1731945793.0  # "20241118_160313" read as UTC


def test_positions_are_converted_from_ned(graph):
    text = GRAPH.read_text()
    m = re.search(r'label "drone_2"\s+position \[\s+x (\S+)\s+y (\S+)\s+z (\S+)\s+\]\s+yaw (\S+)', text)
    x, y, z, yaw = map(float, m.groups())
    p = next(p for p in graph.places if p.id == "place/2")
    assert p.position == (x, -y, -z) and p.pose.yaw == -yaw
    m = re.search(r'label "chairOrange_lowBack33_123"\s+position \[\s+x (\S+)\s+y (\S+)\s+z (\S+)', text)
    o = next(o for o in graph.objects if RAW_LABEL_PREFIX + "chairOrange_lowBack33_123" in o.attributes)
    assert o.position == ned_to_local(*map(float, m.groups()))
    assert ned_to_local(*ned_to_local(1.0, 2.0, 3.0)) == (1.0, 2.0, 3.0)
    # NED z is down: ceiling lights end up above the chairs in our z-up frame
    z_of = lambda lab: np.mean([o.position[2] for o in graph.objects if o.label == lab])  # noqa: E731
    assert z_of("light bar") > z_of("chair") and z_of("TV") > z_of("chair")


def test_relations_hold_for_the_imported_positions(graph):
    pos = {o.id: np.array(o.position) for o in graph.objects}
    axis = {"east": (0, 1), "west": (0, -1), "north": (1, 1), "south": (1, -1), "above": (2, 1), "below": (2, -1)}
    agree, total = Counter(), Counter()
    for r in graph.relations:
        d = pos[r.dst] - pos[r.src]
        for word in r.kind.split("_"):
            k, sign = axis[word]
            total[word] += 1
            agree[word] += bool(np.sign(d[k]) == sign)
        assert r.distance >= 0
    for word in axis:
        assert agree[word] / total[word] > 0.9, (word, agree[word], total[word])


def test_places_are_captioned_with_the_objects_within_the_detection_radius(graph):
    for p in graph.places[::25]:
        near = sorted((o for o in graph.objects if math.dist(o.position, p.position) <= 5.0),
                      key=lambda o: (math.dist(o.position, p.position), o.id))
        assert p.object_ids == tuple(o.id for o in near)
        assert p.caption.startswith(f"Drone pose {p.id.split('/')[1]}: ")
    assert import_gml(GRAPH).places == graph.places  # deterministic


def test_clusters_and_membership(graph):
    levels = Counter(c.level for c in graph.clusters)
    assert levels == {1: 17, 2: 7, 3: 3, 4: 3, 5: 1}
    root = next(c for c in graph.clusters if c.parent is None)
    assert root.level == 5 and root.name == "social interaction space"
    by_id = {c.id: c for c in graph.clusters}
    parents = {m.child: m.parent for m in graph.membership}
    for c in graph.clusters:
        for ch in c.children:
            assert parents[ch] == c.id
        if c.parent:
            assert by_id[c.parent].level > c.level
    assert root.n_leaves == 256  # every object but the drone itself
    entry = by_id["cluster/1/4"]
    assert entry.name == "entry security zone" and "security checkpoint" in entry.summary
    assert dict(entry.counts) == {"person": 2, "door": 1, "entry scanner": 1}
    assert all(m.level == by_id[m.parent].level for m in graph.membership)


# ------------------------------------------------------------------------------------ label reader
@pytest.mark.parametrize("raw, category, colour, material, attributes, room", [
    ("chairOrange_lowBack33_123", "chair", "orange", "", ("low back",), ""),
    ("doorGlassA15", "door", "", "glass", (), ""),
    ("BaseCharacter_Walking2_5", "person", "", "", ("walking",), ""),
    ("enrtyScanner_Blueprint_1582", "entry scanner", "", "", (), ""),
    ("chair_cafeCharcoalGrey15_8", "chair", "charcoal grey", "", ("cafe",), ""),
    ("Cafeteria_roundmetaltable4_111", "table", "", "metal", ("round",), "cafeteria"),
    ("Cafeteria_napkinholder4_140", "napkin holder", "", "", (), "cafeteria"),
    ("sofa_doubleLeatherCream_32", "sofa", "cream", "leather", ("double",), ""),
    ("cabinets_smallWhite2", "cabinet", "white", "", ("small",), ""),
    ("lightBars_2", "light bar", "", "", (), ""),
    ("trashcan_smallOffice51_355", "trash can", "", "", ("small office",), ""),
    ("snackShopBackWall_17", "wall", "", "", ("back",), "snack shop"),
    ("woodenCageCoffeeTable2", "coffee table", "", "wood", ("cage",), ""),
    ("TV_large2_20", "TV", "", "", ("large",), ""),
    ("Macarthur_Palm3", "palm", "", "", ("macarthur",), ""),
    ("Cafeteria_ColaRefigerator_5", "refrigerator", "", "", ("cola",), "cafeteria"),
    ("Cube3", "cube", "", "", (), ""),
    ("automan_square2", "automan", "", "", ("square",), ""),  # unknown words: the first one names it
])
def test_label_reader(raw, category, colour, material, attributes, room):
    p = parse_label(raw)
    assert (p.category, p.colour, p.material, p.attributes, p.room, p.raw) == (
        category, colour, material, attributes, room, raw)


def test_every_shipped_label_gets_a_readable_category(graph):
    assert all(o.label and not re.search(r"\d|_", o.label) for o in graph.objects)
    assert {"chair", "table", "person", "door", "TV", "sofa"} <= {o.label for o in graph.objects}
    assert all(any(a.startswith(RAW_LABEL_PREFIX) for a in o.attributes) for o in graph.objects)
    assert sum(o.room_guess == "cafeteria" for o in graph.objects) > 50


def test_plural_phrase():
    assert plural_phrase("glass door", 1) == "a glass door"
    assert plural_phrase("orange chair", 1) == "an orange chair"
    assert plural_phrase("person", 3) == "3 people"
    assert plural_phrase("bench", 2) == "2 benches"
    assert plural_phrase("salt shaker", 4) == "4 salt shakers"


# ----------------------------------------------------------------------------------- GML text level
def test_parse_gml_values_comments_and_entities():
    pairs = parse_gml('# a comment\ngraph [\n  a -3\n  b 1.5e-3\n  c "x &quot;y&quot; &#233;"\n'
                      '  d 9223372036854775807\n  node [ id 1 position [ x -.5 y 2. ] ]\n  a 4\n]\n')
    g = dict(pairs)["graph"]
    assert g[:4] == [("a", -3), ("b", 0.0015), ("c", 'x "y" é'), ("d", 2**63 - 1)]
    assert g[4] == ("node", [("id", 1), ("position", [("x", -0.5), ("y", 2.0)])])
    assert g[5] == ("a", 4)


@pytest.mark.parametrize("text, words", [
    ("graph [ node [ id 1 ]", "opened at line 1 is never closed"),
    ("graph [ ] ]", "']' without a matching '['"),
    ("graph [\n  label\n]", "line 3: key 'label' has no value"),
    ('graph [ 12 "x" ]', "expected a key"),
    ("graph [ a @ ]", "unexpected text"),
    # issue 14: these exited 1 "internal error" (RecursionError, ValueError, OverflowError, ValueError)
    ("graph [\n node [ id 1 x " + "[ a " * 10_000 + "]" * 10_000 + " ] ]", "line 2: blocks nested deeper than 64"),
    ("graph [\n node [\n id " + "7" * 5000 + " ] ]", "line 3: id is an integer of 5000 digits"),
    ("graph [ node [ id 1\n x 1e999 ] ]", "line 2: x is not a finite number (1e999)"),
    ("graph [ node [ id 1\n\n x NAN ] ]", "line 3: x is not a finite number (NAN)"),
    ("graph [ node [ id 1 x -INF ] ]", "line 1: x is not a finite number (-INF)"),
    ("graph [ node [ id 9223372036854775808 ] ]", "beyond the 64-bit limit"),
])
def test_parse_gml_errors_name_the_line(text, words):
    with pytest.raises(GmlError, match=re.escape(words)):
        parse_gml(text, "f.gml")


def test_format_gml_round_trips_through_parse():
    pairs = [("graph", {"name": 'a "quoted" ünïcode\nline', "n": 3, "x": 1e-5, "big": 1e300, "neg": -0.0,
                        "node": [{"id": 0, "position": {"x": 1.0, "y": -2.0}}, {"id": 1}]})]
    text = format_gml(pairs)
    assert "\n  name \"a &#34;quoted&#34; &#252;n&#239;code&#10;line\"\n" in text and "1.0e-05" in text
    g = parse_gml(text)[0][1]
    assert g[0] == ("name", 'a "quoted" ünïcode\nline') and g[2] == ("x", 1e-5) and g[3] == ("big", 1e300)
    assert math.copysign(1, g[4][1]) == -1
    assert [v for k, v in g if k == "node"] == [[("id", 0), ("position", [("x", 1.0), ("y", -2.0)])], [("id", 1)]]
    assert nx.parse_gml(format_gml([("graph", {"node": [{"id": 0, "label": "a"}]})]).splitlines()).nodes


def test_networkx_list_encoding():
    g = parse_gml('graph [ node [ id 1 members "_networkx_list_start" members "405" ] '
                  'node [ id 2 members "_networkx_list_start" ] node [ id 3 members 4 members 5 ] node [ id 4 m 7 ] '
                  'x [ tags "_networkx_list_start" tags "a" ] ]')[0][1]
    d = [group_pairs(v) for _, v in g]
    assert [n.get("members", n.get("m")) for n in d[:4]] == [["405"], [], [4, 5], 7]
    assert d[4] == {"tags": ["a"]}  # nested blocks too
    text = format_gml([("graph", {"node": [{"id": 1, "members": ["405"]}, {"id": 2, "members": []},
                                           {"id": 3, "members": [4, 5]}]})])
    assert text.count(LIST_START) == 2
    nodes = [group_pairs(v) for _, v in parse_gml(text)[0][1]]
    assert [n["members"] for n in nodes] == [["405"], [], [4, 5]]
    assert nx.parse_gml(text.splitlines(), label="id").nodes[1]["members"] == ["405"]


# -------------------------------------------------------------------------------------- bad inputs
def _write(tmp_path: Path, text: str, name: str = "g.gml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _drone(i: int, pos: str = "position [ x 0.0 y 0.0 z 0.0 ]") -> str:
    return f'node [ id {i} label "drone_{i}" {pos} yaw 0.0 type "drone" ]\n'


def _cluster(i: int, level: int) -> str:
    return (f'node [ id {i} label "area_{level}_cluster_{i}" type "cluster" level {level} '
            f'position [ x 0.0 y 0.0 z 0.0 ] name "c{i}" summary "s" ]\n')


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "absent.gml", "GML file not found"),
    (lambda d: d, "is not a file"),
    (lambda d: _write(d, "hello world, this is prose.\n"), "is not a GML file"),
    (lambda d: (d / "b.gml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe") and d / "b.gml", "not UTF-8 text"),
    (lambda d: _write(d, "creator \"me\"\n"), "no 'graph [ ... ]' block"),
    (lambda d: _write(d, "graph [\n  directed 1\n]\n"), "the graph has no nodes"),
    (lambda d: _write(d, "graph [ node [ id 0 type \"lamp\" ] ]"), "no leaf nodes of a known type"),
    (lambda d: _write(d, "graph [ " + _drone(0) + _drone(1, "") + " ]"), "node 1 (drone_1) has no position"),
    (lambda d: _write(d, "graph [ " + _drone(0, 'position "somewhere"') + " ]"), "unreadable position"),
    (lambda d: _write(d, "graph [ " + _drone(0) + _drone(0) + " ]"), "node id 0 is used 2 times"),
    # found by fuzzing (issue 14): a node with two 'id' keys was a TypeError (unhashable list)
    (lambda d: _write(d, "graph [ node [ id 0 id 1 type \"drone\" position [ x 0.0 y 0.0 z 0.0 ] ] ]"),
     "node 1 has several ids"),
    (lambda d: _write(d, "graph [ node [ id [ a 1 ] type \"drone\" ] ]"), "node 1 has a block as its id"),
    (lambda d: _write(d, "graph [ " + _drone(0) + _drone(1) + "edge [ source 1 source 0 target 1 ] ]"),
     "edge 1 has several sources or targets"),
    (lambda d: _write(d, "graph [ " + _drone(0) + _cluster(1, 1) + _cluster(2, 2)
                      + "edge [ source 1 target 2 relationship \"part_of\" ]"
                      + "edge [ source 2 target 1 relationship \"part_of\" ] ]"), "part_of edges form a cycle"),
    (lambda d: _write(d, "graph [ " + _drone(0) + _drone(1) + "edge [ source 0 target 1 relationship \"part_of\" ] ]"),
     "which is not a cluster"),
    (lambda d: _write(d, "graph [ " + _drone(0) + _cluster(1, 1) + _cluster(2, 1)
                      + "edge [ source 0 target 1 relationship \"part_of\" ]"
                      + "edge [ source 0 target 2 relationship \"part_of\" ] ]"), "is part_of two clusters"),
])
def test_bad_gml_gives_one_clear_line(tmp_path, make, words):
    with pytest.raises(GmlError) as info:
        import_gml(make(tmp_path))
    assert words in str(info.value) and "\n" not in str(info.value)


# ------------------------------------------------------------------------------------- street view
LAT0, LON0 = 40.4433, -79.9436  # Pittsburgh
CMU = Path(__file__).resolve().parents[2] / "assets" / "data" / "embodied-rag-cmu500"


def _street_view(tmp_path: Path) -> Path:
    """Four panoramas in the authors' layout (street_view and base leaves, members as label strings, a
    Python list string and networkx's one-element list encoding) under a three-level forest."""
    from PIL import Image

    Image.fromarray(np.full((120, 200, 3), 90, np.uint8)).save(tmp_path / "img0.png")
    nodes = [  # (name, caption, lon, lat, alt, date)
        ("Forbes Ave", "a bus stop with a shelter and a bench", LON0, LAT0, 280.0, "2024-05"),
        ("Forbes Ave east", "a coffee shop with outdoor tables", LON0 + 0.001, LAT0, 282.0, "2024-05-02T10:00:00"),
        ("Craig St", "a bookstore and a bike rack", LON0, LAT0 + 0.001, 284.0, "2023"),
        ("Craig St north", "a parking lot", LON0 + 0.001, LAT0 + 0.001, 286.0, "2022-07-15"),
    ]
    parts = ['graph [\n  environment "CMU campus"\n']
    for i, (name, cap, lon, lat, alt, date) in enumerate(nodes):
        pos = (f"position [ x {lon!r} y {lat!r} z {alt!r} ]" if i % 2 == 0
               else f'position "{{\'lon\': {lon!r}, \'lat\': {lat!r}, \'alt\': {alt!r}}}"')
        kind = "street_view" if i < 3 else "base"
        parts.append(f'  node [ id {i} label "{i}" type "{kind}" name "{name}" caption "{cap}" {pos} '
                     f'image_path "img{i}.png" timestamp "{date}" level 0 pano_id "pano{i}" base_heading 90 ]\n')
    parts.append('  node [ id 10 label "cluster_L1_0" type "cluster" level 1 name "transit corner" '
                 'summary "bus stop and cafe" members "0" members "1" relationships "bus stop by the cafe" ]\n')
    parts.append('  node [ id 11 label "cluster_L1_1" type "cluster" level 1 name "books and parking" '
                 'summary "bookstore, parking" members "[\'2\', \'3\']" ]\n')
    parts.append('  node [ id 12 label "cluster_L2_0" type "cluster" level 2 name "campus edge" summary "all of it" '
                 'members "cluster_L1_0" members "cluster_L1_1" ]\n')
    parts.append('  node [ id 13 label "cluster_L3_0" type "cluster" level 3 name "campus" summary "the site" '
                 'members "_networkx_list_start" members "cluster_L2_0" ]\n')
    parts.append('  edge [ source 0 target 1 ]\n  edge [ source 1 target 3 ]\n  edge [ source 0 target 10 ]\n]\n')
    return _write(tmp_path, "".join(parts), "street.gml")


def test_street_view_lonlat_becomes_metres(tmp_path):
    g = import_gml(_street_view(tmp_path))
    assert g.meta["format"] == "streetview" and g.meta["environment"] == "CMU campus"
    assert g.meta["origin"]["lat"] == pytest.approx(LAT0 + 0.0005) and g.meta["origin"]["alt"] == 283.0
    p = {pl.id: pl for pl in g.places}
    assert len(p) == 4 and len(g.objects) == 0
    north = math.dist(p["place/0"].position[:2], p["place/2"].position[:2])
    assert north == pytest.approx(111.19, abs=0.05)  # 0.001 degree of latitude
    east = p["place/1"].position[0] - p["place/0"].position[0]
    assert east == pytest.approx(111.19 * math.cos(math.radians(LAT0 + 0.0005)), abs=0.05)
    assert p["place/2"].position[1] - p["place/0"].position[1] == pytest.approx(111.19, abs=0.05)
    assert np.mean([pl.position for pl in g.places], axis=0) == pytest.approx([0, 0, 0], abs=1e-6)
    assert p["place/3"].position[2] == pytest.approx(3.0)
    assert p["place/0"].caption == "Forbes Ave. a bus stop with a shelter and a bench"
    assert g.image_paths == {f"place/{i}": f"img{i}.png" for i in range(4)}
    assert [(e.src, e.dst) for e in g.traverse] == [("place/0", "place/1"), ("place/1", "place/3")]
    c = {cl.name: cl for cl in g.clusters}
    assert c["transit corner"].children == ("place/0", "place/1")  # the bare edge 0 -> 10 repeats a member
    assert c["books and parking"].children == ("place/2", "place/3")  # members given as a list string
    assert c["campus"].children == (c["campus edge"].id,)  # networkx's one-element list encoding
    assert c["campus"].n_leaves == 4 and c["campus"].parent is None and c["campus"].level == 3
    assert c["transit corner"].position == pytest.approx(
        tuple(np.mean([p["place/0"].position, p["place/1"].position], axis=0)))
    assert {(m.child, m.level) for m in g.membership} >= {("place/0", 1), (c["transit corner"].id, 2)}


def test_street_view_leaves_keep_their_source_ids_and_attributes(tmp_path):
    g = import_gml(_street_view(tmp_path))
    assert [pl.id for pl in g.places] == ["place/0", "place/1", "place/2", "place/3"]  # place/<source id>
    src = g.sources["place/2"]
    assert src["id"] == 2 and src["label"] == "2" and src["type"] == "street_view" and src["pano_id"] == "pano2"
    assert (src["name"], src["caption"], src["image_path"]) == ("Craig St", "a bookstore and a bike rack", "img2.png")
    assert (src["lon"], src["lat"], src["alt"], src["timestamp"]) == (LON0, LAT0 + 0.001, 284.0, "2023")
    assert g.sources["place/3"]["type"] == "base" and g.meta["counts"]["street_view"] == 3
    assert all(pl.pose.yaw == pytest.approx(0.0) for pl in g.places)  # heading 90 (east) is our +x
    cl = next(c for c in g.clusters if c.name == "transit corner")
    assert g.sources[cl.id]["relationships"] == "bus stop by the cafe" and g.sources[cl.id]["label"] == "cluster_L1_0"


@pytest.mark.parametrize("text, when", [
    ("2023-12", datetime(2023, 12, 1, tzinfo=UTC)),
    ("2023", datetime(2023, 1, 1, tzinfo=UTC)),
    ("2023-12-05", datetime(2023, 12, 5, tzinfo=UTC)),
    ("20241118_160313", datetime(2024, 11, 18, 16, 3, 13, tzinfo=UTC)),
    ("2024-05-02T10:00:00", datetime(2024, 5, 2, 10, tzinfo=UTC)),
])
def test_dates_of_the_files(text, when):
    r = TimestampReader()
    assert r.read(text) == when.timestamp()
    assert r.read(12.5) == 12.5 and r.read("") == 0.0 and r.missing == 1 and not r.unreadable


def test_unreadable_timestamps_make_one_warning_line(tmp_path, caplog):
    leaves = "".join(f'node [ id {i} type "street_view" caption "view {i}" position [ x {LON0 + i * 1e-4!r} '
                     f'y {LAT0!r} ] timestamp "{"spring" if i % 2 else "2023-13"}" ]\n' for i in range(40))
    with caplog.at_level(logging.WARNING):
        g = import_gml(_write(tmp_path, f"graph [ {leaves} ]"))
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and "40 timestamps unreadable, e.g. '2023-13', 'spring'" in lines[0]
    assert g.meta["timestamps"] == {"unreadable": 40, "missing": 0} and {p.timestamp for p in g.places} == {0.0}


def test_unknown_node_types_are_skipped_in_one_line(tmp_path, caplog):
    text = ('graph [ node [ id 0 type "street_view" caption "a" position [ x -79.9 y 40.4 ] ] '
            'node [ id 1 type "street_view" caption "b" position [ x -79.9001 y 40.4 ] ] '
            'node [ id 2 type "poi" ] node [ id 3 type "poi" ] node [ id 4 type "sensor" ] node [ id 5 ] '
            'edge [ source 0 target 2 ] ]')
    with caplog.at_level(logging.WARNING):
        g = import_gml(_write(tmp_path, text))
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and "skipped 4 nodes" in lines[0] and "poi 2, (none) 1, sensor 1" in lines[0]
    assert len(g.places) == 2 and g.meta["skipped_nodes"] == {"poi": 2, "sensor": 1, "(none)": 1}
    assert g.meta["skipped_edges"] == {"to a skipped or unknown node": 1}
    with pytest.raises(GmlError, match=r"nothing to import: .* node types found: poi 2, sensor 1$"):
        import_gml(_write(tmp_path, 'graph [ node [ id 2 type "poi" ] node [ id 3 type "poi" ] '
                                    'node [ id 4 type "sensor" ] ]', "none.gml"))


def test_a_kept_forest_keeps_every_level_renumbered_in_order(tmp_path):
    text = ('graph [ node [ id 0 type "base" caption "a" position [ x -79.9 y 40.4 ] ] '
            'node [ id 1 type "base" caption "b" position [ x -79.9001 y 40.4 ] ] '
            'node [ id 7 label "low" type "cluster" level 2 members 0 members 1 ] '
            'node [ id 8 label "top" type "cluster" level 5 members "_networkx_list_start" members "low" ] ]')
    g = import_gml(_write(tmp_path, text))
    assert {c.name: c.level for c in g.clusters} == {"low": 1, "top": 2}
    assert g.meta["levels"] == {"file": {"2": 1, "5": 1}, "map": {"2": 1, "5": 2}, "ours": {"1": 1, "2": 1}}


def test_street_view_export_round_trips(tmp_path):
    g = import_gml(_street_view(tmp_path))
    db = tmp_path / "sv.db"
    with MemoryStore.open(db) as s:
        s.upsert_places(g.places)
        s.upsert_clusters(g.clusters)
        s.set_membership(g.membership)
        s.put_edges(g.traverse)
        s.put_sources(g.sources)
        s.set_meta("import", dict(g.meta))
    with MemoryStore.open(db, create=False, readonly=True) as s:
        snap = s.load()
    assert snap.sources == g.sources
    for source in (g, snap):
        out = export_gml(source, tmp_path / "again.gml")
        text = out.read_text()
        assert text.count('type "street_view"') == 3 and 'pano_id "pano1"' in text and 'timestamp "2024-05"' in text
        again = import_gml(out)
        assert again.places == g.places and again.traverse == g.traverse
        assert {i: s for i, s in again.sources.items() if i.startswith("place/")} == {
            i: s for i, s in g.sources.items() if i.startswith("place/")}
        for c in g.clusters:  # the export adds the positions the file left out
            assert {k: v for k, v in again.sources[c.id].items() if k not in ("lon", "lat")} == g.sources[c.id]
        assert [(c.id, c.name, c.summary, c.level, c.children, c.parent) for c in again.clusters] == [
            (c.id, c.name, c.summary, c.level, c.children, c.parent) for c in g.clusters]
        assert np.allclose([c.position for c in again.clusters], [c.position for c in g.clusters], atol=1e-6)
        assert set(again.membership) == set(g.membership)
    nxg = nx.read_gml(out, label="id")  # the authors' loader reads it, one-element lists included
    assert nxg.nodes[13]["members"] == ["cluster_L2_0"] and nxg.nodes[0]["pano_id"] == "pano0"


def test_the_authors_cmu_forest_file():
    g = import_gml(CMU / "semantic_forest_CMU_500.gml")
    assert len(g.places) == 3313 and len(g.clusters) == 217 and g.meta["counts"]["base"] == 3313
    assert g.meta["levels"]["file"] == {"1": 159, "2": 45, "3": 10, "4": 2, "5": 1}
    assert g.meta["timestamps"] == {"unreadable": 0, "missing": 3}
    one = next(c for c in g.clusters if g.sources[c.id]["id"] == 3345)  # members "_networkx_list_start" "405"
    assert one.children == ("place/405",) and one.name == "Serene Forest Pathway Scene"
    assert g.places[405].id == "place/405" and g.sources["place/405"]["id"] == 405
    assert g.places[0].timestamp == datetime(2023, 12, 1, tzinfo=UTC).timestamp()
    assert {r.id for r in g.records} >= {f"place/{i}" for i in range(3313)}


def test_lonlat_conversion_against_haversine():
    lat, lon, d = 40.0, -80.0, 0.01
    x, y = lonlat_to_local(lon + d, lat + d, lon, lat)
    r = math.radians
    hav = 2 * EARTH_RADIUS_M * math.asin(math.sqrt(
        math.sin(r(d) / 2) ** 2 + math.cos(r(lat)) * math.cos(r(lat + d)) * math.sin(r(d) / 2) ** 2))
    assert math.hypot(x, y) == pytest.approx(hav, rel=2e-3)


@pytest.mark.parametrize("cluster, words", [
    ('members "n9"', "lists an unknown member 'n9'"),
    ("", "has no position and no leaves below it"),
    ('members "n0" position [ x 200.0 y 40.0 ]', "is not a longitude/latitude"),
])
def test_street_view_errors(tmp_path, cluster, words):
    text = ('graph [ node [ id "n0" type "base" caption "x" position [ x -79.9 y 40.4 ] ] '
            f'node [ id "c0" type "cluster" level 1 {cluster} ] ]')
    with pytest.raises(GmlError, match=words):
        import_gml(_write(tmp_path, text))


# ---------------------------------------------------------------------------------------- export
def test_export_then_import_gives_back_the_same_memory(graph, tmp_path):
    out = export_gml(graph, tmp_path / "again.gml")
    again = import_gml(out)
    assert again.places == graph.places
    assert again.objects == graph.objects
    assert again.clusters == graph.clusters
    assert again.relations == graph.relations
    assert again.traverse == graph.traverse
    assert set(again.membership) == set(graph.membership)
    counts = _text_counts(out)  # still the AirSim layout
    assert (counts["drone"], counts["object"], counts["cluster"]) == (253, 257, 31)
    assert counts["part_of"] == 286 and counts["spatial"] == 1702 and counts["drone_path"] == 252
    text = out.read_text()
    assert 'label "chairOrange_lowBack33_123"' in text and 'relationship "east"' in text
    assert nx.read_gml(out).number_of_nodes() == 541  # the authors' own loader (labels unique)


def test_export_of_a_native_memory_through_the_store(tmp_path):
    places = (PlaceRecord("place/3", Pose(1.0, 2.0, 0.0, 0.5), 5.0, 3, "kitchen view: a red chair",
                          "kitchen", ("obj/chair/7", "obj/mug/1")),
              PlaceRecord("place/4", Pose(2.0, 2.0, 0.0, -0.5), 6.0, 4, "kitchen view: a mug"))
    objects = (ObjectRecord("obj/chair/7", "chair", (1.5, 2.5, 0.45), 0, colour="red", material="wood"),
               ObjectRecord("obj/mug/1", "coffee mug", (1.2, 2.2, 0.9), 0, colour="white", attributes=("chipped",)))
    clusters = (ClusterRecord("cluster/1/0", 1, "kitchen corner", "a chair and a mug", (1.3, 2.3, 0.6), 0,
                              children=("obj/chair/7", "obj/mug/1", "place/3", "place/4")),)
    db = tmp_path / "m.db"
    with MemoryStore.open(db) as s:
        s.upsert_places(places)
        s.upsert_objects(objects)
        s.upsert_clusters(clusters)
        s.put_edges([relation_to_edge(Relation("obj/mug/1", "obj/chair/7", "north_above", "", 0.6)),
                     relation_to_edge(Relation("obj/chair/7", "obj/mug/1", "near", "", 0.6)),
                     ("place/3", "place/4", "traverse", {"length": 1.0})])
        s.set_membership([(c, "cluster/1/0", 1) for c in clusters[0].children])
    with MemoryStore.open(db, readonly=True) as s:
        snap = s.load()
    out = export_gml(snap, tmp_path / "m.gml")
    assert "multigraph 1" in out.read_text()  # the mug and the chair are related both ways
    g = import_gml(out)
    assert {o.id: (o.label, o.colour, o.material, o.attributes, o.position) for o in g.objects} == {
        o.id: (o.label, o.colour, o.material, o.attributes, o.position) for o in objects}
    assert [(p.id, p.pose, p.caption, p.object_ids, p.room_guess) for p in g.places] == [
        (p.id, p.pose, p.caption, p.object_ids, p.room_guess) for p in places]
    assert g.relations == snap.relations
    assert g.clusters[0].children == clusters[0].children and g.clusters[0].n_leaves == 2
    nxg = nx.read_gml(out, label="id")
    assert nxg.number_of_edges() == 1 + 2 + 4 + 2  # traverse, relations, part_of, sees


def test_export_to_an_unwritable_place(graph, tmp_path):
    with pytest.raises(GmlError, match="cannot write"):
        export_gml(graph, tmp_path / "missing" / "out.gml")
