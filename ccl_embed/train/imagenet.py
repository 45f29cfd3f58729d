"""ImageNet-1k class names, in the classifier's output order, from a pinned PyPI package.

The names (WordNet lemmas of the 1000 ILSVRC-2012 synsets, sorted by synset id, the order the
classifier was trained with) ship inside the ``timm`` wheel; it is fetched with ``pip download``
into the cache and only these two text files are read. timm itself is never imported.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ccl_embed.data.fetch import Package, fetch
from ccl_embed.errors import FetchError

PACKAGE = Package("pypi", "timm", "1.0.31", "Apache-2.0 (names: WordNet licence)",
                  "https://github.com/huggingface/pytorch-image-models", "ImageNet-1k class names for ConSE")


@lru_cache(maxsize=1)
def class_names(cache: Path | None = None) -> tuple[str, ...]:
    """The 1000 class names, e.g. ``"tabby, tabby cat"``, in logit order."""
    info = fetch(PACKAGE, cache) / "timm" / "data" / "_info"
    try:
        synsets = (info / "imagenet_synsets.txt").read_text().split()
        lemmas = dict(
            line.split("\t", 1) for line in (info / "imagenet_synset_to_lemma.txt").read_text().splitlines() if "\t" in line
        )
    except OSError as e:
        raise FetchError(f"{info}: ImageNet class lists missing from {PACKAGE.name}=={PACKAGE.version} ({e})") from e
    if len(synsets) != 1000:
        raise FetchError(f"{info}: expected 1000 ImageNet synsets, found {len(synsets)}")
    return tuple(lemmas[s] for s in synsets)
