"""The evaluation's question bank and its world-side truth (``app.eval.bank``, ``app.eval.truth``).

The bank validates, is split by intent, and borrows no phrase from what the analyser reads; the
truths come from the world (boxes, rooms, the visibility log); a broken retriever scores like the
random baseline.
"""
from __future__ import annotations

import random
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

from app.eval.ablation import RandomRetriever, ask, strip_analysis
from app.eval.bank import (
    BankError,
    EvalQuestion,
    fill_questions,
    load_bank,
    score_answer,
)
from app.eval.truth import RecordingSimulator, VisibilityLog, holds, related_targets, rooms_seen
from sim.types import FloorInfo, ObjectInfo, Pose, RoomInfo, SceneInfo
from tests.app.test_realdata_questions import NGRAM, _ngrams, protected_ngrams


@pytest.fixture(scope="module")
def bank():
    return load_bank()


def _obj(i, cat, lo, hi, room=0, colour="white", floor=0):
    pos = tuple((a + b) / 2 for a, b in zip(lo, hi, strict=True))
    return ObjectInfo(i, cat, colour, "wood", room, floor, pos, lo, hi)


def _tiny_scene() -> SceneInfo:
    """A bedroom (a bed, a nightstand with a lamp, a far lamp, a mirror over a dresser) and a kitchen."""
    objs = (
        _obj(1, "bed", (0.0, 0.0, 0.0), (1.6, 2.0, 0.5)),
        _obj(2, "nightstand", (1.65, 0.0, 0.0), (2.1, 0.4, 0.55)),
        _obj(3, "lamp", (1.75, 0.05, 0.55), (1.95, 0.25, 0.95), colour="red"),
        _obj(4, "lamp", (3.5, 3.0, 0.8), (3.7, 3.2, 1.2), colour="blue"),
        _obj(5, "dresser", (3.0, 3.6, 0.0), (4.0, 4.0, 0.8)),
        _obj(6, "mirror", (3.2, 3.95, 1.2), (3.8, 3.99, 1.9), colour="silver"),
        _obj(7, "fridge", (6.0, 0.0, 0.0), (6.7, 0.7, 1.8), room=1),
        _obj(8, "counter", (6.8, 0.0, 0.0), (8.0, 0.6, 0.9), room=1),
    )
    rooms = (RoomInfo(0, "bedroom", 0, ((0, 0), (5, 0), (5, 4), (0, 4)), "bedroom 0"),
             RoomInfo(1, "kitchen", 0, ((5, 0), (9, 0), (9, 4), (5, 4)), "kitchen 1"),
             RoomInfo(2, "bedroom", 0, ((0, 4), (5, 4), (5, 8), (0, 8)), "bedroom 2"))
    return SceneInfo("tiny", "house", rooms, (FloorInfo(0),), objs)


def _log(*frames) -> VisibilityLog:
    v = VisibilityLog()
    v.frames = [(i, frozenset(f)) for i, f in enumerate(frames)]
    return v


# ------------------------------------------------------------------------------------------ the bank
def test_bank_validates_with_enough_questions_of_every_type(bank):
    per_type = Counter()
    for it in bank.intents:
        per_type[it.type] += len(it.phrasings)
    assert bank.n_phrasings >= 400
    assert set(per_type) == {"explicit", "implicit", "global", "temporal", "relational", "unanswerable"}
    assert 0.12 <= per_type["unanswerable"] / bank.n_phrasings <= 0.2


def test_bank_is_split_by_intent(bank):
    ids = [it.id for it in bank.intents]
    assert len(ids) == len(set(ids))  # one intent, one split: no phrasing of it can cross
    test = [it for it in bank.intents if it.split == "test"]
    assert 0.25 <= len(test) / len(bank.intents) <= 0.45
    for t in {it.type for it in bank.intents}:
        assert {it.split for it in bank.intents if it.type == t} == {"dev", "test"}, t
    dev_texts = {p for it in bank.split("dev") for p in it.phrasings}
    test_texts = {p for it in bank.split("test") for p in it.phrasings}
    # the same words may be asked of different worlds (a thing present vs absent), never as the same intent
    assert all(it.split == "dev" for it in bank.intents if set(it.phrasings) <= dev_texts - test_texts)


def test_bank_shares_no_phrase_with_the_analyser_generator_or_packs(bank):
    protected = protected_ngrams()
    assert protected
    clashes = [(it.id, p, " ".join(g), protected[g]) for it in bank.intents for p in it.phrasings
               for g in _ngrams(p.replace("{", "").replace("}", "")) if g in protected]
    assert not clashes, f"bank phrasings sharing a {NGRAM}-word phrase with the code or packs: {clashes}"


@pytest.mark.parametrize("body, needle", [
    ("intents:\n- id: explicit.x\n  type: explicit\n  split: dev\n  truth: {categories: [sofa]}\n  phrasings: []\n",
     ":6: phrasings must be a non-empty list"),
    ("intents:\n- id: explicit.x\n  type: explicit\n  split: dev\n  truth: {categories: [spaceship]}\n"
     "  phrasings: [where is it]\n", ":5: unknown category 'spaceship'"),
    ("intents:\n- id: relational.x\n  type: relational\n  split: dev\n"
     "  truth: {target: [lamp], relation: on, anchor: [desk]}\n  phrasings: [the lamp on the desk]\n",
     "quote \"on\""),
    ("intents:\n- id: explicit.x\n  type: explicit\n  split: train\n  truth: {categories: [sofa]}\n"
     "  phrasings: [where is it]\n", ":4: split must be dev or test"),
    ("intents:\n- id: explicit.x\n  type: explicit\n  split: dev\n  truth: {categories: [sofa]}\n"
     "  phrasings: ['the {colour} couch']\n", "slots ['colour'] but truth fills none"),
])
def test_a_bad_bank_names_file_line_and_problem(tmp_path, body, needle):
    p = tmp_path / "bank.yaml"
    p.write_text(body, encoding="utf-8")
    with pytest.raises(BankError, match=None) as e:
        load_bank(p)
    assert needle in str(e.value) and str(p) in str(e.value)


# ------------------------------------------------------------------------------------------ truths
def test_relations_come_from_the_boxes_by_the_evaluations_own_rule():
    info = _tiny_scene()
    o = info.object_table()
    assert holds("on", o[3], o[2]) and not holds("on", o[4], o[2])
    assert holds("near", o[2], o[1]) and holds("near", o[3], o[1]) and not holds("near", o[4], o[1])
    assert holds("above", o[6], o[5]) and holds("under", o[5], o[6]) and not holds("above", o[3], o[2])
    assert [t.id for t in related_targets(info.objects, ["lamp"], "near", ["bed"])] == [3]


def test_temporal_truth_is_the_instance_last_in_view():
    info = _tiny_scene()
    v = _log({1, 3}, {4, 7}, {3}, {8})
    assert v.seen == {1, 3, 4, 7, 8}
    assert v.last_seen_of([3, 4]) == 3 and v.last_seen_of([2]) is None
    bank = load_bank()
    qs = [q for q in fill_questions(bank, info, v, split=None) if q.intent.startswith("temporal.lamp")]
    assert qs and all(q.satisfying == (3,) for q in qs)


def test_temporal_questions_are_asked_only_where_time_matters():
    info = _tiny_scene()
    bank = load_bank()
    one_lamp = _log({1, 3}, {7}, {}, {8})  # only lamp 3 was seen: "where did you last see a lamp" is explicit
    qs = fill_questions(bank, info, one_lamp, split=None)
    assert not [q for q in qs if q.intent == "temporal.lamp"]
    last = [q for q in qs if q.intent == "temporal.last_thing"]
    first = [q for q in qs if q.intent == "temporal.first_thing"]
    assert last and all(q.satisfying == (8,) for q in last)  # the empty frame before it is skipped
    assert first and all(q.satisfying == (1, 3) for q in first)
    assert not [q for q in fill_questions(bank, info, _log(set(), set()), split=None) if q.type == "temporal"]


def test_visibility_log_records_instances_with_enough_pixels():
    rec = RecordingSimulator(SimpleNamespace(step=lambda a: obs, reset=lambda *a: obs, close=lambda: None))
    inst = np.zeros((20, 20), dtype=np.int32)
    inst[:15, :15] = 5  # 225 pixels
    inst[18:, 18:] = 9  # 4 pixels: not seen
    obs = SimpleNamespace(instance=inst, step=3, pose=Pose(1.0, 2.0), true_pose=None)
    rec.reset()
    rec.step(None)
    assert rec.visibility.frames == [(3, frozenset({5})), (3, frozenset({5}))]
    assert rec.visibility.poses[-1] == (1.0, 2.0, 0)
    obs = SimpleNamespace(instance=inst, step=4, pose=Pose(1.0, 2.0), true_pose=Pose(1.5, 2.5))  # odometry drifted
    rec.step(None)
    assert rec.visibility.poses[-1] == (1.5, 2.5, 0)  # the log keeps where the robot really was


def test_global_truth_counts_rooms_and_objects_seen_and_checks_the_answer_exactly():
    info = _tiny_scene()
    v = _log({1, 2, 3, 7})
    v.poses = [(2.0, 6.0, 0)]  # the robot stood in the second bedroom, which holds nothing
    assert [r.id for r in rooms_seen(info, v)] == [0, 1, 2]
    qs = {q.intent: q for q in fill_questions(load_bank(), info, v, split=None) if q.type == "global"}
    bed = qs["global.count_bedrooms"]
    assert bed.expected["count"] == 2
    ok = score_answer(bed, [], "I found 2 bedrooms and a kitchen.", True, {}, {})
    wrong = score_answer(bed, [], "There are three bedrooms.", True, {}, {})
    assert ok.top1 and not wrong.top1
    types = qs["global.room_types"]
    assert score_answer(types, [], "a kitchen and two bedrooms", True, {}, {}).top1
    assert not score_answer(types, [], "a kitchen", True, {}, {}).top1


def test_unanswerable_questions_are_asked_only_where_the_world_lacks_the_thing():
    info = _tiny_scene()
    qs = fill_questions(load_bank(), info, _log({1, 2, 3, 4, 5, 6, 7, 8}), split=None)
    intents = {q.intent for q in qs if q.type == "unanswerable"}
    assert "unanswerable.cat" in intents and "unanswerable.fireplace" in intents
    assert all("fridge" not in q.text for q in qs if q.type == "unanswerable")
    colour = [q for q in qs if q.intent == "explicit.lamp_colour"]
    assert colour and all(q.satisfying == ((3,) if "red" in q.text else (4,)) for q in colour)


def test_hits_score_by_instance_and_footprint_not_by_the_memory():
    info = _tiny_scene()
    q = EvalQuestion("x#0", "lamp by the bed", "relational", "x", "test", (3,), ((1.85, 0.15, 0.75, 0),))
    hit = lambda i, kind, pos: {"id": i, "kind": kind, "position": pos, "floor": 0}  # noqa: E731
    table = info.object_table()
    right = score_answer(q, [hit("obj/a", "object", (1.8, 0.1, 0.7))], "", True, {"obj/a": 3}, table)
    near_wrong = score_answer(q, [hit("obj/b", "object", (1.8, 0.3, 0.3))], "", True, {"obj/b": 2}, table)
    view = score_answer(q, [hit("place/1", "place", (2.5, 0.5, 0.0))], "", True, {}, table)
    assert (right.top1, right.exact) == (True, True)
    assert not near_wrong.top1  # the nightstand under the lamp is another object, however close
    assert view.top1 and not view.exact


# ------------------------------------------------------------------------------------------ baselines
class _Broken(RandomRetriever):
    """A forest that has lost its mind: random leaves under another seed."""

    def _retrieve(self, query, k, robot, cancel):
        return super()._retrieve(strip_analysis(query).__class__(text=query.text + " broken", type=query.type),
                                 k, robot, cancel)


def test_a_broken_retriever_scores_near_the_random_baseline(house_mem, house_world, bank):
    from app.query import QueryConfig, QueryEngine

    info = house_world.info
    qs = [q for q in fill_questions(bank, info, _log({o.id for o in info.objects}), split="test")
          if q.type in ("explicit", "implicit", "relational")]
    engine = QueryEngine(house_mem, config=QueryConfig(top_k=5))
    instance_of = {o.id: o.instance_hint for o in house_mem.graph.objects()}
    table = info.object_table()
    cache = {"flat+analysis": _Broken(house_mem)}  # the broken one takes flat + analysis's slot
    top1 = {}
    for v in ("random", "flat+analysis", "forest"):
        got = [score_answer(q, (a := ask(engine, v, q.text, top_k=5, cache=cache)).hits, a.text, a.found,
                            instance_of, table).top1 for q in qs]
        top1[v] = sum(got) / len(got)
    assert len(qs) >= 30
    assert abs(top1["flat+analysis"] - top1["random"]) <= 0.1, top1
    assert top1["forest"] >= top1["random"] + 0.4, top1
    random.seed(0)
