"""Choose CCL's transfer-related options on validation data only.

Each variant is trained with a short schedule and scored on ``val`` (unseen concepts) and
the held-out validation styles. The choice is the variant with the best ``_common.selection_score``
(category MAP and instance R@10 together); ``test`` and the held-out test styles are never looked at here. Writes
``benchmarks/results/ccl_tuning.json``.

    python benchmarks/tune_ccl.py [--corpus DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SELECTION_RULE, file_sha256, tune_ccl_variants, versions, write_result  # noqa: E402

from ccl_embed.model.config import CCLConfig  # noqa: E402
from ccl_embed.paths import cache_dir  # noqa: E402
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
    rows, best = tune_ccl_variants(bench, VARIANTS, SHORT)
    write_result("ccl_tuning", {
        "versions": versions("ccl-embed", "torch", "numpy"),
        "corpus_pairs_sha256": file_sha256(args.corpus / "pairs.jsonl"),
        "schedule": SHORT, "defaults": CCLConfig().__dict__, "variants": rows, "chosen": best,
        "criterion": SELECTION_RULE,
    })


if __name__ == "__main__":
    main()
