"""The embedded default: Qdrant's own engine in-process (``qdrant-edge-py``), one shard per collection.

On disk, a store is a folder with one sub-folder per collection::

    STORE/COLLECTION/collection.json   the model record (written before any point)
    STORE/COLLECTION/shard/            the engine's segments and write-ahead log
    STORE/COLLECTION/.lock             held by the one process that has it open

The engine recovers from a kill through its write-ahead log. One process at a time may open a
collection: a second waits as long as it was told to (``StoreOptions.wait``), then gets a
:class:`~ccl_embed.store.base.StoreError` naming the holder. A long-lived holder that shares the
store with many readers is ``ccl-embed serve``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from ccl_embed.errors import require
from ccl_embed.store.lock import try_lock
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

logger = logging.getLogger(__name__)

META_FILE = "collection.json"
SHARD_DIR = "shard"
LOCK_FILE = ".lock"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PAGE = 1024
_MIB = 1 << 20

WAL_SEGMENT = 32 * _MIB
"""The engine's write-ahead-log segment, a file it maps whole."""
NEW_COLLECTION = 160 * _MIB
"""Room a new collection's files may take at once (qdrant-edge-py 0.9 lays out two log segments,
a 32 MiB vector chunk, a 32 MiB payload page and four 4 MiB index maps, all mapped)."""
MARGIN = 8 * _MIB
"""Free space kept beyond every estimate."""
WRITE_FACTOR = 4
"""A write's estimated size on disk: this many times its vectors and payloads (log, segment, indexes)."""


def free_bytes(folder: Path) -> int:
    """Free space for this user on the file system holding ``folder`` (or its nearest existing parent)."""
    import shutil

    path = folder
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def unfilled_bytes(folder: Path) -> int:
    """How much the engine's mapped files under ``folder`` could still take: their holes (size
    beyond the blocks allocated). The engine maps its files whole; on some file systems (tmpfs)
    even reading a hole allocates it, and a page that cannot be allocated kills the process with
    SIGBUS, so every hole counts as space it may need."""
    total = 0
    for top, _, files in os.walk(folder):
        for name in files:
            try:
                st = os.stat(os.path.join(top, name))
            except OSError:
                continue
            total += max(0, st.st_size - st.st_blocks * 512)
    return total


def _mib(n: float) -> str:
    return f"{n / _MIB:.1f} MiB"


def check_name(name: str) -> str:
    """A collection name usable as a folder name, or a StoreError saying what is allowed."""
    if not _NAME.match(name) or name in (".", ".."):
        raise StoreError(f"collection name {name!r}: use 1-64 letters, digits, '_', '-' or '.', "
                         "starting with a letter or digit")
    return name


def _lock(path: Path, where: str, wait: float = 0.0) -> IO[str]:
    """Hold an exclusive lock on ``path`` for this process. A holder that lets go within ``wait``
    seconds is waited for (logged once); else fail naming the holder. (Without locks, on Windows,
    the engine's own WAL lock still refuses a second opener.)"""
    import time

    deadline = time.monotonic() + max(0.0, wait)
    told = False
    while (handle := try_lock(path)) is None:
        holder = path.read_text().strip() or "unknown"
        if time.monotonic() >= deadline:
            waited = f" (waited {wait:g} s)" if wait > 0 else ""
            raise StoreError(f"{where} is in use by another ccl-embed process (pid {holder}){waited}; wait for "
                             "it to finish, or run `ccl-embed serve` so that searches and ingests share the store")
        if not told:
            logger.info("%s is in use by pid %s; waiting up to %g s for it", where, holder, wait)
            told = True
        time.sleep(0.05)
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

    def __init__(self, store: str | os.PathLike[str], name: str, meta: CollectionMeta | None, create: bool = True,
                 wait: float = 0.0) -> None:
        self._q = require("qdrant_edge", "runtime", "qdrant-edge-py")
        self.name = check_name(name)
        self.folder: Path = Path(store).expanduser() / name
        self.where = f"collection {name!r} of the embedded store {Path(store).expanduser()}"
        self._lock: IO[str] | None = None
        self._shard: Any = None
        self._closed = False
        self._holes: int | None = None  # see _check_space
        self._written = 0
        self._wait = wait
        meta_path = self.folder / META_FILE
        if not meta_path.is_file():
            if meta is None or not create:
                raise MissingCollection(f"{self.where} does not exist; ingest something into it first "
                                        f"(ccl-embed ingest DIR --collection {name})")
            self.meta = meta  # created on the first write: a failed ingest leaves nothing behind
            return
        self._open(meta)

    def _check_space(self, extra: int, doing: str) -> None:
        """Stop with one line, before the engine is touched, when the disk cannot take what the
        engine's mapped files may still claim (their holes, or a new collection's layout) plus
        ``extra`` bytes and a margin.

        The holes are measured (a walk of the folder) when first needed, again once the writes
        since then could have rolled the log into a new segment, after an index build, and
        before any refusal; between, the last figure stands (writes only fill holes)."""
        free = free_bytes(self.folder)
        if not (self.folder / SHARD_DIR).is_dir():
            base = NEW_COLLECTION
        else:
            if self._holes is None or self._written > WAL_SEGMENT // 2:
                self._holes, self._written = unfilled_bytes(self.folder), 0
            base = self._holes
            if free < base + extra + MARGIN:  # the figure may be old: measure before refusing
                self._holes, self._written = unfilled_bytes(self.folder), 0
                base = self._holes
        need = base + extra + MARGIN
        if free < need:
            raise StoreError(f"{self.where}: the disk has {_mib(free)} free and {doing} needs about {_mib(need)}; "
                             "free some space and run the command again")

    def _open(self, meta: CollectionMeta | None) -> None:
        self._check_space(0, "opening it" if (self.folder / SHARD_DIR).is_dir() else "creating it")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"{self.folder}: cannot create the store folder ({e.strerror})") from e
        self._lock = _lock(self.folder / LOCK_FILE, self.where, self._wait)
        try:
            self.meta = self._read_or_write_meta(self.folder / META_FILE, meta)
            self._shard = self._open_shard()
        except BaseException:
            self.close()
            raise

    def _writable(self) -> Any:
        """The shard, created now if this is the collection's first write."""
        if self._closed:
            raise StoreError(f"{self.where} is closed; open it again")
        if self._shard is None:
            self._open(self.meta)
        return self._shard

    def _readable(self) -> Any:
        """The shard, or None while the collection is not created yet (it holds nothing)."""
        if self._closed:
            raise StoreError(f"{self.where} is closed; open it again")
        return self._shard

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
            raise MissingCollection(f"{self.where} does not exist; ingest something into it first")
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
        if not points:
            return
        size = WRITE_FACTOR * sum(4 * len(p.vector) + len(json.dumps(p.payload)) + 64 for p in points)
        self._check_space(WAL_SEGMENT + size, f"storing {len(points)} more points")
        shard = self._writable()
        self._engine("store points", shard.update, q.UpdateOperation.upsert_points(
            [q.Point(p.id, {VECTOR_NAME: list(p.vector)}, p.payload) for p in points]))
        self._written += size

    def _engine(self, doing: str, call: Any, *args: Any) -> Any:
        """Call the engine; its plain Exceptions become a one-line StoreError."""
        try:
            return call(*args)
        except Exception as e:  # the engine raises plain Exceptions
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise StoreError(f"{self.where}: could not {doing} ({first.removeprefix('Service runtime error: ')})") from e

    def set_payload(self, point_id: str, values: dict[str, Any]) -> None:
        op = self._q.UpdateOperation
        keep = {k: v for k, v in values.items() if v is not None}
        shard = self._writable()
        self._check_space(WAL_SEGMENT, "updating a payload")
        if keep:
            self._engine("update a payload", shard.update, op.set_payload([point_id], keep))
        if len(keep) < len(values):
            gone = [k for k, v in values.items() if v is None]
            self._engine("update a payload", shard.update, op.delete_payload([point_id], gone))

    def delete(self, ids: Sequence[str]) -> None:
        if ids and self._readable() is not None:
            self._check_space(WAL_SEGMENT, f"removing {len(ids)} points")
            self._engine("remove points", self._shard.update, self._q.UpdateOperation.delete_points(list(ids)))

    def query(self, vector: Sequence[float], limit: int, where: Filter | None = None) -> list[ScoredPoint]:
        q = self._q
        if self._readable() is None:
            return []
        hits = self._shard.query(q.QueryRequest(limit=limit, query=q.Query.Nearest(list(vector), using=VECTOR_NAME),
                                                filter=_filter(q, where), with_payload=True))
        return [ScoredPoint(str(h.id), float(h.score), dict(h.payload or {})) for h in hits]

    def scan(self, where: Filter | None = None, fields: Sequence[str] = ("path",),
             with_vectors: bool = False) -> Iterator[tuple[str, dict[str, Any], list[float] | None]]:
        q = self._q
        if self._readable() is None:
            return
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

    def retrieve(self, ids: Sequence[str], fields: Sequence[str] = ("path",)) -> dict[str, dict[str, Any]]:
        if self._readable() is None or not ids:
            return {}
        records = self._engine("read points", self._shard.retrieve, list(ids), list(fields) or False, False)
        return {str(r.id): dict(r.payload or {}) for r in records}

    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        if self._readable() is None or not ids:
            return {}
        records = self._engine("read points", self._shard.retrieve, list(ids), False, True)
        return {str(r.id): list((r.vector or {}).get(VECTOR_NAME) or []) for r in records}

    def count(self, where: Filter | None = None) -> int:
        if self._readable() is None:
            return 0
        return int(self._shard.count(self._q.CountRequest(exact=True, filter=_filter(self._q, where))))

    def optimize(self) -> None:
        """Build the HNSW index and merge segments (this engine does it only when asked)."""
        if self._readable() is not None:
            self._check_space(WAL_SEGMENT, "building the index")
            self._engine("build the index; the points are stored, and a re-run builds it", self._shard.optimize)
            self._holes = None  # new segments: measure again

    def close(self) -> None:
        self._closed = True
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


def drop_collection(store: str | os.PathLike[str], name: str) -> None:
    """Remove a collection of an embedded store, its folder and every point (held: an error, nothing removed).

    Raises:
        StoreError: When it does not exist or another process has it open.
    """
    import shutil

    folder = Path(store).expanduser() / check_name(name)
    where = f"collection {name!r} of the embedded store {Path(store).expanduser()}"
    if not (folder / META_FILE).is_file():
        raise StoreError(f"{where} does not exist; `ccl-embed collections` lists the collections")
    lock = _lock(folder / LOCK_FILE, where)
    try:
        (folder / META_FILE).unlink()  # first: a half-removed folder is no longer a collection
        for child in folder.iterdir():
            if child.name != LOCK_FILE:
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    finally:
        lock.close()
    shutil.rmtree(folder, ignore_errors=True)
