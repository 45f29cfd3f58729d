"""The SDK: open an index, ingest folders, search by text or image.

    import ccl_embed
    index = ccl_embed.open(collection="photos")       # embedded store, default model
    index.ingest("./corpus")
    for hit in index.search("a red bicycle", limit=5):
        print(hit.relevance, hit.modality, hit.path)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PIL import Image

from ccl_embed.errors import CCLEmbedError
from ccl_embed.ingest import IngestSummary, ingest
from ccl_embed.ingest.pipeline import root_key
from ccl_embed.runtime.embedder import Embedder, check_batch_size, vectors_or_raise
from ccl_embed.runtime.session import check_device
from ccl_embed.runtime.folder import DEFAULT_MODEL, RuntimeModel
from ccl_embed.store import (
    DEFAULT_COLLECTION,
    Collection,
    CollectionMeta,
    Filter,
    StoreOptions,
    collection_names,
    default_store,
    drop_collection,
    open_collection,
)
from ccl_embed.runtime.calibration import MODALITIES, Relevance
from ccl_embed.store.base import ScoredPoint, StoreError, check_filter

if TYPE_CHECKING:
    from ccl_embed.ingest.distributed import RayOptions

Query = str | os.PathLike[str] | Image.Image
ImageQuery = str | os.PathLike[str] | Image.Image | bytes


def query_of(text: Query | None, image: ImageQuery | None, like: str | None = None) -> Query | None:
    """The one query of a search: ``text`` (a ``str`` is text; a path or a PIL image is an
    image), ``image=`` (a path, a PIL image, or a file's bytes, decoded here), or None when the
    search is ``like=`` a stored item.

    Raises:
        CCLEmbedError: For none or more than one, or an image that cannot be decoded.
    """
    from ccl_embed.runtime.images import IMAGE_SUFFIXES, SVG_SUFFIXES

    if like is not None:
        if text is not None or image is not None:
            raise CCLEmbedError("give one of a text, image= or like=")
        return None
    if image is None:
        if text is None:
            raise CCLEmbedError("give a text to search for, or image= (a path, a PIL image or bytes)")
        if isinstance(text, str) and Path(text).suffix.lower() in IMAGE_SUFFIXES + SVG_SUFFIXES and Path(text).is_file():
            warnings.warn(f"searching for the text {text!r}; to search by that image, pass image={text!r}", stacklevel=3)
        return text
    if text is not None:
        raise CCLEmbedError("give a text or image=, not both")
    if isinstance(image, (bytes, bytearray)):
        from ccl_embed.runtime.images import ImageError, load_image

        try:
            return load_image("image bytes", data=bytes(image))
        except ImageError as e:
            raise CCLEmbedError(str(e)) from e
    if isinstance(image, str):
        return Path(image)
    if not isinstance(image, (os.PathLike, Image.Image)):
        raise CCLEmbedError(f"image={image!r:.60}: pass a path, a PIL image or the bytes of an image file")
    return image


def filter_of(where: Any) -> Any:
    """``where=`` as a mapping: a mapping as given, or a ``qdrant_client.models.Filter`` whose
    ``must`` conditions match a field to a value (``MatchValue``) or to any of values (``MatchAny``).

    Raises:
        CCLEmbedError: For a Filter with other conditions (``should``, ``must_not``, ranges...).
    """
    if where is None or isinstance(where, Mapping) or not hasattr(where, "must"):
        return where
    if getattr(where, "should", None) or getattr(where, "must_not", None) or getattr(where, "min_should", None):
        raise CCLEmbedError("where=Filter(...): only must= conditions are supported; write the rest as a mapping")
    out: dict[str, Any] = {}
    for cond in where.must or []:
        match = getattr(cond, "match", None)
        value = getattr(match, "value", None)
        values = getattr(match, "any", None)
        key = getattr(cond, "key", None)
        if not isinstance(key, str) or (value is None and not values):
            raise CCLEmbedError(f"where=Filter(must=[{cond!r:.80}]): only FieldCondition(key, match=MatchValue or "
                                "MatchAny) is supported")
        out[key] = [str(v) for v in values] if values else str(value)
    return out


@dataclass(frozen=True)
class Hit:
    """One search result.

    Attributes:
        score: Cosine similarity to the query (higher is closer), as Qdrant reports it.
        relevance: What orders the hits, and what the CLI, the web page and MCP show: the cosine
            put on one scale for every (query, item) modality pair by the model's calibration
            (``ccl_embed.runtime.calibration``): 1 for an identical item, 0 for a typical true
            match of its kind, negative for less close ones. Without a calibration, the cosine.
        modality: ``image`` or ``text``.
        path: Where the item came from, relative to the ingested folder, POSIX style.
        text: The text of a text item (bounded), else None.
        label: The item's label when known.
        id: The point's id.
        payload: The whole stored payload.
    """

    score: float
    modality: str
    path: str
    text: str | None
    label: str | None
    id: str
    payload: dict[str, Any]
    relevance: float

    def to_dict(self) -> dict[str, Any]:
        return {"relevance": self.relevance, "score": self.score, "modality": self.modality, "path": self.path,
                "text": self.text, "label": self.label, "id": self.id, "root": self.payload.get("root")}


def model_meta(model: RuntimeModel) -> CollectionMeta:
    """The collection record of a model."""
    return CollectionMeta(model=model.name, model_version=model.version, dim=model.dim, distance=model.distance)


def _hit(h: ScoredPoint, rank: float) -> Hit:
    return Hit(score=h.score, modality=str(h.payload.get("modality", "")), path=str(h.payload.get("path", "")),
               text=h.payload.get("text"), label=h.payload.get("label"), id=h.id, payload=h.payload, relevance=rank)


def _counts(coll: Collection, field: str) -> dict[str, int]:
    """How many points hold each value of a payload field (those without it are not counted)."""
    out: dict[str, int] = {}
    for _, payload, _ in coll.scan(None, (field,)):
        value = payload.get(field)
        if value is not None:
            out[str(value)] = out.get(str(value), 0) + 1
    return dict(sorted(out.items()))


class Index:
    """A collection together with the model that fills it. Create it with :func:`ccl_embed.open`."""

    def __init__(self, collection: Collection, embedder: Embedder | None, options: StoreOptions | None = None) -> None:
        self.collection = collection
        self._embedder = embedder
        self._options = options or StoreOptions()
        self._closed = False

    @property
    def embedder(self) -> Embedder:
        """The model; an index opened with ``model=None`` has none (it can list, count and forget)."""
        if self._embedder is None:
            raise CCLEmbedError(f"{self.collection.where} was opened without a model (model=None); "
                                "open it with a model to ingest or search")
        return self._embedder

    def _open(self) -> Collection:
        if self._closed:
            raise CCLEmbedError(f"this index ({self.collection.where}) is closed; open it again with ccl_embed.open(...)")
        return self.collection

    def ingest(self, path: str | os.PathLike[str], *, prune: bool = False, batch_size: int = 32,
               show_progress: bool = False, root: str | None = None, follow_links_outside: bool = False,
               engine: str = "local", ray: RayOptions | None = None) -> IngestSummary:
        """Embed and store every image and text under a folder (see ``docs/ingest.md``).

        Args:
            path: The folder.
            prune: Remove the points of this folder whose files are gone.
            batch_size: Items embedded and stored together.
            show_progress: Show a progress bar with items/s on stderr.
            root: The name its points are stored under (default: the folder's absolute path). A
                moved folder ingested again under the same name keeps its points.
            follow_links_outside: Follow symbolic links whose target lies outside the folder.
            engine: ``local`` (this process) or ``ray``: embedding in Ray Data actors, on a local
                Ray or a cluster (``docs/distributed.md``; the ``distributed`` extra).
            ray: How the Ray engine runs (default :class:`~ccl_embed.ingest.distributed.RayOptions`();
                its ``batch_size`` is this call's).

        Returns:
            What was added, left unchanged, replaced, pruned, skipped (with reasons) or failed;
            with the Ray engine, also each worker's rate.

        Raises:
            CCLEmbedError: On a bad argument, or when ``path`` is not a folder.
            StoreError: When the store cannot be written (a full disk, for example).
            Interrupted: On Ctrl-C or SIGTERM, with the summary of what this run stored.
        """
        check_batch_size(batch_size)
        coll = self._open()
        embedder = self.embedder
        if engine not in ("local", "ray"):
            raise CCLEmbedError(f"engine={engine!r}: choose local (this process) or ray (Ray Data actors)")
        kwargs: dict[str, Any] = {"prune": prune, "root_name": root, "follow_links_outside": follow_links_outside}
        if engine == "local":
            if ray is not None:
                raise CCLEmbedError("Ray options were given with engine='local'; pass engine='ray' too")

            def run(**hooks: Any) -> IngestSummary:
                return ingest(path, coll, embedder, batch_size=batch_size, **kwargs, **hooks)
        else:
            from dataclasses import replace

            from ccl_embed.ingest.distributed import RayOptions, Sink, ingest_ray, worker_model

            opts = replace(ray or RayOptions(), batch_size=batch_size)
            sink = Sink.of(self._options, coll.name)
            model = worker_model(embedder.model)

            def run(**hooks: Any) -> IngestSummary:
                return ingest_ray(path, coll, model, options=opts, sink=sink, **kwargs, **hooks)

        if not show_progress:
            return run()
        from tqdm import tqdm

        with tqdm(total=0, desc="ingest" if engine == "local" else "ingest (ray)", unit="item",
                  dynamic_ncols=True) as bar:

            def start(total: int) -> None:
                bar.total = total
                bar.refresh()

            return run(progress=bar.update, on_total=start)

    def roots(self) -> dict[str, int]:
        """The ingested roots of the collection and how many points each has, by name."""
        return _counts(self._open(), "root")

    def labels(self) -> dict[str, int]:
        """The labels of the collection's items and how many items carry each, by label."""
        return _counts(self._open(), "label")

    def forget(self, root: str | os.PathLike[str]) -> int:
        """Remove every point of one ingested root; its folder need not exist any more.

        Args:
            root: A root's name as :meth:`roots` lists it, or its folder (resolved as an ingest does).

        Returns:
            How many points were removed.

        Raises:
            CCLEmbedError: When the collection holds no point of that root (the message lists its roots).
        """
        coll = self._open()
        ids: list[str] = []
        for name in dict.fromkeys((str(root), root_key(root, None))):  # its name, else its folder
            ids = [pid for pid, _, _ in coll.scan({"root": name}, ())]
            if ids:
                break
        if not ids:
            listed = ", ".join(repr(r) for r in self.roots()) or "none"
            raise CCLEmbedError(f"{self.collection.where} has no points of root {str(root)!r}; its roots: {listed}")
        coll.delete(ids)
        coll.optimize()
        return len(ids)

    def embed_query(self, query: Query) -> list[float]:
        """The vector of a query: a ``str`` is text; a path or a PIL image is an image."""
        if isinstance(query, str):
            vectors = vectors_or_raise(self.embedder.embed_texts([query]), "query")
        elif isinstance(query, (os.PathLike, Image.Image)):
            vectors = vectors_or_raise(self.embedder.embed_images([query]), "query image")
        else:
            raise CCLEmbedError(f"query {query!r}: pass a str (text), a pathlib.Path to an image, or a PIL image")
        return vectors[0].astype(float).tolist()

    def search(self, query: Query | None = None, limit: int = 10, modality: str | None = None,
               where: Filter | None = None, *, image: ImageQuery | None = None, like: str | None = None,
               offset: int = 0) -> list[Hit]:
        """The stored items nearest to a query, best first.

        Args:
            query: The text to search for (a ``str`` is always text, even one that names a file).
                A ``pathlib.Path`` or a PIL image here is searched as an image, as ``image=``.
            limit: How many hits.
            modality: Only ``image`` or only ``text`` items (default: both).
            where: Payload conditions, for example ``{"label": "animals"}``, or a
                ``qdrant_client.models.Filter`` of ``must`` matches.
            image: Search by an image instead: a path (``str`` or ``Path``), a PIL image, or the bytes of a file.
            like: Search by a stored item instead ("more like this"): its id. The item itself is left out.
            offset: Skip this many of the best hits first (the next page: ``offset=limit``).

        Raises:
            CCLEmbedError: On a bad query, limit, offset, modality or filter, more than one query,
                or an unknown ``like`` id.
        """
        query = query_of(query, image, like)
        where = filter_of(where)
        if where is not None and not isinstance(where, Mapping):
            raise CCLEmbedError(f"where={where!r:.60}: give a mapping of field to value(s), for example {{'label': 'animals'}}")
        if modality is not None and modality not in MODALITIES:
            raise CCLEmbedError(f"modality={modality!r}: choose image or text (or leave it out for both)")
        if not isinstance(limit, int) or limit < 1:
            raise CCLEmbedError(f"limit={limit!r}: give a positive number of hits")
        if not isinstance(offset, int) or offset < 0:
            raise CCLEmbedError(f"offset={offset!r}: give how many of the best hits to skip (0 or more)")
        conditions: dict[str, Any] = dict(check_filter(where))
        if modality is not None:
            conditions["modality"] = [modality]
        coll = self._open()
        if query is None:
            like, vector, asked = self._stored(coll, str(like))
        else:
            vector, asked = self.embed_query(query), "text" if isinstance(query, str) else "image"
        wanted = offset + limit
        fetch = wanted + (like is not None)  # the item itself is found, then left out
        calibration = self.embedder.model.manifest.calibration
        relevance = Relevance(calibration)

        def found(conditions: dict[str, Any]) -> list[Hit]:
            hits = [h for h in coll.query(vector, fetch, conditions) if h.id != like][:wanted]
            return [_hit(h, float(relevance(h.score, asked, str(h.payload.get("modality"))))) for h in hits]

        items = [m for m in MODALITIES if m in conditions.get("modality", MODALITIES)]
        if len(items) < 2 or not calibration:
            return found(conditions)[offset:]
        # Mixed, calibrated: the best `offset + limit` of each modality, merged by relevance.
        hits = [h for item in items for h in found({**conditions, "modality": [item]})]
        return sorted(hits, key=lambda h: (-h.relevance, -h.score))[offset:wanted]

    @staticmethod
    def _stored(coll: Collection, point_id: str) -> tuple[str, list[float], str]:
        """A stored item's id (canonical), vector and modality ("more like this")."""
        import uuid

        try:
            point_id = str(uuid.UUID(str(point_id)))
        except ValueError:
            raise CCLEmbedError(f"like={point_id!r:.60}: give a stored item's id (a UUID, as hits carry)") from None
        vector = coll.vectors([point_id]).get(point_id)
        payload = coll.retrieve([point_id], ("modality",)).get(point_id)
        if not vector or payload is None:
            raise CCLEmbedError(f"like={point_id!r}: no such item in this collection")
        return point_id, vector, str(payload.get("modality") or "image")

    def count(self) -> int:
        """How many points the collection holds."""
        return self._open().count()

    def close(self) -> None:
        """Release the collection (the embedded store's lock with it); closing twice is harmless."""
        if not self._closed:
            self._closed = True
            self.collection.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(collection: str = DEFAULT_COLLECTION, *, store: str | os.PathLike[str] | None = None,  # noqa: A001
         url: str | None = None, api_key: str | None = None, prefer_grpc: bool = False,
         model: str | os.PathLike[str] | None = DEFAULT_MODEL, device: str = "auto", create: bool = True,
         shards: int | None = None, replicas: int | None = None, options: StoreOptions | None = None) -> Index:
    """Open an index: a collection in the embedded store (default) or on a Qdrant server, and a model.

    Args:
        collection: The collection's name (default ``ccl-embed``).
        store: The embedded store's folder (default ``$CCL_EMBED_STORE`` or
            ``~/.local/share/ccl-embed/store``).
        url: A Qdrant server or cluster URL instead of the embedded store.
        api_key: The server's API key.
        prefer_grpc: Talk gRPC to the server.
        model: ``default``, another shipped model's name, or an exported model folder; None opens
            an existing collection without a model, to list its roots, count or forget a root.
        device: ``auto``, ``cpu`` or ``cuda``.
        create: Create the collection when it does not exist.
        shards: Shard number when a server creates the collection.
        replicas: Replication factor when a server creates the collection.
        options: The store choice as one validated object (instead of ``store`` ... ``replicas``).

    Returns:
        The index; close it (or use ``with``) to release the embedded store for other processes.

    Raises:
        StoreError: On conflicting store arguments (before the model is loaded), or when the
            collection holds another model's vectors, is held by another process, does not exist
            (``create=False``) or the server does not answer.
        ModelError: When the model cannot be found or is damaged.
    """
    loose = StoreOptions(store=store, url=url, api_key=api_key, prefer_grpc=prefer_grpc, shards=shards, replicas=replicas)
    if options is not None and loose != StoreOptions():
        raise StoreError("give the store choice either as options=StoreOptions(...) or as store=/url=/... arguments, not both")
    options = options or loose
    check_device(device)
    if model is None:
        return Index(open_collection(collection, None, options, create=False), None, options)
    embedder = Embedder(model, device=device)
    try:
        coll = open_collection(collection, model_meta(embedder.model), options, create=create)
    except StoreError as e:
        raise _served_hint(e, options) from e
    return Index(coll, embedder, options)


def _served_hint(e: StoreError, options: StoreOptions) -> StoreError:
    """``e``, or, when a ``ccl-embed serve`` process holds the store, an error that says how to reach it."""
    if options.url or "in use" not in str(e):
        return e
    from ccl_embed.store.record import read_record

    record = read_record(Path(options.store).expanduser() if options.store is not None else default_store())
    if record is None:
        return e
    return StoreError(f"{e.args[0].split(';')[0]}: it is served at {record.url}; "
                      f"use ccl_embed.connect({record.url!r}) to search and ingest through it")


@dataclass(frozen=True)
class CollectionInfo:
    """One collection of a store, as :func:`collections` lists it.

    Attributes:
        name: The collection's name.
        count: How many points it holds.
        model: The model that wrote it.
        dim: The vectors' width.
        roots: Its ingested roots and their point counts.
        error: Why it could not be read (held by another process, for example), else None.
    """

    name: str
    count: int = 0
    model: str = ""
    dim: int = 0
    roots: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "count": self.count, "model": self.model, "dim": self.dim,
                "roots": self.roots, "error": self.error}


def collections(*, store: str | os.PathLike[str] | None = None, url: str | None = None, api_key: str | None = None,
                prefer_grpc: bool = False, options: StoreOptions | None = None) -> list[CollectionInfo]:
    """The ccl-embed collections of a store (the embedded one by default, or a server's), by name.

    Raises:
        StoreError: When the server does not answer.
    """
    options = options or StoreOptions(store=store, url=url, api_key=api_key, prefer_grpc=prefer_grpc)
    out = []
    for name in collection_names(options):
        try:
            with open_collection(name, None, options, create=False) as coll:
                roots = _counts(coll, "root")
                out.append(CollectionInfo(name, sum(roots.values()), coll.meta.model, coll.meta.dim, roots))
        except StoreError as e:
            out.append(CollectionInfo(name, error=str(e)))
    return out


def drop(collection: str, *, store: str | os.PathLike[str] | None = None, url: str | None = None,
         api_key: str | None = None, prefer_grpc: bool = False, options: StoreOptions | None = None) -> None:
    """Remove a collection and every point in it (the files ingested are not touched).

    Raises:
        StoreError: When it does not exist or another process holds it.
    """
    drop_collection(collection, options or StoreOptions(store=store, url=url, api_key=api_key, prefer_grpc=prefer_grpc))


@dataclass(frozen=True)
class ModelInfo:
    """What :func:`describe_model` finds: the model, its measured scores and the device it really runs on."""

    name: str
    folder: str
    dim: int
    distance: str
    quantized_int8: tuple[str, ...]
    metrics: dict[str, Any]
    device: str
    asked_device: str
    providers: tuple[str, ...]
    onnxruntime: str
    warnings: tuple[str, ...]
    graphs: dict[str, Any] = field(default_factory=dict)
    """Where each graph runs, by file: its form, and on CUDA its nodes per provider and fallbacks
    (``Embedder.placement``)."""


def describe_model(model: str | os.PathLike[str] = DEFAULT_MODEL, device: str = "auto") -> ModelInfo:
    """Load a model and report what runs it: onnxruntime-gpu may list CUDA and still run on the CPU.

    Raises:
        ModelError: When the model cannot be found or is damaged.
    """
    import warnings

    from ccl_embed.errors import require

    ort = require("onnxruntime", "runtime")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emb = Embedder(model, device=device)
        real = emb.device
        graphs = {name: placed.to_dict() for name, placed in emb.placement().items()}
    m = emb.model.manifest
    return ModelInfo(name=m.name, folder=str(emb.model.folder), dim=m.dim, distance=m.distance,
                     quantized_int8=m.quantized_int8, metrics={k: dict(v) for k, v in m.metrics.items()}, device=real,
                     asked_device=device, providers=tuple(ort.get_available_providers()), onnxruntime=ort.__version__,
                     warnings=tuple(str(w.message) for w in caught), graphs=graphs)


__all__ = ["CollectionInfo", "Hit", "Index", "ModelInfo", "StoreError", "StoreOptions", "collections", "default_store",
           "describe_model", "drop", "open"]
