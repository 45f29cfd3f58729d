"""``ccl_embed.connect(URL)``: the calls of a local index, made over HTTP to ``ccl-embed serve``.

    import ccl_embed
    server = ccl_embed.connect("http://127.0.0.1:8700")
    server.ingest("/data/photos")                     # waits, and returns the CLI's summary
    for hit in server.search("a red bicycle", limit=5):
        print(hit.relevance, hit.path)

Standard library only (urllib): a client needs neither the ``serve`` extra nor the model.
"""

from __future__ import annotations

import io
import json
import os
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from ccl_embed.errors import CCLEmbedError
from ccl_embed.sdk import CollectionInfo, Hit, ImageQuery, filter_of, query_of
from ccl_embed.store import StoreOptions
from ccl_embed.store.base import StoreError

API_KEY_ENV = "CCL_EMBED_API_KEY"


class ServerError(CCLEmbedError):
    """The server answered with an error; ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _hit(d: Mapping[str, Any]) -> Hit:
    return Hit(score=float(d["score"]), modality=str(d["modality"]), path=str(d["path"]), text=d.get("text"),
               label=d.get("label"), id=str(d["id"]), payload={"root": d.get("root")},
               relevance=float(d["relevance"]))


def _filters(where: Mapping[str, str | list[str] | tuple[str, ...]] | None) -> list[tuple[str, str]]:
    out = []
    for key, values in (where or {}).items():
        for v in [values] if isinstance(values, str) else list(values):
            out.append(("filter", f"{key}:{v}"))
    return out


class Client:
    """A ``ccl-embed serve`` process, reached over HTTP. Create it with :func:`connect`.

    Args:
        url: The server's base URL.
        api_key: Its API key (default ``$CCL_EMBED_API_KEY``); never printed.
        collection: The collection calls use when they name none (default: the server's).
        timeout: Seconds to wait for one answer.
        token: The server's ingest token (from the store's serve record); never printed.
    """

    def __init__(self, url: str, api_key: str | None = None, *, collection: str | None = None,
                 timeout: float = 120.0, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        self._token = token
        self.collection = collection
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Client({self.url!r}, collection={self.collection!r})"

    # ---- transport ---------------------------------------------------------------------------
    def _call(self, method: str, path: str, query: list[tuple[str, str]] | None = None, body: bytes | None = None,
              content_type: str | None = None) -> tuple[bytes, str]:
        import urllib.error
        import urllib.request  # here, not at import: ``import ccl_embed`` stays light

        url = self.url + path + (("?" + urllib.parse.urlencode(query)) if query else "")
        request = urllib.request.Request(url, data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        if self._key:
            request.add_header("Authorization", f"Bearer {self._key}")
        if self._token:
            request.add_header("X-Ingest-Token", self._token)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                message = str(json.loads(raw)["error"])
            except (ValueError, KeyError, TypeError):
                message = raw.decode("utf-8", "replace")[:200] or e.reason
            if e.code == 401:
                message += f" (set {API_KEY_ENV} or pass api_key=)"
            raise ServerError(message, e.code) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise StoreError(f"no ccl-embed server answers at {self.url} ({reason}); start one with "
                             "`ccl-embed serve`") from None

    def _json(self, method: str, path: str, query: list[tuple[str, str]] | None = None,
              payload: Any = None) -> Any:
        body = json.dumps(payload).encode() if payload is not None else None
        raw, _ = self._call(method, path, query, body, "application/json" if body is not None else None)
        return json.loads(raw)

    def _coll(self, collection: str | None) -> list[tuple[str, str]]:
        name = collection or self.collection
        return [("collection", name)] if name else []

    # ---- calls -------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """What the server says of itself (its model, store and default collection)."""
        return dict(self._json("GET", "/healthz"))

    def search(self, query: str | os.PathLike[str] | Image.Image | None = None, limit: int = 10,
               modality: str | None = None, where: Any = None, *, collection: str | None = None,
               image: ImageQuery | None = None, like: str | None = None, offset: int = 0) -> list[Hit]:
        """The stored items nearest to a text or an image, best first, as :meth:`ccl_embed.Index.search`
        takes them (a ``str`` is text; ``image=`` a path, a PIL image or bytes).

        Raises:
            ServerError: On a bad query (the server's one-line message).
            StoreError: When the server does not answer.
        """
        query, where = query_of(query, image, like), filter_of(where)
        params = [("limit", str(limit)), ("offset", str(offset)), *self._coll(collection), *_filters(where)]
        if modality is not None:
            params.append(("modality", modality))
        if query is None:
            return [_hit(h) for h in self._json("GET", "/api/search", [("like", str(like)), *params])["hits"]]
        if isinstance(query, str):
            found = self._json("GET", "/api/search", [("q", query), *params])
        elif isinstance(query, (os.PathLike, Image.Image)):
            if isinstance(query, Image.Image):
                buf = io.BytesIO()
                query.convert("RGB").save(buf, format="PNG")
                data, name = buf.getvalue(), "query.png"
            else:
                try:
                    data, name = Path(query).read_bytes(), Path(query).name
                except OSError as e:
                    raise CCLEmbedError(f"{query}: cannot be read ({e.strerror})") from None
            boundary = uuid.uuid4().hex
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{_quoted(name)}\"\r\n"
                    "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
            raw, _ = self._call("POST", "/api/search", params, body, f"multipart/form-data; boundary={boundary}")
            found = json.loads(raw)
        else:
            raise CCLEmbedError(f"query {query!r:.60}: pass a str (text), a pathlib.Path to an image, or a PIL image")
        return [_hit(h) for h in found["hits"]]

    def start_ingest(self, path: str | os.PathLike[str], *, collection: str | None = None, prune: bool = False,
                     root: str | None = None, batch_size: int = 32, follow_links_outside: bool = False) -> dict[str, Any]:
        """Queue an ingest of a folder on the server's machine; returns the job (see :meth:`job`)."""
        payload = {"path": str(Path(path).expanduser().resolve()), "prune": prune, "root": root,
                   "batch_size": batch_size, "follow_links_outside": follow_links_outside}
        name = collection or self.collection
        if name:
            payload["collection"] = name
        return dict(self._json("POST", "/api/ingest", payload=payload))

    def job(self, job_id: str) -> dict[str, Any]:
        """An ingest job: its status, progress and, once done, its summary."""
        return dict(self._json("GET", f"/api/ingest/{urllib.parse.quote(job_id, safe='')}"))

    def ingest(self, path: str | os.PathLike[str], *, collection: str | None = None, prune: bool = False,
               root: str | None = None, batch_size: int = 32, follow_links_outside: bool = False,
               on_progress: Callable[[dict[str, Any]], Any] | None = None, poll: float = 0.25) -> dict[str, Any]:
        """Ingest a folder through the server and wait for the end.

        Returns:
            The summary, with the same fields as ``ccl-embed ingest --json``.

        Raises:
            ServerError: When the server refuses the folder, or the job fails (its message).
        """
        job = self.start_ingest(path, collection=collection, prune=prune, root=root, batch_size=batch_size,
                                follow_links_outside=follow_links_outside)
        while job["status"] in ("queued", "running"):
            if on_progress is not None:
                on_progress(job)
            time.sleep(poll)
            job = self.job(job["id"])
        if on_progress is not None:
            on_progress(job)
        if job["status"] == "failed" or job.get("summary") is None:
            raise ServerError(f"ingest of {path} {job['status']}: {job.get('error')}", 500)
        return dict(job["summary"])

    def collections(self) -> list[CollectionInfo]:
        """The store's collections, with counts, models and widths."""
        return [CollectionInfo(name=c["name"], count=int(c.get("count") or 0), model=str(c.get("model") or ""),
                               dim=int(c.get("dim") or 0), error=c.get("error"))
                for c in self._json("GET", "/api/collections")["collections"]]

    def labels(self, *, collection: str | None = None) -> dict[str, int]:
        """The labels of a collection's items, with how many items carry each (as :meth:`ccl_embed.Index.labels`)."""
        return {str(d["name"]): int(d["count"]) for d in self._json("GET", "/api/labels", self._coll(collection))["labels"]}

    def thumbnail(self, point_id: str, *, collection: str | None = None) -> bytes:
        """A stored image's thumbnail (JPEG bytes)."""
        raw, _ = self._call("GET", f"/api/items/{urllib.parse.quote(point_id, safe='')}/thumbnail",
                            self._coll(collection))
        return raw


def served_client(options: StoreOptions, model: str | os.PathLike[str] | None = None) -> Client | None:
    """A client of the ``ccl-embed serve`` process that holds an embedded store, or None when
    none does (or the store is a Qdrant server's).

    Args:
        options: The store.
        model: The model the caller asked for; ``default`` or None takes the server's.

    Raises:
        CCLEmbedError: When the server needs a key that is not set, or runs another model.
    """
    if options.url:
        return None
    from ccl_embed.store import default_store
    from ccl_embed.store.record import served_at

    record = served_at(Path(options.store).expanduser() if options.store is not None else default_store())
    if record is None:
        return None
    if record.auth and not os.environ.get(API_KEY_ENV):
        raise CCLEmbedError(f"the store is served at {record.url}, which needs its API key: set {API_KEY_ENV}")
    client = connect(record.url, token=record.token)
    if model is not None and str(model) != "default":
        served = client.health()["model"]
        if str(model) not in (served, Path(model).name):
            raise CCLEmbedError(f"the store is served at {record.url} with model {served!r}, not {str(model)!r}; "
                                "leave out --model, or stop that server")
    return client


def _quoted(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:100] or "upload"


def connect(url: str, api_key: str | None = None, *, collection: str | None = None, timeout: float = 120.0,
            token: str | None = None) -> Client:
    """A client of a ``ccl-embed serve`` process; nothing is sent until the first call.

    Args:
        url: The server's base URL, for example ``http://127.0.0.1:8700``.
        api_key: Its API key (default ``$CCL_EMBED_API_KEY``).
        collection: The collection calls use when they name none (default: the server's).
        timeout: Seconds to wait for one answer.
        token: The server's ingest token (default: the one a server at ``url`` run by this user
            left for its own tools, readable by this user alone); searches need none.

    Raises:
        CCLEmbedError: When the URL is not http(s).
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CCLEmbedError(f"url {url!r}: give the server's http:// or https:// address, for example http://127.0.0.1:8700")
    if token is None:
        from ccl_embed.store.record import token_for

        token = token_for(url)
    return Client(url, api_key, collection=collection, timeout=timeout, token=token)
