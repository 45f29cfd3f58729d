"""Two-tower baselines: CLIP-style linear heads on the frozen pooled features.

``infonce``: symmetric cross-entropy over the in-batch similarity matrix with a learned
temperature; pairs of the same concept inside a batch (the same emoji in two styles) are not used
as negatives. ``supervised`` (``InfoNCEConfig.category_weight > 0``): the same heads and loss plus
a category softmax on each head's unit output, through one cosine classifier both modalities share
(as DSCMR's label space does), so that a comparison with CCL shows what CCL's structure adds
beyond using the labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ccl_embed.errors import require
from ccl_embed.train.features import FeatureSet


@dataclass(frozen=True)
class InfoNCEConfig:
    """Training settings (chosen on the validation split)."""

    dim: int = 256
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    init_temperature: float = 0.07
    category_weight: float = 0.0
    """Weight of the category softmax (one classifier for both modalities) beside the contrastive loss (0: none)."""
    classifier_scale: float = 16.0
    """Scale of the cosine classifiers' logits."""
    seed: int = 0


@dataclass
class InfoNCEEncoders:
    image_head: object
    text_head: object

    def _apply(self, head: object, x: np.ndarray) -> np.ndarray:
        torch = require("torch", "train")
        with torch.inference_mode():
            out = head(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))  # type: ignore[operator]
        return out.numpy()

    def encode_images(self, features: FeatureSet) -> np.ndarray:
        return self._apply(self.image_head, features.image["pool"])

    def encode_texts(self, features: FeatureSet) -> np.ndarray:
        return self._apply(self.text_head, features.text)


def fit_infonce(train: FeatureSet, val: FeatureSet | None = None, config: InfoNCEConfig | None = None) -> InfoNCEEncoders:
    """Train the two linear heads on the training pairs."""
    torch = require("torch", "train")
    cfg = config or InfoNCEConfig()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    x = torch.from_numpy(train.image["pool"].astype(np.float32))
    y = torch.from_numpy(train.text.astype(np.float32))
    keys = np.unique([p.key for p in train.pairs], return_inverse=True)[1]
    k = torch.from_numpy(keys)
    names = sorted({p.label for p in train.pairs if p.label is not None})
    index = {name: i for i, name in enumerate(names)}
    labels = torch.tensor([-1 if p.label is None else index[p.label] for p in train.pairs])
    classify = cfg.category_weight > 0 and len(names) >= 2
    image_head = torch.nn.Linear(x.shape[1], cfg.dim)
    text_head = torch.nn.Linear(y.shape[1], cfg.dim)
    log_scale = torch.nn.Parameter(torch.tensor(float(np.log(1 / cfg.init_temperature))))
    classes = torch.nn.Parameter(torch.randn(len(names), cfg.dim) * 0.01) if classify else None
    params = [*image_head.parameters(), *text_head.parameters(), log_scale, *([classes] if classes is not None else [])]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * max(1, -(-len(x) // cfg.batch_size))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(cfg.epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            a = torch.nn.functional.normalize(image_head(x[idx]), dim=-1)
            b = torch.nn.functional.normalize(text_head(y[idx]), dim=-1)
            logits = log_scale.exp().clamp(max=100) * a @ b.T
            same = k[idx][:, None] == k[idx][None, :]
            eye = torch.eye(len(idx), dtype=torch.bool)
            logits = logits.masked_fill(same & ~eye, float("-inf"))
            target = torch.arange(len(idx))
            loss = (torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target)) / 2
            if classes is not None:
                loss = loss + cfg.category_weight * _category_loss(a, b, labels[idx], classes, cfg.classifier_scale)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return InfoNCEEncoders(image_head.eval(), text_head.eval())


def _category_loss(a: Any, b: Any, labels: Any, classes: Any, scale: float) -> Any:
    """The category softmax of both modalities through one cosine classifier, over the labelled rows
    (torch tensors; torch is imported lazily here, so they are typed loosely)."""
    torch = require("torch", "train")
    known = labels >= 0
    if not bool(known.any()):
        return torch.zeros(())
    protos = torch.nn.functional.normalize(classes, dim=-1)
    return sum(torch.nn.functional.cross_entropy(scale * z[known] @ protos.T, labels[known]) for z in (a, b)) / 2
