"""The model folder as the runtime sees it: file names as constants, validation by hash.

An exported model folder holds, beside the training files (``config.json``, ``model.safetensors``):

| file | what |
|---|---|
| ``image_backbone.onnx`` | pixels ``[b, 3, 224, 224]`` -> ``feature_map [b, 1280, 7, 7]``, ``logits [b, 1000]`` |
| ``text_backbone.onnx`` | ``input_ids``, ``attention_mask`` ``[b, t]`` -> ``vector [b, 384]`` (mean-pooled, unit) |
| ``image_head.onnx`` | ``feature_map``, ``logits`` (and ``flatness [b]`` where photographs are routed) -> ``embedding [b, D]`` (instance + regions, CCL, fused) |
| ``text_head.onnx`` | ``text [b, 384]``, ``fragments [b, f, 384]``, ``fragment_mask [b, f]`` -> ``embedding [b, D]`` |
| ``tokenizer.json`` | the text backbone's tokenizer |

``config.json`` gains a ``runtime`` section: the format version, the embedding width, the
distance, the preprocessing, the patch schemes and the SHA-256 of every file above.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccl_embed.errors import CCLEmbedError

RUNTIME_FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
IMAGE_BACKBONE = "image_backbone.onnx"
TEXT_BACKBONE = "text_backbone.onnx"
IMAGE_HEAD = "image_head.onnx"
TEXT_HEAD = "text_head.onnx"
TOKENIZER = "tokenizer.json"
RUNTIME_FILES = (IMAGE_BACKBONE, TEXT_BACKBONE, IMAGE_HEAD, TEXT_HEAD, TOKENIZER)


class ModelError(CCLEmbedError, ValueError):
    """A model folder cannot be used by the runtime; the message says what is wrong and how to fix it."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class RuntimeModel:
    """A validated runtime model folder."""

    folder: Path
    name: str
    dim: int
    distance: str
    max_text_tokens: int
    files: dict[str, str]
    record: dict[str, Any]

    def path(self, name: str) -> Path:
        return self.folder / name

    @property
    def version(self) -> str:
        """A fingerprint of the model's files: the same for the same weights, different after retraining."""
        digest = hashlib.sha256(json.dumps(self.files, sort_keys=True).encode()).hexdigest()
        return digest[:16]


def read_record(folder: Path, error: type[CCLEmbedError], hint: str) -> dict[str, Any]:
    """The parsed ``config.json`` of a model folder; ``error`` (with ``hint`` on how to get one) when missing or bad."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise error(f"{folder}: no {CONFIG_FILE}; {hint}")
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise error(f"{path}: not readable JSON ({e})") from e
    if not isinstance(record, dict):
        raise error(f"{path}: expected a JSON object")
    return record


def read_runtime(folder: str | Path, *, check_hashes: bool = True) -> RuntimeModel:
    """Read and validate an exported model folder.

    Raises:
        ModelError: When a file is missing or altered, or the folder is of another format.
    """
    folder = Path(folder)
    path = folder / CONFIG_FILE
    record = read_record(folder, ModelError, "pass a model folder written by `ccl-embed export`, or 'default'")
    runtime = record.get("runtime")
    if not isinstance(runtime, dict):
        raise ModelError(f"{folder}: the model was trained but never exported; run `ccl-embed export {folder}`")
    if runtime.get("format_version") != RUNTIME_FORMAT_VERSION:
        raise ModelError(f"{path}: runtime format {runtime.get('format_version')!r}, this ccl-embed reads "
                         f"{RUNTIME_FORMAT_VERSION}; re-export the model with this version")
    files = runtime.get("files", {})
    for name in RUNTIME_FILES:
        file = folder / name
        if not file.is_file():
            raise ModelError(f"{folder}: {name} is missing; re-run `ccl-embed export {folder}`")
        if check_hashes and files.get(name) != sha256_file(file):
            raise ModelError(f"{file}: its SHA-256 differs from {CONFIG_FILE}; the file was altered or truncated, "
                             f"re-run `ccl-embed export {folder}`")
    return RuntimeModel(folder=folder, name=str(runtime.get("name", folder.name)), dim=int(runtime["dim"]),
                        distance=str(runtime.get("distance", "cosine")), max_text_tokens=int(runtime.get("max_text_tokens", 256)),
                        files=files, record=record)


DEFAULT_MODEL = "default"


def installed_models() -> dict[str, Path]:
    """Models shipped inside the package, by name."""
    root = Path(__file__).resolve().parent.parent / "models"
    return {p.name: p for p in sorted(root.iterdir()) if (p / CONFIG_FILE).is_file()} if root.is_dir() else {}


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
    names = ", ".join(shipped) or "none installed"
    raise ModelError(f"model {str(model)!r} is neither a shipped model ({names}) nor a folder; "
                     "pass a folder written by `ccl-embed export`")
