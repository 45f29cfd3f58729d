"""The one module that reaches into fastembed's internals, so qdrant-client's local inference can run CCL.

qdrant-client embeds ``models.Document`` and ``models.Image`` locally through fastembed's
``TextEmbedding`` and ``ImageEmbedding``, which look a model name up in their class-level
``EMBEDDINGS_REGISTRY``. fastembed's public ``TextEmbedding.add_custom_model`` registers a single
ONNX graph with pooling; CCL needs more (a tokenizer and backbone run on the text and on its
fragments, then the fusion head), and images have no public registration at all. So this module
adds one embedding class to each registry. It is tested against fastembed 0.9.x only
(:data:`TESTED_FASTEMBED`); :func:`install` refuses other versions and checks the internals it
relies on, and ``tests/plugin/test_qdrant_inference.py`` fails loudly when they change.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ccl_embed.errors import MissingDependencyError
from ccl_embed.runtime.embedder import Embedder, vectors_or_raise
from ccl_embed.runtime.folder import IMAGE_HEAD, TEXT_HEAD, read_runtime

PREFIX = "ccl-embed/"
TESTED_FASTEMBED = ((0, 9), (0, 10))
"""fastembed versions the bridge is tested with: at least the first, below the second."""

_MODELS: dict[str, tuple[str, Path, int]] = {}
"""Registered models by lower-cased name: (name, folder, dim)."""


def _fastembed() -> Any:
    try:
        import fastembed
    except ImportError as e:
        raise MissingDependencyError(
            "qdrant-client's local inference runs models through fastembed, which is not installed: "
            "pip install 'ccl-embed[qdrant-inference]'"
        ) from e
    parts = tuple(int(p) for p in fastembed.__version__.split(".")[:2] if p.isdigit())
    low, high = TESTED_FASTEMBED
    if not low <= parts < high:
        raise MissingDependencyError(
            f"fastembed {fastembed.__version__} is installed; ccl-embed's bridge into it is tested with "
            f"{low[0]}.{low[1]}.x only: pip install 'fastembed>={low[0]}.{low[1]},<{high[0]}.{high[1]}'"
        )
    return fastembed


def _device(cuda: Any, providers: Any) -> str:
    if providers:
        return "cuda" if any("CUDA" in str(p) for p in providers) else "cpu"
    if cuda is True:
        return "cuda"
    if cuda is False:
        return "cpu"
    return "auto"  # fastembed's Device.AUTO


def _classes() -> tuple[type, type]:
    """The two embedding classes, built on fastembed's base classes (imported only here)."""
    from fastembed.common.model_description import DenseModelDescription, ModelSource
    from fastembed.image.image_embedding_base import ImageEmbeddingBase
    from fastembed.text.text_embedding_base import TextEmbeddingBase

    def descriptions(head: str) -> list[Any]:
        return [DenseModelDescription(model=name, sources=ModelSource(url=folder.as_uri()), model_file=head,
                                      description="CCL cross-modal embedding (ccl-embed), instance and patches fused",
                                      license="apache-2.0", size_in_GB=0.05, dim=dim)
                for name, folder, dim in _MODELS.values()]

    def embedder(model_name: str, threads: int | None, cuda: Any, providers: Any) -> Embedder:
        entry = _MODELS.get(model_name.lower())
        if entry is None:
            raise ValueError(f"{model_name!r} is not a registered ccl-embed model; registered: "
                             f"{', '.join(n for n, _, _ in _MODELS.values())}")
        return Embedder(entry[1], device=_device(cuda, providers), threads=threads)

    class _CCLModel:
        """What both sides share: loading the model by its registered name, and its width."""

        _embedder: Embedder

        def __init__(self, model_name: str, cache_dir: str | None = None, threads: int | None = None,
                     providers: Any = None, cuda: Any = None, device_ids: Any = None, lazy_load: bool = False,
                     **kwargs: Any) -> None:
            super().__init__(model_name, cache_dir, threads, **kwargs)  # type: ignore[call-arg]
            self._embedder = embedder(model_name, threads, cuda, providers)

        @classmethod
        def get_embedding_size(cls, model_name: str) -> int:
            return _MODELS[model_name.lower()][2]

        @property
        def embedding_size(self) -> int:
            return self._embedder.dim

    class CCLTextEmbedding(_CCLModel, TextEmbeddingBase):
        """CCL's text side behind fastembed's TextEmbedding."""

        @classmethod
        def _list_supported_models(cls) -> list[Any]:
            return descriptions(TEXT_HEAD)

        def embed(self, documents: str | Iterable[str], batch_size: int = 256, parallel: int | None = None,
                  **kwargs: Any) -> Iterable[np.ndarray]:
            texts = [documents] if isinstance(documents, str) else list(documents)
            yield from vectors_or_raise(self._embedder.embed_texts(texts, batch_size=min(batch_size, 64)), "text")

    class CCLImageEmbedding(_CCLModel, ImageEmbeddingBase):
        """CCL's image side behind fastembed's ImageEmbedding."""

        @classmethod
        def _list_supported_models(cls) -> list[Any]:
            return descriptions(IMAGE_HEAD)

        def embed(self, images: Any, batch_size: int = 16, parallel: int | None = None,
                  **kwargs: Any) -> Iterable[np.ndarray]:
            items = [images] if isinstance(images, (str, Path)) or hasattr(images, "mode") else list(images)
            yield from vectors_or_raise(self._embedder.embed_images(items, batch_size=min(batch_size, 32)), "image")

    return CCLTextEmbedding, CCLImageEmbedding


_installed: tuple[type, type] | None = None


def install(models: dict[str, Path]) -> list[str]:
    """Register models (``{"default": folder, ...}``) as ``ccl-embed/<name>`` in fastembed; idempotent.

    Returns:
        The registered names.

    Raises:
        MissingDependencyError: When fastembed is missing or of an untested version.
        RuntimeError: When fastembed's internals are not what this bridge was written against.
    """
    global _installed
    fastembed = _fastembed()
    text_cls, image_cls = fastembed.TextEmbedding, fastembed.ImageEmbedding
    for cls in (text_cls, image_cls):
        if not isinstance(getattr(cls, "EMBEDDINGS_REGISTRY", None), list):
            raise RuntimeError(f"fastembed {fastembed.__version__}: {cls.__name__}.EMBEDDINGS_REGISTRY is gone; "
                               "this ccl-embed cannot register its models there, upgrade ccl-embed")
    for name, folder in models.items():
        model = read_runtime(folder, check_hashes=False)
        full = PREFIX + name
        _MODELS[full.lower()] = (full, Path(folder).resolve(), model.dim)
    if _installed is None:
        _installed = _classes()
    for registry, cls in ((text_cls.EMBEDDINGS_REGISTRY, _installed[0]), (image_cls.EMBEDDINGS_REGISTRY, _installed[1])):
        if cls not in registry:
            registry.append(cls)
    return sorted(n for n, _, _ in _MODELS.values())
