"""The readout: what turns CCL's unit vectors into the vector that is stored and searched.

The network (``ccl_embed.model.network``) is the paper's two stages and their losses; the readout
composes onto it and export traces both into the heads. It is set by :class:`ReadoutConfig` and
never trained. A stored vector is, part by part (:func:`vector_layout`):

1. the **common space**: ``[sqrt(1 - a) category, sqrt(a) instance]`` (``a``: ``instance_share``),
   each part first centred on the training mean of its kind (``centering``, hubness reduction);
2. with ``semantic_weight`` ``w > 0``, the **semantic part** appended, ``sqrt(w)`` times a unit
   vector: an image's ConSE vector (its ImageNet classes' name vectors), a text's text-tower
   vector (moved ``text_projection`` of the way to the class names it is near); the common space
   is scaled by ``sqrt(1 - w)``. Drawings take ``drawing_semantic_weight`` instead of ``w``;
3. with ``photo_semantic_weight``, the **photograph route**: each image's novelty (how unlike the
   training images its backbone feature is) sets a switch ``g``; a routed image takes the
   photographs' semantic weight, its common-space part moves to the text tower reading its ConSE
   vector (the ImageNet bridge), and one **offset coordinate** is appended to every vector:
   ``g * photo_offset`` for images, :data:`TEXT_OFFSET_KEY` for texts.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from ccl_embed.model.config import CCLConfig, DataSpec
from ccl_embed.model.statistics import CENTER_KINDS

CCL = Any
"""The network (``ccl_embed.model.network.CCL``); the readout reads it without importing it, so
imports point one way: the network composes the readout."""
Batch = Any

TEXT_OFFSET_KEY = 0.5
"""The offset coordinate of every text vector of a model that routes photographs (``k``)."""


def vector_layout(config: CCLConfig, spec: DataSpec) -> dict[str, tuple[int, int]]:
    """Where each part of a stored vector lies: ``{part: (start, stop)}``, for ``category``,
    ``instance`` (absent without an instance part), ``semantic`` (absent without a semantic
    part) and ``offset`` (absent unless photographs are routed)."""
    m, r = config.model, config.readout
    layout = {"category": (0, m.dim)}
    end = m.dim
    if m.instance_part:
        layout["instance"] = (end, end + m.instance_part)
        end += m.instance_part
    if r.semantic_weight > 0:
        layout["semantic"] = (end, end + spec.text_dim)
        end += spec.text_dim
    if r.routes_photos:
        layout["offset"] = (end, end + 1)
    return layout


def out_dim(config: CCLConfig, spec: DataSpec) -> int:
    """Width of the stored vectors."""
    return max(stop for _, stop in vector_layout(config, spec).values())


def centered(net: CCL, category: Tensor, instance: Tensor | None, kind: str) -> tuple[Tensor, Tensor | None]:
    """``normalize(part - b * mean)`` for each part (``b``: ``centering``): a vector close to the mean
    of its kind, one that every query finds similar (a hub), moves away from the queries it would
    crowd; unchanged when ``b`` is 0."""
    b = net.config.readout.centering
    if b <= 0:
        return category, instance
    if not bool(net.centers.fitted):
        raise ValueError("this model's centres were never fitted, so it cannot centre its vectors; fit them on the "
                         "training pairs (readout.fit_centers) or set centering=0")
    mean = net.centers.of(kind)
    d = net.config.model.dim
    category = F.normalize(category - b * mean[:d], dim=-1)
    if instance is not None:
        instance = F.normalize(instance - b * mean[d:], dim=-1)
    return category, instance


def join(net: CCL, category: Tensor, instance: Tensor | None, kind: str | None = None) -> Tensor:
    """One unit vector of the common space, ``[sqrt(1 - a) category, sqrt(a) instance]``, each part
    centred on the training mean of its ``kind`` first (None: not centred, as in training)."""
    if kind is not None:
        category, instance = centered(net, category, instance, kind)
    if instance is None:
        return category
    a = net.config.readout.instance_share
    return torch.cat([category * (1.0 - a) ** 0.5, instance * a**0.5], -1)


def _with_semantic(z: Tensor, semantic: Tensor, w: Tensor | float) -> Tensor:
    """``[sqrt(1 - w) z, sqrt(w) semantic/|semantic|]``: unit length when ``z`` is."""
    return torch.cat([z * (1.0 - w) ** 0.5, F.normalize(semantic, dim=-1) * w**0.5], -1)


def text_semantic(net: CCL, text: Tensor) -> Tensor:
    """A text's semantic part: its text-tower vector, moved ``text_projection`` of the way to the
    ConSE mix of the class names it is near (softmax of cosines over ``text_projection_temperature``)."""
    r = net.config.readout
    t = F.normalize(text, dim=-1)
    if r.text_projection <= 0:
        return t
    cosines = t @ F.normalize(net.class_vectors, dim=-1).T
    projected = F.normalize(net.conse(cosines / r.text_projection_temperature), dim=-1)
    return (1.0 - r.text_projection) * t + r.text_projection * projected


def photo_gate(net: CCL, image: Tensor) -> Tensor:
    """``[n, 1]``: how much each image takes the ImageNet bridge, near 1 for images unlike the
    training images (photographs), near 0 for those like them."""
    r = net.config.readout
    if not bool(net.novelty.fitted):
        raise ValueError("this model's novelty statistics were never fitted, so it cannot weigh the ImageNet bridge "
                         "per image; fit them on the training images (model.novelty.fit) or set photo_semantic_weight=0")
    novelty = net.novelty(image).reshape(-1, 1)
    return torch.sigmoid((novelty - r.photo_novelty) / r.photo_gate_width)


def described_inputs(net: CCL, semantic: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The text tower's inputs of a ConSE vector read as a one-fragment text."""
    patches = net.spec.text_patches
    rest = torch.zeros_like(semantic).unsqueeze(1).expand(-1, patches - 1, -1)
    fragments = torch.cat([semantic.unsqueeze(1), rest], 1)
    first = torch.ones_like(semantic[:, :1], dtype=torch.bool)
    mask = torch.cat([first, torch.zeros_like(first).expand(-1, patches - 1)], 1)
    bow_dim = net.config.model.text_bow
    # No words: zeros shaped from the input itself, so an exported graph keeps a dynamic batch.
    bow = (semantic[:, :1] * 0.0).expand(-1, bow_dim) if bow_dim else None
    return net.text_inputs(semantic, fragments, mask, bow)


def encode_image(net: CCL, image: Tensor, logits: Tensor, patches: Tensor) -> Tensor:
    """Stored vectors of images: pooled ``[n, image_dim]``, logits ``[n, classes]``, regions ``[n, r, image_dim]``."""
    category, instance = net.parts("image", *net.image_inputs(image, logits, patches))
    z = join(net, category, instance, kind="image")
    r = net.config.readout
    if r.semantic_weight <= 0:
        return z
    semantic = net.conse(logits)
    drawing = r.semantic_weight if r.drawing_semantic_weight is None else r.drawing_semantic_weight
    if not r.routes_photos:
        return _with_semantic(z, semantic, drawing)
    g = photo_gate(net, image)
    category, instance = net.parts("text", *described_inputs(net, semantic))
    described = join(net, category, instance, kind="described")
    z = F.normalize((1.0 - g) * z + g * described, dim=-1)
    v = _with_semantic(z, semantic, (1.0 - g) * drawing + g * r.photo_semantic_weight)
    e = g * r.photo_offset
    return torch.cat([v * (1.0 - e * e) ** 0.5, e], -1)


def encode_text(net: CCL, text: Tensor, fragments: Tensor, mask: Tensor, bow: Tensor | None = None) -> Tensor:
    """Stored vectors of texts: ``[n, text_dim]``, fragments ``[n, f, text_dim]``, mask ``[n, f]``,
    hashed bag of words ``[n, text_bow]`` (for a model with ``ModelConfig.text_bow``)."""
    category, instance = net.parts("text", *net.text_inputs(text, fragments, mask, bow))
    z = join(net, category, instance, kind="text")
    r = net.config.readout
    if r.semantic_weight <= 0:
        return z
    u = _with_semantic(z, text_semantic(net, text), r.semantic_weight)
    if not r.routes_photos:
        return u
    return torch.cat([u * (1.0 - TEXT_OFFSET_KEY**2) ** 0.5, u[:, :1] * 0.0 + TEXT_OFFSET_KEY], -1)


@torch.no_grad()
def fit_centers(net: CCL, batch: Batch, chunk: int = 4096) -> None:
    """Fix the centres (``net.centers``) from the training pairs, in eval mode."""
    was_training = net.training
    net.eval()
    sums = torch.zeros_like(net.centers.means, dtype=torch.float64)
    for start in range(0, len(batch), chunk):
        b = batch.take(torch.arange(start, min(start + chunk, len(batch))))
        vectors = {"image": net.parts("image", *net.image_inputs(b.image, b.logits, b.image_patches)),
                   "text": net.parts("text", *net.text_inputs(b.text, b.text_patches, b.text_mask, b.bow))}
        if net.config.model.use_conse:
            vectors["described"] = net.parts("text", *described_inputs(net, net.conse(b.logits)))
        for kind, (category, instance) in vectors.items():
            joined = category if instance is None else torch.cat([category, instance], -1)
            sums[CENTER_KINDS.index(kind)] += joined.double().sum(0)
    net.centers.means.copy_((sums / max(len(batch), 1)).to(net.centers.means.dtype))
    net.centers.fitted.fill_(1.0)
    net.train(was_training)
