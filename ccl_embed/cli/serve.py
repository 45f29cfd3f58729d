"""Commands that hold a store for others: serve (HTTP, the web page, routing for the CLI) and mcp (stdio)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ccl_embed.cli.app import app
from ccl_embed.cli.options import Collection_, Device_, Grpc_, Model_, Store_, Url_, served
from ccl_embed.cli.output import fail, printable
from ccl_embed.errors import CCLEmbedError

if TYPE_CHECKING:
    from ccl_embed.serve.service import Service
    from ccl_embed.store import StoreOptions
    from ccl_embed.store.record import Holding


ServeKey_ = Annotated[Optional[str], typer.Option("--api-key", envvar="CCL_EMBED_API_KEY", show_default=False, help="The key every API call must carry (needed for any --host but loopback; never printed).")]
QdrantKey_ = Annotated[Optional[str], typer.Option("--qdrant-api-key", envvar="QDRANT_API_KEY", show_default=False, help="The Qdrant server's API key, with --url (never printed).")]


def _options(store: Path | None, url: str | None, qdrant_api_key: str | None, grpc: bool) -> StoreOptions:
    from ccl_embed.store import StoreOptions

    return StoreOptions(store=store, url=url, api_key=qdrant_api_key, prefer_grpc=grpc)


def _service(options: StoreOptions, model: str, device: str, collection: str, ingest_under: list[Path] | None = None,
             *, hold: bool = True) -> tuple[Holding | None, Service]:
    """The claim on an embedded store (taken before the model loads, when ``hold``), and the service."""
    from ccl_embed.store.record import Holding
    from ccl_embed.serve.service import Service
    from ccl_embed.store import default_store

    holding = None
    if hold and not options.url:
        holding = Holding(Path(options.store) if options.store is not None else default_store())
    try:
        return holding, Service(options, model=model, device=device, collection=collection,
                                ingest_under=ingest_under or ())
    except BaseException:
        if holding is not None:
            holding.release()
        raise


@app.command()
def serve(
    store: Store_ = None,
    url: Url_ = None,
    qdrant_api_key: QdrantKey_ = None,
    grpc: Grpc_ = False,
    collection: Collection_ = "ccl-embed",
    host: Annotated[str, typer.Option(help="The address to listen on; any but loopback needs --api-key.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="The port (0: any free one).")] = 8700,
    model: Model_ = "default",
    device: Device_ = "auto",
    api_key: ServeKey_ = None,
    cors_origin: Annotated[Optional[list[str]], typer.Option("--cors-origin", help="A browser origin allowed to call the API (repeatable; CORS is off without one).")] = None,
    allowed_host: Annotated[Optional[list[str]], typer.Option("--allowed-host", help="Another name this server answers to (repeatable; localhost, 127.0.0.1, [::1] and --host always are).")] = None,
    ingest_under: Annotated[Optional[list[Path]], typer.Option("--ingest-under", help="Accept ingests only of folders inside this one, from any local client (repeatable; default: any folder, from the user's own tools only).")] = None,
) -> None:
    """Hold a store and serve it: an HTTP API, a web page at /, and routing for the CLI.

    While it runs, `ccl-embed search`, `ingest` and `collections` on the same store go through it,
    so many readers search at once and while an ingest runs. Stop it with Ctrl-C.
    """
    from ccl_embed.serve.server import check_exposure, run

    try:
        check_exposure(host, api_key)
        holding, service = _service(_options(store, url, qdrant_api_key, grpc), model, device, collection,
                                    ingest_under)
        where = url or str(service.store)

        def ready(address: str) -> None:
            typer.echo(f"serving {printable(where)} (model {service.meta.model}) at {address}; Ctrl-C stops", err=True)

        try:
            run(service, host=host, port=port, api_key=api_key, cors_origins=tuple(cors_origin or ()),
                allowed_hosts=tuple(allowed_host or ()), on_ready=ready, holding=holding)
        except KeyboardInterrupt:  # uvicorn shuts down gracefully, then passes the signal on: a normal stop
            pass
    except (CCLEmbedError, ValueError, OSError) as e:
        raise fail(str(e)) from None
    typer.echo("stopped", err=True)


@app.command()
def mcp(
    store: Store_ = None,
    url: Url_ = None,
    qdrant_api_key: QdrantKey_ = None,
    grpc: Grpc_ = False,
    collection: Collection_ = "ccl-embed",
    model: Model_ = "default",
    device: Device_ = "auto",
    ingest_under: Annotated[Optional[list[Path]], typer.Option("--ingest-under", help="A folder the agent may ingest, with its subfolders (repeatable; none: ingest_folder refuses every folder).")] = None,
) -> None:
    """An MCP server over stdio with image tools: search_images, search_texts, find_similar, ingest_folder.

    When `ccl-embed serve` holds the store, the tools go through it; otherwise this process holds it.
    """
    fence = tuple(ingest_under or ())
    from ccl_embed.serve.mcp import build

    try:
        options = _options(store, url, qdrant_api_key, grpc)
        server = served(options, model, quiet=True)
        if server is not None:
            build(server, collection, fence).run("stdio")
            return
        # No HTTP here, so no record for the CLI to route through: it waits for the collections instead.
        _, service = _service(options, model, device, collection, list(fence) or None, hold=False)
        try:
            build(service, collection, fence).run("stdio")
        finally:
            service.close()
    except (CCLEmbedError, ValueError, OSError) as e:
        raise fail(str(e)) from None
