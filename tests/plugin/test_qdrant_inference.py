"""qdrant-client's inference objects with CCL models, in local mode, through the fastembed bridge.

These tests fail loudly when fastembed or qdrant-client change the internals the bridge relies on.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastembed")
from qdrant_client import QdrantClient, models  # noqa: E402

import ccl_embed.plugin as plugin  # noqa: E402
from ccl_embed.errors import MissingDependencyError  # noqa: E402
from ccl_embed.runtime.embedder import Embedder  # noqa: E402
from tests.conftest import draw  # noqa: E402

MODEL = "ccl-embed/default"


def _cos(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("img")
    out = []
    for c, s in [("red", "circle"), ("blue", "square"), ("green", "bar")]:
        out.append(root / f"{c}-{s}.png")
        draw(c, s, 96).save(out[-1])
    return out


def test_register_is_idempotent_and_lists_every_installed_model(tiny_model):
    from fastembed import ImageEmbedding, TextEmbedding

    first = plugin.register()
    assert first == plugin.register() == ["ccl-embed/default"]
    assert plugin.register(tiny_model) == ["ccl-embed/default", f"ccl-embed/{tiny_model.name}"]
    names = {m["model"] for m in TextEmbedding.list_supported_models()}
    assert MODEL in names and {m["model"] for m in ImageEmbedding.list_supported_models()} >= {MODEL}
    assert sum(1 for c in TextEmbedding.EMBEDDINGS_REGISTRY if c.__name__ == "CCLTextEmbedding") == 1


def test_documents_and_images_in_upsert_query_and_prefetch(images):
    plugin.register()
    client = QdrantClient(location=":memory:")
    emb = Embedder("default", device="cpu")
    client.create_collection("c", vectors_config={"ccl": models.VectorParams(size=emb.dim, distance=models.Distance.COSINE)})
    texts = ["a red circle", "a blue square", "a green bar"]
    client.upsert("c", points=[models.PointStruct(id=i + 1, vector={"ccl": models.Document(text=t, model=MODEL)},
                                                  payload={"modality": "text"}) for i, t in enumerate(texts)])
    client.upload_points("c", points=[models.PointStruct(id=10 + i, vector={"ccl": models.Image(image=str(p), model=MODEL)},
                                                         payload={"modality": "image"}) for i, p in enumerate(images)])
    stored = {r.id: r.vector["ccl"] for r in client.retrieve("c", list(range(1, 4)) + [10, 11, 12], with_vectors=True)}
    for i, t in enumerate(texts):
        assert _cos(stored[i + 1], next(emb.embed_texts([t])).vector) >= 0.9999
    for i, p in enumerate(images):
        assert _cos(stored[10 + i], next(emb.embed_images([p])).vector) >= 0.9999
    hits = client.query_points("c", query=models.Document(text="a blue square", model=MODEL), using="ccl", limit=1).points
    assert hits[0].id == 2 and hits[0].score == pytest.approx(1.0, abs=1e-4)
    by_image = client.query_points(
        "c", prefetch=[models.Prefetch(query=models.Document(text="a shape", model=MODEL), using="ccl", limit=6)],
        query=models.Image(image=str(images[0]), model=MODEL), using="ccl", limit=1).points
    assert by_image[0].id == 10


def test_without_fastembed_register_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "fastembed", None)
    with pytest.raises(ImportError, match=r"pip install 'ccl-embed\[qdrant-inference\]'"):
        plugin.register()


def test_an_untested_fastembed_is_refused(monkeypatch):
    import fastembed

    monkeypatch.setattr(fastembed, "__version__", "0.11.0")
    with pytest.raises(MissingDependencyError, match=r"tested with 0.9.x only: pip install 'fastembed>=0.9,<0.10'"):
        plugin.register()


def test_the_internals_the_bridge_uses_are_still_there():
    """What the bridge relies on in fastembed and qdrant-client; a change here needs a new bridge."""
    from fastembed import ImageEmbedding, TextEmbedding
    from fastembed.common.model_description import DenseModelDescription, ModelSource
    from fastembed.image.image_embedding_base import ImageEmbeddingBase
    from fastembed.text.text_embedding_base import TextEmbeddingBase
    from qdrant_client.fastembed_common import FastEmbedMisc

    assert isinstance(TextEmbedding.EMBEDDINGS_REGISTRY, list) and isinstance(ImageEmbedding.EMBEDDINGS_REGISTRY, list)
    assert hasattr(TextEmbeddingBase, "query_embed") and hasattr(ImageEmbeddingBase, "embed")
    assert {"model", "sources", "model_file", "dim"} <= set(DenseModelDescription.__dataclass_fields__)
    assert ModelSource(url="file:///x").url == "file:///x"
    plugin.register()
    assert FastEmbedMisc.is_supported_text_model(MODEL) and FastEmbedMisc.is_supported_image_model(MODEL)
