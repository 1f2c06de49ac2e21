"""The LLM path against a real model: SmolLM2-135M served by llama.cpp (``llm_server`` fixture).

Its answers are weak, so these tests assert the protocol and the structure - calls made and
bounded, replies parsed or a fallback recorded, citations drawn from the context - not wisdom.
"""
from __future__ import annotations

import json
import time

import launcher
from app.query import QueryConfig, QueryRequest, answer_query
from memory.forest import ClusterView
from memory.generation import GenerationConfig
from memory.llm import ChatClient
from memory.query import QueryAnalyser
from memory.retrieval import RetrievalConfig, make_retriever
from memory.summarize import ExtractiveSummariser
from memory.summarize_llm import LLMSummariser


def _views(memory, n):
    out = []
    for room in memory.forest.clusters(2)[:n]:
        leaves = [memory.forest.leaf(i) for i in memory.forest.leaves_under(room.id)]
        out.append(ClusterView(room.id, 2, room.floor, leaves, [], list(room.counts), room.n_leaves, room.bbox_min,
                               room.bbox_max, room.first_seen, room.last_seen))
    return out


def test_llm_summariser_with_smollm2(llm_server, house_mem):
    s = LLMSummariser(ChatClient(llm_server), max_tokens=48)
    t0 = time.perf_counter()
    views = _views(house_mem, 1)
    out = [s.summarise(v) for v in views]
    ms = (time.perf_counter() - t0) * 1000 / len(views)
    print(f"\nLLM summariser: {ms:.0f} ms per cluster, stats {s.stats}, e.g. {out[0]}")
    assert s.stats["calls"] == 1 and s.stats["written"] + s.stats["fallbacks"] == 1
    extractive = ExtractiveSummariser()
    for v, summary in zip(views, out, strict=True):
        assert summary.name and summary.summary and summary.room_type == extractive.summarise(v).room_type


def test_llm_retriever_with_smollm2(llm_server, house_mem):
    r = make_retriever("llm", house_mem, llm=ChatClient(llm_server),
                       config=RetrievalConfig(llm_max_calls=3, llm_options=6))
    q = QueryAnalyser(encoder=house_mem.text_encoder, priors=house_mem.priors).analyse("where can I take a nap?")
    res = r.retrieve(q, top_k=3)
    print(f"\nLLM retriever: {res.latency_ms:.0f} ms, {res.llm_calls} calls, notes {res.notes}, "
          f"hits {[h.id for h in res.hits]}")
    assert 1 <= res.llm_calls <= 3 and len(res.hits) == 3
    assert all(h.level == 0 and h.path for h in res.hits)


def test_llm_generator_end_to_end_with_smollm2(llm_server, house_mem):
    cfg = QueryConfig(retrieval=RetrievalConfig(llm_max_calls=2, llm_options=6),
                      generation=GenerationConfig(max_tokens=48, max_context=4))
    r = answer_query(house_mem, QueryRequest(text="where is the kettle?", retriever="llm", generator="llm"),
                     llm=llm_server, config=cfg)
    d = r.to_json()
    meta = d["answer_metadata"]
    print(f"\nLLM retrieval + generation: {d['latency_ms']:.0f} ms, {d['llm_calls']} retrieval calls, "
          f"generator {meta.get('generator')} ({meta.get('reason') or meta.get('llm_latency_ms')}): {d['answer']!r}")
    assert d["answer"] and d["retriever"] == "llm"
    ids = {h["id"] for h in d["hits"]}
    if meta["fallback"]:
        assert meta["generator"] == "template" and meta["reason"]
    else:
        assert meta["generator"] == "llm" and d["cited"] and set(d["cited"]) <= ids and meta["model"]


def test_cli_with_an_llm_config(llm_server, house_world, tmp_path, capsys):
    config = tmp_path / "llm.yaml"
    config.write_text(f"llm: {{base_url: '{llm_server.base_url}', timeout_s: 60, retries: 0, max_tokens: 64}}\n"
                      "query: {generator: llm, generation: {max_tokens: 48, max_context: 4}}\n")
    code = launcher.main(["query", str(house_world.path), "somewhere to wash my hands", "--config", str(config),
                          "--json"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and d["retriever"] == "forest" and d["answer"]
    assert d["answer_metadata"].get("requested", d["generator"]) == "llm"
