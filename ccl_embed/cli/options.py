"""The options every command over a store shares, and the store they name."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ccl_embed.cli.output import warn
from ccl_embed.errors import CCLEmbedError

if TYPE_CHECKING:
    from ccl_embed.serve.client import Client
    from ccl_embed.store import StoreOptions


Collection_ = Annotated[str, typer.Option("--collection", "-c", metavar="NAME", help="The collection's name.")]
Store_ = Annotated[Optional[Path], typer.Option("--store", metavar="DIR", help="The embedded store's folder (default: $CCL_EMBED_STORE or ~/.local/share/ccl-embed/store).")]
Url_ = Annotated[Optional[str], typer.Option("--url", envvar="QDRANT_URL", metavar="URL", help="A Qdrant server or cluster instead of the embedded store.")]
ApiKey_ = Annotated[Optional[str], typer.Option("--qdrant-api-key", envvar="QDRANT_API_KEY", show_default=False, metavar="KEY", help="The Qdrant server's API key, with --url (never printed; the ccl server's own key is serve's --api-key).")]
Grpc_ = Annotated[bool, typer.Option("--grpc", help="Talk gRPC to the server.")]
Model_ = Annotated[str, typer.Option("--model", "-m", metavar="NAME|DIR", help="'default', a shipped model's name or an exported model folder.")]
Device_ = Annotated[str, typer.Option(metavar="[auto|cpu|cuda]", help="Where the model runs.")]


def store_options(store: Path | None, url: str | None, api_key: str | None, grpc: bool, shards: int | None = None,
                  replicas: int | None = None) -> StoreOptions:
    """The store the command line's options name; a QDRANT_API_KEY left in the environment for the
    embedded store is dropped with a warning."""
    import os

    from ccl_embed.store import StoreOptions

    if api_key and not url and api_key == os.environ.get("QDRANT_API_KEY"):
        warn("QDRANT_API_KEY is set but no --url is given; the embedded store needs no key, so it is ignored")
        api_key = None
    return StoreOptions(store=store, url=url, api_key=api_key, prefer_grpc=grpc, shards=shards, replicas=replicas,
                        wait=lock_wait())


LOCK_WAIT = 30.0
"""Seconds a command waits for another process (a search, an ingest) that holds an embedded collection."""


def lock_wait() -> float:
    """``$CCL_EMBED_WAIT`` seconds, else :data:`LOCK_WAIT`."""
    import os

    raw = os.environ.get("CCL_EMBED_WAIT", "")
    try:
        return float(raw) if raw else LOCK_WAIT
    except ValueError:
        raise CCLEmbedError(f"CCL_EMBED_WAIT={raw!r}: give the seconds to wait for another process, for example 30") from None


def served(options: StoreOptions, model: str | None = None, *, quiet: bool = False) -> Client | None:
    """A client of the server that holds this embedded store (with a note on stderr), or None."""
    from ccl_embed.serve.client import served_client

    found = served_client(options, model)
    if found is not None and not quiet:
        typer.echo(f"note: the store is served at {found.url}; going through it", err=True)
    return found


def refuse_if_served(options: StoreOptions, doing: str) -> None:
    """Refuse what only the holder of the store may do (``doing``) while a server holds it."""
    if served(options, quiet=True) is not None:
        raise CCLEmbedError(f"the store is served by a ccl-embed server; stop it to {doing} (Ctrl-C or kill its pid)")
