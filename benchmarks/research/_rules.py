"""Shared by the research scripts (quality, the paper's claims, tuning): the selection rule, the
baselines' floor, the shipped readout, and fitting CCL variants. Everything of ``../_common.py``
(writing a result, the docs folder) is re-exported."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/: _common

from _common import DOCS, RESULTS, command_line, file_sha256, machine, release_work, versions, write_result  # noqa: E402,F401  (re-exported)


def semantic_choice() -> dict[str, Any]:
    """The shipped model's readout (instance share, centring, semantic part, photograph route,
    text projection): the recipe's ``readout`` section."""
    from ccl_embed.train.recipe import read_recipe

    return dict(read_recipe()["config"].get("readout") or {})


def chosen_config(result: str) -> dict[str, Any]:
    """The settings a tuning run chose (``results/RESULT.json``'s ``chosen_config``)."""
    record = json.loads((RESULTS / f"{result}.json").read_text())
    if "chosen_config" not in record:
        sys.exit(f"error: results/{result}.json has no chosen_config; name a benchmarks/research/tune_semantic.py result")
    return dict(record["chosen_config"])


VALIDATION_SPLITS = ("val", "style-val", "style-val-3d")
"""Where choices are made: unseen concepts and the held-out validation styles (where the corpus has them)."""
SELECTION_RULE = ("the mean over the validation splits (val, style-val and style-val-3d where present) of "
                  "(category mean MAP + instance mean R@10) / 2, each a mean of both directions, taken among the "
                  "settings that reach the best non-CCL row of results/quality.json on MAP and on R@10, in both "
                  "directions, on every one of those splits (the quality target, checked on validation only); "
                  "if none does, the best score overall; test and the held-out test styles are not scored")
FLOOR_METRICS = ("i2t_map", "t2i_map", "r10_i2t", "r10_t2i")


def both_metrics(r: dict[str, float]) -> float:
    """One split's category mean MAP and instance mean R@10, weighted equally."""
    return (r["mean_map"] + (r["r10_i2t"] + r["r10_t2i"]) / 2) / 2


def selection_score(*splits: dict[str, float]) -> float:
    """Both metrics in one number (see SELECTION_RULE): category MAP, the paper's protocol, and
    instance R@10, what a user feels, weighted equally, averaged over the validation splits given."""
    return sum(both_metrics(r) for r in splits) / len(splits)


def baseline_floor(path: Path | None = None) -> dict[str, dict[str, float]]:
    """The best non-CCL row of quality.json on each validation split, per metric of
    :data:`FLOOR_METRICS` (split names with ``-`` written ``_``); empty when there is no result."""
    path = path or RESULTS / "quality.json"
    if not path.is_file():
        return {}
    results = json.loads(path.read_text()).get("results", {})
    floor: dict[str, dict[str, float]] = {}
    for split in VALIDATION_SPLITS:
        rows = [r for name, r in results.get(split, {}).items() if not name.startswith("ccl")]
        if rows:
            floor[split.replace("-", "_")] = {m: max(float(r[m]) for r in rows) for m in FLOOR_METRICS}
    return floor


def reaches_floor(scores: dict[str, dict[str, float]], floor: dict[str, dict[str, float]]) -> bool:
    """Whether a setting's validation scores reach the floor on every split and metric both have."""
    return all(v >= 0 for v in floor_margins(scores, floor).values())


def floor_margins(scores: dict[str, dict[str, float]], floor: dict[str, dict[str, float]]) -> dict[str, float]:
    """How far each validation cell (``split:metric``) lies above the floor; negative below it."""
    return {f"{s}:{m}": scores[s][m] - v for s, f in floor.items() if s in scores for m, v in f.items()}


def score_validation(bench: Any, encoders: Any) -> tuple[dict[str, dict[str, float]], float]:
    """A fitted method's scores on every validation split the corpus has, and its selection score.

    Returns:
        (scores by split name with ``-`` written ``_``, selection_score of them).
    """
    present = {p.split for p in bench.features.pairs}
    scores = {s: bench.score(encoders, s).to_dict() for s in VALIDATION_SPLITS if s in present}
    return {s.replace("-", "_"): r for s, r in scores.items()}, selection_score(*scores.values())


def validation_line(name: str, scores: dict[str, dict[str, float]], score: float) -> str:
    """One printed line: category MAP and instance R@1/R@10 on each validation split, then the score."""
    cells = " | ".join(f"{s} MAP {r['mean_map']:.4f} R@1 {r['r1_i2t']:.3f}/{r['r1_t2i']:.3f} "
                       f"R@10 {r['r10_i2t']:.3f}/{r['r10_t2i']:.3f}" for s, r in scores.items())
    return f"{name:48s} {cells} | score {score:.4f}"


SEMANTIC_PREFIXES = ("semantic", "photo_", "text_projection")
"""Fields of the semantic part (the recipe's ``readout``): named together in row labels."""


def row_label(name: str, extra: dict[str, Any]) -> str:
    """``"<variant> | field=value ..."``, the semantic part's fields shown as one ``+semantic``."""
    shown = "".join(f" | {k}={v}" for k, v in extra.items() if not k.startswith(SEMANTIC_PREFIXES))
    return name + shown + (" | +semantic" if any(k.startswith(SEMANTIC_PREFIXES) for k in extra) else "")


def tune_ccl_variants(bench: Any, variants: dict[str, dict[str, Any]], base: dict[str, Any],
                      after: dict[str, list[dict[str, Any]]] | None = None) -> tuple[dict[str, Any], str]:
    """Train CCL once per variant (``base`` fields under each variant's own) on the train split,
    score it on the validation splits and pick the best by :func:`selection_score`.

    Args:
        after: For some variants, settings applied to the fitted model when embedding (fields that
            are not trained, such as ``instance_share``): each is scored as a row of its own,
            named ``"<variant> | field=value"``, from the same fit.

    Returns:
        (one row per variant: its overrides, scores and selection score; the chosen variant's name).
    """

    from ccl_embed.train.encoders import CCLEncoders
    from ccl_embed.train.methods import ccl_fit

    ctx = bench.context()
    floor = baseline_floor()
    train, val = bench.split("train"), bench.split("val")
    rows: dict[str, Any] = {}
    for name, overrides in variants.items():
        encoders = cast(CCLEncoders, ccl_fit({**base, **overrides})(train, val, ctx))  # a CCL fit's encoders
        trained = encoders.model.config
        for extra in (after or {}).get(name) or [{}]:
            encoders.model.config = trained.replace(**extra)
            label = row_label(name, extra)
            scores, score = score_validation(bench, encoders)
            rows[label] = {"overrides": {**overrides, **extra}, **scores, "selection_score": score,
                           "reaches_baselines": reaches_floor(scores, floor)}
            print(validation_line(label, scores, score) + (" | reaches the baselines" if rows[label]["reaches_baselines"]
                                                           else ""), flush=True)
        encoders.model.config = trained
    eligible = [k for k in rows if rows[k]["reaches_baselines"]] or list(rows)
    best = max(eligible, key=lambda k: rows[k]["selection_score"])
    print("chosen:", best, flush=True)
    return rows, best


def novelty_of(model: Any, pool: Any) -> Any:
    """The novelty (``ccl_embed.model.network.Novelty``) of pooled image features ``[n, d]``, as numpy."""
    import numpy as np
    import torch

    with torch.inference_mode():
        return model.novelty(torch.from_numpy(np.ascontiguousarray(pool, dtype=np.float32))).numpy()


def with_novelty(model: Any, bench: Any) -> Any:
    """The model, its novelty statistics and its centres fitted on the workbench's training split
    as training fits them, when it was trained before they existed."""
    import numpy as np
    import torch

    if not bool(model.novelty.fitted):
        model.novelty.fit(torch.from_numpy(np.ascontiguousarray(bench.split("train").image["pool"], dtype=np.float32)))
    if not bool(model.centers.fitted):
        from ccl_embed.train.encoders import to_batch

        from ccl_embed.model import readout

        readout.fit_centers(model, to_batch(bench.split("train"), model.spec, model.config.model.text_bow))
    return model
