"""Word normalisation: Snowball stems meet across inflections, singulars stay readable."""

from memory.text_norm import singular, stem


def test_inflections_of_one_verb_share_a_stem():
    assert stem("napping") == stem("naps") == stem("nap")
    assert stem("slept") == stem("sleeping") == stem("sleep")
    assert stem("washing") == stem("washed") == stem("wash")
    assert stem("cooking") != stem("cool")


def test_singular_keeps_words_that_only_look_plural():
    assert [singular(w) for w in ("benches", "libraries", "glasses", "boxes", "cars")] == \
        ["bench", "library", "glass", "box", "car"]
    assert [singular(w) for w in ("campus", "bus", "grass", "analysis", "famous")] == \
        ["campus", "bus", "grass", "analysis", "famous"]
