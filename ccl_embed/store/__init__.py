"""Where vectors live: the embedded engine by default, a Qdrant server or cluster by URL.

:func:`open_collection` is the one entry point; it returns a :class:`Collection` whatever the backend.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ccl_embed.store.base import Collection, CollectionMeta, Filter, MissingCollection, Point, ScoredPoint, StoreError
from ccl_embed.store.client import redact_url

STORE_ENV = "CCL_EMBED_STORE"
DEFAULT_COLLECTION = "ccl-embed"


def default_store() -> Path:
    """The embedded store's folder: ``$CCL_EMBED_STORE``, else ``$XDG_DATA_HOME/ccl-embed/store``,
    else ``~/.local/share/ccl-embed/store``."""
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ccl-embed" / "store"


@dataclass(frozen=True)
class StoreOptions:
    """Where a collection lives: the embedded store (default) or a Qdrant server, validated once.

    Built by the CLI or by :func:`ccl_embed.open` and passed unchanged to :func:`open_collection`,
    so conflicting choices fail here, before any model is loaded.

    Attributes:
        store: The embedded store's folder (default :func:`default_store`).
        url: A Qdrant server or cluster instead of the embedded store.
        api_key: The server's API key (never printed; left out of ``repr``).
        prefer_grpc: Talk gRPC to the server.
        shards: Shard number when the server creates the collection.
        replicas: Replication factor when the server creates the collection.
        wait: Seconds to wait for another process that holds an embedded collection to let go
            (the CLI waits 30 s; the library fails at once by default).

    Raises:
        StoreError: For a store folder and a URL together, or server options without a URL.
    """

    store: str | os.PathLike[str] | None = None
    url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    prefer_grpc: bool = False
    shards: int | None = None
    replicas: int | None = None
    wait: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", self.url or None)
        object.__setattr__(self, "api_key", self.api_key or None)
        if self.url and self.store is not None:
            raise StoreError("give either a store folder (--store) or a server URL (--url), not both")
        if not self.url and (self.api_key or self.prefer_grpc or self.shards or self.replicas):
            raise StoreError("--api-key, --grpc, --shards and --replicas apply to a server; give its --url too")
        for name in ("shards", "replicas"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise StoreError(f"{name}={value!r}: give a positive whole number")
        if not isinstance(self.wait, (int, float)) or not 0 <= self.wait <= 3600:
            raise StoreError(f"wait={self.wait!r}: give the seconds to wait for another process, 0 to 3600")


def open_collection(collection: str = DEFAULT_COLLECTION, meta: CollectionMeta | None = None,
                    options: StoreOptions | None = None, *, create: bool = True) -> Collection:
    """Open (or, given ``meta``, create) a collection.

    Args:
        collection: The collection's name.
        meta: The model that will write to it. Creating needs it; opening checks it against the
            collection's record before anything is written. None opens an existing collection as is.
        options: Where the collection lives (default: the embedded store at :func:`default_store`).
        create: Create the collection when it is missing (else a missing collection is an error).

    Raises:
        StoreError: On a missing collection, another model's collection, an embedded collection
            held by another process, or a server that does not answer.
    """
    options = options or StoreOptions()
    try:
        if options.url:
            from ccl_embed.store.client import ClientCollection

            return ClientCollection(collection, meta, url=options.url, api_key=options.api_key,
                                    prefer_grpc=options.prefer_grpc, shards=options.shards, replicas=options.replicas,
                                    create=create)
        from ccl_embed.store.edge import EdgeCollection

        return EdgeCollection(options.store if options.store is not None else default_store(), collection, meta,
                              create, wait=options.wait)
    except MissingCollection as e:
        raise MissingCollection(str(e), did_you_mean(collection, options)) from e


def did_you_mean(name: str, options: StoreOptions) -> str:
    """``"; did you mean 'x'? (collections here: ...)"`` for a name the store lacks, listing what it has."""
    import difflib

    try:
        names = collection_names(options)
    except StoreError:
        return ""
    if not names:
        return "; the store has no collection yet"
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
    return (f"; did you mean {close[0]!r}?" if close else "") + f" (collections here: {shown})"


def collection_names(options: StoreOptions | None = None) -> list[str]:
    """The ccl-embed collections of a store (embedded folder or server), by name.

    Raises:
        StoreError: When the server does not answer.
    """
    options = options or StoreOptions()
    if options.url:
        from ccl_embed.errors import one_line
        from ccl_embed.store.client import connect, list_collections

        client = connect(options.url, options.api_key, options.prefer_grpc)
        try:
            return list_collections(client)
        except Exception as e:
            raise StoreError(f"cannot list the collections of {options.url and redact_url(options.url)} "
                             f"({type(e).__name__}: {one_line(e)})") from e
        finally:
            client.close()
    from ccl_embed.store.edge import list_collections as edge_collections

    return edge_collections(options.store if options.store is not None else default_store())


def drop_collection(collection: str, options: StoreOptions | None = None) -> None:
    """Remove a ccl-embed collection and all its points.

    Raises:
        StoreError: When it does not exist, was not made by ccl-embed, or is held by another process.
    """
    options = options or StoreOptions()
    if options.url:
        from ccl_embed.store.client import connect, list_collections

        client = connect(options.url, options.api_key, options.prefer_grpc)
        try:
            if collection not in list_collections(client):
                raise StoreError(f"collection {collection!r} on {redact_url(options.url)} does not exist or was not "
                                 "made by ccl-embed; `ccl-embed collections --url ...` lists them")
            client.delete_collection(collection)
        finally:
            client.close()
        return
    from ccl_embed.store.edge import drop_collection as edge_drop

    edge_drop(options.store if options.store is not None else default_store(), collection)
