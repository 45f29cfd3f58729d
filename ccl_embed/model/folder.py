"""The trained-model folder and the checkpoint's file names: constants, save and load.

A trained-model folder holds ``config.json`` (format version, the CCLConfig in its three sections,
the DataSpec, the library versions that wrote it, and metrics) and ``model.safetensors`` (every weight and buffer; never a
pickle). Training also keeps ``checkpoint/`` there until it finishes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ccl_embed.errors import CCLEmbedError
from ccl_embed.model.config import CCLConfig, DataSpec
from ccl_embed.runtime.manifest import read_json_object

FORMAT_VERSION = 2
"""2: the config in sections (model, train, readout); 1 (ccl-embed before its first release) was flat."""
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_STATE = "state.json"
CHECKPOINT_WEIGHTS = "model.safetensors"
CHECKPOINT_OPTIMIZER = "optimizer.safetensors"


class ModelFolderError(CCLEmbedError, ValueError):
    """A model folder is missing, incomplete or of another format; the message says which."""


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_model(model: Any, folder: str | Path, *, metrics: dict[str, Any] | None = None) -> Path:
    """Write a trained model's folder (weights first, config last, each atomically)."""
    from safetensors.torch import save

    from ccl_embed._version import __version__

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    _atomic_write(folder / WEIGHTS_FILE, save(tensors))
    import torch

    record = {
        "format_version": FORMAT_VERSION,
        "model": "ccl",
        "config": json.loads(model.config.to_json()),
        "spec": json.loads(model.spec.to_json()),
        "written_by": {"ccl-embed": __version__, "torch": torch.__version__},
        "metrics": metrics or {},
    }
    _atomic_write(folder / CONFIG_FILE, (json.dumps(record, indent=2) + "\n").encode())
    return folder


def read_config(folder: str | Path) -> tuple[CCLConfig, DataSpec, dict[str, Any]]:
    """The config, spec and whole record of a model folder.

    Raises:
        ModelFolderError: When the folder or its config is missing, unreadable or of another format.
    """
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise ModelFolderError(f"{folder}: no {CONFIG_FILE}; a model folder is written by `ccl-embed train`")
    record = read_json_object(path, ModelFolderError)
    version = record.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFolderError(f"{path}: format version {version!r}, this ccl-embed reads version {FORMAT_VERSION}; "
                               "retrain the model or install the ccl-embed that wrote it")
    try:
        return CCLConfig.from_dict(record["config"]), DataSpec.from_dict(record["spec"]), record
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFolderError(f"{path}: invalid model config ({e})") from e


def load_model(folder: str | Path) -> Any:
    """Rebuild a trained CCL model (in eval mode) from its folder."""
    from safetensors.torch import load_file

    from ccl_embed.model.network import CCL

    folder = Path(folder)
    config, spec, _ = read_config(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFolderError(f"{folder}: no {WEIGHTS_FILE}; the training did not finish (resume it with --resume)")
    model = CCL(config, spec)
    state = load_file(weights)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ModelFolderError(f"{weights}: weights do not match {CONFIG_FILE} ({str(e).splitlines()[0]})") from e
    return model.eval()
