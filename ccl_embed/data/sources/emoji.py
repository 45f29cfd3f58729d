"""Emoji in four art styles, with CLDR names and keywords as text.

Text and categories come from emojibase-data (CLDR annotations: the name, the keywords, the
group and subgroup). Each emoji is one concept; its images in every style share its text. The
label is the CLDR subgroup (about 100 categories such as ``animal-mammal``). Skin-tone variants
and the ``component`` group (bare skin tones, hair styles) are left out. Images:

- ``google``: Noto Color Emoji, 64 px PNG (emoji-datasource-google, Apache-2.0);
- ``openmoji``: OpenMoji colour SVG (openmoji, CC-BY-SA-4.0);
- ``fluent-flat``: Microsoft Fluent Emoji, flat SVG (@iconify-json/fluent-emoji-flat, MIT);
- ``fluent-3d``: Microsoft Fluent Emoji, colour SVG with gradients (@iconify-json/fluent-emoji, MIT).

Twemoji artwork is reserved for independent evaluation and is never read here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ccl_embed.data.corpus import Pair
from ccl_embed.data.fetch import Package
from ccl_embed.data.sources import BuildLog, ImageJob, Source, SourceOptions
from ccl_embed.data.sources.sampling import take

STYLES = ("google", "openmoji", "fluent-flat", "fluent-3d")

PACKAGES = {
    "text": Package("npm", "emojibase-data", "17.0.0", "MIT", "https://github.com/milesj/emojibase (CLDR data: Unicode licence)", "emoji names, keywords, categories"),
    "google": Package("npm", "emoji-datasource-google", "16.0.0", "Apache-2.0", "https://github.com/googlefonts/noto-emoji via iamcal/emoji-data", "Noto emoji images, 64 px PNG"),
    "openmoji": Package("npm", "openmoji", "17.0.0", "CC-BY-SA-4.0", "https://openmoji.org", "OpenMoji emoji images, SVG"),
    "fluent-flat": Package("npm", "@iconify-json/fluent-emoji-flat", "1.2.6", "MIT", "https://github.com/microsoft/fluentui-emoji", "Fluent Emoji flat images, SVG"),
    "fluent-3d": Package("npm", "@iconify-json/fluent-emoji", "1.2.7", "MIT", "https://github.com/microsoft/fluentui-emoji", "Fluent Emoji colour images, SVG"),
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


def _svg(body: str, width: int, height: int) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}">{body}</svg>'


def _iconify(folder: Path, names_to_code: Mapping[str, str]) -> dict[str, str]:
    """hexcode -> SVG markup for the icons of an Iconify JSON set (aliases left out)."""
    data = json.loads((folder / "package" / "icons.json").read_text(encoding="utf-8"))
    w, h = data.get("width", 16), data.get("height", 16)
    out = {}
    for name, icon in data["icons"].items():
        code = names_to_code.get(name)
        if code is not None:
            out[code] = _svg(icon["body"], icon.get("width", w), icon.get("height", h))
    return out


def _images(dirs: Mapping[str, Path], log: BuildLog) -> dict[str, dict[str, tuple[str, str]]]:
    """style -> hexcode -> (job kind, source)."""
    out: dict[str, dict[str, tuple[str, str]]] = {s: {} for s in STYLES}
    google = dirs["google"] / "package"
    for e in json.loads((google / "emoji.json").read_text(encoding="utf-8")):
        path = google / "img" / "google" / "64" / e["image"]
        if e.get("has_img_google") and path.exists():
            out["google"][normalize_hexcode(e["unified"])] = ("raster", str(path))
    for svg in sorted((dirs["openmoji"] / "package" / "color" / "svg").glob("*.svg")):
        out["openmoji"][normalize_hexcode(svg.stem)] = ("svg_file", str(svg))
    chars = json.loads((dirs["fluent-flat"] / "package" / "chars.json").read_text(encoding="utf-8"))
    names_to_code: dict[str, str] = {}
    for code, name in chars.items():
        names_to_code.setdefault(name, normalize_hexcode(code))
    for style in ("fluent-flat", "fluent-3d"):
        for code, markup in _iconify(dirs[style], names_to_code).items():
            out[style][code] = ("svg_markup", markup)
    return out


def build(dirs: Mapping[str, Path], options: SourceOptions, log: BuildLog) -> Iterator[tuple[Pair, ImageJob]]:
    """Pairs (one per emoji and style) and the jobs that make their images."""
    texts = _emojibase(dirs["text"])
    images = _images(dirs, log)
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
    description="emoji in 4 art styles (Noto, OpenMoji, Fluent flat, Fluent colour) with CLDR names and keywords",
    packages=PACKAGES,
    build=build,
)
