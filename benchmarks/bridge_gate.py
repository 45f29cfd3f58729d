"""Which images take the ImageNet bridge: the novelty switch beside the pixel-flatness rule it replaced.

For each validation set, the share of images that each switch sends over the bridge (switch
value above one half):

- the 80 photographs of ``photos-val``, as they are;
- the same photographs as **cut-outs**: an ellipse of the photograph (its centre, 70% of each
  side) pasted on a white canvas, the way product shots and stickers look;
- the same photographs **smoothed** (Gaussian blur, radius 2 px at 224 px), like studio shots
  and soft-focus pictures;
- the drawings of ``val``, ``style-val`` and ``style-val-3d`` (they should stay off the bridge).

The novelty switch is the model's (``Novelty`` and ``photo_novelty`` of the release config's
``semantic`` section), fitted on the model's training images. The flatness rule is the one
shipped before it: flatness below 0.4. Only validation sets are read. Writes
``benchmarks/results/bridge_gate.json``.

    python benchmarks/bridge_gate.py [--model DIR] [--corpus DIR] [--photos DIR]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import semantic_choice, versions, with_novelty, write_result  # noqa: E402

from ccl_embed.data.corpus import read_corpus  # noqa: E402
from ccl_embed.model.folder import load_model  # noqa: E402
from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.runtime.images import load_image  # noqa: E402
from ccl_embed.train.pipeline import open_workbench  # noqa: E402
from ccl_embed.train.towers import EfficientNetTower  # noqa: E402

OLD_FLATNESS = 0.4
"""The flatness below which the replaced rule routed an image as a photograph (its last tuned value)."""


def cut_out(img: Image.Image) -> Image.Image:
    """The photograph's central ellipse (70% of each side) on white, at the photograph's size."""
    w, h = img.size
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse((0.15 * w, 0.15 * h, 0.85 * w, 0.85 * h), fill=255)
    out = Image.new("RGB", (w, h), "white")
    out.paste(img, mask=mask)
    return out


def smoothed(img: Image.Image) -> Image.Image:
    """The photograph blurred as if 2 px at 224 px were out of focus."""
    return img.filter(ImageFilter.GaussianBlur(radius=2 * max(img.size) / 224))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=cache_dir() / "models" / "protocol-v2")
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus-v2-aug")
    parser.add_argument("--photos", type=Path, default=cache_dir() / "photos-v2")
    args = parser.parse_args()
    bench = open_workbench(args.corpus)
    model = with_novelty(load_model(args.model), bench)
    model.config = replace(model.config, **semantic_choice())

    def switch(pool: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model.photo_gates(torch.from_numpy(np.ascontiguousarray(pool, dtype=np.float32)))[0].numpy().ravel()

    def row(pool: np.ndarray, flat: np.ndarray) -> dict[str, float]:
        return {"n": int(len(pool)), "novelty_switch": round(float((switch(pool) > 0.5).mean()), 4),
                "flatness_rule": round(float((flat < OLD_FLATNESS).mean()), 4)}

    tower = EfficientNetTower()
    photos = read_corpus(args.photos).split("photos-val")
    originals = [load_image(photos.image_path(p)) for p in photos.pairs]
    rows = {}
    for name, change in (("photos-val", None), ("photos-val cut-outs", cut_out), ("photos-val smoothed", smoothed)):
        images = originals if change is None else [change(im) for im in originals]
        feats = [tower.encode(images[i:i + 16]) for i in range(0, len(images), 16)]
        rows[name] = row(np.concatenate([f["pool"] for f in feats]), np.concatenate([f["flatness"] for f in feats]))
    for split in ("val", "style-val", "style-val-3d"):
        fs = bench.split(split)
        rows[split] = row(fs.image["pool"], fs.image["flatness"])
    for name, r in rows.items():
        print(f"{name:22s} n={r['n']:5d}  novelty switch {r['novelty_switch']:.3f}  flatness rule {r['flatness_rule']:.3f}")
    write_result("bridge_gate", {
        "versions": versions("ccl-embed", "torch", "onnxruntime", "numpy", "pillow"), "model": str(args.model),
        "switch": {"photo_novelty": model.config.photo_novelty, "photo_gate_width": model.config.photo_gate_width,
                   "rule": "sigmoid((novelty - photo_novelty) / photo_gate_width) > 0.5"},
        "replaced_rule": f"flatness < {OLD_FLATNESS}",
        "share_over_the_bridge": rows,
    })


if __name__ == "__main__":
    main()
