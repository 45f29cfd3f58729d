"""Retrieval quality of every method on the same features and splits.

Writes ``benchmarks/results/quality.json`` and the table in ``docs/results.md``.

    python benchmarks/quality.py [--corpus DIR] [--seeds 0 1 2]

The corpus defaults to ``<cache>/corpus`` as built by ``ccl-embed data build``. Methods are fitted
on ``train`` (tuned, where at all, on ``val``) and scored on ``test`` (concepts never seen in
training) and ``style`` (the held-out art style). Each row's numbers are the mean over seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DOCS, file_sha256, versions, write_result  # noqa: E402

from ccl_embed.data.build import REPORT_FILE, SOURCES_FILE  # noqa: E402
from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.train.pipeline import open_workbench  # noqa: E402

ROWS = [  # (row name, method, text feature)
    ("cca", "cca", "minilm"),
    ("cca-bow", "cca", "bow"),
    ("infonce", "infonce", "minilm"),
    ("infonce-bow", "infonce", "bow"),
    ("conse", "conse", "minilm"),
]
SPLITS = ("test", "style")
METRICS = ("i2t_map", "t2i_map", "mean_map", "r1_i2t", "r10_i2t", "r1_t2i", "r10_t2i", "medr_i2t", "medr_t2i")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--rows", nargs="+", default=[r[0] for r in ROWS], help="Subset of rows to run.")
    args = parser.parse_args()

    benches = {}
    results: dict[str, dict[str, dict[str, object]]] = {s: {} for s in SPLITS}
    for row, method, text_feature in ROWS:
        if row not in args.rows:
            continue
        if text_feature not in benches:
            benches[text_feature] = open_workbench(args.corpus, text_feature=text_feature)
        bench = benches[text_feature]
        runs_by_split: dict[str, list[dict[str, float]]] = {s: [] for s in SPLITS}
        for seed in args.seeds:
            bench.seed = seed
            encoders, fit_s = bench.fit(method)
            for split in SPLITS:
                runs_by_split[split].append(bench.score(encoders, split).to_dict() | {"fit_seconds": fit_s})
        for split, runs in runs_by_split.items():
            mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
            entry: dict[str, object] = {"method": method, "text_feature": text_feature, **mean}
            if len(runs) > 1:
                entry["std"] = {k: float(np.std([r[k] for r in runs])) for k in METRICS}
            results[split][row] = entry
            print(f"{row:14s} {split:6s} i2t {mean['i2t_map']:.4f} t2i {mean['t2i_map']:.4f} "
                  f"R@10 {mean['r10_i2t']:.3f}/{mean['r10_t2i']:.3f} fit {mean['fit_seconds']:.1f}s", flush=True)

    features = next(iter(benches.values())).features
    corpus = {
        "path": str(args.corpus),
        "pairs_sha256": file_sha256(args.corpus / "pairs.jsonl"),
        "pairs": len(features),
        "splits": {s: sum(p.split == s for p in features.pairs) for s in ("train", "val", "test", "style")},
        "build": json.loads((args.corpus / REPORT_FILE).read_text()) if (args.corpus / REPORT_FILE).exists() else None,
        "sources": json.loads((args.corpus / SOURCES_FILE).read_text()) if (args.corpus / SOURCES_FILE).exists() else None,
    }
    payload = {
        "versions": versions("ccl-embed", "torch", "onnxruntime", "numpy", "scikit-learn", "transformers", "pillow", "resvg-py"),
        "seeds": args.seeds,
        "corpus": corpus,
        "towers": {"image": "efficientnet-lite0 (ImageNet)", "text": {k: b.text_tower.id for k, b in benches.items()}},
        "results": results,
    }
    path = write_result("quality", payload)
    write_table(results, args.seeds, corpus)
    print(f"wrote {path} and {DOCS / 'results.md'}")


def write_table(results: dict[str, dict[str, dict[str, object]]], seeds: list[int], corpus: dict[str, object]) -> None:
    """Write docs/results.md from the measured numbers (never edit it by hand)."""
    lines = [
        "# Results",
        "",
        "<!-- Written by benchmarks/quality.py from benchmarks/results/quality.json; do not edit by hand. -->",
        "",
        "Cross-modal retrieval on the project's corpus (see [data.md](data.md)), scored the paper's way:",
        "MAP over the whole ranking with category relevance, image->text (I->T) and text->image (T->I);",
        "R@10 with instance relevance. `test`: concepts never seen in training. `style`: OpenMoji, an art",
        "style never seen in training or validation.",
        "",
        f"Corpus: {corpus['pairs']} pairs, splits {corpus['splits']}, pairs.jsonl sha256 `{str(corpus['pairs_sha256'])[:16]}`. "
        f"Seeds: {seeds}.",
        "",
        "Regenerate: `ccl-embed data build --out ~/.cache/ccl-embed/corpus && python benchmarks/quality.py`.",
        "",
    ]
    for split, rows in results.items():
        lines += [f"## Split `{split}`", "", "| method | text feature | MAP I->T | MAP T->I | mean MAP | R@10 I->T | R@10 T->I | fit s |",
                  "|---|---|---|---|---|---|---|---|"]
        for row, r in rows.items():
            lines.append(f"| {row} | {r['text_feature']} | {r['i2t_map']:.4f} | {r['t2i_map']:.4f} | {r['mean_map']:.4f} | "
                         f"{r['r10_i2t']:.3f} | {r['r10_t2i']:.3f} | {r['fit_seconds']:.1f} |")
        lines.append("")
    (DOCS / "results.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
