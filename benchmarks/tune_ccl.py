"""Choose CCL's transfer-related options on validation data only.

Each variant is trained with a short schedule and scored on ``val`` (unseen concepts) and
``style-val`` (an art style held out for validation). The choice is the variant with the best
mean of the two mean MAPs; ``test`` and ``style`` are never looked at here. Writes
``benchmarks/results/ccl_tuning.json``.

    python benchmarks/tune_ccl.py [--corpus DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import file_sha256, versions, write_result  # noqa: E402

from ccl_embed.model.config import CCLConfig  # noqa: E402
from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.train.methods import ccl_fit  # noqa: E402
from ccl_embed.train.pipeline import open_workbench  # noqa: E402

SHORT = {"stage1_epochs": 5, "fusion_epochs": 5, "stage2_epochs": 10, "val_every": 0}
VARIANTS = {
    "paper (no instance norm, no skip, no input dropout)": {"image_instance_norm": False, "stage2_skip": False, "input_dropout": 0.0},
    "+ instance norm": {"image_instance_norm": True, "stage2_skip": False, "input_dropout": 0.0},
    "+ instance norm + skip": {"image_instance_norm": True, "stage2_skip": True, "input_dropout": 0.0},
    "+ instance norm + skip + input dropout 0.3": {"image_instance_norm": True, "stage2_skip": True, "input_dropout": 0.3},
    "+ skip + input dropout 0.3": {"image_instance_norm": False, "stage2_skip": True, "input_dropout": 0.3},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus")
    args = parser.parse_args()
    bench = open_workbench(args.corpus)
    ctx = bench.context()
    train, val = bench.split("train"), bench.split("val")
    rows = {}
    for name, overrides in VARIANTS.items():
        enc = ccl_fit({**SHORT, **overrides})(train, val, ctx)
        v, sv = bench.score(enc, "val"), bench.score(enc, "style-val")
        rows[name] = {"overrides": overrides, "val": v.to_dict(), "style_val": sv.to_dict(),
                      "selection_score": (v.mean_map + sv.mean_map) / 2}
        print(f"{name:48s} val {v.i2t_map:.4f}/{v.t2i_map:.4f} style-val {sv.i2t_map:.4f}/{sv.t2i_map:.4f}", flush=True)
    best = max(rows, key=lambda k: rows[k]["selection_score"])
    print("chosen:", best)
    write_result("ccl_tuning", {
        "versions": versions("ccl-embed", "torch", "numpy"),
        "corpus_pairs_sha256": file_sha256(args.corpus / "pairs.jsonl"),
        "schedule": SHORT, "defaults": CCLConfig().__dict__, "variants": rows, "chosen": best,
        "criterion": "mean of val mean-MAP and style-val mean-MAP; test and style are not scored",
    })


if __name__ == "__main__":
    main()
