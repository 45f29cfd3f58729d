"""How the command line prints: terminal-safe text and JSON, one-line errors and warnings, progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

import typer


_BIDI = {0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: object) -> str:
    """``text`` safe for a terminal: control characters (C0, DEL, C1) and the Unicode line
    separators and direction overrides are written as escapes, so no name can split a report
    line, forge one, or drive the terminal."""
    out = []
    for ch in str(text):
        o = ord(ch)
        if o < 32 or 127 <= o < 160 or o in _BIDI:
            out.append(_SHORT.get(ch) or (f"\\x{o:02x}" if o < 256 else f"\\u{o:04x}"))
        else:
            out.append(ch)
    return "".join(out)


def to_json(value: object) -> str:
    """JSON whose strings escape every character :func:`printable` escapes (json leaves DEL, C1
    and the Unicode separators raw when it keeps non-ASCII text readable)."""
    text = json.dumps(value, ensure_ascii=False)
    return "".join(f"\\u{ord(c):04x}" if 127 <= ord(c) < 160 or ord(c) in _BIDI else c for c in text)


def fail(message: str, code: int = 2) -> typer.Exit:
    from ccl_embed.errors import one_line

    typer.echo(f"error: {printable(one_line(message, 400))}", err=True)
    return typer.Exit(code)


def warn(message: str) -> None:
    from ccl_embed.errors import one_line

    typer.echo(f"warning: {printable(one_line(message, 400))}", err=True)


def progress_bar(iterable: Iterable[object], total: int, desc: str) -> Iterable[object]:
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="item", file=sys.stderr)


def peak_memory_gib() -> float | None:
    """This process's peak resident memory in GiB, or None where the platform does not say."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20  # bytes on macOS, KiB on Linux
