"""Choose CCL's instance level (``CCLConfig.use_instance``) on validation data only, on both metrics.

Each variant is trained with the shipped schedule on the corpus's ``train`` split and scored on
``val`` (unseen concepts) and the held-out validation styles (``style-val``, and ``style-val-3d``
where the corpus has it): category MAP
(the paper's protocol) and instance R@1/R@10 (what users feel). The choice is the variant with
the best ``_rules.selection_score``: the mean over those splits of (mean MAP + mean R@10) / 2.
``test`` and ``style`` are never looked at here. Writes ``benchmarks/results/instance_tuning.json``.

    python benchmarks/research/tune_instance.py [--corpus DIR] [--overrides JSON]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rules import (  # noqa: E402
    DOCS,
    RESULTS,
    SELECTION_RULE,
    baseline_floor,
    file_sha256,
    reaches_floor,
    semantic_choice,
    tune_ccl_variants,
    versions,
    write_result,
)

from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.train.pipeline import open_workbench  # noqa: E402

VARIANTS: dict[str, dict[str, Any]] = {
    "category only (the paper)": {"use_instance": False},
    "+ instance InfoNCE (t0 0.07)": {"use_instance": True, "instance_temperature": 0.07},
    "instance InfoNCE instead of the category pairwise constraint": {"use_instance": True, "use_inter": False},
    "+ instance + hashed bag of words 2048": {"use_instance": True, "text_bow": 2048},
    "+ instance x2 + hashed bag of words 2048": {"use_instance": True, "instance_weight": 2.0, "text_bow": 2048},
    "+ raw linear instance part 128 + hashed bag of words 2048": {"use_instance": True, "instance_dim": 128,
                                                                  "text_bow": 2048},
    "+ raw linear instance part 128 x2 + hashed bag of words 2048": {"use_instance": True, "instance_dim": 128,
                                                                     "instance_weight": 2.0, "text_bow": 2048},
    "+ raw linear instance part 256 + hashed bag of words 2048": {"use_instance": True, "instance_dim": 256,
                                                                  "text_bow": 2048},
    "+ raw linear instance part 256 x2 + hashed bag of words 2048": {"use_instance": True, "instance_dim": 256,
                                                                     "instance_weight": 2.0,
                                                                     "text_bow": 2048},
    "+ raw linear instance part 256 + hashed bag of words 4096": {"use_instance": True, "instance_dim": 256,
                                                                  "text_bow": 4096},
}
SHARES = {name: [{"instance_share": a} for a in (0.2, 0.35, 0.5, 0.65)] for name, v in VARIANTS.items() if v.get("instance_dim")}
"""Variants with an instance part are scored at several shares of it, from one fit (the share is not trained)."""


RESULT = "instance_tuning"
"""The one result file this script writes: ``results/instance_tuning.json``."""

def write_table() -> Path:
    """docs/instance-tuning.md: every variant of results/instance_tuning.json, one table,
    best score first (written from the results, never typed). Rows measured on another corpus
    than results/quality.json's cannot be held against its baselines: they say so."""
    floor = baseline_floor()
    current = json.loads((RESULTS / "quality.json").read_text())["corpus"]["pairs_sha256"]
    record = json.loads((RESULTS / f"{RESULT}.json").read_text())
    same = record.get("corpus_pairs_sha256") == current
    rows = [(reaches_floor(r, floor) if same else None, r["selection_score"], variant, r)
            for variant, r in record["variants"].items()]
    rows.sort(key=lambda t: (t[0] is None, not t[0], -t[1]))  # the rule: those reaching the baselines first, then by score
    splits = ("val", "style_val", "style_val_3d")
    lines = ["# Choosing the instance level (validation splits only)", "",
             "<!-- Written by `python benchmarks/research/tune_instance.py --table`; do not edit by hand. -->", "",
             f"Rule: {SELECTION_RULE}. The baselines are the non-CCL rows of results/quality.json "
             "(3 seeds each); a row reaches them when its MAP and R@10, both directions, are at least "
             f"theirs on every validation split. Seed 0, the shipped schedule, the corpus of results/quality.json "
             f"(pairs.jsonl sha256 `{current[:16]}`); rows of another corpus are shown with 'other corpus'. "
             "`+semantic`: scored with the shipped semantic part appended, as the default model ships. "
             "MAP is the category mean MAP of both directions; R@10 is I->T / T->I.", "",
             "| variant | " + " | ".join(f"{s} MAP | {s} R@10" for s in splits)
             + " | reaches the baselines | score |",
             "|---|" + "---|---|" * len(splits) + "---|---|"]
    for reaches, score, variant, r in rows:
        cells = " | ".join(f"{r[s]['mean_map']:.3f} | {r[s]['r10_i2t']:.3f} / {r[s]['r10_t2i']:.3f}" if s in r else "n/a | n/a"
                           for s in splits)
        verdict = "other corpus" if reaches is None else "yes" if reaches else "no"
        lines.append(f"| {variant.replace(' | ', ', ')} | {cells} | {verdict} | {score:.4f} |")
    doc = DOCS / "instance-tuning.md"
    doc.write_text("\n".join(lines) + "\n")
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus-aug")
    parser.add_argument("--overrides", default='{"stage1_epochs": 7, "fusion_epochs": 7, "stage2_epochs": 14}',
                        help="CCLConfig fields (JSON) under every variant: the shipped schedule by default")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), help="Variant names to run (default: all).")
    parser.add_argument("--shares", nargs="+", type=float,
                        help="Score variants with an instance part at these shares (default 0.2 0.35 0.5 0.65).")
    parser.add_argument("--semantic", action="store_true",
                        help="Score every row with the shipped readout (the recipe's) appended, "
                             "as the default model ships.")
    parser.add_argument("--table", action="store_true",
                        help="Only write docs/instance-tuning.md from results/instance_tuning.json.")
    args = parser.parse_args()
    if args.table:
        print(f"wrote {write_table()}")
        return
    base = json.loads(args.overrides)
    bench = open_workbench(args.corpus)
    shares = SHARES if not args.shares else {
        name: [{"instance_share": a} for a in args.shares] for name in SHARES}
    if args.semantic:  # the shipped configuration: every row with the semantic part appended
        semantic = semantic_choice()
        shares = {name: [extra | semantic for extra in shares.get(name, [{}])] for name in args.variants}
    rows, best = tune_ccl_variants(bench, {n: VARIANTS[n] for n in args.variants}, {**base, "val_every": 0}, shares)
    write_result(RESULT, {
        "versions": versions("ccl-embed", "torch", "numpy"),
        "corpus_pairs_sha256": file_sha256(args.corpus / "pairs.jsonl"),
        "base_overrides": base, "semantic": semantic_choice() if args.semantic else None,
        "variants": rows, "chosen": best, "criterion": SELECTION_RULE,
    })


if __name__ == "__main__":
    main()
