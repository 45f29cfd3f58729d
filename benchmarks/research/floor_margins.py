"""How far above the baselines each validation cell lies, for the shipped semantic settings at
several centrings (``CCLConfig.centering``), on validation splits only.

The quality targets ask CCL to beat every CCL-free row on category MAP and instance R@10, both
directions, on every held-out split. ``tune_semantic.py`` checks that on validation as a floor
(reached or not); this script records the margin of every cell (``split:metric``) above the floor,
the smallest one per setting, and the setting whose smallest margin is largest (max-min): the
setting that meets the target on validation most robustly. Writes
``benchmarks/results/NAME.json`` (default ``floor_margins``).

    python benchmarks/research/floor_margins.py [--model DIR] [--corpus DIR] [--centerings 0 0.1 ...] [--also RESULT ...]

``--also RESULT`` scores the ``chosen_config`` of ``results/RESULT.json`` (a tune_semantic.py
run) as one more setting, so that two tunings can be compared by their validation margins.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rules import (baseline_floor, chosen_config, file_sha256, floor_margins, score_validation, semantic_choice,  # noqa: E402
                     versions, with_novelty, write_result)

from ccl_embed.model.folder import load_model  # noqa: E402
from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.train.encoders import CCLEncoders  # noqa: E402
from ccl_embed.train.pipeline import open_workbench  # noqa: E402


RESULT = "floor_margins"
"""The one result file this script writes: ``results/floor_margins.json``."""

def maximin(rows: dict[str, dict[str, float]]) -> str:
    """The setting whose smallest margin over the floor is largest (``rows``: setting -> cell margins)."""
    return max(rows, key=lambda k: min(rows[k].values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=cache_dir() / "models" / "protocol-v5")
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus-v3-aug")
    parser.add_argument("--centerings", type=float, nargs="+", default=[0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5])
    parser.add_argument("--also", nargs="*", default=[], metavar="RESULT",
                        help="Also score the chosen_config of results/RESULT.json (tune_semantic.py).")
    args = parser.parse_args()
    bench = open_workbench(args.corpus)
    model = with_novelty(load_model(args.model), bench)
    base, shipped, floor = model.config, semantic_choice(), baseline_floor()
    settings = {f"centering={b}": shipped | {"centering": b} for b in args.centerings}
    settings |= {name: chosen_config(name) for name in args.also}
    rows: dict[str, dict[str, float]] = {}
    for label, setting in settings.items():
        model.config = base.replace(**setting)
        scores, _ = score_validation(bench, CCLEncoders(model))
        rows[label] = margins = floor_margins(scores, floor)
        worst = min(margins, key=lambda k: margins[k])
        print(f"{label}: smallest margin {margins[worst]:+.4f} ({worst})", flush=True)
    chosen = maximin(rows)
    print("max-min:", chosen)
    write_result(RESULT, {
        "versions": versions("ccl-embed", "torch", "numpy"), "model": str(args.model),
        "corpus_pairs_sha256": file_sha256(args.corpus / "pairs.jsonl"),
        "semantic": shipped, "also": {name: settings[name] for name in args.also}, "floor": floor,
        "rule": "each cell's margin: the setting's score minus the best CCL-free row of quality.json on that validation "
                "split and metric; max-min: the setting whose smallest margin is largest",
        "margins": rows,
        "smallest": {k: min(v.values()) for k, v in rows.items()},
        "max_min": chosen,
    })


if __name__ == "__main__":
    main()
