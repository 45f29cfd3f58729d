"""The HTTP API and web page of ``ccl-embed serve``: a FastAPI app over one :class:`Service`.

The contract (docs/serve.md):

- ``GET /healthz``: 200 once the model and the store are loaded;
- ``GET /api/search?q=TEXT&limit=10&offset=0&modality=image|text&collection=NAME&filter=label:VALUE`` (or ``like=ID``);
- ``POST /api/search`` with the same query parameters and a multipart field ``image``;
- ``POST /api/ingest {"path", "collection", "prune"}``, then ``GET /api/ingest/{id}``;
- ``GET /api/collections``; ``GET /api/labels?collection=NAME``;
- ``GET /api/items/{id}`` (its payload), ``GET /api/items/{id}/image`` (the whole image),
  ``GET /api/items/{id}/thumbnail``;
- ``GET /openapi.json``; ``GET /`` is the web page, its files shipped in the package.

Every request must name one of the server's own hosts (``Host``: ``localhost``, ``127.0.0.1``,
``[::1]`` and the names it was given), which stops DNS rebinding; a state-changing request (any
method but GET and HEAD) from a browser page of another origin is refused; an ingest needs the
server's ingest token (``X-Ingest-Token``, from the store's record, which only the user can read)
or its API key, unless the folder lies under an ``--ingest-under`` folder. docs/serve.md has the table.

Every error is JSON ``{"error": "one line"}``. (No ``from __future__ import annotations`` here:
FastAPI reads the endpoints' annotations, which name types imported inside :func:`create_app`.) With an API key, every ``/api`` call must carry it
(``Authorization: Bearer KEY`` or ``X-API-Key: KEY``).
"""

import hmac
from pathlib import Path
from typing import Annotated, Any

from ccl_embed.errors import CCLEmbedError, one_line, require
from ccl_embed.serve.service import MAX_UPLOAD_BYTES, Conflict, Forbidden, NotFound, Service, decode_upload
from ccl_embed.store.base import StoreError, parse_filters

STATIC = Path(__file__).parent / "static"
BODY_SLACK = 64 << 10
"""Bytes a request may carry beyond the upload limit (the multipart framing and fields)."""


class _BodyLimit:
    """Refuse a request body over a limit as it arrives, before it is spooled: by its
    Content-Length when it gives one, else by counting (a chunked upload)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT"):
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _too_large(send, self.limit)
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                from starlette.exceptions import HTTPException

                raise HTTPException(413, f"the request body is over the limit of {self.limit:,} bytes")
            return message

        return await self.app(scope, counted, send)


async def _refuse(send: Any, status: int, message: str) -> None:
    import json

    body = json.dumps({"error": one_line(message, 400)}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _too_large(send: Any, limit: int) -> None:
    await _refuse(send, 413, f"the request body is over the limit of {limit:,} bytes")


LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
"""The names every server answers to: this machine's own."""
SAFE_METHODS = ("GET", "HEAD")


def split_host(header: str) -> tuple[str, int | None]:
    """``Host`` as (name, port): ``localhost:8700`` -> (``localhost``, 8700), ``[::1]:80`` -> (``::1``, 80).

    Raises:
        ValueError: For a header that is not a host name with an optional port.
    """
    name, port = header, ""
    if header.startswith("["):
        name, sep, rest = header[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(header)
        port = rest[1:]
    elif header.count(":") == 1:
        name, port = header.split(":")
    elif ":" in header:
        raise ValueError(header)
    if not name or (port and not port.isdigit()):
        raise ValueError(header)
    return name.lower().rstrip("."), int(port) if port else None


class _Guard:
    """Refuse what a web page could do to a server on this machine: a ``Host`` that is not one of
    the server's names (a page whose name was rebound to 127.0.0.1), and a state-changing request
    carrying an ``Origin`` that is not the server's own or a ``--cors-origin``."""

    def __init__(self, app: Any, names: tuple[str, ...], port: int | None, origins: tuple[str, ...]) -> None:
        self.app, self.names, self.port, self.origins = app, names, port, origins

    def origin_ok(self, origin: str) -> bool:
        if origin in self.origins:
            return True
        scheme, sep, rest = origin.partition("://")
        if scheme not in ("http", "https") or not sep:
            return False
        try:
            name, port = split_host(rest)
        except ValueError:
            return False
        return name in self.names and (self.port is None or port == self.port)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        try:
            name, port = split_host(host)
        except ValueError:
            name, port = "", None
        if name not in self.names or (port is not None and self.port is not None and port != self.port):
            shown = ", ".join(f"[{n}]" if ":" in n else n for n in self.names)
            return await _refuse(send, 403, f"Host {host[:100]!r} is not one of this server's names ({shown}"
                                            f"{f', port {self.port}' if self.port else ''}); a name of its own is "
                                            "added with --allowed-host")
        origin = headers.get("origin")
        if scope["method"] not in SAFE_METHODS and origin is not None and not self.origin_ok(origin):
            return await _refuse(send, 403, f"Origin {origin[:100]!r} may not change this server's store: only its own "
                                            "pages may (another origin is allowed with --cors-origin)")
        return await self.app(scope, receive, send)


def create_app(service: Service, *, api_key: str | None = None, cors_origins: tuple[str, ...] = (),
               max_upload_bytes: int = MAX_UPLOAD_BYTES, hosts: tuple[str, ...] = (), port: int | None = None,
               ingest_token: str | None = None) -> Any:
    """The ASGI app of a service.

    Args:
        service: The loaded model and store.
        api_key: When given, every ``/api`` call must carry it.
        cors_origins: Origins allowed to call the API from a browser (none by default: CORS off).
        max_upload_bytes: The largest query image accepted.
        hosts: Names the server answers to besides :data:`LOCAL_NAMES` (its ``--host``, ``--allowed-host``).
        port: The port it listens on (None: any port in ``Host`` is accepted).
        ingest_token: The secret an ingest must carry (``X-Ingest-Token``) unless it carries the API
            key or names a folder under the service's ``ingest_under``; None: only those.

    Raises:
        MissingDependencyError: Without the ``serve`` extra (the message names the pip command).
    """
    fastapi = require("fastapi", "serve")
    from fastapi import Depends, File, Query, Request, UploadFile
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, Response
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from ccl_embed._version import __version__

    app = fastapi.FastAPI(title="ccl-embed", version=__version__, docs_url=None, redoc_url=None,
                          description="CCL image-text search over one store (docs/serve.md).")
    app.add_middleware(_BodyLimit, limit=max_upload_bytes + BODY_SLACK)
    names = tuple(dict.fromkeys([*LOCAL_NAMES, *(h.lower().strip("[]").rstrip(".") for h in hosts)]))
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"])

    app.add_middleware(_Guard, names=names, port=port, origins=tuple(cors_origins))  # outermost: checked first

    def error(status: int, message: str) -> Any:
        return JSONResponse({"error": one_line(message, 400)}, status_code=status)

    @app.exception_handler(CCLEmbedError)
    async def _ours(request: Request, e: CCLEmbedError) -> Any:
        status = (404 if isinstance(e, NotFound) else 403 if isinstance(e, Forbidden)
                  else 409 if isinstance(e, Conflict) else 503 if isinstance(e, StoreError) else 400)
        return error(status, str(e))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> Any:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return error(422, f"{where or 'request'}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> Any:
        return error(e.status_code, str(e.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, e: Exception) -> Any:
        return error(500, f"unexpected {type(e).__name__}: {one_line(str(e))}")

    def authorised(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("x-api-key") or ""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            given = given or token.strip()
        if not hmac.compare_digest(given.encode(), api_key.encode()):
            raise StarletteHTTPException(401, "this server needs its API key: send Authorization: Bearer KEY")

    def may_ingest(request: Request, path: str, follow_links_outside: bool) -> None:
        """An ingest carries the API key (checked for every call), or the ingest token, or names a
        folder under the service's fence (and stays inside it); anything else could be any local
        process or web page."""
        if api_key is not None or (service.fenced(path) and not follow_links_outside):
            return
        given = request.headers.get("x-ingest-token") or ""
        if ingest_token is None or not hmac.compare_digest(given.encode(), ingest_token.encode()):
            raise StarletteHTTPException(403, "an ingest needs this server's ingest token (X-Ingest-Token, in the "
                                              "store's serve record, which ccl-embed and ccl_embed.connect() read), "
                                              "or a folder under --ingest-under")

    api = [Depends(authorised)]
    Limit = Annotated[int, Query(ge=1, le=1000, description="How many hits.")]
    Offset = Annotated[int, Query(ge=0, le=10000, description="Skip this many of the best hits (the next page).")]
    Modality = Annotated[str | None, Query(pattern="^(image|text)$", description="Only image or only text hits.")]
    Coll = Annotated[str | None, Query(description="The collection (default: the server's).")]
    Filters = Annotated[list[str], Query(alias="filter", description="FIELD:VALUE, repeatable (the same field twice is any-of).")]

    def hits(query: Any, collection: str | None, limit: int, offset: int, modality: str | None, filters: list[str],
             like: str | None = None) -> dict[str, Any]:
        found = service.search(query, collection=collection, limit=limit, offset=offset, modality=modality,
                               where=parse_filters(filters, "filter"), like=like)
        return {"hits": [h.to_dict() for h in found]}

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """200 once the model and the store are loaded."""
        return {"status": "ok", "version": __version__, "model": service.meta.model, "dim": service.meta.dim,
                "collection": service.default_collection, "auth": api_key is not None}

    @app.get("/api/search", dependencies=api)
    def search_text(q: Annotated[str | None, Query(min_length=1, max_length=2000, description="The text to search for.")] = None,
                    like: Annotated[str | None, Query(max_length=64, description="Or a stored item's id: more like it.")] = None,
                    limit: Limit = 10, offset: Offset = 0, modality: Modality = None, collection: Coll = None,
                    filters: Filters = []) -> dict[str, Any]:  # noqa: B006 - FastAPI reads the default
        """Search by text, or by a stored item (``like=ID``, the item itself left out)."""
        if (q is None) == (like is None):
            raise CCLEmbedError("give q=TEXT or like=ID (one of them)")
        return hits(q, collection, limit, offset, modality, filters, like)

    @app.post("/api/search", dependencies=api)
    def search_image(image: Annotated[UploadFile, File(description="The query image.")], limit: Limit = 10,
                     offset: Offset = 0, modality: Modality = None, collection: Coll = None,
                     filters: Filters = []) -> dict[str, Any]:  # noqa: B006
        """Search by an uploaded image."""
        data = image.file.read(max_upload_bytes + 1)
        return hits(decode_upload(data, image.filename or "upload", max_upload_bytes), collection, limit, offset,
                    modality, filters)

    @app.post("/api/ingest", dependencies=api, status_code=202)
    def start_ingest(body: dict[str, Any], request: Request) -> dict[str, Any]:
        """Start an ingest of a folder on the server's machine; poll ``/api/ingest/{id}``."""
        known = {"path", "collection", "prune", "root", "batch_size", "follow_links_outside"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise CCLEmbedError(f"unknown ingest field {unknown[0]!r}; the fields are {', '.join(sorted(known))}")
        if not isinstance(body.get("path"), str):
            raise CCLEmbedError('give the folder as {"path": "/absolute/folder"}')
        flags = {k: body.get(k, False) for k in ("prune", "follow_links_outside")}
        for k, v in flags.items():
            if not isinstance(v, bool):
                raise CCLEmbedError(f"{k}={v!r}: give true or false")
        batch = body.get("batch_size", 32)
        if not isinstance(batch, int) or isinstance(batch, bool):
            raise CCLEmbedError(f"batch_size={batch!r}: give a positive whole number")
        may_ingest(request, body["path"], flags["follow_links_outside"])
        job = service.start_ingest(body["path"], collection=body.get("collection"), root=body.get("root"),
                                   batch_size=batch, **flags)
        return job.to_dict()

    @app.get("/api/ingest/{job_id}", dependencies=api)
    def ingest_status(job_id: str) -> dict[str, Any]:
        """An ingest's progress and, once done, its summary."""
        return service.job(job_id).to_dict()

    @app.get("/api/collections", dependencies=api)
    def collections() -> dict[str, Any]:
        """The store's collections."""
        return {"collections": [{"name": c.name, "count": c.count, "model": c.model, "dim": c.dim, "error": c.error}
                                for c in service.collections()]}

    @app.get("/api/labels", dependencies=api)
    def labels(collection: Coll = None) -> dict[str, Any]:
        """The labels of a collection's items, with how many items carry each."""
        return {"labels": [{"name": k, "count": v} for k, v in service.labels(collection).items()]}

    @app.get("/api/items/{point_id}", dependencies=api)
    def item(point_id: str, collection: Coll = None) -> dict[str, Any]:
        """A stored item's payload: modality, path, root, text, label, pairs."""
        return service.item(point_id, collection=collection)

    @app.get("/api/items/{point_id}/image", dependencies=api)
    def image(point_id: str, collection: Coll = None) -> Any:
        """A stored image, whole, under the thumbnail's guards (its own file, unchanged)."""
        data, media = service.image(point_id, collection=collection)
        return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=300",
                                                         "X-Content-Type-Options": "nosniff"})

    @app.get("/api/items/{point_id}/thumbnail", dependencies=api)
    def thumbnail(point_id: str, collection: Coll = None) -> Any:
        """A small JPEG of a stored image."""
        return Response(service.thumbnail(point_id, collection=collection), media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=300"})

    @app.get("/", include_in_schema=False)
    def page() -> Any:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
