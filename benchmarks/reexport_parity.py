"""Does today's code still make the shipped vectors? Re-export the shipped release and compare.

    python benchmarks/reexport_parity.py [--model ccl_embed/models/default] [--corpus DIR] [--sample 300]

Reads the shipped network back from its own head graphs (``ccl_embed.export.readback``), exports
its heads again through today's network and readout, quantizes the graphs the manifest lists as
int8 the way the release build does, and embeds the example corpus (and, with ``--corpus``, a
sample of its ``val`` split) through both folders with the runtime. Writes the smallest cosine
per graph to ``results/reexport_parity.json``; the bar is 0.9999.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from _common import versions, write_result

from ccl_embed.data.corpus import read_corpus
from ccl_embed.runtime.embedder import Embedder
from ccl_embed.runtime.manifest import IMAGE_HEAD, TEXT_HEAD, Manifest, read_manifest, write_manifest

ROOT = Path(__file__).resolve().parent.parent
BAR = 0.9999


def _vectors(folder: Path, images: list[Path], texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    emb = Embedder(folder, device="cpu")
    i = np.stack([r.vector for r in emb.embed_images(images) if r.vector is not None])
    t = np.stack([r.vector for r in emb.embed_texts(texts) if r.vector is not None])
    return i, t


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "ccl_embed" / "models" / "default")
    parser.add_argument("--corpus", type=Path, default=None, help="A corpus whose val split adds a sample.")
    parser.add_argument("--sample", type=int, default=300)
    args = parser.parse_args()
    from ccl_embed.export.onnx_export import export_heads
    from ccl_embed.export.quantize import quantize_int8
    from ccl_embed.export.readback import read_back

    examples = ROOT / "examples" / "corpus"
    images = sorted(p for p in examples.iterdir() if p.suffix in (".png", ".jpg"))
    texts = [p.read_text().strip() for p in sorted(examples.glob("*.txt"))]
    inputs = {"example corpus": (images, texts)}
    if args.corpus is not None:
        val = read_corpus(args.corpus).split("val")
        rng = np.random.default_rng(0)
        picked = [val.pairs[i] for i in sorted(rng.choice(len(val.pairs), min(args.sample, len(val.pairs)), replace=False))]
        inputs["val sample"] = ([val.image_path(p) for p in picked], [p.text for p in picked])
    manifest = read_manifest(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        again = Path(tmp) / "again"
        shutil.copytree(args.model, again)
        model = read_back(args.model)
        export_heads(model, again)
        for graph in (IMAGE_HEAD, TEXT_HEAD):
            if graph in manifest.quantized_int8:
                fp32 = again / (graph + ".fp32")
                (again / graph).rename(fp32)
                quantize_int8(fp32, again / graph)
                fp32.unlink()
        write_manifest(again, replace(manifest, files=Manifest.hash_files(again)))
        rows = {}
        for name, (imgs, txts) in inputs.items():
            (si, st), (ai, at) = _vectors(args.model, imgs, txts), _vectors(again, imgs, txts)
            rows[name] = {"images": len(imgs), "texts": len(txts), "image_head_min_cosine": _min_cosine(si, ai),
                          "text_head_min_cosine": _min_cosine(st, at),
                          "image_max_abs_error": float(np.abs(si - ai).max()), "text_max_abs_error": float(np.abs(st - at).max())}
            print(f"{name}: min cosine image {rows[name]['image_head_min_cosine']:.6f}, text {rows[name]['text_head_min_cosine']:.6f}")
        same_bytes = {g: (again / g).read_bytes() == (args.model / g).read_bytes() for g in (IMAGE_HEAD, TEXT_HEAD)}
    held = all(r["image_head_min_cosine"] >= BAR and r["text_head_min_cosine"] >= BAR for r in rows.values())
    print(f"bar {BAR}: {'held' if held else 'NOT held'}; bit-identical graphs: {same_bytes}")
    write_result("reexport_parity", {
        "versions": versions("ccl-embed", "torch", "onnx", "onnxruntime"), "model": str(args.model),
        "how": "weights read back from the shipped head graphs (int8 dequantized), heads exported by today's code, "
               "int8 graphs quantized again; both folders embed the same inputs through the runtime",
        "bar": BAR, "held": held, "bit_identical": same_bytes, "rows": rows,
    })


if __name__ == "__main__":
    main()
