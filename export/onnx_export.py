"""Torch to ONNX: the two frozen backbones and the two CCL heads, each checked against PyTorch.

The backbones never change when CCL is retrained; they are exported once into the cache and
copied into every model folder, so retraining only rewrites the small head graphs. Every file
passes ``onnx.checker`` and a parity check against the PyTorch module on fresh random inputs
and on real-looking inputs; a cosine below :data:`MIN_COSINE` fails the export.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ccl_embed._version import __version__
from ccl_embed.errors import CCLEmbedError, require
from ccl_embed.runtime.bow import hashed_bow
from ccl_embed.runtime.images import IMAGE_SIZE, Preprocessing
from ccl_embed.runtime.manifest import (
    IMAGE_BACKBONE,
    IMAGE_HEAD,
    TEXT_BACKBONE,
    TEXT_HEAD,
    TOKENIZER,
    Manifest,
    write_manifest,
)
from ccl_embed.runtime.patches import MAX_FRAGMENTS, Patches, image_regions, pack_fragments, text_fragments
from ccl_embed.runtime.session import make_session

OPSET = 17
MIN_COSINE = 0.9999
MAX_TEXT_TOKENS = 256


class ExportError(CCLEmbedError, RuntimeError):
    """An export failed a check; the message names the graph and the measured numbers."""


@dataclass(frozen=True)
class ParityReport:
    """How close an ONNX graph's output is to PyTorch's on the same inputs."""

    graph: str
    inputs: str
    n: int
    min_cosine: float
    max_abs_error: float


def _torch() -> Any:
    return require("torch", "export")


def _check(path: Path) -> None:
    onnx = require("onnx", "export")
    onnx.checker.check_model(str(path))


def _session(path: Path) -> Any:
    return make_session(path, "cpu")


def parity(graph: str, label: str, expected: np.ndarray, got: np.ndarray) -> ParityReport:
    """Compare row vectors; raises ExportError below MIN_COSINE."""
    e = expected.reshape(len(expected), -1).astype(np.float64)
    g = got.reshape(len(got), -1).astype(np.float64)
    cos = (e * g).sum(1) / np.maximum(np.linalg.norm(e, axis=1) * np.linalg.norm(g, axis=1), 1e-12)
    report = ParityReport(graph, label, len(e), float(cos.min()), float(np.abs(e - g).max()))
    if report.min_cosine < MIN_COSINE:
        raise ExportError(f"{graph}: ONNX output differs from PyTorch on {label} inputs (min cosine "
                          f"{report.min_cosine:.6f} < {MIN_COSINE}, max abs error {report.max_abs_error:.3g})")
    return report


def _export(module: Any, args: tuple[Any, ...], path: Path, inputs: list[str], outputs: list[str],
            axes: dict[str, dict[int, str]]) -> None:
    torch = _torch()
    tmp = path.with_name(path.name + ".tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), args, str(tmp), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    tmp.replace(path)
    _check(path)


# ---- backbones ---------------------------------------------------------------------------------

def image_backbone_module(variant: str = "lite0") -> Any:
    """EfficientNet-Lite0 (or another ``ccl_embed.model.backbones.EFFICIENTNETS`` variant) returning
    (feature map, logits)."""
    torch = _torch()
    from ccl_embed.model.backbones import load_efficientnet

    class ImageBackbone(torch.nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.model = load_efficientnet(variant)

        def forward(self, pixels: Any) -> tuple[Any, Any]:
            fmap = self.model.extract_features(pixels)
            return fmap, self.model._fc(fmap.mean(dim=(2, 3)))

    return ImageBackbone().eval()


def text_backbone_module() -> tuple[Any, Any]:
    """MiniLM returning the mean-pooled unit vector, and its tokenizer."""
    torch = _torch()
    from ccl_embed.model.backbones import load_minilm

    tokenizer, minilm = load_minilm()

    class TextBackbone(torch.nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.model = minilm

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(vec, dim=-1)

    return TextBackbone().eval(), tokenizer


def export_image_backbone(path: Path) -> list[ParityReport]:
    torch = _torch()
    module = image_backbone_module()
    _export(module, (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE),), path, ["pixels"], ["feature_map", "logits"],
            {"pixels": {0: "batch"}, "feature_map": {0: "batch"}, "logits": {0: "batch"}})
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, IMAGE_SIZE, IMAGE_SIZE, generator=gen) * 2 - 1
    with torch.inference_mode():
        fmap, logits = module(x)
    got = _session(path).run(None, {"pixels": x.numpy()})
    return [parity(IMAGE_BACKBONE, "random (feature map)", fmap.numpy(), got[0]),
            parity(IMAGE_BACKBONE, "random (logits)", logits.numpy(), got[1])]


def export_text_backbone(path: Path, tokenizer_path: Path) -> list[ParityReport]:
    torch = _torch()
    module, tokenizer = text_backbone_module()
    batch = tokenizer(["a cat", "grinning face. face, grin"], padding=True, return_tensors="pt")
    _export(module, (batch["input_ids"], batch["attention_mask"]), path, ["input_ids", "attention_mask"], ["vector"],
            {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}, "vector": {0: "batch"}})
    tokenizer.backend_tokenizer.save(str(tokenizer_path))
    texts = ["a red motorcycle parked in a garage", "flag: Germany", "x", "a " * 300]
    real = tokenizer(texts, padding=True, truncation=True, max_length=MAX_TEXT_TOKENS, return_tensors="pt")
    gen = torch.Generator().manual_seed(0)
    rand_ids = torch.randint(1000, 30000, (3, 17), generator=gen)
    rand_mask = torch.ones_like(rand_ids)
    rand_mask[1, 9:] = 0
    reports = []
    session = _session(path)
    for label, ids, mask in (("real", real["input_ids"], real["attention_mask"]), ("random", rand_ids, rand_mask)):
        with torch.inference_mode():
            expected = module(ids, mask).numpy()
        got = session.run(None, {"input_ids": ids.numpy().astype(np.int64), "attention_mask": mask.numpy().astype(np.int64)})[0]
        reports.append(parity(TEXT_BACKBONE, label, expected, got))
    return reports


# ---- CCL heads ----------------------------------------------------------------------------------

def head_modules(model: Any) -> tuple[Any, Any]:
    """(image head, text head) wrapping a trained CCL model for export; the image head pools the
    regions of the model's own scheme (``CCLConfig.image_regions``)."""
    torch = _torch()
    regions_of_model = image_regions(model.config.model.image_regions)
    reads_logits = model.config.image_reads_logits

    class ImageHead(torch.nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.ccl = model

        def forward(self, feature_map: Any, logits: Any) -> Any:
            pooled = feature_map.mean(dim=(2, 3))
            regions = torch.stack([feature_map[:, :, r0:r1, c0:c1].mean(dim=(2, 3)) for r0, r1, c0, c1 in regions_of_model], 1)
            out = self.ccl.encode_image(pooled, logits, regions)
            if not reads_logits:  # the exporter drops an unused input; the folder format says the head takes logits
                out = out + 0.0 * logits[:, :1]
            return out

    class TextHead(torch.nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.ccl = model

        def forward(self, text: Any, fragments: Any, fragment_mask: Any, bow: Any = None) -> Any:
            return self.ccl.encode_text(text, fragments, fragment_mask > 0.5, bow)

    return ImageHead().eval(), TextHead().eval()


def export_heads(model: Any, folder: Path, real: dict[str, np.ndarray] | None = None) -> list[ParityReport]:
    """Export and check the image and text heads of a trained model."""
    torch = _torch()
    model = model.eval()
    image_head, text_head = head_modules(model)
    spec = model.spec
    gen = torch.Generator().manual_seed(0)
    fmap = torch.rand(5, spec.image_dim, 7, 7, generator=gen) * 4
    logits = torch.randn(5, spec.classes, generator=gen) * 3
    text = torch.nn.functional.normalize(torch.randn(5, spec.text_dim, generator=gen), dim=-1)
    frags = torch.nn.functional.normalize(torch.randn(5, MAX_FRAGMENTS, spec.text_dim, generator=gen), dim=-1)
    mask = (torch.rand(5, MAX_FRAGMENTS, generator=gen) > 0.4).float()
    mask[:, 0] = 1.0
    frags = frags * mask.unsqueeze(-1)
    bow_dim = model.config.model.text_bow
    bow = torch.nn.functional.normalize(torch.rand(5, max(bow_dim, 1), generator=gen), dim=-1)
    text_inputs = ["text", "fragments", "fragment_mask"] + (["bow"] if bow_dim else [])
    image_inputs = ["feature_map", "logits"]
    _export(image_head, (fmap, logits), folder / IMAGE_HEAD, image_inputs, ["embedding"],
            {**{k: {0: "batch"} for k in image_inputs}, "embedding": {0: "batch"}})
    _export(text_head, (text, frags, mask, bow)[: len(text_inputs)], folder / TEXT_HEAD, text_inputs, ["embedding"],
            {"text": {0: "batch"}, "fragments": {0: "batch", 1: "fragments"}, "fragment_mask": {0: "batch", 1: "fragments"},
             "bow": {0: "batch"}, "embedding": {0: "batch"}})
    cases = [("random", (fmap, logits), (text, frags, mask, bow))]
    if real is not None:
        t = {k: torch.from_numpy(v) for k, v in real.items()}
        if bow_dim and "bow" not in t:
            raise ExportError(f"this model reads a bag of words of width {bow_dim}; the real inputs lack 'bow'")
        cases.append(("real", (t["feature_map"], t["logits"]),
                      (t["text"], t["fragments"], t["fragment_mask"], t.get("bow"))))
    reports = []
    si, st = _session(folder / IMAGE_HEAD), _session(folder / TEXT_HEAD)
    for label, images, texts in cases:
        texts = texts[: len(text_inputs)]
        with torch.inference_mode():
            ei, et = image_head(*images).numpy(), text_head(*texts).numpy()
        gi = si.run(None, {k: v.numpy() for k, v in zip(image_inputs, images)})[0]
        gt = st.run(None, {k: v.numpy() for k, v in zip(text_inputs, texts)})[0]
        reports += [parity(IMAGE_HEAD, label, ei, gi), parity(TEXT_HEAD, label, et, gt)]
    return reports


# ---- the whole folder ------------------------------------------------------------------------------

REAL_TEXTS = ("a red apple. apple, fruit, red", "grinning face. face, grin", "a rocket standing on the launch pad",
              "flag: Germany", "a ginger tabby cat looking to the side")


def real_head_inputs(files: dict[str, Path], preprocessing: Preprocessing | None = None,
                     max_fragments: int = MAX_FRAGMENTS, text_bow: int = 0) -> dict[str, np.ndarray]:
    """Real head inputs: the exported backbones' outputs on drawn pictures and real sentences,
    prepared the runtime's way (its preprocessing, tokenizer, fragment packing and, with
    ``text_bow``, hashed bag of words)."""
    from PIL import Image, ImageDraw

    from ccl_embed.runtime.embedder import Embedder

    prepare = preprocessing or Preprocessing()
    images = []
    for i, colour in enumerate(("#d22", "#2a4", "#24d", "#eb2", "#222")):
        img = Image.new("RGB", (160, 120 + 20 * i), "white")
        ImageDraw.Draw(img).ellipse([20 + 5 * i, 15, 140, 100 + 10 * i], fill=colour, outline="black", width=3)
        images.append(img)
    texture = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)  # a textured, photo-like picture
    images.append(Image.fromarray(texture))
    fmap, logits = _session(files[IMAGE_BACKBONE]).run(None, {"pixels": np.stack([prepare(im) for im in images])})
    tokenizer = Embedder.tokenizer_from(files[TOKENIZER], MAX_TEXT_TOKENS)
    text_session = _session(files[TEXT_BACKBONE])

    def vectors(texts: list[str]) -> np.ndarray:
        enc = tokenizer.encode_batch(texts)
        feed = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64)}
        return np.asarray(text_session.run(None, feed)[0])

    frags = [text_fragments(t, max_fragments) for t in REAL_TEXTS]
    text = vectors(list(REAL_TEXTS))
    distinct = list(dict.fromkeys(f for fs in frags for f in fs))
    by_text = dict(zip(distinct, vectors(distinct)))
    fragments, mask = pack_fragments(frags, by_text.__getitem__, text.shape[1], max_fragments)
    real = {"feature_map": fmap, "logits": logits, "text": text, "fragments": fragments,
            "fragment_mask": mask}
    if text_bow:
        real["bow"] = hashed_bow(list(REAL_TEXTS), text_bow)
    return real


def _backbone_dir(cache: Path | None) -> Path:
    from ccl_embed.paths import cache_dir

    where = (cache or cache_dir()) / "backbones" / f"opset{OPSET}-v2"
    where.mkdir(parents=True, exist_ok=True)
    return where


def cached_image_backbone(cache: Path | None = None) -> tuple[Path, list[ParityReport]]:
    """The image backbone graph, exported (and parity-checked) into the cache on first use."""
    path = _backbone_dir(cache) / IMAGE_BACKBONE
    return path, ([] if path.exists() else export_image_backbone(path))


def backbones(cache: Path | None = None) -> tuple[dict[str, Path], list[ParityReport]]:
    """The backbone graphs and tokenizer, exported once into the cache and reused."""
    where = _backbone_dir(cache)
    image, reports = cached_image_backbone(cache)
    files = {IMAGE_BACKBONE: image, TEXT_BACKBONE: where / TEXT_BACKBONE, TOKENIZER: where / TOKENIZER}
    if not files[TEXT_BACKBONE].exists() or not files[TOKENIZER].exists():
        reports += export_text_backbone(files[TEXT_BACKBONE], files[TOKENIZER])
    return files, reports


def export_model(folder: str | Path, *, name: str | None = None, real: dict[str, np.ndarray] | None = None,
                 cache: Path | None = None, backbone_files: dict[str, Path] | None = None,
                 preprocessing: Preprocessing | None = None) -> list[ParityReport]:
    """Export a trained model folder for the runtime, in place, and write its manifest.

    Args:
        folder: A model folder written by ``ccl-embed train``.
        name: The model's name in the runtime (default: the folder's name).
        real: Real head inputs for the parity check (``feature_map``, ``logits``, ``text``,
            ``fragments``, ``fragment_mask`` arrays), besides the random ones; by default the
            backbones' outputs on drawn pictures and real sentences.
        cache: Where the exported backbones are kept (default: the user cache).
        backbone_files: Use these backbone graphs and tokenizer (keyed by file name) instead of
            the cached EfficientNet-Lite0 and MiniLM exports.
        preprocessing: How images become the image backbone's input (default: EfficientNet-Lite0's,
            224 px); recorded in the manifest, which the runtime follows.

    Returns:
        The parity report of every graph checked.

    Raises:
        ExportError: When a graph fails its parity check.
        ModelFolderError: When the folder is not a trained model.
    """
    from ccl_embed.model.folder import load_model

    folder = Path(folder)
    model = load_model(folder)
    prepare = preprocessing or Preprocessing()
    patches = Patches(image_regions=image_regions(model.config.model.image_regions), max_fragments=MAX_FRAGMENTS)
    reports: list[ParityReport]
    if backbone_files is not None:
        files, reports = backbone_files, []
    else:
        files, reports = backbones(cache)
    for fname, src in files.items():
        shutil.copyfile(src, folder / fname)
    if real is None:
        real = real_head_inputs(files, prepare, patches.max_fragments, model.config.model.text_bow)
    reports += export_heads(model, folder, real)
    torch, onnx = _torch(), require("onnx", "export")
    manifest = Manifest(
        name=name or folder.name,
        dim=model.out_dim,
        files=Manifest.hash_files(folder),
        preprocessing=prepare,
        patches=patches,
        max_text_tokens=MAX_TEXT_TOKENS,
        text_bow=model.config.model.text_bow,
        parity=tuple(asdict(r) for r in reports),
        opset=OPSET,
        written_by={"ccl-embed": __version__, "torch": torch.__version__, "onnx": onnx.__version__},
    )
    write_manifest(folder, manifest)
    return reports
