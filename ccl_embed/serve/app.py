"""The HTTP API and web page of ``ccl-embed serve``: a FastAPI app over one :class:`Service`.

The contract (docs/serve.md):

- ``GET /healthz``: 200 once the model and the store are loaded;
- ``GET /api/search?q=TEXT&limit=10&modality=image|text&collection=NAME&filter=label:VALUE``;
- ``POST /api/search`` with the same query parameters and a multipart field ``image``;
- ``POST /api/ingest {"path", "collection", "prune"}``, then ``GET /api/ingest/{id}``;
- ``GET /api/collections``;
- ``GET /api/items/{id}/thumbnail``;
- ``GET /openapi.json``; ``GET /`` is the web page, its files shipped in the package.

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


async def _too_large(send: Any, limit: int) -> None:
    import json

    body = json.dumps({"error": f"the request body is over the limit of {limit:,} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(service: Service, *, api_key: str | None = None, cors_origins: tuple[str, ...] = (),
               max_upload_bytes: int = MAX_UPLOAD_BYTES) -> Any:
    """The ASGI app of a service.

    Args:
        service: The loaded model and store.
        api_key: When given, every ``/api`` call must carry it.
        cors_origins: Origins allowed to call the API from a browser (none by default: CORS off).
        max_upload_bytes: The largest query image accepted.

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
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"])

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

    api = [Depends(authorised)]
    Limit = Annotated[int, Query(ge=1, le=1000, description="How many hits.")]
    Modality = Annotated[str | None, Query(pattern="^(image|text)$", description="Only image or only text hits.")]
    Coll = Annotated[str | None, Query(description="The collection (default: the server's).")]
    Filters = Annotated[list[str], Query(alias="filter", description="FIELD:VALUE, repeatable (the same field twice is any-of).")]

    def hits(query: Any, collection: str | None, limit: int, modality: str | None, filters: list[str]) -> dict[str, Any]:
        found = service.search(query, collection=collection, limit=limit, modality=modality, where=parse_filters(filters, ":", "filter"))
        return {"hits": [h.to_dict() for h in found]}

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """200 once the model and the store are loaded."""
        return {"status": "ok", "version": __version__, "model": service.meta.model, "dim": service.meta.dim,
                "collection": service.default_collection, "auth": api_key is not None}

    @app.get("/api/search", dependencies=api)
    def search_text(q: Annotated[str, Query(min_length=1, max_length=2000, description="The text to search for.")],
                    limit: Limit = 10, modality: Modality = None, collection: Coll = None,
                    filters: Filters = []) -> dict[str, Any]:  # noqa: B006 - FastAPI reads the default
        """Search by text."""
        return hits(q, collection, limit, modality, filters)

    @app.post("/api/search", dependencies=api)
    def search_image(image: Annotated[UploadFile, File(description="The query image.")], limit: Limit = 10,
                     modality: Modality = None, collection: Coll = None,
                     filters: Filters = []) -> dict[str, Any]:  # noqa: B006
        """Search by an uploaded image."""
        data = image.file.read(max_upload_bytes + 1)
        return hits(decode_upload(data, image.filename or "upload", max_upload_bytes), collection, limit, modality,
                    filters)

    @app.post("/api/ingest", dependencies=api, status_code=202)
    def start_ingest(body: dict[str, Any]) -> dict[str, Any]:
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
