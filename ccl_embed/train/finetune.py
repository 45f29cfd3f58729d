"""Train on your own data: any folder ``ingest`` reads, to a model folder that serves directly.

:func:`fine_tune` starts from a model's trained CCL layers, its recipe and its readout (``default``,
an exported folder, or a folder this function wrote) and trains stage 2 on the folder's ``train``
split; without a base it trains the recipe from scratch. Either way the folder it writes is
exported (ONNX heads beside the base's backbones), calibrated for mixed search on the folder's
``val`` split, scored on its ``test`` split through the runtime, and keeps its PyTorch weights and
checkpoint, so ``--resume`` continues it and ``--from`` fine-tunes it again.

A folder is split by concept, deterministically and the same way in ``train`` and ``evaluate``
(``ccl_embed.data.splits``), unless its ``pairs.jsonl`` gives each line a ``split``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ccl_embed.data.corpus import Problem
from ccl_embed.evaluation import RetrievalScores
from ccl_embed.train.features import Progress
from ccl_embed.train.folder_data import read_training_folder, with_replay

@dataclass(frozen=True)
class FineTuned:
    """What :func:`fine_tune` returns: the model folder, its scores on the folder's test split
    (through the runtime) and on validation, and the problems skipped on the way."""

    folder: Path
    test: RetrievalScores
    val: RetrievalScores | None
    pairs: dict[str, int]
    skipped: tuple[Problem, ...]
    seconds: float
    map_missing: str | None = None
    """Why the test MAP means nothing (the folder has no labels), or None."""


def _base_network(base: str | Path) -> tuple[Any, Path]:
    """The trained network of a model (its PyTorch weights, or read back from its graphs) and its folder."""
    from ccl_embed.export.readback import read_back
    from ccl_embed.model.folder import WEIGHTS_FILE, load_model
    from ccl_embed.runtime.folder import resolve_model

    folder = resolve_model(base)
    return (load_model(folder) if (folder / WEIGHTS_FILE).is_file() else read_back(folder)), folder


def _licences(base: tuple[Path, Mapping[str, str]] | None, folder: Path, out: Path,
              replay: Path | None) -> dict[str, str]:
    """The licences of a trained folder: the base's (``(folder, its manifest's licences)``; its
    ``LICENSES.md`` copied beside), or the recipe's parts for a model trained from scratch, and the
    user's folder (and a replayed corpus) as training data."""
    import shutil

    from ccl_embed.train.recipe import read_recipe

    yours = f"{folder.name}: your own data, under its own licence"
    if replay is not None:
        yours += f"; replayed pairs from {replay.name}, under theirs (its SOURCES.json, where it has one)"
    if base is None:
        parts = dict(read_recipe()["release"].get("licences") or {})
        return {**{k: v for k, v in parts.items() if k != "training data"}, "training data": yours}
    base_folder, base_licences = base
    if (base_folder / "LICENSES.md").is_file():
        shutil.copyfile(base_folder / "LICENSES.md", out / "LICENSES.md")
    licences = dict(base_licences)
    earlier = licences.get("fine-tuning data")  # a fine-tuned base: both folders are training data now
    licences["fine-tuning data"] = yours if earlier in (None, yours) else f"{earlier}; {yours}"
    return licences


def fine_tune(
    folder: str | Path,
    out: str | Path,
    *,
    base: str | Path | None = "default",
    seed: int = 0,
    fit_on: str = "train",
    replay: str | Path | None = None,
    resume: bool = False,
    overrides: dict[str, object] | None = None,
    progress: Progress | None = None,
) -> FineTuned:
    """Train a model on a folder and write a folder that serves directly.

    Args:
        folder: Any folder ``ingest`` reads (see :func:`read_training_folder`).
        out: The model folder to write (exported, calibrated, with its weights and checkpoint).
        base: ``default``, an exported or trained model folder to fine-tune (its CCL layers, recipe
            and readout), or None to train the recipe from scratch.
        seed: Seed of initialisation, batch order and dropout.
        fit_on: ``train`` (test concepts stay unseen) or ``all`` (every pair; the test scores then
            mean nothing).
        replay: Another corpus (say the base's own training corpus, ``ccl-embed data build``) whose
            ``train`` split lends as many pairs as the folder trains on, so the model keeps more of
            what it knew (see docs/train.md for what it costs).
        resume: Continue an interrupted run from the checkpoint in ``out``.
        overrides: Settings on top of the base's (or the recipe's): sections or fields by name.
        progress: Wraps long loops (``(iterable, total, desc)``), e.g. tqdm.

    Raises:
        CorpusError: For a folder with no pairs or too few to split.
        CCLEmbedError: For a bad option or base.
    """
    import time

    from ccl_embed.evaluation import calibrate_model, evaluate_model, map_missing, scores_record
    from ccl_embed.export import export_model
    from ccl_embed.runtime.manifest import IMAGE_BACKBONE, TEXT_BACKBONE, TOKENIZER, read_manifest, write_manifest
    from ccl_embed.train.pipeline import require_training, train_model
    from ccl_embed.train.recipe import flat_changes
    from ccl_embed.train.towers import FolderTowers

    require_training()
    started = time.perf_counter()
    own = read_training_folder(folder)
    corpus = with_replay(own, replay, seed) if replay is not None else own
    counts = {**own.splits, **({"replayed": len(corpus.pairs) - len(own.pairs)} if replay is not None else {})}
    out = Path(out)
    changes = {**flat_changes(overrides or {}), "seed": seed}
    backbone_files, preprocessing, base_record = None, None, None
    if base is None:
        trained = train_model(corpus, out, overrides=changes, resume=resume, fit_on=fit_on, progress=progress)
    else:
        start, base_folder = _base_network(base)
        # the base's own backbones: the features its runtime feeds its heads, and the graphs it keeps
        towers = FolderTowers(base_folder, start.config.model.image_regions)
        trained = train_model(corpus, out, overrides=changes, start=start, towers=(towers.image(), towers.text()),
                              resume=resume, fit_on=fit_on, progress=progress)
        backbone_files = {name: base_folder / name for name in (IMAGE_BACKBONE, TEXT_BACKBONE, TOKENIZER)}
        base_manifest = read_manifest(base_folder)
        preprocessing, base_record = base_manifest.preprocessing, (base_folder, base_manifest.licences)
    export_model(out, name=out.name, backbone_files=backbone_files, preprocessing=preprocessing)
    features = trained.features
    val, test = (replace(corpus, pairs=tuple(p for p in features.pairs if p.split == name)) for name in ("val", "test"))
    scores, missing = evaluate_model(out, test), map_missing(test.pairs)
    manifest = read_manifest(out)
    key = "test" if fit_on == "train" else "test_seen_in_training"
    write_manifest(out, replace(manifest, metrics={key: scores_record(scores, missing)},
                                calibration=calibrate_model(out, [val]) if val.pairs else manifest.calibration,
                                licences=_licences(base_record, Path(folder), out, None if replay is None else Path(replay))))
    return FineTuned(out, scores, trained.val, counts, tuple(corpus.skipped) + tuple(features.problems),
                     time.perf_counter() - started, missing)
