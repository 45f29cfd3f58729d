"""The model folder as the runtime sees it: its manifest, validated files, and the shipped models.

An exported model folder holds:

| file | what |
|---|---|
| ``manifest.json`` | the :class:`~ccl_embed.runtime.manifest.Manifest`: width, distance, preprocessing, patch schemes, int8 parts, metrics, licences, versions and the SHA-256 of every file below |
| ``image_backbone.onnx`` | pixels ``[b, 3, S, S]`` (S = ``preprocessing.image_size``) -> ``feature_map [b, C, g, g]``, ``logits [b, 1000]`` |
| ``text_backbone.onnx`` | ``input_ids``, ``attention_mask`` ``[b, t]`` -> ``vector [b, 384]`` (mean-pooled, unit) |
| ``image_head.onnx`` | ``feature_map``, ``logits`` -> ``embedding [b, D]`` (instance + regions, CCL, fused) |
| ``text_head.onnx`` | ``text [b, 384]``, ``fragments [b, f, 384]``, ``fragment_mask [b, f]`` -> ``embedding [b, D]`` |
| ``tokenizer.json`` | the text backbone's tokenizer |

A folder written by ``ccl-embed train`` also holds the training record (``config.json``) and the
weights (``model.safetensors``); the runtime reads neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ccl_embed.runtime.manifest import (
    IMAGE_BACKBONE,
    IMAGE_HEAD,
    RUNTIME_FILES,
    TEXT_BACKBONE,
    TEXT_HEAD,
    TOKENIZER,
    Manifest,
    ModelError,
    is_model_folder,
    read_manifest,
    sha256_file,
)

DEFAULT_MODEL = "default"

__all__ = ["DEFAULT_MODEL", "IMAGE_BACKBONE", "IMAGE_HEAD", "RUNTIME_FILES", "TEXT_BACKBONE", "TEXT_HEAD", "TOKENIZER",
           "ModelError", "RuntimeModel", "installed_models", "read_runtime", "resolve_model", "sha256_file"]


@dataclass(frozen=True)
class RuntimeModel:
    """A validated runtime model folder and its manifest."""

    folder: Path
    manifest: Manifest

    def path(self, name: str) -> Path:
        return self.folder / name

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def dim(self) -> int:
        return self.manifest.dim

    @property
    def distance(self) -> str:
        return self.manifest.distance

    @property
    def version(self) -> str:
        """A fingerprint of the model's files: the same for the same weights, different after retraining."""
        return self.manifest.version


def read_runtime(folder: str | Path, *, check_hashes: bool = True) -> RuntimeModel:
    """Read and validate an exported model folder.

    Raises:
        ModelError: When a file is missing or altered, or the folder is of another format.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    manifest.validate(folder, check_hashes=check_hashes)
    manifest.warn_if_newer()
    return RuntimeModel(folder=folder, manifest=manifest)


def installed_models() -> dict[str, Path]:
    """Models shipped inside the package, by name."""
    root = Path(__file__).resolve().parent.parent / "models"
    return {p.name: p for p in sorted(root.iterdir()) if is_model_folder(p)} if root.is_dir() else {}


def resolve_model(model: str | Path = DEFAULT_MODEL) -> Path:
    """A model folder from a shipped model's name (``default``) or a path.

    Raises:
        ModelError: When it is neither.
    """
    shipped = installed_models()
    if isinstance(model, str) and model in shipped:
        return shipped[model]
    path = Path(model)
    if path.is_dir():
        return path
    import difflib

    names = ", ".join(shipped) or "none installed"
    close = difflib.get_close_matches(str(model), list(shipped), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ModelError(f"model {str(model)!r} is neither a shipped model ({names}) nor a folder; {hint}"
                     "pass a shipped model's name, or a folder written by `ccl-embed train` or `ccl-embed export`")
