"""Statistics CCL fixes from its training data: buffers, never trained, exported inside the heads.

- :class:`Standardize`: per-feature standardisation of the inputs (fitted before training);
- :class:`Novelty`: how unlike the training images an image is (fitted before training), which
  weighs the ImageNet bridge;
- :class:`Centers`: the mean common-space vector of each kind of item (fitted after training),
  for hubness reduction.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class Standardize(nn.Module):
    """Per-feature standardisation with statistics fixed at training time (buffers, exported)."""

    mean: Tensor
    std: Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def fit(self, x: Tensor) -> None:
        flat = x.reshape(-1, x.shape[-1])
        self.mean.copy_(flat.mean(0))
        self.std.copy_(flat.std(0).clamp(min=1e-4))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


class Novelty(nn.Module):
    """How unlike the training images an image is, from its pooled backbone feature alone.

    A Gaussian fitted to the training images' unit-length features: the Mahalanobis distance in
    their top ``rank`` principal directions plus the residual outside them (scaled by its mean
    variance), divided by the width. About 1 for images like the training ones, well above for
    photographs (measured on the held-out sets: benchmarks/research/tune_semantic.py). Buffers only, so
    it is exported inside the image head; ``fitted`` is 0 until :meth:`fit` ran.
    """

    mean: Tensor
    basis: Tensor
    inv_var: Tensor
    inv_rest: Tensor
    fitted: Tensor

    def __init__(self, dim: int, rank: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("basis", torch.zeros(rank, dim))
        self.register_buffer("inv_var", torch.ones(rank))
        self.register_buffer("inv_rest", torch.ones(()))
        self.register_buffer("fitted", torch.zeros(()))

    def fit(self, pooled: Tensor) -> None:
        """Fit the Gaussian to ``[n, dim]`` training features. With fewer images than the rank
        (tiny corpora) the directions they do not span are left to the residual."""
        x = F.normalize(pooled.double(), dim=-1)
        mean = x.mean(0)
        _, s, vt = torch.linalg.svd(x - mean, full_matrices=False)
        var = s.pow(2) / max(len(x) - 1, 1)
        k = min(self.basis.shape[0], max(len(var) - 1, 0))
        self.mean.copy_(mean)
        self.basis.zero_()
        self.basis[:k] = vt[:k]
        self.inv_var.zero_()
        self.inv_var[:k] = 1.0 / var[:k].clamp(min=1e-12)
        rest = var[k:].mean() if k < len(var) else torch.tensor(1.0, dtype=var.dtype)
        self.inv_rest.copy_(1.0 / rest.clamp(min=1e-12))
        self.fitted.fill_(1.0)

    def forward(self, pooled: Tensor) -> Tensor:
        d = F.normalize(pooled, dim=-1) - self.mean
        p = d @ self.basis.T
        inside = p.pow(2)
        rest = (d.pow(2).sum(-1) - inside.sum(-1)).clamp(min=0.0)
        return ((inside * self.inv_var).sum(-1) + rest * self.inv_rest) / d.shape[-1]


CENTER_KINDS = ("image", "text", "described")
"""What the centres are the means of: images through the image tower, texts through the text
tower, and images' ConSE vectors read by the text tower (the ImageNet bridge's vectors)."""


class Centers(nn.Module):
    """Mean unit vectors of the training items in the learned common space, one per kind of
    vector (:data:`CENTER_KINDS`) and part (category, instance), for hubness reduction
    (``CCLConfig.centering``). Buffers only, so the exported heads carry them; ``fitted`` is 0
    until :meth:`CCL.fit_centers` ran (models trained before them load unfitted)."""

    means: Tensor
    fitted: Tensor

    def __init__(self, width: int) -> None:
        super().__init__()
        self.register_buffer("means", torch.zeros(len(CENTER_KINDS), width))
        self.register_buffer("fitted", torch.zeros(()))

    def of(self, kind: str) -> Tensor:
        return self.means[CENTER_KINDS.index(kind)]
