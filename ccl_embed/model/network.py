"""CCL's layers.

Stage 1, for each granularity (coarse instance, fine patches), both modalities:

- intra-modality: an autoencoder per modality (the paper's DBN / RSM, in modern layers) gives a
  code of each instance, or of each patch (patch codes are then averaged over the valid patches);
- inter-modality: a correspondence autoencoder on those codes: each modality's code is encoded
  again, the two resulting codes are tied by an L2 distance, and each decoder reconstructs its
  own modality's code; distance and reconstruction are optimised jointly with the intra part.

Multi-grained fusion, per modality: the instance's intra and inter codes and the patches' intra
and inter codes go through a joint network trained with the category constraint.

Stage 2, the hierarchical network: per modality, two layers into the common space of width D,
trained multi-task with the intra-modality category constraint (a cosine softmax whose class
prototypes both modalities share, or one classifier per modality as in the paper:
``CCLConfig.shared_prototypes``) and the inter-modality pairwise similarity constraint
(contrastive with a margin over every image-text pair of a batch), with fixed weights as in the
released code, or balanced adaptively as the paper describes (``CCLConfig.adaptive_weights``).
The pairwise constraint can also work at the instance level (``CCLConfig.use_instance``): a
symmetric InfoNCE whose positives are each image's own text and any identical text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ccl_embed.model.config import CCLConfig, DataSpec
from ccl_embed.model.statistics import CENTER_KINDS, Centers, Novelty, Standardize

CONSE_TOP = 10
"""ConSE mixes the text vectors of the image's top-10 ImageNet classes."""
TEXT_OFFSET_KEY = 0.5
"""The offset coordinate of every text vector of a model that routes photographs (``k``)."""


@dataclass
class Batch:
    """Model inputs for n items (image side and text side of n pairs).

    Attributes:
        image: ``[n, image_dim]`` pooled feature.
        logits: ``[n, classes]`` the image tower's ImageNet logits (for the ConSE feature).
        image_patches: ``[n, image_patches, image_dim]`` region features.
        text: ``[n, text_dim]``.
        text_patches: ``[n, text_patches, text_dim]`` fragment features (zero where masked).
        text_mask: ``[n, text_patches]`` True where a fragment exists.
        label: ``[n]`` category index, -1 where the category is not in the vocabulary.
        instance: ``[n]`` the id of each pair's text: equal ids are the same text, an instance's
            positives (None: every pair is its own instance).
        bow: ``[n, text_bow]`` hashed bag of words of each text (None: the model uses none).
    """

    image: Tensor
    logits: Tensor
    image_patches: Tensor
    text: Tensor
    text_patches: Tensor
    text_mask: Tensor
    label: Tensor
    instance: Tensor | None = None
    bow: Tensor | None = None

    def __len__(self) -> int:
        return int(self.image.shape[0])

    def take(self, idx: Tensor) -> Batch:
        image, logits, patches, text, fragments, mask, label = (
            t[idx] for t in (self.image, self.logits, self.image_patches, self.text, self.text_patches, self.text_mask,
                             self.label))
        return Batch(image, logits, patches, text, fragments, mask, label,
                     None if self.instance is None else self.instance[idx],
                     None if self.bow is None else self.bow[idx])


class AutoEncoder(nn.Module):
    """One hidden code; ``encode`` and a reconstruction loss."""

    def __init__(self, dim: int, code: int) -> None:
        super().__init__()
        self.enc = nn.Linear(dim, code)
        self.dec = nn.Linear(code, dim)

    def encode(self, x: Tensor) -> Tensor:
        return torch.tanh(self.enc(x))

    def reconstruction(self, x: Tensor, h: Tensor) -> Tensor:
        return F.mse_loss(self.dec(h), x)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean over dim 1 of ``[n, p, d]`` where ``mask [n, p]`` is True."""
    w = mask.to(x.dtype).unsqueeze(-1)
    return (x * w).sum(1) / w.sum(1).clamp(min=1.0)


class Granularity(nn.Module):
    """Stage 1 for one granularity: intra autoencoders and a correspondence autoencoder."""

    def __init__(self, image_dim: int, text_dim: int, hidden: int, code: int, corr: bool = True) -> None:
        super().__init__()
        self.intra_image = AutoEncoder(image_dim, hidden)
        self.intra_text = AutoEncoder(text_dim, hidden)
        # The inter-modality association; without it (``CCLConfig.use_corr``) the codes are intra-only.
        self.corr_image = AutoEncoder(hidden, code) if corr else None
        self.corr_text = AutoEncoder(hidden, code) if corr else None

    @staticmethod
    def _intra(ae: AutoEncoder, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        h = ae.encode(x)
        if mask is None:
            return h, ae.reconstruction(x, h)
        per_item = F.mse_loss(ae.dec(h), x, reduction="none").mean(-1)
        rec = (per_item * mask).sum() / mask.sum().clamp(min=1.0)
        return masked_mean(h, mask), rec

    def codes(self, x: Tensor, modality: str, mask: Tensor | None = None) -> tuple[Tensor, ...]:
        """(intra code, inter code) of one modality, or (intra code,) without the correspondence
        autoencoder; patches ``[n, p, d]`` need ``mask``."""
        intra = self.intra_image if modality == "image" else self.intra_text
        corr = self.corr_image if modality == "image" else self.corr_text
        h, _ = self._intra(intra, x, mask)
        return (h,) if corr is None else (h, corr.encode(h))

    def loss(self, xi: Tensor, xt: Tensor, mi: Tensor | None, mt: Tensor | None, distance_weight: float) -> Tensor:
        """Joint intra (reconstruction) and inter (code distance + reconstruction) loss."""
        hi, rec_i = self._intra(self.intra_image, xi, mi)
        ht, rec_t = self._intra(self.intra_text, xt, mt)
        if self.corr_image is None or self.corr_text is None:
            return rec_i + rec_t
        ci, ct = self.corr_image.encode(hi), self.corr_text.encode(ht)
        corr_rec = self.corr_image.reconstruction(hi, ci) + self.corr_text.reconstruction(ht, ct)
        distance = (ci - ct).pow(2).sum(-1).mean() / ci.shape[-1]
        return rec_i + rec_t + (1 - distance_weight) * corr_rec + distance_weight * distance


def _mlp(dims: list[int], dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers += [nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class CCL(nn.Module):
    """The whole model: input standardisation, stage 1, fusion, stage 2."""

    class_vectors: Tensor

    def __init__(self, config: CCLConfig, spec: DataSpec) -> None:
        super().__init__()
        self.config, self.spec = config, spec
        c, s = config, spec
        image_in = s.image_dim + (s.text_dim if c.conse_in_input else 0)
        text_in = s.text_dim + c.text_bow
        # Text-tower vectors of the image tower's class names, for the ConSE feature (set at training).
        self.register_buffer("class_vectors", torch.zeros(s.classes if c.use_conse else 0, s.text_dim))
        self.norm_image = Standardize(image_in)
        self.norm_image_patch = Standardize(s.image_dim)
        self.norm_text = Standardize(s.text_dim)
        self.norm_text_patch = Standardize(s.text_dim)
        self.novelty = Novelty(s.image_dim, c.novelty_rank)
        self.centers = Centers(c.dim + c.instance_part)
        n_labels = len(s.labels)
        if c.use_stage1:
            self.instance = Granularity(image_in, text_in, c.hidden, c.code, c.use_corr)
            self.patch = Granularity(s.image_dim, s.text_dim, c.hidden, c.code, c.use_corr) if c.use_patches else None
            fused_in = (c.hidden + (c.code if c.use_corr else 0)) * (2 if c.use_patches else 1)
            self.fuse_image = _mlp([fused_in, c.hidden, c.hidden], c.dropout)
            self.fuse_text = _mlp([fused_in, c.hidden, c.hidden], c.dropout)
            self.fuse_image_classifier = nn.Linear(c.hidden, n_labels)
            self.fuse_text_classifier = nn.Linear(c.hidden, n_labels)
        raw_image = image_in + (s.image_dim if c.use_patches else 0)
        raw_text = text_in + (s.text_dim if c.use_patches else 0)
        if c.use_stage1:
            top_image = c.hidden + (raw_image if c.stage2_skip else 0)
            top_text = c.hidden + (raw_text if c.stage2_skip else 0)
        else:
            top_image, top_text = raw_image, raw_text
        shared = c.instance_part if c.instance_head == "top" else 0
        self.top_image = _mlp([top_image, c.hidden, c.dim + shared], c.dropout)
        self.top_text = _mlp([top_text, c.hidden, c.dim + shared], c.dropout)
        own = c.instance_part if c.instance_head != "top" else 0
        raw_head = c.instance_head == "raw"
        self.instance_image = nn.Linear(raw_image if raw_head else top_image, own) if own else None
        self.instance_text = nn.Linear(raw_text if raw_head else top_text, own) if own else None
        self.prototypes = nn.Parameter(torch.randn(n_labels, c.dim) * 0.01)
        # The text side's own classes when each modality has its classifier (the paper's form).
        self.text_prototypes = None if c.shared_prototypes else nn.Parameter(torch.randn(n_labels, c.dim) * 0.01)
        # Uncertainty weights of stage 2's losses (log variances), learned when adaptive.
        self.log_vars = nn.Parameter(torch.zeros(len(self.stage2_parts)))
        # The instance InfoNCE's inverse temperature, learned in log space.
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / c.instance_temperature))) if c.use_instance else None

    @property
    def stage2_parts(self) -> tuple[str, ...]:
        """The losses stage 2 trains, in the order of ``log_vars``: the category constraints unless
        the corpus has no labels and the instance level stands alone."""
        c = self.config
        alone = c.use_instance and not self.spec.labelled
        parts = [] if alone else [n for n, on in (("intra", c.use_intra), ("inter", c.use_inter)) if on]
        return (*parts, "instance") if c.use_instance else tuple(parts)

    # ---- inputs -------------------------------------------------------------------------
    def fit_normalizers(self, batch: Batch) -> None:
        """Fix the standardisation statistics from the training inputs."""
        self.norm_image.fit(self._image_in(batch.image, batch.logits))
        self.norm_image_patch.fit(self._instance_norm(batch.image_patches))
        self.norm_text.fit(batch.text)
        self.norm_text_patch.fit(batch.text_patches[batch.text_mask])
        self.novelty.fit(batch.image)

    def _instance_norm(self, x: Tensor) -> Tensor:
        if not self.config.image_instance_norm:
            return x
        return (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True).clamp(min=1e-6)

    def _conse(self, logits: Tensor) -> Tensor:
        p = torch.softmax(logits, dim=-1)
        w, idx = torch.topk(p, CONSE_TOP, dim=-1)
        w = w / w.sum(-1, keepdim=True)
        return (w.unsqueeze(-1) * self.class_vectors[idx]).sum(1)

    def _text_semantic(self, text: Tensor) -> Tensor:
        """A text's semantic part: the text vector, moved towards the class names it is near
        (``CCLConfig.text_projection``)."""
        t = F.normalize(text, dim=-1)
        b = self.config.text_projection
        if b <= 0:
            return t
        cosines = t @ F.normalize(self.class_vectors, dim=-1).T
        projected = F.normalize(self._conse(cosines / self.config.text_projection_temperature), dim=-1)
        return (1.0 - b) * t + b * projected

    def _image_in(self, image: Tensor, logits: Tensor) -> Tensor:
        image = self._instance_norm(image)
        if not self.config.conse_in_input:
            return image
        return torch.cat([image, self._conse(logits)], -1)

    def _dropout(self, *xs: Tensor) -> tuple[Tensor, ...]:
        p = self.config.input_dropout
        return tuple(F.dropout(x, p) for x in xs) if p and self.training else xs

    def _image_inputs(self, image: Tensor, logits: Tensor, patches: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.norm_image(self._image_in(image, logits))
        p = self.norm_image_patch(self._instance_norm(patches))
        x, p = self._dropout(x, p)
        return x, p, torch.ones(patches.shape[:2], dtype=torch.bool, device=patches.device)

    def _text_inputs(self, text: Tensor, fragments: Tensor, mask: Tensor,
                     bow: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        x, p = self.norm_text(text), self.norm_text_patch(fragments) * mask.unsqueeze(-1)
        if self.config.text_bow:
            if bow is None:
                raise ValueError(f"this model reads a hashed bag of words of width {self.config.text_bow} "
                                 "beside each text vector; pass bow (ccl_embed.runtime.bow.hashed_bow)")
            # Unit-length rows, scaled to the length of a standardised text vector (sqrt(text_dim)).
            x = torch.cat([x, bow * self.spec.text_dim**0.5], -1)
        x, p = self._dropout(x, p)
        return x, p, mask

    def _inputs(self, b: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        xi, pi, mi = self._image_inputs(b.image, b.logits, b.image_patches)
        xt, pt, mt = self._text_inputs(b.text, b.text_patches, b.text_mask, b.bow)
        return xi, pi, xt, pt, mi, mt

    # ---- stage 1 -------------------------------------------------------------------------
    def stage1_loss(self, b: Batch) -> Tensor:
        xi, pi, xt, pt, mi, mt = self._inputs(b)
        w = self.config.corr_distance_weight
        loss = self.instance.loss(xi, xt, None, None, w)
        if self.patch is not None:
            loss = loss + self.patch.loss(pi, pt, mi, mt, w)
        return loss

    def _raw(self, x: Tensor, p: Tensor, m: Tensor) -> Tensor:
        return torch.cat([x, masked_mean(p, m)], -1) if self.config.use_patches else x

    def _fused(self, modality: str, x: Tensor, p: Tensor, m: Tensor) -> Tensor:
        parts = list(self.instance.codes(x, modality))
        if self.patch is not None:
            parts += self.patch.codes(p, modality, m)
        fuse = self.fuse_image if modality == "image" else self.fuse_text
        return fuse(torch.cat(parts, -1))

    def fused(self, b: Batch) -> tuple[Tensor, Tensor]:
        """Per-modality multi-grained representations (stage 1 output)."""
        xi, pi, xt, pt, mi, mt = self._inputs(b)
        return self._fused("image", xi, pi, mi), self._fused("text", xt, pt, mt)

    def fusion_loss(self, b: Batch) -> Tensor:
        ri, rt = self.fused(b)
        known = b.label >= 0
        return (F.cross_entropy(self.fuse_image_classifier(ri)[known], b.label[known])
                + F.cross_entropy(self.fuse_text_classifier(rt)[known], b.label[known]))

    # ---- stage 2 -------------------------------------------------------------------------
    def _parts(self, modality: str, x: Tensor, p: Tensor, m: Tensor) -> tuple[Tensor, Tensor | None]:
        """Stage 2's unit vectors: the category part and, with ``instance_dim``, the instance part."""
        raw = r = self._raw(x, p, m)
        if self.config.use_stage1:
            f = F.relu(self._fused(modality, x, p, m))
            r = torch.cat([f, r], -1) if self.config.stage2_skip else f
        top = self.top_image if modality == "image" else self.top_text
        out = top(r)
        d = self.config.dim
        if not self.config.instance_part:
            return F.normalize(out, dim=-1), None
        head = self.instance_image if modality == "image" else self.instance_text
        if head is not None:  # a linear layer of its own
            return F.normalize(out, dim=-1), F.normalize(head(raw if self.config.instance_head == "raw" else r), dim=-1)
        return F.normalize(out[:, :d], dim=-1), F.normalize(out[:, d:], dim=-1)

    def _join(self, category: Tensor, instance: Tensor | None, kind: str | None = None) -> Tensor:
        """One unit vector: ``[sqrt(1 - a) category, sqrt(a) instance]`` (``a``: ``instance_share``),
        each part first centred on the training mean of its ``kind`` (see ``CCLConfig.centering``)."""
        category, instance = self._centered(category, instance, kind)
        if instance is None:
            return category
        a = self.config.instance_share
        return torch.cat([category * (1.0 - a) ** 0.5, instance * a**0.5], -1)

    def _centered(self, category: Tensor, instance: Tensor | None, kind: str | None) -> tuple[Tensor, Tensor | None]:
        """``normalize(part - b * mean)`` for each part (``b``: ``CCLConfig.centering``): a vector
        close to the mean of its kind, one that every query finds similar (a hub), moves away from
        the queries it would crowd; unchanged when ``b`` is 0 or the centres were never fitted."""
        b = self.config.centering
        if kind is None or b <= 0:
            return category, instance
        if not bool(self.centers.fitted):
            raise ValueError("this model's centres were never fitted, so it cannot centre its vectors; fit them on the "
                             "training pairs (model.fit_centers) or set centering=0")
        mean = self.centers.of(kind)
        d = self.config.dim
        category = F.normalize(category - b * mean[:d], dim=-1)
        if instance is not None:
            instance = F.normalize(instance - b * mean[d:], dim=-1)
        return category, instance

    def _embed(self, modality: str, x: Tensor, p: Tensor, m: Tensor, kind: str | None = None) -> Tensor:
        return self._join(*self._parts(modality, x, p, m), kind=kind)

    @torch.no_grad()
    def fit_centers(self, batch: Batch, chunk: int = 4096) -> None:
        """Fix the centres (:class:`Centers`) from the training pairs, in eval mode."""
        was_training = self.training
        self.eval()
        sums = torch.zeros_like(self.centers.means, dtype=torch.float64)
        for start in range(0, len(batch), chunk):
            b = batch.take(torch.arange(start, min(start + chunk, len(batch))))
            xi, pi, xt, pt, mi, mt = self._inputs(b)
            vectors = {"image": self._parts("image", xi, pi, mi), "text": self._parts("text", xt, pt, mt)}
            if self.config.use_conse:
                semantic = self._conse(b.logits)
                vectors["described"] = self._parts("text", *self._described_inputs(semantic))
            for kind, (category, instance) in vectors.items():
                joined = category if instance is None else torch.cat([category, instance], -1)
                sums[CENTER_KINDS.index(kind)] += joined.double().sum(0)
        self.centers.means.copy_((sums / max(len(batch), 1)).to(self.centers.means.dtype))
        self.centers.fitted.fill_(1.0)
        self.train(was_training)

    @property
    def common_dim(self) -> int:
        """Width of the learned common space: D, plus the instance part's width."""
        return self.config.dim + self.config.instance_part

    @property
    def out_dim(self) -> int:
        """Width of the output vectors: the common space, plus the text width when a semantic part
        is appended, plus one offset coordinate when photographs are routed."""
        c = self.config
        return self.common_dim + (self.spec.text_dim if c.semantic_weight > 0 else 0) + (1 if c.routes_photos else 0)

    def _with_semantic(self, z: Tensor, semantic: Tensor, w: Tensor | float) -> Tensor:
        """``[sqrt(1 - w) z, sqrt(w) semantic/|semantic|]``: unit length when ``z`` is."""
        return torch.cat([z * (1.0 - w) ** 0.5, F.normalize(semantic, dim=-1) * w**0.5], -1)

    def photo_gates(self, image: Tensor, logits: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Two ``[n, 1]`` switches of how much each image takes the ImageNet bridge, near 1 for images
        unlike the training images (photographs) and near 0 for those like them: the semantic
        weight's (``CCLConfig.photo_novelty``) and the common-space part's
        (``CCLConfig.described_novelty``; the same tensor when that is None). With
        ``CCLConfig.bridge_confidence`` and the classifier's ``logits``, an image the classifier is
        sure of takes the bridge too: each switch ``g`` becomes ``1 - (1 - g)(1 - h)``."""
        c = self.config
        if not bool(self.novelty.fitted):
            raise ValueError("this model's novelty statistics were never fitted, so it cannot weigh the ImageNet "
                             "bridge per image; fit them on the training images (model.novelty.fit) or set photo_semantic_weight=0")
        novelty = self.novelty(image).reshape(-1, 1)
        weight = torch.sigmoid((novelty - c.photo_novelty) / c.photo_gate_width)
        common = weight if c.described_novelty is None else torch.sigmoid((novelty - c.described_novelty) / c.photo_gate_width)
        if c.bridge_confidence is None or logits is None:
            return weight, common
        unsure = 1.0 - self.confidence_gate(logits, c.bridge_confidence)
        return 1.0 - (1.0 - weight) * unsure, 1.0 - (1.0 - common) * unsure

    def confidence_gate(self, logits: Tensor, middle: float) -> Tensor:
        """``[n, 1]``: how sure the image tower's classifier is of each image's kind, as a switch:
        ``sigmoid((p1 - middle) / bridge_confidence_width)``, ``p1`` the top class probability."""
        top = torch.softmax(logits, dim=-1).amax(-1, keepdim=True)
        return torch.sigmoid((top - middle) / self.config.bridge_confidence_width)

    def _described_inputs(self, semantic: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The text tower's inputs of a ConSE vector read as a one-fragment text."""
        rest = torch.zeros_like(semantic).unsqueeze(1).expand(-1, self.spec.text_patches - 1, -1)
        fragments = torch.cat([semantic.unsqueeze(1), rest], 1)
        first = torch.ones_like(semantic[:, :1], dtype=torch.bool)
        mask = torch.cat([first, torch.zeros_like(first).expand(-1, self.spec.text_patches - 1)], 1)
        # No words: zeros shaped from the input itself, so an exported graph keeps a dynamic batch.
        bow = (semantic[:, :1] * 0.0).expand(-1, self.config.text_bow) if self.config.text_bow else None
        return self._text_inputs(semantic, fragments, mask, bow)

    def _described(self, semantic: Tensor) -> Tensor:
        """The common-space vector of a ConSE vector read by the text tower as a one-fragment text."""
        return self._embed("text", *self._described_inputs(semantic), kind="described")

    def encode_image(self, image: Tensor, logits: Tensor, patches: Tensor) -> Tensor:
        """Unit vectors of images: pooled ``[n, image_dim]``, logits ``[n, classes]``, regions
        ``[n, r, image_dim]``."""
        z = self._embed("image", *self._image_inputs(image, logits, patches), kind="image")
        c = self.config
        if c.semantic_weight <= 0:
            return z
        semantic = self._conse(logits)
        drawing = c.semantic_weight if c.drawing_semantic_weight is None else c.drawing_semantic_weight
        if not c.routes_photos:
            return self._with_semantic(z, semantic, drawing)
        g, gz = self.photo_gates(image, logits)
        z = F.normalize((1.0 - gz) * z + gz * self._described(semantic), dim=-1)
        v = self._with_semantic(z, semantic, (1.0 - g) * drawing + g * c.photo_semantic_weight)
        e = g * c.photo_offset
        return torch.cat([v * (1.0 - e * e) ** 0.5, e], -1)

    def encode_text(self, text: Tensor, fragments: Tensor, mask: Tensor, bow: Tensor | None = None) -> Tensor:
        """Unit vectors of texts: ``[n, text_dim]``, fragments ``[n, f, text_dim]``, mask ``[n, f]``,
        hashed bag of words ``[n, text_bow]`` (only for a model with ``CCLConfig.text_bow``)."""
        z = self._embed("text", *self._text_inputs(text, fragments, mask, bow), kind="text")
        c = self.config
        if c.semantic_weight <= 0:
            return z
        u = self._with_semantic(z, self._text_semantic(text), c.semantic_weight)
        if not c.routes_photos:
            return u
        return torch.cat([u * (1.0 - TEXT_OFFSET_KEY**2) ** 0.5, u[:, :1] * 0.0 + TEXT_OFFSET_KEY], -1)

    def embed(self, b: Batch) -> tuple[Tensor, Tensor]:
        """Unit output vectors (with the semantic part, if configured), image side and text side."""
        return (self.encode_image(b.image, b.logits, b.image_patches),
                self.encode_text(b.text, b.text_patches, b.text_mask, b.bow))

    def stage2_losses(self, b: Batch) -> dict[str, Tensor]:
        xi, pi, xt, pt, mi, mt = self._inputs(b)
        zi, ii = self._parts("image", xi, pi, mi)
        zt, it = self._parts("text", xt, pt, mt)
        c = self.config
        parts = self.stage2_parts
        out: dict[str, Tensor] = {}
        known = b.label >= 0
        if "intra" in parts:
            protos = F.normalize(self.prototypes, dim=-1)
            text_protos = protos if self.text_prototypes is None else F.normalize(self.text_prototypes, dim=-1)
            out["intra"] = (F.cross_entropy(c.classifier_scale * zi[known] @ protos.T, b.label[known])
                            + F.cross_entropy(c.classifier_scale * zt[known] @ text_protos.T, b.label[known])) / 2
        if "inter" in parts:
            d = torch.cdist(zi, zt).clamp(min=1e-6)
            same = (b.label[:, None] == b.label[None, :]) & known[:, None]
            same = same | torch.eye(len(b), dtype=torch.bool, device=d.device)
            pos = d.pow(2)[same].mean()
            neg = F.relu(c.margin - d).pow(2)[~same]
            out["inter"] = pos + (neg.mean() if neg.numel() else d.new_zeros(()))
        if "instance" in parts:
            if ii is None or it is None:  # one space: beside the category constraints
                out["instance"] = self.instance_loss(zi, zt, b.instance)
            elif len(parts) == 1:  # alone (no labels): it trains the whole vector, both parts
                out["instance"] = self.instance_loss(self._join(zi, ii), self._join(zt, it), b.instance)
            elif c.instance_residual:  # its own part, learning what the category cosine misses
                out["instance"] = self.instance_loss(self._join(zi.detach(), ii), self._join(zt.detach(), it), b.instance)
            else:  # its own part
                out["instance"] = self.instance_loss(ii, it, b.instance)
        return out

    def instance_scale(self) -> Tensor:
        """The instance InfoNCE's learned inverse temperature, kept within [1, 100] (temperature [0.01, 1])."""
        if self.log_scale is None:
            raise RuntimeError("the instance level needs CCLConfig.use_instance")
        return self.log_scale.clamp(0.0, math.log(100.0)).exp()

    def instance_loss(self, zi: Tensor, zt: Tensor, instance: Tensor | None) -> Tensor:
        """Symmetric InfoNCE of unit vectors: image i against every text of the batch and text j
        against every image, positives where the instance ids agree (its own text, identical texts)."""
        logits = self.instance_scale() * zi @ zt.T
        if instance is None:
            pos = torch.eye(len(zi), dtype=torch.bool, device=zi.device)
        else:
            pos = instance[:, None] == instance[None, :]
        hidden = torch.finfo(logits.dtype).min

        def one_way(s: Tensor) -> Tensor:
            return (torch.logsumexp(s, 1) - torch.logsumexp(s.masked_fill(~pos, hidden), 1)).mean()

        return (one_way(logits) + one_way(logits.T)) / 2

    def stage2_loss(self, b: Batch) -> tuple[Tensor, dict[str, float]]:
        parts = self.stage2_losses(b)
        c = self.config
        # Fixed weights, or the instance multiplier on top of the adaptive balance.
        fixed = {"intra": c.intra_weight, "inter": c.inter_weight, "instance": c.instance_weight}
        total = b.image.new_zeros(())
        for i, name in enumerate(self.stage2_parts):
            if c.adaptive_weights:
                w = c.instance_weight if name == "instance" else 1.0
                total = total + w * torch.exp(-self.log_vars[i]) * parts[name] + self.log_vars[i]
            else:
                total = total + fixed[name] * parts[name]
        if self.log_scale is not None:
            parts["temperature"] = 1.0 / self.instance_scale()
        return total, {k: float(v.detach()) for k, v in parts.items()}
