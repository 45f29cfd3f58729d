"""Build a training corpus from registry sources: fetch, render, split, write.

The result is an ordinary corpus folder (``pairs.jsonl`` plus PNG images) with two more files:
``SOURCES.json`` (every package used, with version and licence) and ``build_report.json``
(counts per source and split, and what was skipped and why).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ccl_embed.data.corpus import Pair, write_pairs
from ccl_embed.data.fetch import fetch
from ccl_embed.runtime.images import ImageError, load_image, render_svg, to_rgb
from ccl_embed.data.sources import BuildLog, ImageJob, SourceOptions, registry
from ccl_embed.data.splits import SplitConfig, assign_splits
from ccl_embed.errors import CCLEmbedError

SOURCES_FILE = "SOURCES.json"
REPORT_FILE = "build_report.json"
DEFAULT_SOURCES = ("emoji", "openclipart", "icons")
DEFAULT_HOLDOUT_STYLE = "openmoji"
DEFAULT_VAL_STYLE = "google"
DEFAULT_HELD_OUT = (("fluent-render", "style-3d"), ("fluent-3d", "style-val-3d"))
"""3D-like styles held out too: the Fluent 3D renders for testing, Fluent's gradient colour SVGs for validation."""


@dataclass
class BuildReport:
    """What a build produced: pairs per source and split, and skips with their reasons."""

    out: Path
    pairs: int = 0
    per_source: dict[str, dict[str, int]] = field(default_factory=dict)
    per_split: dict[str, int] = field(default_factory=dict)
    per_style: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "pairs": self.pairs,
            "per_source": self.per_source,
            "per_split": self.per_split,
            "per_style": self.per_style,
            "skipped": self.skipped,
        }


def make_image(job: ImageJob, out: Path, size: int) -> str | None:
    """Produce one corpus PNG; returns the reason when it cannot be made (None on success)."""
    dest = out / job.dest
    if dest.exists() and dest.stat().st_size > 0:
        return None
    try:
        if job.kind == "raster":
            img = load_image(job.source)
        else:
            img = to_rgb(render_svg(job.source, size, markup=job.kind == "svg_markup"))
    except (ImageError, OSError) as e:
        return f"image could not be made ({str(e)[:120]})"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(f".{os.getpid()}.tmp.png")
    img.save(tmp, format="PNG")
    os.replace(tmp, dest)
    return None


def _make_image_star(args: tuple[ImageJob, Path, int]) -> str | None:
    return make_image(*args)


def build_corpus(
    out: str | os.PathLike[str],
    sources: Sequence[str] = DEFAULT_SOURCES,
    *,
    split: SplitConfig | None = None,
    options: SourceOptions | None = None,
    cache: Path | None = None,
    workers: int | None = None,
    progress: Callable[[Iterable[object], int, str], Iterable[object]] | None = None,
) -> BuildReport:
    """Build a corpus folder from registry sources.

    Args:
        out: The corpus folder to write (created; images already there are reused).
        sources: Source names (see :func:`ccl_embed.data.sources.registry`).
        split: How to split; default: seed 0, 15% val, 15% test, OpenMoji held out as the ``style``
            split, Noto (``google``) as ``style-val``, and :data:`DEFAULT_HELD_OUT` (the Fluent 3D
            renders as ``style-3d``, Fluent's gradient colour SVGs as ``style-val-3d``).
        options: Sampling and rendering options for every source.
        cache: Where registry packages are unpacked (default: the user cache).
        workers: Processes that render images (default: the CPU count).
        progress: Wraps the rendering iterator, e.g. a tqdm factory ``(iterable, total, desc)``.

    Returns:
        The build report (also written to ``build_report.json``).

    Raises:
        CCLEmbedError: For an unknown source name; FetchError when a package cannot be fetched.
    """
    out = Path(out)
    known = registry()
    unknown = [s for s in sources if s not in known]
    if unknown:
        raise CCLEmbedError(f"unknown source {unknown[0]!r}; choose from: {', '.join(sorted(known))}")
    split = split or SplitConfig(holdout_style=DEFAULT_HOLDOUT_STYLE, val_style=DEFAULT_VAL_STYLE,
                                 held_out=DEFAULT_HELD_OUT)
    options = options or SourceOptions()
    report = BuildReport(out=out)
    jobs: list[tuple[Pair, ImageJob]] = []
    packages: list[dict[str, str]] = []
    for name in sources:
        source = known[name]
        dirs = {role: fetch(pkg, cache) for role, pkg in source.packages.items()}
        packages.extend(pkg.to_dict() | {"corpus_source": name} for pkg in source.packages.values())
        log = BuildLog()
        items = list(source.build(dirs, options, log))
        jobs.extend(items)
        report.skipped[name] = dict(log.skipped or {})
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(job, out, options.image_size) for _, job in jobs]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        results: Iterable[object] = pool.map(_make_image_star, tasks, chunksize=16)
        if progress is not None:
            results = progress(results, len(tasks), "rendering images")
        failures = list(results)
    kept: list[Pair] = []
    for (pair, _), failure in zip(jobs, failures):
        source_name = pair.concept.split(":", 1)[0] if pair.concept else "unknown"
        if failure is not None:
            bucket = report.skipped.setdefault(source_name, {})
            reason = str(failure).split(" (")[0]
            bucket[reason] = bucket.get(reason, 0) + 1
            continue
        kept.append(pair)
    kept = assign_splits(kept, split)
    write_pairs(out, kept)
    report.pairs = len(kept)
    report.per_split = dict(sorted(Counter(p.split or "" for p in kept).items()))
    report.per_style = dict(sorted(Counter(p.style or "" for p in kept).items()))
    for name in sources:
        mine = [p for p in kept if (p.concept or "").startswith(name + ":")]
        report.per_source[name] = dict(sorted(Counter(p.split or "" for p in mine).items())) | {"total": len(mine)}
    meta = {"packages": packages, "split": split.__dict__, "options": options.__dict__}
    (out / SOURCES_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    (out / REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return report
