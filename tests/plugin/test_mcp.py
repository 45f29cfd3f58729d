"""The MCP-server-shaped provider, with the real mcp-server-qdrant against an in-memory Qdrant."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from ccl_embed.plugin.mcp import CCLEmbeddingProvider
from ccl_embed.runtime.embedder import Embedder


def test_provider_shape_and_vectors(tiny_model):
    provider = CCLEmbeddingProvider(tiny_model, device="cpu")
    docs = asyncio.run(provider.embed_documents(["a red square", "a blue circle"]))
    query = asyncio.run(provider.embed_query("a red square"))
    direct = next(Embedder(tiny_model, device="cpu").embed_texts(["a red square"])).vector
    np.testing.assert_allclose(docs[0], direct, atol=1e-6)
    np.testing.assert_allclose(query, direct, atol=1e-6)
    assert provider.get_vector_name() == "ccl" and provider.get_vector_size() == len(direct) == len(docs[1])


def test_with_the_official_mcp_server_connector():
    base = pytest.importorskip("mcp_server_qdrant.embeddings.base")
    from mcp_server_qdrant.qdrant import Entry, QdrantConnector

    provider = CCLEmbeddingProvider("default", device="cpu")
    assert isinstance(provider, base.EmbeddingProvider)
    connector = QdrantConnector(qdrant_url=":memory:", qdrant_api_key=None, collection_name="notes",
                                embedding_provider=provider)

    async def scenario():
        for text in ["a red apple on a table", "a blue car on the road", "the moon at night"]:
            await connector.store(Entry(content=text))
        return await connector.search("a blue car", limit=1)

    found = asyncio.run(scenario())
    assert [e.content for e in found] == ["a blue car on the road"]
