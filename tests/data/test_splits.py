import pytest

from ccl_embed.data.corpus import Pair
from ccl_embed.data.splits import SplitConfig, assign_splits, concept_split


def _pairs():
    return [Pair(f"{c}-{s}.png", f"text {c}", concept=f"c{c}", style=s) for c in range(400) for s in ("a", "b", "held")]


def test_a_concept_never_lands_on_two_sides():
    out = assign_splits(_pairs(), SplitConfig(seed=3))
    by_concept: dict[str, set[str]] = {}
    for p in out:
        by_concept.setdefault(p.key, set()).add(p.split)
    assert all(len(s) == 1 for s in by_concept.values())


def test_fractions_and_determinism():
    cfg = SplitConfig(seed=1, val=0.2, test=0.1)
    splits = [concept_split(f"c{i}", cfg) for i in range(5000)]
    assert splits == [concept_split(f"c{i}", cfg) for i in range(5000)]
    assert abs(splits.count("test") / 5000 - 0.1) < 0.02
    assert abs(splits.count("val") / 5000 - 0.2) < 0.02
    assert splits != [concept_split(f"c{i}", SplitConfig(seed=2, val=0.2, test=0.1)) for i in range(5000)]


def test_held_out_style_goes_whole_to_style_split():
    out = assign_splits(_pairs(), SplitConfig(holdout_style="held"))
    assert {p.split for p in out if p.style == "held"} == {"style"}
    assert "style" not in {p.split for p in out if p.style != "held"}


@pytest.mark.parametrize("kwargs, match", [({"val": 0.0}, "val=0.0"), ({"test": 1.5}, "test=1.5"),
                                           ({"val": 0.5, "test": 0.5}, "leaves nothing to train on")])
def test_bad_config_is_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SplitConfig(**kwargs)


def test_validation_style_is_held_out_too():
    out = assign_splits(_pairs(), SplitConfig(holdout_style="held", val_style="b"))
    assert {p.split for p in out if p.style == "b"} == {"style-val"}
    assert {p.split for p in out if p.style == "held"} == {"style"}
    with pytest.raises(ValueError, match="cannot be both"):
        SplitConfig(holdout_style="b", val_style="b")


def test_more_styles_are_held_out_each_as_its_own_split():
    cfg = SplitConfig(holdout_style="held", held_out=(("a", "style-3d"),))
    out = assign_splits(_pairs(), cfg)
    assert {p.split for p in out if p.style == "a"} == {"style-3d"}
    assert {p.split for p in out if p.style == "held"} == {"style"}
    assert {p.split for p in out if p.style == "b"} <= {"train", "val", "test"}
    with pytest.raises(ValueError, match="name the split style-SOMETHING"):
        SplitConfig(held_out=(("a", "test"),))
    with pytest.raises(ValueError, match="each held-out style needs its own split"):
        SplitConfig(holdout_style="a", held_out=(("a", "style-x"),))
    with pytest.raises(ValueError, match="each held-out style needs its own split"):
        SplitConfig(held_out=(("a", "style-x"), ("b", "style-x")))
