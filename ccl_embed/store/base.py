"""The storage interface: one small base class, implemented by the embedded engine and by qdrant-client.

The rest of ccl-embed talks to a :class:`Collection` only; it never knows which engine is behind it.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ccl_embed.errors import CCLEmbedError

VECTOR_NAME = "ccl"
"""The named dense vector holding the fused common-space embedding (cosine)."""

INDEXED_FIELDS = ("modality", "label", "root", "path")
"""Payload fields with a keyword index: filters on them stay fast at any size."""

SCHEMA_VERSION = 1


class StoreError(CCLEmbedError, RuntimeError):
    """The store cannot be opened or used; the message says why and what to do."""


class MissingCollection(StoreError):
    """The collection asked for does not exist. ``hint`` names a close match and what the store holds."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message + hint)
        self.hint = hint


@dataclass(frozen=True)
class CollectionMeta:
    """What a collection records about the vectors in it; checked before anything is written.

    Attributes:
        model: The model's name (``default`` or the folder's name).
        model_version: A fingerprint of the model's files: a retrained model has another one.
        dim: The vector width.
        distance: Always ``cosine`` for CCL vectors.
        schema: The payload schema version of ccl-embed that created the collection.
    """

    model: str
    model_version: str
    dim: int
    distance: str = "cosine"
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {"ccl_embed": asdict(self)}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any] | None, where: str) -> CollectionMeta:
        meta = (record or {}).get("ccl_embed")
        if not isinstance(meta, dict):
            raise StoreError(f"{where} was not created by ccl-embed (it records no model); "
                             "use another collection name with --collection")
        try:
            return cls(model=str(meta["model"]), model_version=str(meta["model_version"]), dim=int(meta["dim"]),
                       distance=str(meta.get("distance", "cosine")), schema=int(meta.get("schema", SCHEMA_VERSION)))
        except (KeyError, TypeError, ValueError) as e:
            raise StoreError(f"{where}: its ccl-embed record is damaged ({json.dumps(meta)[:200]})") from e

    def check_same(self, other: CollectionMeta, where: str) -> None:
        """Raise unless ``other`` (the model about to be used) wrote this collection's vectors."""
        if (self.model_version, self.dim) != (other.model_version, other.dim):
            raise StoreError(
                f"{where} holds vectors of model {self.model!r} (version {self.model_version}, {self.dim}-d), "
                f"not of model {other.model!r} (version {other.model_version}, {other.dim}-d); "
                f"pass --model {self.model} or use another --collection"
            )


@dataclass(frozen=True)
class Point:
    """One stored item: a deterministic id, its vector and its payload."""

    id: str
    vector: Sequence[float]
    """Plain Python floats (for example from ``ndarray.tolist()``); backends do not convert them again."""
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoredPoint:
    """A search result from the engine: id, cosine score, payload."""

    id: str
    score: float
    payload: dict[str, Any]


Filter = Mapping[str, "str | Sequence[str]"]
"""Payload conditions that must all hold: ``{"modality": "text", "label": ["a", "b"]}`` (a list is any-of)."""


class Collection(ABC):
    """One collection of one store, opened for reading and writing.

    Backends implement these few calls; ids are UUID strings, vectors plain floats.
    """

    name: str
    meta: CollectionMeta
    where: str
    """A human description (``embedded store /path, collection x``) used in messages."""
    folder: Path | None = None
    """The collection's folder on this machine, if it has one (never walked by an ingest)."""

    def optimize(self) -> None:  # noqa: B027 - a no-op where the engine indexes by itself
        """Build indexes after a batch of writes; engines that index as they go do nothing."""

    @abstractmethod
    def upsert(self, points: Sequence[Point]) -> None:
        """Insert or replace points; durable when this returns (a crash later loses none of them)."""

    @abstractmethod
    def set_payload(self, point_id: str, values: dict[str, Any]) -> None:
        """Set some payload fields of one point (others are kept); a None value removes the field."""

    @abstractmethod
    def delete(self, ids: Sequence[str]) -> None:
        """Remove points by id (unknown ids are ignored)."""

    @abstractmethod
    def query(self, vector: Sequence[float], limit: int, where: Filter | None = None) -> list[ScoredPoint]:
        """The ``limit`` nearest points by cosine, best first, among those matching ``where``."""

    @abstractmethod
    def scan(self, where: Filter | None = None, fields: Sequence[str] = ("path",),
             with_vectors: bool = False) -> Iterator[tuple[str, dict[str, Any], list[float] | None]]:
        """Every matching point as ``(id, payload restricted to fields, vector or None)``, in id order."""

    @abstractmethod
    def retrieve(self, ids: Sequence[str], fields: Sequence[str] = ("path",)) -> dict[str, dict[str, Any]]:
        """The payloads (restricted to fields) of those of ``ids`` that are stored, by id."""

    @abstractmethod
    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """The stored vectors of those of ``ids`` that are stored, by id ("more like this")."""

    @abstractmethod
    def count(self, where: Filter | None = None) -> int:
        """How many points match."""

    @abstractmethod
    def close(self) -> None:
        """Release the collection (and any lock held on it)."""

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


FILTER_FIELDS = ("modality", "label", "root", "path", "sha256", "model", "model_version")
"""The payload fields a filter may name (those ccl-embed writes with one string value)."""


FILTER_SYNTAX = "FIELD:VALUE"
"""The one filter syntax of the CLI (``--filter``), the HTTP API and MCP (``filter``); ``FIELD=VALUE``
is read too. A field name holds neither ``:`` nor ``=``, so the first of them ends it."""


def parse_filters(items: Sequence[str], name: str = "--filter") -> dict[str, list[str]]:
    """``FIELD:VALUE`` strings (:data:`FILTER_SYNTAX`; ``FIELD=VALUE`` too) as a filter; the same field
    twice is any-of.

    Raises:
        CCLEmbedError: For an item without a field, a separator or a value (named, with an example).
    """
    out: dict[str, list[str]] = {}
    for item in items:
        cut = min((i for i in (item.find(":"), item.find("=")) if i >= 0), default=-1)
        key, value = (item[:cut], item[cut + 1:]) if cut >= 0 else (item, "")
        if cut < 0 or not key.strip() or not value:
            example = f"{name} label:animals" if name.startswith("-") else f"{name}=label:animals"
            raise CCLEmbedError(f"{name} {item!r}: write it as {FILTER_SYNTAX}, for example {example}")
        out.setdefault(key.strip(), []).append(value)
    return out


def check_filter(where: Filter | None) -> dict[str, list[str]]:
    """A filter normalised to lists of strings, or a StoreError naming the bad entry."""
    if where is not None and not isinstance(where, Mapping):
        raise StoreError(f"filter {where!r:.60}: give a mapping of field to value(s), for example {{'label': 'animals'}}")
    out: dict[str, list[str]] = {}
    for key, value in (where or {}).items():
        values: list[object] = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else [None]
        if not key or not values or not all(isinstance(v, str) for v in values):
            raise StoreError(f"filter {key}={value!r}: give a field name and one or more string values, "
                             "for example label=animals")
        if key not in FILTER_FIELDS:
            raise StoreError(f"filter field {key!r} is not one ccl-embed stores; choose one of {', '.join(FILTER_FIELDS)}")
        if any(str(v).startswith(("=", ":")) for v in values):
            raise StoreError(f"filter {key}:{values[0]!r}: write {FILTER_SYNTAX} with one separator, for example "
                             f"{key}:animals")
        out[key] = [str(v) for v in values]
    return out
