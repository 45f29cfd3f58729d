"""One parametrised backend fixture: the embedded engine, qdrant-client's local mode, and a real
server when QDRANT_URL is set."""

from __future__ import annotations

import os
import uuid

import pytest

from ccl_embed.store.base import CollectionMeta
from ccl_embed.store.client import ClientCollection
from ccl_embed.store.edge import EdgeCollection

BACKENDS = ["edge", "local"] + (["server"] if os.environ.get("QDRANT_URL") else [])


@pytest.fixture(params=BACKENDS)
def open_backend(request, tmp_path):
    """A function (meta, name=..., create=True) -> Collection on the parametrised backend."""
    opened = []
    servers: list[tuple[object, str]] = []
    client = None
    if request.param == "local":
        from qdrant_client import QdrantClient

        client = QdrantClient(location=":memory:")

    def make(meta: CollectionMeta | None, name: str = "test", create: bool = True):
        if request.param == "edge":
            coll = EdgeCollection(tmp_path / "store", name, meta, create)
        elif request.param == "local":
            coll = ClientCollection(name, meta, client=client, create=create)
        else:
            real = f"ccl-test-{name}-{uuid.uuid4().hex[:8]}"
            coll = ClientCollection(real, meta, url=os.environ["QDRANT_URL"],
                                    api_key=os.environ.get("QDRANT_API_KEY"), create=create)
            servers.append((coll, real))
        opened.append(coll)
        return coll

    make.backend = request.param  # type: ignore[attr-defined]
    yield make
    for coll, real in servers:
        coll._client.delete_collection(real)  # type: ignore[attr-defined]
    for coll in opened:
        coll.close()
