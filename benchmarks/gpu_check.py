"""GPU check for a lent device machine: is CUDA really active, do its vectors match the CPU's, how fast.

Run by ``benchmarks/gpu_check.sh``; writes ``$OUT/gpu_check.json`` (copy it to
``benchmarks/results/``). Exits non-zero when CUDA is not the provider in use.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ccl_embed.runtime.embedder import Embedder, vectors_or_raise


def main() -> None:
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)) for _ in range(256)]
    texts = [f"a photo of item {i}, red and round" for i in range(256)]
    cpu, gpu = Embedder("default", device="cpu"), Embedder("default", device="cuda")
    record: dict[str, object] = {"device_reported": gpu.device}
    if gpu.device != "cuda":
        print(json.dumps(record))
        sys.exit("CUDA is not active in onnxruntime on this machine")
    vc = vectors_or_raise(cpu.embed_images(images[:32]), "image")
    vg = vectors_or_raise(gpu.embed_images(images[:32]), "image")
    tc = vectors_or_raise(cpu.embed_texts(texts[:32]), "text")
    tg = vectors_or_raise(gpu.embed_texts(texts[:32]), "text")
    record["parity_min_cosine"] = {"images": float((vc * vg).sum(1).min()), "texts": float((tc * tg).sum(1).min())}
    for name, fn in (("images_per_s_b256", lambda: list(gpu.embed_images(images, batch_size=256))),
                     ("texts_per_s_b256", lambda: list(gpu.embed_texts(texts, batch_size=256)))):
        fn()
        start = time.perf_counter()
        fn()
        record[name] = 256 / (time.perf_counter() - start)
    out = Path(os.environ.get("OUT", "."))
    (out / "gpu_check.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
