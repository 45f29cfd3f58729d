"""Where vectors live: the embedded engine by default, a Qdrant server or cluster by URL.

:func:`open_collection` is the one entry point; it returns a :class:`Collection` whatever the backend.
"""

from __future__ import annotations

import os
from pathlib import Path

from ccl_embed.store.base import Collection, CollectionMeta, Filter, Point, ScoredPoint, StoreError

STORE_ENV = "CCL_EMBED_STORE"
DEFAULT_COLLECTION = "ccl-embed"


def default_store() -> Path:
    """The embedded store's folder: ``$CCL_EMBED_STORE``, else ``$XDG_DATA_HOME/ccl-embed/store``,
    else ``~/.local/share/ccl-embed/store``."""
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ccl-embed" / "store"


def open_collection(collection: str = DEFAULT_COLLECTION, meta: CollectionMeta | None = None, *,
                    store: str | os.PathLike[str] | None = None, url: str | None = None, api_key: str | None = None,
                    prefer_grpc: bool = False, shards: int | None = None, replicas: int | None = None,
                    create: bool = True) -> Collection:
    """Open (or, given ``meta``, create) a collection.

    Args:
        collection: The collection's name.
        meta: The model that will write to it. Creating needs it; opening checks it against the
            collection's record before anything is written. None opens an existing collection as is.
        store: The embedded store's folder (default :func:`default_store`).
        url: A Qdrant server or cluster instead of the embedded store.
        api_key: The server's API key (never printed).
        prefer_grpc: Talk gRPC to the server.
        shards: Shard number when the server creates the collection.
        replicas: Replication factor when the server creates the collection.
        create: Create the collection when it is missing (else a missing collection is an error).

    Raises:
        StoreError: On conflicting arguments, a missing collection, another model's collection,
            an embedded collection held by another process, or a server that does not answer.
    """
    if url and store is not None:
        raise StoreError("give either a store folder (--store) or a server URL (--url), not both")
    if not url and (api_key or prefer_grpc or shards or replicas):
        raise StoreError("--api-key, --grpc, --shards and --replicas apply to a server; give its --url too")
    if url:
        from ccl_embed.store.client import ClientCollection

        return ClientCollection(collection, meta, url=url, api_key=api_key, prefer_grpc=prefer_grpc,
                                shards=shards, replicas=replicas, create=create)
    from ccl_embed.store.edge import EdgeCollection

    return EdgeCollection(store if store is not None else default_store(), collection, meta, create)


__all__ = ["DEFAULT_COLLECTION", "Collection", "CollectionMeta", "Filter", "Point", "ScoredPoint", "StoreError",
           "default_store", "open_collection"]
