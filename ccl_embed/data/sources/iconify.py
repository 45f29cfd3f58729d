"""Reading Iconify JSON icon sets (npm ``@iconify-json/*``): one SVG per icon name.

An Iconify set is ``package/icons.json``: a default ``width`` and ``height`` and, per icon name, a
``body`` (the SVG content) with optional own sizes. Aliases are not read: they repeat artwork.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def svg_markup(body: str, width: int, height: int) -> str:
    """A standalone SVG document of an icon body."""
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}">{body}</svg>'


def read_set(folder: Path) -> dict[str, str]:
    """Icon name -> SVG markup for every icon of the set unpacked in ``folder``."""
    data = json.loads((folder / "package" / "icons.json").read_text(encoding="utf-8"))
    w, h = data.get("width", 16), data.get("height", 16)
    return {name: svg_markup(icon["body"], icon.get("width", w), icon.get("height", h))
            for name, icon in data["icons"].items()}


def read_json(folder: Path, name: str) -> dict[str, Any]:
    """One of the set's JSON side files (``chars.json``, ``metadata.json``), ``{}`` when absent."""
    path = folder / "package" / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
