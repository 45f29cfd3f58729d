"""onnxruntime sessions with honest device reporting.

onnxruntime-gpu lists the CUDA provider even where CUDA cannot load, then silently runs on the
CPU. So the device is read back from the created session, and a warning is given once when CUDA
was asked for and is not what runs. On CUDA an int8 graph runs dequantized, and where each node
ran is read back from one profiled run (``ccl_embed.runtime.graphs``); a compute node left on the
CPU is warned about once per graph.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from ccl_embed.errors import CCLEmbedError, require
from ccl_embed.runtime.graphs import CPU, CUDA, Placement, form_for, load_for, profiled

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
    if device == "cpu" or CUDA not in available:
        return [CPU]
    return [CUDA, CPU]


def device_of(session: Any) -> str:
    """``cuda`` when the session really runs on CUDA, else ``cpu``."""
    return "cuda" if session.get_providers()[0] == CUDA else "cpu"


def make_session(path: Path, device: str = "auto", threads: int | None = None) -> Any:
    """An inference session (optimisation level ALL) of a graph as stored, on the requested device,
    falling back to CPU with a warning."""
    return open_graph(path, device, threads)[0]


def open_graph(path: Path, device: str = "auto", threads: int | None = None,
               quantized: bool = False) -> tuple[Any, Placement]:
    """A session of a graph in the form its device runs (an int8 graph emulated in fp32 on CUDA),
    and where it runs: on CUDA, read from one profiled run of example inputs.

    Args:
        path: The graph.
        device: ``auto``, ``cpu`` or ``cuda``.
        threads: CPU threads (None: onnxruntime's choice).
        quantized: The graph is dynamically quantized to int8.
    """
    ort = require("onnxruntime", "runtime")
    providers = providers_for(device, ort.get_available_providers())

    def make(provider_list: list[str]) -> tuple[Any, str]:
        """The session builder for these providers, and the form of the graph it loads."""
        form = form_for(provider_list[0], quantized)

        def build(options: Any) -> Any:
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if threads:
                options.intra_op_num_threads = threads
            options.log_severity_level = 3
            return ort.InferenceSession(load_for(path, form), options, providers=provider_list)
        return build, form

    build, form = make(providers)
    if providers[0] == CUDA:
        session, placed = profiled(build, form)
        if device_of(session) != "cuda" and quantized:  # CUDA did not load: the CPU runs the int8 graph as stored
            build, form = make([CPU])
            session, placed = build(ort.SessionOptions()), Placement(form)
    else:
        session, placed = build(ort.SessionOptions()), Placement(form)
    if device == "cuda" and device_of(session) != "cuda" and "cuda" not in _warned:
        _warned.add("cuda")
        warnings.warn("device='cuda' was asked for but CUDA is not active in onnxruntime (is onnxruntime-gpu "
                      "installed, and can it load CUDA and cuDNN?); running on the CPU", RuntimeWarning, stacklevel=3)
    if placed.fallbacks and str(path) not in _warned:
        _warned.add(str(path))
        warnings.warn(f"{path.name}: these nodes ran on the CPU beside CUDA: {', '.join(placed.fallbacks)}",
                      RuntimeWarning, stacklevel=3)
    return session, placed
