"""The embedded default: Qdrant's own engine in-process (``qdrant-edge-py``), one shard per collection.

On disk, a store is a folder with one sub-folder per collection::

    STORE/COLLECTION/collection.json   the model record (written before any point)
    STORE/COLLECTION/shard/            the engine's segments and write-ahead log
    STORE/COLLECTION/.lock             held by the one process that has it open

The engine recovers from a kill through its write-ahead log. One process at a time may open a
collection: a second gets a :class:`~ccl_embed.store.base.StoreError` at once, naming the holder.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from ccl_embed.errors import require
from ccl_embed.store.base import (
    INDEXED_FIELDS,
    VECTOR_NAME,
    Collection,
    CollectionMeta,
    Filter,
    Point,
    ScoredPoint,
    StoreError,
    check_filter,
)

META_FILE = "collection.json"
SHARD_DIR = "shard"
LOCK_FILE = ".lock"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PAGE = 1024


def check_name(name: str) -> str:
    """A collection name usable as a folder name, or a StoreError saying what is allowed."""
    if not _NAME.match(name) or name in (".", ".."):
        raise StoreError(f"collection name {name!r}: use 1-64 letters, digits, '_', '-' or '.', "
                         "starting with a letter or digit")
    return name


def _lock(path: Path, where: str) -> IO[str]:
    """Hold an exclusive lock on ``path`` for this process, or fail at once naming the holder."""
    handle = path.open("a+")
    try:
        import fcntl
    except ImportError:  # Windows: the engine's own WAL lock still refuses a second opener
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise StoreError(f"{where} is in use by another ccl-embed process (pid {holder}); wait for it to "
                         "finish, or ingest into another --collection") from e
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _filter(q: Any, where: Filter | None) -> Any:
    conditions = []
    for key, values in check_filter(where).items():
        match = q.MatchValue(values[0]) if len(values) == 1 else q.MatchAny(values)
        conditions.append(q.FieldCondition(key, match=match))
    return q.Filter(must=conditions) if conditions else None


class EdgeCollection(Collection):
    """A collection of the embedded store (see the module docs for the layout)."""

    def __init__(self, store: str | os.PathLike[str], name: str, meta: CollectionMeta | None, create: bool = True) -> None:
        self._q = require("qdrant_edge", "runtime", "qdrant-edge-py")
        self.name = check_name(name)
        self.folder: Path = Path(store).expanduser() / name
        self.where = f"collection {name!r} of the embedded store {Path(store).expanduser()}"
        meta_path = self.folder / META_FILE
        if not meta_path.is_file() and (meta is None or not create):
            raise StoreError(f"{self.where} does not exist; ingest something into it first "
                             f"(ccl-embed ingest DIR --collection {name})")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"{self.folder}: cannot create the store folder ({e.strerror})") from e
        self._lock: IO[str] | None = _lock(self.folder / LOCK_FILE, self.where)
        try:
            self.meta = self._read_or_write_meta(meta_path, meta)
            self._shard = self._open_shard()
        except BaseException:
            self.close()
            raise

    def _read_or_write_meta(self, path: Path, meta: CollectionMeta | None) -> CollectionMeta:
        if path.is_file():
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError) as e:
                raise StoreError(f"{path}: unreadable collection record ({e})") from e
            stored = CollectionMeta.from_dict(record, self.where)
            if meta is not None:
                stored.check_same(meta, self.where)
            return stored
        if meta is None:
            raise StoreError(f"{self.where} does not exist; ingest something into it first")
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta.to_dict(), indent=2))
        os.replace(tmp, path)
        return meta

    def _open_shard(self) -> Any:
        q = self._q
        path = self.folder / SHARD_DIR
        try:
            if (path / "edge_config.json").is_file():
                return q.EdgeShard.load(str(path))
            shard = q.EdgeShard.create(str(path), q.EdgeConfig(
                vectors={VECTOR_NAME: q.EdgeVectorParams(size=self.meta.dim, distance=q.Distance.Cosine)}))
            for key in INDEXED_FIELDS:
                shard.update(q.UpdateOperation.create_field_index(key, q.PayloadSchemaType.Keyword))
            return shard
        except Exception as e:  # the engine raises plain Exceptions
            if "WouldBlock" in str(e):
                raise StoreError(f"{self.where} is open in another process; wait for it to finish") from e
            raise StoreError(f"{self.where}: the engine could not open {path} ({str(e).splitlines()[0]})") from e

    def upsert(self, points: Sequence[Point]) -> None:
        q = self._q
        if points:
            self._shard.update(q.UpdateOperation.upsert_points(
                [q.Point(p.id, {VECTOR_NAME: list(p.vector)}, p.payload) for p in points]))

    def set_payload(self, point_id: str, values: dict[str, Any]) -> None:
        op = self._q.UpdateOperation
        keep = {k: v for k, v in values.items() if v is not None}
        if keep:
            self._shard.update(op.set_payload([point_id], keep))
        if len(keep) < len(values):
            self._shard.update(op.delete_payload([point_id], [k for k, v in values.items() if v is None]))

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._shard.update(self._q.UpdateOperation.delete_points(list(ids)))

    def query(self, vector: Sequence[float], limit: int, where: Filter | None = None) -> list[ScoredPoint]:
        q = self._q
        hits = self._shard.query(q.QueryRequest(limit=limit, query=q.Query.Nearest(list(vector), using=VECTOR_NAME),
                                                filter=_filter(q, where), with_payload=True))
        return [ScoredPoint(str(h.id), float(h.score), dict(h.payload or {})) for h in hits]

    def scan(self, where: Filter | None = None, fields: Sequence[str] = ("path",),
             with_vectors: bool = False) -> Iterator[tuple[str, dict[str, Any], list[float] | None]]:
        q = self._q
        offset = None
        while True:
            records, offset = self._shard.scroll(q.ScrollRequest(
                offset=offset, limit=_PAGE, filter=_filter(q, where), with_payload=list(fields) or False,
                with_vector=[VECTOR_NAME] if with_vectors else False))
            for r in records:
                vector = (r.vector or {}).get(VECTOR_NAME) if with_vectors else None
                yield str(r.id), dict(r.payload or {}), vector
            if offset is None:
                return

    def count(self, where: Filter | None = None) -> int:
        return int(self._shard.count(self._q.CountRequest(exact=True, filter=_filter(self._q, where))))

    def optimize(self) -> None:
        """Build the HNSW index and merge segments (this engine does it only when asked)."""
        self._shard.optimize()

    def close(self) -> None:
        shard = getattr(self, "_shard", None)
        if shard is not None:
            self._shard = None
            shard.flush()
            shard.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def list_collections(store: str | os.PathLike[str]) -> list[str]:
    """The collections of an embedded store, by name."""
    root = Path(store).expanduser()
    return sorted(p.name for p in root.iterdir() if (p / META_FILE).is_file()) if root.is_dir() else []
