"""The project's error types. Every message names the bad value and says how to fix it."""

from __future__ import annotations

import importlib
from types import ModuleType


TORCH_PIN = "torch==2.13.0"
"""The torch the extras are tested with (a CPU build here; a bare requirement pulls a multi-GB CUDA build)."""


class CCLEmbedError(Exception):
    """Base class of every error ccl-embed raises on purpose."""


class CorpusError(CCLEmbedError, ValueError):
    """A corpus folder or one of its lines is unusable; the message names the file and line."""


class FetchError(CCLEmbedError, RuntimeError):
    """A registry package could not be fetched or unpacked into the cache."""


class MissingDependencyError(CCLEmbedError, ImportError):
    """An optional dependency is missing; the message gives the exact pip command."""


def redact_text(text: str) -> str:
    """A message with any URL credentials (``scheme://user:pass@``) replaced by ``***@``."""
    import re

    return re.sub(r"(?<=://)[^/\s@]+@", "***@", text)


def one_line(text: object, limit: int = 200) -> str:
    """The first line of a message, URL credentials redacted, cut at a word boundary to at most
    ``limit`` characters (with "...").

    A gRPC error (whose text is a multi-line dump) gives its status code and details instead."""
    details, code = getattr(text, "details", None), getattr(text, "code", None)
    if callable(details) and callable(code):
        try:
            text = f"{getattr(code(), 'name', code())}: {details()}"
        except Exception:  # noqa: BLE001 - fall back to the text
            pass
    line = next((ln.strip() for ln in redact_text(str(text)).splitlines() if ln.strip()), "")
    if len(line) <= limit:
        return line
    cut = line[: limit - 3]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "..."


def require(module: str, extra: str, package: str | None = None) -> ModuleType:
    """Import an optional dependency or explain which extra installs it.

    Args:
        module: The module to import, for example ``"torch"``.
        extra: The ccl-embed extra that provides it, for example ``"train"``; ``"runtime"`` for
            a dependency of ccl-embed itself.
        package: The distribution to pip-install when it differs from the module's name.

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: When the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if extra == "runtime":
            raise MissingDependencyError(
                f"{module!r} is not installed, though ccl-embed needs it: pip install {package or module}"
            ) from e
        pin = f"{TORCH_PIN} " if module.split(".")[0] == "torch" else ""  # a bare torch requirement pulls CUDA
        raise MissingDependencyError(
            f"{module!r} is not installed; it comes with the {extra!r} extra: "
            f"pip install {pin}'ccl-embed[{extra}]'"
        ) from e
