"""Retrieval scores the paper's way (numpy only).

MAP over the whole ranking with category relevance (an item is relevant when it has the query's
label), image->text and text->image, and their mean: the protocol of Peng et al. (TMM 2018).
Recall@1/5/10 and the median rank use instance relevance (the query's own pair).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
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


def distinct_text_rows(pairs: Sequence[Pair]) -> list[int]:
    """One row per distinct (concept, text), the first of each: images of several styles share one text."""
    seen: dict[tuple[str, str], int] = {}
    for i, p in enumerate(pairs):
        seen.setdefault((p.key, p.text), i)
    return sorted(seen.values())


def map_missing(pairs: Sequence[Pair]) -> str | None:
    """Why MAP says nothing about these pairs, or None when it does: MAP ranks by category, and
    pairs without a label are each their own category, so with no label at all it only repeats
    what the recalls say."""
    if any(p.label is not None for p in pairs):
        return None
    return "no MAP: no pair has a label, and MAP ranks by category; give pairs.jsonl lines a 'label' to measure it"


def scores_record(scores: RetrievalScores, missing_map: str | None) -> dict[str, object]:
    """The scores as a plain dict, with MAP blanked (None) and its reason under ``map_missing``
    when the pairs carry no label (see :func:`map_missing`)."""
    record: dict[str, object] = dict(scores.to_dict())
    if missing_map:
        record.update(i2t_map=None, t2i_map=None, mean_map=None, map_missing=missing_map)
    return record


def category(pair: Pair) -> str:
    """A pair's category for MAP: its label, else its instance key."""
    return pair.label if pair.label is not None else pair.key


def evaluate_pairs(
    pairs: Sequence[Pair],
    encode_images: Callable[[], np.ndarray],
    encode_texts: Callable[[list[int]], np.ndarray],
) -> RetrievalScores:
    """Score encoders on pairs, the one evaluation path of the CLI, the benchmarks and the release build.

    Every image is a query against every distinct text (:func:`distinct_text_rows`), and every
    distinct text against every image.

    Args:
        pairs: The pairs to score, one image each.
        encode_images: Returns ``[len(pairs), dim]`` vectors of the pairs' images, in order.
        encode_texts: Maps row numbers of ``pairs`` to ``[rows, dim]`` vectors of their texts.
    """
    rows = distinct_text_rows(pairs)
    return evaluate_embeddings(
        encode_images(),
        encode_texts(rows),
        image_labels=[category(p) for p in pairs],
        text_labels=[category(pairs[i]) for i in rows],
        image_keys=[p.key for p in pairs],
        text_keys=[pairs[i].key for i in rows],
    )


def evaluate_encoders(
    encode_images: Callable[[list[Path]], np.ndarray],
    encode_texts: Callable[[list[str]], np.ndarray],
    corpus: Corpus,
) -> RetrievalScores:
    """Score any pair of encoders on a corpus (or one split of it: ``corpus.split("test")``).

    Args:
        encode_images: Maps image paths to ``[n, dim]`` vectors.
        encode_texts: Maps texts to ``[n, dim]`` vectors in the same space.
        corpus: The pairs to score.
    """
    pairs = corpus.pairs
    return evaluate_pairs(pairs, lambda: encode_images([corpus.image_path(p) for p in pairs]),
                          lambda rows: encode_texts([pairs[i].text for i in rows]))


def evaluate_model(model: str | os.PathLike[str], corpus: Corpus, *, device: str = "cpu") -> RetrievalScores:
    """Score an exported model folder end to end through the runtime (decoding, ONNX graphs, int8 and all).

    Args:
        model: ``default`` or an exported model folder.
        corpus: The pairs to score (for example ``read_corpus(dir).split("test")``).
        device: ``cpu`` (the default, for reproducible figures), ``cuda`` or ``auto``.

    Raises:
        CCLEmbedError: When an image or text of the corpus cannot be embedded.
    """
    from ccl_embed.runtime.embedder import Embedder, vectors_or_raise

    emb = Embedder(model, device=device)
    return evaluate_encoders(lambda paths: vectors_or_raise(emb.embed_images(paths), "image"),
                             lambda texts: vectors_or_raise(emb.embed_texts(texts), "text"), corpus)


def calibrate_model(model: str | os.PathLike[str], corpus: Corpus | Sequence[Corpus], *, device: str = "cpu",
                    limit: int = 2000) -> dict[str, tuple[float, float]]:
    """The relevance calibration of a model (``ccl_embed.runtime.calibration``), measured on
    validation splits: for each (query, item) modality pair, the mean and std of the cosine over
    the related pairs (the same concept; without concepts, the same text), an item never with
    itself. Several splits (say drawings and photographs) count equally, whatever their sizes.

    Args:
        model: ``default`` or an exported model folder.
        corpus: One validation split (``read_corpus(dir).split("val")``), or several; never a test split.
        device: ``cpu``, ``cuda`` or ``auto``.
        limit: Use at most this many pairs of each split (the first ones; enough for stable statistics).

    Raises:
        CCLEmbedError: When an image or text cannot be embedded.
        ValueError: When a split has too few pairs.
    """
    from ccl_embed.runtime.embedder import Embedder, vectors_or_raise

    emb = Embedder(model, device=device)
    sets = []
    for part in [corpus] if isinstance(corpus, Corpus) else list(corpus):
        pairs = part.pairs[:limit]
        vectors = {"image": vectors_or_raise(emb.embed_images([part.image_path(p) for p in pairs]), "image"),
                   "text": vectors_or_raise(emb.embed_texts([p.text for p in pairs]), "text")}
        sets.append((vectors, np.array([p.concept or p.text for p in pairs], dtype=object)))
    return calibration_from(sets)


def calibration_from(sets: Sequence[tuple[Mapping[str, np.ndarray], np.ndarray]]) -> dict[str, tuple[float, float]]:
    """:func:`calibrate_model`'s measurement on vectors already made: for each validation set, the
    unit vectors of its pairs by modality (``{"image": [n, d], "text": [n, d]}``, row ``i`` of
    each the same pair) and each pair's concept key ``[n]``; each set counts the same."""
    from ccl_embed.runtime.calibration import MIN_STD, check_calibration, pooled, related_stats

    measured: dict[str, list[tuple[float, float]]] = {}
    for vectors, keys in sets:
        related = keys[:, None] == keys[None, :]
        itself = np.eye(len(keys), dtype=bool)
        for q in ("image", "text"):
            for m in ("image", "text"):
                mask = related & ~itself if q == m else related
                # Within one modality and no two items of a concept: a match is the item itself.
                mean, std = related_stats(vectors[q], vectors[m], mask) if mask.sum() >= 2 else (1.0, MIN_STD)
                # A spread below the floor (related texts all one text: cosine 1.0, std 0) is kept
                # at the floor the runtime scores with anyway.
                measured.setdefault(f"{q}:{m}", []).append((mean, max(std, MIN_STD)))
    return check_calibration({key: pooled(stats) for key, stats in measured.items()})
