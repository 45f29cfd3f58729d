"""A Qdrant server or cluster through qdrant-client (also its local mode, used in congruence tests).

The API key is passed to the client and never printed or logged; messages name the URL only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ccl_embed.errors import one_line, require
from ccl_embed.store.base import (
    INDEXED_FIELDS,
    VECTOR_NAME,
    Collection,
    CollectionMeta,
    Filter,
    MissingCollection,
    Point,
    ScoredPoint,
    StoreError,
    check_filter,
)

_PAGE = 1024


def redact_url(url: str | None) -> str:
    """A URL fit to print: any ``user:password@`` is replaced by ``***@``."""
    from urllib.parse import urlsplit, urlunsplit

    if not url:
        return str(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def _grpc_port(url: str | None) -> int | None:
    """The port of ``url``, for gRPC: qdrant-client would otherwise talk to 6334 whatever the URL says."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).port if url else None
    except ValueError:
        return None


def connect(url: str, api_key: str | None = None, prefer_grpc: bool = False) -> Any:
    """A ``QdrantClient`` for a server, or a one-line StoreError (the URL's credentials redacted)."""
    qc = require("qdrant_client", "runtime", "qdrant-client")
    extra = {}
    if prefer_grpc and _grpc_port(url) is not None:
        extra["grpc_port"] = _grpc_port(url)
    try:
        return qc.QdrantClient(url=url, api_key=api_key, prefer_grpc=prefer_grpc, check_compatibility=False, **extra)
    except Exception as e:
        raise StoreError(f"cannot connect to {redact_url(url)} ({type(e).__name__}: {one_line(e)})") from e


def list_collections(client: Any) -> list[str]:
    """The collections of a server that ccl-embed created (those recording a model), by name."""
    names = sorted(c.name for c in client.get_collections().collections)
    out = []
    for name in names:
        metadata = getattr(client.get_collection(name).config, "metadata", None) or {}
        if isinstance(metadata, dict) and "ccl_embed" in metadata:
            out.append(name)
    return out


def _filter(models: Any, where: Filter | None) -> Any:
    conditions = []
    for key, values in check_filter(where).items():
        match = models.MatchValue(value=values[0]) if len(values) == 1 else models.MatchAny(any=values)
        conditions.append(models.FieldCondition(key=key, match=match))
    return models.Filter(must=conditions) if conditions else None


def _server_call(method: Callable[..., Any]) -> Callable[..., Any]:
    """A collection method whose client errors (HTTP, gRPC, timeouts) become one-line StoreErrors."""

    @functools.wraps(method)
    def call(self: ClientCollection, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except StoreError:
            raise
        except Exception as e:
            raise StoreError(f"{self.where}: {method.__name__} failed ({type(e).__name__}: "
                             f"{one_line(e)})") from e

    return call


class ClientCollection(Collection):
    """A collection on a Qdrant server (``url``), or in qdrant-client's local mode (``location``/``path``).

    Args:
        name: The collection.
        meta: The model about to write (checked against the collection's record); None to open an
            existing collection as it is.
        url: A server URL (``http://host:6333``); ``api_key`` and ``prefer_grpc`` go with it.
        location: ``":memory:"`` for an in-memory local client (tests).
        path: A folder for a persistent local client.
        shards: Shard count on creation (cluster).
        replicas: Replication factor on creation (cluster).
        client: An existing ``QdrantClient`` to use (it is not closed with the collection).
        create: Create the collection when missing (needs ``meta``).
    """

    def __init__(self, name: str, meta: CollectionMeta | None, *, url: str | None = None, api_key: str | None = None,
                 prefer_grpc: bool = False, location: str | None = None, path: str | None = None,
                 shards: int | None = None, replicas: int | None = None, client: Any = None, create: bool = True) -> None:
        qc = require("qdrant_client", "runtime", "qdrant-client")
        self._models = qc.models
        self.name = name
        self.where = (f"collection {name!r} on {redact_url(url)}" if url
                      else f"collection {name!r} of qdrant-client local mode")
        self._owns_client = client is None
        self._closed = False
        self._shards, self._replicas = shards, replicas
        if client is None:
            if url:
                client = connect(url, api_key, prefer_grpc)
            else:
                try:
                    client = qc.QdrantClient(location=location, path=path, check_compatibility=False)
                except Exception as e:
                    raise StoreError(f"cannot open {path or location} ({type(e).__name__}: {one_line(e)})") from e
        self._client = client
        try:
            exists = client.collection_exists(name)
        except Exception as e:
            raise StoreError(f"{self.where}: the server did not answer ({type(e).__name__}: {one_line(e)}); "
                             "check the URL and the API key") from e
        self._exists = exists
        if exists:
            info = client.get_collection(name)
            self.meta = CollectionMeta.from_dict(info.config.metadata, self.where)
            if meta is not None:
                self.meta.check_same(meta, self.where)
        elif meta is None or not create:
            raise MissingCollection(f"{self.where} does not exist; ingest something into it first "
                                    f"(ccl-embed ingest DIR --collection {name})")
        else:
            self.meta = meta  # created on the first write: a failed ingest leaves nothing behind

    def _create(self) -> None:
        m, client, meta = self._models, self._client, self.meta
        client.create_collection(
            self.name, vectors_config={VECTOR_NAME: m.VectorParams(size=meta.dim, distance=m.Distance.COSINE)},
            shard_number=self._shards, replication_factor=self._replicas, metadata=meta.to_dict())
        if not getattr(client, "_client", None).__class__.__name__.startswith("QdrantLocal"):
            for key in INDEXED_FIELDS:  # local mode has no payload indexes (and warns)
                client.create_payload_index(self.name, key, field_schema=m.PayloadSchemaType.KEYWORD)
        self._exists = True

    def _ready(self, write: bool) -> bool:
        """Whether the collection exists (created now for a write); a closed one is an error."""
        if self._closed:
            raise StoreError(f"{self.where} is closed; open it again")
        if write and not self._exists:
            self._create()
        return self._exists

    @_server_call
    def upsert(self, points: Sequence[Point]) -> None:
        if points and self._ready(True):
            m = self._models
            self._client.upsert(self.name, wait=True, points=[
                m.PointStruct(id=p.id, vector={VECTOR_NAME: list(p.vector)}, payload=p.payload) for p in points])

    @_server_call
    def set_payload(self, point_id: str, values: dict[str, Any]) -> None:
        keep = {k: v for k, v in values.items() if v is not None}
        if not self._ready(True):
            return
        if keep:
            self._client.set_payload(self.name, payload=keep, points=[point_id], wait=True)
        if len(keep) < len(values):
            self._client.delete_payload(self.name, keys=[k for k, v in values.items() if v is None],
                                        points=[point_id], wait=True)

    @_server_call
    def delete(self, ids: Sequence[str]) -> None:
        if ids and self._ready(False):
            self._client.delete(self.name, points_selector=self._models.PointIdsList(points=list(ids)), wait=True)

    @_server_call
    def query(self, vector: Sequence[float], limit: int, where: Filter | None = None) -> list[ScoredPoint]:
        if not self._ready(False):
            return []
        res = self._client.query_points(self.name, query=list(vector), using=VECTOR_NAME, limit=limit,
                                        query_filter=_filter(self._models, where), with_payload=True)
        return [ScoredPoint(str(h.id), float(h.score), dict(h.payload or {})) for h in res.points]

    def scan(self, where: Filter | None = None, fields: Sequence[str] = ("path",),
             with_vectors: bool = False) -> Iterator[tuple[str, dict[str, Any], list[float] | None]]:
        if not self._ready(False):
            return
        offset = None
        while True:
            records, offset = self._client.scroll(self.name, scroll_filter=_filter(self._models, where), limit=_PAGE,
                                                  offset=offset, with_payload=list(fields) or False,
                                                  with_vectors=[VECTOR_NAME] if with_vectors else False)
            for r in records:
                vector = r.vector.get(VECTOR_NAME) if with_vectors and isinstance(r.vector, dict) else None
                yield str(r.id), dict(r.payload or {}), vector
            if offset is None:
                return

    @_server_call
    def retrieve(self, ids: Sequence[str], fields: Sequence[str] = ("path",)) -> dict[str, dict[str, Any]]:
        if not ids or not self._ready(False):
            return {}
        records = self._client.retrieve(self.name, ids=list(ids), with_payload=list(fields) or False, with_vectors=False)
        return {str(r.id): dict(r.payload or {}) for r in records}

    @_server_call
    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        if not ids or not self._ready(False):
            return {}
        records = self._client.retrieve(self.name, ids=list(ids), with_payload=False, with_vectors=[VECTOR_NAME])
        return {str(r.id): list((r.vector or {}).get(VECTOR_NAME) or []) for r in records if isinstance(r.vector, dict)}

    @_server_call
    def count(self, where: Filter | None = None) -> int:
        if not self._ready(False):
            return 0
        return int(self._client.count(self.name, count_filter=_filter(self._models, where), exact=True).count)

    def close(self) -> None:
        self._closed = True
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None
