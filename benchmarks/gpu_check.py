"""GPU check for a lent device machine: is CUDA really active, do its vectors match the CPU's, how fast.

Run by ``benchmarks/gpu_check.sh``; writes ``$OUT/gpu_check.json`` (copy it to
``benchmarks/results/``), also when CUDA is not active, so that a failed check keeps what it
found (the onnxruntime build, its providers, the GPU). Exits non-zero when CUDA is not the
provider in use.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine, versions  # noqa: E402

from ccl_embed.runtime.embedder import Embedder, vectors_or_raise  # noqa: E402


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


def measure(record: dict[str, object]) -> None:
    """Parity with the CPU and batch-256 rates on CUDA, into ``record``."""
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)) for _ in range(256)]
    texts = [f"a photo of item {i}, red and round" for i in range(256)]
    cpu, gpu = Embedder("default", device="cpu"), Embedder("default", device="cuda")
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


def main() -> None:
    import onnxruntime as ort

    record: dict[str, object] = {
        "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(), "machine": machine(), "gpu": gpu_name(),
        "versions": versions("onnxruntime", "onnxruntime-gpu", "numpy"),
        "onnxruntime_providers": ort.get_available_providers(),
    }
    record["device_reported"] = Embedder("default", device="cuda").device
    if record["device_reported"] == "cuda":
        measure(record)
    out = Path(os.environ.get("OUT", "."))
    (out / "gpu_check.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    if record["device_reported"] != "cuda":
        sys.exit("CUDA is not active in onnxruntime on this machine (see onnxruntime_providers in gpu_check.json)")


if __name__ == "__main__":
    main()
