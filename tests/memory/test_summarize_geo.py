"""Geographic memories: level names, caption phrase mining, and the street-scale forest with its names."""
from __future__ import annotations

import numpy as np

from memory.forest import SemanticForest
from memory.summarize_geo import GEO_FOREST, GeoSummariser, is_geographic, level_names, names_of, phrases_of
from memory.types import Leaf, NodeKind


def test_level_names():
    assert level_names(4, geographic=True) == ("place", "block", "neighbourhood", "district", "site")
    assert level_names(5, geographic=True) == ("place", "block", "neighbourhood", "district", "region", "site")
    assert level_names(2, geographic=True) == ("place", "block", "site")
    assert level_names(4, geographic=False) == ("leaf", "area", "room", "floor", "site")
    assert is_geographic({"import": {"format": "streetview"}}) and not is_geographic({"import": {"format": "airsim"}})
    assert not is_geographic({})


def test_phrases_and_names_of_a_caption():
    cap = ("The scene depicts a quiet street with parked cars and a bus stop. A sign reads \"Forbes Ave\" near "
           "Wean Hall. There are no pedestrians visible, and the atmosphere is serene.")
    got = phrases_of(cap)
    assert {"parked car", "bus stop", "street", "sign"} <= got
    assert not any("pedestrian" in p for p in got)  # negated: the caption says there are none
    assert not ({"scene", "atmosphere", "quiet street", "serene"} & got)  # vague words name nothing
    assert names_of(cap) == {"Forbes Avenue", "Wean Hall"}
    assert names_of("Carnegie Mellon University is on the left. Jared L. Cohon University Center too.") == {
        "Carnegie Mellon University", "Jared L Cohon University Center"}


def _street(name: str, x0: float, y0: float, things: list[str], n: int, start: int) -> list[Leaf]:
    leaves = []
    for k in range(n):
        caption = (f"A view along {name} with {things[k % len(things)]} and {things[(k + 1) % len(things)]}. "
                   f"There are no pedestrians visible.")
        lf = Leaf(f"place/{start + k}", NodeKind.PLACE, (x0 + 4.0 * k, y0, 0.0), 0, caption, "",
                  1.7e9 + k * 86400.0)
        lf.extra.update(name=f"Street view {start + k}", caption=caption)
        leaves.append(lf)
    return leaves


def test_a_street_scale_forest_is_blocks_neighbourhoods_districts_and_a_site():
    leaves = (_street("Forbes Avenue", 0.0, 0.0, ["a coffee shop", "a bus stop", "parked cars"], 30, 0)
              + _street("Craig Street", 0.0, 120.0, ["a bookstore", "bike racks", "brick buildings"], 30, 100)
              + _street("Beeler Street", 2500.0, 0.0, ["brick houses", "front porches", "utility poles"], 20, 200))
    rng = np.random.default_rng(0)
    for lf in leaves:
        v = rng.normal(size=16).astype(np.float32)
        object.__setattr__(lf, "vector", v / np.linalg.norm(v))
    forest = SemanticForest(GEO_FOREST, summariser=GeoSummariser(leaves))
    forest.build(leaves)
    counts = forest.level_counts()
    assert counts[0] == 80 and counts[4] == 1 and counts[3] == 2  # two districts 2.5 km apart
    assert counts[1] > counts[2] >= counts[3] and 3 <= counts[1] <= 20
    clusters, _ = forest.to_records()
    text = " ".join(f"{c.name} {c.summary}" for c in clusters).lower()
    for word in ("hallway", "room", "floor", "bedroom", "kitchen", "pedestrian"):
        assert word not in text, word
    names = {c.name for c in clusters if c.level == 1}
    assert {"Forbes Avenue block", "Craig Street block", "Beeler Street block"} <= names
    forbes = next(c for c in clusters if c.level == 1 and c.name == "Forbes Avenue block")
    assert forbes.summary.startswith("Forbes Avenue block: ") and "a coffee shop" in forbes.summary
    assert "street views, taken 2023-11" in forbes.summary and forbes.room_type == "block"
    site = next(c for c in clusters if c.level == 4)
    assert site.room_type == "site" and "80 street views over about 2.6 by 0.1 km" in site.summary
    assert "2 districts" in site.summary and "Streets: " in site.summary
