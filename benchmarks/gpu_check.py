"""GPU check for a lent device machine: is CUDA really active, where do the graphs' nodes run, do
its vectors match the CPU's, how fast beside the CPU, and an ingest of generated photographs.

Run by ``benchmarks/device_parts.py check`` there (which installs onnxruntime-gpu first); writes
``$OUT/gpu_check.json`` (copy it to ``benchmarks/results/``), also when CUDA is not active, so
that a failed check keeps what it found (the onnxruntime build, its providers, the GPU). Exits
non-zero when CUDA is not the provider in use.

- ``placement``: each graph's form and where its nodes ran (``Embedder.placement``);
- ``parity_min_cosine``: GPU against CPU vectors of the example corpus's pictures and notes and of
  generated photographs and captions;
- ``rates``: images/s and texts/s at batch 64 and 256, on the GPU and on this machine's CPU, side
  by side in one run (the median of ``--repeats``);
- ``ingest``: ``--photos`` generated 0.5 MP JPEGs ingested on CUDA into an embedded store with
  the decode pool (one thread per core), items/s;
- ``fine_tune``: not run: ``ccl-embed train`` trains with PyTorch on the CPU and has no device option.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine, versions  # noqa: E402
from decode import photo_like  # noqa: E402

from ccl_embed.runtime.embedder import Embedder, available_cores  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "corpus"


def gpu_name() -> str | None:
    """The GPU nvidia-smi reports, or None where there is none (or no nvidia-smi)."""
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def preload_cuda() -> str:
    """Load the CUDA and cuDNN libraries onnxruntime's CUDA provider links (the machine's PyTorch
    carries them); what did it."""
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):
        ort.preload_dlls()
        return "onnxruntime.preload_dlls()"
    import torch  # noqa: F401  (its import loads the libraries)

    return "import torch"


def inputs(photos: int) -> tuple[list[Any], list[str]]:
    """Pictures (the example corpus's and generated photographs) and texts (its notes and captions)."""
    pictures: list[Any] = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".png", ".jpg"))
    pictures += [Image.open(io.BytesIO(photo_like(640, 480, seed=i))) for i in range(photos)]
    texts = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.rglob("*")) if p.suffix in (".txt", ".md")]
    texts += [f"a photograph of {a} {b} on a {c}" for a in ("a red", "two grey", "an old") for b in
              ("bicycle", "cats", "boat", "house") for c in ("street", "beach", "hill", "table")]
    return pictures, texts


def rates(emb: Embedder, pictures: list[Any], texts: list[str], repeats: int) -> dict[str, float]:
    out = {}
    for batch in (64, 256):
        images = [pictures[i % len(pictures)] for i in range(batch)]
        prepared = [emb.prepare_image(im) for im in images]  # the model's speed, not the decoder's
        words = [f"{texts[i % len(texts)]} #{i}" for i in range(batch)]
        for name, run, n in ((f"images_per_s_b{batch}", lambda: emb.encode_images(prepared, batch_size=batch), batch),
                             (f"texts_per_s_b{batch}", lambda: emb.encode_texts(words, batch_size=batch), batch)):
            run()
            seconds = []
            for _ in range(repeats):
                emb.clear_cache()
                start = time.perf_counter()
                run()
                seconds.append(time.perf_counter() - start)
            out[name] = round(n / statistics.median(seconds), 1)
    return out


def ingest_photos(count: int) -> dict[str, Any]:
    """Generated photographs ingested on CUDA into an embedded store, with the decode pool."""
    import ccl_embed

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()

        def write(i: int) -> None:
            (folder / f"{i:05d}.jpg").write_bytes(photo_like(800, 600, seed=i))

        with ThreadPoolExecutor(available_cores()) as pool:
            list(pool.map(write, range(count)))
        with ccl_embed.open("photos", store=Path(tmp) / "store", device="cuda") as index:
            start = time.perf_counter()
            summary = index.ingest(folder)
            seconds = time.perf_counter() - start
    return {"photos": count, "megapixels": 0.48, "added": summary.added, "seconds": round(seconds, 1),
            "items_per_s": round(summary.added / seconds, 1), "decode_threads": available_cores()}


def measure(record: dict[str, Any], photos: int, repeats: int) -> None:
    pictures, texts = inputs(48)
    gpu, cpu = Embedder("default", device="cuda"), Embedder("default", device="cpu")
    record["placement"] = {k: v.to_dict() for k, v in gpu.placement().items()}
    vi, ci = gpu.encode_images(pictures), cpu.encode_images(pictures)
    vt, ct = gpu.encode_texts(texts), cpu.encode_texts(texts)
    record["parity_min_cosine"] = {"images": float((vi * ci).sum(1).min()), "texts": float((vt * ct).sum(1).min()),
                                   "n_images": len(pictures), "n_texts": len(texts)}
    record["rates"] = {"cuda": rates(gpu, pictures, texts, repeats), "cpu": rates(cpu, pictures, texts, repeats),
                       "cpu_cores": available_cores()}
    record["ingest"] = ingest_photos(photos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import onnxruntime as ort

    record: dict[str, Any] = {
        "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(), "machine": machine(), "gpu": gpu_name(),
        "versions": versions("ccl-embed", "onnxruntime", "onnxruntime-gpu", "onnx", "numpy"),
        "onnxruntime_providers": ort.get_available_providers(),
        "fine_tune": "not run: ccl-embed train trains with PyTorch on the CPU and has no device option",
    }
    try:
        record["cuda_libraries"] = preload_cuda()
    except Exception as e:  # noqa: BLE001 - recorded: the check goes on to say what runs
        record["cuda_libraries"] = f"not preloaded: {type(e).__name__}: {e}"
    record["device_reported"] = Embedder("default", device="cuda").device
    if record["device_reported"] == "cuda":
        measure(record, args.photos, args.repeats)
    out = Path(os.environ.get("OUT", "."))
    (out / "gpu_check.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    if record["device_reported"] != "cuda":
        sys.exit("CUDA is not active in onnxruntime on this machine (see onnxruntime_providers in gpu_check.json)")


if __name__ == "__main__":
    main()
