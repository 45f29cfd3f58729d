"""The Typer application the command modules register on, and the exit code a signal asks for."""

from __future__ import annotations

import typer


HELP = {"help_option_names": ["-h", "--help"]}
"""``-h`` is ``--help`` on every command, as in its peers."""

app = typer.Typer(
    name="ccl-embed",
    help="CCL image-text embeddings for Qdrant: ingest and search folders; build corpora, train, export, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=HELP,
    rich_markup_mode=None,
)
data_app = typer.Typer(help="Build training corpora from registry packages.", no_args_is_help=True, context_settings=HELP,
                       rich_markup_mode=None)
app.add_typer(data_app, name="data")


def _version(shown: bool) -> None:
    if shown:
        from ccl_embed import __version__

        typer.echo(f"ccl-embed {__version__}")
        raise typer.Exit()


@app.callback()
def _top(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Show the version and exit.")) -> None:
    """CCL image-text embeddings for Qdrant: ingest and search folders; build corpora, train, export, evaluate."""

SIGNALLED: dict[str, int] = {}
"""``{"code": 143}`` once SIGTERM has arrived: the exit code an interrupted command returns (130 otherwise)."""
