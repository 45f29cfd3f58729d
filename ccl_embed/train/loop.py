"""Training CCL, stage by stage, with checkpoints that resume exactly.

Phases run in order: ``stage1`` (intra + inter autoencoders, both granularities), ``fusion``
(multi-grained fusion with the category constraint), ``stage2`` (the hierarchical network,
multi-task). Each phase trains only its own layers. Every epoch draws its order and dropout from
a seed derived from (seed, phase, epoch), so a resumed run equals an uninterrupted one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from ccl_embed.errors import CCLEmbedError
from ccl_embed.model.config import CCLConfig, DataSpec
from ccl_embed.model.folder import save_model
from ccl_embed.model import readout
from ccl_embed.model.network import CCL, Batch
from ccl_embed.train.checkpoint import load_checkpoint, restore_optimizer, save_checkpoint
from ccl_embed.train.encoders import CCLEncoders, make_spec, to_batch
from ccl_embed.train.evaluate import evaluate_method
from ccl_embed.train.features import FeatureSet, Progress

PHASES = ("stage1", "fusion", "stage2")


@dataclass
class TrainResult:
    """What training returns: the model and the per-epoch history."""

    model: CCL
    history: list[dict[str, Any]] = field(default_factory=list)


def _phase_modules(model: CCL, phase: str) -> list[nn.Module | nn.Parameter]:
    if phase == "stage1":
        return [m for m in (model.instance, model.patch) if m is not None]
    if phase == "fusion":
        return [model.fuse_image, model.fuse_text, model.fuse_image_classifier, model.fuse_text_classifier]
    extra = [m for m in (model.log_scale, model.instance_image, model.instance_text, model.text_prototypes) if m is not None]
    return [model.top_image, model.top_text, model.prototypes, model.log_vars, *extra]


def _params(items: list[nn.Module | nn.Parameter]) -> list[nn.Parameter]:
    out: list[nn.Parameter] = []
    for item in items:
        out.extend([item] if isinstance(item, nn.Parameter) else list(item.parameters()))
    return out


def _phase_loss(model: CCL, phase: str, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
    if phase == "stage1":
        loss = model.stage1_loss(batch)
        return loss, {}
    if phase == "fusion":
        return model.fusion_loss(batch), {}
    return model.stage2_loss(batch)


def _epoch_seed(seed: int, phase: str, epoch: int) -> int:
    return (seed * 1_000_003 + PHASES.index(phase) * 10_007 + epoch) % (2**63)


def _optimizer(params: list[nn.Parameter], config: CCLConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=config.train.lr, weight_decay=config.train.weight_decay)


def _batches(n: int, size: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
    order = torch.randperm(n, generator=gen)
    for i in range(0, n, size):
        idx = order[i : i + size]
        if len(idx) > 1:
            yield idx


def train_ccl(
    train: FeatureSet,
    val: FeatureSet | None,
    config: CCLConfig,
    *,
    class_vectors: np.ndarray | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    checkpoint_every: int = 5,
    progress: Progress | None = None,
    towers: tuple[str, str] = ("", ""),
    start: CCL | None = None,
) -> TrainResult:
    """Train CCL on the training features.

    Args:
        train: Training features (labels, or concepts when unlabelled, are the categories).
        val: Validation features for the periodic MAP (None: no validation).
        config: Hyperparameters.
        class_vectors: ``[classes, text_dim]`` text vectors of the image tower's class names
            (needed when ``config.model.use_conse``).
        out: The model folder; checkpoints go to ``out/checkpoint`` and the model to ``out``.
        resume: Continue from the checkpoint in ``out``.
        checkpoint_every: Save a checkpoint every this many epochs (and at each phase's end).
        progress: Wraps the epoch iterator (``(iterable, total, desc)``), e.g. tqdm.
        towers: The (image, text) tower ids the features came from, recorded in the model.
        start: A trained network to fine-tune: every weight and statistic of the same shape
            starts from it (the category prototypes and classifiers of another vocabulary start
            anew), and its input standardisation, novelty and class-name vectors are kept.

    Returns:
        The trained model (eval mode) and its history.

    Raises:
        CCLEmbedError: On resume without a checkpoint, or when the config needs missing inputs.
        ValueError: When the training set has fewer than 2 categories.
    """
    if config.model.use_conse and class_vectors is None:
        raise CCLEmbedError("config.model.use_conse is True but no class_vectors were given; pass them or set use_conse=False")
    folder = Path(out) if out is not None else None
    history: list[dict[str, Any]] = []
    start_phase, start_epoch = 0, 0
    opt_flat: dict[str, torch.Tensor] = {}
    if resume:
        if folder is None:
            raise CCLEmbedError("resume=True needs the model folder (out) holding the checkpoint")
        state, weights, opt_flat = load_checkpoint(folder)
        saved = CCLConfig.from_dict(state["config"])
        if saved != config:
            raise CCLEmbedError(f"{folder}: the checkpoint was trained with another config; resume with the same options "
                                "or start anew without --resume")
        spec = DataSpec.from_dict(state["spec"])
        history = state["history"]
        start_phase, start_epoch = PHASES.index(state["phase"]), state["epoch"]
    else:
        spec = make_spec(train, config, class_vectors, *towers)
    torch.manual_seed(config.train.seed)
    model = CCL(config, spec)
    data = to_batch(train, spec, config.model.text_bow)
    if resume:
        model.load_state_dict(weights)
    elif start is not None:
        own = model.state_dict()
        same_classes = start.spec.labels == spec.labels
        model.load_state_dict({k: v for k, v in start.state_dict().items() if k in own and own[k].shape == v.shape
                               and (same_classes or not ("prototypes" in k or "classifier" in k))}, strict=False)
    else:
        if config.model.use_conse and class_vectors is not None:
            model.class_vectors.copy_(torch.from_numpy(np.asarray(class_vectors, dtype=np.float32)))
        model.fit_normalizers(data)

    phases = [p for p in PHASES if p == "stage2" or config.model.use_stage1]
    epochs = {"stage1": config.train.stage1_epochs, "fusion": config.train.fusion_epochs, "stage2": config.train.stage2_epochs}
    plan = [(p, e) for p in phases for e in range(epochs[p]) if (PHASES.index(p), e) >= (start_phase, start_epoch)]
    steps: Iterable[tuple[str, int]] = plan
    bar = None
    if progress is not None:
        bar = progress(plan, len(plan), "training CCL")
        steps = cast(Iterable[tuple[str, int]], bar)
    opt: torch.optim.Optimizer | None = None
    current = None
    for phase, epoch in steps:
        if phase != current:
            for p in model.parameters():
                p.requires_grad_(False)
            params = _params(_phase_modules(model, phase))
            for p in params:
                p.requires_grad_(True)
            opt = _optimizer(params, config)
            if resume and PHASES.index(phase) == start_phase:
                restore_optimizer(opt, opt_flat)
            current = phase
        if opt is None:  # unreachable: the first item always opens a phase
            raise RuntimeError("no optimizer for phase " + phase)
        seed = _epoch_seed(config.train.seed, phase, epoch)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model.train()
        t0 = time.perf_counter()
        losses: list[float] = []
        parts_sum: dict[str, float] = {}
        for idx in _batches(len(data), config.train.batch_size, gen):
            loss, parts = _phase_loss(model, phase, data.take(idx))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            for k, v in parts.items():
                parts_sum[k] = parts_sum.get(k, 0.0) + v
        entry: dict[str, Any] = {"phase": phase, "epoch": epoch + 1, "loss": float(np.mean(losses)) if losses else 0.0,
                                 "pairs_per_s": len(data) / max(time.perf_counter() - t0, 1e-9)}
        entry.update({k: v / max(len(losses), 1) for k, v in parts_sum.items()})
        last_of_phase = epoch + 1 == epochs[phase]
        if val is not None and phase == "stage2" and (last_of_phase or (config.train.val_every and (epoch + 1) % config.train.val_every == 0)):
            if config.readout.centering > 0:  # the readout centres on the training means of today's weights
                readout.fit_centers(model, data)
            entry["val_map"] = evaluate_method(CCLEncoders(model), val).mean_map
        history.append(entry)
        if bar is not None and hasattr(bar, "set_postfix"):
            bar.set_postfix({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in entry.items() if k != "pairs_per_s"}
                            | {"pairs/s": f"{entry['pairs_per_s']:.0f}"})
        if folder is not None and (last_of_phase or (epoch + 1) % checkpoint_every == 0):
            nxt = (phase, epoch + 1)
            if last_of_phase and phase != phases[-1]:
                nxt = (phases[phases.index(phase) + 1], 0)
            save_checkpoint(folder, model, opt, {"phase": nxt[0], "epoch": nxt[1], "config": json.loads(config.to_json()),
                                                  "spec": json.loads(spec.to_json()), "history": history})
            if nxt[0] != phase:
                opt_flat = {}
    model.eval()
    readout.fit_centers(model, data)
    if folder is not None:
        metrics = {"val": evaluate_method(CCLEncoders(model), val).to_dict()} if val is not None and len(val) else {}
        save_model(model, folder, metrics=metrics | {"history": history[-3:]})
    return TrainResult(model, history)

