"""The model-folder manifest: one typed record, owned by the runtime, of everything it needs to run a model.

Export builds a :class:`Manifest` and writes it as ``manifest.json``; the runtime reads it back
and takes its preprocessing, patch schemes and text limits from it, never from constants, so a
model exported with another input size runs as it was trained. ``to_json`` / ``from_json``
round-trip exactly; :meth:`Manifest.validate` checks the folder's files against their hashes.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ccl_embed._version import __version__
from ccl_embed.errors import CCLEmbedError
from ccl_embed.runtime.calibration import check_calibration
from ccl_embed.runtime.images import Preprocessing
from ccl_embed.runtime.patches import Patches

FORMAT_VERSION = 2
MANIFEST_FILE = "manifest.json"

IMAGE_BACKBONE = "image_backbone.onnx"
TEXT_BACKBONE = "text_backbone.onnx"
IMAGE_HEAD = "image_head.onnx"
TEXT_HEAD = "text_head.onnx"
TOKENIZER = "tokenizer.json"
RUNTIME_FILES = (IMAGE_BACKBONE, TEXT_BACKBONE, IMAGE_HEAD, TEXT_HEAD, TOKENIZER)
"""The files every model folder holds for the runtime, each hashed in the manifest."""
DISTANCES = ("cosine",)
REEXPORT = "re-export the model with `ccl-embed export MODEL_DIR`"


class ModelError(CCLEmbedError, ValueError):
    """A model folder cannot be used by the runtime; the message says what is wrong and how to fix it."""


def sha256_file(path: Path | BinaryIO) -> str:
    """The SHA-256 of a file (a path, or a file already open for reading bytes), read in 1 MiB chunks."""
    if isinstance(path, Path):
        with path.open("rb") as f:
            return sha256_file(f)
    h = hashlib.sha256()
    for chunk in iter(lambda: path.read(1 << 20), b""):
        h.update(chunk)
    return h.hexdigest()


def read_json_object(path: Path, error: type[CCLEmbedError]) -> dict[str, Any]:
    """A JSON object from a file, or ``error`` naming the file and what is wrong with it."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: not readable JSON ({e})") from e
    if not isinstance(record, dict):
        raise error(f"{path}: expected a JSON object, found {type(record).__name__}")
    return record


def _version_key(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


@dataclass(frozen=True)
class Manifest:
    """What the runtime knows of a model folder.

    Attributes:
        name: The model's name at run time (``ccl-embed/<name>`` in the plugins).
        dim: The width of the common space.
        files: SHA-256 of every file in :data:`RUNTIME_FILES`, by name.
        distance: How vectors compare; only ``cosine``.
        preprocessing: How an image becomes the image backbone's input.
        patches: The image regions and text fragment slots the heads were trained with.
        max_text_tokens: Texts are truncated to this many tokens.
        text_bow: Width of the hashed bag of words (``ccl_embed.runtime.bow``) the text head reads
            as its ``bow`` input; 0: the head reads none.
        quantized_int8: Graphs quantized to int8 (run one item at a time, see the embedder).
        metrics: Measured scores by split (for example ``test``, ``test_fp32``), as written by export.
        licences: The licence of each part, by part (the folder's ``LICENSES.md`` has the detail).
        parity: The export's parity reports (graph, inputs, cosine, error).
        calibration: For each ``query modality:item modality`` pair, the mean and std of the
            cosine of related pairs on validation splits: what orders a mixed search
            (``ccl_embed.runtime.calibration``); empty: mixed searches rank by raw cosine.
        opset: The ONNX opset of the graphs.
        written_by: Library versions that wrote the folder (``ccl-embed``, ``torch``, ``onnx``...).
        format_version: The manifest format; :data:`FORMAT_VERSION` for new folders.
    """

    name: str
    dim: int
    files: Mapping[str, str]
    distance: str = "cosine"
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    patches: Patches = field(default_factory=Patches)
    max_text_tokens: int = 256
    text_bow: int = 0
    quantized_int8: tuple[str, ...] = ()
    metrics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    licences: Mapping[str, str] = field(default_factory=dict)
    parity: tuple[Mapping[str, Any], ...] = ()
    calibration: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    opset: int = 17
    written_by: Mapping[str, str] = field(default_factory=lambda: {"ccl-embed": __version__})
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantized_int8", tuple(self.quantized_int8))
        object.__setattr__(self, "parity", tuple(self.parity))
        try:
            object.__setattr__(self, "calibration", check_calibration(self.calibration or {}))
        except ValueError as e:
            raise ModelError(f"manifest {e}; compute it again with `ccl-embed calibrate MODEL_DIR CORPUS`") from e
        if not isinstance(self.name, str) or not self.name.strip() or "/" in self.name:
            raise ModelError(f"manifest name={self.name!r}: give a non-empty name without '/'")
        if not isinstance(self.dim, int) or self.dim < 1:
            raise ModelError(f"manifest dim={self.dim!r}: give the positive width of the common space")
        if self.distance not in DISTANCES:
            raise ModelError(f"manifest distance={self.distance!r}: choose one of {', '.join(DISTANCES)}")
        if not isinstance(self.max_text_tokens, int) or self.max_text_tokens < 1:
            raise ModelError(f"manifest max_text_tokens={self.max_text_tokens!r}: give a positive whole number")
        if not isinstance(self.text_bow, int) or self.text_bow < 0:
            raise ModelError(f"manifest text_bow={self.text_bow!r}: give 0 (no bag of words) or its positive width")
        missing = [f for f in RUNTIME_FILES if f not in self.files]
        if missing:
            raise ModelError(f"manifest files: no hash for {', '.join(missing)}; {REEXPORT}")
        unknown = [f for f in self.quantized_int8 if f not in RUNTIME_FILES]
        if unknown:
            raise ModelError(f"manifest quantized_int8: {', '.join(unknown)} is not one of {', '.join(RUNTIME_FILES)}")

    @property
    def version(self) -> str:
        """A fingerprint of the model's files: the same for the same weights, different after retraining."""
        digest = hashlib.sha256(json.dumps(dict(self.files), sort_keys=True).encode()).hexdigest()
        return digest[:16]

    # ---- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The manifest as plain JSON-ready data."""
        out = asdict(self)
        out["patches"]["image_regions"] = [list(r) for r in self.patches.image_regions]
        out["quantized_int8"] = list(self.quantized_int8)
        out["parity"] = [dict(p) for p in self.parity]
        out["calibration"] = {k: list(v) for k, v in self.calibration.items()}
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], source: str = "manifest") -> Manifest:
        """Build a manifest from its JSON data.

        Raises:
            ModelError: For another format version, unknown or missing fields, or bad values; the
                message names ``source`` and the field.
        """
        version = record.get("format_version")
        if version != FORMAT_VERSION:
            newer = isinstance(version, int) and version > FORMAT_VERSION
            raise ModelError(f"{source}: manifest format {version!r}, this ccl-embed reads {FORMAT_VERSION}; "
                             + ("upgrade ccl-embed (pip install -U ccl-embed)" if newer else REEXPORT))
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(record) - known)
        if unknown:  # written by a newer ccl-embed: what this one cannot use is left out, said once
            warnings.warn(f"{source}: manifest field(s) {', '.join(unknown)} are unknown to ccl-embed {__version__} "
                          "and ignored; upgrade: pip install -U ccl-embed", UserWarning, stacklevel=3)
        data = {k: v for k, v in record.items() if k in known}
        try:
            data["preprocessing"] = Preprocessing(**dict(data.get("preprocessing") or {}))
            patches = dict(data.get("patches") or {})
            if "image_regions" in patches:
                patches["image_regions"] = tuple(tuple(r) for r in patches["image_regions"])
            data["patches"] = Patches(**patches)
            return cls(**data)
        except ModelError as e:
            raise ModelError(f"{source}: {e}") from e
        except (TypeError, ValueError) as e:
            raise ModelError(f"{source}: invalid manifest ({e}); {REEXPORT}") from e

    @classmethod
    def from_json(cls, text: str, source: str = "manifest") -> Manifest:
        """Parse ``manifest.json`` text (see :meth:`from_dict` for the errors)."""
        try:
            record = json.loads(text)
        except json.JSONDecodeError as e:
            raise ModelError(f"{source}: not readable JSON ({e})") from e
        if not isinstance(record, dict):
            raise ModelError(f"{source}: expected a JSON object")
        return cls.from_dict(record, source)

    # ---- the folder -----------------------------------------------------------------------------
    def validate(self, folder: str | Path, *, check_hashes: bool = True) -> None:
        """Check that the folder holds every runtime file, unaltered.

        Raises:
            ModelError: Naming the first missing or altered file.
        """
        folder = Path(folder)
        for name in RUNTIME_FILES:
            file = folder / name
            if not file.is_file():
                raise ModelError(f"{folder}: {name} is missing; {REEXPORT}")
            if check_hashes and self.files.get(name) != sha256_file(file):
                raise ModelError(f"{file}: its SHA-256 differs from the manifest; the file was altered or truncated, "
                                 f"{REEXPORT}")

    def warn_if_newer(self) -> None:
        """Warn when the folder was written by a newer ccl-embed than this one."""
        wrote = str(self.written_by.get("ccl-embed", ""))
        if wrote and _version_key(wrote) > _version_key(__version__):
            warnings.warn(f"model {self.name!r} was written by ccl-embed {wrote}, newer than this {__version__}; "
                          "if it misbehaves, upgrade: pip install -U ccl-embed", UserWarning, stacklevel=3)

    @staticmethod
    def hash_files(folder: str | Path) -> dict[str, str]:
        """SHA-256 of every runtime file of a folder (for building a manifest)."""
        return {name: sha256_file(Path(folder) / name) for name in RUNTIME_FILES}


def write_manifest(folder: str | Path, manifest: Manifest) -> Path:
    """Write ``manifest.json`` into a folder atomically (the runtime files must already be there)."""
    path = Path(folder) / MANIFEST_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(manifest.to_json(), encoding="utf-8")
    tmp.replace(path)
    return path


def read_manifest(folder: str | Path) -> Manifest:
    """The manifest of a model folder (``manifest.json``).

    Raises:
        ModelError: When the folder has neither, or its record is unusable (the message says how to fix it).
    """
    folder = Path(folder)
    path = folder / MANIFEST_FILE
    if path.is_file():
        return Manifest.from_dict(read_json_object(path, ModelError), str(path))
    if (folder / "config.json").is_file():
        raise ModelError(f"{folder}: a trained model that was never exported; run `ccl-embed export {folder}`")
    raise ModelError(f"{folder}: no {MANIFEST_FILE}; pass a model folder written by `ccl-embed train` or "
                     "`ccl-embed export`, or 'default'")


def is_model_folder(folder: Path) -> bool:
    """Whether a folder looks like an exported model (it has a manifest)."""
    return (folder / MANIFEST_FILE).is_file()
