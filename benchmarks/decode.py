"""What one core spends per image before the model sees it, by photograph size, and what the
ingest's decode pool gains: `python benchmarks/decode.py` -> benchmarks/results/decode.json.

For JPEGs of 0.25, 3 and 12 megapixels (made here: smooth gradients with noise, so they compress
like photographs), the time to read, hash, decode and reduce one to the model's input
(``Embedder.prepare_image``, as an ingest does), and the time to embed a prepared image alone.
It says where the bottleneck of an ingest moves as photographs grow (docs/distributed.md).

The pool: ``--photos`` 3-megapixel JPEGs in a folder, embedded as the plain ingest embeds them
(``ccl_embed.ingest.pipeline.embed_batches``, batches of 32), with one loading thread and with a
pool of one per core (what an ingest uses), alternated ``--repeats`` times in one run; the
speed-up is the ratio of the medians, and the vectors must be equal.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import versions, write_result  # noqa: E402

from ccl_embed.ingest.pipeline import embed_batches, plan_ingest  # noqa: E402
from ccl_embed.runtime.embedder import Embedder, available_cores  # noqa: E402
from ccl_embed.runtime.images import load_image  # noqa: E402
from ccl_embed.sdk import model_meta  # noqa: E402
from ccl_embed.store.edge import EdgeCollection  # noqa: E402

SIZES = {"0.25 MP": (600, 420), "3 MP": (2000, 1500), "12 MP": (4000, 3000)}


def photo_like(width: int, height: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([np.sin(x / (90 + 40 * c) + seed) * np.cos(y / (70 + 30 * c)) for c in range(3)], axis=-1)
    pixels = (127 + 100 * base + rng.normal(0, 12, size=(height, width, 3))).clip(0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--photos", type=int, default=64)
    args = parser.parse_args()
    embedder = Embedder(args.model, device="cpu", threads=1)
    list(embedder.embed_images([Image.new("RGB", (64, 64))]))  # load the graphs
    rows = {}
    for name, (w, h) in SIZES.items():
        data = photo_like(w, h, seed=w)
        prepare, embed = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            hashlib.sha256(data).hexdigest()
            prepared = embedder.prepare_image(load_image(Path("photo.jpg"), data=data))
            prepare.append(time.perf_counter() - start)
            start = time.perf_counter()
            list(embedder.embed_images([prepared], batch_size=1))
            embed.append(time.perf_counter() - start)
        p, e = statistics.median(prepare), statistics.median(embed)
        rows[name] = {"pixels": w * h, "jpeg_bytes": len(data), "prepare_ms": round(1000 * p, 1),
                      "embed_ms": round(1000 * e, 1), "prepare_share": round(p / (p + e), 3),
                      "images_per_s_per_core": round(1 / (p + e), 1)}
        print(name, rows[name], flush=True)
    pool = pool_scaling(args.model, args.photos, args.repeats)
    print("pool", pool, flush=True)
    write_result("decode", {"model": args.model, "threads": 1, "repeats": args.repeats, "sizes": rows, "pool": pool,
                            "versions": versions("ccl-embed", "onnxruntime", "pillow", "numpy")})


def pool_scaling(model: str, photos: int, repeats: int) -> dict[str, object]:
    """Images/s of embedding a folder of 3 MP photographs as the ingest does, one loading thread
    against one per core, alternated in one run; and whether the vectors are equal."""
    cores = available_cores()
    embedder = Embedder(model, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        w, h = SIZES["3 MP"]
        for i in range(photos):
            (folder / f"{i:04d}.jpg").write_bytes(photo_like(w, h, seed=i))
        coll = EdgeCollection(Path(tmp) / "store", "p", model_meta(embedder.model))
        plan = plan_ingest(folder, coll)
        meta = coll.meta
        seconds: dict[int, list[float]] = {1: [], cores: []}
        vectors: dict[int, list[Any]] = {}
        for _ in range(repeats):
            for workers in seconds:
                start = time.perf_counter()
                out = [pt.vector for _, points, _, _ in embed_batches(plan.batches(32), embedder, meta, plan.key, workers)
                       for pt in points]
                seconds[workers].append(time.perf_counter() - start)
                vectors[workers] = out
        coll.close()
    rates = {w: photos / statistics.median(s) for w, s in seconds.items()}
    return {"photos": photos, "megapixels": round(w * h / 1e6, 1), "cores": cores, "batch_size": 32,
            "images_per_s": {str(k): round(v, 2) for k, v in rates.items()},
            "speedup": round(rates[cores] / rates[1], 3),
            "vectors_equal": bool(np.array_equal(np.array(vectors[1]), np.array(vectors[cores])))}


if __name__ == "__main__":
    main()
