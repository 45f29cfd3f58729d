"""CCL's configuration: hyperparameters (:class:`CCLConfig`) and input shapes (:class:`DataSpec`).

Both are frozen dataclasses that validate themselves and round-trip to JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from ccl_embed.runtime.patches import image_regions

T = TypeVar("T")


def _from_dict(cls: type[T], data: dict[str, Any], what: str) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{what}: unknown field {unknown[0]!r}; known fields: {', '.join(sorted(names))}")
    return cls(**data)


RETIRED_FIELDS = frozenset({"photo_flatness"})
"""CCLConfig fields that older model folders hold and this version ignores: ``photo_flatness``
set the pixel-flatness route that the novelty switch replaced (``photo_novelty``)."""

SAVED_BEFORE: dict[str, Any] = {"conse_input": True}
"""What a saved config without a field meant: ``conse_input`` arrived with True as its default
(the ConSE vector always joined the image input before), and its default is now False."""

EMBEDDING_FIELDS = frozenset({
    "semantic_weight", "drawing_semantic_weight", "photo_semantic_weight", "photo_novelty",
    "described_novelty", "photo_gate_width", "bridge_confidence", "bridge_confidence_width", "photo_offset",
    "text_projection", "text_projection_temperature", "centering"})
"""CCLConfig fields applied when embedding, never trained: a trained folder takes new values of
them (``ccl_embed.model.folder.override_config``) and keeps its weights."""


@dataclass(frozen=True)
class CCLConfig:
    """Hyperparameters of CCL and of its training (defaults chosen on the validation split)."""

    dim: int = 256
    """D, the width of the common space (the vectors stored in Qdrant)."""
    hidden: int = 512
    """Width of the intra-modality codes and of the hidden layers."""
    code: int = 256
    """Width of the inter-modality (correspondence) codes of stage 1."""
    dropout: float = 0.1
    """Dropout in the fusion and stage-2 layers."""
    image_instance_norm: bool = False
    """Standardise each image feature vector over its channels first: removes the global offset and
    scale an art style puts on every activation (off: benchmarks/tune_ccl.py preferred none)."""
    input_dropout: float = 0.3
    """Dropout on the standardised input features while training (denoising autoencoders; 0.3 was
    chosen on the validation splits by benchmarks/tune_ccl.py)."""
    use_patches: bool = True
    """Fuse fine-grained patches (image regions, text fragments) with the coarse instance."""
    image_regions: str = "quadrants"
    """Which regions of the backbone's 7x7 feature map are an image's patches: ``quadrants`` (five
    overlapping), ``grid`` (nine that do not overlap) or ``quadrants+grid`` (both scales); see
    ``ccl_embed.runtime.patches.REGION_SCHEMES``. Another scheme needs its own image features."""
    use_stage1: bool = True
    """Learn stage 1 (intra + inter correlation, multi-grained fusion); False feeds raw features to stage 2."""
    stage2_skip: bool = True
    """Stage 2 also sees the standardised input features beside stage 1's fused codes (a skip
    connection); without it, unseen art styles transfer worse (see docs/results.md)."""
    use_corr: bool = True
    """Stage 1's inter-modality association: the correspondence autoencoder tying the two
    modalities' codes (False: stage 1 keeps the intra-modality autoencoders alone, the paper's
    "intra-only" representation, and the fusion network reads their codes only)."""
    use_intra: bool = True
    """Stage 2's intra-modality semantic category constraint (softmax per modality)."""
    shared_prototypes: bool = True
    """The category constraint's classes: one set of prototypes both modalities share (a
    cross-modal anchor; the default, as trained so far) or, False, a classifier per modality as the
    paper has it."""
    use_inter: bool = True
    """Stage 2's inter-modality pairwise similarity constraint (contrastive with a margin)."""
    use_instance: bool = True
    """Stage 2's instance level of the inter-modality constraint: a symmetric InfoNCE over the
    batch, where each image's own text and any identical text are its positives, with a learned
    temperature; it stands beside the category-level constraints, in the same balance (fixed or adaptive).
    Off: the paper's category-only form. On a corpus without labels it is the only stage-2 loss
    (and trains the whole vector). On by default: benchmarks/tune_instance.py chose it."""
    instance_temperature: float = 0.07
    """The instance InfoNCE's starting temperature (learned, kept within [0.01, 1])."""
    instance_weight: float = 2.0
    """A multiplier of the instance loss inside the balance (adaptive or fixed): above 1 the
    instance level takes a larger share of stage 2's gradient than the balance alone gives it.
    2 by default, chosen with ``instance_share`` by benchmarks/tune_instance.py --semantic on the
    validation splits of the corpus with the icon sets (results/instance_tuning_v4.json)."""
    instance_dim: int = 256
    """Width of an instance part of the common space (0: none; 256 by default, chosen with
    ``instance_head``, ``instance_share`` and ``text_bow`` by benchmarks/tune_instance.py). With it, stage 2's top layers
    give two unit vectors: a category part of width ``dim``, trained by the category constraints,
    and an instance part of this width, trained by the instance InfoNCE alone. They are joined as
    ``[sqrt(1 - a) category, sqrt(a) instance]`` with ``a = instance_share``, so that cosine
    similarity is ``(1 - a) * category cosine + a * instance cosine``: the category orders the
    whole ranking, the instance orders the items of one category. Without ``use_instance`` there
    is no instance part (see ``instance_part``)."""
    instance_share: float = 0.8
    """``a``: the instance part's share of the cosine (applied when embedding; not trained). 0.8 by
    default: the best combined score, with the shipped semantic part appended, among the settings
    that reach every baseline on both metrics on the validation splits
    (benchmarks/tune_instance.py --semantic --shares, results/instance_tuning_v4.json)."""
    instance_head: str = "raw"
    """What gives the instance part: ``top``, stage 2's two layers (one output, split in two);
    ``linear``, one linear layer of its own on stage 2's input (the fused codes and the
    standardised inputs), which transfers to unseen styles with less to overfit; or ``raw``, one
    linear layer on the standardised inputs alone (instance and mean patch)."""
    instance_residual: bool = False
    """Score the instance InfoNCE on the joined vector, the category part held fixed (no gradient
    reaches it from this loss): the instance part then learns what the category cosine misses at
    ``instance_share``, instead of ranking pairs on its own."""
    text_bow: int = 2048
    """Width of a hashed bag of words (``ccl_embed.runtime.bow``) appended to the text instance
    beside the text tower's vector (0: none, the paper's input; 2048 by default). Exact words keep apart texts
    whose sentence vectors are close ("smiling face with sunglasses" / "... with halo")."""
    adaptive_weights: bool = False
    """Balance stage 2's losses with learned uncertainty weights (Kendall et al., CVPR 2018), as
    the paper describes; False (the default) gives them fixed weights (``intra_weight``,
    ``inter_weight``, ``instance_weight``), as the authors' released code does. Fixed won on the
    validation splits (+0.0026 +- 0.0008 on the selection score over three seeds, and better on
    every held-out split: the choices table of docs/analysis.md, row ``ccl-adaptive-weights``)."""
    intra_weight: float = 1.0
    """Fixed weight of the category loss when ``adaptive_weights`` is False."""
    inter_weight: float = 1.0
    """Fixed weight of the pairwise loss when ``adaptive_weights`` is False."""
    corr_distance_weight: float = 0.3
    """Stage 1: weight of the L2 distance between the two modalities' codes (reconstruction gets 1 - it)."""
    margin: float = 1.0
    """Margin of the pairwise loss on the distance of unit vectors (0 to 2)."""
    classifier_scale: float = 16.0
    """Scale of the cosine classifier of stage 2."""
    use_conse: bool = True
    """Keep the image tower's class names as text-tower vectors (``class_vectors``) and add the
    ConSE vector (ImageNet class probabilities over them) to the image instance. The semantic part
    needs it. False: neither, the paper's input."""
    conse_input: bool = False
    """With ``use_conse``, whether the ConSE vector joins the network's image input. False (the
    default, chosen on validation: results/quality.json's choices) keeps the class vectors for the
    semantic part only; True appends the ConSE vector to the pooled image vector (the row
    ``ccl-conse-input``); without ``use_conse`` there is nothing to join."""
    semantic_weight: float = 0.0
    """Weight w of a zero-shot semantic part appended to each output vector (not trained): images
    get their ConSE vector, texts their text-tower vector, so that cosine similarity becomes
    (1 - w) * CCL's + w * ConSE's. Keeps the image tower's ImageNet knowledge (photos) that
    training on pictograms does not cover. Needs ``use_conse``. 0 is the paper's model."""
    drawing_semantic_weight: float | None = None
    """The images' own semantic weight when they are like the training images (drawings), apart
    from the texts' ``semantic_weight``: a drawing's cosine to a text is then
    ``sqrt((1 - d)(1 - w)) * CCL's + sqrt(d w) * ConSE's``. 0 ranks drawings by CCL alone while
    texts keep the part that photographs meet them on. None: ``semantic_weight``, as trained
    before this field existed. Needs ``semantic_weight > 0``."""
    photo_semantic_weight: float = 0.0
    """Semantic weight for images unlike the training images, photographs above all (0: every
    image is weighed like a drawing). Each image's novelty (how far its backbone feature lies
    from the training images', :class:`ccl_embed.model.statistics.Novelty`) sets how much it takes
    this weight instead of ``semantic_weight``, and how much its common-space part moves from the
    image tower to the learned text tower applied to its ConSE vector (what the classifier sees,
    read as a text). A smooth switch, on for every image, with no pixel rule: cut-outs on plain
    backgrounds and smooth photographs are weighed by what the backbone sees. Training on
    drawings does not reach photographs; the classifier does. Needs ``semantic_weight > 0``."""
    photo_novelty: float = 2.0
    """Novelty at the middle of the switch (about 1 for images like the training ones)."""
    photo_gate_width: float = 0.1
    """Width of the switch: the sigmoid of ``(novelty - photo_novelty) / photo_gate_width``."""
    described_novelty: float | None = None
    """Novelty at the middle of a second switch, of the same width, for the common-space part
    alone: how much it moves from the image tower to the text tower reading the ConSE vector.
    Above ``photo_novelty``, an image that is somewhat novel (a photograph like the drawings:
    a page of text, a product shot) takes the semantic weight of photographs while keeping what
    CCL's image tower makes of it; only the most novel images are read through the classifier.
    None: ``photo_novelty``, one switch for both (models tuned before this field existed)."""
    bridge_confidence: float | None = None
    """A second way onto the ImageNet bridge, for images like the training ones whose kind the
    image tower's classifier is sure of (a clip-art ambulance, a drawn backpack): the top class
    probability ``p1`` at which an image is half on the bridge. Each image's route becomes
    ``1 - (1 - g)(1 - h)``, ``g`` the novelty switch and ``h = sigmoid((p1 - bridge_confidence) /
    bridge_confidence_width)``, so a drawing of a kind that training never showed meets texts
    through the classifier, as photographs do, while a drawing the classifier cannot name (most
    emoji) keeps CCL's image tower. None: off, the novelty alone (models tuned before this field).
    Needs ``photo_semantic_weight > 0``."""
    bridge_confidence_width: float = 0.05
    """Width of the confidence switch: the sigmoid of ``(p1 - bridge_confidence) / bridge_confidence_width``."""
    novelty_rank: int = 256
    """Principal directions of the training images' features that the novelty measures in."""
    photo_offset: float = 0.0
    """Score offset of routed photographs, so that their similarities and the drawings' rank on one
    scale in a collection holding both. Routing models append one coordinate to every vector:
    ``e`` for images (this value times the route), ``TEXT_OFFSET_KEY`` for texts; a routed
    photograph's similarity to any text is then ``sqrt(1 - e^2) * sqrt(1 - k^2) * s + e * k``."""
    text_projection: float = 0.0
    """Share b of a text's semantic part that is its projection onto the image tower's class names:
    ``(1 - b) t + b p``, both unit length, where ``p`` is the ConSE mix of the class-name vectors
    weighted by the softmax of their cosines to the text ``t`` over ``text_projection_temperature``.
    Images' semantic part already lives in that span (ConSE); projecting texts there too lets a
    caption meet a photograph's classes half-way. Needs ``semantic_weight > 0``; 0 keeps ``t``."""
    text_projection_temperature: float = 0.1
    """Softmax temperature of the text projection (lower: only the nearest class names count)."""
    centering: float = 0.0
    """Hubness reduction: each part of the learned common-space vector becomes
    ``normalize(part - b * mean)``, ``b`` this value and ``mean`` the training items' mean of the
    same kind (images, texts, the ImageNet bridge's vectors; fitted after training). Items near the
    mean are similar to every query and crowd the top of many rankings; centring moves them apart.
    Applied when embedding, not trained (0: off, the paper's model)."""
    stage1_epochs: int = 20
    fusion_epochs: int = 20
    stage2_epochs: int = 40
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    val_every: int = 10
    """Validation MAP every this many epochs of stage 2 (0: never)."""

    def __post_init__(self) -> None:
        try:
            image_regions(self.image_regions)
        except ValueError as e:
            raise ValueError(f"CCLConfig.{e}") from None
        for name in ("dim", "hidden", "code", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"CCLConfig.{name}={getattr(self, name)!r}: must be a positive integer")
        for name in ("stage1_epochs", "fusion_epochs", "stage2_epochs", "val_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"CCLConfig.{name}={getattr(self, name)!r}: must be 0 or more")
        for name in ("dropout", "input_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"CCLConfig.{name}={getattr(self, name)!r}: must be in [0, 1)")
        if not 0.0 <= self.corr_distance_weight <= 1.0:
            raise ValueError(f"CCLConfig.corr_distance_weight={self.corr_distance_weight!r}: must be in [0, 1]")
        if not 0.0 < self.margin <= 2.0:
            raise ValueError(f"CCLConfig.margin={self.margin!r}: unit vectors are at most 2 apart; use (0, 2]")
        if not (self.use_intra or self.use_inter or self.use_instance):
            raise ValueError("CCLConfig: use_intra, use_inter and use_instance are all False; stage 2 would learn nothing")
        if not 0.01 <= self.instance_temperature <= 1.0:
            raise ValueError(f"CCLConfig.instance_temperature={self.instance_temperature!r}: must be in [0.01, 1]")
        if self.instance_weight <= 0:
            raise ValueError(f"CCLConfig.instance_weight={self.instance_weight!r}: must be positive")
        if self.instance_dim < 0:
            raise ValueError(f"CCLConfig.instance_dim={self.instance_dim!r}: must be 0 (none) or a positive width")
        if self.instance_head not in ("top", "linear", "raw"):
            raise ValueError(f"CCLConfig.instance_head={self.instance_head!r}: choose 'top', 'linear' or 'raw'")
        if not 0.0 <= self.instance_share <= 1.0:
            raise ValueError(f"CCLConfig.instance_share={self.instance_share!r}: must be in [0, 1]")
        if self.text_bow < 0:
            raise ValueError(f"CCLConfig.text_bow={self.text_bow!r}: must be 0 (none) or a positive width")
        if not 0.0 <= self.semantic_weight < 1.0:
            raise ValueError(f"CCLConfig.semantic_weight={self.semantic_weight!r}: must be in [0, 1)")
        if self.semantic_weight > 0 and not self.use_conse:
            raise ValueError("CCLConfig: semantic_weight > 0 needs use_conse=True (the image side's semantic part is ConSE)")
        if not 0.0 <= self.photo_semantic_weight < 1.0:
            raise ValueError(f"CCLConfig.photo_semantic_weight={self.photo_semantic_weight!r}: must be in [0, 1)")
        if self.drawing_semantic_weight is not None:
            if not 0.0 <= self.drawing_semantic_weight < 1.0:
                raise ValueError(f"CCLConfig.drawing_semantic_weight={self.drawing_semantic_weight!r}: must be in [0, 1) or None")
            if self.semantic_weight <= 0:
                raise ValueError("CCLConfig: drawing_semantic_weight needs semantic_weight > 0 (texts carry the semantic part)")
        if self.photo_semantic_weight > 0 and self.semantic_weight <= 0:
            raise ValueError("CCLConfig: photo_semantic_weight > 0 needs semantic_weight > 0 (texts carry the semantic part)")
        if self.photo_novelty <= 0:
            raise ValueError(f"CCLConfig.photo_novelty={self.photo_novelty!r}: must be positive")
        if self.described_novelty is not None and self.described_novelty <= 0:
            raise ValueError(f"CCLConfig.described_novelty={self.described_novelty!r}: must be positive, or None "
                             "(photo_novelty's switch)")
        if self.bridge_confidence is not None:
            if not 0.0 < self.bridge_confidence < 1.0:
                raise ValueError(f"CCLConfig.bridge_confidence={self.bridge_confidence!r}: must be a probability in "
                                 "(0, 1), or None (off)")
            if self.photo_semantic_weight <= 0:
                raise ValueError("CCLConfig: bridge_confidence needs photo_semantic_weight > 0 (it routes images onto "
                                 "the ImageNet bridge that photo_semantic_weight weighs)")
        if self.bridge_confidence_width <= 0:
            raise ValueError(f"CCLConfig.bridge_confidence_width={self.bridge_confidence_width!r}: must be positive")
        if self.novelty_rank < 1:
            raise ValueError(f"CCLConfig.novelty_rank={self.novelty_rank!r}: must be a positive whole number")
        if not -0.9 <= self.photo_offset <= 0.9:
            raise ValueError(f"CCLConfig.photo_offset={self.photo_offset!r}: must be in [-0.9, 0.9]")
        if not 0.0 <= self.text_projection <= 1.0:
            raise ValueError(f"CCLConfig.text_projection={self.text_projection!r}: must be in [0, 1]")
        if self.text_projection > 0 and self.semantic_weight <= 0:
            raise ValueError("CCLConfig: text_projection > 0 needs semantic_weight > 0 (it shapes the texts' semantic part)")
        if self.text_projection_temperature <= 0:
            raise ValueError(f"CCLConfig.text_projection_temperature={self.text_projection_temperature!r}: must be positive")
        if self.photo_gate_width <= 0:
            raise ValueError(f"CCLConfig.photo_gate_width={self.photo_gate_width!r}: must be positive")
        if not 0.0 <= self.centering <= 1.0:
            raise ValueError(f"CCLConfig.centering={self.centering!r}: must be in [0, 1]")
        if self.lr <= 0:
            raise ValueError(f"CCLConfig.lr={self.lr!r}: must be positive")

    @property
    def instance_part(self) -> int:
        """The width of the instance part actually built: ``instance_dim`` with the instance level, else 0."""
        return self.instance_dim if self.use_instance else 0

    @property
    def conse_in_input(self) -> bool:
        """Whether the ConSE vector joins the network's image input (see ``conse_input``)."""
        return self.use_conse and self.conse_input

    @property
    def image_reads_logits(self) -> bool:
        """Whether an image's vector depends on the ImageNet logits: through the ConSE input or
        the semantic part."""
        return self.conse_in_input or self.semantic_weight > 0

    @property
    def routes_photos(self) -> bool:
        """Whether photographs are routed (see ``photo_semantic_weight``)."""
        return self.semantic_weight > 0 and self.photo_semantic_weight > 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CCLConfig:
        """The config of a dict; fields of retired features (``RETIRED_FIELDS``) are dropped."""
        return _from_dict(cls, {k: v for k, v in data.items() if k not in RETIRED_FIELDS}, "CCLConfig")

    @classmethod
    def from_saved(cls, data: dict[str, Any]) -> CCLConfig:
        """The config a model folder or checkpoint recorded. A field added after it was written
        takes the value that folder was trained with (``SAVED_BEFORE``), not today's default."""
        return cls.from_dict({**SAVED_BEFORE, **data})

    @classmethod
    def from_json(cls, text: str) -> CCLConfig:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class DataSpec:
    """The shapes and vocabulary a trained model expects (fixed at training time)."""

    image_dim: int
    """Width of the pooled image feature (1280 for EfficientNet-Lite0)."""
    text_dim: int
    """Width of the text feature (384 for MiniLM)."""
    classes: int
    """Classes of the image tower's classifier (1000 for ImageNet), for the ConSE feature."""
    image_patches: int
    """Image regions per image."""
    text_patches: int
    """Text fragments per text, at most."""
    labels: tuple[str, ...]
    """The category vocabulary of the training split (concepts when the corpus has no labels)."""
    labelled: bool = True
    """Whether the training split had labels (False: ``labels`` are its concepts)."""
    image_tower: str = ""
    text_tower: str = ""

    def __post_init__(self) -> None:
        for name in ("image_dim", "text_dim", "image_patches", "text_patches"):
            if getattr(self, name) < 1:
                raise ValueError(f"DataSpec.{name}={getattr(self, name)!r}: must be positive")
        if len(self.labels) < 2:
            raise ValueError(f"DataSpec.labels: {len(self.labels)} categories; training needs at least 2")
        object.__setattr__(self, "labels", tuple(self.labels))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataSpec:
        return _from_dict(cls, data, "DataSpec")
