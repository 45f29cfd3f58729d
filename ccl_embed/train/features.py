"""Features of a corpus from the frozen towers, aligned with its pairs, through the cache."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ccl_embed.data.corpus import Corpus, Pair, Problem
from ccl_embed.runtime.images import ImageError, load_image
from ccl_embed.runtime.patches import MAX_FRAGMENTS, pack_fragments, text_fragments
from ccl_embed.evaluation import category
from ccl_embed.paths import cache_dir
from ccl_embed.runtime.batches import batched
from ccl_embed.train.cache import FeatureCache, as_stored
from ccl_embed.train.towers import ImageTower, TextTower

Progress = Callable[[Iterable[object], int, str], Iterable[object]]


@dataclass
class FeatureSet:
    """Per-pair features, row ``i`` belonging to ``pairs[i]``.

    Attributes:
        pairs: The pairs whose image could be decoded.
        image: Named image arrays (``pool [n, d]``, ``regions [n, r, d]``, ``logits [n, k]``...).
        text: ``[n, dt]`` whole-text vectors.
        fragments: ``[n, MAX_FRAGMENTS, dt]`` fragment vectors, zero where masked.
        fragment_mask: ``[n, MAX_FRAGMENTS]`` True where a fragment exists.
        problems: Pairs dropped because their image could not be decoded.
    """

    pairs: tuple[Pair, ...]
    image: dict[str, np.ndarray]
    text: np.ndarray
    fragments: np.ndarray
    fragment_mask: np.ndarray
    problems: tuple[Problem, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.pairs)

    def select(self, rows: Sequence[int] | np.ndarray) -> FeatureSet:
        """The rows ``rows`` only."""
        idx = np.asarray(rows, dtype=np.int64)
        return FeatureSet(
            pairs=tuple(self.pairs[i] for i in idx),
            image={k: v[idx] for k, v in self.image.items()},
            text=self.text[idx],
            fragments=self.fragments[idx],
            fragment_mask=self.fragment_mask[idx],
            problems=self.problems,
        )

    @classmethod
    def concat(cls, parts: Sequence[FeatureSet]) -> FeatureSet:
        """The rows of several feature sets of the same towers, in order (one gallery of them)."""
        if not parts:
            raise ValueError("FeatureSet.concat: no feature sets")
        keys = set(parts[0].image)
        if any(set(p.image) != keys for p in parts):
            raise ValueError("FeatureSet.concat: the feature sets hold different image features")
        return cls(
            pairs=tuple(pair for p in parts for pair in p.pairs),
            image={k: np.concatenate([p.image[k] for p in parts]) for k in parts[0].image},
            text=np.concatenate([p.text for p in parts]),
            fragments=np.concatenate([p.fragments for p in parts]),
            fragment_mask=np.concatenate([p.fragment_mask for p in parts]),
            problems=tuple(x for p in parts for x in p.problems),
        )

    def split(self, name: str) -> FeatureSet:
        """The rows of one split."""
        return self.select([i for i, p in enumerate(self.pairs) if p.split == name])

    @property
    def labels(self) -> list[str]:
        """Category of each row (its label, else its instance key)."""
        return [category(p) for p in self.pairs]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_texts(
    texts: Sequence[str], tower: TextTower, cache: FeatureCache, batch_size: int = 64, progress: Progress | None = None
) -> dict[str, np.ndarray]:
    """text -> vector, computing only what the cache lacks (shortest texts batched together)."""
    keys = {t: _sha(t.encode("utf-8")) for t in texts}
    have = cache.get_many(tower.id, keys.values())
    todo = sorted((t for t in keys if keys[t] not in have), key=len)
    batches: Iterable[Sequence[str]] = [[t for _, t in b] for b in batched(todo, batch_size)]
    if progress is not None and todo:
        batches = progress(batches, -(-len(todo) // batch_size), f"text features ({tower.id})")  # type: ignore[assignment]
    for batch in batches:
        out = tower.encode(batch)["vec"]
        new = {keys[t]: as_stored({"vec": v}) for t, v in zip(batch, out)}
        cache.put_many(tower.id, new)
        have.update(new)
    return {t: have[keys[t]]["vec"] for t in texts}


def extract_features(
    corpus: Corpus,
    image_tower: ImageTower,
    text_tower: TextTower,
    *,
    cache: FeatureCache | str | Path | None = None,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> FeatureSet:
    """Features for every pair of a corpus (cached by content hash and tower id).

    Args:
        corpus: The corpus.
        image_tower: The frozen image tower.
        text_tower: The frozen text tower.
        cache: A FeatureCache or its path (default: ``<cache>/features.sqlite``).
        batch_size: Items per tower call.
        progress: Wraps long loops (``(iterable, total, desc)``), e.g. tqdm.

    Returns:
        The features; pairs whose image cannot be decoded are dropped and listed in ``problems``.
    """
    own = not isinstance(cache, FeatureCache)
    store = cache if isinstance(cache, FeatureCache) else FeatureCache(cache or cache_dir() / "features.sqlite")
    try:
        return _extract(corpus, image_tower, text_tower, store, batch_size, progress)
    finally:
        if own:
            store.close()


def _extract(
    corpus: Corpus, image_tower: ImageTower, text_tower: TextTower, cache: FeatureCache, batch_size: int,
    progress: Progress | None,
) -> FeatureSet:
    problems: list[Problem] = []
    image_keys: dict[str, str] = {}
    for p in corpus.pairs:
        if p.image not in image_keys:
            try:
                image_keys[p.image] = _sha(corpus.image_path(p).read_bytes())
            except OSError as e:
                problems.append(Problem(p.image, p.line, f"cannot be read ({e.strerror})"))
    have = cache.get_many(image_tower.id, image_keys.values())
    todo = list(dict.fromkeys(rel for rel, key in image_keys.items() if key not in have))
    batches: Iterable[Sequence[str]] = [[t for _, t in b] for b in batched(todo, batch_size)]
    if progress is not None and todo:
        batches = progress(batches, -(-len(todo) // batch_size), f"image features ({image_tower.id})")  # type: ignore[assignment]
    for batch in batches:
        images, ok = [], []
        for rel in batch:
            try:
                images.append(load_image(corpus.root / rel))
                ok.append(rel)
            except ImageError as e:
                problems.append(Problem(rel, 0, str(e)))
        if not images:
            continue
        out = image_tower.encode(images)
        new = {image_keys[rel]: as_stored({k: v[i] for k, v in out.items()}) for i, rel in enumerate(ok)}
        cache.put_many(image_tower.id, new)
        have.update(new)
    pairs = [p for p in corpus.pairs if image_keys.get(p.image) in have]
    if not pairs:
        raise ImageError(f"{corpus.root}: no image of the corpus could be decoded; first problem: {problems[0] if problems else 'none'}")
    frags = [text_fragments(p.text) for p in pairs]
    all_texts = list(dict.fromkeys([p.text for p in pairs] + [f for fs in frags for f in fs]))
    vec = encode_texts(all_texts, text_tower, cache, batch_size, progress)
    fragments, slots = pack_fragments(frags, vec.__getitem__, next(iter(vec.values())).shape[-1], MAX_FRAGMENTS)
    mask = slots > 0
    names = next(iter(have.values())).keys()
    image = {k: np.stack([have[image_keys[p.image]][k] for p in pairs]) for k in names}
    return FeatureSet(
        pairs=tuple(pairs),
        image=image,
        text=np.stack([vec[p.text] for p in pairs]),
        fragments=fragments,
        fragment_mask=mask,
        problems=tuple(problems),
    )
