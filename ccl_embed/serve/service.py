"""The core of a server, with no web framework in it: one model, the collections of one store kept
open, searches from any thread, a queue of ingest jobs, and thumbnails of stored images.

The HTTP app (:mod:`ccl_embed.serve.app`) and the MCP server (:mod:`ccl_embed.serve.mcp`) are thin
layers over a :class:`Service`; tests drive it directly.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image

from ccl_embed.errors import CCLEmbedError, one_line
from ccl_embed.ingest.pipeline import IngestSummary, Interrupted, ingest
from ccl_embed.ingest.walk import open_nofollow, stored_name
from ccl_embed.runtime.embedder import Embedder, check_batch_size
from ccl_embed.runtime.folder import DEFAULT_MODEL
from ccl_embed.runtime.images import MAX_PIXELS, ImageError, load_image
from ccl_embed.sdk import CollectionInfo, Hit, Index, model_meta
from ccl_embed.store import DEFAULT_COLLECTION, StoreOptions, collection_names, default_store, open_collection
from ccl_embed.store.base import Filter, MissingCollection, StoreError, check_filter

MAX_UPLOAD_BYTES = 32 << 20
"""An uploaded query image may have at most this many bytes (its pixels are limited as an ingest's are)."""
THUMBNAIL_SIZE = 256
"""The longer side of a thumbnail, in pixels."""
_THUMBNAILS_KEPT = 512


class NotFound(CCLEmbedError):
    """What was asked for does not exist (HTTP 404)."""


class Conflict(CCLEmbedError):
    """The store cannot do it now or for this model (HTTP 409)."""


def under_any(folder: Path, tops: Sequence[Path]) -> bool:
    """Whether a resolved ``folder`` lies inside one of the resolved folders ``tops``."""
    return any(folder.is_relative_to(top) for top in tops)


def _uuid(point_id: str, collection: str) -> str:
    """A point id in its canonical form, or NotFound: ids are UUIDs, and nothing else is looked up."""
    try:
        return str(uuid.UUID(point_id))
    except (ValueError, TypeError, AttributeError):
        raise NotFound(f"no image point {point_id!r:.60} in collection {collection!r} (ids are UUIDs)") from None


class Forbidden(CCLEmbedError):
    """The server was told not to do that (HTTP 403)."""


@dataclass
class Job:
    """One ingest run by a server, as ``GET /api/ingest/{id}`` shows it.

    Attributes:
        id: The job's id.
        collection: The collection it fills.
        path: The folder, on the server's machine.
        status: ``queued``, ``running``, ``done``, ``failed`` or ``interrupted``.
        done: Items embedded so far.
        total: Items to embed (known once the folder is walked and compared with the store).
        summary: When it has ended: the same summary as ``ccl-embed ingest --json`` prints.
        error: Why it failed.
    """

    id: str
    collection: str
    path: str
    status: str = "queued"
    done: int = 0
    total: int | None = None
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    summary: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in ("done", "failed", "interrupted")

    def to_dict(self) -> dict[str, Any]:
        elapsed = ((self.ended_at or time.time()) - self.started_at) if self.started_at else 0.0
        return {"id": self.id, "collection": self.collection, "path": self.path, "status": self.status,
                "done": self.done, "total": self.total, "elapsed_s": round(elapsed, 3),
                "rate": round(self.done / elapsed, 2) if elapsed > 0 else None,
                "summary": self.summary, "error": self.error}


class _Closing(KeyboardInterrupt):
    """Raised inside a running ingest when the server shuts down (the pipeline turns it into
    :class:`Interrupted`, whose summary says what was stored)."""


def decode_upload(data: bytes, filename: str = "upload", max_bytes: int = MAX_UPLOAD_BYTES,
                  max_pixels: int = MAX_PIXELS) -> Image.Image:
    """An uploaded query image, decoded under the same pixel limit as an ingest.

    Raises:
        CCLEmbedError: When it is empty, too large or not an image (one line, naming the upload).
    """
    name = PurePosixPath(filename.replace("\\", "/")).name or "upload"
    if len(data) > max_bytes:
        raise CCLEmbedError(f"upload {name!r}: {len(data):,} bytes is over the limit of {max_bytes:,}")
    try:
        return load_image(Path(name), max_pixels=max_pixels, data=data)
    except ImageError as e:
        raise CCLEmbedError(f"upload {e}") from e


class Service:
    """A model and the collections of one store, shared by every request of one process.

    Args:
        options: The store (the embedded one by default, or a Qdrant server by URL).
        model: ``default``, a shipped model's name or an exported model folder.
        device: ``auto``, ``cpu`` or ``cuda``.
        collection: The collection a request that names none uses.
        ingest_under: When given, ingests are accepted only for folders inside one of these.

    Raises:
        ModelError: When the model cannot be loaded.
    """

    def __init__(self, options: StoreOptions | None = None, *, model: str | os.PathLike[str] = DEFAULT_MODEL,
                 device: str = "auto", collection: str = DEFAULT_COLLECTION,
                 ingest_under: Sequence[str | os.PathLike[str]] = ()) -> None:
        self.options = options or StoreOptions()
        self.embedder = Embedder(model, device=device)
        self.meta = model_meta(self.embedder.model)
        self.default_collection = collection
        self.ingest_under = tuple(Path(p).resolve() for p in ingest_under)
        self._indexes: dict[str, Index] = {}
        self._open_lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._roots: dict[tuple[str, str], Path] = {}  # (collection, root name) -> folder, for named roots
        self._thumbs: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._queue = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccl-embed-ingest")
        self._closing = False
        self._warm_up()

    @property
    def store(self) -> Path | None:
        """The embedded store's folder, or None for a Qdrant server."""
        if self.options.url:
            return None
        return Path(self.options.store).expanduser() if self.options.store is not None else default_store()

    def _warm_up(self) -> None:
        """Load every graph now, so that the first request does not wait and healthz means ready."""
        list(self.embedder.embed_texts(["warm up"]))
        list(self.embedder.embed_images([Image.new("RGB", (32, 32), (255, 255, 255))]))

    # ---- collections -------------------------------------------------------------------------
    def index(self, name: str | None = None, *, create: bool = False) -> Index:
        """The open index of a collection (opened now and kept open; created when ``create``).

        Raises:
            NotFound: When it does not exist and ``create`` is false.
            Conflict: When it holds another model's vectors, or another process holds it.
        """
        name = name or self.default_collection
        if self._closing:
            raise Conflict("the server is shutting down")
        with self._open_lock:
            found = self._indexes.get(name)
            if found is None:
                try:
                    coll = open_collection(name, None, self.options, create=False)
                except MissingCollection as e:
                    if not create:
                        raise NotFound(f"collection {name!r} does not exist; ingest something into it first{e.hint}") from e
                    coll = open_collection(name, self.meta, self.options, create=True)
                except StoreError as e:
                    raise Conflict(str(e)) from e
                found = self._indexes[name] = Index(coll, self.embedder)
        return found

    def _own(self, name: str | None, create: bool = False) -> Index:
        """The index, checked to hold this server's model's vectors."""
        index = self.index(name, create=create)
        try:
            index.collection.meta.check_same(self.meta, index.collection.where)
        except StoreError as e:
            raise Conflict(f"{e} (restart the server with that --model)") from e
        return index

    def collections(self) -> list[CollectionInfo]:
        """Every ccl-embed collection of the store, with its point count, model and width."""
        out = []
        for name in collection_names(self.options):
            try:
                coll = self.index(name).collection
                out.append(CollectionInfo(name, coll.count(), coll.meta.model, coll.meta.dim))
            except CCLEmbedError as e:
                out.append(CollectionInfo(name, error=one_line(str(e))))
        return out

    # ---- search ------------------------------------------------------------------------------
    def search(self, query: str | Image.Image | None, *, collection: str | None = None, limit: int = 10,
               modality: str | None = None, where: Filter | None = None, like: str | None = None,
               offset: int = 0) -> list[Hit]:
        """The hits of a text or image query, in the order :meth:`ccl_embed.Index.search` gives.

        Raises:
            CCLEmbedError: On a bad filter, limit or modality (a request's fault, not the store's).
        """
        try:
            check_filter(where)
        except StoreError as e:
            raise CCLEmbedError(str(e)) from e
        return self._own(collection).search(query, limit=limit, modality=modality, where=where, like=like,
                                            offset=offset)

    def labels(self, collection: str | None = None) -> dict[str, int]:
        """The labels of a collection's items, with how many items carry each."""
        return self._own(collection).labels()

    # ---- ingest ------------------------------------------------------------------------------
    def check_folder(self, path: str | os.PathLike[str]) -> Path:
        """The folder an ingest may read, resolved, or an error that says why not."""
        raw = Path(path).expanduser()
        if not raw.is_absolute():
            raise CCLEmbedError(f"path {str(path)!r}: give the folder's absolute path on the server's machine")
        folder = raw.resolve()
        if self.ingest_under and not under_any(folder, self.ingest_under):
            allowed = ", ".join(str(p) for p in self.ingest_under)
            raise Forbidden(f"path {str(path)!r} is outside the folders this server ingests ({allowed})")
        if not folder.is_dir():
            raise NotFound(f"path {str(path)!r}: no such folder on the server's machine")
        return folder

    def fenced(self, path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` lies under one of the folders named with ``ingest_under`` (links resolved)."""
        raw = Path(path).expanduser()
        return raw.is_absolute() and under_any(raw.resolve(), self.ingest_under)

    def start_ingest(self, path: str | os.PathLike[str], *, collection: str | None = None, prune: bool = False,
                     root: str | None = None, batch_size: int = 32, follow_links_outside: bool = False) -> Job:
        """Queue an ingest; jobs run one at a time, in order, while searches go on.

        Raises:
            CCLEmbedError: On a bad path or argument (before anything is queued).
            Conflict: When the collection holds another model's vectors.
        """
        check_batch_size(batch_size)
        folder = self.check_folder(path)
        name = collection or self.default_collection
        self._own(name, create=True)
        job = Job(uuid.uuid4().hex[:12], name, str(folder))
        self._jobs[job.id] = job
        self._queue.submit(self._run_job, job, prune=prune, root=root, batch_size=batch_size,
                           follow_links_outside=follow_links_outside)
        return job

    def ingest(self, path: str | os.PathLike[str], *, collection: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Queue an ingest and wait for its end (the calls of :meth:`start_ingest`).

        Returns:
            Its summary, as ``ccl-embed ingest --json`` prints it.

        Raises:
            CCLEmbedError: When it fails or is interrupted (its message).
        """
        job = self.wait(self.start_ingest(path, collection=collection, **kwargs))
        if job.status != "done" or job.summary is None:
            raise CCLEmbedError(f"ingest of {path} {job.status}: {job.error}")
        return job.summary

    def job(self, job_id: str) -> Job:
        """A job by id.

        Raises:
            NotFound: For an unknown id.
        """
        if job_id not in self._jobs:
            raise NotFound(f"ingest job {job_id!r:.40} is not known to this server (ids last as long as the server)")
        return self._jobs[job_id]

    def wait(self, job: Job, timeout: float | None = None) -> Job:
        """Block until the job has ended (or ``timeout`` seconds have passed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not job.ended and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.05)
        return job

    def _run_job(self, job: Job, **kwargs: Any) -> None:
        if self._closing:
            job.status, job.error = "interrupted", "the server shut down before the job started"
            return
        job.status, job.started_at = "running", time.time()

        def progress(n: int) -> None:
            job.done += n
            if self._closing:
                raise _Closing

        def on_total(n: int) -> None:
            job.total = n

        try:
            index = self._own(job.collection, create=True)
            root = kwargs.pop("root")
            summary = ingest(job.path, index.collection, self.embedder, root_name=root, progress=progress,
                             on_total=on_total, **kwargs)
            self._finish(job, index, summary, "done", root)
        except Interrupted as e:
            self._finish(job, None, e.summary, "interrupted", None)
            job.error = one_line(str(e))
        except Exception as e:  # a job's failure is its own; the server goes on
            job.status, job.error, job.ended_at = "failed", one_line(str(e) or type(e).__name__, 400), time.time()

    def _finish(self, job: Job, index: Index | None, summary: IngestSummary, status: str, root: str | None) -> None:
        points = index.count() if index is not None else None
        job.summary = {**summary.to_dict(), "collection": job.collection, "points": points}
        if root is not None:
            self._roots[(job.collection, root)] = Path(job.path)
        job.status, job.ended_at = status, time.time()

    # ---- items and thumbnails -----------------------------------------------------------------
    ITEM_FIELDS = ("modality", "path", "root", "text", "label", "pairs", "sha256", "model")

    def item(self, point_id: str, *, collection: str | None = None) -> dict[str, Any]:
        """A stored point's payload (what an item view shows), with its id.

        Raises:
            NotFound: When no such point is stored (ids are UUIDs).
        """
        name = collection or self.default_collection
        point_id = _uuid(point_id, name)
        payload = self.index(name).collection.retrieve([point_id], self.ITEM_FIELDS).get(point_id)
        if payload is None:
            raise NotFound(f"no point {point_id!r} in collection {name!r}")
        return {"id": point_id, **{k: payload.get(k) for k in self.ITEM_FIELDS}}

    def image(self, point_id: str, *, collection: str | None = None) -> tuple[bytes, str]:
        """A stored image point's file, whole, with its media type: under the thumbnail's guards
        (only the file its payload records, inside its ingested folder, while its hash matches).

        Raises:
            NotFound: When no such image point is stored, or its file is gone or has changed.
        """
        name = collection or self.default_collection
        payload, data = self._image_bytes(name, _uuid(point_id, name))
        suffix = PurePosixPath(str(payload.get("path", ""))).suffix.lower()
        media = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
                 ".gif": "image/gif", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff"}
        if suffix not in media:  # SVG and the rest: sent as the PNG the model saw, never as markup
            out = io.BytesIO()
            load_image(str(payload.get("path", "image")), data=data).save(out, format="PNG")
            return out.getvalue(), "image/png"
        return data, media[suffix]

    def _image_bytes(self, name: str, point_id: str) -> tuple[dict[str, Any], bytes]:
        """The payload of an image point and its file's bytes, checked against the payload's hash."""
        payload = self.index(name).collection.retrieve([point_id], ("modality", "path", "root", "sha256",
                                                                    "path_bytes")).get(point_id)
        if payload is None or payload.get("modality") != "image":
            raise NotFound(f"no image point {point_id!r:.60} in collection {name!r}")
        file = self._stored_file(name, payload)
        try:  # the resolved file itself, never a link put in its place since
            with open_nofollow(file) as f:
                data = f.read()
        except OSError:
            raise NotFound(f"{payload.get('path')}: no longer a file inside its ingested folder") from None
        if hashlib.sha256(data).hexdigest() != payload.get("sha256"):
            raise NotFound(f"the file of point {point_id} ({payload.get('path')}) has changed since it was ingested; "
                           "ingest the folder again")
        return payload, data

    def thumbnail(self, point_id: str, *, collection: str | None = None, size: int = THUMBNAIL_SIZE) -> bytes:
        """A small JPEG of a stored image point, read from the file its payload records.

        Only the recorded file is read: the one under the point's ingested folder whose path and
        SHA-256 the payload holds; a file that has changed or moved since is not shown.

        Raises:
            NotFound: When no such image point is stored, or its file is gone or has changed.
        """
        name = collection or self.default_collection
        point_id = _uuid(point_id, name)
        key = (name, point_id)
        if key in self._thumbs:
            self._thumbs.move_to_end(key)
            return self._thumbs[key]
        payload, data = self._image_bytes(name, point_id)
        img = load_image(str(payload.get("path", "image")), data=data)
        img.thumbnail((size, size))
        out = io.BytesIO()
        img.save(out, format="JPEG", quality=85)
        self._thumbs[key] = out.getvalue()
        while len(self._thumbs) > _THUMBNAILS_KEPT:
            self._thumbs.popitem(last=False)
        return self._thumbs[key]

    def _stored_file(self, collection: str, payload: dict[str, Any]) -> Path:
        """The file a payload records, kept inside its ingested folder."""
        root, shown = str(payload.get("root", "")), str(payload.get("path", ""))
        try:  # a name that is not UTF-8 is stored printable, with its bytes beside
            rel = stored_name(shown, payload.get("path_bytes"))
        except (ValueError, TypeError):
            raise NotFound(f"{shown!r}: its recorded name is not readable") from None
        folder = self._roots.get((collection, root)) or (Path(root) if Path(root).is_absolute() else None)
        if folder is None:
            raise NotFound(f"{rel}: ingested under the name {root!r}, whose folder this server has not seen; "
                           "ingest it through this server to show its thumbnails")
        parts = PurePosixPath(rel).parts
        if not parts or any(p in ("..", "") for p in parts) or PurePosixPath(rel).is_absolute():
            raise NotFound(f"{rel!r}: not a path inside its ingested folder")
        top = folder.resolve()
        file = (top / Path(*parts)).resolve()
        if not file.is_relative_to(top) or not file.is_file():
            raise NotFound(f"{rel}: no longer a file inside {top}")
        return file

    # ---- life ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop: a running ingest is interrupted (what it stored is kept), then every collection is closed."""
        self._closing = True
        self._queue.shutdown(wait=True, cancel_futures=False)
        with self._open_lock:
            for index in self._indexes.values():
                index.close()
            self._indexes.clear()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
