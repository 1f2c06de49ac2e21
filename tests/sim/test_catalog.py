"""The object catalog: loading, validation, the habitat vocabulary, affordances and placement rules."""
from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim.catalog import (
    Catalog,
    CatalogError,
    CatalogValidationError,
    UnknownCategoryError,
    UnknownRoomTypeError,
    load_catalog,
)
from sim.scene import MATERIALS

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "assets" / "data" / "habitat-labels"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def habitat_pairs() -> set[tuple[str, str]]:
    """(category, mpcat40) pairs of the HM3D and Matterport mapping tables."""
    pairs: set[tuple[str, str]] = set()
    with open(LABELS / "hm3dsem_category_mappings.tsv", encoding="utf-8") as fh:
        for row in list(csv.reader(fh, delimiter="\t"))[1:]:
            pairs.add((row[1], row[2]))
    with open(LABELS / "matterport_category_mappings.tsv", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    header = re.split(r"\t| {4}", lines[0])
    for line in lines[1:]:
        cells = re.split(r"\t| {4}", line)
        if len(cells) == len(header):
            pairs.add((cells[header.index("category")], cells[header.index("mpcat40")]))
    return pairs


def test_catalog_loads_once_and_is_cached(catalog):
    assert load_catalog() is catalog
    assert len(catalog.categories) >= 60
    assert catalog.version == 1


def test_habitat_labels_ship_with_their_licence():
    text = (LABELS / "LICENSE").read_text()
    assert "MIT License" in text


def test_every_category_maps_to_a_habitat_label(catalog, habitat_pairs):
    missing = [f"{c.name}: ({c.habitat}, {c.mpcat40})" for c in catalog.categories.values()
               if (c.habitat, c.mpcat40) not in habitat_pairs]
    assert not missing, missing
    outdoor = {n for n, c in catalog.categories.items() if c.outdoor}
    assert {"car", "tree", "fountain", "lamp post", "bus stop"} <= outdoor
    assert "bed" not in outdoor


def test_colours_materials_and_sizes_are_sane(catalog):
    for c in catalog.categories.values():
        assert set(c.colours) <= set(catalog.palette.names()), c.name
        assert set(c.materials) <= set(MATERIALS), c.name
        for lo, hi in (c.size.w, c.size.d, c.size.h):
            assert 0 < lo <= hi, c.name
    for r in catalog.room_types.values():
        assert set(r.floor_materials) <= set(MATERIALS)
        assert r.size[0][0] <= r.size[0][1] and r.size[1][0] <= r.size[1][1]
    assert catalog.colour("red") == catalog.palette.rgb("red")
    assert catalog.palette.nearest((250, 250, 250)) == "white"


@pytest.mark.parametrize("category, affordance", [
    ("bed", "sleep"), ("sofa", "sit"), ("fridge", "store food"), ("stove", "cook"), ("sink", "wash hands"),
    ("kitchen sink", "wash dishes"), ("toilet", "use toilet"), ("bathtub", "bathe"), ("shower", "take a shower"),
    ("desk", "work"), ("tv", "watch tv"), ("wardrobe", "store clothes"), ("dining table", "eat"),
    ("bookshelf", "read"), ("treadmill", "exercise"), ("piano", "play music"), ("microwave", "heat food"),
    ("coffee machine", "make coffee"), ("washing machine", "wash clothes"), ("towel", "dry hands"),
    ("mirror", "check appearance"), ("bus stop", "wait for the bus"), ("stairs", "change floors"),
])
def test_key_categories_have_their_affordances(catalog, category, affordance):
    assert affordance in catalog.affordances_of(category)
    assert category in catalog.categories_with_affordance(affordance)


def test_every_affordance_is_offered_and_phrased(catalog):
    for a, phrase in catalog.affordances.items():
        assert catalog.categories_with_affordance(a), a
        assert phrase and catalog.affordance_phrase(a) == phrase
    assert catalog.affordance_phrase("sleep") == "somewhere to sleep"
    for c in catalog.categories.values():
        assert c.affordances, c.name
    with pytest.raises(CatalogError, match="unknown affordance"):
        catalog.categories_with_affordance("teleport")


@pytest.mark.parametrize("room, expected", [
    ("bedroom", {"bed", "nightstand", "wardrobe"}),
    ("kitchen", {"fridge", "stove", "kitchen sink", "counter"}),
    ("bathroom", {"toilet", "sink", "bathtub", "shower", "mirror", "towel"}),
    ("living room", {"sofa", "tv", "coffee table", "armchair"}),
    ("office", {"desk", "office chair", "monitor", "bookshelf"}),
    ("meeting room", {"conference table", "chair", "whiteboard"}),
    ("plaza", {"fountain", "bench", "bin", "lamp post"}),
    ("parking lot", {"car"}),
])
def test_room_types_hold_the_objects_people_expect(catalog, room, expected):
    cats = dict(catalog.categories_for_room(room))
    assert expected <= set(cats), expected - set(cats)
    for name in catalog.room_type(room).required:
        assert cats[name] == 1.0


@pytest.mark.parametrize("category, rule, target", [
    ("lamp", "on_top", "nightstand"), ("laptop", "on_top", "desk"), ("tv", "on_top", "tv stand"),
    ("microwave", "on_top", "counter"), ("cup", "on_top", "dining table"), ("chair", "around", "dining table"),
    ("nightstand", "beside", "bed"), ("coffee table", "front", "sofa"), ("office chair", "front", "desk"),
    ("tv stand", "facing", "sofa"), ("mirror", "above", "sink"),
])
def test_placement_rules(catalog, category, rule, target):
    p = catalog.category(category).placement
    assert p.rule == rule
    assert target in p.targets
    if rule == "on_top":
        assert catalog.category(category).support == "surface"
        assert catalog.category(target).surface


def test_unknown_names_list_the_valid_ones(catalog):
    with pytest.raises(UnknownCategoryError, match="Available: .*armchair"):
        catalog.category("hovercraft")
    with pytest.raises(UnknownRoomTypeError, match="Available: .*bedroom"):
        catalog.room_type("ballroom")
    with pytest.raises(CatalogError, match="unknown colour 'mauve'"):
        catalog.colour("mauve")


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "assets" / "catalog" / "catalog.yaml").read_text()
    assert old in text
    p = tmp_path / "catalog.yaml"
    p.write_text(text.replace(old, new, 1))
    return p


@pytest.mark.parametrize("old, new, message", [
    ("colours: [white, cream, light blue, blue, grey, beige, red, green, pink, purple, navy]",
     "colours: [white, reddish]", "unknown colour 'reddish'"),
    ("    materials: [fabric]\n    secondary: [brown, dark brown, white, black, grey, tan]",
     "    materials: [velvet]\n    secondary: [brown, dark brown, white, black, grey, tan]",
     "unknown material 'velvet'"),
    ("rooms: {bedroom: 1.0}\n    affordances: [sleep", "rooms: {attic: 1.0}\n    affordances: [sleep",
     "unknown room type 'attic'"),
    ("placement: {rule: on_top, targets: [tv stand, dresser], at: back}",
     "placement: {rule: on, targets: [tv stand, dresser], at: back}", "quote it"),
    ("placement: {rule: beside, targets: [bed], gap: [0.03, 0.08]}",
     "placement: {rule: beside, targets: [bunk], gap: [0.03, 0.08]}", "unknown target category 'bunk'"),
    ("size: {w: [1.0, 1.8], d: [1.95, 2.15], h: [0.9, 1.15]}", "size: {w: [1.8, 1.0], d: [1.95, 2.15], h: [0.9, 1.15]}",
     "min <= max"),
    ("affordances: [sleep, nap, lie down, rest, relax]", "affordances: [sleep, levitate]",
     "unknown affordance 'levitate'"),
])
def test_invalid_catalogs_are_rejected_with_the_line(tmp_path, old, new, message):
    path = _broken(tmp_path, old, new)
    with pytest.raises(CatalogValidationError) as err:
        load_catalog(path)
    assert message in str(err.value)
    assert str(path) in str(err.value) and "line " in str(err.value)


def test_missing_or_malformed_catalog_files(tmp_path):
    with pytest.raises(CatalogError, match="file not found"):
        load_catalog(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("palette: [unclosed\n")
    with pytest.raises(CatalogError, match="invalid YAML"):
        load_catalog(bad)


def test_catalog_module_stays_free_of_open3d():
    code = "import sys, sim.catalog; sim.catalog.load_catalog(); print('open3d' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
