"""Emoji in ten art styles, with CLDR names and keywords as text.

Text and categories come from emojibase-data (CLDR annotations: the name, the keywords, the
group and subgroup). Each emoji is one concept; its images in every style share its text. The
label is the CLDR subgroup (about 100 categories such as ``animal-mammal``). Skin-tone variants
and the ``component`` group (bare skin tones, hair styles) are left out. Images:

- ``google``: Noto Color Emoji, 64 px PNG (emoji-datasource-google, Apache-2.0);
- ``openmoji``: OpenMoji colour SVG (openmoji, CC-BY-SA-4.0);
- ``fluent-flat``: Microsoft Fluent Emoji, flat SVG (@iconify-json/fluent-emoji-flat, MIT);
- ``fluent-3d``: Microsoft Fluent Emoji, colour SVG with gradients (@iconify-json/fluent-emoji, MIT);
- ``fluent-render``: Microsoft Fluent Emoji 3D renders with light and shading, 256 px WebP
  (@lobehub/fluent-emoji-3d, MIT): the most photo-like drawings available;
- ``fluent-contrast``: Microsoft Fluent Emoji, high-contrast monochrome SVG
  (@iconify-json/fluent-emoji-high-contrast, MIT);
- ``noto-v1``: the first Noto emoji design ("blobs"), SVG (@iconify-json/noto-v1, Apache-2.0);
- ``emojione``: Emoji One 2.x (as kept by Emoji Two), SVG (@iconify-json/emojione, CC-BY-4.0);
- ``fxemoji``: Firefox OS emoji, SVG (@iconify-json/fxemoji, Apache-2.0);
- ``streamline``: Streamline Emojis, SVG (@iconify-json/streamline-emojis, CC-BY-4.0).

Iconify sets without a code-point table are matched to emoji by name: the Fluent names and the
CLDR names written in kebab case (``A button (blood type)`` -> ``a-button-blood-type``); icons
with another name are left out. The current Noto design ships as ``google`` only (its Iconify
copy, @iconify-json/noto, is the same artwork and would leak the held-out style).

Twemoji artwork is reserved for independent evaluation and is never read here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ccl_embed.data.corpus import Pair
from ccl_embed.data.fetch import Package
from ccl_embed.data.sources import BuildLog, ImageJob, Source, SourceOptions
from ccl_embed.data.sources.iconify import read_json, read_set
from ccl_embed.data.sources.sampling import take

ICONIFY_STYLES = ("fluent-flat", "fluent-3d", "fluent-contrast", "noto-v1", "emojione", "fxemoji", "streamline")
STYLES = ("google", "openmoji", "fluent-render", *ICONIFY_STYLES)

PACKAGES = {
    "text": Package("npm", "emojibase-data", "17.0.0", "MIT", "https://github.com/milesj/emojibase (CLDR data: Unicode licence)", "emoji names, keywords, categories"),
    "google": Package("npm", "emoji-datasource-google", "16.0.0", "Apache-2.0", "https://github.com/googlefonts/noto-emoji via iamcal/emoji-data", "Noto emoji images, 64 px PNG"),
    "openmoji": Package("npm", "openmoji", "17.0.0", "CC-BY-SA-4.0", "https://openmoji.org", "OpenMoji emoji images, SVG"),
    "fluent-flat": Package("npm", "@iconify-json/fluent-emoji-flat", "1.2.6", "MIT", "https://github.com/microsoft/fluentui-emoji", "Fluent Emoji flat images, SVG"),
    "fluent-3d": Package("npm", "@iconify-json/fluent-emoji", "1.2.7", "MIT", "https://github.com/microsoft/fluentui-emoji", "Fluent Emoji colour images, SVG"),
    "fluent-render": Package("npm", "@lobehub/fluent-emoji-3d", "1.1.0", "MIT", "https://github.com/lobehub/fluent-emoji (Microsoft Fluent Emoji 3D)", "Fluent Emoji 3D renders, 256 px WebP"),
    "fluent-contrast": Package("npm", "@iconify-json/fluent-emoji-high-contrast", "1.2.6", "MIT", "https://github.com/microsoft/fluentui-emoji", "Fluent Emoji high-contrast images, SVG"),
    "noto-v1": Package("npm", "@iconify-json/noto-v1", "1.2.5", "Apache-2.0", "https://github.com/googlefonts/noto-emoji (the first design)", "Noto v1 emoji images, SVG"),
    "emojione": Package("npm", "@iconify-json/emojione", "1.2.3", "CC-BY-4.0", "Emoji One 2.x art, as kept by Emoji Two (https://github.com/EmojiTwo/emojitwo); attribution in docs/data.md", "Emoji One images, SVG"),
    "fxemoji": Package("npm", "@iconify-json/fxemoji", "1.2.2", "Apache-2.0", "https://github.com/mozilla/fxemoji", "Firefox OS emoji images, SVG"),
    "streamline": Package("npm", "@iconify-json/streamline-emojis", "1.2.4", "CC-BY-4.0", "Streamline Emojis by Streamline (https://github.com/webalys-hq/streamline-vectors); attribution in docs/data.md", "Streamline emoji images, SVG"),
}


def normalize_hexcode(code: str) -> str:
    """Canonical code-point sequence: upper case, dash-separated, variation selector FE0F dropped."""
    parts = [p.upper().lstrip("0") or "0" for p in code.replace("_", "-").split("-")]
    return "-".join(p.zfill(4) for p in parts if p != "FE0F")


def emoji_text(entry: Mapping[str, Any]) -> str:
    """The text of an emoji: its CLDR name, then its keywords."""
    label = str(entry["label"])
    tags = [str(t) for t in entry.get("tags") or [] if str(t).lower() != label.lower()]
    return f"{label}. {', '.join(tags)}" if tags else label


def _emojibase(folder: Path) -> dict[str, tuple[str, str]]:
    """hexcode -> (text, subgroup) for every emoji with a group, components excluded."""
    data = json.loads((folder / "package" / "en" / "data.json").read_text(encoding="utf-8"))
    meta = json.loads((folder / "package" / "meta" / "groups.json").read_text(encoding="utf-8"))
    groups, subgroups = meta["groups"], meta["subgroups"]
    out = {}
    for entry in data:
        if "group" not in entry or groups[str(entry["group"])] == "component":
            continue
        out[normalize_hexcode(entry["hexcode"])] = (emoji_text(entry), subgroups[str(entry["subgroup"])])
    return out


def _iconify(folder: Path, names_to_code: Mapping[str, str], log: BuildLog | None = None,
             style: str = "") -> dict[str, str]:
    """hexcode -> SVG markup for the icons of an Iconify JSON set; icons whose name matches no
    emoji are counted in ``log``."""
    by_name = dict(names_to_code)
    # the set's own code-point table, where it has one
    by_name.update({name: normalize_hexcode(code) for code, name in read_json(folder, "chars.json").items()})
    out = {}
    for name, markup in read_set(folder).items():
        code = by_name.get(name)
        if code is not None:
            out[code] = markup
        elif log is not None:
            log.skip(f"{style}: icon name matches no emoji")
    return out


_KEBAB = re.compile(r"[^a-z0-9]+")


def kebab(name: str) -> str:
    """An Iconify-style icon name of a CLDR name: lower case, words joined by dashes."""
    return _KEBAB.sub("-", name.lower().replace("’", "").replace("'", "")).strip("-")


def _names_to_code(dirs: Mapping[str, Path], texts: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """Icon name -> hexcode: the Fluent code-point table first, then the CLDR names in kebab case."""
    chars = json.loads((dirs["fluent-flat"] / "package" / "chars.json").read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for code, name in chars.items():
        out.setdefault(name, normalize_hexcode(code))
    for code, (text, _) in texts.items():
        out.setdefault(kebab(text.split(". ", 1)[0]), code)
    return out


def _fetched(dirs: Mapping[str, Path], style: str) -> bool:
    """Whether a style's package folder is there (a builder given fewer packages skips the others)."""
    return style in dirs and dirs[style].is_dir()


def _images(dirs: Mapping[str, Path], texts: Mapping[str, tuple[str, str]], log: BuildLog) -> dict[str, dict[str, tuple[str, str]]]:
    """style -> hexcode -> (job kind, source), for the styles whose packages were fetched."""
    out: dict[str, dict[str, tuple[str, str]]] = {s: {} for s in STYLES}
    google = dirs["google"] / "package"
    for e in json.loads((google / "emoji.json").read_text(encoding="utf-8")):
        path = google / "img" / "google" / "64" / e["image"]
        if e.get("has_img_google") and path.exists():
            out["google"][normalize_hexcode(e["unified"])] = ("raster", str(path))
    for svg in sorted((dirs["openmoji"] / "package" / "color" / "svg").glob("*.svg")):
        out["openmoji"][normalize_hexcode(svg.stem)] = ("svg_file", str(svg))
    if _fetched(dirs, "fluent-render"):
        for webp in sorted((dirs["fluent-render"] / "package" / "assets").glob("*.webp")):
            out["fluent-render"][normalize_hexcode(webp.stem)] = ("raster", str(webp))
    names_to_code = _names_to_code(dirs, texts)
    for style in ICONIFY_STYLES:
        if _fetched(dirs, style):
            for code, markup in _iconify(dirs[style], names_to_code, log, style).items():
                out[style][code] = ("svg_markup", markup)
    return out


def build(dirs: Mapping[str, Path], options: SourceOptions, log: BuildLog) -> Iterator[tuple[Pair, ImageJob]]:
    """Pairs (one per emoji and style) and the jobs that make their images."""
    texts = _emojibase(dirs["text"])
    images = _images(dirs, texts, log)
    by_label: dict[str, list[str]] = {}
    for code, (_, label) in texts.items():
        by_label.setdefault(label, []).append(code)
    chosen = take(by_label, options)
    for code in sorted(chosen):
        text, label = texts[code]
        styles = [s for s in STYLES if code in images[s]]
        if not styles:
            log.skip("no image in any style")
            continue
        for style in styles:
            kind, source = images[style][code]
            dest = f"images/emoji/{style}/{code}.png"
            yield Pair(image=dest, text=text, label=label, concept=f"emoji:{code}", style=style), ImageJob(kind, source, dest)


EMOJI = Source(
    name="emoji",
    description="emoji in 10 art styles (Noto, OpenMoji, Fluent flat, colour, 3D render and high contrast, Noto v1, "
                "Emoji One, Firefox OS, Streamline) with CLDR names and keywords",
    packages=PACKAGES,
    build=build,
)
