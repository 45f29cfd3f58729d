"""How the README's example corpus searches: does each caption find its own picture?

Ingests ``examples/corpus`` into a fresh embedded store with the shipped model, then searches
each picture's caption (the first line of the ``.txt`` beside it, photograph or drawing) among the images (``--modality image``)
and, separately, in a mixed search (images and texts together). Records the rank of the
caption's own picture. Then searches, in mixed searches, by every ingested picture and by every
note's exact text, and counts how often the item itself comes first, and whether any list's
relevance ever rises down the list. Writes ``benchmarks/results/example_corpus.json``.

    python benchmarks/example_corpus.py [--model default]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import versions, write_result  # noqa: E402

import numpy as np  # noqa: E402

import ccl_embed  # noqa: E402
from ccl_embed.model.config import CCLConfig, DataSpec  # noqa: E402
from ccl_embed.ingest.walk import TEXT_SUFFIXES  # noqa: E402
from ccl_embed.model.folder import read_config  # noqa: E402
from ccl_embed.runtime.embedder import vectors_or_raise  # noqa: E402
from ccl_embed.runtime.images import load_image  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent / "examples" / "corpus"


RESULT = "example_corpus"
"""The one result file this script writes: ``results/example_corpus.json``."""

def rank_of(hits: list[ccl_embed.Hit], picture: str) -> int | None:
    """1-based rank of ``picture`` among the image hits, None when it is not returned."""
    images = [h for h in hits if h.modality == "image"]
    return next((i + 1 for i, h in enumerate(images) if Path(str(h.path)).name == picture), None)


def picture_of(caption_file: Path) -> str:
    """The name of the picture a caption file describes: the image of the same stem."""
    return next(p.name for p in sorted(caption_file.parent.glob(caption_file.stem + ".*")) if p.suffix != ".txt")


def vector_layout(config: CCLConfig, spec: DataSpec) -> dict[str, slice]:
    """Where each part of the shipped vector lies (``ccl_embed.model.readout.vector_layout``), with
    CCL's category and instance parts as one common space; a part the model lacks is empty."""
    from ccl_embed.model.readout import vector_layout as layout_of

    where = layout_of(config, spec)
    common = where.get("instance", where["category"])[1]
    semantic = where.get("semantic", (common, common))
    return {"common": slice(0, common), "semantic": slice(*semantic),
            "offset": slice(*where.get("offset", (semantic[1], semantic[1])))}


def parts(text: np.ndarray, image: np.ndarray, layout: dict[str, slice]) -> dict[str, float]:
    """A text-image cosine split into what each part of the vectors adds to it."""
    return {name: round(float(text[where] @ image[where]), 4) for name, where in layout.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as store, ccl_embed.open("examples", store=store, model=args.model) as index:
        index.ingest(CORPUS)
        calibration = {k: list(v) for k, v in index.embedder.model.manifest.calibration.items()}
        model_version = index.embedder.model.version
        folder = Path(index.embedder.model.folder)
        config, spec, _ = read_config(folder) if (folder / "config.json").is_file() else (None, None, None)
        layout = vector_layout(config, spec) if config is not None and spec is not None else None
        photo_offset = config.readout.photo_offset if config is not None else 0.0
        pictures: dict[str, np.ndarray] = {}  # each picture's vector, embedded once

        def vector_of(name: str) -> np.ndarray:
            if name not in pictures:
                pictures[name] = vectors_or_raise(index.embedder.embed_images([load_image(CORPUS / name)]), "image")[0]
            return pictures[name]
        for caption_file in sorted(CORPUS.glob("*.txt")):
            picture = picture_of(caption_file)
            caption = caption_file.read_text(encoding="utf-8").splitlines()[0].strip()
            among_images = index.search(caption, limit=50, modality="image")
            mixed = index.search(caption, limit=3)
            rows[picture] = {"caption": caption, "rank_among_images": rank_of(among_images, picture),
                             "top_image": Path(str(among_images[0].path)).name if among_images else None,
                             "in_mixed_top3": rank_of(mixed, picture) is not None}
            if layout is not None and among_images:
                # why it ranks where it does: each part's share of the cosine with its own picture and
                # with the top one, and how far each was routed as a photograph (offset / photo_offset)
                text = vectors_or_raise(index.embedder.embed_texts([caption]), "text")[0]
                own, top = vector_of(picture), vector_of(rows[picture]["top_image"])
                rows[picture]["parts_own"], rows[picture]["parts_top"] = parts(text, own, layout), parts(text, top, layout)
                if photo_offset > 0:
                    rows[picture]["photo_route_own"] = round(float(own[layout["offset"]][0]) / photo_offset, 3)
                    rows[picture]["photo_route_top"] = round(float(top[layout["offset"]][0]) / photo_offset, 3)
            print(f"{picture:14s} rank {rows[picture]['rank_among_images']}  top {rows[picture]['top_image']:14s} {caption}")
        itself: dict[str, dict[str, bool]] = {"image": {}, "text": {}}
        rising = []
        for item in sorted(CORPUS.rglob("*")):
            name = item.relative_to(CORPUS).as_posix()
            if item.suffix in TEXT_SUFFIXES:
                hits = index.search(item.read_text(encoding="utf-8"), limit=10)
                itself["text"][name] = bool(hits) and hits[0].path == name
            elif item.is_file():
                hits = index.search(image=item, limit=10)
                itself["image"][name] = bool(hits) and hits[0].path == name
            else:
                continue
            if any(a.relevance < b.relevance for a, b in zip(hits, hits[1:])):
                rising.append(name)
    self_first = {m: sum(found.values()) for m, found in itself.items()}
    print(f"a mixed search by the item itself finds it first: {self_first['image']} of {len(itself['image'])} "
          f"pictures, {self_first['text']} of {len(itself['text'])} notes; lists whose relevance rises: {len(rising)}")
    first = sum(r["rank_among_images"] == 1 for r in rows.values())
    mixed3 = sum(bool(r["in_mixed_top3"]) for r in rows.values())
    print(f"{first} of {len(rows)} captions find their picture first among the images; "
          f"{mixed3} of {len(rows)} bring it into the top 3 of a mixed search")
    write_result(RESULT, {
        "versions": versions("ccl-embed", "onnxruntime", "qdrant-edge-py"), "model": args.model,
        "model_version": model_version, "calibration": calibration,
        "found_first_among_images": first, "in_mixed_top3": mixed3, "captions": len(rows), "rows": rows,
        "itself_first": {m: {"found": self_first[m], "of": len(itself[m]),
                             "missed": sorted(k for k, v in itself[m].items() if not v)} for m in itself},
        "relevance_rises_in": rising,
    })


if __name__ == "__main__":
    main()
