"""Ingesting a folder into a collection: hash, skip what is there, embed the rest in batches, upsert.

Point ids are UUIDs derived from the model version, the ingested root, the modality, the path under
the root and the content's SHA-256. So a re-run finds unchanged files by id and embeds nothing twice; an edited
file gets a new id and its old point is removed once the new one is stored; a kill at any moment
leaves only whole points behind, and the next run completes the collection.
"""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ccl_embed.runtime.images import ImageError, load_image
from ccl_embed.errors import CCLEmbedError
from ccl_embed.ingest.walk import Item, Skipped, find_items, open_walked, reason_of
from ccl_embed.runtime.batches import loaded_ahead
from ccl_embed.runtime.embedder import Embedder, available_cores, check_batch_size
from ccl_embed.runtime.folder import sha256_file
from ccl_embed.store.base import Collection, CollectionMeta, Point, StoreError

MAX_TEXT_BYTES = 1 << 20
"""At most this much of a text file is read; a longer file is embedded from its beginning."""

PAYLOAD_TEXT_CHARS = 2000
"""A text item's payload keeps at most this many characters of it."""

_ID_NAMESPACE = uuid.UUID("0b6f3c58-3a51-4c1e-9d0a-6a3f1c2e9b7d")


@dataclass
class IngestSummary:
    """What an ingest did.

    Attributes:
        added: Items embedded and stored by this run.
        unchanged: Items already stored with the same content and model (nothing done).
        replaced: Stored points removed because their file changed (the new content is in ``added``).
        pruned: Stored points removed because their file is gone (``prune=True``).
        ignored: Files of other types, and hidden files.
        skipped: Inputs not ingested, each with its reason (bad or unreadable input).
        failed: Items the model could not embed, each with its reason.
        warnings: Inputs ingested, but not wholly as given (a second label for one image), each with its reason.
        workers: With the Ray engine, each embedding actor's items, busy seconds and items/s; else None.
    """

    added: int = 0
    unchanged: int = 0
    replaced: int = 0
    pruned: int = 0
    ignored: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Skipped] = field(default_factory=list)
    warnings: list[Skipped] = field(default_factory=list)
    workers: dict[str, dict[str, Any]] | None = None

    @property
    def complete(self) -> bool:
        """Whether every input was ingested (the CLI exits 0 then, 1 otherwise)."""
        return not self.skipped and not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "unchanged": self.unchanged, "replaced": self.replaced, "pruned": self.pruned,
                "ignored": self.ignored, "skipped": [vars(s) for s in self.skipped],
                "failed": [vars(s) for s in self.failed], "warnings": [vars(s) for s in self.warnings],
                **({"workers": self.workers} if self.workers is not None else {})}


class Interrupted(KeyboardInterrupt):
    """An ingest stopped by Ctrl-C or SIGTERM: ``summary`` says what this run had stored (whole
    points only); running the same ingest again resumes."""

    def __init__(self, summary: IngestSummary, where: str) -> None:
        super().__init__(f"interrupted: {summary.added} items of this run are stored in {where}; "
                         "run the same command again to resume")
        self.summary = summary


def point_id(meta: CollectionMeta, root: str, modality: str, path: str, sha256: str) -> str:
    """The deterministic id of one item's point."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{meta.model_version}\n{root}\n{modality}\n{path}\n{sha256}"))


def _decode_text(data: bytes, cut: bool) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        if cut and e.start >= len(data) - 3:  # the read stopped inside a character
            return data[: e.start].decode("utf-8")
        raise


def _os_reason(e: OSError) -> str:
    if e.errno in (errno.ELOOP, errno.ESTALE) and e.strerror:  # swapped after the walk (open_walked says how)
        return e.strerror
    if isinstance(e, FileNotFoundError):
        return "vanished during the ingest"
    return f"cannot be read ({e.strerror or e})"


@dataclass
class Prepared:
    """One item to embed, as the walk and the store comparison left it: its content hash, its
    point id and the payload fields that depend on other items (label, pairs)."""

    item: Item
    sha: str
    id: str = ""
    links: dict[str, Any] = field(default_factory=dict)


def _hash(item: Item) -> str:
    if item.file is None:
        return hashlib.sha256((item.text or "").encode()).hexdigest()
    with open_walked(item) as f:
        return sha256_file(f)


def _load(p: Prepared, embedder: Embedder) -> Any:
    """The content of a pending item, checked against the hash of the first pass: a text, or an
    image decoded and reduced at once to what the model reads (so a batch of huge images holds
    one decoded image at a time)."""
    item = p.item
    if item.file is None:
        return item.text
    if item.modality == "image":
        with open_walked(item) as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != p.sha:
            raise CCLEmbedError("changed during the ingest; run the ingest again")
        if not data:
            raise CCLEmbedError("empty file (0 bytes)")
        return embedder.prepare_image(load_image(item.file, data=data))
    with open_walked(item) as f:
        data = f.read(MAX_TEXT_BYTES + 1)
    cut = len(data) > MAX_TEXT_BYTES
    if not cut and hashlib.sha256(data).hexdigest() != p.sha:
        raise CCLEmbedError("changed during the ingest; run the ingest again")
    try:
        text = _decode_text(data[:MAX_TEXT_BYTES], cut)
    except UnicodeDecodeError as e:
        raise CCLEmbedError(f"not UTF-8 text (byte {e.start}); convert it to UTF-8") from e
    if not text.strip():
        raise CCLEmbedError("empty text")
    return text


def _payload(p: Prepared, content: Any, meta: CollectionMeta, root: str) -> dict[str, Any]:
    item = p.item
    payload: dict[str, Any] = {"modality": item.modality, "path": item.path, "root": root, "sha256": p.sha,
                               "model": meta.model, "model_version": meta.model_version}
    if item.path_bytes is not None:  # a name that is not UTF-8: "path" is its printable form
        payload["path_bytes"] = item.path_bytes
    if item.modality == "text":
        payload["text"] = content.strip()[:PAYLOAD_TEXT_CHARS]
    payload.update(p.links)
    return payload


def _links(item: Item, ids: dict[str, str]) -> dict[str, Any]:
    """The payload fields that depend on other items: the label and the ids of the paired items."""
    out: dict[str, Any] = {}
    if item.label is not None:
        out["label"] = item.label
    partners = [ids[q] for q in item.partners if q in ids]
    if partners:
        out["pairs"] = partners
    return out


def root_key(folder: str | os.PathLike[str], name: str | None) -> str:
    """The name a folder's points are stored under: ``name``, else the folder's absolute path.

    Raises:
        CCLEmbedError: When ``name`` is empty, too long or holds control characters.
    """
    if name is None:
        return Path(folder).resolve().as_posix()
    if not isinstance(name, str) or not name.strip() or len(name) > 256 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise CCLEmbedError(f"root name {name!r:.80}: give 1-256 printable characters, for example --root photos")
    return name


@dataclass
class Plan:
    """What an ingest will do, decided before anything is embedded: the walk's items with their
    hashes and ids, what the store already holds, and the pending items in embedding order.

    An engine embeds ``pending`` (see :func:`embed_batches`), stores the points, and ends with
    :func:`finish`; :func:`ingest` is the one-process engine.
    """

    key: str
    found: Any
    prepared: list[Prepared]
    stored: dict[str, dict[str, Any]]
    pending: list[Prepared]
    summary: IngestSummary

    def ordered(self, modality: str | None = None) -> list[Prepared]:
        """The pending items in embedding order: images, then texts, each in walk order (or one modality's)."""
        return [p for m in ("image", "text") if modality in (None, m) for p in self.pending if p.item.modality == m]

    def batches(self, batch_size: int) -> Iterator[list[Prepared]]:
        """The pending items in batches of one modality each, in :meth:`ordered` order."""
        for modality in ("image", "text"):
            todo = self.ordered(modality)
            for start in range(0, len(todo), batch_size):
                yield todo[start : start + batch_size]


def plan_ingest(root: str | os.PathLike[str], collection: Collection, *, exclude: tuple[str | os.PathLike[str], ...] = (),
                root_name: str | None = None, follow_links_outside: bool = False) -> Plan:
    """Walk a folder, hash its items, compare them with the store and update the links of stored
    ones: everything an ingest does before it embeds (the arguments are :func:`ingest`'s).

    Raises:
        CorpusError: When root is not a folder.
        StoreError: When the collection cannot be read or written.
    """
    root_path = Path(root).resolve()
    key = root_key(root_path, root_name)
    meta = collection.meta
    found = find_items(root_path, tuple(exclude) + ((collection.folder,) if collection.folder else ()),
                       follow_links_outside=follow_links_outside)
    summary = IngestSummary(ignored=found.ignored, skipped=list(found.skipped))
    summary.warnings.extend(found.warnings)
    prepared: list[Prepared] = []
    for item in found.items:
        try:
            prepared.append(Prepared(item, _hash(item)))
        except OSError as e:
            summary.skipped.append(Skipped(item.path, _os_reason(e)))
    ids = {}
    for p in prepared:
        # a name that is not UTF-8 adds its bytes, so it never shares an id with a name spelled like its printable form
        name = p.item.path if p.item.path_bytes is None else f"{p.item.path}\n{p.item.path_bytes}"
        p.id = point_id(meta, key, p.item.modality, name, p.sha)
        ids[p.item.path] = p.id
    for p in prepared:
        p.links = _links(p.item, ids)
    stored = {pid: payload for pid, payload, _ in collection.scan({"root": key}, ("path", "pairs", "label"))}
    pending = [p for p in prepared if p.id not in stored]
    summary.unchanged = len(prepared) - len(pending)
    for p in prepared:  # an unchanged item whose partner or label changed gets its links updated
        if p.id in stored and any(stored[p.id].get(k) != p.links.get(k) for k in ("pairs", "label")):
            collection.set_payload(p.id, {k: p.links.get(k) for k in ("pairs", "label")})
    return Plan(key, found, prepared, stored, pending, summary)


def finish(plan: Plan, collection: Collection, added: set[str], *, prune: bool = False) -> IngestSummary:
    """Remove the points replaced by this run (and, with ``prune``, those whose files are gone),
    build the index once, and return the summary."""
    summary = plan.summary
    summary.added = len(added)
    # A stored point is stale when its path now has another point, stored; one whose file is now
    # unreadable or undecodable is kept. Pruning removes only paths the walk did not see at all.
    now = {p.item.path: p.id for p in plan.prepared if p.id in plan.stored or p.id in added}
    seen = {i.path for i in plan.found.items} | {s.path for s in summary.skipped}
    paths = {pid: str(payload.get("path", "")) for pid, payload in plan.stored.items()}
    stale = [pid for pid, path in paths.items() if path in now and now[path] != pid]
    gone = [pid for pid, path in paths.items() if path not in seen] if prune else []
    collection.delete(stale + gone)
    summary.replaced, summary.pruned = len(stale), len(gone)
    collection.optimize()  # also after a run that only found everything stored: an earlier build may have failed
    return summary


def ingest(root: str | os.PathLike[str], collection: Collection, embedder: Embedder, *, prune: bool = False,
           batch_size: int = 32, exclude: tuple[str | os.PathLike[str], ...] = (),
           progress: Callable[[int], Any] | None = None, on_total: Callable[[int], Any] | None = None,
           root_name: str | None = None, follow_links_outside: bool = False) -> IngestSummary:
    """Ingest a folder into a collection (see the module docs for what is kept and skipped).

    Args:
        root: The folder.
        collection: An open collection whose record matches ``embedder``'s model.
        embedder: The model.
        prune: Remove the points of this root whose files are gone.
        batch_size: Items embedded and upserted together.
        exclude: Folders under root never to enter (the collection's own folder is never entered).
        progress: Called with the number of items just handled (for a progress bar).
        on_total: Called once with the number of items to embed, before the first is embedded.
        root_name: The name the points are stored under (default: the folder's absolute path).
        follow_links_outside: Follow symbolic links whose target is outside the folder.

    Returns:
        The summary.

    Raises:
        CorpusError: When root is not a folder.
        StoreError: When the collection cannot be written.
    """
    check_batch_size(batch_size)

    def embed_all(plan: Plan, added: set[str]) -> None:
        for batch, points, skipped, failed in embed_batches(plan.batches(batch_size), embedder, collection.meta,
                                                            plan.key, available_cores()):
            plan.summary.skipped.extend(skipped)
            plan.summary.failed.extend(failed)
            collection.upsert(points)
            added.update(p.id for p in points)
            if progress is not None:
                progress(len(batch))

    return run_ingest(root, collection, embed_all, prune=prune, on_total=on_total, exclude=exclude,
                      root_name=root_name, follow_links_outside=follow_links_outside)


def run_ingest(root: str | os.PathLike[str], collection: Collection, embed_all: Callable[[Plan, set[str]], Any], *,
               prune: bool = False, on_total: Callable[[int], Any] | None = None,
               exclude: tuple[str | os.PathLike[str], ...] = (), root_name: str | None = None,
               follow_links_outside: bool = False) -> IngestSummary:
    """An ingest with any engine: plan, let ``embed_all(plan, added)`` embed and store the pending
    items (adding each stored id to ``added``, and skip reasons to ``plan.summary``), then finish.

    A store error says how many items this run stored; Ctrl-C raises :class:`Interrupted`
    with the summary of what is stored.
    """
    added: set[str] = set()
    plan: Plan | None = None
    try:
        plan = plan_ingest(root, collection, exclude=exclude, root_name=root_name,
                           follow_links_outside=follow_links_outside)
        if on_total is not None:
            on_total(len(plan.pending))
        embed_all(plan, added)
        return finish(plan, collection, added, prune=prune)
    except StoreError as e:
        raise StoreError(f"{e} ({len(added)} items of this run are stored; the same command resumes)") from e
    except KeyboardInterrupt as e:
        if plan is None:
            raise
        plan.summary.added = stored_of(collection, plan, added)
        raise Interrupted(plan.summary, collection.where) from e


def stored_of(collection: Collection, plan: Plan, added: set[str]) -> int:
    """How many of this run's items are stored now (asked of the store: an interrupt may land
    after a write and before the run counted it)."""
    try:
        stored = {pid for pid, _, _ in collection.scan({"root": plan.key}, ())}
    except (StoreError, KeyboardInterrupt):
        return len(added)
    return len(stored & {p.id for p in plan.pending})


def embed_batches(batches: Iterable[list[Prepared]], embedder: Embedder, meta: CollectionMeta, root: str,
                  workers: int) -> Iterator[tuple[list[Prepared], list[Point], list[Skipped], list[Skipped]]]:
    """Load and embed batches of one modality each: per batch, its points and the items skipped
    (unreadable or undecodable) and failed (the model could not embed them), each with its reason.

    Items are read, checked and decoded on ``workers`` threads, the next batch while this one is
    embedded (:func:`ccl_embed.runtime.batches.loaded_ahead`); the points are those of loading one
    by one. It touches no store, so any process that has the model can run it (the Ray engine's
    workers do).
    """
    def load(p: Prepared) -> Any:
        return _load(p, embedder)

    for batch, outcomes in loaded_ahead(batches, load, workers):
        skipped: list[Skipped] = []
        failed: list[Skipped] = []
        loaded: list[tuple[Prepared, Any]] = []
        for p, got in zip(batch, outcomes):
            if isinstance(got, OSError):
                skipped.append(Skipped(p.item.path, _os_reason(got)))
            elif isinstance(got, (ImageError, CCLEmbedError)):
                skipped.append(Skipped(p.item.path, reason_of(got, p.item.file)))
            elif isinstance(got, Exception):
                raise got
            else:
                loaded.append((p, got))
        points = []
        if loaded:
            contents = [c for _, c in loaded]
            results: Iterator[Any] = (embedder.embed_images(contents, batch_size=len(contents))
                                      if batch[0].item.modality == "image"
                                      else embedder.embed_texts(contents, batch_size=len(contents)))
            for (p, content), r in zip(loaded, results):
                if r.vector is None:
                    failed.append(Skipped(p.item.path, r.error or "could not be embedded"))
                    continue
                vector = np.asarray(r.vector, dtype=np.float32)
                points.append(Point(p.id, vector.tolist(), _payload(p, content, meta, root)))
        yield batch, points, skipped, failed
