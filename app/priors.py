"""Which prior knowledge a memory gets: the generator's catalog for generated worlds, the general pack always.

``memory`` is open-vocabulary and never reads the procedural generator's catalog. For worlds that
generator built, the app hands the memory a *prior pack* made from that catalog (its categories'
affordances, the room types' typical contents, the palette, sizes) merged with the general pack.
Memories imported from elsewhere (the Embodied-RAG authors' data) get the general pack only, so
they are never described with the generator's household room names.
"""
from __future__ import annotations

import functools

import numpy as np

from memory.priors import Affordance, PriorPack, general_pack, merge_packs

__all__ = ["catalog_pack", "world_pack", "import_pack", "pack_for_scene"]


@functools.cache
def catalog_pack() -> PriorPack:
    """The procedural generator's catalog (``assets/catalog/catalog.yaml``) as a prior pack."""
    from sim.catalog import load_catalog

    cat = load_catalog()
    affs = {a: Affordance(a, (phrase,), tuple(cat.categories_with_affordance(a)))
            for a, phrase in cat.affordances.items()}
    regions: dict[str, dict[str, float]] = {r: {} for r in cat.room_types}
    sizes: dict[str, float] = {}
    for c in cat.categories.values():
        for room, w in c.rooms.items():
            regions.setdefault(room, {})[c.name] = float(w)
        sizes[c.name] = float(np.prod([(a + b) / 2.0 for a, b in (c.size.w, c.size.d, c.size.h)]))
    for r in cat.room_types.values():  # required categories always appear in their room type
        for name in r.required:
            regions[r.name][name] = max(regions[r.name].get(name, 0.0), 1.0)
        for group in r.any_of:
            for name in group:
                regions[r.name][name] = max(regions[r.name].get(name, 0.0), 1.0 / len(group))
    # office-building room types name what a house has too (a restroom is a bathroom); they win
    # only with clearer evidence
    priors = {r: 0.15 for r in ("restroom", "open office", "kitchenette", "corridor", "reception") if r in regions}
    materials = tuple(dict.fromkeys(m for c in cat.categories.values() for m in c.materials if m != "foliage"))
    return PriorPack(name="catalog", objects=tuple(cat.categories), affordances=affs, regions=regions,
                     outdoor_regions=frozenset(r.name for r in cat.room_types.values() if r.outdoor),
                     region_priors=priors, colours={n: tuple(cat.palette.rgb(n)) for n in cat.palette.names()},
                     materials=materials, sizes=sizes)


@functools.cache
def world_pack() -> PriorPack:
    """For worlds the lab generates: the catalog first (it describes them exactly), then the general
    pack's words (synonyms, needs, colours). Room types come from the catalog alone: the general
    pack's region types (street, cafeteria, ...) describe places the generator never builds."""
    g = general_pack()
    words = PriorPack(name=g.name, synonyms=g.synonyms, affordances=g.affordances, region_synonyms=g.region_synonyms,
                      colours=g.colours, materials=g.materials)
    return merge_packs([catalog_pack(), words], name="catalog+general")


def import_pack() -> PriorPack:
    """For memories imported from elsewhere: the general pack only."""
    return general_pack()


def pack_for_scene(scene: object) -> PriorPack:
    """The pack for a memory of ``scene``: ``world_pack`` when the lab's generator built it, else general."""
    from sim.worlds import WORLDS

    spec = str(getattr(scene, "spec", "") or "")
    kind = spec.split(":", 1)[0].strip().lower()
    return world_pack() if kind and kind in WORLDS.names() else general_pack()
