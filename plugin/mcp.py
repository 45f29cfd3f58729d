"""An embedding provider in the shape of the official MCP server for Qdrant (``mcp-server-qdrant``).

    from mcp_server_qdrant.qdrant import QdrantConnector
    from ccl_embed.plugin.mcp import CCLEmbeddingProvider

    connector = QdrantConnector(qdrant_url=":memory:", qdrant_api_key=None, collection_name="notes",
                                embedding_provider=CCLEmbeddingProvider())

When ``mcp-server-qdrant`` is installed the provider subclasses its ``EmbeddingProvider``;
without it, the class has the same four methods and works wherever that shape is expected.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ccl_embed.runtime.embedder import Embedder, vectors_or_raise
from ccl_embed.runtime.folder import DEFAULT_MODEL
from ccl_embed.store.base import VECTOR_NAME

try:
    from mcp_server_qdrant.embeddings.base import EmbeddingProvider as _Base
except ImportError:  # the shape without the package
    _Base = object


class CCLEmbeddingProvider(_Base):
    """CCL text embeddings for the MCP server for Qdrant (async; the work runs in a thread).

    Args:
        model: ``default``, a shipped model's name or an exported model folder.
        device: ``auto``, ``cpu`` or ``cuda``.
        vector_name: The named vector in the collection (``ccl``, as ``ccl-embed ingest`` writes).
    """

    def __init__(self, model: str | os.PathLike[str] = DEFAULT_MODEL, device: str = "auto",
                 vector_name: str = VECTOR_NAME) -> None:
        self._embedder = Embedder(model, device=device)
        self._vector_name = vector_name

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return [v.tolist() for v in vectors_or_raise(self._embedder.embed_texts(texts), "document")]

    async def embed_documents(self, documents: list[str]) -> list[list[float]]:
        """Embed documents (texts) into vectors."""
        return await asyncio.to_thread(self._embed, list(documents))

    async def embed_query(self, query: str) -> list[float]:
        """Embed one query text."""
        return (await asyncio.to_thread(self._embed, [query]))[0]

    def get_vector_name(self) -> str:
        """The named vector the collection stores CCL vectors in."""
        return self._vector_name

    def get_vector_size(self) -> int:
        """The vector width of the model."""
        return self._embedder.dim

    def __repr__(self) -> str:
        return f"CCLEmbeddingProvider(model={self._embedder.model.name!r}, dim={self._embedder.dim})"


__all__: list[Any] = ["CCLEmbeddingProvider"]
