"""Mixed search, measured: how the hits of both modalities are merged into one list.

    python benchmarks/research/mixed_ranking.py [--model default] [--corpus ~/.cache/ccl-embed/corpus-v3]
                                                [--photos ~/.cache/ccl-embed/photos-v2]

A gallery holds every image and every text of a split. Each of its items, image or text, is a
query over the whole gallery, ranked one way or another:

- ``cosine``: the raw cosine (no calibration);
- ``log-cdf``: the ranking before this change, ``log Phi((cosine - mean) / std)`` with the mean
  and std of related cosines per modality pair (std floored at 0.05);
- ``relevance``: ``ccl_embed.runtime.calibration.Relevance`` of the same calibration, what the
  runtime ranks by now: the same ``z``, over the largest any pair reaches, with identical items at 1.

The calibration is measured on the validation galleries (corpus ``val``, the drawings, and
photos ``photos-val``, each counting the same, as the shipped model's ``calibrate_on``). Per
gallery and way:

- ``map``: mixed MAP, the query itself left out; relevant: the same concept, of either modality;
- ``self_first``: the share of queries whose first hit is the query itself (or an identical item
  of its modality, cosine 1), the query left in.

``score`` is the mean ``map`` of the validation galleries; ``test`` is reported, never chosen on.
Writes ``results/mixed_ranking.json``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _rules import versions, write_result

from ccl_embed.data.corpus import Corpus, read_corpus
from ccl_embed.evaluation import calibration_from
from ccl_embed.paths import cache_dir
from ccl_embed.runtime.calibration import MIN_STD, MODALITIES, Relevance
from ccl_embed.runtime.embedder import Embedder, vectors_or_raise

RESULT = "mixed_ranking"
VALIDATION = (("corpus", "val"), ("photos", "photos-val"))
REPORTED = (("corpus", "test"),)
IDENTICAL = 1.0 - 1e-5
LOG_CDF_MIN_STD = 0.05

Gallery = tuple[dict[str, np.ndarray], np.ndarray]
"""Unit vectors by modality (row i of each: pair i) and each pair's concept key."""
Way = Callable[[np.ndarray, str, str], np.ndarray]
"""Maps cosines of a (query modality, item modality) pair to what orders them."""


def embed(emb: Embedder, corpus: Corpus) -> Gallery:
    pairs = corpus.pairs
    return ({"image": vectors_or_raise(emb.embed_images([corpus.image_path(p) for p in pairs]), "image"),
             "text": vectors_or_raise(emb.embed_texts([p.text for p in pairs]), "text")},
            np.array([p.concept or p.text for p in pairs], dtype=object))


def log_cdf_way(calibration: dict[str, tuple[float, float]]) -> Way:
    """The ranking before this change: ``log Phi((cosine - mean) / std)`` of the same calibration."""
    erfc = np.vectorize(math.erfc)

    def way(cos: np.ndarray, q: str, m: str) -> np.ndarray:
        mean, std = calibration[f"{q}:{m}"]
        with np.errstate(divide="ignore"):
            return np.asarray(np.log(0.5 * erfc(-(cos - mean) / max(std, MIN_STD) / math.sqrt(2.0))))

    return way


def measure(gallery: Gallery, way: Way) -> dict[str, float]:
    """Mixed MAP (the query left out) and the share of queries found first (the query left in)."""
    vectors, keys = gallery
    n = len(keys)
    items = np.concatenate([vectors[m] for m in MODALITIES])
    item_keys = np.concatenate([keys for _ in MODALITIES])
    out: dict[str, float] = {}
    for qi, q in enumerate(MODALITIES):
        cos = vectors[q] @ items.T
        score = np.concatenate([way(cos[:, mi * n:(mi + 1) * n], q, m) for mi, m in enumerate(MODALITIES)], axis=1)
        own = np.zeros_like(cos, dtype=bool)
        own[np.arange(n), qi * n + np.arange(n)] = True
        same = np.zeros_like(own)
        same[:, qi * n:(qi + 1) * n] = True
        order = np.lexsort((-cos, -score), axis=1)  # as the SDK sorts: by the way's score, ties by cosine
        top = order[:, 0]
        first = own[np.arange(n), top] | (same[np.arange(n), top] & (cos[np.arange(n), top] >= IDENTICAL))
        out[f"{q}_self_first"] = float(first.mean())
        order = order[~np.take_along_axis(own, order, axis=1)].reshape(n, -1)  # the query itself left out
        hit = item_keys[order] == keys[:, None]
        ranks = np.arange(1, hit.shape[1] + 1)
        precision = np.cumsum(hit, axis=1) / ranks
        ap = (precision * hit).sum(1) / np.maximum(hit.sum(1), 1)
        out[f"{q}_map"] = float(ap[hit.any(1)].mean())
    out["map"] = (out["image_map"] + out["text_map"]) / 2
    out["self_first"] = (out["image_self_first"] + out["text_self_first"]) / 2
    return {k: round(v, 4) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus-v3")
    parser.add_argument("--photos", type=Path, default=cache_dir() / "photos-v2")
    args = parser.parse_args()
    emb = Embedder(args.model, device="cpu")
    sources = {"corpus": read_corpus(args.corpus), "photos": read_corpus(args.photos)}
    galleries = {f"{src}:{split}": embed(emb, sources[src].split(split)) for src, split in VALIDATION + REPORTED}
    validation = [galleries[f"{src}:{split}"] for src, split in VALIDATION]
    calibration = calibration_from(validation)
    relevance = Relevance(calibration)
    ways: dict[str, Way] = {"cosine": lambda cos, q, m: cos, "log-cdf": log_cdf_way(calibration),
                            "relevance": lambda cos, q, m: np.asarray(relevance(cos, q, m))}
    rows: dict[str, dict[str, Any]] = {}
    for name, way in ways.items():
        rows[name] = {g: measure(gallery, way) for g, gallery in galleries.items()}
        rows[name]["score"] = round(float(np.mean([rows[name][f"{s}:{p}"]["map"] for s, p in VALIDATION])), 4)
        print(name, "score", rows[name]["score"], " ".join(f"{g} map {r['map']:.4f} self-first {r['self_first']:.4f}"
                                                        for g, r in rows[name].items() if isinstance(r, dict)),
              flush=True)
    write_result(RESULT, {
        "model": str(args.model), "versions": versions(),
        "galleries": {g: len(k) for g, (_, k) in galleries.items()},
        "validation": [f"{s}:{p}" for s, p in VALIDATION], "reported": [f"{s}:{p}" for s, p in REPORTED],
        "calibration": {k: list(v) for k, v in calibration.items()},
        "ways": rows,
        "relevance_keeps_the_score": rows["relevance"]["score"] >= rows["log-cdf"]["score"],
    })


if __name__ == "__main__":
    main()
