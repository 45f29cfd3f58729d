"""The LangChain Embeddings, with langchain-qdrant's vector store on an in-memory Qdrant."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("langchain_core")
from ccl_embed.plugin.langchain import CCLEmbeddings  # noqa: E402
from ccl_embed.runtime.embedder import Embedder  # noqa: E402
from tests.conftest import draw  # noqa: E402


def test_embeddings_match_the_runtime(tmp_path, tiny_model):
    from langchain_core.embeddings import Embeddings

    emb = CCLEmbeddings(tiny_model, device="cpu")
    assert isinstance(emb, Embeddings)
    runtime = Embedder(tiny_model, device="cpu")
    np.testing.assert_allclose(emb.embed_query("a red dot"), next(runtime.embed_texts(["a red dot"])).vector, atol=1e-6)
    assert len(emb.embed_documents(["a", "b c"])) == 2
    draw("red", "dot").save(tmp_path / "dot.png")
    by_path = emb.embed_image([str(tmp_path / "dot.png")])[0]
    np.testing.assert_allclose(by_path, next(runtime.embed_images([tmp_path / "dot.png"])).vector, atol=1e-6)
    from PIL import Image

    with Image.open(tmp_path / "dot.png") as img:
        np.testing.assert_allclose(emb.embed_images([img.copy()])[0], by_path, atol=1e-6)


def test_with_langchain_qdrant_vector_store(tmp_path):
    qdrant = pytest.importorskip("langchain_qdrant")
    store = qdrant.QdrantVectorStore.from_texts(
        ["a red apple on a table", "a blue car on the road", "the moon at night"], CCLEmbeddings("default", device="cpu"),
        location=":memory:", collection_name="demo")
    assert store.similarity_search("a blue car", k=1)[0].page_content == "a blue car on the road"
