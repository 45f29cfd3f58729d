"""Checkpoint I/O: the model's weights, the optimizer's state and where training stands, committed last.

The file names belong to the model folder's format (``ccl_embed.model.folder``); this module
reads and writes them. Tensors are safetensors, never pickles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ccl_embed.errors import CCLEmbedError
from ccl_embed.model.folder import CHECKPOINT_DIR, CHECKPOINT_OPTIMIZER, CHECKPOINT_STATE, CHECKPOINT_WEIGHTS
from ccl_embed.model.network import CCL


def save_checkpoint(folder: Path, model: CCL, opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    from safetensors.torch import save

    ck = folder / CHECKPOINT_DIR
    ck.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    (ck / (CHECKPOINT_WEIGHTS + ".tmp")).write_bytes(save(tensors))
    opt_state = opt.state_dict()
    flat = {f"{pid}.{name}": (v if torch.is_tensor(v) else torch.tensor(v)).contiguous()
            for pid, entry in opt_state["state"].items() for name, v in entry.items()}
    (ck / (CHECKPOINT_OPTIMIZER + ".tmp")).write_bytes(save(flat) if flat else save({"empty": torch.zeros(0)}))
    (ck / (CHECKPOINT_STATE + ".tmp")).write_text(json.dumps(state, indent=2))
    for name in (CHECKPOINT_WEIGHTS, CHECKPOINT_OPTIMIZER, CHECKPOINT_STATE):  # state last: it commits
        (ck / (name + ".tmp")).replace(ck / name)


def load_checkpoint(folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    ck = folder / CHECKPOINT_DIR
    if not (ck / CHECKPOINT_STATE).is_file():
        raise CCLEmbedError(f"{folder}: no checkpoint to resume from ({ck / CHECKPOINT_STATE} missing); "
                            "run without --resume to start a new training")
    state = json.loads((ck / CHECKPOINT_STATE).read_text())
    return state, load_file(ck / CHECKPOINT_WEIGHTS), load_file(ck / CHECKPOINT_OPTIMIZER)


def restore_optimizer(opt: torch.optim.Optimizer, flat: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in flat.items():
        if key == "empty":
            continue
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    sd = opt.state_dict()
    sd["state"] = state
    opt.load_state_dict(sd)


