"""What each image patch scheme costs the runtime, side by side in one run.

Regions are pooled from the backbone's one 7x7 feature map inside the image head, so a scheme
costs no backbone pass; it widens the head's input. For each scheme of
``ccl_embed.runtime.patches.REGION_SCHEMES``, and for no patches (``use_patches`` off), the shipped
model's architecture (its ``config.json``, fresh weights: a forward pass's time depends on the
layers' shapes, not their values) is exported as an fp32 image head and timed with onnxruntime
at batch 64 on random backbone outputs, the schemes interleaved round by round (median of
``--rounds``). The shipped backbone is timed beside them, since an image costs both.
Writes ``benchmarks/results/patch_cost.json``.

    python benchmarks/research/patch_cost.py [--model default] [--rounds 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rules import versions, write_result  # noqa: E402

from ccl_embed.runtime.folder import IMAGE_BACKBONE, resolve_model  # noqa: E402
from ccl_embed.runtime.patches import FEATURE_GRID, REGION_SCHEMES  # noqa: E402
from ccl_embed.runtime.session import make_session  # noqa: E402

BATCH = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from ccl_embed.export.onnx_export import _export, head_modules
    from ccl_embed.model.folder import read_config
    from ccl_embed.model.network import CCL

    torch.set_num_threads(args.threads)
    folder = resolve_model(args.model)
    config, spec, _ = read_config(folder)
    rng = np.random.default_rng(0)
    fmap = rng.random((BATCH, spec.image_dim, FEATURE_GRID, FEATURE_GRID), dtype=np.float32)
    logits = rng.normal(size=(BATCH, spec.classes)).astype(np.float32)
    schemes: dict[str, tuple[int, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("no patches", *REGION_SCHEMES):
            regions = 0 if name == "no patches" else len(REGION_SCHEMES[name])
            cfg = config.replace(use_patches=False) if name == "no patches" else config.replace(image_regions=name)
            model = CCL(cfg, replace(spec, image_patches=max(regions, 1))).eval()
            model.novelty.fitted.fill_(1.0)  # unfitted statistics refuse to run; their values do not change the time
            model.centers.fitted.fill_(1.0)
            head, _ = head_modules(model)
            path = Path(tmp) / f"{name.replace(' ', '-').replace('+', '-')}.onnx"
            _export(head, (torch.from_numpy(fmap[:2]), torch.from_numpy(logits[:2])), path, ["feature_map", "logits"],
                    ["embedding"], {"feature_map": {0: "batch"}, "logits": {0: "batch"}, "embedding": {0: "batch"}})
            schemes[name] = (regions, make_session(path, "cpu", args.threads))
        backbone = make_session(folder / IMAGE_BACKBONE, "cpu", args.threads)
        pixels = rng.random((BATCH, 3, *preprocessed_size(folder)), dtype=np.float32)
        runs: dict[str, Callable[[], Any]] = {
            name: (lambda s=s: s.run(None, {"feature_map": fmap, "logits": logits}))  # type: ignore[misc]
            for name, (_, s) in schemes.items()}
        runs["backbone"] = lambda: backbone.run(None, {"pixels": pixels})
        samples: dict[str, list[float]] = {name: [] for name in runs}
        for fn in runs.values():
            fn()  # warm up
        for _ in range(args.rounds):
            for name, fn in runs.items():
                start = time.perf_counter()
                fn()
                samples[name].append((time.perf_counter() - start) / BATCH * 1000)
    ms = {name: statistics.median(v) for name, v in samples.items()}
    out = {name: {"regions": regions, "head_ms_per_image": round(ms[name], 4),
                  "image_ms_per_image": round(ms[name] + ms["backbone"], 4),
                  "image_rate_over_no_patches": round((ms["no patches"] + ms["backbone"]) / (ms[name] + ms["backbone"]), 4)}
           for name, (regions, _) in schemes.items()}
    for name, r in out.items():
        print(f"{name:16s} {r}")
    print(f"backbone {ms['backbone']:.3f} ms per image")
    write_result("patch_cost", {
        "versions": versions("ccl-embed", "onnxruntime", "torch", "numpy"), "model": str(folder), "threads": args.threads,
        "batch": BATCH, "rounds": args.rounds, "load_average_1min_at_end": round(os.getloadavg()[0], 2), "backbone_ms_per_image": round(ms["backbone"], 4), "schemes": out,
        "note": "fp32 heads of the shipped architecture with fresh weights (the shipped head is int8 and runs one "
                "image at a time); the backbone is the shipped graph",
    })


def preprocessed_size(folder: Path) -> tuple[int, int]:
    """The backbone's input side, from the model folder's manifest."""
    from ccl_embed.runtime.folder import read_runtime

    size = read_runtime(folder).manifest.preprocessing.image_size
    return size, size


if __name__ == "__main__":
    main()
