"""Named colour icon sets: user-interface and everyday-object icons whose names are their text.

Three Iconify sets, each one art style:

- ``flat-color-icons``: Icons8's Flat Color Icons (@iconify-json/flat-color-icons, MIT);
- ``fluent-color``: Microsoft's Fluent UI System Color Icons (@iconify-json/fluent-color, MIT);
  of an icon drawn at several sizes (``-16`` ... ``-48``) the largest drawing is kept;
- ``streamline-color``: Streamline's Ultimate Color icons (@iconify-json/streamline-ultimate-color,
  CC-BY-4.0, credited in docs/data.md and in every model trained on them).

The text is the icon's name in words (``alarm-bell-ring`` -> ``alarm bell ring``), with a variant
number dropped (``accounting-bill-stack-1``). Icons of one name are one concept, across sets and
variants. Streamline's set files each icon under a category (``FoodDrinks`` -> ``food-drinks``):
that is the concept's label in every set. The other concepts have no label, so they train CCL's
instance level only and count as their own category in evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from ccl_embed.data.corpus import Pair
from ccl_embed.data.fetch import Package
from ccl_embed.data.sources import BuildLog, ImageJob, Source, SourceOptions
from ccl_embed.data.sources.iconify import read_json, read_set
from ccl_embed.data.sources.sampling import take

STYLES = ("flat-color-icons", "fluent-color", "streamline-color")

PACKAGES = {
    "flat-color-icons": Package("npm", "@iconify-json/flat-color-icons", "1.2.3", "MIT", "https://github.com/icons8/flat-Color-icons (Icons8)", "Flat Color Icons, SVG"),
    "fluent-color": Package("npm", "@iconify-json/fluent-color", "1.2.21", "MIT", "https://github.com/microsoft/fluentui-system-icons", "Fluent UI System Color Icons, SVG"),
    "streamline-color": Package("npm", "@iconify-json/streamline-ultimate-color", "1.2.2", "CC-BY-4.0", "Ultimate Color icons by Streamline (https://github.com/webalys-hq/streamline-vectors); attribution in docs/data.md", "Streamline Ultimate Color icons, SVG"),
}

_SIZE = re.compile(r"-(16|20|24|28|32|48)$")
_VARIANT = re.compile(r"(-\d+)+$")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def concept_name(name: str) -> str:
    """The concept of an icon name: its size suffix or variant number dropped."""
    return _VARIANT.sub("", _SIZE.sub("", name)) or name


def icon_text(name: str) -> str:
    """The words of an icon name: ``alarm-bell-ring`` -> ``alarm bell ring``."""
    return concept_name(name).replace("-", " ")


def category_label(category: str) -> str:
    """An Iconify category in kebab case: ``FoodDrinks`` -> ``food-drinks``."""
    return _CAMEL.sub("-", category).lower()


def _largest(icons: Mapping[str, str]) -> dict[str, str]:
    """Of icons drawn at several sizes, the name of the largest drawing per base name."""
    best: dict[str, tuple[int, str]] = {}
    for name in icons:
        m = _SIZE.search(name)
        size = int(m.group(1)) if m else 0
        base = _SIZE.sub("", name)
        if base not in best or size > best[base][0]:
            best[base] = (size, name)
    return {name: icons[name] for _, name in best.values()}


def build(dirs: Mapping[str, Path], options: SourceOptions, log: BuildLog) -> Iterator[tuple[Pair, ImageJob]]:
    """Pairs (one per icon) and the jobs that render them."""
    images: dict[str, list[tuple[str, str, str]]] = {}  # concept -> (style, icon name, markup)
    labels: dict[str, str] = {}
    for style in STYLES:
        if style not in dirs or not dirs[style].is_dir():
            continue
        icons = read_set(dirs[style])
        if style == "fluent-color":
            icons = _largest(icons)
        for category, names in read_json(dirs[style], "metadata.json").get("categories", {}).items():
            for name in names:
                labels.setdefault(concept_name(name), category_label(category))
        for name, markup in sorted(icons.items()):
            images.setdefault(concept_name(name), []).append((style, name, markup))
    by_label: dict[str, list[str]] = {}
    for concept in images:
        # unlabelled concepts are not capped together: each is a group of its own
        by_label.setdefault(labels.get(concept, "\x00" + concept), []).append(concept)
    chosen = take(by_label, options)
    for concept in sorted(chosen):
        text = icon_text(concept)
        if not text.strip():
            log.skip("icon name has no words")
            continue
        for style, name, markup in images[concept]:
            dest = f"images/icons/{style}/{name}.png"
            yield (Pair(image=dest, text=text, label=labels.get(concept), concept=f"icons:{concept}", style=style),
                   ImageJob("svg_markup", markup, dest))


ICONS = Source(
    name="icons",
    description="named colour icons in 3 styles (Icons8 Flat Color, Fluent UI System Color, Streamline Ultimate Color)",
    packages=PACKAGES,
    build=build,
)
