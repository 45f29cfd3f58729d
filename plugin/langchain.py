"""A LangChain ``Embeddings`` for CCL: texts as usual, and images into the same space.

    from langchain_qdrant import QdrantVectorStore
    from ccl_embed.plugin.langchain import CCLEmbeddings

    store = QdrantVectorStore.from_texts(["a red apple"], CCLEmbeddings(), location=":memory:",
                                         collection_name="demo")

``embed_image(uris)`` follows the signature of LangChain's OpenCLIP embeddings, so stores that
add images (``add_images``) use it.
"""

from __future__ import annotations

import os
from typing import Any

from ccl_embed.errors import require
from ccl_embed.runtime.embedder import Embedder, vectors_or_raise
from ccl_embed.runtime.folder import DEFAULT_MODEL

_core = require("langchain_core.embeddings", "langchain")


class CCLEmbeddings(_core.Embeddings):  # type: ignore[name-defined]
    """CCL embeddings for LangChain.

    Args:
        model: ``default``, a shipped model's name or an exported model folder.
        device: ``auto``, ``cpu`` or ``cuda``.
    """

    def __init__(self, model: str | os.PathLike[str] = DEFAULT_MODEL, device: str = "auto") -> None:
        self._embedder = Embedder(model, device=device)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts."""
        return [v.tolist() for v in vectors_or_raise(self._embedder.embed_texts(list(texts)), "text")]

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text."""
        return self.embed_documents([text])[0]

    def embed_image(self, uris: list[str]) -> list[list[float]]:
        """Embed images given as file paths (LangChain's image-embedding signature)."""
        return [v.tolist() for v in vectors_or_raise(self._embedder.embed_images(list(uris)), "image")]

    def embed_images(self, images: list[Any]) -> list[list[float]]:
        """Embed images given as paths or PIL images."""
        return [v.tolist() for v in vectors_or_raise(self._embedder.embed_images(list(images)), "image")]

    @property
    def dim(self) -> int:
        """The vector width."""
        return self._embedder.dim


__all__ = ["CCLEmbeddings"]
