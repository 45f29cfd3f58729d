"""Which form of a graph each execution provider runs, and where its nodes really ran.

The shipped text backbone and both heads are dynamically quantized to int8 for the CPU
(``DynamicQuantizeLinear`` feeding ``MatMulInteger``, then ``Cast`` and a ``Mul`` by the two
scales). The CUDA provider does not run that pattern as the CPU does, so on CUDA the runtime
runs each int8 graph *emulated* (:func:`emulated`): the same arithmetic in fp32 ops, built in
memory when the session is made (the ``onnx`` package, in the ``gpu`` extra; nothing is written
to the model folder), so a GPU's vectors follow the CPU's (``benchmarks/cuda_form.py`` measures
how closely). Plain dequantization (an fp32 ``MatMul`` of the unrounded activation by the
dequantized weight) would drop the activations' rounding and move text vectors further. The fp32
graphs (the image backbone) run as they are.

A CUDA session is then checked: one run with onnxruntime's profiler reads which provider ran each
node, and a compute node left on the CPU is a fallback, reported by :func:`placement`
(``ccl-embed info`` shows it; the embedder warns once). onnxruntime keeps some small shape
computations on the CPU on purpose; those (:data:`SHAPE_OPS`) are counted but are not fallbacks.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ccl_embed.errors import require

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
SHAPE_OPS = frozenset({"Shape", "Size", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Reshape", "Cast",
                       "ConstantOfShape", "Range", "Equal", "Greater", "GreaterOrEqual", "And", "Where", "Expand",
                       "Constant", "MemcpyToHost", "MemcpyFromHost"})
"""Op types onnxruntime may keep on the CPU for shape arithmetic beside a GPU graph; not fallbacks."""


def form_for(provider: str, quantized: bool) -> str:
    """The form of a graph a provider runs: ``int8`` or ``fp32`` as stored, or ``int8-emulated``
    (an int8 graph rewritten at load into fp32 ops that compute the same, for CUDA)."""
    if not quantized:
        return "fp32"
    return "int8-emulated" if provider == CUDA else "int8"


def _initializers(graph: Any) -> dict[str, Any]:
    return {t.name: t for t in graph.initializer}


def emulated(model: Any) -> Any:
    """A copy of a dynamically quantized ONNX model (``onnx.ModelProto``) that computes what it
    computes, in fp32 ops a GPU runs: each ``DynamicQuantizeLinear`` becomes its arithmetic on
    floats (per batch item, as the CPU runs one item at a time: the uint8 scale and zero point
    from the item's range, rounding half to even, back to floats), and each ``MatMulInteger`` of a
    stored int8 weight, with its ``Cast`` and ``Mul`` by the scales, an fp32 ``MatMul`` by the
    weight dequantized once here. The quantizers and scale products left unused are dropped.

    Raises:
        ValueError: When a ``MatMulInteger`` is not in the dynamic-quantization pattern.
    """
    onnx = require("onnx", "gpu")
    from onnx import helper, numpy_helper

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset >= 18:  # ReduceMin/ReduceMax take their axes as an input from opset 18
        raise ValueError(f"opset {opset}: the int8 emulation is written for opsets 11 to 17")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = _initializers(graph)
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    constants = {"_q_zero": 0.0, "_q_one": 1.0, "_q_levels": 255.0}
    for name, value in constants.items():
        graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.float32), name))
    graph.initializer.append(numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "_q_flat"))
    dropped: set[int] = set()
    replaced: dict[int, list[Any]] = {}
    fake: dict[str, str] = {}  # a quantizer's input -> its fp32 round trip

    def round_trip(quant: Any) -> str:
        """The nodes of a DynamicQuantizeLinear's arithmetic on floats, in its place; their output."""
        x = quant.input[0]
        if x in fake:
            return fake[x]
        p = f"{quant.name or quant.output[0]}_fp32"
        nodes = [
            helper.make_node("Shape", [x], [f"{p}_shape"]),
            helper.make_node("Reshape", [x, "_q_flat"], [f"{p}_flat"]),  # [batch, everything else]
            helper.make_node("ReduceMin", [f"{p}_flat"], [f"{p}_min0"], axes=[1], keepdims=1),
            helper.make_node("ReduceMax", [f"{p}_flat"], [f"{p}_max0"], axes=[1], keepdims=1),
            helper.make_node("Min", [f"{p}_min0", "_q_zero"], [f"{p}_min"]),
            helper.make_node("Max", [f"{p}_max0", "_q_zero"], [f"{p}_max"]),
            helper.make_node("Sub", [f"{p}_max", f"{p}_min"], [f"{p}_range"]),
            helper.make_node("Div", [f"{p}_range", "_q_levels"], [f"{p}_scale"]),
            helper.make_node("Equal", [f"{p}_scale", "_q_zero"], [f"{p}_flat_input"]),
            helper.make_node("Where", [f"{p}_flat_input", "_q_one", f"{p}_scale"], [f"{p}_divisor"]),
            helper.make_node("Div", [f"{p}_min", f"{p}_divisor"], [f"{p}_min_steps"]),
            helper.make_node("Neg", [f"{p}_min_steps"], [f"{p}_zp0"]),
            helper.make_node("Round", [f"{p}_zp0"], [f"{p}_zp1"]),
            helper.make_node("Clip", [f"{p}_zp1", "_q_zero", "_q_levels"], [f"{p}_zp"]),
            helper.make_node("Div", [f"{p}_flat", f"{p}_divisor"], [f"{p}_steps"]),
            helper.make_node("Round", [f"{p}_steps"], [f"{p}_rounded"]),
            helper.make_node("Add", [f"{p}_rounded", f"{p}_zp"], [f"{p}_shifted"]),
            helper.make_node("Clip", [f"{p}_shifted", "_q_zero", "_q_levels"], [f"{p}_q"]),
            helper.make_node("Sub", [f"{p}_q", f"{p}_zp"], [f"{p}_centred"]),
            helper.make_node("Mul", [f"{p}_centred", f"{p}_scale"], [f"{p}_back"]),
            helper.make_node("Reshape", [f"{p}_back", f"{p}_shape"], [f"{p}_out"]),
        ]
        replaced.setdefault(id(quant), []).extend(nodes)
        fake[x] = f"{p}_out"
        return fake[x]

    for node in list(graph.node):
        if node.op_type != "MatMulInteger":
            continue
        a_q, w_name = node.input[0], node.input[1]
        w_zp = node.input[3] if len(node.input) > 3 else ""
        quant = producer.get(a_q)
        casts = consumers.get(node.output[0], [])
        if quant is None or quant.op_type != "DynamicQuantizeLinear" or w_name not in inits or len(casts) != 1 \
                or casts[0].op_type != "Cast":
            raise ValueError(f"node {node.name!r}: a MatMulInteger outside the dynamic-quantization pattern")
        muls = consumers.get(casts[0].output[0], [])
        if len(muls) != 1 or muls[0].op_type != "Mul":
            raise ValueError(f"node {node.name!r}: its Cast does not feed one Mul by the scales")
        scale_of = next((i for i in muls[0].input if i != casts[0].output[0]), "")
        scales = producer.get(scale_of)
        w_scale = next((i for i in (scales.input if scales is not None else ()) if i in inits), None)
        if scales is None or scales.op_type != "Mul" or w_scale is None:
            raise ValueError(f"node {node.name!r}: the weight's scale is not found")
        weight = numpy_helper.to_array(inits[w_name]).astype(np.float32)
        zero = numpy_helper.to_array(inits[w_zp]).astype(np.float32) if w_zp in inits else np.float32(0)
        scale = numpy_helper.to_array(inits[w_scale]).astype(np.float32)
        name = f"{w_name}_fp32"
        graph.initializer.append(numpy_helper.from_array(((weight - zero) * scale).astype(np.float32), name))
        # in the MatMulInteger's place: its inputs are made before it, its output read after the Mul
        replaced.setdefault(id(node), []).append(
            helper.make_node("MatMul", [round_trip(quant), name], [muls[0].output[0]], name=f"{node.name or node.output[0]}_fp32"))
        dropped.update(id(n) for n in (node, casts[0], muls[0]))
    kept = [m for n in graph.node for m in replaced.get(id(n), []) + ([] if id(n) in dropped else [n])]
    # drop what no longer feeds anything (the quantizers and the scale products), repeatedly
    outputs = {o.name for o in graph.output}
    while True:
        used = {i for n in kept for i in n.input} | outputs
        alive = [n for n in kept if any(o in used for o in n.output)]
        if len(alive) == len(kept):
            break
        kept = alive
    used = {i for n in kept for i in n.input}
    del graph.node[:]
    graph.node.extend(kept)
    live = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live)
    return out


def load_for(path: Path, form: str) -> str | bytes:
    """What a session of a graph in ``form`` (:func:`form_for`) loads: the file, or the bytes of its emulated form."""
    if form != "int8-emulated":
        return str(path)
    onnx = require("onnx", "gpu")
    return bytes(emulated(onnx.load(str(path))).SerializeToString())


@dataclass(frozen=True)
class Placement:
    """Where one graph's nodes ran, read from onnxruntime's profiler.

    Attributes:
        form: ``int8``, ``fp32`` or ``int8-emulated`` (:func:`form_for`).
        nodes: How many nodes each provider ran.
        fallbacks: Op types of compute nodes that ran on the CPU beside a GPU provider, each once.
    """

    form: str
    nodes: Mapping[str, int] = field(default_factory=dict)
    fallbacks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"form": self.form, "nodes": dict(self.nodes), "fallbacks": list(self.fallbacks)}


def node_providers(events: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """``(node, op type, provider)`` of each node an onnxruntime profile records, once per node."""
    seen: dict[str, tuple[str, str, str]] = {}
    for e in events:
        args = e.get("args") or {}
        if e.get("cat") == "Node" and "provider" in args and "op_name" in args:
            node = str(e.get("name", "")).removesuffix("_kernel_time")
            seen.setdefault(node, (node, str(args["op_name"]), str(args["provider"])))
    return list(seen.values())


def placement_of(events: Iterable[Mapping[str, Any]], form: str, expected: str) -> Placement:
    """A graph's :class:`Placement` from its profile: a compute node on another provider than
    ``expected`` (the session's first) is a fallback."""
    nodes = node_providers(events)
    fallbacks = sorted({op for _, op, provider in nodes if provider != expected and op not in SHAPE_OPS})
    return Placement(form, dict(Counter(provider for _, _, provider in nodes)), tuple(fallbacks))


def example_feeds(session: Any) -> dict[str, np.ndarray]:
    """One small input of the right kinds for each of a session's inputs (dynamic sizes as 1)."""
    feeds = {}
    for arg in session.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in arg.shape]
        dtype = np.int64 if "int64" in arg.type else np.int32 if "int32" in arg.type else np.float32
        feeds[arg.name] = np.ones(shape, dtype=dtype)
    return feeds


def profiled(make: Callable[[Any], Any], form: str) -> tuple[Any, Placement]:
    """A session made by ``make(options)`` with the profiler on for one run of example inputs,
    then off; and where that run's nodes ran."""
    ort = require("onnxruntime", "runtime")
    with tempfile.TemporaryDirectory(prefix="ccl-embed-profile-") as tmp:
        options = ort.SessionOptions()
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tmp, "graph")
        session = make(options)
        session.run(None, example_feeds(session))
        with open(session.end_profiling(), encoding="utf-8") as f:
            events = json.load(f)
    return session, placement_of(events, form, session.get_providers()[0])
