"""Retrieval quality of every method on the same features and splits.

Writes ``benchmarks/results/quality.json`` and the tables in ``docs/results.md``.

    python benchmarks/research/quality.py [--corpus DIR] [--photos DIR] [--seeds 0 1 2] [--rows ccl cca ...]

The corpus defaults to ``<cache>/corpus`` (``ccl-embed data build``) and the photo sanity set to
``<cache>/photos`` (``ccl-embed data build photos --out ~/.cache/ccl-embed/photos``). Methods are
fitted on ``train`` (CCL validates on ``val``) and scored on ``test`` (concepts never seen in
training), ``style`` (OpenMoji, an art style never seen in training or validation) and
``photos`` (17 photographs). ``val``, ``style-val`` and ``photos-val`` (80 other photographs)
are recorded too: they are what choices were made on. Each number is the mean over seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rules import DOCS, RESULTS, chosen_config, command_line, file_sha256, semantic_choice, versions, write_result  # noqa: E402
from claims import effect_cell, paired_difference, reference_of, write_choices, write_claims  # noqa: E402

from ccl_embed.data.build import REPORT_FILE, SOURCES_FILE  # noqa: E402
from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.train.methods import CCL_VARIANTS  # noqa: E402
from ccl_embed.train.pipeline import open_workbench  # noqa: E402
from ccl_embed.train.towers import EfficientNetTower  # noqa: E402

ROWS = [(name, name, "minilm") for name in CCL_VARIANTS] + [  # (row name, method, text feature)
    ("cca", "cca", "minilm"),
    ("cca-bow", "cca", "bow"),
    ("infonce", "infonce", "minilm"),
    ("infonce-bow", "infonce", "bow"),
    ("supervised", "supervised", "minilm"),
    ("supervised-bow", "supervised", "bow"),
    ("conse", "conse", "minilm"),
]
SPLITS = ("val", "style-val", "style-val-3d", "test", "style", "style-3d")
"""Scored where the corpus has them (corpora built before the 3D-like styles were held out lack the -3d ones)."""
PHOTO_SPLITS = ("photos-val", "photos")
REPORTED = ("test", "style", "style-3d", "photos", "photos-val")
HELD_OUT = ("test", "style", "style-3d")
"""The target splits: unseen concepts and every held-out style."""
SEMANTIC_FREE = tuple(name for name, o in CCL_VARIANTS.items() if o.get("use_conse") is False)
"""CCL rows scored without the semantic part, which needs the ConSE input: the paper's own model
and ``ccl-no-conse``. Their ablation differences are taken against ``ccl-no-semantic``."""
LEGACY_SHIPPED_ROW = "ccl+semantic"
"""What the shipped configuration's row was called before it became ``ccl``: a merge drops it."""
METRICS = ("i2t_map", "t2i_map", "mean_map", "r1_i2t", "r10_i2t", "r1_t2i", "r10_t2i", "medr_i2t", "medr_t2i")


RESULT = "quality"
"""The one result file this script writes: ``results/quality.json``."""

def row_variants(row: str, method: str, semantic: dict[str, float],
                 retuned: dict[str, float] | None = None) -> list[tuple[str, dict[str, float] | None]]:
    """The rows one fit gives: (row name, semantic part applied when embedding, or None).

    Every CCL row is scored as the default model ships, with the zero-shot semantic part of the
    readout appended (the recipe, ``ccl_embed/train/recipe.json``), so that ``ccl`` is the shipped
    configuration and an ablation row differs from it in its one component; the ``ccl`` fit is
    scored without that part too, as ``ccl-no-semantic``, and, given ``retuned`` (settings
    tune_semantic.py chose that are not shipped yet), with them, as ``ccl-retuned``. Rows in
    :data:`SEMANTIC_FREE` and the baselines have none."""
    if not method.startswith("ccl") or row in SEMANTIC_FREE or not semantic:
        return [(row, None)]
    if row != "ccl":
        return [(row, semantic)]
    return [(row, semantic), ("ccl-no-semantic", None)] + ([("ccl-retuned", retuned)] if retuned else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus")
    parser.add_argument("--photos", type=Path, default=cache_dir() / "photos")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--rows", nargs="+", default=[r[0] for r in ROWS], help="Subset of rows to run.")
    parser.add_argument("--merge", action="store_true",
                        help="Keep the rows of the existing results/quality.json that this run does not measure.")
    parser.add_argument("--wait-pid", type=int, default=0, help="Before merging, wait for this process to end.")
    parser.add_argument("--ccl-overrides", default="{}",
                        help='CCLConfig fields (JSON) under every CCL row, e.g. \'{"stage2_epochs": 14}\'')
    parser.add_argument("--retuned", default=None, metavar="NAME",
                        help="Also score the ccl fits with the chosen_config of results/NAME.json (tune_semantic.py), "
                             "as the row ccl-retuned.")
    parser.add_argument("--tables-only", action="store_true",
                        help="Rewrite the tables (docs/results.md) from results/quality.json without measuring.")
    args = parser.parse_args()
    ccl_overrides = json.loads(args.ccl_overrides)
    if args.tables_only:
        record = json.loads((RESULTS / f"{RESULT}.json").read_text())
        write_table(record["results"], record["corpus"], record["command"])
        return

    benches, photo_benches = {}, {}
    results: dict[str, dict[str, dict[str, object]]] = {s: {} for s in (*SPLITS, *PHOTO_SPLITS)}
    semantic = semantic_choice()
    retuned = chosen_config(args.retuned) if args.retuned else None
    for row, method, text_feature in ROWS:
        if row not in args.rows:
            continue
        # the features a row reads: its text tower, and its image region scheme
        regions = (str(CCL_VARIANTS[method].get("image_regions", ccl_overrides.get("image_regions", "quadrants")))
                   if method in CCL_VARIANTS else "quadrants")
        key = (text_feature, regions)
        if key not in benches:
            tower = EfficientNetTower(regions=regions)
            benches[key] = open_workbench(args.corpus, text_feature=text_feature, image_tower=tower)
            if args.photos.exists():
                photo_benches[key] = open_workbench(args.photos, text_tower=benches[key].text_tower, image_tower=tower)
        bench = benches[key]
        present = {p.split for p in bench.features.pairs}
        variants = row_variants(row, method, semantic, retuned)
        runs: dict[str, dict[str, list[dict[str, float]]]] = {v: {s: [] for s in results} for v, _ in variants}
        for seed in args.seeds:
            bench.seed = seed
            encoders, fit_s = bench.fit(method, ccl_overrides=ccl_overrides)
            trained = getattr(getattr(encoders, "model", None), "config", None)
            for name, choice in variants:
                if trained is not None:  # each variant starts from the fitted config, never from the previous variant's
                    encoders.model.config = replace(trained, **(choice or {}))  # type: ignore[attr-defined]
                for split in (s for s in SPLITS if s in present):
                    runs[name][split].append(bench.score(encoders, split).to_dict() | {"fit_seconds": fit_s})
                for split in PHOTO_SPLITS if key in photo_benches else ():
                    scores = photo_benches[key].score(encoders, split)
                    runs[name][split].append(scores.to_dict() | {"fit_seconds": fit_s})
        for name, choice in variants:
            for split, split_runs in runs[name].items():
                if not split_runs:
                    continue
                mean = {k: float(np.mean([r[k] for r in split_runs])) for k in split_runs[0]}
                entry: dict[str, object] = {"method": method, "text_feature": text_feature, **mean}
                if regions != "quadrants":
                    entry["image_regions"] = regions
                if choice is not None:
                    entry["semantic"] = choice
                if name == "ccl-retuned":
                    entry["note"] = (f"the ccl fits scored with the semantic settings chosen on validation in "
                                     f"results/{args.retuned}.json (its chosen_config, this entry's `semantic`); not "
                                     "shipped until the default model is rebuilt with them")
                entry["seeds"] = list(args.seeds)
                entry["command"] = command_line()
                entry["per_seed"] = {k: [float(r[k]) for r in split_runs] for k in METRICS}  # for paired differences
                if len(split_runs) > 1:
                    entry["std"] = {k: float(np.std([r[k] for r in split_runs], ddof=1)) for k in METRICS}
                    entry["std_kind"] = "sample"
                results[split][name] = entry
            line = " ".join(f"{s} {results[s][name]['i2t_map']:.4f}/{results[s][name]['t2i_map']:.4f}"
                            for s in (*SPLITS, *PHOTO_SPLITS) if name in results[s])
            print(f"{name:18s} {line}", flush=True)

    while args.wait_pid and Path(f"/proc/{args.wait_pid}").exists():  # another run still writing
        import time

        time.sleep(5)
    relabelled = None
    if args.merge and (RESULTS / f"{RESULT}.json").exists():
        record = json.loads((RESULTS / f"{RESULT}.json").read_text())
        old, relabelled = record["results"], record.get("relabelled")  # renames of rows survive a merge
        order = [r[0] for r in ROWS] + ["ccl-no-semantic", "ccl-retuned"]
        for split in results:
            merged = {**old.get(split, {}), **results[split]}
            if "ccl" in results[split]:  # a record from before `ccl` was the shipped configuration
                merged.pop(LEGACY_SHIPPED_ROW, None)
            results[split] = {k: merged[k] for k in sorted(merged, key=lambda r: order.index(r) if r in order else 99)}

    features = next(iter(benches.values())).features
    corpus = {
        "path": str(args.corpus),
        "pairs_sha256": file_sha256(args.corpus / "pairs.jsonl"),
        "pairs": len(features),
        "splits": {s: sum(p.split == s for p in features.pairs) for s in ("train", *SPLITS)},
        "photos_pairs_sha256": file_sha256(args.photos / "pairs.jsonl") if args.photos.exists() else None,
        "build": json.loads((args.corpus / REPORT_FILE).read_text()) if (args.corpus / REPORT_FILE).exists() else None,
        "sources": json.loads((args.corpus / SOURCES_FILE).read_text()) if (args.corpus / SOURCES_FILE).exists() else None,
    }
    payload = {
        "versions": versions("ccl-embed", "torch", "onnxruntime", "numpy", "scikit-learn", "transformers", "pillow", "resvg-py"),
        "seeds": args.seeds,
        "ccl_overrides": ccl_overrides,
        "corpus": corpus,
        "towers": {"image": "efficientnet-lite0 (ImageNet)", "text": {k[0]: b.text_tower.id for k, b in benches.items()}},
        "results": results,
        **({"relabelled": relabelled} if relabelled else {}),
    }
    path = write_result(RESULT, payload)
    doc = write_table(results, corpus, json.loads(path.read_text())["command"])
    print(f"wrote {path} and {doc}")


SPLIT_TITLES = {
    "test": "Split `test`: concepts never seen in training",
    "style": "Split `style`: OpenMoji, an art style never seen in training or validation (its concepts and texts mostly are)",
    "style-3d": "Split `style-3d`: the Fluent 3D renders, a 3D-like style never seen in training or validation (its concepts and texts mostly are)",
    "photos": "Photo sanity set: 17 photographs (instance retrieval; chance MAP is about 0.2)",
    "photos-val": "Photo validation set: 80 other photographs (the ImageNet bridge was tuned on it; not a target)",
}


TABLE_METRICS = (("i2t_map", "MAP I->T"), ("t2i_map", "MAP T->I"), ("r10_i2t", "R@10 I->T"), ("r10_t2i", "R@10 T->I"))
"""Both metrics, both directions: category MAP (the paper's protocol) and instance R@10."""


def write_table(results: dict[str, dict[str, dict[str, object]]], corpus: dict[str, object],
                command: str = "python benchmarks/research/quality.py") -> Path:
    """Write the measured tables of docs/results.md (the prose around them lives in docs/analysis.md).
    Returns the file written."""
    home = str(Path.home())
    built = str(corpus.get("path") or "~/.cache/ccl-embed/corpus-aug").replace(home, "~", 1)
    base = built[: -len("-aug")] if built.endswith("-aug") else built
    lines = [
        "# Results",
        "",
        "<!-- Written by benchmarks/research/quality.py from benchmarks/results/quality.json; do not edit by hand. -->",
        "",
        "Cross-modal retrieval scored the paper's way: MAP over the whole ranking with category",
        "relevance, image->text (I->T) and text->image (T->I); R@1 and R@10 with instance relevance (the",
        "query's own pair: what a user searching for one thing feels). Every method",
        "uses the same frozen features (EfficientNet-Lite0; MiniLM or bag of words) and the same splits.",
        "What the numbers mean and what was tried: [analysis.md](analysis.md).",
        "",
        f"Corpus: {corpus['pairs']} pairs, splits {corpus['splits']}, pairs.jsonl sha256 "
        f"`{str(corpus['pairs_sha256'])[:16]}`. Each row is one run with seed 0 unless it names its seeds; then its "
        "MAP is their mean +- their sample standard deviation (n - 1).",
        "",
        "Every method is trained on the same train split: "
        + ("the corpus's, plus two style-augmented copies of each training image (`ccl-embed data augment`)."
           if "aug" in str(corpus.get("path", "")) else "the corpus's."),
        "",
        f"Regenerate: `ccl-embed data build --out {base} && ccl-embed data build photos --out "
        f"~/.cache/ccl-embed/photos-v2 && ccl-embed data augment {base} --out {built} && {command}`.",
        "",
    ]
    commands = sorted({str(r["command"]) for rows in results.values() for r in rows.values() if "command" in r} - {command})
    if commands:
        lines += ["Some rows were measured by an earlier run (each row's command is in quality.json):", "",
                  *[f"- `{c}`" for c in commands], ""]
    for split in REPORTED:
        rows = results.get(split) or {}
        if not rows:
            continue
        lines += [f"## {SPLIT_TITLES[split]}", "",
                  "| method | text feature | MAP I->T | MAP T->I | mean MAP | R@1 I->T | R@1 T->I | R@10 I->T | R@10 T->I | fit s |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        best = {k: max(float(r[k]) for r in rows.values()) for k in ("i2t_map", "t2i_map", "r10_i2t", "r10_t2i")}  # type: ignore[arg-type]
        mark = lambda r, k: " **best**" if float(r[k]) == best[k] else ""  # noqa: E731
        for row, r in rows.items():
            std = r.get("std") or {}
            spread = {k: f" +- {std[k]:.4f}" if k in std else "" for k in ("i2t_map", "t2i_map")}  # type: ignore[index, operator]
            i2t = f"{r['i2t_map']:.4f}{spread['i2t_map']}" + mark(r, "i2t_map")
            t2i = f"{r['t2i_map']:.4f}{spread['t2i_map']}" + mark(r, "t2i_map")
            label = f"{row} ({len(r['seeds'])} seeds)" if len(r.get("seeds") or [0]) > 1 else row  # type: ignore[arg-type]
            lines.append(f"| {label} | {r['text_feature']} | {i2t} | {t2i} | {r['mean_map']:.4f} | "
                         f"{r['r1_i2t']:.3f} | {r['r1_t2i']:.3f} | {r['r10_i2t']:.3f}{mark(r, 'r10_i2t')} | "
                         f"{r['r10_t2i']:.3f}{mark(r, 'r10_t2i')} | {r['fit_seconds']:.1f} |")
        lines.append("")
    lines += component_table(results) + shipped_table()
    doc = DOCS / "results.md"
    doc.write_text("\n".join(lines))
    write_claims(DOCS / "analysis.md", results, HELD_OUT)
    write_choices(DOCS / "analysis.md", results)
    return doc


def shipped_table() -> list[str]:
    """The shipped (int8) default model, scored end to end through the runtime, from results/default_model.json."""
    path = RESULTS / "default_model.json"
    if not path.exists():
        return []
    record = json.loads(path.read_text())
    seen = record.get("fit_on", "train") != "train"
    test = "test (seen in training: a release refit)" if seen else "test"
    rows = [(test, "shipped model", record["test_shipped"]), (test, "same model, fp32", record["test_fp32"])]
    for split, r in (record.get("photos") or {}).items():
        rows += [(split, "shipped model", r["shipped"]), (split, "conse", r["conse"])]
    lines = ["## The shipped default model, end to end", "",
             f"Written by `{record['command']}` into results/default_model.json: images and texts go through the",
             "runtime (ONNX graphs, int8 where kept, per-item), not through the training-side features.", "",
             "| split | what | MAP I->T | MAP T->I |", "|---|---|---|---|"]
    lines += [f"| {split} | {what} | {r['i2t_map']:.4f} | {r['t2i_map']:.4f} |" for split, what, r in rows]
    if seen:
        lines += ["", "The shipped model is refit on every pair of every split and style, so its test numbers check the "
                  "export and int8, not held-out quality; the tables above are the protocol model's (trained on `train`)."]
    return lines + [""]


def component_table(results: dict[str, dict[str, dict[str, object]]]) -> list[str]:
    """The targets (is CCL best?) and what each ablated component is worth, computed from the results."""
    lines: list[str] = []
    splits = [s for s in HELD_OUT if "ccl" in results.get(s, {})]
    if not splits:
        return lines
    beside = [r for r in ("ccl-no-semantic", "ccl-retuned") if r in results[splits[0]]]
    lines += ["## Targets", "",
              "`ccl` is the configuration of the shipped default model: CCL with the zero-shot part appended, "
              "and the ImageNet bridge for images unlike the training images, weighed by their novelty (see docs/model.md). "
              "`ccl-no-semantic` is the same fitted model without that part"
              + ("; `ccl-retuned` the same fits with semantic settings chosen since, not yet shipped." if "ccl-retuned" in beside
                 else "."), "",
              "| split | metric | best CCL-free method | its score | ccl (shipped) | best? | "
              + "".join(f"{r} | best? | " for r in beside).rstrip() ,
              "|---|---|---|---|---|---|" + "---|---|" * len(beside)]
    for split in [s for s in (*HELD_OUT, "photos") if "ccl" in results.get(s, {})]:
        rows = results[split]
        for key, name in TABLE_METRICS:
            others = {r: v for r, v in rows.items() if not r.startswith("ccl")}
            if not others:
                continue
            best = max(others, key=lambda r: float(others[r][key]))  # type: ignore[arg-type]
            theirs = float(others[best][key])  # type: ignore[arg-type]
            cells = []
            for r in ("ccl", *beside):
                v = rows.get(r)
                cells.append(f"{float(v[key]):.4f} | {'yes' if float(v[key]) > theirs else 'no'}" if v else "n/a | n/a")  # type: ignore[arg-type]
            lines.append(f"| {split} | {name} | {best} | {theirs:.4f} | {' | '.join(cells)} |")
    ablations = sorted((r for r in results[splits[0]] if r.startswith("ccl-")), key=lambda r: r == "ccl-no-semantic")
    if not ablations:
        lines += ["", "No ablation row was measured on this corpus (the paper-fidelity work re-runs them).", ""]
        return lines
    lines += ["", "## What each component brings", "",
              "Each row's difference from its reference (negative: what it removes helps): `ccl`, or "
              "`ccl-no-semantic` for rows that cannot carry the semantic part (it needs the ConSE input), or, "
              "for a row measured around an earlier base configuration, that base's row, which its entry names. "
              "Where both rows ran the same seeds, the difference is paired per seed: the mean of the seeds' "
              "differences +- their sample standard deviation; one seed gives the difference alone.", "",
              "| row | reference | seeds | " + " | ".join(f"{s} {name}" for s in splits for _, name in TABLE_METRICS) + " |",
              "|---|---|---|" + "---|" * (len(TABLE_METRICS) * len(splits))]
    for row in ablations:
        first = results[splits[0]][row]
        reference = reference_of(results[splits[0]], row)
        cells = []
        for split in splits:
            abl, ref = results[split].get(row), results[split].get(reference)
            for key, _ in TABLE_METRICS:
                cells.append(difference_cell(abl, ref, key) if abl and ref else "n/a")
        lines.append(f"| {row} | {reference} | {len(first.get('seeds') or [0])} | " + " | ".join(cells) + " |")  # type: ignore[arg-type]
    lines.append("")
    return lines


def difference_cell(row: dict[str, object], reference: dict[str, object], key: str) -> str:
    return effect_cell(*paired_difference(row, reference, key))


if __name__ == "__main__":
    main()
