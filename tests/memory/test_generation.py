"""Answers: the template generator on a real house, the LLM generator and summariser with fallbacks."""
from __future__ import annotations

import json
import re
import time

import pytest

from memory.core import EmbodiedMemory, MemoryConfig
from memory.forest import ClusterView, SemanticForest
from memory.generation import GENERATORS, GenerationConfig, LLMGenerator, make_generator
from memory.llm import ChatClient, LLMConfig
from memory.query import QueryAnalyser
from memory.retrieval import RobotPose, make_retriever
from memory.retrieval_index import index_for
from memory.summarize import ExtractiveSummariser
from memory.summarize_llm import LLMSummariser, SummariserConfig, make_summariser, parse_summary
from sim.errors import ConfigError, RegistryError
from tests.explored_worlds import shared_text_encoder
from tests.fake_llm import FakeLLM, dead_url


@pytest.fixture(scope="module")
def answer(house_mem):
    analyser = QueryAnalyser(encoder=house_mem.text_encoder, vocabulary=index_for(house_mem).labels,
                             priors=house_mem.priors)
    retrievers = {n: make_retriever(n, house_mem) for n in ("flat", "forest")}
    template = make_generator("template")

    def run(text, retriever="forest", generator=template, robot=None):
        q = analyser.analyse(text)
        result = retrievers[retriever].retrieve(q, robot=robot)
        return generator.answer(q, result, memory=house_mem, robot=robot), result

    return run


# ------------------------------------------------------------------------------------ template
def test_explicit_answer_names_the_room_place_time_and_goal(answer):
    a, res = answer("where is the red bed?")
    top = res.hits[0]
    assert a.confident and a.goal == top.position and a.goal_floor == 0 and a.cited[0] == top.id
    assert "red fabric bed" in a.text and "in the bedroom" in a.text
    assert f"({top.position[0]:.1f}, {top.position[1]:.1f})" in a.text
    assert re.search(r"last saw it at \d+\.\d s \(step \d+\)", a.text)


def test_honest_when_unsure(answer):
    a, _ = answer("where is the piano?")
    assert a.text.startswith("I have not seen a piano.") and a.goal is None and not a.confident
    grey, _ = answer("where is the grey lamp?")  # lamps were seen, none grey
    assert grey.text.startswith("I have not seen a grey lamp") and not grey.confident


def test_implicit_answer_with_a_path_length_from_the_robot(answer, house_mem):
    bed = next(o for o in house_mem.graph.objects() if o.label == "bed")
    a, _ = answer("where can I take a nap?", robot=RobotPose(bed.position[0] + 0.5, bed.position[1]))
    assert a.text.startswith("For somewhere to take a nap, try the") and "m from you" in a.text
    assert a.goal is not None and a.confident


@pytest.mark.parametrize("question, expected", [
    ("how many rooms are there?", "I have mapped six rooms: three bedrooms, a bathroom, a kitchen and a living room."),
    ("how many bedrooms are there?", "I have seen three bedrooms."),
    ("how many floors are there?", "The place has one floor, with six rooms in all."),
    ("how many pianos are there?", "I have not seen any pianos."),
])
def test_global_answers_from_counted_facts(answer, question, expected):
    a, _ = answer(question)
    assert a.text == expected and a.goal is None


def test_global_types_and_description(answer):
    types, _ = answer("what kinds of rooms are there?")
    assert all(t in types.text for t in ("bedrooms", "bathroom", "kitchen", "living room"))
    desc, _ = answer("describe this place")
    assert desc.text.startswith("A single-floor house with six rooms")


def test_flat_baseline_only_sees_single_nodes_for_global_questions(answer):
    a, res = answer("how many bedrooms are there?", retriever="flat")
    assert res.facts == {} and not a.confident and a.text.startswith("From the five things I retrieved")


def test_temporal_and_relational_answers(answer):
    first, _ = answer("what did you see first?")
    assert first.text.startswith("The first things I saw were the") and len(first.cited) == 3
    kettle, _ = answer("when did you last see the kettle?")
    assert re.match(r"I last saw the black metal kettle at \d+\.\d s \(step \d+\), in the kitchen", kettle.text)
    lamp, _ = answer("the lamp next to the bed")
    assert "lamp next to the bed is in the bedroom" in lamp.text


_BAD_GRAMMAR = re.compile(r"\ba (?!one\b|uni|use|eu)[aeiou]\w*|\ban (?!hour)[b-df-hj-np-tv-z]\w*|\ban other\b", re.I)
_NODE_ID = re.compile(r"\b(cluster|place|obj)/[\w/]+")


def test_names_and_answers_read_as_english_and_agree_with_the_cited_node(answer, house_mem):
    """Over the generated house: every node name and summary, and answers about its things, use "an
    office" / "another room", show no internal id, and name the room the cited node itself is in."""
    from memory.answer_words import a_phrase

    assert (a_phrase("office"), a_phrase("other room"), a_phrase("kitchen")) == ("an office", "another room",
                                                                                 "a kitchen")
    texts = [p.name for p in house_mem.graph.places()] + [o.name for o in house_mem.graph.objects()]
    texts += [t for c in house_mem.forest.clusters() for t in (c.name, c.summary)]
    assert any(" in an office" in t for t in texts)  # the house has an office: its views say so
    for t in texts:
        assert not _BAD_GRAMMAR.search(t) and not _NODE_ID.search(t), t
    labels = sorted({o.label for o in house_mem.graph.objects() if o.room_guess})[:10]
    for question in [f"where is the {lab}?" for lab in labels] + ["how many rooms are there?",
                                                                  "what rooms are there?", "where can I sit?"]:
        a, res = answer(question)
        assert not _BAD_GRAMMAR.search(a.text) and not _NODE_ID.search(a.text), (question, a.text)
        if a.found and a.cited and a.cited[0].startswith("obj/"):
            room = house_mem.node(a.cited[0]).room_guess
            assert f"in the {room}" in a.text, (question, a.text, room)
            for cid in a.cited[1:]:  # a cited region never names another room than the sentence
                rec = house_mem.node(cid)
                assert not getattr(rec, "room_type", "") or cid.startswith("cluster/1/") or rec.room_type == room


def test_registry_lists_generators():
    assert set(GENERATORS.names()) == {"llm", "template"}
    with pytest.raises(RegistryError, match="Available: llm, template"):
        make_generator("gpt")
    with pytest.raises(ConfigError):
        GenerationConfig(max_tokens=1)


# ------------------------------------------------------------------------------------- LLM
def _cite_first_id(body):
    prompt = body["messages"][-1]["content"]
    node = re.search(r"^\[([^\]]+)\]", prompt.split("Context:\n", 1)[1], re.M).group(1)
    return f"You can nap on it [{node}]."


def test_llm_answer_cites_context_ids(answer):
    with FakeLLM(_cite_first_id) as fake:
        gen = LLMGenerator(llm=ChatClient(fake.config()))
        a, res = answer("where can I take a nap?", generator=gen)
        system = fake.requests[0]["messages"][0]["content"]
    assert a.metadata["generator"] == "llm" and a.metadata["fallback"] is False
    assert a.cited == (res.hits[0].id,) and a.text == f"You can nap on it [{res.hits[0].id}]."
    assert a.goal == res.hits[0].position and "cite" in system


@pytest.mark.parametrize("mode, reply, reason", [
    ("ok", "You can nap on the sofa.", "cited no node ids"),
    ("ok", "", "empty answer"),
    ("garbage", "", "LLMBadResponse"),
])
def test_llm_answer_falls_back_to_the_template(answer, mode, reply, reason):
    template, _ = answer("where can I take a nap?")
    with FakeLLM(reply, mode=mode) as fake:
        a, _ = answer("where can I take a nap?", generator=LLMGenerator(llm=ChatClient(fake.config())))
    assert a.metadata["fallback"] is True and reason in a.metadata["reason"]
    assert a.metadata["generator"] == "template" and a.metadata["requested"] == "llm"
    assert a.text == template.text and a.goal == template.goal


def test_llm_answer_never_hangs_on_a_slow_or_dead_server(answer):
    with FakeLLM("[obj/bed/1]", mode="slow", delay=3.0) as fake:
        gen = LLMGenerator(llm=ChatClient(fake.config(timeout_s=30.0, retries=2)),
                           config=GenerationConfig(timeout_s=0.5, retries=0))
        t0 = time.perf_counter()
        a, _ = answer("where is the red bed?", generator=gen)
        assert time.perf_counter() - t0 < 2.5 and "LLMTimeout" in a.metadata["reason"]
    dead = LLMGenerator(llm=ChatClient(LLMConfig(base_url=dead_url(), retries=0, api_key_env="")))
    a, _ = answer("where is the red bed?", generator=dead)
    assert "LLMUnavailable" in a.metadata["reason"] and a.goal is not None
    none, _ = answer("where is the red bed?", generator=LLMGenerator(llm=None))
    assert "no LLM" in none.metadata["reason"]


# ------------------------------------------------------------------------------ summariser
def _room_view(memory) -> ClusterView:
    room = memory.forest.clusters(2)[0]
    leaves = [memory.forest.leaf(i) for i in memory.forest.leaves_under(room.id)]
    return ClusterView(room.id, 2, room.floor, leaves, [], list(room.counts), room.n_leaves, room.bbox_min,
                       room.bbox_max, room.first_seen, room.last_seen)


def test_parse_summary():
    assert parse_summary('Sure! {"name": "Cosy bedroom", "summary": "A bedroom with a pink bed."}') == (
        "Cosy bedroom", "A bedroom with a pink bed.")
    assert parse_summary("Name: Kitchen corner\nSummary: Counters, a stove and a fridge.") == (
        "Kitchen corner", "Counters, a stove and a fridge.")
    for bad in ('{"name": "Room", "summary": {"description": "x"}}', "no idea", '{"name": "", "summary": "short"}',
                '{"name": "Room", "summary": "I\'m sorry, I cannot describe this room."}'):
        assert parse_summary(bad) is None


def test_llm_summariser_uses_the_model_and_falls_back_per_cluster(house_mem):
    view = _room_view(house_mem)
    base = ExtractiveSummariser().summarise(view)
    reply = json.dumps({"name": "Sleeping quarters", "summary": "A quiet bedroom with a bed and a wardrobe."})
    with FakeLLM(reply) as fake:
        s = LLMSummariser(ChatClient(fake.config()))
        out = s.summarise(view)
        again = s.summarise(view)
        area = s.summarise(ClusterView(view.id, 1, 0, view.leaves, [], view.counts, view.n_leaves, view.bbox_min,
                                       view.bbox_max, 0.0, 0.0))
    assert (out.name, out.room_type) == ("Sleeping quarters", base.room_type) and again == out
    assert len(fake.requests) == 1 and s.stats["cached"] == 1  # areas stay extractive by default
    assert "Draft: " + base.name in fake.requests[0]["messages"][0]["content"] and area.name != out.name
    with FakeLLM("I cannot do that") as bad:
        s = LLMSummariser(ChatClient(bad.config()), max_failures=2, cooldown_s=60)
        outs = [s.summarise(view) for _ in range(4)]
    assert all(o == base for o in outs) and len(bad.requests) == 2 and s.stats["skipped"] == 2


def test_llm_summariser_builds_a_forest_and_is_configurable(house_mem):
    with pytest.raises(ConfigError, match="summariser"):
        make_summariser(SummariserConfig(type="llm"))
    with pytest.raises(ConfigError, match="Available: extractive, llm"):
        SummariserConfig(type="gpt")
    assert isinstance(make_summariser(), ExtractiveSummariser)
    reply = json.dumps({"name": "A named place", "summary": "Written by the language model."})
    with FakeLLM(reply) as fake:
        cfg = MemoryConfig(summariser=SummariserConfig(type="llm", llm=fake.config(), levels=(2, 3, 4)))
        mem = EmbodiedMemory(cfg, text_encoder=shared_text_encoder())
        assert isinstance(mem.summariser, LLMSummariser)
        forest = SemanticForest(summariser=mem.summariser, encoder=shared_text_encoder())
        forest.build(house_mem.forest.leaves())
    names = {c.name for c in forest.clusters(2)} | {c.name for c in forest.clusters(4)}
    assert names == {"A named place"} and all(c.name != "A named place" for c in forest.clusters(1))
    assert forest.summary_vector(forest.clusters(4)[0].id) is not None
