"""The ``ccl-embed`` command line: a thin layer that parses, calls the library and prints.

Exit codes: 0 success, 1 when some items were skipped, 2 on usage or input errors.
No traceback reaches the user: every expected error is printed as one line.

``app`` holds every command; the modules register theirs on import, in the order a user meets
them: ``store`` (ingest, search and the collections), ``serve`` (serve, mcp), ``model`` (training,
export, evaluation, corpora).
"""

from __future__ import annotations

import sys

import typer

from ccl_embed.cli import store, serve, model  # noqa: I001 - each registers its commands on app, in this order
from ccl_embed.cli.app import SIGNALLED, app
from ccl_embed.cli.output import printable, to_json, warn

__all__ = ["app", "main", "printable", "to_json"]


def _on_sigterm(signum: int, frame: object) -> None:
    SIGNALLED["code"] = 143
    raise KeyboardInterrupt


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    warn(str(message))


def main() -> None:
    """Entry point of the ``ccl-embed`` script: every message is one line, and no traceback reaches the user."""
    import os
    import signal
    import warnings

    import logging

    signal.signal(signal.SIGTERM, _on_sigterm)
    warnings.showwarning = _show_warning  # one line each, not Python's two-line form
    note = logging.StreamHandler(sys.stderr)
    note.setFormatter(logging.Formatter("note: %(message)s"))
    store_log = logging.getLogger("ccl_embed.store")
    store_log.addHandler(note)
    store_log.setLevel(logging.INFO)
    try:
        code = app(standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("interrupted", err=True)
        sys.exit(SIGNALLED.get("code", 130))
    except typer.TyperException as e:  # usage errors (typer's click): one line, not a framed box
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        ctx = getattr(e, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        typer.echo(f"error: {printable(message)}{hint}", err=True)
        sys.exit(int(getattr(e, "exit_code", 2)))
    except Exception as e:  # the last line of defence; CCL_EMBED_DEBUG=1 shows the traceback
        if os.environ.get("CCL_EMBED_DEBUG"):
            raise
        from ccl_embed.errors import one_line

        typer.echo(f"error: unexpected {type(e).__name__}: {printable(one_line(str(e)))} "
                   "(set CCL_EMBED_DEBUG=1 for details)", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
