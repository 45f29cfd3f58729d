"""How sharply the ImageNet bridge's switch should route, on validation splits only.

An image whose novelty lies near the switch's middle (``CCLConfig.photo_novelty``) takes the
bridge in part: it keeps CCL's common part and gains a large semantic part, so it can score high
for many captions (a hub; docs/analysis.md, "The example corpus, part by part"). This sweep keeps
the release config's semantic settings and varies the switch's middle and width
(``photo_gate_width``). For each setting it records every drawing validation split's score, the
80 photographs of ``photos-val``, the mixed gallery of ``val``'s drawings and ``photos-val``'s
photographs (``tune_semantic.mixed_score``), the smallest margin over the baselines' floor, and
the share of each set's images that the switch leaves in between (0.2 < g < 0.8). Writes
``benchmarks/results/NAME.json`` (default ``route_sweep``).

    python benchmarks/research/route_sweep.py [--model DIR] [--corpus DIR] [--photos DIR] [--middles 2.8 3.0 ...] [--widths 0.1 0.3 ...]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rules import (VALIDATION_SPLITS, baseline_floor, both_metrics, file_sha256, floor_margins,  # noqa: E402
                     novelty_of, semantic_choice, versions, with_novelty, write_result)
from tune_semantic import mixed_score, within  # noqa: E402

from ccl_embed.model.folder import load_model  # noqa: E402
from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.train.encoders import CCLEncoders  # noqa: E402
from ccl_embed.train.features import FeatureSet  # noqa: E402
from ccl_embed.train.pipeline import open_workbench  # noqa: E402


RESULT = "route_sweep"
"""The one result file this script writes: ``results/route_sweep.json``."""

def between(novelty: np.ndarray, middle: float, width: float) -> float:
    """The share of images whose switch value g lies strictly between 0.2 and 0.8."""
    g = 1.0 / (1.0 + np.exp(-(novelty - middle) / width))
    return float(((g > 0.2) & (g < 0.8)).mean())


RULE = ("the best mean of every validation score (each drawing split's, photos-val's and the mixed gallery's) among "
        "the settings whose drawing splits each stay within 0.01 of the shipped setting's and which keep every "
        "drawing validation cell at or above the baselines' floor (tune_semantic.py's step-6 rule)")


def choose(rows: dict[str, dict[str, object]], shipped: str) -> str:
    """The setting :data:`RULE` picks; the shipped one when no other qualifies."""
    def scores(k: str) -> dict[str, float]:
        return rows[k]["scores"]  # type: ignore[return-value]

    def qualifies(k: str) -> bool:
        return (float(rows[k]["smallest_floor_margin"]) >= 0  # type: ignore[arg-type]
                and within(scores(k), scores(shipped)))  # every drawing split within tune_semantic.TOLERANCE

    return max((k for k in rows if k == shipped or qualifies(k)), key=lambda k: float(rows[k]["mean"]))  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=cache_dir() / "models" / "protocol-v6")
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus-v3-aug")
    parser.add_argument("--photos", type=Path, default=cache_dir() / "photos-v2")
    parser.add_argument("--middles", type=float, nargs="+", default=[2.8, 3.0, 3.2, 3.4])
    parser.add_argument("--widths", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    args = parser.parse_args()
    bench = open_workbench(args.corpus)
    photos = open_workbench(args.photos, text_tower=bench.text_tower)
    model = with_novelty(load_model(args.model), bench)
    base, shipped, floor = model.config, semantic_choice(), baseline_floor()
    drawings = [s for s in VALIDATION_SPLITS if s in {p.split for p in bench.features.pairs}]
    gallery = FeatureSet.concat([bench.split("val"), photos.split("photos-val")])
    photo = np.array([p.split == "photos-val" for p in gallery.pairs])
    novelty = {s: novelty_of(model, wb.split(s).image["pool"]) for wb, s in [(bench, d) for d in drawings] + [(photos, "photos-val")]}
    rows: dict[str, dict[str, object]] = {}
    for middle, width in itertools.product(args.middles, args.widths):
        model.config = base.replace(**(shipped | {"photo_novelty": middle, "photo_gate_width": width}))
        enc = CCLEncoders(model)
        full = {s: bench.score(enc, s).to_dict() for s in drawings}
        scores = {s: both_metrics(r) for s, r in full.items()}
        scores["photos-val"] = both_metrics(photos.score(enc, "photos-val").to_dict())
        mixed = mixed_score(enc, gallery, photo)
        margins = floor_margins({s.replace("-", "_"): r for s, r in full.items()}, floor)
        label = f"middle={middle} width={width}"
        rows[label] = {
            "scores": scores, "mixed": mixed,
            "mean": float(np.mean(list(scores.values()) + [mixed["score"]])),
            "smallest_floor_margin": min(margins.values()),
            "in_between": {s: between(v, middle, width) for s, v in novelty.items()},
        }
        print(label, " ".join(f"{s} {v:.4f}" for s, v in scores.items()), f"mixed {mixed['score']:.4f}",
              f"floor margin {min(margins.values()):+.4f}", flush=True)
    label_of = f"middle={shipped.get('photo_novelty')} width={shipped.get('photo_gate_width')}"
    if label_of not in rows:
        raise SystemExit(f"error: the shipped setting ({label_of}) must be in the grid; add it to --middles and --widths")
    chosen = choose(rows, label_of)
    middle, width = (float(part.split("=")[1]) for part in chosen.split())
    print("chosen:", chosen)
    write_result(RESULT, {
        "versions": versions("ccl-embed", "torch", "numpy"), "model": str(args.model),
        "corpus_pairs_sha256": file_sha256(args.corpus / "pairs.jsonl"),
        "photos_pairs_sha256": file_sha256(args.photos / "pairs.jsonl"),
        "semantic": shipped, "shipped": label_of, "rule": RULE, "chosen": chosen,
        "chosen_config": shipped | {"photo_novelty": middle, "photo_gate_width": width},
        "score": "(category mean MAP + instance mean R@10) / 2 per split; mixed: tune_semantic.mixed_score; "
                 "mean: of every split's score and the mixed gallery's",
        "rows": rows,
    })


if __name__ == "__main__":
    main()
