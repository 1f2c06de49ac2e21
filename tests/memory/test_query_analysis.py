"""Query analysis: types, targets and constraints, affordances; deterministic, no LLM."""
from __future__ import annotations

import numpy as np
import pytest

from app.priors import world_pack
from memory.errors import QueryError
from memory.query import MAX_QUERY_CHARS, QueryAnalyser, QueryType, label_group
from tests.explored_worlds import shared_text_encoder


@pytest.fixture(scope="module")
def analyser() -> QueryAnalyser:
    return QueryAnalyser(encoder=shared_text_encoder(), vocabulary=["napkin holder", "TV", "palm"], priors=world_pack())


@pytest.mark.parametrize("text, kind", [
    ("where is the red chair?", "explicit"),
    ("find the couch", "explicit"),
    ("where are my keys?", "explicit"),
    ("where is the kitchen", "explicit"),
    ("somewhere to take a nap", "implicit"),
    ("where can I take a nap?", "implicit"),
    ("I want to wash my hands", "implicit"),
    ("I'm hungry", "implicit"),
    ("is there somewhere soft to sit on the floor?", "implicit"),
    ("how many bedrooms are there?", "global"),
    ("what kinds of rooms are there?", "global"),
    ("describe this place", "global"),
    ("what is in the kitchen?", "global"),
    ("when did you last see the kettle?", "temporal"),
    ("what did you see first?", "temporal"),
    ("What was the last thing you saw?", "temporal"),
    ("the lamp next to the bed", "relational"),
    ("which cup is on the coffee table?", "relational"),
    ("what is on the table?", "relational"),
])
def test_question_types(analyser, text, kind):
    assert analyser.analyse(text).type.value == kind


def test_explicit_target_with_colour_material_room_and_floor(analyser):
    q = analyser.analyse("where is the red fabric lamp in the bedroom on the ground floor?")
    assert (q.type, q.target, q.colour, q.material, q.room, q.floor) == (
        QueryType.EXPLICIT, "lamp", "red", "fabric", "bedroom", 0)
    assert q.target_name == "red fabric lamp"
    assert "lamp" in q.target_labels


def test_material_adjectives_synonyms_and_plurals(analyser):
    q = analyser.analyse("take me to the wooden desk")
    assert (q.target, q.material) == ("desk", "wood")
    couch = analyser.analyse("find the couch")
    assert "sofa" in couch.target_labels and "couch" in couch.target_labels
    assert analyser.analyse("where are the chairs?").target == "chair"
    assert "refrigerator" in label_group("fridge")


def test_memory_vocabulary_and_unknown_targets(analyser):
    assert analyser.analyse("where is the napkin holder").target == "napkin holder"
    keys = analyser.analyse("where are my keys?")
    assert (keys.target, keys.target_labels) == ("key", ())
    assert analyser.analyse("have you seen my glasses?").target == "glass"


def test_relation_and_anchor(analyser):
    q = analyser.analyse("which grey lamp is next to the black nightstand?")
    assert (q.type, q.target, q.colour, q.relation, q.anchor, q.anchor_colour) == (
        QueryType.RELATIONAL, "lamp", "grey", "next_to", "nightstand", "black")
    on = analyser.analyse("what is on the table?")
    assert (on.target, on.relation, on.anchor) == ("", "on", "table")
    assert analyser.analyse("the red lamp on the left").type == QueryType.EXPLICIT  # no anchor: no relation


def test_temporal_direction_and_target(analyser):
    q = analyser.analyse("when did you last see the kettle?")
    assert (q.temporal, q.target) == ("last", "kettle")
    assert analyser.analyse("what did you see first?").temporal == "first"
    assert analyser.analyse("where did you see the bed first?").temporal == "first"


def test_global_counts(analyser):
    assert analyser.analyse("how many bedrooms does the house have?").count_of == "bedroom"
    assert analyser.analyse("How many rooms are there?").count_of == "room"
    assert analyser.analyse("how many floors?").count_of == "floor"
    q = analyser.analyse("how many chairs are in the kitchen?")
    assert (q.global_kind, q.count_of, q.room) == ("count", "chair", "kitchen")


@pytest.mark.parametrize("text, wanted", [
    ("somewhere to sleep", {"bed"}),
    ("where can I take a nap?", {"bed", "sofa"}),
    ("I want to wash my hands", {"sink", "kitchen sink"}),
    ("something to dry my hands with", {"towel"}),
    ("somewhere to keep books", {"bookshelf"}),
    ("I'm hungry", {"dining table"}),
    ("where can I throw this wrapper away?", {"trash can"}),
])
def test_implicit_questions_reach_affording_categories(analyser, text, wanted):
    q = analyser.analyse(text)
    top = {c for c, w in q.categories if w >= 0.99}
    assert wanted <= top, (text, q.affordances, q.categories)
    assert q.expansion.startswith(q.text)


def test_affordances_without_an_encoder_use_words():
    q = QueryAnalyser(priors=world_pack()).analyse("where can I brush my teeth?")
    assert q.affordances[0][0] == "brush teeth"
    assert dict(q.categories)["sink"] == 1.0  # the catalog's answer; the general pack adds a mirror


def test_deterministic(analyser):
    a = analyser.analyse("I need somewhere to sit").to_dict()
    b = QueryAnalyser(encoder=shared_text_encoder(), priors=world_pack()).analyse("I need somewhere to sit").to_dict()
    assert a == b


def test_bad_input(analyser):
    with pytest.raises(QueryError, match="empty"):
        analyser.analyse("   ")
    with pytest.raises(QueryError, match="limit"):
        analyser.analyse("x" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(QueryError, match="RGB"):
        analyser.analyse("a", image=np.zeros((4, 4), dtype=np.uint8))


def test_image_only_query(analyser):
    q = analyser.analyse(None, image=np.zeros((8, 8, 3), dtype=np.uint8))
    assert q.type == QueryType.EXPLICIT and q.image is not None and q.text == ""
    assert q.to_dict()["image"] == [8, 8, 3]
