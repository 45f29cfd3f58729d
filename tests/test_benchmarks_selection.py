"""The research scripts' shared selection rule: both metrics, stated once (benchmarks/research/_rules.py)."""

import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("bench_rules", Path(__file__).resolve().parent.parent / "benchmarks" / "research" / "_rules.py")
assert spec is not None and spec.loader is not None
common = importlib.util.module_from_spec(spec)
spec.loader.exec_module(common)


def test_selection_weighs_category_map_and_instance_recall_equally():
    a = {"mean_map": 0.5, "r10_i2t": 0.2, "r10_t2i": 0.4}  # (0.5 + 0.3) / 2 = 0.4
    b = {"mean_map": 0.3, "r10_i2t": 0.5, "r10_t2i": 0.5}  # (0.3 + 0.5) / 2 = 0.4
    assert common.selection_score(a) == pytest.approx(0.4)
    assert common.selection_score(a, b) == pytest.approx(0.4)
    assert common.selection_score(a, {"mean_map": 0.0, "r10_i2t": 0.0, "r10_t2i": 0.0}) == pytest.approx(0.2)


def test_validation_scores_cover_only_the_splits_the_corpus_has(tiny_corpus, cache_home, monkeypatch):
    from ccl_embed.train import pipeline
    from ccl_embed.train.methods import METHODS
    from ccl_embed.train.towers import BowTower
    from tests.conftest import TinyImageTower

    monkeypatch.setattr(pipeline, "EfficientNetTower", TinyImageTower)
    bench = pipeline.open_workbench(tiny_corpus, text_tower=BowTower(64))
    encoders = METHODS["cca"](bench.split("train"), None, bench.context())
    scores, score = common.score_validation(bench, encoders)
    assert set(scores) == {"val"}  # the tiny corpus holds no validation style
    assert score == pytest.approx(common.selection_score(scores["val"]))
    assert "val MAP" in common.validation_line("cca", scores, score)


def test_tuning_trains_each_variant_and_picks_by_the_rule(tiny_corpus, cache_home, monkeypatch):
    from ccl_embed.train import pipeline
    from ccl_embed.train.towers import BowTower
    from tests.conftest import TinyImageTower

    monkeypatch.setattr(pipeline, "EfficientNetTower", TinyImageTower)
    bench = pipeline.open_workbench(tiny_corpus, text_tower=BowTower(64))
    base = {"dim": 8, "hidden": 16, "code": 8, "stage1_epochs": 1, "fusion_epochs": 1, "stage2_epochs": 2,
            "batch_size": 16, "val_every": 0}
    rows, best = common.tune_ccl_variants(bench, {"paper": {}, "instance": {"use_instance": True}}, base)
    assert set(rows) == {"paper", "instance"} and rows["instance"]["overrides"] == {"use_instance": True}
    assert best == max(rows, key=lambda k: rows[k]["selection_score"])
    assert all(r["selection_score"] == pytest.approx(common.selection_score(r["val"])) for r in rows.values())


def test_settings_applied_after_a_fit_are_rows_of_their_own(tiny_corpus, cache_home, monkeypatch):
    from ccl_embed.train import pipeline
    from ccl_embed.train.towers import BowTower
    from tests.conftest import TinyImageTower

    monkeypatch.setattr(pipeline, "EfficientNetTower", TinyImageTower)
    bench = pipeline.open_workbench(tiny_corpus, text_tower=BowTower(64))
    base = {"dim": 8, "hidden": 16, "code": 8, "stage1_epochs": 1, "fusion_epochs": 1, "stage2_epochs": 2,
            "batch_size": 16, "val_every": 0}
    part = {"use_instance": True, "instance_dim": 4}
    shares = [{"instance_share": 0.0}, {"instance_share": 1.0}]
    rows, best = common.tune_ccl_variants(bench, {"part": part}, base, {"part": shares})
    assert set(rows) == {"part | instance_share=0.0", "part | instance_share=1.0"}
    assert rows["part | instance_share=1.0"]["overrides"] == {**part, "instance_share": 1.0}
    # One fit, two embeddings: the category part alone and the instance part alone rank differently.
    assert rows["part | instance_share=0.0"]["val"] != rows["part | instance_share=1.0"]["val"]
    assert best in rows
