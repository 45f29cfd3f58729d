"""Style augmentation of a corpus's training images, for transfer to art styles never seen in training.

The frozen image tower sees each training image once, so CCL learns the training styles' look
along with their meaning. Augmented copies (same text, label and concept, another look) teach it
what does not change with style. The transformations are generic, in the spirit of domain
generalisation work, and are not modelled on any held-out style:

- ``colour``: hue rotation, saturation, brightness and contrast jitter;
- ``grey``: greyscale;
- ``flat``: smoothed and posterised to a few flat colours;
- ``sketch``: the image's edges as dark lines, over a faded copy of it or on white;
- every copy also gets a random scale, offset, small rotation and mirror.

``augment_corpus`` writes a new corpus folder: the original ``pairs.jsonl`` lines plus one line
per augmented copy (split ``train``, style ``aug-<kind>``); the original images are linked, not
copied. Validation and test splits are untouched, so scores stay comparable.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import cast

import numpy as np
from PIL import Image, ImageChops, ImageEnhance, ImageFilter, ImageOps

from ccl_embed.data.corpus import PAIRS_FILE, Pair, read_corpus, write_pairs
from ccl_embed.runtime.images import load_image
from ccl_embed.errors import CorpusError

KINDS = ("colour", "grey", "flat", "sketch")
AUG_DIR = "augmented"


def _geometry(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    side = max(img.size)
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    canvas.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    scale = rng.uniform(0.7, 1.0)
    small = canvas.resize((max(1, int(side * scale)),) * 2, Image.Resampling.BICUBIC)
    small = small.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
    if rng.random() < 0.5:
        small = ImageOps.mirror(small)
    out = Image.new("RGB", (side, side), (255, 255, 255))
    room = side - small.width
    out.paste(small, (int(rng.integers(0, room + 1)), int(rng.integers(0, room + 1))))
    return out


def _colour(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    hsv = np.asarray(img.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int32) + int(rng.integers(0, 256))) % 256
    out = Image.fromarray(hsv, mode="HSV").convert("RGB")
    out = ImageEnhance.Color(out).enhance(float(rng.uniform(0.3, 1.5)))
    out = ImageEnhance.Brightness(out).enhance(float(rng.uniform(0.8, 1.2)))
    return ImageEnhance.Contrast(out).enhance(float(rng.uniform(0.7, 1.3)))


def _flat(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    smooth = img.filter(ImageFilter.ModeFilter(int(rng.choice([3, 5]))))
    return smooth.quantize(colors=int(rng.integers(4, 9))).convert("RGB")


def _sketch(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    grey = img.convert("L").filter(ImageFilter.SMOOTH)
    edges = grey.filter(ImageFilter.FIND_EDGES).point(lambda v: 255 if v > 24 else 0)
    edges = ImageOps.expand(ImageOps.crop(edges, 2), 2, fill=0)  # the filter marks the image border
    edges = edges.filter(ImageFilter.MaxFilter(int(rng.choice([3, 5]))))
    lines = ImageOps.invert(edges).convert("RGB")
    if rng.random() < 0.5:
        return lines
    faded = Image.blend(img, Image.new("RGB", img.size, (255, 255, 255)), float(rng.uniform(0.3, 0.7)))
    return ImageChops.multiply(faded, lines)


def augment_image(img: Image.Image, kind: str, rng: np.random.Generator) -> Image.Image:
    """One augmented copy of an RGB image (see the module docs for the kinds)."""
    if kind not in KINDS:
        raise ValueError(f"augmentation {kind!r}: choose from {', '.join(KINDS)}")
    out = _geometry(img, rng)
    if kind == "colour":
        return _colour(out, rng)
    if kind == "grey":
        return ImageOps.grayscale(out).convert("RGB")
    if kind == "flat":
        return _flat(out, rng)
    return _sketch(out, rng)


def _seed(seed: int, rel: str, copy: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{rel}:{copy}".encode()).digest()[:8], "little")


def augment_corpus(src: str | os.PathLike[str], out: str | os.PathLike[str], *, copies: int = 2,
                   kinds: tuple[str, ...] = KINDS, seed: int = 0, size: int = 256,
                   progress: Callable[[Iterable[object], int, str], Iterable[object]] | None = None) -> tuple[int, int]:
    """Write ``out``: the corpus at ``src`` plus ``copies`` augmented copies of each training image.

    Args:
        progress: Wraps the loop over the training pairs, e.g. a tqdm factory ``(iterable, total, desc)``.

    Returns:
        (original pairs, augmented pairs written).

    Raises:
        CorpusError: When ``src`` is not a corpus with a train split, or ``out`` is ``src``.
    """
    src, out = Path(src).resolve(), Path(out).resolve()
    if src == out:
        raise CorpusError(f"{out}: write the augmented corpus to another folder than its source")
    corpus = read_corpus(src)
    train = [p for p in corpus.pairs if p.split == "train"]
    if not train:
        raise CorpusError(f"{src / PAIRS_FILE}: no pair in split 'train' to augment")
    out.mkdir(parents=True, exist_ok=True)
    for top in {Path(p.image).parts[0] for p in corpus.pairs}:
        link = out / top
        if top == AUG_DIR:
            raise CorpusError(f"{src}: a top-level folder is named {AUG_DIR!r}; rename it to augment this corpus")
        if not link.exists():
            os.symlink(src / top, link, target_is_directory=(src / top).is_dir())
    for name in ("SOURCES.json",):
        if (src / name).is_file():
            shutil.copyfile(src / name, out / name)
    new: list[Pair] = []
    done: dict[str, list[str]] = {}
    items: Iterable[object] = progress(train, len(train), "augmenting images") if progress else train
    for pair in (cast(Pair, p) for p in items):
        if pair.image not in done:
            img = load_image(src / pair.image)
            img.thumbnail((size, size))
            rels = []
            for c in range(copies):
                rng = np.random.default_rng(_seed(seed, pair.image, c))
                kind = kinds[int(rng.integers(0, len(kinds)))]
                rel = f"{AUG_DIR}/{Path(pair.image).with_suffix('').as_posix().replace('/', '__')}.{c}.{kind}.png"
                path = out / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.is_file():
                    augment_image(img, kind, rng).save(path)
                rels.append(rel)
            done[pair.image] = rels
        for rel in done[pair.image]:
            new.append(replace(pair, image=rel, style=f"aug-{rel.rsplit('.', 2)[1]}", line=0))
    write_pairs(out, list(corpus.pairs) + new)
    return len(corpus.pairs), len(new)
