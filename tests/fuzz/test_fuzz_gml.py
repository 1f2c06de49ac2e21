"""Fuzzing the GML importer with grammar-aware mutations of slices of the authors' files.

Each case imports the mutated text (``memory.gml.import_gml``); one in eight also runs the whole
``import-gml`` job into a memory file, which must then exist complete or not at all.
"""
from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.cli import memory as cli_memory
from app.progress import drain
from memory.gml import import_gml
from memory.store import MemoryStore
from tests.fuzz.fuzzing import FUZZ_SETTINGS, TALLY, HashEncoder, check_case
from tests.fuzz.gml_slices import FILES, slice_text

pytestmark = pytest.mark.fuzz

_TOKEN = re.compile(r'"[^"]*"|\[|\]|[^\s\[\]"]+')
NUMBERS = ["NAN", "INF", "-INF", "1e999", "-1e999", "1e308", "-0.0", "0", "9" * 5000, "-" + "9" * 30,
           "9223372036854775807", "9223372036854775808", "1e-320", "3.5", "-7", "+12", ".5", "5."]
STRINGS = ['""', '"&#0;"', '"&#1114112;"', '"&amp;&lt;"', '"[1, 2, [3]]"', '"{\'lon\': 1e999, \'lat\': 0}"',
           '"' + "[" * 5000 + '"', '"9999-99-99"', '"cluster_L1_0"', '"_networkx_list_start"', '"\udcff"']


# structure-breaking operations are rarer, so most cases stay close enough to the grammar to get deep
OPS = ["number"] * 4 + ["string"] * 3 + ["duplicate", "node", "edge"] * 2 + ["key", "delete", "swap", "bracket",
                                                                            "nest", "cut"]


@st.composite
def gml_texts(draw) -> str:
    name = draw(st.sampled_from(sorted(FILES)))
    toks = _TOKEN.findall(slice_text(name, draw(st.integers(1, 12)), draw(st.integers(0, 4))))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(toks) - 1))
        op = draw(st.sampled_from(OPS))
        if op == "delete":
            del toks[i]
        elif op == "duplicate":
            j = draw(st.integers(i, min(len(toks), i + 40)))
            toks[i:i] = toks[i:j]  # duplicate ids and whole blocks
        elif op == "bracket":
            toks.insert(i, draw(st.sampled_from(["[", "]"])))
        elif op == "number":
            toks[i] = draw(st.sampled_from(NUMBERS) | st.integers(-(10**30), 10**30).map(str)
                           | st.floats(allow_nan=False, allow_infinity=False).map(repr))
        elif op == "string":
            quoted = st.text(max_size=40).map(lambda s: '"' + s.replace('"', "") + '"')
            toks[i] = draw(st.sampled_from(STRINGS) | quoted)
        elif op == "swap":
            j = draw(st.integers(0, len(toks) - 1))
            toks[i], toks[j] = toks[j], toks[i]
        elif op == "nest":
            depth = draw(st.integers(1, 3000))
            toks[i:i] = ["x"] + ["[", "a"] * depth + ["1"] + ["]"] * depth
        elif op == "node":  # a node whose id repeats, or without one
            nid = draw(st.sampled_from(["0", "1", "3313", '"0"', "-1"]))
            toks[i:i] = ["node", "[", "id", nid, "type", draw(st.sampled_from(['"drone"', '"object"', '"street_view"',
                                                                               '"cluster"'])), "]"]
        elif op == "edge":  # dangling and self edges
            toks[i:i] = ["edge", "[", "source", draw(st.sampled_from(["0", "1", "99999"])), "target",
                         draw(st.sampled_from(["0", "2", "99999", '"x"'])), "relationship",
                         draw(st.sampled_from(['"part_of"', '"near"', '"left"'])), "]"]
        elif op == "key":
            toks[i] = draw(st.sampled_from(["id", "position", "level", "members", "type", "label", "x", "@", "#"]))
        else:
            toks = toks[:i]
        if not toks:
            toks = ["graph", "["]
    return " ".join(toks)


@FUZZ_SETTINGS
@given(text=gml_texts())
def test_fuzz_gml_import(tmp_path_factory, text):
    d = tmp_path_factory.mktemp("gml")
    src = d / "case.gml"
    src.write_text(text, encoding="utf-8", errors="surrogatepass")
    check_case("gml", lambda: import_gml(src))
    if TALLY["gml"]["cases"] % 8 == 1:  # every 8th case the whole job: a memory file appears complete, or none
        out = d / "case.db"
        ok = check_case("gml-import-job", lambda: drain(cli_memory.import_gml_job(src, out, encoder=HashEncoder(),
                                                                                 cache=None)))
        if ok is None:
            assert not out.exists(), "a failed import left a file behind"
        else:
            with MemoryStore.open(out, create=False, readonly=True) as s:
                assert len(s.load().places) == ok.places
        assert sorted(p.name for p in d.iterdir()) in (["case.gml"], ["case.db", "case.gml"])
