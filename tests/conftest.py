"""Shared fixtures: tiny corpora and tiny towers made here, no network, no pretrained weights."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ccl_embed.train.towers import pool_regions

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 220), "yellow": (240, 220, 20)}
SHAPES = ("square", "circle", "bar", "dot", "ring", "cross")


def draw(colour: str, shape: str, size: int = 48) -> Image.Image:
    img = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(img)
    c = COLOURS[colour]
    s = size
    if shape == "square":
        d.rectangle([s * 0.2, s * 0.2, s * 0.8, s * 0.8], fill=c)
    elif shape == "circle":
        d.ellipse([s * 0.15, s * 0.15, s * 0.85, s * 0.85], fill=c)
    elif shape == "bar":
        d.rectangle([s * 0.1, s * 0.4, s * 0.9, s * 0.6], fill=c)
    elif shape == "dot":
        d.ellipse([s * 0.4, s * 0.4, s * 0.6, s * 0.6], fill=c)
    elif shape == "ring":
        d.ellipse([s * 0.1, s * 0.1, s * 0.9, s * 0.9], outline=c, width=6)
    else:
        d.rectangle([s * 0.45, s * 0.1, s * 0.55, s * 0.9], fill=c)
        d.rectangle([s * 0.1, s * 0.45, s * 0.9, s * 0.55], fill=c)
    return img


def make_corpus(root: Path, *, styles: Sequence[str] = ("plain",), splits: bool = True) -> Path:
    """A corpus of coloured shapes: label = colour, concept = colour + shape, one image per style."""
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for ci, colour in enumerate(COLOURS):
        for si, shape in enumerate(SHAPES):
            for style in styles:
                rel = f"img/{style}/{colour}-{shape}.png"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                img = draw(colour, shape)
                if style != "plain":
                    img = img.rotate(90)
                img.save(root / rel)
                record = {"image": rel, "text": f"a {colour} {shape}. {colour}, {shape}, shape", "label": colour,
                          "concept": f"{colour}-{shape}", "style": style}
                if splits:
                    record["split"] = "test" if si == 0 else ("val" if si == 1 else "train")
                    if style == "rotated":
                        record["split"] = "style"
                lines.append(json.dumps(record))
    (root / "pairs.jsonl").write_text("\n".join(lines) + "\n")
    return root


class TinyImageTower:
    """A fixed random projection of a 7x7 colour grid: deterministic, instant, colour-aware."""

    def __init__(self, channels: int = 16, classes: int = 10, regions: str = "quadrants") -> None:
        from ccl_embed.runtime.patches import image_regions

        self.id = "tiny-image/v1" if regions == "quadrants" else f"tiny-image/v1/{regions}"
        self.regions = image_regions(regions)
        rng = np.random.default_rng(0)
        self.w = rng.normal(size=(3, channels)).astype(np.float32)
        self.wc = rng.normal(size=(channels, classes)).astype(np.float32)
        self.calls = 0

    def encode(self, images: Sequence[Image.Image]) -> dict[str, np.ndarray]:
        self.calls += 1
        grid = np.stack([np.asarray(im.resize((7, 7)), dtype=np.float32) / 255.0 for im in images])
        fmap = np.maximum(grid @ self.w, 0).transpose(0, 3, 1, 2)  # [n, c, 7, 7]
        pool = fmap.mean(axis=(2, 3))
        return {"pool": pool, "regions": pool_regions(fmap, self.regions), "logits": pool @ self.wc}


@pytest.fixture()
def tiny_corpus(tmp_path: Path) -> Path:
    return make_corpus(tmp_path / "corpus", styles=("plain", "rotated"))


@pytest.fixture()
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty, private ccl-embed cache for the test."""
    path = tmp_path / "cache"
    monkeypatch.setenv("CCL_EMBED_CACHE", str(path))
    return path


def synthetic_features(n_concepts: int = 120, n_labels: int = 4, labelled: bool = True, seed: int = 0, regions: int = 3):
    """A FeatureSet whose image and text sides are noisy views of a per-label latent, with patches."""
    from ccl_embed.data.corpus import Pair
    from ccl_embed.train.features import FeatureSet

    rng = np.random.default_rng(seed)
    label_z = rng.normal(size=(n_labels, 6))
    a, b, c = rng.normal(size=(6, 24)), rng.normal(size=(6, 12)), rng.normal(size=(6, 10))
    pairs, img, reg, logit, txt, frag = [], [], [], [], [], []
    for k in range(n_concepts):
        lab = k % n_labels
        z = label_z[lab] + 0.3 * rng.normal(size=6)
        split = ("train", "train", "train", "val", "test")[k % 5]
        pairs.append(Pair(f"{k}.png", f"text {k}", label=f"L{lab}" if labelled else None, concept=f"c{k}", split=split))
        img.append(np.abs(z @ a + 0.3 * rng.normal(size=24)))
        reg.append(np.abs(z @ a + 0.5 * rng.normal(size=(regions, 24))))
        logit.append(z @ c)
        txt.append(z @ b + 0.3 * rng.normal(size=12))
        frag.append(z @ b + 0.5 * rng.normal(size=(4, 12)))
    n = len(pairs)
    mask = np.ones((n, 4), dtype=bool)
    mask[::2, 3] = False
    frags = np.array(frag, dtype=np.float32) * mask[..., None]
    return FeatureSet(tuple(pairs), {"pool": np.array(img, np.float32), "regions": np.array(reg, np.float32),
                                     "logits": np.array(logit, np.float32)},
                      np.array(txt, np.float32), frags, mask)


def tiny_backbones(folder: Path, image_dim: int = 24, classes: int = 10, text_dim: int = 12,
                   image_size: int = 224) -> dict[str, Path]:
    """Tiny ONNX backbones with the real graphs' signatures, and a word-level tokenizer.

    The image backbone takes exactly ``image_size`` pixels a side (only the batch axis is dynamic),
    so feeding it another size fails, as it would with the real one."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers

    from ccl_embed.export.onnx_export import _export
    from ccl_embed.runtime.folder import IMAGE_BACKBONE, TEXT_BACKBONE, TOKENIZER

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    class Image(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, image_dim, 3, padding=1)
            self.fc = torch.nn.Linear(image_dim, classes)

        def forward(self, pixels):
            fmap = torch.relu(self.conv(torch.nn.functional.adaptive_avg_pool2d(pixels, 7)))
            return fmap, self.fc(fmap.mean(dim=(2, 3)))

    class Text(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(64, text_dim)

        def forward(self, input_ids, attention_mask):
            m = attention_mask.unsqueeze(-1).float()
            v = (self.emb(input_ids) * m).sum(1) / m.sum(1).clamp(min=1.0)
            return torch.nn.functional.normalize(v, dim=-1)

    _export(Image(), (torch.zeros(1, 3, image_size, image_size),), folder / IMAGE_BACKBONE, ["pixels"], ["feature_map", "logits"],
            {"pixels": {0: "batch"}, "feature_map": {0: "batch"}, "logits": {0: "batch"}})
    ids = torch.zeros(2, 5, dtype=torch.long)
    _export(Text(), (ids, torch.ones_like(ids)), folder / TEXT_BACKBONE, ["input_ids", "attention_mask"], ["vector"],
            {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}, "vector": {0: "batch"}})
    words = ["[UNK]", "[PAD]"] + sorted({w for c in COLOURS for w in (c,)} | set(SHAPES) | {"a", "shape"})
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.enable_padding(pad_id=1, pad_token="[PAD]")
    tok.save(str(folder / TOKENIZER))
    return {IMAGE_BACKBONE: folder / IMAGE_BACKBONE, TEXT_BACKBONE: folder / TEXT_BACKBONE, TOKENIZER: folder / TOKENIZER}


def build_tiny_exported(root: Path, **overrides):
    """A tiny CCL model trained on synthetic features and exported with tiny backbones: (folder, reports).
    ``overrides`` are CCLConfig fields; with ``image_regions`` the features have that scheme's region count."""
    from ccl_embed.export import export_model
    from ccl_embed.model.config import CCLConfig
    from ccl_embed.train.loop import train_ccl

    from ccl_embed.runtime.patches import image_regions

    config = CCLConfig.of(**{"dim": 12, "instance_dim": 4, "text_bow": 64, "hidden": 32, "code": 16, "stage1_epochs": 1,
                          "fusion_epochs": 1, "stage2_epochs": 2, "batch_size": 32, **overrides})
    fs = synthetic_features(regions=len(image_regions(config.model.image_regions)) if "image_regions" in overrides else 3)
    vectors = np.random.default_rng(1).normal(size=(10, 12)).astype(np.float32)
    train_ccl(fs.split("train"), None, config, class_vectors=vectors, out=root / "model")
    reports = export_model(root / "model", name="tiny", backbone_files=tiny_backbones(root / "bb"))
    return root / "model", reports


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny exported model folder, built once per test session."""
    return build_tiny_exported(tmp_path_factory.mktemp("tiny-model"))[0]


def make_folder(root: Path) -> Path:
    """A folder to ingest: 6 image/.txt pairs by stem, a pairs.jsonl with labels, a markdown note, an ignored file."""
    root.mkdir(parents=True, exist_ok=True)
    for colour, shape in [("red", "square"), ("blue", "circle"), ("green", "bar"), ("yellow", "dot"),
                          ("red", "ring"), ("blue", "cross")]:
        draw(colour, shape).save(root / f"{colour}-{shape}.png")
        (root / f"{colour}-{shape}.txt").write_text(f"a {colour} {shape}")
    sub = root / "labelled"
    sub.mkdir()
    lines = []
    for colour, shape in [("green", "circle"), ("yellow", "square"), ("red", "bar")]:
        draw(colour, shape).save(sub / f"{shape}.png")
        lines.append(json.dumps({"image": f"{shape}.png", "text": f"a {shape} in {colour}", "label": colour}))
    (sub / "pairs.jsonl").write_text("\n".join(lines) + "\n")
    (root / "notes.md").write_text("# Notes\n\nA blue square and a red circle.\n")
    (root / "data.csv").write_text("a,b\n")
    return root
