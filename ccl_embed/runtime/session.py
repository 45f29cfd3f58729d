"""onnxruntime sessions with honest device reporting.

onnxruntime-gpu lists the CUDA provider even where CUDA cannot load, then silently runs on the
CPU. So the device is read back from the created session, and a warning is given once when CUDA
was asked for and is not what runs.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from ccl_embed.errors import CCLEmbedError, require

log = logging.getLogger(__name__)
DEVICES = ("auto", "cpu", "cuda")
_warned: set[str] = set()


def check_device(device: object) -> str:
    """``device`` when it is one of :data:`DEVICES`, else a CCLEmbedError listing them."""
    if device not in DEVICES:
        raise CCLEmbedError(f"device={device!r}: choose one of {', '.join(DEVICES)}")
    return str(device)


def providers_for(device: str, available: list[str]) -> list[str]:
    """The execution providers to ask for."""
    check_device(device)
    if device == "cpu" or "CUDAExecutionProvider" not in available:
        return ["CPUExecutionProvider"]
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def device_of(session: Any) -> str:
    """``cuda`` when the session really runs on CUDA, else ``cpu``."""
    return "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"


def make_session(path: Path, device: str = "auto", threads: int | None = None) -> Any:
    """An inference session (optimisation level ALL) on the requested device, falling back to CPU with a warning."""
    ort = require("onnxruntime", "runtime")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    providers = providers_for(device, ort.get_available_providers())
    session = ort.InferenceSession(str(path), options, providers=providers)
    if device == "cuda" and device_of(session) != "cuda" and "cuda" not in _warned:
        _warned.add("cuda")
        warnings.warn("device='cuda' was asked for but CUDA is not active in onnxruntime (is onnxruntime-gpu "
                      "installed, and can it load CUDA and cuDNN?); running on the CPU", RuntimeWarning, stacklevel=3)
    return session
