"""How far re-weighting the shipped vector's parts could take the example corpus: a ceiling, not a tuning.

The shipped image vector is made of CCL's common space, the semantic part (an image's ConSE
vector, a text's MiniLM vector half projected onto the class names) and the photographs' offset.
This script embeds ``examples/corpus`` with a model, splits every caption-picture cosine into its
parts (each part's cosine on its own, both vectors cut to that part and made unit length), and
counts how many captions would find their picture first among the 16 images under:

- each part alone (``semantic`` alone is close to zero-shot ConSE);
- one mix for every image, ``(1 - a) common + a semantic``, for every ``a`` on a grid;
- a mix that follows each image's route to the ImageNet bridge (its offset over ``photo_offset``):
  ``a = (1 - g) a_drawing + g a_photo``, plus ``o * g`` for the offset, over a grid of all three;
- a mix chosen for each caption on its own (``a`` on a grid of 101 values): a caption counts when
  any weight puts its picture first (or in the top 3). No single setting can do better than this.

The best of each family over its grid is an *oracle*: it is chosen on the example corpus itself,
so it is an upper bound on what any setting of those weights could reach there, never a setting
to ship (the corpus is not tuned on). Each row also keeps the image tower's three most likely
ImageNet classes for the picture, what the semantic part reads. Writes ``benchmarks/results/example_ceiling.json``.

    python benchmarks/research/example_ceiling.py [--model default]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rules import versions, write_result  # noqa: E402
from example_corpus import CORPUS, picture_of, vector_layout  # noqa: E402

import numpy as np  # noqa: E402

from ccl_embed.model.folder import read_config  # noqa: E402
from ccl_embed.runtime.embedder import Embedder, vectors_or_raise  # noqa: E402
from ccl_embed.runtime.folder import IMAGE_BACKBONE  # noqa: E402
from ccl_embed.runtime.session import make_session  # noqa: E402
from ccl_embed.runtime.images import load_image  # noqa: E402
from ccl_embed.train.imagenet import class_names  # noqa: E402

GRID = [round(x, 2) for x in np.linspace(0.0, 1.0, 21)]
OFFSETS = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3]


RESULT = "example_ceiling"
"""The one result file this script writes: ``results/example_ceiling.json``."""

def unit_part(vectors: np.ndarray, where: slice) -> np.ndarray:
    """Rows cut to one part and made unit length (a zero part stays zero)."""
    part = vectors[:, where]
    norms = np.linalg.norm(part, axis=1, keepdims=True)
    return part / np.where(norms > 0, norms, 1.0)


def ranks(scores: np.ndarray) -> np.ndarray:
    """Each caption's (row's) 1-based rank of its own picture (the same index) among the images
    (columns); a tie counts against it, since a search could return either first."""
    own = np.diag(scores)[:, None]
    return (scores >= own).sum(axis=1)


def found_first(scores: np.ndarray) -> int:
    """Captions whose own picture scores above every other image."""
    return int((ranks(scores) == 1).sum())


def top_classes(embedder: Embedder, backbone: Any, picture: Path, names: tuple[str, ...], k: int = 3) -> list[list[Any]]:
    """The image tower's ``k`` most likely ImageNet classes for a picture, with their probabilities."""
    pixels = embedder.prepare_image(load_image(picture)).pixels[None]
    logits = backbone.run(None, {"pixels": pixels})[1][0]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    return [[names[i].split(",")[0], round(float(probs[i]), 2)] for i in np.argsort(-probs)[:k]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    embedder = Embedder(args.model)
    folder = Path(embedder.model.folder)
    config, spec, _ = read_config(folder)
    if not config.readout.routes_photos:
        sys.exit(f"error: {folder} routes no photographs; this ceiling needs a model with the ImageNet bridge")
    layout = vector_layout(config, spec)
    files = sorted(CORPUS.glob("*.txt"))
    pictures = [picture_of(f) for f in files]
    captions = [f.read_text(encoding="utf-8").splitlines()[0].strip() for f in files]
    images = vectors_or_raise(embedder.embed_images([load_image(CORPUS / p) for p in pictures]), "image")
    texts = vectors_or_raise(embedder.embed_texts(captions), "text")
    route = images[:, layout["offset"]][:, 0] / config.readout.photo_offset
    common = unit_part(texts, layout["common"]) @ unit_part(images, layout["common"]).T
    semantic = unit_part(texts, layout["semantic"]) @ unit_part(images, layout["semantic"]).T
    shipped = texts @ images.T
    names = class_names()
    backbone = make_session(embedder.model.path(IMAGE_BACKBONE), "cpu", None)
    classes = [top_classes(embedder, backbone, CORPUS / p, names) for p in pictures]

    one_mix = {a: found_first((1 - a) * common + a * semantic) for a in GRID}
    by_route: dict[tuple[float, float, float], int] = {}
    for a_d, a_p, o in itertools.product(GRID, GRID, OFFSETS):
        a = (1 - route) * a_d + route * a_p
        by_route[(a_d, a_p, o)] = found_first((1 - a) * common + a * semantic + o * route)
    fine = np.linspace(0.0, 1.0, 101)
    per_caption = np.stack([ranks((1 - a) * common + a * semantic) for a in fine]).min(axis=0)
    best_mix = max(one_mix.items(), key=lambda kv: kv[1])
    best_route = max(by_route.items(), key=lambda kv: kv[1])
    a_d, a_p, o = best_route[0]
    a = (1 - route) * a_d + route * a_p
    oracle = (1 - a) * common + a * semantic + o * route
    print(f"shipped {found_first(shipped)}, common alone {found_first(common)}, semantic alone "
          f"{found_first(semantic)}, best single mix {best_mix[1]} (a={best_mix[0]}), best routed mix "
          f"{best_route[1]} (a_drawing={a_d}, a_photo={a_p}, offset={o}), any weight per caption "
          f"{int((per_caption == 1).sum())} of {len(files)}")
    rows: dict[str, dict[str, Any]] = {
        p: {"caption": c, "photo_route": round(float(g), 3), "rank_shipped": int(r0), "rank_common": int(r1),
            "rank_semantic": int(r2), "rank_best_routed_mix": int(r3), "best_rank_any_weight": int(r4),
            "imagenet_top3": top}
        for p, c, g, r0, r1, r2, r3, r4, top in zip(pictures, captions, route, ranks(shipped), ranks(common),
                                                    ranks(semantic), ranks(oracle), per_caption, classes)}
    write_result(RESULT, {
        "versions": versions("ccl-embed", "onnxruntime"), "model": args.model,
        "model_version": embedder.model.version, "captions": len(files),
        "what": "found first among the images, each scoring rule; the best of a grid is chosen on this corpus "
                "(an oracle, an upper bound), never a setting to ship",
        "found_first": {"shipped": found_first(shipped), "common_alone": found_first(common),
                        "semantic_alone": found_first(semantic),
                        "best_single_mix": {"a": best_mix[0], "found_first": best_mix[1]},
                        "best_routed_mix": {"a_drawing": a_d, "a_photo": a_p, "offset": o,
                                            "found_first": best_route[1]},
                        "any_weight_per_caption": int((per_caption == 1).sum())},
        "in_top3_any_weight_per_caption": int((per_caption <= 3).sum()),
        "single_mix_grid": {str(k): v for k, v in one_mix.items()},
        "rows": rows,
    })


if __name__ == "__main__":
    main()
