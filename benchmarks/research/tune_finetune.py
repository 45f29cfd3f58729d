"""How should ``ccl-embed train --from`` fine-tune? Decided on the public folders' validation splits only.

    python benchmarks/research/tune_finetune.py [--seeds 0] [--folders emoji-monotone freehand-icons]

Fine-tunes the shipped model on each folder of ``benchmarks/research/_folders.py`` (``ccl_embed.train.fine_tune``,
stage 2 only, stage 1 and fusion kept) with each schedule of :data:`GRID`, scores the result on
the folder's ``val`` split through the runtime, and picks the schedule with the best mean of
(category mean MAP + instance mean R@10) / 2 over folders and seeds. The shipped model's own
validation score is recorded beside them. Writes ``results/finetune_tuning.json`` and, with
``--write-recipe`` (or later, from the result file, ``--recipe-only``), the chosen schedule into
the recipe's ``fine_tune`` section (``ccl_embed/train/recipe.json``), so that no choice is copied
by hand.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from _rules import RESULTS, both_metrics, versions, write_result
from _folders import FOLDERS, folder

from ccl_embed.evaluation import evaluate_model
from ccl_embed.train import fine_tune, read_training_folder
from ccl_embed.train.recipe import RECIPE_FILE

GRID: dict[str, dict[str, Any]] = {
    f"{epochs} epochs, lr {lr:g}": {"stage2_epochs": epochs, "lr": lr}
    for epochs in (14, 28, 56) for lr in (1e-3, 3e-4, 1e-4)
}
SHOWN = ("mean_map", "r1_i2t", "r1_t2i", "r10_i2t", "r10_t2i")


def _row(scores: dict[str, float]) -> dict[str, float]:
    return {**{k: round(scores[k], 4) for k in SHOWN}, "score": round(both_metrics(scores), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folders", nargs="+", default=list(FOLDERS), choices=list(FOLDERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--write-recipe", action="store_true", help="Write the chosen schedule into the recipe.")
    parser.add_argument("--recipe-only", action="store_true",
                        help="Only write results/finetune_tuning.json's chosen schedule into the recipe.")
    args = parser.parse_args()
    if args.recipe_only:
        write_schedule(json.loads((RESULTS / "finetune_tuning.json").read_text())["chosen_schedule"])
        return
    table: dict[str, dict[str, Any]] = {}
    for name in args.folders:
        root = folder(name)
        val = read_training_folder(root).split("val")
        rows: dict[str, Any] = {"shipped model": _row(evaluate_model("default", val).to_dict())}
        print(f"{name}: shipped model {rows['shipped model']}", flush=True)
        for label, schedule in GRID.items():
            seeds = []
            for seed in args.seeds:
                with tempfile.TemporaryDirectory() as tmp:
                    began = time.perf_counter()
                    fine_tune(root, Path(tmp) / "model", seed=seed, overrides=schedule)
                    seconds = time.perf_counter() - began
                    seeds.append({**_row(evaluate_model(Path(tmp) / "model", val).to_dict()),
                                  "seconds": round(seconds, 1)})
            mean = {k: round(sum(s[k] for s in seeds) / len(seeds), 4) for k in seeds[0]}
            rows[label] = {"schedule": schedule, "mean": mean, "seeds": seeds}
            print(f"{name}: {label}: {mean}", flush=True)
        table[name] = rows
    overall = {label: round(sum(table[n][label]["mean"]["score"] for n in table) / len(table), 4) for label in GRID}
    chosen = max(overall, key=lambda k: overall[k])
    print("mean validation score per schedule:", overall, "\nchosen:", chosen)
    write_result("finetune_tuning", {
        "versions": versions("ccl-embed", "torch", "onnxruntime", "numpy"),
        "folders": {n: FOLDERS[n].to_dict() for n in table},
        "rule": "the best mean over folders and seeds of (val category mean MAP + val instance mean R@10) / 2, "
                "scored through the runtime; test splits are not scored",
        "seeds": args.seeds, "grid": GRID, "validation": table, "mean_score": overall,
        "chosen": chosen, "chosen_schedule": GRID[chosen],
    })
    if args.write_recipe:
        write_schedule(GRID[chosen])


def write_schedule(schedule: dict[str, Any]) -> None:
    """The recipe's ``fine_tune`` section: stage 1 and fusion kept, stage 2 on ``schedule``."""
    record = json.loads(RECIPE_FILE.read_text())
    record["fine_tune"] = {"train": {"stage1_epochs": 0, "fusion_epochs": 0, **schedule}}
    RECIPE_FILE.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote the fine_tune section of {RECIPE_FILE}: {record['fine_tune']}")


if __name__ == "__main__":
    main()
