"""int8 variants of exported graphs: dynamic quantization of the matrix weights, per channel, with
the large embedding tables quantized per row.

onnxruntime's dynamic quantizer gives a ``Gather`` table one scale for the whole table; in
MiniLM's 30522-word table a few large rows then crush the resolution of all the others (it
cost photograph captions 0.02 MAP here). Each row gets its own scale instead: the graph gathers
the int8 rows and their scales and multiplies them back, so the table stays a quarter of its
size and each word keeps its own precision. Smaller tables (positions, token types, the heads'
class names) stay in float.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

MIN_TABLE_ROWS = 1024
"""``Gather`` tables with fewer rows (positions, token types, class names) are left to onnxruntime."""


def quantize_table_rows(model: onnx.ModelProto, min_rows: int = MIN_TABLE_ROWS) -> list[str]:
    """Rewrite, in place, every ``Gather`` (axis 0) of a 2-D float initializer of at least
    ``min_rows`` rows as int8 rows times per-row scales. Returns the names of the rewritten nodes."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    rewritten: list[str] = []
    for position, node in reversed(list(enumerate(graph.node))):
        if node.op_type != "Gather" or node.input[0] not in inits:
            continue
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        table = numpy_helper.to_array(inits[node.input[0]])
        if axis != 0 or table.ndim != 2 or table.shape[0] < min_rows or table.dtype != np.float32:
            continue
        scale = np.maximum(np.abs(table).max(axis=1, keepdims=True) / 127.0, np.float32(1e-12)).astype(np.float32)
        rows = np.clip(np.rint(table / scale), -127, 127).astype(np.int8)
        base, indices, out = node.input[0], node.input[1], node.output[0]
        graph.initializer.remove(inits[base])
        graph.initializer.extend([numpy_helper.from_array(rows, f"{base}_int8"),
                                  numpy_helper.from_array(scale, f"{base}_row_scale")])
        name = node.name or out
        new = [
            helper.make_node("Gather", [f"{base}_int8", indices], [f"{out}_rows_int8"], name=f"{name}_int8", axis=0),
            helper.make_node("Cast", [f"{out}_rows_int8"], [f"{out}_rows_float"], name=f"{name}_cast", to=TensorProto.FLOAT),
            helper.make_node("Gather", [f"{base}_row_scale", indices], [f"{out}_rows_scale"], name=f"{name}_scale", axis=0),
            helper.make_node("Mul", [f"{out}_rows_float", f"{out}_rows_scale"], [out], name=f"{name}_dequantize"),
        ]
        graph.node.remove(node)
        for offset, n in enumerate(new):
            graph.node.insert(position + offset, n)
        rewritten.append(name)
    return rewritten


def quantize_int8(source: Path, target: Path) -> None:
    """Write the int8 variant of ``source`` to ``target``: per-row int8 embedding tables, then
    onnxruntime's dynamic quantization of every ``MatMul`` with per-channel weights."""
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source))
    quantize_table_rows(model)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / source.name
        onnx.save(model, str(staged))
        quantize_dynamic(str(staged), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
