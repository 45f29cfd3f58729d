"""The one file-lock primitive of the store layer (collections and the serve record use it)."""

from __future__ import annotations

from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

CAN_LOCK = fcntl is not None
"""Whether this platform has advisory locks (fcntl); without them nothing is ever held."""


def try_lock(path: Path) -> IO[str] | None:
    """An open handle holding an exclusive lock on ``path`` (closing it lets go), or None when
    another process holds it. Without :data:`CAN_LOCK` the handle comes back unlocked."""
    handle = path.open("a+")
    if fcntl is None:
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle
