"""``ccl-embed mcp``: image and text search as MCP tools (the official ``mcp`` SDK, over stdio).

Tools: ``search_images(query, limit, collection, filters)`` returns thumbnails with their paths and
relevances; ``search_texts(query, limit, collection, filters)``; ``find_similar(image_path, limit,
collection, modality, filters)``; ``ingest_folder(path)``, fenced to the folders the user named.
``filters`` are ``FIELD:VALUE`` strings, the HTTP API's syntax. The server reports ccl-embed's version.

The tools run on a backend with the calls of :class:`~ccl_embed.serve.service.Service`: the
service itself (this process holds the store), or a :class:`~ccl_embed.serve.client.Client` of the
``ccl-embed serve`` process that already holds it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Protocol

from ccl_embed.errors import CCLEmbedError, require
from ccl_embed.sdk import Hit


class Backend(Protocol):
    """What the tools need: a local :class:`Service` and a remote :class:`Client` both have it."""

    def search(self, query: Any, *, collection: str | None = ..., limit: int = ..., modality: str | None = ...,
               where: Any = ...) -> list[Hit]: ...

    def thumbnail(self, point_id: str, *, collection: str | None = ...) -> bytes: ...

    def ingest(self, path: str, *, collection: str | None = ...) -> dict[str, Any]: ...


MAX_LIMIT = 50


def _line(h: Hit) -> str:
    label = f" [{h.label}]" if h.label else ""
    text = f" {h.text[:200]!r}" if h.text else ""
    return f"{h.relevance:.4f} {h.modality} {h.path}{label}{text} (id {h.id})"


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise CCLEmbedError(f"limit={limit!r}: give 1 to {MAX_LIMIT}")
    return limit


def allowed_folder(path: str, ingest_under: tuple[Path, ...]) -> Path:
    """The folder an agent asked to ingest, resolved, when it lies under a folder the user named
    at start; otherwise an error that names them.

    Raises:
        CCLEmbedError: For any other folder, or for every folder when none was named.
    """
    if not ingest_under:
        raise CCLEmbedError("ingest_folder is off: the user allows folders by starting `ccl-embed mcp --ingest-under FOLDER`")
    from ccl_embed.serve.service import under_any

    folder = Path(path).expanduser().resolve()
    if not under_any(folder, ingest_under):
        raise CCLEmbedError(f"path {path!r} is outside the folders the user allowed: {', '.join(map(str, ingest_under))}")
    return folder


def build(backend: Backend, collection: str | None = None, ingest_under: tuple[str | Path, ...] = ()) -> Any:
    """The MCP server (a ``FastMCP``) of a backend; run it with ``.run("stdio")``.

    Args:
        backend: A local service or a client of the server that holds the store.
        collection: The collection the tools use.
        ingest_under: The folders ``ingest_folder`` may read (and their subfolders), named by the
            user when the server starts; none: the tool refuses every folder. An agent cannot widen
            them, and the tool's description lists them.

    Raises:
        MissingDependencyError: Without the ``mcp`` package (the ``serve`` extra).
    """
    fastmcp = require("mcp.server.fastmcp", "serve")
    from ccl_embed._version import __version__

    server = fastmcp.FastMCP("ccl-embed", log_level="WARNING", instructions=(
        "Search a ccl-embed collection of images and texts by meaning. search_images shows the matching "
        "pictures; search_texts returns passages; find_similar takes an image file; ingest_folder adds a folder. "
        "Every search takes an optional collection and filters such as ['label:animals']."))
    server._mcp_server.version = __version__  # serverInfo.version: ccl-embed's, not the SDK's

    def images_of(hits: list[Hit], where: str | None) -> list[Any]:
        out: list[Any] = []
        for h in hits:
            out.append(_line(h))
            if h.modality != "image":
                continue
            try:
                out.append(fastmcp.Image(data=backend.thumbnail(h.id, collection=where or collection), format="jpeg"))
            except CCLEmbedError as e:
                out.append(f"(no thumbnail: {e})")
        return out or ["no hits"]

    def search(query: Any, collection_: str | None, limit: int, modality: str | None,
               filters: list[str] | None) -> list[Hit]:
        from ccl_embed.store.base import parse_filters

        return backend.search(query, collection=collection_ or collection, limit=_limit(limit), modality=modality,
                              where=parse_filters(filters or [], "filter"))

    @server.tool(structured_output=False)
    async def search_images(query: str, limit: int = 5, collection: str | None = None,
                            filters: list[str] | None = None) -> list[Any]:
        """Images of a collection that match a description, best first, each with its relevance and path.
        ``collection``: another than the server's; ``filters``: FIELD:VALUE, e.g. ``label:animals``."""
        hits = await asyncio.to_thread(search, query, collection, limit, "image", filters)
        return await asyncio.to_thread(images_of, hits, collection)

    @server.tool(structured_output=False)
    async def search_texts(query: str, limit: int = 5, collection: str | None = None,
                           filters: list[str] | None = None) -> str:
        """Texts of a collection that match a query, best first: relevance, path and text (``collection``
        and ``filters`` as in search_images)."""
        hits = await asyncio.to_thread(search, query, collection, limit, "text", filters)
        return "\n".join(_line(h) for h in hits) or "no hits"

    @server.tool(structured_output=False)
    async def find_similar(image_path: str, limit: int = 5, collection: str | None = None,
                           modality: str = "image", filters: list[str] | None = None) -> list[Any]:
        """Items of a collection like an image file on this machine: images (``modality`` "image", the
        default), texts ("text") or both ("any"); ``collection`` and ``filters`` as in search_images."""
        from ccl_embed.runtime.images import ImageError, load_image

        if modality not in ("image", "text", "any"):
            raise CCLEmbedError(f"modality={modality!r}: choose image, text or any")
        path = Path(image_path).expanduser()
        if not path.is_file():
            raise CCLEmbedError(f"image_path {image_path!r}: no such file")
        try:  # decoded here, so an error names the file by its path
            picture = await asyncio.to_thread(load_image, path)
        except ImageError as e:
            raise CCLEmbedError(str(e)) from None
        hits = await asyncio.to_thread(search, picture, collection, limit, None if modality == "any" else modality,
                                       filters)
        return await asyncio.to_thread(images_of, hits, collection)

    fence = tuple(Path(p).expanduser().resolve() for p in ingest_under)
    where = (f"Allowed folders (and their subfolders): {', '.join(map(str, fence))}." if fence
             else "No folder is allowed: the user starts `ccl-embed mcp --ingest-under FOLDER` to allow one.")

    @server.tool(structured_output=False, description="Add every image and text under a folder on this machine to "
                 f"the collection (a re-run adds only what changed). {where}")
    async def ingest_folder(path: str) -> str:
        folder = allowed_folder(path, fence)
        summary = await asyncio.to_thread(backend.ingest, str(folder), collection=collection)
        problems = [f"skipped {s['path']}: {s['reason']}" for s in summary["skipped"]]
        problems += [f"failed {s['path']}: {s['reason']}" for s in summary["failed"]]
        head = (f"{summary['added']} added, {summary['unchanged']} unchanged, {len(summary['skipped'])} skipped, "
                f"{len(summary['failed'])} failed, {summary['pruned']} pruned; {summary['points']} points")
        return "\n".join([head, *problems[:50]])

    return server
