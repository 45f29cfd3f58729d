"""A trained CCL network read back from an exported folder's head graphs, to fine-tune it.

An exported folder (the shipped ``default`` among them) carries no PyTorch weights: its image head
holds every layer an embedding runs through, both towers' stage-1 encoders, fusion and stage-2
layers (the text side too, for the ImageNet bridge), and the statistics fixed at training
(standardisation, novelty, class-name vectors, centres). :func:`read_back` rebuilds the network
from them, int8 weights dequantized, so the folder costs no extra bytes. What an embedding never
runs through (stage 1's decoders, the fusion classifiers, the category prototypes) is not in the
graphs: a fine-tune starts those anew, and trains the stages that use them.

Initializers are matched to the network's parameters by name (``ccl.<key>``, ``..._Transposed``
for the exporter's transposed weights, ``..._quantized`` with ``_scale`` and ``_zero_point`` for
int8 ones); the few the exporter names by number are matched by shape, only where one parameter
has it; the centres, which the exporter folds into ``b * mean`` constants, are read in the order
it numbered them (the order it traced them). Anything else left unmatched is an error that names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ccl_embed.errors import CCLEmbedError, require
from ccl_embed.runtime.manifest import IMAGE_HEAD, TEXT_HEAD

PREFIX = "ccl."


class ReadBackError(CCLEmbedError, ValueError):
    """A head graph could not be read back into the network; the message names the part."""


def _initializers(path: Path) -> dict[str, np.ndarray]:
    """Every initializer of a graph, int8 triplets dequantized (per output channel)."""
    onnx = require("onnx", "export")
    from onnx import numpy_helper

    raw = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    out: dict[str, np.ndarray] = {}
    for name, value in raw.items():
        if name.endswith("_quantized"):
            base = name[: -len("_quantized")]
            scale, zero = raw[base + "_scale"], raw[base + "_zero_point"]
            out[base] = ((value.astype(np.float32) - zero.astype(np.float32)) * scale.astype(np.float32)).astype(np.float32)
        elif not name.endswith(("_scale", "_zero_point")):
            out[name] = value.astype(np.float32) if value.dtype.kind == "f" else value
    return out


def read_back(folder: str | Path) -> Any:
    """The CCL network of an exported model folder, weights read from its head graphs (eval mode).

    Raises:
        ReadBackError: When a graph holds a weight no parameter matches, or a parameter the
            embedding needs is missing.
        ModelFolderError: When the folder has no training record (``config.json``).
    """
    torch = require("torch", "train")
    from ccl_embed.model.folder import read_config
    from ccl_embed.model.network import CCL
    from ccl_embed.model.statistics import CENTER_KINDS

    folder = Path(folder)
    config, spec, _ = read_config(folder)
    torch.manual_seed(config.train.seed)
    model = CCL(config, spec)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    wanted = {k: tuple(v.shape) for k, v in state.items()}
    found: dict[str, np.ndarray] = {}
    centres: list[np.ndarray] = []
    for graph in (IMAGE_HEAD, TEXT_HEAD):
        values = _initializers(folder / graph)
        unnamed: list[str] = []
        folded: list[tuple[int, np.ndarray]] = []
        for name, value in values.items():
            key, transposed = name, False
            if key.startswith(PREFIX):
                key = key[len(PREFIX):]
                if key.endswith("_Transposed"):
                    key, transposed = key[: -len("_Transposed")], True
            if key in wanted:
                found.setdefault(key, value.T if transposed else value)
            elif value.ndim == 1 and config.readout.centering > 0 and value.shape[0] in (config.model.dim, config.model.instance_part):
                folded.append((_number(name), value / config.readout.centering))  # ``b * mean`` of one centre part
            elif value.ndim == 2:
                unnamed.append(name)
        # The exporter numbers constants in the order it traces them: category then instance part,
        # of the image, then of the ConSE vector read as a text (image head), or of the text.
        centres += [value for _, value in sorted(folded, key=lambda item: item[0])]
        for name in unnamed:  # the exporter's numbered weights: by shape, where only one parameter has it
            value = values[name]
            same = [k for k, shape in wanted.items() if len(shape) == 2 and shape == value.T.shape]
            fits = [k for k in same if k not in found]
            if len(fits) == 1:
                found[fits[0]] = value.T
            elif same and not fits:
                continue  # read already from the other head (the text side runs in both)
            elif value.shape != (spec.classes, 1):  # a folded constant of the text projection (derived, not a weight)
                fits_text = ", ".join(fits) or "none"
                raise ReadBackError(f"{folder / graph}: cannot tell which weight {name} {list(value.shape)} is "
                                    f"(candidates: {fits_text}); re-export the model with this ccl-embed")
    for key, value in found.items():
        if tuple(value.shape) != wanted[key]:
            raise ReadBackError(f"{folder}: {key} has shape {list(value.shape)} in the graphs, {list(wanted[key])} in the config")
        state[key] = torch.from_numpy(np.ascontiguousarray(value)).to(state[key].dtype)
    if config.readout.centering > 0:
        # Image head: image (category, instance), described (...); text head: text (...).
        kinds = ["image", "described", "text"] if config.model.use_conse else ["image", "text"]
        per_kind = 2 if config.model.instance_part else 1
        if len(centres) != per_kind * len(kinds):
            raise ReadBackError(f"{folder}: found {len(centres)} centre parts in the graphs, expected {per_kind * len(kinds)}")
        means = state["centers.means"].clone()
        for i, kind in enumerate(kinds):
            means[CENTER_KINDS.index(kind)] = torch.from_numpy(np.concatenate(centres[i * per_kind:(i + 1) * per_kind]))
        state["centers.means"] = means
    for flag in ("novelty.fitted", "centers.fitted"):
        state[flag] = torch.ones(())
    needed = [k for k in wanted if _embedding_needs(k) and k not in found and not k.startswith("centers.")]
    if needed:
        raise ReadBackError(f"{folder}: the head graphs lack {', '.join(needed[:4])}; re-export the model with this ccl-embed")
    model.load_state_dict(state)
    return model.eval()


def _number(name: str) -> int:
    """The exporter's number of a constant it named itself (``onnx::Sub_581`` -> 581)."""
    digits = name.rsplit("_", 1)[-1]
    if not digits.isdigit():
        raise ReadBackError(f"a centre constant of unexpected name {name!r}; re-export the model with this ccl-embed")
    return int(digits)


def _embedding_needs(key: str) -> bool:
    """Whether every embedding runs through a parameter (stage 1's encoders, fusion, stage 2,
    standardisation); training alone uses the rest, and the readout's statistics only some models."""
    layers = ("instance.", "patch.", "fuse_image.", "fuse_text.", "top_", "instance_image", "instance_text", "norm_")
    training_only = (".dec.", "classifier")
    return key.startswith(layers) and not any(part in key for part in training_only)
