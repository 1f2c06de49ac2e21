"""Ground-truth query sets and their scoring; retrieval quality on an explored house and Building99."""
from __future__ import annotations

from collections import Counter

import pytest

from app.bench.retrieval import evaluate_retrievers, latency_at_scale, summarise_accuracy
from app.eval.queries import (
    QUERY_TYPES,
    GroundTruthQuery,
    count_claims,
    generate_queries,
    reference_description,
    score_answer,
    score_hits,
    sightings_from_memory,
    true_relations,
)
from app.query import QueryRequest, answer_query
from memory.retrieval import Hit
from sim.loader import load_scene


@pytest.fixture(scope="module")
def queries(house_world, house_mem):
    return generate_queries(house_world.info, seed=0, sightings=sightings_from_memory(house_mem), seen_only=True)


# ------------------------------------------------------------------------------- generation
def test_every_type_several_phrasings_and_something_that_answers(queries, house_world):
    counts = Counter(q.type for q in queries)
    assert set(counts) == set(QUERY_TYPES) and all(n >= 12 for n in counts.values())
    ids = {o.id for o in house_world.info.objects}
    for q in queries:
        if q.type == "global":
            assert q.expected and not q.satisfying
        else:
            assert q.satisfying and set(q.satisfying) <= ids and len(q.targets) == len(q.satisfying)
    by_intent: dict[str, set[str]] = {}
    for q in queries:
        by_intent.setdefault(q.intent, set()).add(q.text)
    assert sum(len(v) >= 2 for v in by_intent.values()) >= 0.9 * len(by_intent)


def test_generation_is_deterministic_per_seed(house_world, house_mem):
    s = sightings_from_memory(house_mem)
    a = [q.to_dict() for q in generate_queries(house_world.info, seed=4, sightings=s)]
    b = [q.to_dict() for q in generate_queries(house_world.info, seed=4, sightings=s)]
    c = [q.to_dict() for q in generate_queries(house_world.info, seed=5, sightings=s)]
    assert a == b and a != c


def test_explicit_targets_are_unique_and_implicit_ones_follow_affordances(queries, house_world):
    objs = {o.id: o for o in house_world.info.objects}
    for q in queries:
        if q.type == "explicit":
            assert len(q.satisfying) == 1 and objs[q.satisfying[0]].category in q.expected["description"]
        if q.type == "implicit":
            assert {objs[i].category for i in q.satisfying} <= set(q.expected["categories"])


def test_queries_without_sightings_and_for_other_worlds():
    info = load_scene("rooms:n=2,seed=0").info
    qs = generate_queries(info, seed=1, types=("explicit", "global", "temporal"))
    assert qs and all("time" not in q.expected for q in qs if q.type == "temporal")
    assert not [q for q in qs if q.intent in ("first", "last")]
    with pytest.raises(ValueError, match="unknown query types"):
        generate_queries(info, types=("spatial",))


def test_reference_description_and_true_relations(house_world):
    assert reference_description(house_world.info) == (
        "A single-floor house with six rooms: three bedrooms, a bathroom, a kitchen and a living room.")
    cats = {o.id: o.category for o in house_world.info.objects}
    rels = {(cats[a], k, cats[b]) for a, b, k in true_relations(house_world.info)}
    assert ("cup", "on", "coffee table") in rels and ("coffee table", "under", "cup") in rels


# ---------------------------------------------------------------------------------- scoring
def test_count_claims():
    text = "A single-floor house with six rooms: three bedrooms, a bathroom, a kitchen and a living room."
    assert count_claims(text, ["bedroom", "living room"]) == {"floor": 1, "room": 6, "bedroom": 3, "living room": 1}
    assert count_claims("I have not seen any bedrooms.", ["bedroom"]) == {"bedroom": 0}
    assert count_claims("The place has 2 floors and 13 rooms.") == {"floor": 2, "room": 13}
    assert count_claims("From the five things I retrieved I can see two rooms: a bedroom.") == {"room": 2}


def test_score_hits_uses_instances_and_the_one_metre_rule():
    q = GroundTruthQuery("explicit/0", "where is the bed?", "explicit", "find:7", (7,), ((1.0, 1.0, 0.5, 0),))
    def hit(i, x, floor=0):
        return Hit(i, 0, "object", i, "", (x, 1.0, 0.5), floor, 1.0)
    assert score_hits(q, [hit("obj/bed/1", 9.0)], {"obj/bed/1": 7}) .top1_exact
    s = score_hits(q, [hit("obj/chair/1", 5.0), hit("place/3", 1.8)], {})
    assert (s.top1, s.topk, s.rank) == (False, True, 1)
    assert not score_hits(q, [hit("place/3", 1.8, floor=1)], {}).topk
    assert score_hits(q, [{"id": "place/3", "position": [1.5, 1.0, 0.0], "floor": 0}], {}).top1


def test_score_answer_checks_facts():
    rooms = GroundTruthQuery("g", "how many rooms?", "global", "count:room", expected={"count": 6, "of": "room"})
    assert score_answer(rooms, "I have mapped six rooms: three bedrooms.")
    assert not score_answer(rooms, "From the five things I retrieved I can see two rooms: a bedroom.")
    types = GroundTruthQuery("g", "kinds?", "global", "types", expected={"types": {"bedroom": 2, "kitchen": 1}})
    assert score_answer(types, "There are bedrooms and a kitchen.") and not score_answer(types, "A kitchen.")
    when = GroundTruthQuery("t", "when?", "temporal", "when:3", (3,), expected={"time": 12.5})
    assert score_answer(when, "I last saw it at 12.5 s (step 25)") and not score_answer(when, "at 40.0 s")


def test_latency_bench_and_summary_shapes():
    out = latency_at_scale(1000, queries=5)
    assert out["leaves"] == 1000 and out["flat"]["p50_ms"] > 0 and 0 <= out["forest_top1_equals_exact_fresh"] <= 1
    table = summarise_accuracy([{"retriever": "forest", "type": "explicit", "top1": True, "topk": True,
                                 "top1_exact": False, "latency_ms": 2.0}])
    assert table["forest"]["all"] == {"n": 1, "top1": 1.0, "topk": 1.0, "top1_exact": 0.0, "p50_ms": 2.0}


# ---------------------------------------------------------------------------------- quality
def test_retrieval_quality_on_an_explored_house(house_mem, queries):
    """Measured on this house (112 queries): forest 1.00 on every type; flat 0.88 explicit, 0.38 implicit,
    0.38 global, 0.67 relational, 0.83 temporal. Other houses measured in the retrieval note:
    forest explicit 0.97-1.00, implicit 1.00, relational 0.88-1.00. Thresholds leave room for
    exploration differences between machines."""
    s = evaluate_retrievers(house_mem, queries)["summary"]
    forest, flat = s["forest"], s["flat"]
    assert forest["explicit"]["top1"] >= 0.95
    assert forest["implicit"]["top1"] >= 0.85
    assert forest["global"]["top1"] >= 0.9
    assert forest["relational"]["top1"] >= 0.8 and forest["temporal"]["top1"] >= 0.9
    assert forest["implicit"]["top1"] >= flat["implicit"]["top1"] + 0.2
    assert forest["global"]["top1"] >= flat["global"]["top1"] + 0.2


def test_global_answers_name_the_true_room_count(house_mem, house_world):
    n = len(house_world.info.rooms)
    for text in ("how many rooms are there?", "describe this place"):
        got = answer_query(house_mem, QueryRequest(text=text)).answer.text
        assert count_claims(got).get("room") == n, got


@pytest.mark.parametrize("question, label", [
    ("where is the reception desk?", "reception desk"),
    ("where is the refrigerator?", "refrigerator"),
    ("where is the napkin holder?", "napkin holder"),
    ("where is the fire extinguisher?", "fire extinguisher"),
    ("somewhere to sit", {"chair", "sofa", "bench"}),
    ("where can I throw away trash?", {"trash can", "bin", "recycle bin", "recycle station"}),
])
def test_building99_questions(b99_memory, question, label):
    r = answer_query(b99_memory, QueryRequest(text=question))
    top = b99_memory.graph.object(r.result.hits[0].id)
    assert top.label.lower() in (label if isinstance(label, set) else {label}), (question, r.answer.text)
    assert r.answer.goal is not None and r.answer.confident


def test_building99_global_and_missing(b99_memory):
    rooms = answer_query(b99_memory, QueryRequest(text="how many rooms are there?"))
    assert count_claims(rooms.answer.text).get("room") == len(b99_memory.forest.clusters(2))
    piano = answer_query(b99_memory, QueryRequest(text="is there a piano?"))
    assert piano.answer.text.startswith("I have not seen a piano")
