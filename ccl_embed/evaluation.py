"""Retrieval scores the paper's way (numpy only).

MAP over the whole ranking with category relevance (an item is relevant when it has the query's
label), image->text and text->image, and their mean: the protocol of Peng et al. (TMM 2018).
Recall@1/5/10 and the median rank use instance relevance (the query's own pair).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ccl_embed.data.corpus import Corpus, Pair

RECALL_KS = (1, 5, 10)


@dataclass(frozen=True)
class RetrievalScores:
    """Cross-modal retrieval scores of one pair of encoders on one split."""

    i2t_map: float
    t2i_map: float
    mean_map: float
    r1_i2t: float
    r5_i2t: float
    r10_i2t: float
    r1_t2i: float
    r5_t2i: float
    r10_t2i: float
    medr_i2t: float
    medr_t2i: float
    n_images: int
    n_texts: int

    def to_dict(self) -> dict[str, float | int]:
        """The scores as a plain dict (JSON-ready)."""
        return asdict(self)


def _l2n(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _ranked_relevance(similarity: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """Relevance of the gallery items, each row in decreasing order of similarity (ties by index)."""
    order = np.argsort(-similarity, axis=1, kind="stable")
    return np.take_along_axis(relevance, order, axis=1)


def mean_average_precision(similarity: np.ndarray, relevance: np.ndarray) -> float:
    """MAP over the whole ranking.

    Args:
        similarity: ``[queries, gallery]`` scores, higher is closer.
        relevance: ``[queries, gallery]`` booleans, True where the item is relevant.

    Returns:
        The mean over queries of average precision; queries with no relevant item are left out.
    """
    ranked = _ranked_relevance(similarity, relevance.astype(bool))
    hits = np.cumsum(ranked, axis=1)
    ranks = np.arange(1, ranked.shape[1] + 1)
    n_rel = ranked.sum(axis=1)
    keep = n_rel > 0
    if not keep.any():
        return float("nan")
    ap = (ranked * hits / ranks).sum(axis=1)[keep] / n_rel[keep]
    return float(ap.mean())


def first_relevant_ranks(similarity: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """The 1-based rank of the first relevant item for each query (queries without one: inf)."""
    ranked = _ranked_relevance(similarity, relevance.astype(bool))
    has = ranked.any(axis=1)
    first = np.argmax(ranked, axis=1).astype(np.float64) + 1.0
    first[~has] = np.inf
    return first


def evaluate_embeddings(
    image_vectors: np.ndarray,
    text_vectors: np.ndarray,
    image_labels: Sequence[str],
    text_labels: Sequence[str],
    image_keys: Sequence[str],
    text_keys: Sequence[str],
) -> RetrievalScores:
    """Score image and text vectors in one common space, compared by cosine.

    Args:
        image_vectors: ``[n_images, dim]``.
        text_vectors: ``[n_texts, dim]``.
        image_labels: Category of each image (category relevance, for MAP).
        text_labels: Category of each text.
        image_keys: Instance identity of each image (its pair's concept).
        text_keys: Instance identity of each text.

    Returns:
        MAP both ways and their mean, R@1/5/10 and median rank both ways.

    Raises:
        ValueError: When the shapes and label lists disagree.
    """
    iv, tv = np.asarray(image_vectors), np.asarray(text_vectors)
    if iv.ndim != 2 or tv.ndim != 2 or iv.shape[1] != tv.shape[1]:
        raise ValueError(f"image vectors {iv.shape} and text vectors {tv.shape} must be 2-D with the same width")
    for name, seq, n in (("image_labels", image_labels, len(iv)), ("text_labels", text_labels, len(tv)),
                         ("image_keys", image_keys, len(iv)), ("text_keys", text_keys, len(tv))):
        if len(seq) != n:
            raise ValueError(f"{name} has {len(seq)} entries for {n} vectors")
    sim = _l2n(iv) @ _l2n(tv).T
    cat = np.asarray(image_labels, dtype=object)[:, None] == np.asarray(text_labels, dtype=object)[None, :]
    inst = np.asarray(image_keys, dtype=object)[:, None] == np.asarray(text_keys, dtype=object)[None, :]
    i2t_map = mean_average_precision(sim, cat)
    t2i_map = mean_average_precision(sim.T, cat.T)
    r_i2t = first_relevant_ranks(sim, inst)
    r_t2i = first_relevant_ranks(sim.T, inst.T)
    rec = {f"r{k}_{d}": float(np.mean(r <= k)) for k in RECALL_KS for d, r in (("i2t", r_i2t), ("t2i", r_t2i))}
    return RetrievalScores(
        i2t_map=i2t_map,
        t2i_map=t2i_map,
        mean_map=(i2t_map + t2i_map) / 2,
        medr_i2t=float(np.median(r_i2t)),
        medr_t2i=float(np.median(r_t2i)),
        n_images=len(iv),
        n_texts=len(tv),
        **rec,
    )


def evaluate_encoders(
    encode_images: Callable[[list[Path]], np.ndarray],
    encode_texts: Callable[[list[str]], np.ndarray],
    corpus: Corpus,
) -> RetrievalScores:
    """Score any pair of encoders on a corpus (or one split of it: ``corpus.split("test")``).

    Every image is a query against every distinct text (images of several styles share a text),
    and every distinct text against every image.

    Args:
        encode_images: Maps image paths to ``[n, dim]`` vectors.
        encode_texts: Maps texts to ``[n, dim]`` vectors in the same space.
        corpus: The pairs to score.
    """
    pairs = corpus.pairs
    first: dict[tuple[str, str], Pair] = {}
    for p in pairs:
        first.setdefault((p.key, p.text), p)
    texts = list(first.values())
    label = lambda p: p.label if p.label is not None else p.key  # noqa: E731
    return evaluate_embeddings(
        encode_images([corpus.image_path(p) for p in pairs]),
        encode_texts([p.text for p in texts]),
        image_labels=[label(p) for p in pairs],
        text_labels=[label(p) for p in texts],
        image_keys=[p.key for p in pairs],
        text_keys=[p.key for p in texts],
    )
