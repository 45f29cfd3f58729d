"""Score a fitted method on a split of a feature set, the paper's way (through ``ccl_embed.evaluation``)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ccl_embed.evaluation import RetrievalScores, evaluate_pairs
from ccl_embed.train.features import FeatureSet


class Encoders(Protocol):
    """A fitted method: maps rows of a feature set into one common space."""

    def encode_images(self, features: FeatureSet) -> np.ndarray: ...

    def encode_texts(self, features: FeatureSet) -> np.ndarray: ...


def evaluate_method(encoders: Encoders, features: FeatureSet) -> RetrievalScores:
    """MAP (category relevance), R@K and median rank (instance relevance) on these rows.

    Every image is a query against every distinct text, and every distinct text against every image.
    """
    return evaluate_pairs(features.pairs, lambda: encoders.encode_images(features),
                          lambda rows: encoders.encode_texts(features.select(rows)))
