"""Commands over a store's collections: ingest, search, collections, drop, forget."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ccl_embed.cli.app import SIGNALLED, app
from ccl_embed.cli.options import (ApiKey_, Collection_, Device_, Grpc_, Model_, Store_, Url_, refuse_if_served, served,
                                   store_options)
from ccl_embed.cli.output import fail, printable, to_json
from ccl_embed.errors import CCLEmbedError

if TYPE_CHECKING:
    from ccl_embed.serve.client import Client


@app.command()
def ingest(
    folder: Annotated[Path, typer.Argument(metavar="FOLDER", help="The folder of images and texts to ingest.")],
    collection: Collection_ = "ccl-embed",
    store: Store_ = None,
    url: Url_ = None,
    api_key: ApiKey_ = None,
    grpc: Grpc_ = False,
    model: Model_ = "default",
    device: Device_ = "auto",
    prune: Annotated[bool, typer.Option(help="Remove the points of this folder whose files are gone.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, metavar="N", help="Items embedded and stored together.")] = 32,
    shards: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="Shard number when a server creates the collection.")] = None,
    replicas: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="Replication factor when a server creates the collection.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no per-item lines.")] = False,
    root: Annotated[Optional[str], typer.Option("--root", metavar="NAME", help="The name FOLDER's points are stored under (default: its absolute path); a moved folder ingested under the same name keeps its points.")] = None,
    follow_links_outside: Annotated[bool, typer.Option("--follow-links-outside", help="Follow symbolic links whose target lies outside FOLDER (never into /proc, /sys or /dev).")] = False,
    engine: Annotated[str, typer.Option(metavar="[local|ray]", help="local (this process) or ray (embedding in Ray Data actors; the distributed extra).")] = "local",
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", metavar="ADDRESS", help="With --engine ray: a Ray cluster to join (default: a local Ray with this machine's cores).")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="With --engine ray: embedding actors (default: one per CPU).")] = None,
    gpus_per_worker: Annotated[float, typer.Option(min=0, metavar="GPUS", help="With --engine ray: GPUs per actor (0.5: two actors share one).")] = 0.0,
) -> None:
    """Embed every image and text under FOLDER and store them; a re-run adds only what changed.

    Exit code: 0 when everything was ingested, 1 when some items were skipped or failed, 2 on usage
    errors and store errors (a full disk), 130/143 when interrupted (a re-run resumes).
    """
    from ccl_embed.ingest.pipeline import Interrupted

    try:
        options = store_options(store, url, api_key, grpc, shards, replicas)
        ray = None
        if engine == "ray":
            from ccl_embed.ingest.distributed import RayOptions

            ray = RayOptions(address=ray_address, workers=workers, gpus_per_worker=gpus_per_worker, device=device)
        elif engine != "local" or ray_address or workers or gpus_per_worker:
            raise CCLEmbedError(f"--engine {engine}: choose local or ray" if engine != "local" else
                                "--ray-address, --workers and --gpus-per-worker need --engine ray")
        server = served(options, model, quiet=as_json)
        if server is not None and ray is not None:
            raise CCLEmbedError("this store is served by ccl-embed serve, which ingests in its own process; "
                                "leave out --engine ray, or stop the server")
        if server is not None:
            result = _ingest_through(server, folder, collection, prune=prune, batch_size=batch_size, root=root,
                                     follow_links_outside=follow_links_outside, bar=not quiet and not as_json)
        else:
            from ccl_embed.sdk import open as open_index

            with open_index(collection, options=options, model=model, device=device, create=True) as index:
                summary = index.ingest(folder, prune=prune, batch_size=batch_size,
                                       show_progress=not quiet and not as_json, root=root,
                                       follow_links_outside=follow_links_outside, engine=engine, ray=ray)
                result = {**summary.to_dict(), "collection": collection, "points": index.count()}
    except Interrupted as e:
        typer.echo(f"{printable(e)}", err=True)
        raise typer.Exit(SIGNALLED.get("code", 130)) from None
    except (CCLEmbedError, ValueError, OSError) as e:
        raise fail(str(e)) from None
    _report_ingest(result, as_json=as_json, quiet=quiet)
    if result["skipped"] or result["failed"]:
        raise typer.Exit(1)


def _ingest_through(server: Client, folder: Path, collection: str, *, bar: bool, **kwargs: object) -> dict:
    """An ingest run by the server that holds the store, with the same progress bar and summary."""
    if not folder.is_dir():
        raise CCLEmbedError(f"{folder}: not a folder")
    from tqdm import tqdm

    with tqdm(total=0, desc="ingest (server)", unit="item", dynamic_ncols=True, disable=not bar) as progress:

        def show(job: dict) -> None:
            if job.get("total") is not None and progress.total != job["total"]:
                progress.total = job["total"]
                progress.refresh()
            progress.update(int(job.get("done") or 0) - progress.n)

        try:
            return server.ingest(folder, collection=collection, on_progress=show, **kwargs)  # type: ignore[arg-type]
        except KeyboardInterrupt:
            typer.echo("interrupted: the server goes on with the ingest; `ccl-embed collections` shows its points",
                       err=True)
            raise typer.Exit(SIGNALLED.get("code", 130)) from None


def _report_ingest(result: dict, *, as_json: bool, quiet: bool) -> None:
    """Print an ingest's summary (``IngestSummary.to_dict()`` with its collection and point count)."""
    if as_json:
        typer.echo(to_json(result))
        return
    if not quiet:
        for kind in ("skipped", "failed"):
            for s in result[kind]:
                typer.echo(f"{kind} {printable(s['path'])}: {printable(s['reason'])}", err=True)
        for s in result["warnings"]:
            typer.echo(f"warning {printable(s['path'])}: {printable(s['reason'])}", err=True)
    typer.echo(f"{result['collection']}: {result['added']} added, {result['unchanged']} unchanged, "
               f"{len(result['skipped'])} skipped, {len(result['failed'])} failed, {result['replaced']} replaced, "
               f"{result['pruned']} pruned, {result['ignored']} ignored; {result['points']} points")
    for worker, rate in (result.get("workers") or {}).items():
        typer.echo(f"  worker {printable(worker)}: {rate['items']} items, {rate['items_per_s']} items/s")


@app.command()
def search(
    query: Annotated[Optional[str], typer.Argument(metavar="QUERY", help="The text to search for.")] = None,
    image: Annotated[Optional[Path], typer.Option("--image", "-i", metavar="FILE", help="Search with this image instead of a text.")] = None,
    collection: Collection_ = "ccl-embed",
    store: Store_ = None,
    url: Url_ = None,
    api_key: ApiKey_ = None,
    grpc: Grpc_ = False,
    model: Model_ = "default",
    device: Device_ = "auto",
    limit: Annotated[int, typer.Option("--limit", "-k", min=1, metavar="N", help="How many hits.")] = 10,
    modality: Annotated[Optional[str], typer.Option(metavar="[image|text]", help="Only image or only text hits.")] = None,
    filters: Annotated[Optional[list[str]], typer.Option("--filter", metavar="FIELD:VALUE", help="FIELD:VALUE payload condition, as in the HTTP API and MCP (repeatable; the same field twice is any-of).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of hits.")] = False,
) -> None:
    """Search a collection by text (QUERY) or by image (--image)."""
    if (query is None) == (image is None):
        raise fail("give either a text QUERY or --image PATH (one of them)")
    try:
        from ccl_embed.store.base import parse_filters

        where = parse_filters(filters or [])
        if image is not None and not image.is_file():
            raise CCLEmbedError(f"--image {image}: no such file")
        options = store_options(store, url, api_key, grpc)
        asked = query if query is not None else Path(image or "")
        server = served(options, model, quiet=as_json)
        if server is not None:
            hits = server.search(asked, limit=limit, modality=modality, where=where, collection=collection)
        else:
            from ccl_embed.sdk import open as open_index

            with open_index(collection, options=options, model=model, device=device, create=False) as index:
                hits = index.search(asked, limit=limit, modality=modality, where=where)
    except (CCLEmbedError, ValueError, OSError) as e:
        raise fail(str(e)) from None
    if as_json:
        typer.echo(to_json([h.to_dict() for h in hits]))
        return
    if not hits:
        typer.echo("no hits", err=True)
    several = len({h.payload.get("root") for h in hits}) > 1  # then each path says which ingested folder it is in
    for h in hits:
        shown = f"  {printable(repr(h.text[:80]))}{'…' if len(h.text) > 80 else ''}" if h.text else ""
        label = f"  [{printable(h.label)}]" if h.label else ""
        typer.echo(f"{h.relevance:7.4f}  {h.modality:5s}  {printable(_where(h.path, h.payload.get('root')) if several else h.path)}{label}{shown}")


def _where(path: str, root: str | None) -> str:
    """A hit's path with its root: under an absolute folder, the whole path; under a name, ``NAME:path``."""
    if not root:
        return path
    return f"{root.rstrip('/')}/{path}" if root.startswith("/") else f"{root}:{path}"


@app.command()
def collections(
    store: Store_ = None,
    url: Url_ = None,
    api_key: ApiKey_ = None,
    grpc: Grpc_ = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of collections.")] = False,
) -> None:
    """List the collections of a store: name, points, model, dimension and ingested roots."""
    try:
        from ccl_embed.sdk import collections as list_all

        options = store_options(store, url, api_key, grpc)
        server = served(options, quiet=as_json)
        found = server.collections() if server is not None else list_all(options=options)
    except (CCLEmbedError, ValueError, OSError) as e:
        raise fail(str(e)) from None
    if as_json:
        typer.echo(to_json([c.to_dict() for c in found]))
        return
    if not found:
        typer.echo("no collections", err=True)
    for c in found:
        if c.error:
            typer.echo(f"{printable(c.name)}  (not readable now: {printable(c.error)})")
            continue
        typer.echo(f"{printable(c.name)}  {c.count} points  model {printable(c.model)}  {c.dim}-d")
        for r, n in c.roots.items():
            typer.echo(f"  root {printable(r)}: {n} points")


def _can_ask() -> bool:
    """Whether a question can be answered (stdin is a terminal)."""
    return sys.stdin.isatty()


@app.command()
def drop(
    collection: Annotated[str, typer.Argument(metavar="COLLECTION", help="The collection to remove, with all its points.")],
    store: Store_ = None,
    url: Url_ = None,
    api_key: ApiKey_ = None,
    grpc: Grpc_ = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a collection and every point in it (the ingested files are not touched)."""
    if not yes:
        if not _can_ask():
            raise fail(f"dropping {collection!r} removes all its points; confirm with --yes")
        if not typer.confirm(f"remove collection {printable(collection)!r} and all its points?", err=True):
            typer.echo("not dropped", err=True)
            raise typer.Exit(1)
    try:
        from ccl_embed.sdk import drop as drop_one

        options = store_options(store, url, api_key, grpc)
        refuse_if_served(options, f"drop {collection!r}")
        drop_one(collection, options=options)
    except (CCLEmbedError, ValueError, OSError) as e:
        raise fail(str(e)) from None
    typer.echo(f"dropped {printable(collection)}")


@app.command()
def forget(
    root: Annotated[str, typer.Argument(metavar="ROOT", help="An ingested root: its folder (which may be gone) or the --root name it was ingested under.")],
    collection: Collection_ = "ccl-embed",
    store: Store_ = None,
    url: Url_ = None,
    api_key: ApiKey_ = None,
    grpc: Grpc_ = False,
) -> None:
    """Remove every point of one ingested root from a collection (`ccl-embed collections` lists the roots)."""
    try:
        from ccl_embed.sdk import open as open_index

        options = store_options(store, url, api_key, grpc)
        refuse_if_served(options, "forget a root")
        with open_index(collection, options=options, model=None) as index:
            removed = index.forget(root)
    except (CCLEmbedError, ValueError, OSError) as e:
        raise fail(str(e)) from None
    typer.echo(f"{printable(collection)}: removed {removed} points of root {printable(root)}")
