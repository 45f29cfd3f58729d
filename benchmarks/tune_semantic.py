"""Choose the semantic weight w (CCLConfig.semantic_weight) on validation splits only.

The semantic part keeps the image tower's ImageNet knowledge (photos) that CCL trained on
pictograms does not cover; it costs some pictogram MAP. The rule: the largest w in ``WEIGHTS``
whose mean MAP on ``val`` and on ``style-val`` each stays within ``TOLERANCE`` of w = 0.
``test``, ``style`` and the photo set are not scored here. Writes
``benchmarks/results/semantic_tuning.json``.

    python benchmarks/tune_semantic.py [--model DIR] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import file_sha256, versions, write_result  # noqa: E402

from ccl_embed.model.folder import load_model  # noqa: E402
from ccl_embed.model.trainer import CCLEncoders  # noqa: E402
from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.train.pipeline import open_workbench  # noqa: E402

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
TOLERANCE = 0.01


def choose(rows: dict[float, dict[str, float]], tolerance: float = TOLERANCE) -> float:
    """The largest weight whose val and style-val mean MAP stay within ``tolerance`` of weight 0."""
    base = rows[0.0]
    ok = [w for w, r in rows.items() if all(r[s] >= base[s] - tolerance for s in ("val", "style-val"))]
    return max(ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=cache_dir() / "models" / "default-train")
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus")
    args = parser.parse_args()
    bench = open_workbench(args.corpus)
    model = load_model(args.model)
    base = model.config
    rows: dict[float, dict[str, float]] = {}
    for w in WEIGHTS:
        model.config = replace(base, semantic_weight=w)
        enc = CCLEncoders(model)
        rows[w] = {s: bench.score(enc, s).mean_map for s in ("val", "style-val")}
        print(f"w={w:.1f} val {rows[w]['val']:.4f} style-val {rows[w]['style-val']:.4f}", flush=True)
    chosen = choose(rows)
    print("chosen:", chosen)
    write_result("semantic_tuning", {
        "versions": versions("ccl-embed", "torch", "numpy"), "model": str(args.model),
        "corpus_pairs_sha256": file_sha256(args.corpus / "pairs.jsonl"),
        "rule": f"largest w with val and style-val mean MAP within {TOLERANCE} of w=0; test, style and photos not scored",
        "mean_map": {str(w): r for w, r in rows.items()}, "chosen": chosen,
    })


if __name__ == "__main__":
    main()
