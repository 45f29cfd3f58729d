"""docs/distributed.md quotes the figures benchmarks/distributed.py and benchmarks/decode.py measured."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_figures_are_the_measured_ones():
    doc = (ROOT / "docs" / "distributed.md").read_text()
    r = json.loads((ROOT / "benchmarks" / "results" / "distributed.json").read_text())
    assert r["passed"] and r["ray_equals_plain"]["equal"] and r["killed_driver"]["equals_plain"]["equal"]
    assert f"| plain engine | {r['plain']['items_per_s']} items/s" in doc
    assert f"| Ray engine, local Ray | {r['ray']['items_per_s']} items/s" in doc
    assert f"| Ray over plain, side by side | **{r['ray_over_plain']}** |" in doc
    k = r["killed_driver"]
    assert f"the rerun added {k['rerun']['added']} and found {k['rerun']['unchanged']} stored" in doc
    assert k["rerun"]["added"] + k["rerun"]["unchanged"] == r["files"] and k["rerun"]["unchanged"] > 0
    sizes = json.loads((ROOT / "benchmarks" / "results" / "decode.json").read_text())["sizes"]
    for name, row in sizes.items():
        assert f"| {name} | " in doc and f"| {row['prepare_ms']} ms | {row['embed_ms']} ms |" in doc, name


def test_the_decode_pool_figures_are_the_measured_ones():
    doc = " ".join((ROOT / "docs" / "distributed.md").read_text().split())
    pool = json.loads((ROOT / "benchmarks" / "results" / "decode.json").read_text())["pool"]
    assert pool["vectors_equal"] and pool["speedup"] > 1.0
    assert (f"{pool['images_per_s']['1']} images/s with one loading thread, "
            f"{pool['images_per_s'][str(pool['cores'])]} with the pool, **{pool['speedup']}x**") in doc


def test_the_cuda_form_figures_are_the_measured_ones():
    doc = (ROOT / "docs" / "distributed.md").read_text()
    r = json.loads((ROOT / "benchmarks" / "results" / "cuda_form.json").read_text())["agreement"]
    for key, label in (("pictures", "example pictures"), ("notes", "example notes"), ("captions", "val captions")):
        v = r[key]
        assert f"| {label} | {v['n']} | {v['min']} | {v['p1']} | {v['median']} | {v['share_equal']} |" in doc, key
    assert r["pictures"]["min"] > 0.9999  # the README's claim for images
