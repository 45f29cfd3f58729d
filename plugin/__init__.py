"""Qdrant embedding-provider integrations of ccl-embed (installed as ``ccl_embed.plugin``).

- :func:`register`: every installed CCL model becomes ``ccl-embed/<name>`` for qdrant-client's
  inference objects (``models.Document``, ``models.Image``) in local mode.
- :class:`ccl_embed.plugin.mcp.CCLEmbeddingProvider`: the ``EmbeddingProvider`` shape of the
  official MCP server for Qdrant.
- :class:`ccl_embed.plugin.langchain.CCLEmbeddings`: a LangChain ``Embeddings``, with image methods.

Importing this package registers nothing (no import-time side effects).
"""

from __future__ import annotations

import os
from pathlib import Path

from ccl_embed.runtime.folder import installed_models


def register(*folders: str | os.PathLike[str]) -> list[str]:
    """Make CCL models usable as ``models.Document(..., model="ccl-embed/<name>")`` and ``models.Image``.

    Every model shipped with ccl-embed is registered (``ccl-embed/default``), plus any exported
    model folders given here (as ``ccl-embed/<folder name>``). Calling it again is harmless.

    Returns:
        The registered model names.

    Raises:
        ImportError: When fastembed is missing or of an untested version; the message names the
            exact ``pip install`` to run.
    """
    from ccl_embed.plugin.fastembed_bridge import install

    models = dict(installed_models())
    models.update({Path(f).resolve().name: Path(f) for f in folders})
    return install(models)


__all__ = ["register"]
