"""Retrievers: the index, flat and forest search on a real explored house, priors, images, the LLM descent."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

from app.priors import world_pack
from memory.errors import RetrievalError
from memory.query import QueryAnalyser, QueryAnalysis, QueryType
from memory.retrieval import RETRIEVERS, RetrievalConfig, RobotPose, make_retriever
from memory.retrieval_forest import ForestRetriever, child_rows, global_facts
from memory.retrieval_index import RetrievalIndex, index_for, segment_reduce
from memory.retrieval_llm import parse_choices
from sim.errors import ConfigError, RegistryError
from tests.explored_worlds import open_memory
from tests.fake_image_encoder import ColourHistogramEncoder, ColourTextEncoder
from tests.fake_llm import FakeLLM, dead_url


@pytest.fixture(scope="module")
def ask(house_mem):
    analyser = QueryAnalyser(encoder=house_mem.text_encoder, vocabulary=index_for(house_mem).labels,
                             priors=house_mem.priors)
    retrievers = {n: make_retriever(n, house_mem) for n in ("flat", "forest")}

    def run(text, retriever="forest", **kw):
        return retrievers[retriever].retrieve(analyser.analyse(text), **kw)

    return run


def _label(memory, node_id):
    return memory.graph.object(node_id).label if node_id.startswith("obj/") else ""


# ------------------------------------------------------------------------------------ index
def test_segment_reduce_matches_a_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    start, end = np.array([0, 3, 3, 9, 15]), np.array([3, 3, 9, 15, 20])
    got = segment_reduce(np.maximum, x, start, end, empty=-1.0)
    for i, (a, b) in enumerate(zip(start, end, strict=True)):
        want = x[a:b].max(axis=0) if b > a else np.full(3, -1.0)
        np.testing.assert_allclose(got[i], want)
    gaps = segment_reduce(np.add, x, np.array([0, 10]), np.array([4, 12]))  # not tiling: loop path
    np.testing.assert_allclose(gaps[1], x[10:12].sum(axis=0), rtol=1e-6)
    assert child_rows(np.array([2, 7]), np.array([4, 7])).tolist() == [2, 3]


def test_index_ranges_match_the_forest(house_mem):
    ix = index_for(house_mem)
    assert index_for(house_mem) is ix  # cached while the memory is unchanged
    assert len(ix) == len(house_mem.forest)
    for level in ix.levels.values():
        for k, cid in enumerate(level.ids):
            assert set(ix.ids[level.leaf_start[k]:level.leaf_end[k]]) == set(house_mem.forest.leaves_under(cid))
    row = ix.row[house_mem.graph.objects()[0].id]
    assert ix.leaf_path(row) == house_mem.forest.ancestors(ix.ids[row])


def test_synthetic_forest_finds_what_exact_search_finds():
    ix = RetrievalIndex.synthetic(5000, dim=64, seed=1)
    flat, forest = make_retriever("flat", ix), make_retriever("forest", ix)
    rng = np.random.default_rng(2)
    same = 0
    for row in rng.integers(0, len(ix), 40):
        v = ix.vec[row] + rng.normal(0, 0.3 / 8, 64).astype(np.float32)
        q = QueryAnalysis(text="", type=QueryType.EXPLICIT, vector=v)
        a, b = flat.retrieve(q, top_k=3), forest.retrieve(q, top_k=3)
        same += a.hits[0].id == b.hits[0].id
        assert len(b.hits) == 3 and b.hits[0].path[-1] == "cluster/4/0"
    assert same >= 38


def test_registry_and_config_errors(house_mem):
    assert {"flat", "forest", "llm"} <= set(RETRIEVERS.names())
    with pytest.raises(RegistryError, match="Available: flat, forest, llm"):
        make_retriever("bm25", house_mem)
    with pytest.raises(ConfigError):
        RetrievalConfig(top_k=0)
    assert RobotPose.parse("1.5, -2") == RobotPose(1.5, -2.0, 0)
    assert RobotPose.parse("1,2,1").floor == 1
    for bad in ("1", "a,b", "1,2,3,4", "nan,1"):
        with pytest.raises(ConfigError):
            RobotPose.parse(bad)


# ------------------------------------------------------------------------- flat and forest
def test_explicit_with_colour_and_room(ask, house_mem):
    res = ask("where is the red bed?")
    top = house_mem.graph.object(res.hits[0].id)
    assert (top.label, top.colour) == ("bed", "red")
    mirror = ask("where is the mirror in the bathroom?").hits[0]
    rooms = [house_mem.node(c).room_type for c in mirror.path if c.startswith("cluster/2/")]
    assert _label(house_mem, mirror.id) == "mirror" and rooms == ["bathroom"]
    assert ask("where is the kettle", retriever="flat").hits[0].id.startswith("obj/kettle/")


def test_hits_carry_paths_scores_and_latency(ask, house_mem):
    res = ask("where can I take a nap?", top_k=4)
    assert len(res.hits) == 4 and res.latency_ms > 0 and res.retriever == "forest"
    assert [h.score for h in res.hits] == sorted((h.score for h in res.hits), reverse=True)
    for h in res.hits:
        assert list(h.path) == house_mem.forest.ancestors(h.id)
        assert h.to_dict()["position"] == [round(v, 3) for v in h.position]


def test_implicit_reaches_affording_objects_where_flat_does_not(ask, house_mem):
    sleep = ask("somewhere to sleep")
    assert _label(house_mem, sleep.hits[0].id) == "bed"
    wash = ask("I want to wash my hands")
    assert _label(house_mem, wash.hits[0].id) in ("sink", "kitchen sink")
    flat = ask("somewhere to sleep", retriever="flat")
    assert _label(house_mem, flat.hits[0].id) != "bed"  # the naive baseline's failure the forest fixes


def test_spatial_prior_picks_the_nearest_satisfying_object(ask, house_mem):
    beds = [o for o in house_mem.graph.objects() if o.label == "bed"]
    assert len(beds) == 3
    for bed in beds:
        robot = RobotPose(bed.position[0] + 0.3, bed.position[1], bed.floor)
        assert ask("somewhere to sleep", robot=robot).hits[0].id == bed.id


def test_global_questions_use_the_top_levels(ask, house_mem):
    res = ask("how many bedrooms are there?")
    f = res.facts
    assert (f["rooms"], f["floors"], f["room_types"]["bedroom"]) == (6, 1, 3)
    assert [h.level for h in res.hits[:3]] == [2, 2, 2] and {h.label for h in res.hits[:3]} == {"bedroom"}
    assert ask("describe this place").hits[0].level >= 3
    assert global_facts(index_for(house_mem))["rooms"] == 6


def test_temporal_questions_order_by_time(ask, house_mem):
    first = ask("what did you see first?", top_k=5).hits
    steps = [house_mem.graph.object(h.id).first_step for h in first]
    assert steps == sorted(steps) and steps[0] == min(o.first_step for o in house_mem.graph.objects())
    last = ask("what did you see last?", top_k=5).hits
    steps = [house_mem.graph.object(h.id).last_step for h in last]
    assert steps == sorted(steps, reverse=True)
    kettle = ask("when did you last see the kettle?").hits[0]
    assert kettle.id.startswith("obj/kettle/")


def test_relational_questions_follow_relation_edges(ask, house_mem):
    on_table = ask("what is on the coffee table?").hits
    assert {_label(house_mem, h.id) for h in on_table[:2]} == {"cup", "vase"}
    lamp = ask("the lamp next to the bed").hits[0]
    assert _label(house_mem, lamp.id) == "lamp"
    beds = {o.id for o in house_mem.graph.objects() if o.label == "bed"}
    near = {r.dst if r.src == lamp.id else r.src for r in house_mem.graph.relations(lamp.id)}
    gap = min(math.dist(lamp.position[:2], house_mem.graph.object(b).position[:2]) for b in beds)
    assert near & beds or gap < 2.5


def test_rooms_and_missing_things(ask, house_mem):
    kitchen = ask("where is the kitchen").hits[0]
    assert kitchen.level == 2 and kitchen.label == "kitchen"
    piano = ask("where is the piano?")
    assert all(_label(house_mem, h.id) != "piano" for h in piano.hits)


def test_recency_prior_prefers_recent_sightings(house_mem):
    analyser = QueryAnalyser(encoder=house_mem.text_encoder, priors=house_mem.priors)
    q = analyser.analyse("where is the lamp?")
    plain = make_retriever("forest", house_mem).retrieve(q, top_k=5)
    recent = make_retriever("forest", house_mem, config=RetrievalConfig(recency_weight=0.5)).retrieve(q, top_k=5)
    def last_seen(hits):
        return [house_mem.graph.object(h.id).last_seen for h in hits if h.id.startswith("obj/")]

    before, after = last_seen(plain.hits), last_seen(recent.hits)
    assert len(before) == len(after) == 5
    assert after[0] >= before[0] and sum(after) > sum(before)  # the top hit and the top 5 move to newer sightings
    assert all("lamp" in h.id for h in recent.hits)  # the prior reorders lamps; it brings in nothing else


# ------------------------------------------------------------------------------------ images
def test_image_queries_score_image_vectors(house_world):
    enc = ColourHistogramEncoder()
    mem = open_memory(house_world.path, image_encoder=enc)
    try:
        ids, crops = [], []
        for o in mem.graph.objects():
            c = mem.graph.crop(o.id)
            if c is not None:
                ids.append(o.id)
                crops.append(c)
        for i, v in zip(ids, enc.encode_image(crops), strict=True):
            mem.image.set(i, v, "test")
        for p in mem.graph.places():
            t = mem.graph.thumbnail(p.id)
            if t is not None:
                mem.image.set(p.id, enc.encode_image([t])[0], "test")
        assert index_for(mem).image is not None
        analyser = QueryAnalyser(priors=world_pack())
        fused = ForestRetriever(mem, config=RetrievalConfig(w_image_text=0.5), image_encoder=ColourTextEncoder())
        top = mem.graph.object(fused.retrieve(analyser.analyse("where is the red bed?")).hits[0].id)
        assert (top.label, top.colour) == ("bed", "red")
        for name in ("flat", "forest"):
            r = make_retriever(name, mem)
            hits = 0
            for oid, crop in list(zip(ids, crops, strict=True))[::9]:
                res = r.retrieve(analyser.analyse(None, image=crop), top_k=5)
                hits += oid in {h.id for h in res.hits}
            assert hits >= 0.7 * len(ids[::9]), name
    finally:
        mem.close()


def test_image_query_without_image_vectors_is_a_clear_error(house_mem):
    q = QueryAnalyser().analyse(None, image=np.zeros((16, 16, 3), dtype=np.uint8))
    with pytest.raises(RetrievalError, match="image_encoder"):
        make_retriever("forest", house_mem).retrieve(q)


# --------------------------------------------------------------------------------- LLM descent
def test_parse_choices():
    assert parse_choices("2, 5", 6, 3) == [1, 4]
    assert parse_choices("Options 3 and 1 (and 3 again) and 9", 4, 3) == [2, 0]
    assert parse_choices("I like turtles", 4, 3) == []
    assert parse_choices("1.5 or 12", 4, 3) == []


def _llm_query(memory, text):
    return QueryAnalyser(encoder=memory.text_encoder, priors=memory.priors).analyse(text)


def test_llm_descent_is_bounded_and_uses_the_replies(house_mem):
    from memory.llm import ChatClient

    with FakeLLM("1, 2") as fake:
        r = make_retriever("llm", house_mem, llm=ChatClient(fake.config()),
                           config=RetrievalConfig(llm_max_calls=6))
        res = r.retrieve(_llm_query(house_mem, "where can I take a nap?"), top_k=3)
    assert 1 <= res.llm_calls <= 6 and len(fake.requests) == res.llm_calls
    assert len(res.hits) == 3 and res.retriever == "llm"
    assert all("Question: where can I take a nap?" in q["messages"][0]["content"] for q in fake.requests)


def test_llm_descent_survives_garbage_and_a_dead_server(house_mem):
    from memory.llm import ChatClient, LLMConfig

    with FakeLLM("I like turtles") as fake:
        res = make_retriever("llm", house_mem, llm=ChatClient(fake.config())).retrieve(
            _llm_query(house_mem, "somewhere to sleep"), top_k=3)
    assert res.hits and any("named no" in n for n in res.notes)
    t0 = time.perf_counter()
    dead = ChatClient(LLMConfig(base_url=dead_url(), retries=0, timeout_s=2.0, api_key_env=""))
    res = make_retriever("llm", house_mem, llm=dead).retrieve(_llm_query(house_mem, "somewhere to sleep"))
    assert res.hits and any("LLM error" in n for n in res.notes) and time.perf_counter() - t0 < 10
    with pytest.raises(RetrievalError, match="llm"):
        make_retriever("llm", house_mem).retrieve(_llm_query(house_mem, "somewhere to sleep"))


def test_llm_descent_stops_waiting_on_a_slow_server(house_mem):
    from memory.llm import ChatClient

    with FakeLLM("1", mode="slow", delay=3.0) as fake:
        r = make_retriever("llm", house_mem, llm=ChatClient(fake.config(timeout_s=60.0)),
                           config=RetrievalConfig(llm_call_timeout_s=0.5))
        t0 = time.perf_counter()
        res = r.retrieve(_llm_query(house_mem, "where is the kettle?"))
        took = time.perf_counter() - t0
    assert took < 2.5 and res.hits and any("LLMTimeout" in n for n in res.notes)
    assert res.llm_calls <= RetrievalConfig().llm_workers
