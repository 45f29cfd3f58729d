"""The benchmarks' row and selection rules: which rows carry the semantic part, paired seed
differences (benchmarks/research/quality.py) and the semantic part's choice (benchmarks/research/tune_semantic.py)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks" / "research"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


quality = _load("quality")
tune_semantic = _load("tune_semantic")
SEMANTIC = {"semantic_weight": 0.2}


def test_ccl_is_the_shipped_configuration_and_its_fit_also_gives_the_row_without_the_semantic_part():
    assert quality.row_variants("ccl", "ccl", SEMANTIC) == [("ccl", SEMANTIC), ("ccl-no-semantic", None)]
    assert quality.row_variants("ccl-no-patches", "ccl-no-patches", SEMANTIC) == [("ccl-no-patches", SEMANTIC)]
    assert quality.row_variants("infonce-bow", "infonce", SEMANTIC) == [("infonce-bow", None)]
    assert quality.row_variants("ccl", "ccl", {}) == [("ccl", None)]  # no release config: nothing to append
    retuned = {"semantic_weight": 0.2, "drawing_semantic_weight": 0.0}
    assert quality.row_variants("ccl", "ccl", SEMANTIC, retuned)[-1] == ("ccl-retuned", retuned)
    assert quality.row_variants("ccl-no-patches", "ccl-no-patches", SEMANTIC, retuned) == [("ccl-no-patches", SEMANTIC)]


def test_rows_without_the_conse_input_cannot_carry_the_semantic_part():
    assert {"ccl-paper", "ccl-paper-fixed-weights", "ccl-no-conse"} <= set(quality.SEMANTIC_FREE)
    for row in quality.SEMANTIC_FREE:
        assert quality.row_variants(row, row, SEMANTIC) == [(row, None)]


def test_ablation_differences_are_paired_per_seed_when_both_rows_ran_the_same_seeds():
    ref = {"seeds": [0, 1, 2], "r10_i2t": 0.5, "per_seed": {"r10_i2t": [0.50, 0.52, 0.48]}}
    row = {"seeds": [0, 1, 2], "r10_i2t": 0.47, "per_seed": {"r10_i2t": [0.46, 0.50, 0.45]}}
    mean, std = quality.paired_difference(row, ref, "r10_i2t")
    assert mean == pytest.approx(-0.03)
    assert std == pytest.approx(0.01)  # differences -0.04, -0.02, -0.03: sample std 0.01
    assert quality.difference_cell(row, ref, "r10_i2t") == "-0.0300 +- 0.0100"
    one_seed = {"seeds": [0], "r10_i2t": 0.40}
    assert quality.paired_difference(one_seed, ref, "r10_i2t") == (pytest.approx(-0.10), None)


def test_the_semantic_part_keeps_the_drawings_within_tolerance_and_the_baselines_floor():
    base = {"val": 0.50, "style-val": 0.40, "photos-val": 0.20, "floor": 1.0}
    assert tune_semantic.within({"val": 0.495, "style-val": 0.395, "photos-val": 0.9, "floor": 1.0}, base)
    assert not tune_semantic.within({"val": 0.48, "style-val": 0.40, "photos-val": 0.9, "floor": 1.0}, base)
    # within tolerance, but below a baseline on some validation metric that w = 0 reached
    assert not tune_semantic.within({"val": 0.50, "style-val": 0.40, "photos-val": 0.9, "floor": 0.0}, base)
    assert tune_semantic.within({"val": 0.50, "style-val": 0.40, "photos-val": 0.9, "floor": 0.0}, base | {"floor": 0.0})
    rows = {0.0: base, 0.1: base | {"val": 0.499}, 0.2: base | {"floor": 0.0}, 0.3: base | {"val": 0.45}}
    assert tune_semantic.choose(rows) == 0.1


def test_a_setting_that_reaches_the_baselines_floor_comes_before_a_better_score():
    rows = {0.0: {"val": 0.46, "floor": 0.0}, 0.25: {"val": 0.47, "floor": 1.0}, 0.75: {"val": 0.49, "floor": 0.0}}
    assert tune_semantic.floor_first([0.0, 0.25, 0.75], rows) == [0.25]
    # where no candidate reaches it, every candidate stays and the score decides
    assert tune_semantic.floor_first([0.0, 0.75], rows) == [0.0, 0.75]
    route = {(1.0,): {"val": 0.50, "photos-val": 0.6, "floor": 0.0}, (2.0,): {"val": 0.50, "photos-val": 0.5, "floor": 1.0}}
    assert tune_semantic.choose_route(route, {"val": 0.50, "photos-val": 0.4, "floor": 0.0}) == (2.0,)


def test_the_switches_apart_win_only_on_photographs_within_the_drawings_tolerance():
    base = {"val": 0.50, "style-val": 0.40, "photos-val": 0.50, "floor": 1.0}
    rows = {(3.0, None): base,
            (2.0, 3.5): base | {"photos-val": 0.60, "val": 0.48},  # better on photographs, drawings fall too far
            (2.4, 3.5): base | {"photos-val": 0.55, "val": 0.495},
            (2.8, 4.0): base | {"photos-val": 0.58, "floor": 0.0}}  # loses the baselines' floor
    assert tune_semantic.best_photos(rows, base) == (2.4, 3.5)
    assert tune_semantic.best_photos({(3.0, None): base, (2.0, 3.5): rows[(2.0, 3.5)]}, base) == (3.0, None)


claims = _load("claims")


def test_a_claim_holds_only_when_its_gain_exceeds_the_spread_over_seeds():
    full = {"seeds": [0, 1, 2], "mean_map": 0.40, "r10_i2t": 0.5, "r10_t2i": 0.5,
            "per_seed": {"mean_map": [0.40, 0.41, 0.39], "r10_i2t": [0.5] * 3, "r10_t2i": [0.5] * 3}}
    removed = {"seeds": [0, 1, 2], "mean_map": 0.38, "r10_i2t": 0.5, "r10_t2i": 0.5,
               "per_seed": {"mean_map": [0.38, 0.39, 0.37], "r10_i2t": [0.51, 0.49, 0.50], "r10_t2i": [0.5] * 3}}
    mean, std, seeds = claims.effect(full, removed, "mean_map")
    assert (mean, seeds) == (pytest.approx(0.02), 3) and std == pytest.approx(0.0, abs=1e-12)
    assert claims.verdict(mean, std) == "holds"
    r10, spread, _ = claims.effect(full, removed, "r10")
    assert r10 == pytest.approx(0.0) and claims.verdict(r10, spread) == "within the spread"
    assert claims.verdict(-0.05, 0.01) == "does not hold"
    assert claims.verdict(0.05, None) == "one seed: undecided"
    assert claims.verdict(0.05, None, seeds=3).endswith("undecided")  # three seeds, but the reference has none of its own


def test_the_claims_block_is_rewritten_between_its_markers_only(tmp_path):
    doc = tmp_path / "analysis.md"
    doc.write_text(f"# prose\n\n{claims.START}\nstale row\n{claims.END}\n\nmore prose\n")
    entry = {"seeds": [0], "mean_map": 0.4, "r10_i2t": 0.5, "r10_t2i": 0.5}
    results = {"test": {"ccl": entry, "ccl-no-patches": entry | {"mean_map": 0.3}}}
    assert claims.write_claims(doc, results, ("test",))
    text = doc.read_text()
    assert text.startswith("# prose") and text.endswith("more prose\n") and "stale row" not in text
    assert "`ccl-no-patches` against `ccl` | test | +0.1000 |" in text
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    assert not claims.write_claims(plain, results, ("test",)) and plain.read_text() == "no markers\n"


def test_a_choice_is_decided_on_validation_splits_by_the_paired_selection_score(tmp_path):
    def entry(maps, r10s):
        return {"seeds": [0, 1, 2], "mean_map": sum(maps) / 3, "r10_i2t": sum(r10s) / 3, "r10_t2i": sum(r10s) / 3,
                "per_seed": {"mean_map": maps, "r10_i2t": r10s, "r10_t2i": r10s}}

    results = {
        "val": {"ccl": entry([0.30, 0.31, 0.29], [0.50, 0.50, 0.50]),
                "ccl-grid-patches": entry([0.34, 0.35, 0.33], [0.52, 0.51, 0.53]),
                "ccl-adaptive-weights": entry([0.31, 0.30, 0.29], [0.50, 0.50, 0.50])},
        "test": {"ccl-own-classifiers": entry([0.9, 0.9, 0.9], [0.9, 0.9, 0.9])},  # a test split never decides
    }
    score, seeds, splits = claims.validation_score(results, "ccl")
    assert splits == ["val"] and score == pytest.approx((0.30 + 0.50) / 2) and len(seeds) == 3
    lines = "\n".join(claims.choices_lines(results))
    assert "`ccl-grid-patches` | `ccl` | 0.4000 | 0.4300 | +0.0300 +- 0.0050 | the alternative is better |" in lines
    assert "`ccl-adaptive-weights` | `ccl` | 0.4000 | 0.4000 | +0.0000 +- 0.0050 | within the spread: the shipped setting stays |" in lines
    assert "ccl-own-classifiers" not in lines
    doc = tmp_path / "analysis.md"
    doc.write_text(f"a\n{claims.CHOICES_START}\nold\n{claims.CHOICES_END}\nb\n")
    assert claims.write_choices(doc, results) and "old" not in doc.read_text() and doc.read_text().endswith("b\n")


def test_a_row_is_paired_with_the_reference_its_entry_names(monkeypatch):
    def entry(maps, **extra):
        return {"seeds": [0, 1, 2], "mean_map": sum(maps) / 3, "r10_i2t": 0.5, "r10_t2i": 0.5,
                "per_seed": {"mean_map": maps, "r10_i2t": [0.5] * 3, "r10_t2i": [0.5] * 3}, **extra}

    # the shipped row changed after an ablation was measured around the earlier base, kept as its own row
    rows = {"ccl": entry([0.50, 0.50, 0.50]),
            "ccl-old-base": entry([0.40, 0.41, 0.39], reference="ccl"),
            "ccl-no-patches": entry([0.38, 0.39, 0.37], reference="ccl-old-base", semantic={"semantic_weight": 0.2}),
            "ccl-no-semantic": entry([0.45, 0.45, 0.45], reference="ccl"),
            "ccl-paper": entry([0.30, 0.30, 0.30])}
    assert claims.reference_of(rows, "ccl-no-patches") == "ccl-old-base"
    assert claims.reference_of(rows, "ccl-paper") == "ccl-no-semantic"  # no entry of its own, no semantic part
    assert claims.reference_of(rows, "ccl-no-semantic") == "ccl"
    text = "\n".join(claims.claims_lines({"test": rows}, ("test",)))
    assert "`ccl-no-patches` against `ccl-old-base` | test | +0.0200 +- 0.0000 |" in text
    # a row that adds the component to its reference: the effect is still with it minus without it
    rows["ccl-adds-it"] = entry([0.47, 0.48, 0.46], reference="ccl")
    monkeypatch.setattr(claims, "CLAIMS", (("x", "y", (("ccl-adds-it", False),)),))
    text = "\n".join(claims.claims_lines({"test": rows}, ("test",)))
    assert "`ccl-adds-it` against `ccl` | test | -0.0300 +- 0.0100 |" in text and "MAP does not hold" in text


def test_an_addition_without_the_conse_input_is_chosen_against_the_fits_without_the_semantic_part():
    def entry(score, **extra):
        return {"seeds": [0, 1], "mean_map": score, "r10_i2t": score, "r10_t2i": score,
                "per_seed": {"mean_map": [score] * 2, "r10_i2t": [score] * 2, "r10_t2i": [score] * 2}, **extra}

    results = {"val": {"ccl": entry(0.50, semantic={"semantic_weight": 0.2}), "ccl-no-semantic": entry(0.52),
                       "ccl-no-conse": entry(0.51)}}
    lines = "\n".join(claims.choices_lines(results))
    assert "`ccl-no-conse` | `ccl-no-semantic` | 0.5200 | 0.5100 | -0.0100 +- 0.0000 | the shipped setting is better |" in lines


def test_floor_margins_name_each_cell_and_max_min_picks_the_most_robust_setting():
    common = _load("_rules")
    floor = {"val": {"i2t_map": 0.3, "r10_t2i": 0.5}}
    margins = common.floor_margins({"val": {"i2t_map": 0.35, "r10_t2i": 0.48, "t2i_map": 0.9}}, floor)
    assert margins == pytest.approx({"val:i2t_map": 0.05, "val:r10_t2i": -0.02})
    assert not common.reaches_floor({"val": {"i2t_map": 0.35, "r10_t2i": 0.48}}, floor)
    assert common.reaches_floor({"val": {"i2t_map": 0.3, "r10_t2i": 0.5}}, floor)  # level counts as reached
    floor_margins = _load("floor_margins")
    rows = {"a": {"x": 0.10, "y": -0.01}, "b": {"x": 0.02, "y": 0.01}, "c": {"x": 0.30, "y": 0.005}}
    assert floor_margins.maximin(rows) == "b"  # not c, whose best cell is far larger


def test_floor_margins_reads_another_tunings_choice_and_names_a_result_without_one(tmp_path, monkeypatch):
    import json

    common = _load("_rules")  # what floor_margins.py, quality.py and tune_semantic.py read a tuning's choice with
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    (tmp_path / "tuned.json").write_text(json.dumps({"chosen_config": {"centering": 0.75, "photo_offset": 0.2}}))
    (tmp_path / "speed.json").write_text(json.dumps({"rates": {}}))
    assert common.chosen_config("tuned") == {"centering": 0.75, "photo_offset": 0.2}
    with pytest.raises(SystemExit, match="results/speed.json has no chosen_config"):
        common.chosen_config("speed")


def test_the_route_sweep_keeps_the_drawings_and_the_floor_before_the_mean():
    route_sweep = _load("route_sweep")

    def row(mean, val=0.50, margin=0.01):
        return {"scores": {"val": val, "style-val": 0.40}, "mean": mean, "smallest_floor_margin": margin}

    rows = {"shipped": row(0.45), "better": row(0.47), "drops drawings": row(0.60, val=0.48),
            "below floor": row(0.55, margin=-0.001)}
    assert route_sweep.choose(rows, "shipped") == "better"
    assert route_sweep.choose({k: rows[k] for k in ("shipped", "drops drawings", "below floor")}, "shipped") == "shipped"
    g = route_sweep.between(np.array([0.0, 3.0, 10.0]), 3.0, 0.3)
    assert g == pytest.approx(1 / 3)  # only the image at the middle is in between


def test_the_example_ceiling_counts_a_picture_first_only_above_every_other_image():
    ceiling = _load("example_ceiling")
    scores = np.array([[0.9, 0.2, 0.1],   # caption 0: its picture first
                       [0.5, 0.4, 0.3],   # caption 1: second
                       [0.1, 0.6, 0.6]])  # caption 2: tied with another picture, so not first
    assert ceiling.ranks(scores).tolist() == [1, 2, 2]
    assert ceiling.found_first(scores) == 1
    parts = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert ceiling.unit_part(np.array([[3.0, 4.0, 7.0], [0.0, 0.0, 1.0]]), slice(0, 2)).tolist() == [[0.6, 0.8], [0.0, 0.0]]
    assert ceiling.found_first(parts) == 2
