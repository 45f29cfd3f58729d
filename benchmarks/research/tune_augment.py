"""Does style augmentation of the training images help CCL transfer? Decided on validation splits only.

Trains CCL (short schedule, as benchmarks/tune_ccl.py) on the train split of the corpus and of its
augmented copy (`ccl-embed data augment`), with the same validation and test pairs, and scores
every validation split on category MAP and instance R@10 (``_rules.selection_score``). Writes ``benchmarks/results/augment_tuning.json``.

    ccl-embed data augment ~/.cache/ccl-embed/corpus --out ~/.cache/ccl-embed/corpus-aug --copies 2
    python benchmarks/research/tune_augment.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rules import SELECTION_RULE, file_sha256, score_validation, validation_line, versions, write_result  # noqa: E402

from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.train.methods import ccl_fit  # noqa: E402
from ccl_embed.train.pipeline import open_workbench  # noqa: E402

SHORT = {"stage1_epochs": 5, "fusion_epochs": 5, "stage2_epochs": 10, "val_every": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus")
    parser.add_argument("--augmented", type=Path, default=cache_dir() / "corpus-aug")
    parser.add_argument("--overrides", default="stage2_skip=1,input_dropout=0.3",
                        help="CCLConfig fields for every variant, k=v,...")
    args = parser.parse_args()
    base = {k: (float(v) if "." in v else bool(int(v)) if v in ("0", "1") else v)
            for k, v in (kv.split("=") for kv in args.overrides.split(",") if kv)}
    rows: dict[str, dict[str, Any]] = {}
    for name, corpus in (("no augmentation", args.corpus), ("2 augmented copies per training image", args.augmented)):
        bench = open_workbench(corpus)
        train, val = bench.split("train"), bench.split("val")
        enc = ccl_fit({**SHORT, **base})(train, val, bench.context())
        scores, score = score_validation(bench, enc)
        rows[name] = {"corpus": str(corpus), "train_pairs": len(train), **scores, "selection_score": score}
        print(validation_line(f"{name} (train {len(train)})", scores, score), flush=True)
    best = max(rows, key=lambda k: rows[k]["selection_score"])
    print("chosen:", best)
    write_result("augment_tuning", {
        "versions": versions("ccl-embed", "torch", "numpy", "pillow"),
        "corpus_pairs_sha256": file_sha256(args.corpus / "pairs.jsonl"),
        "schedule": SHORT, "overrides": base, "variants": rows, "chosen": best,
        "criterion": SELECTION_RULE,
    })


if __name__ == "__main__":
    main()
