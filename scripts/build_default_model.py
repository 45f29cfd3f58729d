"""Build the default model shipped inside the package: train, export, quantize, measure, copy.

    python scripts/build_default_model.py [--recipe ccl_embed/train/recipe.json] [--out ccl_embed/models/default]

A release script, outside the installed package. Every setting comes from the recipe
(``ccl_embed/train/recipe.json``, the file ``ccl-embed train`` reads too; docs/model.md says where
each was chosen); what the release trains on is its ``release`` section. No benchmark result is
read as configuration. Needs the ``train`` and ``export`` extras and the corpora of
``ccl-embed data build`` / ``data augment`` in the cache.

1. trains the recipe on the corpus's ``train`` split, or on every pair when ``fit_on`` is ``all``
   (a release refit; skipped when the work folder already holds a model trained with the recipe);
2. exports the model (ONNX, parity-checked against PyTorch, with its manifest). It then measures the mixed-search calibration on the ``calibrate_on`` validation splits
   (``[source, split]`` pairs, the source ``corpus`` or ``photos``, each counting equally; default
   the corpus's ``val``) and records it in the manifest (``ccl_embed.runtime.calibration``);
3. makes int8 variants (``ccl_embed.export.quantize``) of the config's ``int8.candidates`` and
   keeps each only if the test MAP drops by at most ``max_test_map_drop`` in each direction and
   the photos-val mean MAP by at most ``max_photos_val_mean_map_drop``, measured end to end with
   the runtime (``ccl_embed.evaluation.evaluate_model``);
4. keeps the previous shipped bytes of every graph whose outputs are unchanged (a re-export
   that differs only in metadata would add megabytes to git history for nothing), so backbone
   graphs change only when a backbone does;
5. copies the runtime files, the manifest (hashes, metrics, licences) and ``LICENSES.md`` to
   ``--out`` and writes ``benchmarks/results/default_model.json``, with the shipped model's
   scores on the photo sets beside zero-shot ConSE's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # a script: its helper lies beside it, not installed
from _record import versions, write_result  # noqa: E402

from ccl_embed.data.corpus import read_corpus  # noqa: E402
from ccl_embed.errors import CCLEmbedError  # noqa: E402
from ccl_embed.model.config import CCLConfig  # noqa: E402
from ccl_embed.evaluation import RetrievalScores, calibrate_model, evaluate_model  # noqa: E402
from ccl_embed.model.folder import read_config  # noqa: E402
from ccl_embed.runtime.folder import read_runtime  # noqa: E402
from ccl_embed.runtime.manifest import MANIFEST_FILE, RUNTIME_FILES, Manifest, read_manifest, write_manifest  # noqa: E402
from ccl_embed.train.recipe import RECIPE_FILE, read_recipe  # noqa: E402

PACKAGE_MODEL = ROOT / "ccl_embed" / "models" / "default"


def trained_differently(work: Path, config: CCLConfig) -> str:
    """How the model in ``work`` was configured differently from ``config`` (``field: saved, wanted``,
    the first few; seeds included), or "" when it was configured the same way."""
    saved, wanted = read_config(work)[0].flat(), config.flat()
    diff = [f"{k}: {saved[k]!r}, wanted {wanted[k]!r}" for k in sorted(wanted) if saved[k] != wanted[k]]
    return "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")


def load_release(path: Path) -> tuple[dict[str, Any], CCLConfig, str]:
    """The recipe's ``release`` section (paths expanded), its config and its name; a one-line
    error for a bad recipe."""
    try:
        recipe = read_recipe(path)
        release, config, name = dict(recipe["release"]), CCLConfig.from_dict(recipe["config"]), str(recipe["name"])
    except (CCLEmbedError, KeyError, ValueError) as e:
        sys.exit(f"error: {path}: not a recipe with a config, a release section and a name ({e})")
    for key in ("corpus", "photos", "work"):
        release[key] = Path(release[key]).expanduser()
    return release, config, name


def scores(model: Path, corpus: Path, split: str) -> RetrievalScores:
    return evaluate_model(model, read_corpus(corpus).split(split))


def conse_scores(photos: Path, splits: tuple[str, ...]) -> dict[str, RetrievalScores]:
    """Zero-shot ConSE on the same images and texts, from the training-side features."""
    from ccl_embed.train.baselines.conse import fit_conse
    from ccl_embed.train.pipeline import open_workbench

    bench = open_workbench(photos)
    class_vectors = bench.context().class_vectors
    if class_vectors is None:
        sys.exit("error: the workbench has no ImageNet class vectors; is the train extra installed?")
    conse = fit_conse(bench.split(splits[0]), class_vectors=class_vectors())  # no training: any split will do
    return {split: bench.score(conse, split) for split in splits}


UNCHANGED_ATOL = 1e-6
UNCHANGED_RTOL = 1e-5
"""A graph whose outputs differ from the previous shipped one's by at most ``UNCHANGED_ATOL +
UNCHANGED_RTOL * max|output|`` is unchanged: a re-export reorders float sums, and the image
backbone's feature map (values up to 6) then moves by about 1e-5."""


def _probe_feeds(session: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for any graph, shaped from its declared inputs (dynamic axes: 2 and 5)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) else (2 if k == 0 else 5) for k, d in enumerate(i.shape)]
        if "int64" in i.type:
            feeds[i.name] = rng.integers(0, 1000, shape).astype(np.int64)
        elif i.name.endswith("mask"):
            feeds[i.name] = np.ones(shape, dtype=np.int64 if "int64" in i.type else np.float32)
        else:
            feeds[i.name] = rng.normal(size=shape).astype(np.float32)
    return feeds


def same_outputs(a: Path, b: Path) -> bool:
    """Whether two ONNX graphs (or two tokenizers) behave the same on probe inputs."""
    if a.read_bytes() == b.read_bytes():
        return True
    if a.suffix == ".json":
        return bool(json.loads(a.read_text()) == json.loads(b.read_text()))
    from ccl_embed.runtime.session import make_session

    sa, sb = make_session(a, "cpu"), make_session(b, "cpu")
    if [(i.name, i.shape) for i in sa.get_inputs()] != [(i.name, i.shape) for i in sb.get_inputs()]:
        return False
    feeds = _probe_feeds(sa)
    return all(x.shape == y.shape
               and float(np.abs(x - y).max()) <= UNCHANGED_ATOL + UNCHANGED_RTOL * float(np.abs(x).max())
               for x, y in zip(sa.run(None, feeds), sb.run(None, feeds)))


def keep_unchanged(stage: Path, previous: Path) -> list[str]:
    """Put the previous folder's bytes in ``stage`` for every runtime file that behaves the same."""
    kept = []
    for name in RUNTIME_FILES:
        old, new = previous / name, stage / name
        if old.is_file() and new.is_file() and old.read_bytes() != new.read_bytes() and same_outputs(old, new):
            shutil.copyfile(old, new)
            kept.append(name)
    return kept


def rewrite(folder: Path, **changes: Any) -> Manifest:
    """Re-hash a folder's files into its manifest, with other fields changed too."""
    manifest = replace(read_manifest(folder), files=Manifest.hash_files(folder), **changes)
    write_manifest(folder, manifest)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", type=Path, default=RECIPE_FILE, help="The recipe (checked in).")
    parser.add_argument("--out", type=Path, default=PACKAGE_MODEL, help="Where the shipped folder is written.")
    args = parser.parse_args()
    config, recipe, name = load_release(args.recipe)
    from ccl_embed.export import export_model
    from ccl_embed.export.quantize import quantize_int8
    from ccl_embed.model.folder import CONFIG_FILE, WEIGHTS_FILE
    from ccl_embed.train import train_model

    work, corpus, photos = config["work"], config["corpus"], config["photos"]
    if (work / WEIGHTS_FILE).exists():
        stale = trained_differently(work, recipe)
        if stale:
            sys.exit(f"error: {work} holds a model trained with other settings ({stale}); delete that folder to "
                     "train anew, or point the recipe's release.work elsewhere")
    else:
        train_model(corpus, work, recipe=args.recipe, fit_on=config.get("fit_on", "train"))
    reports = export_model(work, name=name)
    sources = {"corpus": corpus, "photos": photos}
    calibrate_on = config.get("calibrate_on", [["corpus", "val"]])
    calibration = calibrate_model(work, [read_corpus(sources[src]).split(split) for src, split in calibrate_on])
    write_manifest(work, replace(read_manifest(work), calibration=calibration))
    print("calibration (related cosine, mean +- std): " + ", ".join(f"{k} {m:.3f} +- {s:.3f}"
                                                                   for k, (m, s) in calibration.items()), flush=True)
    fp32 = scores(work, corpus, "test")
    print(f"fp32 test MAP {fp32.i2t_map:.4f}/{fp32.t2i_map:.4f}", flush=True)
    has_photos = (photos / "pairs.jsonl").exists()
    fp32_photos = scores(work, photos, "photos-val") if has_photos else None

    bounds = config["int8"]
    stage = work.parent / "default-int8"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    for f in (*RUNTIME_FILES, MANIFEST_FILE):
        shutil.copyfile(work / f, stage / f)
    kept: list[str] = []
    trials: dict[str, dict[str, float]] = {}
    for name in bounds["candidates"]:
        graph, backup = stage / name, stage / (name + ".fp32")
        shutil.copyfile(graph, backup)
        quantize_int8(backup, graph)
        rewrite(stage, quantized_int8=(*kept, name))
        s = scores(stage, corpus, "test")
        drop = max(fp32.i2t_map - s.i2t_map, fp32.t2i_map - s.t2i_map)
        trials[name] = {"i2t_map": s.i2t_map, "t2i_map": s.t2i_map, "map_drop": drop, "mb": graph.stat().st_size / 2**20}
        photo_drop = 0.0
        if fp32_photos is not None:
            p = scores(stage, photos, "photos-val")
            photo_drop = fp32_photos.mean_map - p.mean_map
            trials[name] |= {"photos_val_i2t_map": p.i2t_map, "photos_val_t2i_map": p.t2i_map, "photos_val_map_drop": photo_drop}
        print(f"int8 {name}: test MAP {s.i2t_map:.4f}/{s.t2i_map:.4f} (drop {drop:+.4f}), photos-val drop {photo_drop:+.4f}",
              flush=True)
        if drop <= bounds["max_test_map_drop"] and photo_drop <= bounds["max_photos_val_mean_map_drop"]:
            kept.append(name)
        else:
            shutil.copyfile(backup, graph)
        backup.unlink()
    unchanged = keep_unchanged(stage, args.out) if args.out.is_dir() else []
    print(f"previous bytes kept (same outputs): {unchanged or 'none'}", flush=True)
    rewrite(stage, quantized_int8=tuple(kept))
    final = scores(stage, corpus, "test")  # what ships, as it ships
    # A release refit has trained on the test split: its scores there check the export and int8,
    # they are not held-out quality (that is the protocol model's, in quality.json).
    key = "test" if config.get("fit_on", "train") == "train" else "test_seen_in_training"
    rewrite(stage, quantized_int8=tuple(kept), licences=dict(config["licences"]),
            metrics={key: final.to_dict(), f"{key}_fp32": fp32.to_dict()})

    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for f in (*RUNTIME_FILES, MANIFEST_FILE):
        shutil.copyfile(stage / f, out / f)
    shutil.copyfile(work / CONFIG_FILE, out / CONFIG_FILE)  # the training record: what was trained, and how
    shutil.copyfile(ROOT / config["licences_file"], out / "LICENSES.md")
    read_runtime(out)  # every hash checked
    size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
    print(f"shipped {out}: {size:.1f} MB, int8: {kept}", flush=True)
    if size > config["max_shipped_mb"]:
        sys.exit(f"error: the shipped model is {size:.1f} MB, over the {config['max_shipped_mb']} MB budget")

    photo_rows: dict[str, object] = {}
    if has_photos:
        for split, c in conse_scores(photos, ("photos-val", "photos")).items():
            shipped = scores(out, photos, split)
            photo_rows[split] = {"shipped": shipped.to_dict(), "conse": c.to_dict()}
            print(f"{split}: shipped {shipped.i2t_map:.4f}/{shipped.t2i_map:.4f}, conse {c.i2t_map:.4f}/{c.t2i_map:.4f}",
                  flush=True)
    write_result("default_model", {
        "versions": versions("ccl-embed", "torch", "onnxruntime", "onnx", "numpy"),
        "recipe": str(args.recipe.relative_to(ROOT) if args.recipe.is_relative_to(ROOT) else args.recipe),
        "corpus": str(corpus), "fit_on": config.get("fit_on", "train"), "config": recipe.to_dict(),
        "test_fp32": fp32.to_dict(), "test_shipped": final.to_dict(),
        "int8_trials": trials, "int8_kept": kept, "previous_bytes_kept": unchanged, "max_int8_map_drop": bounds["max_test_map_drop"],
        "max_int8_photo_drop": bounds["max_photos_val_mean_map_drop"],
        "int8_scheme": "per-row int8 embedding tables; dynamic int8 MatMul, per-channel weights", "shipped_mb": size,
        "photos": photo_rows,
        "parity": [r.__dict__ for r in reports],
    }, program="scripts/build_default_model.py")


if __name__ == "__main__":
    main()
