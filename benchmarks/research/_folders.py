"""Public "user folders" for the train-on-your-own-data checks: registry packages that the shipped
model never saw, written the way a user would hand them to ``ccl-embed train``.

Each folder is a ``pairs.jsonl`` (image, text, label; no split, so ``train`` and ``evaluate``
split it by concept) beside its rendered PNGs, plus ``SOURCE.json`` with the package and its
licence. Two kinds:

- ``emoji-monotone``: Emoji One's monochrome emoji (@iconify-json/emojione-monotone, CC-BY-4.0),
  an art style (black line drawings) that no training corpus of ours holds; the text is the
  emoji's name, the label its Iconify category (``Smileys & Emotion`` -> ``smileys-emotion``);
- ``freehand-icons``: Streamline's Freehand Color icons (@iconify-json/streamline-freehand-color,
  CC-BY-4.0), hand-drawn colour icons of office, travel and daily-life concepts; the text is the
  icon's name in words, the label its category.

Neither is Twemoji or Tux Paint (reserved for independent evaluation). Built into
``<cache>/folders/<name>`` on first use.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ccl_embed.data.build import make_image
from ccl_embed.data.corpus import Pair, write_pairs
from ccl_embed.data.fetch import Package, fetch
from ccl_embed.data.sources import ImageJob
from ccl_embed.data.sources.iconify import read_json, read_set
from ccl_embed.data.sources.icons import category_label, icon_text
from ccl_embed.paths import cache_dir

CREDIT = "by Streamline (https://github.com/webalys-hq/streamline-vectors), CC-BY-4.0"
FOLDERS = {
    "emoji-monotone": Package("npm", "@iconify-json/emojione-monotone", "1.2.1", "CC-BY-4.0",
                              "Emoji One monotone by JoyPixels (https://github.com/joypixels/emojione-legacy)",
                              "monochrome emoji with names and categories, SVG"),
    "freehand-icons": Package("npm", "@iconify-json/streamline-freehand-color", "1.2.2", "CC-BY-4.0",
                              f"Freehand Color icons {CREDIT}", "hand-drawn colour icons with names and categories, SVG"),
}
IMAGE_SIZE = 224
_DONE = ".complete"


def folder(name: str, cache: Path | None = None) -> Path:
    """The built folder ``name`` (one of :data:`FOLDERS`), building it first when needed."""
    out = (cache or cache_dir()) / "folders" / name
    if (out / _DONE).exists():
        return out
    pkg = FOLDERS[name]
    source = fetch(pkg, cache)
    categories = read_json(source, "metadata.json").get("categories", {})
    label = {icon: re.sub(r"[^a-z0-9]+", "-", category_label(cat)).strip("-")
             for cat, icons in categories.items() for icon in icons}
    pairs: list[Pair] = []
    for icon, svg in sorted(read_set(source).items()):
        dest = f"images/{icon}.png"
        if make_image(ImageJob("svg_markup", svg, dest), out, IMAGE_SIZE) is None:
            pairs.append(Pair(image=dest, text=icon_text(icon), label=label.get(icon)))
    write_pairs(out, pairs)
    (out / "SOURCE.json").write_text(json.dumps(pkg.to_dict(), indent=2) + "\n")
    (out / _DONE).touch()
    return out
