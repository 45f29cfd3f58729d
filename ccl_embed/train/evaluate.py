"""Score a fitted method on a split of a feature set, the paper's way."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ccl_embed.evaluation import RetrievalScores, evaluate_embeddings
from ccl_embed.train.features import FeatureSet


class Encoders(Protocol):
    """A fitted method: maps rows of a feature set into one common space."""

    def encode_images(self, features: FeatureSet) -> np.ndarray: ...

    def encode_texts(self, features: FeatureSet) -> np.ndarray: ...


def unique_text_rows(features: FeatureSet) -> list[int]:
    """One row per distinct (concept, text): images of several styles share one text."""
    seen: dict[tuple[str, str], int] = {}
    for i, p in enumerate(features.pairs):
        seen.setdefault((p.key, p.text), i)
    return sorted(seen.values())


def evaluate_method(encoders: Encoders, features: FeatureSet) -> RetrievalScores:
    """MAP (category relevance), R@K and median rank (instance relevance) on these rows.

    Every image is a query against every distinct text, and every distinct text against every image.
    """
    text_rows = unique_text_rows(features)
    texts = features.select(text_rows)
    labels = features.labels
    return evaluate_embeddings(
        encoders.encode_images(features),
        encoders.encode_texts(texts),
        image_labels=labels,
        text_labels=texts.labels,
        image_keys=[p.key for p in features.pairs],
        text_keys=[p.key for p in texts.pairs],
    )
