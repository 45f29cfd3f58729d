"""The paper's claims, tested by the ablation rows of results/quality.json.

``python benchmarks/research/quality.py`` calls :func:`write_claims` after every run; it rewrites the block
between the two markers of docs/analysis.md, so no figure there is typed by hand. Each claim
compares the full model with the rows that remove what the claim is about, on every held-out
split, as paired per-seed differences (:func:`paired_difference`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

START = "<!-- claims:start (written by benchmarks/research/quality.py; do not edit by hand) -->"
END = "<!-- claims:end -->"

CLAIMS = (  # (claim, the paper's statement, ((row, whether it removes what the claim is about), ...)))
    ("1. Multi-level association in stage 1",
     "jointly learning intra- and inter-modality correlation gives better representations than intra-modality ones alone",
     (("ccl-no-corr", True), ("ccl-no-stage1", True))),
    ("2. Multi-task learning in stage 2",
     "the intra-modality category constraint and the inter-modality pairwise constraint, adaptively balanced, beat either loss alone",
     (("ccl-no-intra", True), ("ccl-no-inter", True), ("ccl-adaptive-weights", False))),
    ("3. Multi-grained fusion",
     "fusing fine-grained patches with the coarse instance adds precision",
     (("ccl-no-patches", True),)),
)
"""A row either removes the component from its reference (``ccl-no-patches``) or adds it to a
reference that lacks it; the effect is always "with the component" minus "without it"."""
METRICS = (("mean_map", "MAP"), ("r10", "R@10"))
"""Category MAP (the paper's protocol) and instance R@10, each the mean of both directions."""


def reference_of(rows: dict[str, dict[str, Any]], row: str) -> str:
    """The row that ``row`` is paired against, in one split's results: the one its entry records
    (``reference``; an ablation measured around an earlier base configuration names that base's
    row), else ``ccl``, or ``ccl-no-semantic`` for a CCL row scored without the semantic part."""
    entry = rows.get(row) or {}
    if entry.get("reference"):
        return str(entry["reference"])
    if row == "ccl-no-semantic" or entry.get("semantic") or "ccl-no-semantic" not in rows:
        return "ccl"
    return "ccl-no-semantic"


def _values(entry: dict[str, Any], key: str) -> tuple[float, np.ndarray | None]:
    """One metric of a row and its per-seed values (None when the row kept none); ``r10`` is the
    mean of both directions' R@10."""
    keys = ("r10_i2t", "r10_t2i") if key == "r10" else (key,)
    mean = float(np.mean([float(entry[k]) for k in keys]))
    per_seed = entry.get("per_seed")
    if not isinstance(per_seed, dict):
        return mean, None
    return mean, np.mean([np.asarray(per_seed[k], dtype=float) for k in keys], axis=0)


def _paired(a: float, a_seeds: np.ndarray | None, b: float, b_seeds: np.ndarray | None,
            same_seeds: bool) -> tuple[float, float | None]:
    """``a - b``: the mean of the per-seed differences and their sample std when both ran the same
    seeds (two or more) and kept their values, else the difference of the means and None."""
    if a_seeds is not None and b_seeds is not None and same_seeds and len(a_seeds) > 1 and len(a_seeds) == len(b_seeds):
        d = a_seeds - b_seeds
        return float(d.mean()), float(d.std(ddof=1))
    return a - b, None


def paired_difference(row: dict[str, Any], reference: dict[str, Any], key: str) -> tuple[float, float | None]:
    """``row - reference`` on one metric, paired per seed where both rows allow it (:func:`_paired`)."""
    (a, a_seeds), (b, b_seeds) = _values(row, key), _values(reference, key)
    return _paired(a, a_seeds, b, b_seeds, row.get("seeds") == reference.get("seeds"))


def effect_cell(mean: float, std: float | None) -> str:
    """A difference as the tables print it: ``+0.0123 +- 0.0045``, or the difference alone."""
    return f"{mean:+.4f}" + (f" +- {std:.4f}" if std is not None else "")


def effect(full: dict[str, Any], removed: dict[str, Any], key: str) -> tuple[float, float | None, int]:
    """What the component is worth: ``full - removed`` (:func:`paired_difference`) and the seeds
    of the row without it."""
    mean, std = paired_difference(full, removed, key)
    return mean, std, len(removed.get("seeds") or [0])


def verdict(mean: float, std: float | None, seeds: int = 1) -> str:
    """``holds`` when the gain exceeds its spread over seeds, ``does not hold`` when the loss
    does, ``within the spread`` otherwise; one seed, or seeds not paired with the reference's
    (an entry without per-seed values), cannot decide."""
    if std is None:
        return "one seed: undecided" if seeds <= 1 else "not paired with ccl's seeds: undecided"
    if mean > std:
        return "holds"
    if mean < -std:
        return "does not hold"
    return "within the spread"


def claims_lines(results: dict[str, dict[str, dict[str, Any]]], splits: tuple[str, ...]) -> list[str]:
    """The claims table: one line per (claim, row, split), the effect on each metric and a verdict."""
    lines = ["| claim | the paper says | row | split | MAP effect | R@10 effect | seeds | on our data |",
             "|---|---|---|---|---|---|---|---|"]
    measured = False
    for claim, statement, rows in CLAIMS:
        for row, removes in rows:
            for split in splits:
                here = results.get(split, {})
                reference = reference_of(here, row)
                full, removed = (here.get(reference), here.get(row)) if removes else (here.get(row), here.get(reference))
                if not full or not removed:
                    continue
                measured = True
                cells, verdicts, seeds = [], [], 0
                for key, _ in METRICS:
                    mean, std, seeds = effect(full, removed, key)
                    cells.append(effect_cell(mean, std))
                    verdicts.append(f"{dict(METRICS)[key]} {verdict(mean, std, seeds)}")
                lines.append(f"| {claim} | {statement} | `{row}` against `{reference}` | {split} | {cells[0]} | {cells[1]} | "
                             f"{seeds} | {'; '.join(verdicts)} |")
    if not measured:
        return ["No row that a claim compares has been measured on this corpus yet "
                "(`bash benchmarks/research/paper_rows.sh` measures them, three seeds each)."]
    return lines + ["", "An effect is the row with the component minus the row without it (positive: the component "
                    "helps), the row against its reference (`ccl`, or the base configuration it was measured around), "
                    "paired per seed: the mean of the seeds' differences +- their sample standard deviation. "
                    "It holds when the mean exceeds that spread."]


def _rewrite(doc: Path, start: str, end: str, lines: list[str]) -> bool:
    """Rewrite the block of ``doc`` between ``start`` and ``end``; False (and nothing written)
    when it lacks them."""
    text = doc.read_text(encoding="utf-8") if doc.is_file() else ""
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(head + start + "\n\n" + "\n".join(lines) + "\n\n" + end + tail, encoding="utf-8")
    return True


def write_claims(doc: Path, results: dict[str, dict[str, dict[str, Any]]], splits: tuple[str, ...]) -> bool:
    """Rewrite the claims block of ``doc``; False (and nothing written) when it has no markers."""
    return _rewrite(doc, START, END, claims_lines(results, splits))


CHOICES_START = "<!-- choices:start (written by benchmarks/research/quality.py; do not edit by hand) -->"
CHOICES_END = "<!-- choices:end -->"
VALIDATION = ("val", "style-val", "style-val-3d")
"""Where the choices are made: the validation splits, never test or the held-out test styles."""
CHOICES = (  # (what is chosen, the setting ccl ships, ((row, its other setting), ...))
    ("stage 1's correspondence weights", "code distance 0.3, reconstruction 0.7",
     (("ccl-corr-released", "distance 0.7, reconstruction 0.3, as in the released code"),)),
    ("the category constraint's classes", "one set of prototypes both modalities share",
     (("ccl-own-classifiers", "a classifier per modality, as in the paper"),)),
    ("image patches", "five overlapping regions",
     (("ccl-grid-patches", "nine cells that do not overlap"), ("ccl-two-scale-patches", "both sets, 14 regions"))),
    ("stage 2's loss balance", "fixed equal weights, as in the released code",
     (("ccl-adaptive-weights", "adaptive (learned uncertainty weights), as the paper describes"),)),
    ("the instance level", "a symmetric InfoNCE on each image's own text",
     (("ccl-no-instance", "none: the paper's category-level constraints only"),)),
    ("the ConSE input", "out of the network's input, kept for the semantic part",
     (("ccl-no-conse", "none, as in the paper"),
      ("ccl-conse-input", "appended to the image input"))),
    ("the skip into stage 2", "stage 2 also reads the standardised inputs", (("ccl-no-skip", "none, as in the paper"),)),
    ("input dropout", "0.3", (("ccl-no-input-dropout", "none, as in the paper"),)),
    ("the semantic part's settings", "results/semantic_tuning.json's choice (drawing weight 0.05, centring 0.25)",
     (("ccl-conse-input-previous-semantic", "with the ConSE input: the settings shipped before it (no centring, "
       "the texts' weight), against v5's on the same fits"),
      ("ccl-v6-semantic", "results/semantic_tuning_v6.json at 98c85a0's choice for this model (no projection, centring 0.75), "
       "against v5's on the same fits"))),
    ("the whole layout", "ours, with the additions above",
     (("ccl-paper", "the paper's, as closely as these layers allow"),
      ("ccl-paper-fixed-weights", "the paper's, with the released code's fixed weights"))),
)
"""Choices and the additions ``ccl`` carries beyond the paper, each against the row without it. A
row that cannot carry the semantic part (it needs the ConSE input) is paired with
``ccl-no-semantic``, the same fits without that part."""


CALLS = {"holds": "the alternative is better", "does not hold": "the shipped setting is better",
         "within the spread": "within the spread: the shipped setting stays"}
"""A choice's call, from :func:`verdict` on the alternative minus its reference."""


def validation_score(results: dict[str, dict[str, dict[str, Any]]], row: str) -> tuple[float, np.ndarray | None, list[str]]:
    """A row's selection score (both metrics, as in ``_rules.SELECTION_RULE``, without its floor)
    over the validation splits it was scored on: the mean, its per-seed values (None when any
    split kept none) and the splits."""
    splits = [s for s in VALIDATION if row in results.get(s, {})]
    means, seeds = [], []
    for split in splits:
        entry = results[split][row]
        (m, m_s), (r, r_s) = _values(entry, "mean_map"), _values(entry, "r10")
        means.append((m + r) / 2)
        seeds.append(None if m_s is None or r_s is None else (m_s + r_s) / 2)
    mean = float(np.mean(means)) if means else float("nan")
    kept = [s for s in seeds if s is not None]
    if not splits or len(kept) < len(seeds):
        return mean, None, splits
    return mean, np.mean(np.stack(kept), axis=0), splits


def choices_lines(results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The choices table: each alternative against the row it was measured around (its reference:
    ``ccl``, or an earlier base configuration) on the validation splits."""
    lines = ["| choice | `ccl` ships | alternative | row | against | validation score, reference | alternative | difference | on validation |",
             "|---|---|---|---|---|---|---|---|---|"]
    measured = False
    for choice, shipped, alternatives in CHOICES:
        for row, setting in alternatives:
            score, seeds, splits = validation_score(results, row)
            if not splits:
                continue
            reference = reference_of(results[splits[0]], row)
            base, base_seeds, base_splits = validation_score(results, reference)
            if base_splits != splits or np.isnan(base):
                continue
            measured = True
            here = results[splits[0]]
            diff, std = _paired(score, seeds, base, base_seeds, here[row].get("seeds") == here[reference].get("seeds"))
            call = "not paired: undecided" if std is None else CALLS[verdict(diff, std)]
            lines.append(f"| {choice} | {shipped} | {setting} | `{row}` | `{reference}` | {base:.4f} | {score:.4f} | "
                         f"{effect_cell(diff, std)} | {call} |")
    if not measured:
        return ["No alternative has been measured on this corpus's validation splits yet "
                "(`bash benchmarks/research/paper_rows.sh` measures them, three seeds each)."]
    return lines + ["", "The score is the selection rule's: (mean MAP + mean R@10) / 2, averaged over "
                    f"{', '.join(VALIDATION)}; the difference is the alternative minus its reference, paired per seed, "
                    "+- its sample standard deviation. Only validation splits decide; the held-out test splits "
                    "are in docs/results.md."]


def write_choices(doc: Path, results: dict[str, dict[str, dict[str, Any]]]) -> bool:
    """Rewrite the choices block of ``doc``; False (and nothing written) when it has no markers."""
    return _rewrite(doc, CHOICES_START, CHOICES_END, choices_lines(results))
