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

from ccl_embed.model import readout
from ccl_embed.model.config import CCLConfig, DataSpec
from ccl_embed.model.statistics import Centers, Novelty, Standardize

CONSE_TOP = 10
"""ConSE mixes the text vectors of the image's top-10 ImageNet classes."""


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
    """The network: input standardisation, stage 1, fusion, stage 2, and the statistics fixed from
    the training data (standardisation, novelty, centres, class-name vectors) that the readout
    (``ccl_embed.model.readout``) reads."""

    class_vectors: Tensor

    def __init__(self, config: CCLConfig, spec: DataSpec) -> None:
        super().__init__()
        self.config, self.spec = config, spec
        c, s = config.model, spec
        image_in = s.image_dim + (s.text_dim if c.conse_in_input else 0)
        text_in = s.text_dim + c.text_bow
        # Text-tower vectors of the image tower's class names, for the ConSE feature (set at training).
        self.register_buffer("class_vectors", torch.zeros(s.classes if c.use_conse else 0, s.text_dim))
        self.norm_image = Standardize(image_in)
        self.norm_image_patch = Standardize(s.image_dim)
        self.norm_text = Standardize(s.text_dim)
        self.norm_text_patch = Standardize(s.text_dim)
        self.novelty = Novelty(s.image_dim, c.novelty_rank)
        self.centers = Centers(c.common_dim)
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
        self.top_image = _mlp([top_image, c.hidden, c.dim], c.dropout)
        self.top_text = _mlp([top_text, c.hidden, c.dim], c.dropout)
        # The instance part: one linear layer on the standardised inputs (instance and mean patch).
        own = c.instance_part
        self.instance_image = nn.Linear(raw_image, own) if own else None
        self.instance_text = nn.Linear(raw_text, own) if own else None
        self.prototypes = nn.Parameter(torch.randn(n_labels, c.dim) * 0.01)
        # The text side's own classes when each modality has its classifier (the paper's form).
        self.text_prototypes = None if c.shared_prototypes else nn.Parameter(torch.randn(n_labels, c.dim) * 0.01)
        # Uncertainty weights of stage 2's losses (log variances), learned when adaptive.
        self.log_vars = nn.Parameter(torch.zeros(len(self.stage2_parts)))
        # The instance InfoNCE's inverse temperature, learned in log space.
        self.log_scale = (nn.Parameter(torch.tensor(math.log(1.0 / config.train.instance_temperature)))
                          if c.use_instance else None)

    @property
    def stage2_parts(self) -> tuple[str, ...]:
        """The losses stage 2 trains, in the order of ``log_vars``: the category constraints unless
        the corpus has no labels and the instance level stands alone."""
        c, t = self.config.model, self.config.train
        alone = c.use_instance and not self.spec.labelled
        parts = [] if alone else [n for n, on in (("intra", t.use_intra), ("inter", t.use_inter)) if on]
        return (*parts, "instance") if c.use_instance else tuple(parts)

    # ---- inputs -------------------------------------------------------------------------
    def fit_normalizers(self, batch: Batch) -> None:
        """Fix the standardisation statistics from the training inputs."""
        self.norm_image.fit(self._image_in(batch.image, batch.logits))
        self.norm_image_patch.fit(batch.image_patches)
        self.norm_text.fit(batch.text)
        self.norm_text_patch.fit(batch.text_patches[batch.text_mask])
        self.novelty.fit(batch.image)

    def conse(self, logits: Tensor) -> Tensor:
        """The ConSE vector: the class-name vectors of the top classes, weighted by their probabilities."""
        p = torch.softmax(logits, dim=-1)
        w, idx = torch.topk(p, CONSE_TOP, dim=-1)
        w = w / w.sum(-1, keepdim=True)
        return (w.unsqueeze(-1) * self.class_vectors[idx]).sum(1)

    def _image_in(self, image: Tensor, logits: Tensor) -> Tensor:
        if not self.config.model.conse_in_input:
            return image
        return torch.cat([image, self.conse(logits)], -1)

    def _dropout(self, *xs: Tensor) -> tuple[Tensor, ...]:
        p = self.config.train.input_dropout
        return tuple(F.dropout(x, p) for x in xs) if p and self.training else xs

    def image_inputs(self, image: Tensor, logits: Tensor, patches: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Standardised image inputs: (instance, regions, region mask)."""
        x = self.norm_image(self._image_in(image, logits))
        p = self.norm_image_patch(patches)
        x, p = self._dropout(x, p)
        return x, p, torch.ones(patches.shape[:2], dtype=torch.bool, device=patches.device)

    def text_inputs(self, text: Tensor, fragments: Tensor, mask: Tensor,
                    bow: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Standardised text inputs: (instance with its bag of words, fragments, fragment mask)."""
        x, p = self.norm_text(text), self.norm_text_patch(fragments) * mask.unsqueeze(-1)
        if self.config.model.text_bow:
            if bow is None:
                raise ValueError(f"this model reads a hashed bag of words of width {self.config.model.text_bow} "
                                 "beside each text vector; pass bow (ccl_embed.runtime.bow.hashed_bow)")
            # Unit-length rows, scaled to the length of a standardised text vector (sqrt(text_dim)).
            x = torch.cat([x, bow * self.spec.text_dim**0.5], -1)
        x, p = self._dropout(x, p)
        return x, p, mask

    def _inputs(self, b: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        xi, pi, mi = self.image_inputs(b.image, b.logits, b.image_patches)
        xt, pt, mt = self.text_inputs(b.text, b.text_patches, b.text_mask, b.bow)
        return xi, pi, xt, pt, mi, mt

    # ---- stage 1 -------------------------------------------------------------------------
    def stage1_loss(self, b: Batch) -> Tensor:
        xi, pi, xt, pt, mi, mt = self._inputs(b)
        w = self.config.train.corr_distance_weight
        loss = self.instance.loss(xi, xt, None, None, w)
        if self.patch is not None:
            loss = loss + self.patch.loss(pi, pt, mi, mt, w)
        return loss

    def _raw(self, x: Tensor, p: Tensor, m: Tensor) -> Tensor:
        return torch.cat([x, masked_mean(p, m)], -1) if self.config.model.use_patches else x

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
    def parts(self, modality: str, x: Tensor, p: Tensor, m: Tensor) -> tuple[Tensor, Tensor | None]:
        """Stage 2's unit vectors of standardised inputs: the category part and, with an instance
        part (``ModelConfig.instance_dim``), the instance part."""
        c = self.config.model
        raw = r = self._raw(x, p, m)
        if c.use_stage1:
            f = F.relu(self._fused(modality, x, p, m))
            r = torch.cat([f, r], -1) if c.stage2_skip else f
        top = self.top_image if modality == "image" else self.top_text
        category = F.normalize(top(r), dim=-1)
        head = self.instance_image if modality == "image" else self.instance_text
        return category, (None if head is None else F.normalize(head(raw), dim=-1))

    def encode_image(self, image: Tensor, logits: Tensor, patches: Tensor) -> Tensor:
        """The stored vectors of images (``ccl_embed.model.readout.encode_image``)."""
        return readout.encode_image(self, image, logits, patches)

    def encode_text(self, text: Tensor, fragments: Tensor, mask: Tensor, bow: Tensor | None = None) -> Tensor:
        """The stored vectors of texts (``ccl_embed.model.readout.encode_text``)."""
        return readout.encode_text(self, text, fragments, mask, bow)

    def embed(self, b: Batch) -> tuple[Tensor, Tensor]:
        """The stored vectors of a batch's image side and text side."""
        return (self.encode_image(b.image, b.logits, b.image_patches),
                self.encode_text(b.text, b.text_patches, b.text_mask, b.bow))

    @property
    def out_dim(self) -> int:
        """Width of the stored vectors (``ccl_embed.model.readout.out_dim``)."""
        return readout.out_dim(self.config, self.spec)

    def stage2_losses(self, b: Batch) -> dict[str, Tensor]:
        xi, pi, xt, pt, mi, mt = self._inputs(b)
        zi, ii = self.parts("image", xi, pi, mi)
        zt, it = self.parts("text", xt, pt, mt)
        c = self.config.train
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
                out["instance"] = self.instance_loss(readout.join(self, zi, ii), readout.join(self, zt, it), b.instance)
            else:  # its own part
                out["instance"] = self.instance_loss(ii, it, b.instance)
        return out

    def instance_scale(self) -> Tensor:
        """The instance InfoNCE's learned inverse temperature, kept within [1, 100] (temperature [0.01, 1])."""
        if self.log_scale is None:
            raise RuntimeError("the instance level needs ModelConfig.use_instance")
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
        c = self.config.train
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
