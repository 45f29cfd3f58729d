"""The paper's claims, tested by the ablation rows of results/quality.json.

``python benchmarks/quality.py`` calls :func:`write_claims` after every run; it rewrites the block
between the two markers of docs/analysis.md, so no figure there is typed by hand. Each claim
compares the full model with the rows that remove what the claim is about, on every held-out
split, as paired per-seed differences (``quality.paired_difference``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

START = "<!-- claims:start (written by benchmarks/quality.py; do not edit by hand) -->"
END = "<!-- claims:end -->"

CLAIMS = (  # (claim, the paper's statement, rows that remove it)
    ("1. Multi-level association in stage 1",
     "jointly learning intra- and inter-modality correlation gives better representations than intra-modality ones alone",
     ("ccl-no-corr", "ccl-no-stage1")),
    ("2. Multi-task learning in stage 2",
     "the intra-modality category constraint and the inter-modality pairwise constraint, adaptively balanced, beat either loss alone",
     ("ccl-no-intra", "ccl-no-inter", "ccl-fixed-weights")),
    ("3. Multi-grained fusion",
     "fusing fine-grained patches with the coarse instance adds precision",
     ("ccl-no-patches",)),
)
METRICS = (("mean_map", "MAP"), ("r10", "R@10"))
"""Category MAP (the paper's protocol) and instance R@10, each the mean of both directions."""


def _metric(entry: dict[str, Any], key: str, seed: int | None = None) -> float:
    """One metric of a row, the mean of both directions for R@10; one seed's where ``seed`` is given."""
    def value(k: str) -> float:
        return float(entry["per_seed"][k][seed]) if seed is not None else float(entry[k])
    return value("mean_map") if key == "mean_map" else (value("r10_i2t") + value("r10_t2i")) / 2


def effect(full: dict[str, Any], removed: dict[str, Any], key: str) -> tuple[float, float | None, int]:
    """What the component is worth: ``full - removed``, paired per seed where both ran the same
    seeds (mean, sample std, seeds), else the difference of the means (std None)."""
    seeds = full.get("seeds") or []
    paired = (full.get("seeds") == removed.get("seeds") and len(seeds) > 1
              and "per_seed" in full and "per_seed" in removed)
    if not paired:
        return _metric(full, key) - _metric(removed, key), None, len(removed.get("seeds") or [0])
    d = np.array([_metric(full, key, i) - _metric(removed, key, i) for i in range(len(seeds))])
    return float(d.mean()), float(d.std(ddof=1)), len(seeds)


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
        for row in rows:
            for split in splits:
                full, removed = results.get(split, {}).get("ccl"), results.get(split, {}).get(row)
                if not full or not removed:
                    continue
                measured = True
                cells, verdicts, seeds = [], [], 0
                for key, _ in METRICS:
                    mean, std, seeds = effect(full, removed, key)
                    cells.append(f"{mean:+.4f}" + (f" +- {std:.4f}" if std is not None else ""))
                    verdicts.append(f"{dict(METRICS)[key]} {verdict(mean, std, seeds)}")
                lines.append(f"| {claim} | {statement} | `{row}` | {split} | {cells[0]} | {cells[1]} | {seeds} | "
                             f"{'; '.join(verdicts)} |")
    if not measured:
        return ["No row that a claim compares has been measured on this corpus yet "
                "(`bash benchmarks/paper_rows.sh` measures them, three seeds each)."]
    return lines + ["", "An effect is `ccl` minus the row without the component (positive: the component helps), "
                    "paired per seed: the mean of the seeds' differences +- their sample standard deviation. "
                    "It holds when the mean exceeds that spread."]


def write_claims(doc: Path, results: dict[str, dict[str, dict[str, Any]]], splits: tuple[str, ...]) -> bool:
    """Rewrite the claims block of ``doc``; False (and nothing written) when it has no markers."""
    text = doc.read_text(encoding="utf-8") if doc.is_file() else ""
    if START not in text or END not in text:
        return False
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(head + START + "\n\n" + "\n".join(claims_lines(results, splits)) + "\n\n" + END + tail, encoding="utf-8")
    return True
