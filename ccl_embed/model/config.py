"""CCL's configuration, in three small frozen sections, and the shapes a trained model expects.

- :class:`ModelConfig`: the architecture (what the weights' shapes and the forward pass depend on);
- :class:`TrainConfig`: the schedule, the loss weights and the switches the paper's ablations use;
- :class:`ReadoutConfig`: what turns the network's outputs into the shipped vector
  (``ccl_embed.model.readout``), applied when embedding and never trained;
- :class:`CCLConfig`: the three together, saved as three sections of a model folder's config;
- :class:`DataSpec`: the input shapes and vocabulary, fixed at training time.

The defaults are the plain model; the settings that ship are chosen in the recipe
(``ccl_embed/train/recipe.json``, :func:`ccl_embed.train.recipe.read_recipe`), and docs/model.md
says where each was chosen. Every config validates itself and round-trips to JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, TypeVar

from ccl_embed.runtime.patches import image_regions

T = TypeVar("T")


def _from_dict(cls: type[T], data: dict[str, Any], what: str) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{what}: unknown field {unknown[0]!r}; known fields: {', '.join(sorted(names))}")
    return cls(**data)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


@dataclass(frozen=True)
class ModelConfig:
    """The architecture of CCL."""

    dim: int = 256
    """D, the width of the category part of the common space."""
    hidden: int = 512
    """Width of the intra-modality codes and of the hidden layers."""
    code: int = 256
    """Width of the inter-modality (correspondence) codes of stage 1."""
    dropout: float = 0.1
    """Dropout in the fusion and stage-2 layers."""
    use_patches: bool = True
    """Fuse fine-grained patches (image regions, text fragments) with the coarse instance."""
    image_regions: str = "quadrants"
    """An image's patches: ``quadrants`` (five overlapping regions of the 7x7 feature map),
    ``grid`` (nine that do not overlap) or ``quadrants+grid`` (both)."""
    use_stage1: bool = True
    """Stage 1 (intra + inter correlation, multi-grained fusion); False feeds raw features to stage 2."""
    use_corr: bool = True
    """Stage 1's correspondence autoencoder tying the modalities' codes (False: intra-only codes)."""
    stage2_skip: bool = True
    """Stage 2 also reads the standardised inputs beside stage 1's fused codes."""
    shared_prototypes: bool = True
    """One set of category prototypes for both modalities (False: a classifier each, the paper's)."""
    use_instance: bool = True
    """The instance level of the inter-modality constraint: a symmetric InfoNCE over the batch."""
    instance_dim: int = 256
    """Width of the instance part, a linear layer on the standardised inputs, trained by the
    instance InfoNCE alone (0: none; the instance level then works in the category space)."""
    text_bow: int = 2048
    """Width of the hashed bag of words beside each text vector (0: none, the paper's input)."""
    use_conse: bool = True
    """Keep the image tower's class names as text vectors (the ConSE vector, for the readout's
    semantic part). False: none, the paper's input."""
    conse_input: bool = False
    """Append the ConSE vector to the network's image input too (needs ``use_conse``)."""
    novelty_rank: int = 256
    """Principal directions of the training images' features that the novelty measures in."""

    def __post_init__(self) -> None:
        try:
            image_regions(self.image_regions)
        except ValueError as e:
            raise ValueError(f"ModelConfig.{e}") from None
        for name in ("dim", "hidden", "code", "novelty_rank"):
            _check(getattr(self, name) >= 1, f"ModelConfig.{name}={getattr(self, name)!r}: must be a positive integer")
        for name in ("instance_dim", "text_bow"):
            _check(getattr(self, name) >= 0, f"ModelConfig.{name}={getattr(self, name)!r}: must be 0 (none) or a positive width")
        _check(0.0 <= self.dropout < 1.0, f"ModelConfig.dropout={self.dropout!r}: must be in [0, 1)")

    @property
    def instance_part(self) -> int:
        """The width of the instance part actually built: ``instance_dim`` with the instance level, else 0."""
        return self.instance_dim if self.use_instance else 0

    @property
    def common_dim(self) -> int:
        """Width of the learned common space: the category part and the instance part."""
        return self.dim + self.instance_part

    @property
    def conse_in_input(self) -> bool:
        return self.use_conse and self.conse_input


@dataclass(frozen=True)
class TrainConfig:
    """How CCL is trained: the schedule, the loss weights and the ablation switches."""

    use_intra: bool = True
    """Stage 2's intra-modality category constraint."""
    use_inter: bool = True
    """Stage 2's inter-modality pairwise similarity constraint (contrastive with a margin)."""
    adaptive_weights: bool = False
    """Balance stage 2's losses with learned uncertainty weights, as the paper describes (False:
    fixed weights, as the authors' released code; fixed won on validation)."""
    intra_weight: float = 1.0
    """Fixed weight of the category loss."""
    inter_weight: float = 1.0
    """Fixed weight of the pairwise loss."""
    instance_weight: float = 2.0
    """Multiplier of the instance loss inside the balance (fixed or adaptive); above 1 the instance
    level takes a larger share of stage 2's gradient."""
    instance_temperature: float = 0.07
    """The instance InfoNCE's starting temperature (learned, kept within [0.01, 1])."""
    corr_distance_weight: float = 0.3
    """Stage 1: weight of the distance between the modalities' codes (reconstruction gets 1 - it)."""
    margin: float = 1.0
    """Margin of the pairwise loss on the distance of unit vectors (0 to 2]."""
    classifier_scale: float = 16.0
    """Scale of the cosine classifier of stage 2."""
    input_dropout: float = 0.3
    """Dropout on the standardised input features while training."""
    stage1_epochs: int = 20
    fusion_epochs: int = 20
    stage2_epochs: int = 40
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    val_every: int = 10
    """Validation MAP every this many epochs of stage 2 (0: at the end only)."""

    def __post_init__(self) -> None:
        for name in ("stage1_epochs", "fusion_epochs", "stage2_epochs", "val_every"):
            _check(getattr(self, name) >= 0, f"TrainConfig.{name}={getattr(self, name)!r}: must be 0 or more")
        _check(self.batch_size >= 1, f"TrainConfig.batch_size={self.batch_size!r}: must be a positive integer")
        _check(0.0 <= self.input_dropout < 1.0, f"TrainConfig.input_dropout={self.input_dropout!r}: must be in [0, 1)")
        _check(0.0 <= self.corr_distance_weight <= 1.0,
               f"TrainConfig.corr_distance_weight={self.corr_distance_weight!r}: must be in [0, 1]")
        _check(0.0 < self.margin <= 2.0, f"TrainConfig.margin={self.margin!r}: unit vectors are at most 2 apart; use (0, 2]")
        _check(0.01 <= self.instance_temperature <= 1.0,
               f"TrainConfig.instance_temperature={self.instance_temperature!r}: must be in [0.01, 1]")
        _check(self.instance_weight > 0, f"TrainConfig.instance_weight={self.instance_weight!r}: must be positive")
        _check(self.lr > 0, f"TrainConfig.lr={self.lr!r}: must be positive")


@dataclass(frozen=True)
class ReadoutConfig:
    """What turns the network's unit vectors into the stored vector (``ccl_embed.model.readout``)."""

    instance_share: float = 0.8
    """``a``: the instance part's share of the common-space cosine: the category orders the whole
    ranking, the instance the items of one category."""
    centering: float = 0.0
    """Hubness reduction: each common-space part becomes ``normalize(part - b * mean)``, ``b`` this
    value and ``mean`` the training items' mean of the same kind (0: off)."""
    semantic_weight: float = 0.0
    """``w``: the zero-shot semantic part's share (images: the ConSE vector; texts: the text-tower
    vector), so that cosine is ``(1 - w) * CCL's + w * ConSE's`` (0: none, the paper's model)."""
    drawing_semantic_weight: float | None = None
    """The images' own semantic weight when they are like the training images (None: ``semantic_weight``)."""
    photo_semantic_weight: float = 0.0
    """Semantic weight of images unlike the training images (photographs): each image's novelty
    sets how much it takes this weight, and how much its common-space part moves from the image
    tower to the text tower reading its ConSE vector (0: no photograph route)."""
    photo_novelty: float = 2.0
    """Novelty at the middle of the photograph switch (about 1 for images like the training ones)."""
    photo_gate_width: float = 0.1
    """Width of the switch: ``sigmoid((novelty - photo_novelty) / photo_gate_width)``."""
    photo_offset: float = 0.0
    """Score offset of routed photographs (one coordinate appended to every vector of a routing model)."""
    text_projection: float = 0.0
    """Share of a text's semantic part that is its projection onto the image tower's class names."""
    text_projection_temperature: float = 0.1
    """Softmax temperature of that projection."""

    def __post_init__(self) -> None:
        for name in ("instance_share", "centering", "text_projection"):
            value = getattr(self, name)
            _check(0.0 <= value <= 1.0, f"ReadoutConfig.{name}={value!r}: must be in [0, 1]")
        for name in ("semantic_weight", "photo_semantic_weight"):
            value = getattr(self, name)
            _check(0.0 <= value < 1.0, f"ReadoutConfig.{name}={value!r}: must be in [0, 1)")
        if self.drawing_semantic_weight is not None:
            _check(0.0 <= self.drawing_semantic_weight < 1.0,
                   f"ReadoutConfig.drawing_semantic_weight={self.drawing_semantic_weight!r}: must be in [0, 1) or None")
            _check(self.semantic_weight > 0,
                   "ReadoutConfig: drawing_semantic_weight needs semantic_weight > 0 (texts carry the semantic part)")
        for name in ("photo_semantic_weight", "text_projection"):
            _check(getattr(self, name) <= 0 or self.semantic_weight > 0,
                   f"ReadoutConfig: {name} > 0 needs semantic_weight > 0 (texts carry the semantic part)")
        for name in ("photo_novelty", "photo_gate_width", "text_projection_temperature"):
            _check(getattr(self, name) > 0, f"ReadoutConfig.{name}={getattr(self, name)!r}: must be positive")
        _check(-0.9 <= self.photo_offset <= 0.9, f"ReadoutConfig.photo_offset={self.photo_offset!r}: must be in [-0.9, 0.9]")

    @property
    def routes_photos(self) -> bool:
        """Whether photographs are routed onto the ImageNet bridge (see ``photo_semantic_weight``)."""
        return self.semantic_weight > 0 and self.photo_semantic_weight > 0


SECTIONS: dict[str, type] = {"model": ModelConfig, "train": TrainConfig, "readout": ReadoutConfig}
"""The sections of :class:`CCLConfig`, in the order they are saved."""


@dataclass(frozen=True)
class CCLConfig:
    """The whole configuration: architecture, training and readout, each its own section."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    readout: ReadoutConfig = field(default_factory=ReadoutConfig)

    def __post_init__(self) -> None:
        m, t, r = self.model, self.train, self.readout
        _check(t.use_intra or t.use_inter or m.use_instance,
               "CCLConfig: use_intra, use_inter and use_instance are all False; stage 2 would learn nothing")
        _check(r.semantic_weight <= 0 or m.use_conse,
               "CCLConfig: semantic_weight > 0 needs use_conse=True (the image side's semantic part is ConSE)")

    @classmethod
    def of(cls, **changes: Any) -> CCLConfig:
        """The default config with ``changes``, each a field of one section by its own name
        (``CCLConfig.of(dim=64, seed=1, centering=0.25)``)."""
        return cls().replace(**changes)

    def replace(self, **changes: Any) -> CCLConfig:
        """A copy with ``changes``, each a field of one section by its own name.

        Raises:
            ValueError: For a name no section has, or an invalid value (the message names the field).
        """
        per: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
        for key, value in changes.items():
            owner = field_section(key)
            per[owner][key] = value
        return CCLConfig(**{name: replace(getattr(self, name), **per[name]) if per[name] else getattr(self, name)
                            for name in SECTIONS})

    def flat(self) -> dict[str, Any]:
        """Every field of every section by its own name."""
        return {k: v for name in SECTIONS for k, v in asdict(getattr(self, name)).items()}

    @property
    def image_reads_logits(self) -> bool:
        """Whether an image's vector depends on the ImageNet logits: the ConSE input or the semantic part."""
        return self.model.conse_in_input or self.readout.semantic_weight > 0

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: asdict(getattr(self, name)) for name in SECTIONS}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CCLConfig:
        """The config of its sections (``{"model": {...}, "train": {...}, "readout": {...}}``);
        a section left out takes its defaults.

        Raises:
            ValueError: For an unknown section or field, or an invalid value.
        """
        unknown = sorted(set(data) - set(SECTIONS))
        if unknown:
            hint = f" (did you mean {{'{field_section(unknown[0])}': {{'{unknown[0]}': ...}}}}?)" \
                if unknown[0] in FIELD_SECTIONS else ""
            raise ValueError(f"CCLConfig: unknown section {unknown[0]!r}{hint}; sections: {', '.join(SECTIONS)}")
        parts: dict[str, Any] = {}
        for name, kind in SECTIONS.items():
            section = data.get(name, {})
            if not isinstance(section, dict):
                raise ValueError(f"CCLConfig.{name}: expected an object of {kind.__name__} fields")
            parts[name] = _from_dict(kind, section, kind.__name__)
        return cls(**parts)

    @classmethod
    def from_json(cls, text: str) -> CCLConfig:
        return cls.from_dict(json.loads(text))


FIELD_SECTIONS: dict[str, str] = {f.name: name for name, kind in SECTIONS.items() for f in fields(kind)}
"""Each field's section (field names are unique across sections)."""


def field_section(name: str) -> str:
    """The section that owns a field.

    Raises:
        ValueError: For a name no section has.
    """
    if name not in FIELD_SECTIONS:
        raise ValueError(f"CCLConfig: unknown field {name!r}; known fields: {', '.join(sorted(FIELD_SECTIONS))}")
    return FIELD_SECTIONS[name]


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
