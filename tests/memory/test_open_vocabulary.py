"""Open vocabulary: prior packs, the memory's own words, full-text retrieval and grounded answers,
on the Embodied-RAG authors' Building99 data (phrasings written for these tests, not the dev sets)."""
from __future__ import annotations

import re

import pytest

from app.priors import catalog_pack, import_pack, world_pack
from app.query import QueryRequest, answer_query
from memory.priors import PriorPack, general_pack, load_pack, merge_packs, pack_from_dict
from memory.query import QueryAnalyser, QueryType, focus_text
from memory.query_llm import expand_with_llm
from memory.types import ObjectRecord
from sim.errors import ConfigError
from tests.fake_llm import FakeLLM


def _raw(mem, node_id: str) -> str:
    rec = mem.node(node_id)
    return next((a[6:] for a in getattr(rec, "attributes", ()) if a.startswith("label:")), "")


# ----------------------------------------------------------------------------------------- packs
def test_general_pack_loads_and_knows_needs_regions_and_synonyms():
    p = general_pack()
    assert p.name == "general" and len(p.affordances) >= 40 and len(p.regions) >= 20
    assert "couch" in next(g for g in p.synonyms if "sofa" in g)
    assert {"street", "campus", "kitchen", "office"} <= set(p.regions)
    assert p.outdoor_regions <= set(p.regions)


def test_pack_rejects_unknown_keys_and_bad_weights(tmp_path):
    with pytest.raises(ConfigError, match="unknown keys rooms; valid: name, objects"):
        pack_from_dict({"rooms": {}})
    with pytest.raises(ConfigError, match="between 0 and 1"):
        pack_from_dict({"affordances": {"sleep": {"say": ["nap"], "things": {"bed": 3}}}})
    for key in ("affordances", "regions", "region_synonyms", "colours"):  # a list where a mapping belongs
        with pytest.raises(ConfigError, match=f"{key} must be a mapping, got list"):
            pack_from_dict({key: [1]})
    bad = tmp_path / "p.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_pack(bad)


def test_packs_merge_and_round_trip():
    a = pack_from_dict({"name": "a", "affordances": {"sleep": {"say": ["nap"], "things": {"bed": 1.0}}}})
    b = pack_from_dict({"name": "b", "affordances": {"sleep": {"say": ["doze"], "things": {"bed": 0.2, "sofa": 0.5}}}})
    m = merge_packs([a, b])
    s = m.affordances["sleep"]
    assert s.say == ("nap", "doze") and dict(zip(s.things, s.weights, strict=True)) == {"bed": 1.0, "sofa": 0.5}
    again = pack_from_dict(m.to_dict())
    assert again.affordances["sleep"].weights == s.weights and again.name == "a+b"


def test_the_app_hands_the_catalog_only_to_generated_worlds():
    assert "bed" in catalog_pack().objects and "bedroom" in world_pack().regions
    assert import_pack() is general_pack() and not import_pack().objects  # no generator categories


# ------------------------------------------------------------------------------------- analysis
def test_focus_text_keeps_every_word_that_says_what_is_wanted():
    assert focus_text("Where is the large TV?") == "the large TV"
    assert focus_text("can you find me the sliding solid door") == "the sliding solid door"
    assert focus_text("the round metal table") == "the round metal table"


def test_analyser_uses_the_memory_words_without_any_catalog():
    a = QueryAnalyser(vocabulary=["napkin holder", "TV"], priors=PriorPack())
    q = a.analyse("where is the napkin holder?")
    assert q.type == QueryType.EXPLICIT and q.target == "napkin holder"
    assert a.analyse("I need to leave quickly, there is a fire").categories == ()  # no pack: no lookup


def test_object_names_carry_their_descriptors_but_not_provenance():
    rec = ObjectRecord("obj/tv/0", "TV", (0.0, 0.0, 0.0), 0, attributes=("large", "label:TV_large_11"))
    assert rec.name == "large TV" and rec.text == "a large TV"
    assert ObjectRecord("obj/t/0", "table", (0, 0, 0), 0, material="metal", attributes=("round",)).name == \
        "round metal table"


# ------------------------------------------------------------------------------- on Building99
@pytest.mark.parametrize(("question", "raw"), [
    ("where is the large TV?", r"^TV_large"),
    ("where is the sliding solid door?", r"door_slidingSolid"),
    ("the adjustable office table", r"ajustableOffice"),
    ("where's the round metal table?", r"roundmetaltable"),
    ("where is the security scanner?", r"[Ss]canner"),
])
def test_attributes_pick_the_right_instance(b99_memory, question, raw):
    r = answer_query(b99_memory, QueryRequest(text=question, retriever="forest")).to_json()
    assert re.search(raw, _raw(b99_memory, r["hits"][0]["id"])), r["answer"]
    assert r["found"] is True and "have not seen" not in r["answer"]


@pytest.mark.parametrize("question", ["where is the piano?", "where's the swimming pool?",
                                      "where did you see a bicycle?"])
def test_unanswerable_questions_say_so_and_name_related_things(b99_memory, question):
    r = answer_query(b99_memory, QueryRequest(text=question)).to_json()
    assert r["found"] is False and r["confidence"] < 0.5
    assert r["answer"].startswith("I have not seen") and "nearest related" in r["answer"]


def test_forest_keeps_what_flat_finds(b99_memory):
    for q in ("the cash register", "a palm tree", "where is the fire extinguisher", "napkins"):
        flat = answer_query(b99_memory, QueryRequest(text=q, retriever="flat")).to_json()["hits"][0]["id"]
        forest = [h["id"] for h in answer_query(b99_memory, QueryRequest(text=q, top_k=10)).to_json()["hits"]]
        assert flat in forest, q


def test_an_emergency_is_not_a_nap(b99_memory):
    r = answer_query(b99_memory, QueryRequest(text="I need to leave quickly during an emergency")).to_json()
    assert re.search(r"(?i)exit", _raw(b99_memory, r["hits"][0]["id"])), r["answer"]
    assert "nap" not in r["answer"]


def test_imported_memory_gets_no_household_room_names(b99_memory):
    from memory.retrieval_index import index_for

    L2 = index_for(b99_memory).levels[2]
    types = {t for t in L2.room_type if t}
    assert not types & {"bedroom", "bathroom", "laundry room", "living room", "dining room", "kitchen"}
    untyped = [r.name for r in L2.records if not r.room_type]
    assert all(n.startswith(("Area with", "Open area", "Area")) for n in untyped)


def test_llm_suggests_things_for_a_need(b99_memory):
    from memory.llm import ChatClient

    with FakeLLM("- fire extinguisher\n- exit sign\n- 42!!\n") as fake:
        q = QueryAnalyser(priors=PriorPack()).analyse("I want to put out the flames")
        q2, note = expand_with_llm(q, ChatClient(fake.config()))
    assert [c for c, _ in q2.categories] == ["fire extinguisher", "exit sign"] and "LLM suggested" in note
    with FakeLLM(mode="garbage") as fake:
        q3, note = expand_with_llm(q, ChatClient(fake.config(timeout_s=2.0, retries=0)))
    assert q3 is q and note.startswith("LLM expansion skipped")


def test_reopening_a_memory_never_rewrites_its_forest(tmp_path):
    """Opening a memory for writing and checkpointing it keeps every cluster's name and summary: a
    forest kept on import (the authors' own summaries) is not re-summarised by ours."""
    import sqlite3

    from app.cli.memory import import_gml_job
    from app.progress import drain
    from memory.core import EmbodiedMemory, MemoryConfig
    from tests.explored_worlds import shared_text_encoder

    views = "".join(f'node [ id {i} label "{i}" type "street_view" name "corner {i}" caption "a bus stop and a cafe '
                    f'on corner {i}" position [ x {-79.94 + i * 1e-4!r} y 40.44 ] timestamp "2023-12" ] '
                    for i in range(4))
    gml = tmp_path / "forest.gml"
    gml.write_text(f'graph [ {views}'
                   'node [ id 10 label "c1" type "cluster" level 1 name "Transit corner" summary "Where buses stop." '
                   'members 0 members 1 ] '
                   'node [ id 11 label "c2" type "cluster" level 1 name "Cafe row" summary "Coffee, mostly." '
                   'members 2 members 3 ] '
                   'node [ id 12 label "top" type "cluster" level 2 name "Campus edge" summary "All of it." '
                   'members "c1" members "c2" ] ]')
    db = tmp_path / "kept.db"
    drain(import_gml_job(gml, db, keep_forest=True, encoder=shared_text_encoder()))

    def clusters() -> dict:
        with sqlite3.connect(db) as c:
            return dict(c.execute("select id, name || '|' || text from nodes where kind = 'cluster'"))

    before = clusters()
    assert len(before) == 3 and any("Where buses stop." in t for t in before.values())
    mem = EmbodiedMemory.open(db, MemoryConfig(image_encoder=None), text_encoder=shared_text_encoder())
    assert not mem.forest.dirty
    mem.checkpoint()
    mem.close()
    assert clusters() == before
