"""The CUDA form of the shipped graphs, run here on the CPU: how close are its vectors to the CPU's?

    python benchmarks/cuda_form.py [--corpus ~/.cache/ccl-embed/corpus-v3] [--texts 600]

On CUDA the int8 graphs run as :func:`ccl_embed.runtime.graphs.emulated` (fp32 ops that compute
what int8 computes, item by item). Running that same form on the CPU separates what the form
changes from what the GPU's own arithmetic will: the example corpus's pictures and notes, and
``--texts`` distinct captions of the corpus's ``val`` split (when it is built), embedded both ways.
Reported per kind: the minimum, 1st percentile and median cosine, and the share of items whose
vectors agree to 1e-7. Writes ``benchmarks/results/cuda_form.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import versions, write_result  # noqa: E402

import ccl_embed.runtime.session as session  # noqa: E402
from ccl_embed.data.corpus import read_corpus  # noqa: E402
from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.runtime.embedder import Embedder  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "corpus"


def cuda_form_on_cpu() -> Embedder:
    """The shipped model with its int8 graphs in their CUDA form, run by the CPU provider."""
    session.form_for = lambda provider, quantized: "int8-emulated" if quantized else "fp32"
    return Embedder("default", device="cpu")


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    c = (a * b).sum(1)
    return {"n": len(c), "min": round(float(c.min()), 6), "p1": round(float(np.percentile(c, 1)), 6),
            "median": round(float(np.median(c)), 7), "share_equal": round(float((c > 1 - 1e-7).mean()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus-v3")
    parser.add_argument("--texts", type=int, default=600)
    args = parser.parse_args()
    pictures = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".png", ".jpg"))
    notes = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.rglob("*")) if p.suffix in (".txt", ".md")]
    captions = []
    if (args.corpus / "pairs.jsonl").is_file():
        captions = sorted({p.text for p in read_corpus(args.corpus).split("val").pairs})[: args.texts]
    cpu = Embedder("default", device="cpu")
    want = {"pictures": cpu.encode_images(pictures), "notes": cpu.encode_texts(notes)}
    if captions:
        want["captions"] = cpu.encode_texts(captions)
    cuda = cuda_form_on_cpu()
    got = {"pictures": cuda.encode_images(pictures), "notes": cuda.encode_texts(notes)}
    if captions:
        got["captions"] = cuda.encode_texts(captions)
    rows = {k: agreement(want[k], got[k]) for k in want}
    for k, r in rows.items():
        print(k, r, flush=True)
    write_result("cuda_form", {"model": "default", "forms": {k: v.form for k, v in cuda.placement().items()},
                               "captions_from": f"{args.corpus.name}:val" if captions else None, "agreement": rows,
                               "versions": versions("ccl-embed", "onnxruntime", "onnx", "numpy")})


if __name__ == "__main__":
    main()
