"""Deterministic splits by concept, plus art styles held out whole.

A concept (what a pair shows) lands in exactly one of train / val / test, chosen by a salted
hash, so the split of a concept does not depend on what else is in the corpus. Every image of
the held-out style goes to the ``style`` split instead: it measures transfer to a style never
seen in training or validation. A second style can be held out as ``style-val``, so that choices
about style transfer are made on validation data and the ``style`` split stays unseen. More
styles can be held out, each as its own ``style-*`` split (``SplitConfig.held_out``), for
example a 3D-rendered style for testing and another for validation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ccl_embed.data.corpus import Pair

SPLITS = ("train", "val", "test", "style-val", "style", "photos", "photos-val")
FIXED_SPLITS = ("photos", "photos-val")
"""Splits that evaluation-only sources set themselves (never reassigned, never trained on)."""


@dataclass(frozen=True)
class SplitConfig:
    """How pairs are split.

    Attributes:
        seed: Salt of the concept hash; change it to draw other splits.
        val: Fraction of concepts for validation (tuning only).
        test: Fraction of concepts for the test split (reported, never tuned on).
        holdout_style: The style whose images all go to the ``style`` split (None: none).
        val_style: The style whose images all go to the ``style-val`` split (None: none).
        held_out: More (style, split) pairs: every image of the style goes to that ``style-*`` split.
    """

    seed: int = 0
    val: float = 0.15
    test: float = 0.15
    holdout_style: str | None = None
    val_style: str | None = None
    held_out: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "held_out", tuple((str(a), str(b)) for a, b in self.held_out))
        if self.holdout_style is not None and self.holdout_style == self.val_style:
            raise ValueError(f"SplitConfig: {self.holdout_style!r} cannot be both the held-out and the validation style")
        styles = [s for s in (self.holdout_style, self.val_style) if s is not None] + [s for s, _ in self.held_out]
        splits = [s for s, on in (("style", self.holdout_style), ("style-val", self.val_style)) if on] + [t for _, t in self.held_out]
        for style, split in self.held_out:
            if not split.startswith("style-") or split in FIXED_SPLITS:
                raise ValueError(f"SplitConfig.held_out: {style}={split}: name the split style-SOMETHING")
        if len(set(styles)) != len(styles) or len(set(splits)) != len(splits):
            raise ValueError(f"SplitConfig: each held-out style needs its own split ({', '.join(f'{a}={b}' for a, b in zip(styles, splits))})")
        for name in ("val", "test"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"SplitConfig.{name}={value!r}: must be a fraction between 0 and 1")
        if self.val + self.test >= 1.0:
            raise ValueError(
                f"SplitConfig: val + test = {self.val + self.test:.2f} leaves nothing to train on; keep it below 1"
            )


def concept_split(concept: str, config: SplitConfig) -> str:
    """The split (``train``, ``val`` or ``test``) of one concept."""
    digest = hashlib.sha256(f"{config.seed}\x00{concept}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < config.test:
        return "test"
    if u < config.test + config.val:
        return "val"
    return "train"


def assign_splits(pairs: Iterable[Pair], config: SplitConfig) -> list[Pair]:
    """Give every pair its split; pairs of the held-out styles go to ``style`` and ``style-val``."""
    out = []
    extra = dict(config.held_out)
    for p in pairs:
        if p.split in FIXED_SPLITS:  # evaluation-only sources fix their own split
            out.append(p)
        elif config.holdout_style is not None and p.style == config.holdout_style:
            out.append(replace(p, split="style"))
        elif config.val_style is not None and p.style == config.val_style:
            out.append(replace(p, split="style-val"))
        elif p.style in extra:
            out.append(replace(p, split=extra[p.style]))
        else:
            out.append(replace(p, split=concept_split(p.key, config)))
    return out
