"""Where ccl-embed keeps downloaded sources, built corpora and cached features."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "CCL_EMBED_CACHE"


def cache_dir() -> Path:
    """The cache root: ``$CCL_EMBED_CACHE``, else ``$XDG_CACHE_HOME/ccl-embed``, else ``~/.cache/ccl-embed``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ccl-embed"
