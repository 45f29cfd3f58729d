"""From a corpus folder to a model or to scores: features, fitting on ``train``, scoring on a split.

:func:`train_model` and :func:`evaluate` are what the CLI, the benchmarks and the release build
call; both name the pip command when the ``train`` extra is missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ccl_embed.data.corpus import Corpus, read_corpus
from ccl_embed.data.splits import FIXED_SPLITS, SplitConfig, assign_splits
from ccl_embed.errors import CCLEmbedError, require
from ccl_embed.evaluation import RetrievalScores
from ccl_embed.paths import cache_dir
from ccl_embed.train.baselines import FitContext
from ccl_embed.train.methods import CCL_VARIANTS, METHODS, ccl_fit
from ccl_embed.train.cache import FeatureCache
from ccl_embed.train.evaluate import Encoders, evaluate_method
from ccl_embed.train.features import FeatureSet, Progress, encode_texts, extract_features
from ccl_embed.train.towers import BowTower, EfficientNetTower, ImageTower, MiniLMTower, TextTower

TEXT_FEATURES: dict[str, Callable[[], TextTower]] = {"minilm": MiniLMTower, "bow": BowTower}


FIT_ON = ("train", "all")
"""What :func:`train_model` trains on: the train split (the protocol) or every pair (a release refit)."""


def require_training() -> None:
    """The one entry check of training: torch must be installed.

    Raises:
        MissingDependencyError: Naming ``pip install torch==2.13.0 'ccl-embed[train]'``.
    """
    require("torch", "train")


@dataclass
class Workbench:
    """A corpus's features plus what fitting needs, built once and reused across methods."""

    features: FeatureSet
    text_tower: TextTower
    cache_path: Path
    seed: int = 0
    image_tower_id: str = ""

    def context(self) -> FitContext:
        def class_vectors() -> np.ndarray:
            from ccl_embed.train.imagenet import class_names

            names = list(class_names())
            with FeatureCache(self.cache_path) as cache:
                vec = encode_texts(names, self.text_tower, cache)
            return np.stack([vec[n] for n in names])

        return FitContext(class_vectors=class_vectors, seed=self.seed)

    def fit(self, method: str, val_split: str = "val", ccl_overrides: dict[str, object] | None = None) -> tuple[Encoders, float]:
        """Fit ``method`` on the ``train`` split; returns the encoders and the seconds it took.

        Args:
            method: A baseline, ``ccl`` or an ablation.
            val_split: The split used for validation while training.
            ccl_overrides: CCLConfig fields applied under every CCL variant's own (ignored by baselines).

        Raises:
            CCLEmbedError: For an unknown method or a corpus without a train split.
        """
        if method not in METHODS:
            raise CCLEmbedError(f"unknown method {method!r}; choose from: {', '.join(sorted(METHODS))}")
        fit = METHODS[method]
        if ccl_overrides and method in CCL_VARIANTS:
            from ccl_embed.model.config import CCLConfig

            fit = ccl_fit(CCL_VARIANTS[method], base=CCLConfig.from_dict(dict(ccl_overrides)))
        train = self.split("train")
        val = self.features.split(val_split)
        start = time.perf_counter()
        encoders = fit(train, val if len(val) else None, self.context())
        return encoders, time.perf_counter() - start

    def split(self, name: str) -> FeatureSet:
        """The features of one split.

        Raises:
            CCLEmbedError: When the corpus has no pair in that split.
        """
        rows = self.features.split(name)
        if len(rows) == 0:
            have = sorted({p.split or "unsplit" for p in self.features.pairs})
            raise CCLEmbedError(f"the corpus has no pair in split {name!r}; splits here: {', '.join(have)}")
        return rows

    def score(self, encoders: Encoders, split: str) -> RetrievalScores:
        """Score fitted encoders on one split (see :meth:`split` for the error)."""
        return evaluate_method(encoders, self.split(split))


@dataclass
class TrainedModel:
    """What :func:`train_model` returns: the folder, the validation scores, the trained network
    and the features it was trained and validated on (pairs that could not be read are left out)."""

    folder: Path
    val: RetrievalScores | None
    model: Any
    features: FeatureSet


def train_model(
    corpus: str | Path | Corpus,
    out: str | Path,
    *,
    overrides: dict[str, object] | None = None,
    recipe: str | Path | None = None,
    start: Any = None,
    towers: tuple[ImageTower, TextTower] | None = None,
    resume: bool = False,
    text_feature: str = "minilm",
    fit_on: str = "train",
    progress: Progress | None = None,
) -> TrainedModel:
    """Train the recipe, or fine-tune a trained network, on a corpus's ``train`` split (validating
    on ``val``) and write the model folder.

    A corpus without splits is split by concept (seed 0: 70% train, 15% val, 15% test).

    Args:
        corpus: The corpus folder, or a corpus already read.
        out: The model folder to write.
        overrides: Settings on top of the recipe (``ccl_embed/train/recipe.json``), or of ``start``'s
            config: config sections, or fields by their own names.
        recipe: Another recipe file (default: the shipped model's).
        start: A trained CCL network to fine-tune: its config with the recipe's ``fine_tune``
            schedule on top (stage 1 and fusion kept, stage 2 trained), its weights and statistics
            (see ``train_ccl``).
        towers: The (image, text) towers to extract features with (default: the recipe's
            EfficientNet-Lite0 and the ``text_feature`` tower).
        resume: Continue from the checkpoint in ``out``.
        text_feature: ``minilm`` or ``bow`` (ignored with ``towers``).
        fit_on: ``train`` (the protocol: held-out splits stay unseen) or ``all`` (a release refit on
            every pair of every split and style, once the choices are made; no validation then,
            and the held-out scores of such a model mean nothing).
        progress: Progress wrapper for long loops.

    Raises:
        CCLEmbedError: For bad options, a bad corpus, or resume without a checkpoint.
        ValueError: For invalid CCLConfig values (the message names the field).
    """
    require_training()
    from ccl_embed.train.encoders import CCLEncoders
    from ccl_embed.train.loop import train_ccl
    from ccl_embed.train.recipe import fine_tune_changes, flat_changes, recipe_config

    if fit_on not in FIT_ON:
        raise CCLEmbedError(f"fit_on={fit_on!r}: choose one of {', '.join(FIT_ON)}")
    if start is not None:  # the base's config with the recipe's fine-tune schedule: stage 2 learns the corpus
        config = start.config.replace(**{**fine_tune_changes(recipe), **flat_changes(overrides or {})})
    else:
        config = recipe_config(overrides, recipe)
    image_tower, text_tower = towers or (EfficientNetTower(regions=config.model.image_regions), None)
    bench = open_workbench(corpus, text_feature=text_feature, seed=config.train.seed, progress=progress,
                           image_tower=image_tower, text_tower=text_tower)
    if not config.model.use_conse:
        vectors = None
    elif start is not None:
        vectors = start.class_vectors.numpy()
    else:
        vectors = bench.context().require_class_vectors()
    if fit_on == "all":
        train = bench.features.select([i for i, p in enumerate(bench.features.pairs) if p.split not in FIXED_SPLITS])
        val = train.select([])
    else:
        train, val = bench.split("train"), bench.features.split("val")
    result = train_ccl(train, val if len(val) else None, config, class_vectors=vectors, out=out, resume=resume,
                       progress=progress, towers=(bench.image_tower_id, bench.text_tower.id), start=start)
    return TrainedModel(Path(out), evaluate_method(CCLEncoders(result.model), val) if len(val) else None,
                        result.model, bench.features)


def open_workbench(
    corpus: str | Path | Corpus,
    *,
    text_feature: str = "minilm",
    image_tower: ImageTower | None = None,
    text_tower: TextTower | None = None,
    cache: str | Path | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> Workbench:
    """Read a corpus and compute (or load from cache) its features.

    Args:
        corpus: The corpus folder.
        text_feature: ``minilm`` or ``bow`` (ignored when ``text_tower`` is given).
        image_tower: The image tower (default: EfficientNet-Lite0).
        text_tower: The text tower (default: from ``text_feature``).
        cache: The feature cache file (default: ``<cache>/features.sqlite``).
        seed: Seed for fitting.
        progress: Progress wrapper for long loops.

    Raises:
        CCLEmbedError: For an unknown text feature; CorpusError for a bad corpus.
    """
    if text_tower is None:
        if text_feature not in TEXT_FEATURES:
            raise CCLEmbedError(f"unknown text feature {text_feature!r}; choose from: {', '.join(TEXT_FEATURES)}")
        text_tower = TEXT_FEATURES[text_feature]()
    cache_path = Path(cache) if cache else cache_dir() / "features.sqlite"
    data = corpus if isinstance(corpus, Corpus) else read_corpus(corpus)
    if all(p.split is None for p in data.pairs):
        data = replace(data, pairs=tuple(assign_splits(data.pairs, SplitConfig())))
    image_tower = image_tower or EfficientNetTower()
    features = extract_features(data, image_tower, text_tower, cache=cache_path, progress=progress)
    return Workbench(features, text_tower, cache_path, seed, image_tower.id)


def _exported(model: str | Path) -> bool:
    """Whether a model is one the runtime runs: a shipped name, or a folder with a manifest."""
    from ccl_embed.runtime.folder import installed_models
    from ccl_embed.runtime.manifest import is_model_folder

    return (isinstance(model, str) and model in installed_models()) or is_model_folder(Path(model))


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` returns: the scores and how they were made."""

    method: str
    split: str
    text_feature: str
    scores: RetrievalScores
    fit_seconds: float
    map_missing: str | None = None
    """Why MAP is not reported (the split's pairs carry no label), or None."""

    def to_dict(self) -> dict[str, object]:
        from ccl_embed.evaluation import scores_record

        return {"method": self.method, "split": self.split, "text_feature": self.text_feature,
                **scores_record(self.scores, self.map_missing), "fit_seconds": round(self.fit_seconds, 2)}


def evaluate(
    corpus: str | Path,
    *,
    method: str = "ccl",
    split: str = "test",
    text_feature: str = "minilm",
    seed: int = 0,
    model: str | Path | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Score a method fitted on the corpus's ``train`` split, or a trained model folder, on one split.

    Args:
        corpus: The corpus folder.
        method: A baseline, ``ccl`` or an ablation (ignored when ``model`` is given).
        split: The split to score.
        text_feature: ``minilm`` or ``bow``.
        seed: Seed of fitting.
        model: A model to score instead of fitting: ``default``, an exported folder (scored end to
            end through the runtime), or a trained folder that was never exported.
        progress: Progress wrapper for long loops.

    Raises:
        CCLEmbedError: For an unknown method, text feature or split, or a bad model folder.
        MissingDependencyError: When the ``train`` extra is missing.
    """
    require_training()
    from ccl_embed.evaluation import map_missing
    from ccl_embed.train.folder_data import read_training_folder

    data = read_training_folder(corpus)
    missing = map_missing([p for p in data.pairs if p.split == split])
    if model is not None and _exported(model):  # through the runtime, as it serves
        from ccl_embed.evaluation import evaluate_model

        return Evaluation(str(model), split, "runtime", evaluate_model(model, data.split(split)), 0.0, missing)
    bench = open_workbench(data, text_feature=text_feature, seed=seed, progress=progress)
    bench.split(split)  # fail before fitting when the split does not exist
    if model is not None:
        from ccl_embed.model.folder import load_model
        from ccl_embed.train.encoders import CCLEncoders

        encoders: Encoders = CCLEncoders(load_model(model))
        fit_seconds, method = 0.0, str(model)
    else:
        encoders, fit_seconds = bench.fit(method)
    return Evaluation(method, split, text_feature, bench.score(encoders, split), fit_seconds, missing)
