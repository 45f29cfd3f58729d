"""Could pixel texture send cut-out photographs over the ImageNet bridge? A measurement, not a model.

The novelty switch misses photographs cut out onto white (``results/bridge_gate.json``): their
backbone features look like a drawing's. This script asks whether a pixel measure of the
foreground would tell them apart, before any model reads one. The measure, **fine texture**:
over horizontally neighbouring pixel pairs of the foreground (pixels further than 24 levels from
the border's median colour), the share whose largest channel step is between 1 and 12 levels.
Sensor noise and fine detail give many such steps; flat fills give none, and edges give large ones.

It is read on the validation sets only: the 80 photographs of ``photos-val`` as they are, as
cut-outs and smoothed (``bridge_gate.py``'s changes), and 300 drawings drawn at random (seed 0)
from each of ``val``, ``style-val`` and ``style-val-3d``. A useful measure puts the photographs'
sets above a threshold and the drawings below it. Writes ``benchmarks/results/cutout_texture.json``.

    python benchmarks/cutout_texture.py [--corpus DIR] [--photos DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import versions, write_result  # noqa: E402
from bridge_gate import cut_out, smoothed  # noqa: E402

from ccl_embed.data.corpus import read_corpus  # noqa: E402
from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.runtime.images import IMAGE_SIZE, load_image  # noqa: E402

BACKGROUND_LEVELS = 24
"""A pixel is foreground when one channel is further than this from the border's median colour."""
FINE_STEP = 12
"""The largest channel step between neighbours that counts as fine texture (0 does not)."""
THRESHOLDS = (0.3, 0.4, 0.5)


def fine_texture(img: Image.Image, size: int = IMAGE_SIZE) -> float:
    """The share of the foreground's neighbouring pixel pairs with a fine step (see the module);
    0 when fewer than 50 pairs are foreground."""
    scale = min(1.0, size / max(img.size))
    w, h = max(2, round(img.width * scale)), max(2, round(img.height * scale))
    rgb = img.convert("RGB")
    arr = np.asarray(rgb.resize((w, h), Image.Resampling.NEAREST) if (w, h) != rgb.size else rgb).astype(np.int16)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    foreground = np.abs(arr - np.median(border, axis=0)).max(axis=-1) > BACKGROUND_LEVELS
    pairs = foreground[:, 1:] & foreground[:, :-1]
    if pairs.sum() < 50:
        return 0.0
    step = np.abs(arr[:, 1:] - arr[:, :-1]).max(axis=-1)[pairs]
    return float(((step > 0) & (step <= FINE_STEP)).mean())


def summary(values: np.ndarray) -> dict[str, float]:
    out = {"n": int(len(values)), **{f"p{q}": round(float(np.percentile(values, q)), 4) for q in (5, 50, 95)}}
    return out | {f"share_above_{t}": round(float((values > t).mean()), 4) for t in THRESHOLDS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus-v3")
    parser.add_argument("--photos", type=Path, default=cache_dir() / "photos-v2")
    parser.add_argument("--drawings", type=int, default=300, help="Drawings drawn from each validation split.")
    args = parser.parse_args()
    photos = read_corpus(args.photos).split("photos-val")
    originals = [load_image(photos.image_path(p)) for p in photos.pairs]
    sets = {"photos-val": originals, "photos-val cut-outs": [cut_out(im) for im in originals],
            "photos-val smoothed": [smoothed(im) for im in originals]}
    corpus = read_corpus(args.corpus)
    rng = np.random.default_rng(0)
    for split in ("val", "style-val", "style-val-3d"):
        rows = corpus.split(split).pairs
        picked = rng.choice(len(rows), min(args.drawings, len(rows)), replace=False)
        sets[split] = [load_image(corpus.image_path(rows[i])) for i in sorted(picked)]
    results = {name: summary(np.array([fine_texture(im) for im in images])) for name, images in sets.items()}
    for name, r in results.items():
        print(f"{name:20s} " + "  ".join(f"{k} {v}" for k, v in r.items()))
    write_result("cutout_texture", {
        "versions": versions("ccl-embed", "numpy", "pillow"),
        "measure": {"background_levels": BACKGROUND_LEVELS, "fine_step": FINE_STEP, "size": IMAGE_SIZE},
        "fine_texture": results,
    })


if __name__ == "__main__":
    main()
