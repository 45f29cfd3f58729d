"""Ingest past one machine on Ray Data: ``ccl-embed ingest DIR --engine ray`` (the ``distributed`` extra).

The walk stays on the driver (:func:`~ccl_embed.ingest.pipeline.plan_ingest`: the same rules,
skip reasons, pair links and deterministic ids as a plain ingest). The pending items become a Ray
Dataset; ``map_batches`` runs :class:`EmbedWorker`, a stateful actor holding one
:class:`~ccl_embed.runtime.embedder.Embedder` (its ONNX sessions), on CPUs or GPUs. A bad file
comes back as a per-item row, never as a failed batch.

Writing: against a Qdrant server or cluster, each worker upserts its own points (retries are
idempotent: the ids are deterministic); against the embedded store, the rows stream back to the
driver, which alone writes (the store's one-writer rule). Either way the driver ends with
:func:`~ccl_embed.ingest.pipeline.finish`: stale and pruned points, one index build.

Workers read the files by the driver's paths, so the folder must be on a filesystem every node
mounts at the same path.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ccl_embed.errors import CCLEmbedError, require
from ccl_embed.ingest.pipeline import IngestSummary, Plan, Prepared, embed_batches, run_ingest
from ccl_embed.ingest.walk import Skipped
from ccl_embed.runtime.embedder import check_batch_size
from ccl_embed.runtime.folder import RuntimeModel
from ccl_embed.store import StoreOptions
from ccl_embed.store.base import Collection, CollectionMeta, Point

RAY_REQUIREMENT = "ray[data]>=2.60,<3"
"""The tested range (the ``distributed`` extra)."""


@dataclass(frozen=True)
class RayOptions:
    """How the Ray engine runs.

    Attributes:
        address: A running Ray cluster to join (``ray://...`` or ``auto``); None starts a local
            Ray with this machine's cores.
        workers: Embedding actors (default: one per CPU of the local Ray, or 2 on a cluster).
        gpus_per_worker: GPUs per actor (0: CPU actors; 0.5: two actors share a GPU).
        cpus_per_worker: CPUs per actor.
        batch_size: Items per batch handed to an actor.
        device: The actors' onnxruntime device: ``auto``, ``cpu`` or ``cuda``.

    A dead actor is restarted and its batch retried, as Ray Data does by default.

    Raises:
        CCLEmbedError: On a bad value, named.
    """

    address: str | None = None
    workers: int | None = None
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    batch_size: int = 32
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers < 1):
            raise CCLEmbedError(f"workers={self.workers!r}: give a positive whole number")
        for name in ("gpus_per_worker", "cpus_per_worker"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise CCLEmbedError(f"{name}={value!r}: give 0 or more")
        check_batch_size(self.batch_size)


@dataclass(frozen=True)
class Sink:
    """Where workers write, when they write themselves: a Qdrant server's collection."""

    url: str
    collection: str
    api_key: str | None = None
    prefer_grpc: bool = False

    @classmethod
    def of(cls, options: StoreOptions, collection: str) -> Sink | None:
        """The sink of a store choice: its server's collection, or None for the embedded store
        (whose one writer is the driver)."""
        return cls(options.url, collection, options.api_key, options.prefer_grpc) if options.url else None


def worker_model(model: RuntimeModel) -> str:
    """How actors name the model: a shipped one by name (each node resolves its own install),
    any other by its folder (which must be at the same path on every node)."""
    from ccl_embed.runtime.folder import installed_models

    shipped = {folder.resolve(): name for name, folder in installed_models().items()}
    return shipped.get(model.folder.resolve(), str(model.folder))


class EmbedWorker:
    """One Ray actor: an Embedder, and for a server sink its own connection to the collection.

    Called with a batch of pickled :class:`Prepared` items; returns one row per item: ``kind``
    (``added``, ``skipped`` or ``failed``), ``id``, ``path``, ``reason``, the vector and payload
    (when the driver writes), ``worker`` and the batch's ``seconds``.
    """

    def __init__(self, model: str, device: str, meta: dict[str, Any], root: str, sink: dict[str, Any] | None,
                 cpus: float = 1.0) -> None:
        from ccl_embed.runtime.embedder import Embedder

        self.embedder = Embedder(model, device=device)
        self.decoders = max(1, int(cpus))  # the actor decodes a batch's images on the CPUs Ray gave it
        self.meta = CollectionMeta(**meta)
        self.root = root
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.sink: Collection | None = None
        if sink is not None:
            from ccl_embed.store.client import ClientCollection

            s = Sink(**sink)
            self.sink = ClientCollection(s.collection, self.meta, url=s.url, api_key=s.api_key,
                                         prefer_grpc=s.prefer_grpc, create=False)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        start = time.perf_counter()
        items: list[Prepared] = [pickle.loads(b) for b in batch["item"]]
        points: list[Point] = []
        skipped: list[Skipped] = []
        failed: list[Skipped] = []
        groups = [g for g in ([p for p in items if p.item.modality == m] for m in ("image", "text")) if g]
        for _, got, s, f in embed_batches(groups, self.embedder, self.meta, self.root, self.decoders):
            points += got
            skipped += s
            failed += f
        if self.sink is not None and points:
            self.sink.upsert(points)
        seconds = time.perf_counter() - start
        call = uuid.uuid4().hex
        write_back = self.sink is None
        rows: dict[str, list[Any]] = {k: [] for k in ("kind", "id", "path", "reason", "vector", "payload", "worker",
                                                      "call", "seconds")}

        def add(kind: str, pid: str, path: str, reason: str, vector: bytes, payload: str) -> None:
            for key, value in zip(rows, (kind, pid, path, reason, vector, payload, self.worker, call, seconds)):
                rows[key].append(value)

        by_path = {p.item.path: p.id for p in items}
        for pt in points:
            vector = np.asarray(pt.vector, dtype=np.float32).tobytes() if write_back else b""
            add("added", pt.id, str(pt.payload["path"]), "", vector, json.dumps(pt.payload) if write_back else "")
        for kind, entries in (("skipped", skipped), ("failed", failed)):
            for e in entries:
                add(kind, by_path.get(e.path, ""), e.path, e.reason, b"", "")
        return rows


def _start_ray(ray: Any, options: RayOptions) -> bool:
    """Join or start Ray; whether this call started it (and so should stop it)."""
    if ray.is_initialized():
        return False
    import logging

    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    if options.address:
        ray.init(address=options.address, **kwargs)
    else:
        ray.init(num_cpus=os.cpu_count() or 1, **kwargs)
    return True


def ingest_ray(root: str | os.PathLike[str], collection: Collection, model: str | os.PathLike[str], *,
               options: RayOptions | None = None, sink: Sink | None = None, prune: bool = False,
               root_name: str | None = None, follow_links_outside: bool = False,
               progress: Callable[[int], Any] | None = None, on_total: Callable[[int], Any] | None = None,
               worker_class: type = EmbedWorker) -> IngestSummary:
    """Ingest a folder with embedding on Ray Data; the result equals :func:`~ccl_embed.ingest.ingest`'s.

    Args:
        root: The folder (on a filesystem every Ray node sees at the same path).
        collection: The open collection (the driver plans, and writes unless ``sink`` is given).
        model: The model's name or folder (each actor loads it; a folder must be on every node).
        options: How Ray runs (:class:`RayOptions`).
        sink: The server collection the workers upsert to themselves; None: the driver writes.
        prune: Remove the points of this root whose files are gone.
        root_name: The name the points are stored under.
        follow_links_outside: Follow symbolic links whose target is outside the folder.
        progress: Called with the number of items just handled.
        on_total: Called once with the number of items to embed.
        worker_class: The actor class (tests replace it to kill a worker).

    Returns:
        The summary, with ``workers``: each actor's items and items/s.

    Raises:
        MissingDependencyError: Without the ``distributed`` extra.
        StoreError: When the collection cannot be written.
        Interrupted: On Ctrl-C, with what this run stored.
    """
    options = options or RayOptions()
    ray = require("ray", "distributed", RAY_REQUIREMENT)
    require("ray.data", "distributed", RAY_REQUIREMENT)

    def embed_all(plan: Plan, added: set[str]) -> None:
        if not plan.pending:
            return
        started = _start_ray(ray, options)
        try:
            _run(ray, plan, collection, model, options, sink, progress, worker_class, added)
        finally:
            if started:
                ray.shutdown()

    return run_ingest(root, collection, embed_all, prune=prune, on_total=on_total, root_name=root_name,
                      follow_links_outside=follow_links_outside)


def _run(ray: Any, plan: Plan, collection: Collection, model: str | os.PathLike[str], options: RayOptions,
         sink: Sink | None, progress: Callable[[int], Any] | None, worker_class: type, added: set[str]) -> None:
    """Embed the plan's pending items on Ray; store the points (or let the workers); each id stored
    goes into ``added``."""
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # skip reasons in the plain ingest's order
    context.enable_progress_bars = False
    order = plan.ordered()
    ds = ray.data.from_items([{"item": pickle.dumps(p)} for p in order])
    workers = options.workers or (int(ray.cluster_resources().get("CPU", 1) // max(options.cpus_per_worker, 1e-9))
                                  if not options.address else 2)
    workers = max(1, min(workers, len(order)))
    ds = ds.map_batches(
        worker_class, batch_size=options.batch_size, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=options.cpus_per_worker, num_gpus=options.gpus_per_worker or None,
        fn_constructor_kwargs={"model": str(model), "device": options.device, "meta": asdict(collection.meta),
                               "root": plan.key, "sink": asdict(sink) if sink is not None else None,
                               "cpus": options.cpus_per_worker})
    rates: dict[str, list[float]] = {}
    calls: set[str] = set()
    summary = plan.summary
    for batch in ds.iter_batches(batch_size=options.batch_size, batch_format="numpy", prefetch_batches=1):
        points = []
        for kind, pid, path, reason, vector, payload, worker, call, seconds in zip(
                batch["kind"], batch["id"], batch["path"], batch["reason"], batch["vector"], batch["payload"],
                batch["worker"], batch["call"], batch["seconds"]):
            kind, worker = str(kind), str(worker)
            entry = rates.setdefault(worker, [0.0, 0.0])
            entry[0] += 1
            if str(call) not in calls:  # each actor call's time counted once
                calls.add(str(call))
                entry[1] += float(seconds)
            if kind == "skipped":
                summary.skipped.append(Skipped(str(path), str(reason)))
            elif kind == "failed":
                summary.failed.append(Skipped(str(path), str(reason)))
            elif sink is None:
                points.append(Point(str(pid), np.frombuffer(vector, dtype=np.float32).astype(float).tolist(),
                                    json.loads(str(payload))))
            else:
                added.add(str(pid))
        if points:
            collection.upsert(points)
            added.update(p.id for p in points)
        if progress is not None:
            progress(len(batch["kind"]))
    summary.workers = {w: {"items": int(n), "busy_s": round(s, 3), "items_per_s": round(n / s, 1) if s > 0 else None}
                       for w, (n, s) in sorted(rates.items())}
