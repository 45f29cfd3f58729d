"""Choose the zero-shot semantic part (CCLConfig.semantic_weight and the photograph route) on
validation splits only.

The semantic part keeps the image tower's ImageNet knowledge (photos) that CCL trained on
pictograms does not cover; it costs some pictogram quality. Every split is scored on both
metrics at once: ``_rules.both_metrics``, (category mean MAP + instance mean R@10) / 2. Three steps:

1. ``semantic_weight``: the largest w in ``WEIGHTS`` whose score on each drawing validation
   split (``val``, ``style-val``, ``style-val-3d`` where present) stays within ``TOLERANCE`` of w = 0
   and which, wherever w = 0 does, still reaches the best non-CCL row of results/quality.json on
   category MAP and instance R@10, both directions, on each of those splits (the quality target,
   checked on validation: ``_rules.reaches_floor``). Every later step keeps that rule too.
2. The ImageNet bridge for images unlike the training ones (``photo_novelty``,
   ``photo_gate_width``, ``photo_semantic_weight``, ``photo_offset``): the values with the best score on ``photos-val``
   (80 photographs, see ``ccl_embed/data/sources/photos.py``) whose drawing splits each stay
   within ``TOLERANCE`` of step 1's.
3. The texts' projection onto the class names (``text_projection``, its temperature) with the
   photograph weight again (the projection changes how much the semantic part can carry): the
   values with the best ``photos-val`` score, better than step 2's, under the same rule.

4. ``drawing_semantic_weight``: the images' own weight when they are like the training images,
   apart from the texts' (None keeps the texts' weight, as before; 0 ranks drawings by CCL
   alone while texts keep the part photographs meet them on). The value with the best mean of
   the drawing splits' and ``photos-val``'s scores whose splits each stay within ``TOLERANCE``
   of step 3's, under the same floor rule.

5. ``photo_offset`` again, now on a **mixed** validation gallery: the drawings of ``val`` and the
   photographs of ``photos-val`` in one collection, searched by every caption (text -> image). The
   offset sets where the bridge's scores sit against the drawings', which a gallery of one kind
   cannot see. Each caption's group (photograph, drawing) counts equally:
   ``(R@1 + R@10) / 2`` per group, averaged. The best such score whose splits each stay within
   ``TOLERANCE`` of step 4's. ``--from-result NAME`` starts from the ``chosen_config`` of an
   earlier run and does steps 4 to 6 alone.

6. ``centering`` (hubness reduction, ``CCLConfig.centering``): the value with the best mean of
   every validation score (each drawing split's, ``photos-val``'s and the mixed gallery's) whose
   splits each stay within ``TOLERANCE`` of step 5's, under the same floor rule.

At every step after the first, the candidates that reach the baselines' floor on every drawing
validation split come first, where any of them does (``floor_first``): the quality target is met
on validation before any score is compared. (Added after the v5 run, whose centring grid had one
such setting, 0.25, and chose 0.75 by score.)

``test``, the held-out test styles and the ``photos`` sanity set are not scored here; the
novelty of their images is recorded (percentiles per split), to show how the switch separates
photographs from drawings. Writes ``benchmarks/results/NAME.json`` (default ``semantic_tuning``).

    python benchmarks/research/tune_semantic.py [--model DIR] [--corpus DIR] [--photos DIR]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rules import (VALIDATION_SPLITS, baseline_floor, both_metrics, chosen_config, file_sha256, novelty_of,  # noqa: E402
                     reaches_floor, versions, with_novelty, write_result)

from ccl_embed.model.folder import load_model  # noqa: E402
from ccl_embed.train.encoders import CCLEncoders  # noqa: E402
from ccl_embed.train.features import FeatureSet  # noqa: E402
from ccl_embed.paths import cache_dir  # noqa: E402
from ccl_embed.train.pipeline import open_workbench  # noqa: E402

WEIGHTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6)
# The photograph route's grid is centred on the choice of the previous corpus
# (results/semantic_tuning_novelty.json at 98c85a0: middle 2.8, width 0.3, weight 0.9, projection 0.5 at
# temperature 0.05): each scoring encodes every validation split, about 15 s on two cores.
PHOTO_NOVELTY = (2.4, 2.6, 2.8, 3.0)
PHOTO_GATE_WIDTHS = (0.3,)
PHOTO_WEIGHTS = (0.8, 0.9, 0.95)
PHOTO_OFFSETS = (0.0, 0.2)
TEXT_PROJECTIONS = (0.5, 0.75)
TEXT_TEMPERATURES = (0.05, 0.1)
PROJECTED_PHOTO_WEIGHTS = (0.9, 0.95)
MIXED_OFFSETS = (0.0, 0.1, 0.2, 0.3, 0.4)
DRAWING_WEIGHTS = (None, 0.0, 0.05, 0.1)  # None first: the texts' weight, step 3's choice itself
CENTERINGS = (0.0, 0.25, 0.5, 0.75, 1.0)  # 0.0 first: step 5's choice itself, the base of step 6
TOLERANCE = 0.01


NOT_DRAWINGS = ("photos-val", "floor")
"""Keys of a scored row that are not a drawing split's score: the photographs', and whether the
row reaches the baselines' floor on every drawing validation split (1.0) or not (0.0)."""


RESULT = "semantic_tuning"
"""The one result file this script writes: ``results/semantic_tuning.json``."""

def within(row: dict[str, float], base: dict[str, float], tolerance: float = TOLERANCE) -> bool:
    """Whether ``row`` keeps every drawing split's score within ``tolerance`` of ``base``, and the
    baselines' floor wherever ``base`` reaches it."""
    return (all(row[s] >= base[s] - tolerance for s in row if s not in NOT_DRAWINGS)
            and row.get("floor", 1.0) >= base.get("floor", 0.0))


def floor_first(keys: list[Any], rows: dict[Any, dict[str, float]]) -> list[Any]:
    """The candidates that reach the baselines' floor on every drawing validation split, where any
    of them does; all of them otherwise. The quality target (beat every baseline on both metrics)
    comes before the score: a setting that meets it on validation is preferred to one that does
    not, however the scores compare."""
    reach = [k for k in keys if rows[k].get("floor", 0.0) >= 1.0]
    return reach or list(keys)


def admissible(rows: dict[Any, dict[str, float]], base: dict[str, float]) -> list[Any]:
    """The candidates of a step after the photo route: every drawing split within ``TOLERANCE`` of
    ``base`` (and its floor kept), ``photos-val`` no more than ``TOLERANCE`` below it, and those
    that reach the floor first (:func:`floor_first`)."""
    ok = [k for k, r in rows.items() if within(r, base) and r["photos-val"] >= base["photos-val"] - TOLERANCE]
    return floor_first(ok, rows)


def best_photos(rows: dict[Any, dict[str, float]], base: dict[str, float]) -> Any:
    """The admissible candidate (:func:`admissible`) with the best ``photos-val`` score."""
    return max(admissible(rows, base), key=lambda k: rows[k]["photos-val"])


def choose(rows: dict[float, dict[str, float]], tolerance: float = TOLERANCE) -> float:
    """The largest weight whose drawing splits' scores stay within ``tolerance`` of weight 0."""
    return max(w for w, r in rows.items() if within(r, rows[0.0], tolerance))


def choose_route(rows: dict[tuple[float, ...], dict[str, float]], base: dict[str, float],
                 tolerance: float = TOLERANCE) -> tuple[float, ...] | None:
    """The settings with the best photos-val score that keep the drawings within ``tolerance``
    of ``base``; None when none beats ``base``'s photos-val."""
    ok = floor_first([k for k, r in rows.items() if within(r, base, tolerance) and r["photos-val"] > base["photos-val"]], rows)
    return max(ok, key=lambda k: rows[k]["photos-val"]) if ok else None


def novelty_percentiles(model: object, bench: object, photos: object) -> dict[str, dict[str, float]]:
    """The 5th, 50th and 95th percentiles of the images' novelty on every split (none is tuned on here)."""
    out = {}
    for wb in (bench, photos):
        for split in sorted({p.split for p in wb.features.pairs}):  # type: ignore[attr-defined]
            v = novelty_of(model, wb.split(split).image["pool"])  # type: ignore[attr-defined]
            out[split] = {f"p{q}": round(float(np.percentile(v, q)), 3) for q in (5, 50, 95)}
    return out


def mixed_score(encoders: CCLEncoders, gallery: FeatureSet, photo: np.ndarray) -> dict[str, float]:
    """Text -> image in one gallery of drawings and photographs: for each distinct caption, whether
    an image of that caption is first (R@1) or in the first ten (R@10), per group, and the score:
    the mean over the two groups of (R@1 + R@10) / 2. ``photo[i]``: row ``i`` is a photograph."""
    images = encoders.encode_images(gallery)
    texts = [p.text for p in gallery.pairs]
    first = {t: i for i, t in reversed(list(enumerate(texts)))}
    rows = np.array(sorted(first.values()))
    queries = encoders.encode_texts(gallery.select(rows))
    order = np.argsort(-(queries @ images.T), axis=1)[:, :10]
    keys = np.array(texts, dtype=object)
    hit = keys[order] == keys[rows][:, None]
    out: dict[str, float] = {}
    for group, mask in (("photos", photo[rows]), ("drawings", ~photo[rows])):
        out[f"{group}_r1"] = float(hit[mask, 0].mean())
        out[f"{group}_r10"] = float(hit[mask].any(1).mean())
    out["score"] = float(np.mean([(out[f"{g}_r1"] + out[f"{g}_r10"]) / 2 for g in ("photos", "drawings")]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=cache_dir() / "models" / "default-train")
    parser.add_argument("--corpus", type=Path, default=cache_dir() / "corpus")
    parser.add_argument("--photos", type=Path, default=cache_dir() / "photos")
    parser.add_argument("--from-result", default=None,
                        help="Start from the chosen_config of results/NAME.json and run steps 4 to 6 alone.")
    args = parser.parse_args()
    bench = open_workbench(args.corpus)
    photos = open_workbench(args.photos, text_tower=bench.text_tower)
    model = with_novelty(load_model(args.model), bench)
    base = model.config
    present = {p.split for p in bench.features.pairs}
    drawings = [s for s in VALIDATION_SPLITS if s in present]
    floor = baseline_floor()

    def score(**config: float) -> dict[str, float]:
        model.config = base.replace(**config)
        enc = CCLEncoders(model)
        full = {s: bench.score(enc, s).to_dict() for s in drawings}
        row = {s: both_metrics(r) for s, r in full.items()}
        row["photos-val"] = both_metrics(photos.score(enc, "photos-val").to_dict())
        row["floor"] = float(reaches_floor({s.replace("-", "_"): r for s, r in full.items()}, floor))
        print(" ".join(f"{k}={v}" for k, v in config.items()), " ".join(f"{s} {m:.4f}" for s, m in row.items()), flush=True)
        return row

    def with_mixed(setting: dict[str, Any], label: str, splits: dict[str, float] | None = None) -> dict[str, object]:
        """A setting's split scores (``splits`` when already scored), its mixed-gallery score, and
        the mean of every validation score (each drawing split's, photos-val's, the gallery's)."""
        splits = score(**setting) if splits is None else splits
        model.config = base.replace(**setting)
        m = mixed_score(CCLEncoders(model), gallery, photo)
        mean = float(np.mean([v for k, v in splits.items() if k != "floor"] + [m["score"]]))
        print(f"{label} mixed gallery: " + " ".join(f"{k} {v:.4f}" for k, v in m.items()) + f" mean {mean:.4f}", flush=True)
        return {"mixed": m, "splits": splits, "mean": mean}

    rows: dict[float, dict[str, float]] = {}
    routes: dict[tuple[float, ...], dict[str, float]] = {}
    projections: dict[tuple[float, ...], dict[str, float]] = {}

    def steps_one_to_three() -> tuple[float, dict[str, float]]:
        """Steps 1-3 (see the module docs); fills rows, routes and projections."""
        rows.update({w: score(semantic_weight=w, photo_semantic_weight=0.0, photo_offset=0.0) for w in WEIGHTS})
        w = choose(rows)
        grid = itertools.product(PHOTO_NOVELTY, PHOTO_GATE_WIDTHS, PHOTO_WEIGHTS, PHOTO_OFFSETS) if w > 0 else ()
        routes.update({(f, g, pw, e): score(semantic_weight=w, photo_semantic_weight=pw, photo_novelty=f,
                                            photo_gate_width=g, photo_offset=e) for f, g, pw, e in grid})
        route = choose_route(routes, rows[w])
        chosen = {"semantic_weight": w, "photo_semantic_weight": route[2] if route else 0.0,
                  "photo_novelty": route[0] if route else base.photo_novelty,
                  "photo_gate_width": route[1] if route else base.photo_gate_width, "photo_offset": route[3] if route else 0.0}
        if route:
            projections.update({(b, t, pw): score(**(chosen | {"photo_semantic_weight": pw, "text_projection": b,
                                                                "text_projection_temperature": t}))
                                for b, t, pw in itertools.product(TEXT_PROJECTIONS, TEXT_TEMPERATURES,
                                                                  PROJECTED_PHOTO_WEIGHTS)})
            best = choose_route(projections, rows[w] | {"photos-val": routes[route]["photos-val"]})
            if best:
                chosen |= {"text_projection": best[0], "text_projection_temperature": best[1], "photo_semantic_weight": best[2]}
        return w, chosen

    if args.from_result:
        chosen = chosen_config(args.from_result)
        w = chosen["semantic_weight"]
    else:
        w, chosen = steps_one_to_three()
    gallery = FeatureSet.concat([bench.split("val"), photos.split("photos-val")])
    photo = np.arange(len(gallery)) >= len(bench.split("val"))
    chosen.pop("drawing_semantic_weight", None)  # an earlier run's choice is made again below
    step3 = score(**chosen)
    drawn: dict[float | None, dict[str, float]] = {None: step3}
    for d in DRAWING_WEIGHTS[1:] if chosen.get("semantic_weight", 0.0) > 0 else ():
        drawn[d] = score(**(chosen | {"drawing_semantic_weight": d}))
    best_d = max(admissible(drawn, step3), key=lambda d: float(np.mean([v for k, v in drawn[d].items() if k != "floor"])))
    if best_d is not None:
        chosen["drawing_semantic_weight"] = best_d
    step3 = drawn[best_d]  # the base of the offset step
    mixed: dict[float, dict[str, object]] = {}
    for e in MIXED_OFFSETS if chosen.get("photo_semantic_weight", 0.0) > 0 else ():
        model.config = base.replace(**(chosen | {"photo_offset": e}))
        m = mixed_score(CCLEncoders(model), gallery, photo)
        mixed[e] = {"mixed": m, "splits": score(**(chosen | {"photo_offset": e}))}
        print(f"photo_offset={e} mixed gallery: " + " ".join(f"{k} {v:.4f}" for k, v in m.items()), flush=True)
    ok = admissible({e: r["splits"] for e, r in mixed.items()}, step3)  # type: ignore[misc]
    if ok:
        chosen["photo_offset"] = max(ok, key=lambda e: mixed[e]["mixed"]["score"])  # type: ignore[index]
    centred: dict[float, dict[str, object]] = {}
    for b in CENTERINGS:
        centred[b] = with_mixed(chosen | {"centering": b}, f"centering={b}")
    step5: dict[str, float] = centred[0.0]["splits"]  # type: ignore[assignment]  # step 5's choice, uncentred
    ok = admissible({b: r["splits"] for b, r in centred.items()}, step5)  # type: ignore[misc]
    if ok:
        chosen["centering"] = max(ok, key=lambda b: centred[b]["mean"])  # type: ignore[arg-type, return-value]
    print("chosen:", chosen, "(copy it into the \"readout\" section of ccl_embed/train/recipe.json to ship it)")
    write_result(RESULT, {
        "versions": versions("ccl-embed", "torch", "numpy"), "model": str(args.model),
        "corpus_pairs_sha256": file_sha256(args.corpus / "pairs.jsonl"),
        "photos_pairs_sha256": file_sha256(args.photos / "pairs.jsonl"),
        "from_result": args.from_result,
        "score": "(category mean MAP + instance mean R@10) / 2 on each split; step 5: the mixed gallery's score",
        "floor": floor,
        "rule": (f"semantic_weight: largest w with every drawing validation split ({', '.join(drawings)}) within "
                 f"{TOLERANCE} of w=0 and, wherever w=0 does, reaching the best non-CCL row of quality.json on MAP and "
                 "R@10 in both directions on each of them (kept by every later step); photo route: best photos-val "
                 f"score keeping the drawing splits within {TOLERANCE} "
                 "of that; text projection (with the photograph weight): the same rule, and better on photos-val than "
                 "the route alone; drawing_semantic_weight: best mean of the drawing splits' and photos-val's scores "
                 f"with every split within {TOLERANCE} of step 3's and the floor kept; photo_offset: best mixed-gallery "
                 "score (val drawings and photos-val photographs in "
                 f"one gallery, text -> image, each group counting equally) with every split within {TOLERANCE} of "
                 "step 4's; centering: best mean of every validation score (drawing splits, photos-val, mixed gallery) "
                 f"with every split within {TOLERANCE} of step 5's and the floor kept; from the photo route on, the "
                 "settings that reach the floor on every drawing validation split are preferred wherever any candidate "
                 "does, before any score (floor_first); test, the held-out test styles and photos not scored"),
        "scores": {str(k): r for k, r in rows.items()},
        "photo_route_scores": {f"novelty={f} width={g} weight={pw} offset={e}": r for (f, g, pw, e), r in routes.items()},
        "novelty_percentiles": novelty_percentiles(model, bench, photos),
        "text_projection_scores": {f"projection={b} temperature={t} photo_weight={pw}": r
                                   for (b, t, pw), r in projections.items()},
        "mixed_gallery": {"val drawings": int((~photo).sum()), "photos-val photographs": int(photo.sum())},
        "drawing_weight_scores": {str(d): r for d, r in drawn.items()},
        "mixed_offset_scores": {str(e): r for e, r in mixed.items()},
        "centering_scores": {str(b): r for b, r in centred.items()},
        "chosen": w, "chosen_config": chosen,
    })



if __name__ == "__main__":
    main()
