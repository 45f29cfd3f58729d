import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from ccl_embed.export.quantize import quantize_int8, quantize_table_rows


def _graph(rows: int, large_rows: bool = True, seed: int = 0) -> onnx.ModelProto:
    """ids -> Gather(table) -> MatMul(weight): an embedding table and a projection, as in MiniLM."""
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(rows, 16)).astype(np.float32)
    if large_rows:  # a few large rows: one scale for the whole table would crush the others
        table[::7] *= 40.0
    weight = rng.normal(size=(16, 8)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["rows"], name="embed"),
         helper.make_node("MatMul", ["rows", "weight"], ["out"], name="project")],
        "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 8]),
         helper.make_tensor_value_info("rows", TensorProto.FLOAT, ["n", 16])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(weight, "weight")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto | str, ids: np.ndarray, output: str = "out") -> np.ndarray:
    data = model if isinstance(model, str) else model.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run([output], {"ids": ids})[0]


def test_large_tables_become_int8_rows_with_their_own_scales():
    model = _graph(2048)
    table = numpy_helper.to_array(model.graph.initializer[0])
    assert quantize_table_rows(model) == ["embed"]
    onnx.checker.check_model(model)
    dtypes = {i.name: i.data_type for i in model.graph.initializer}
    assert dtypes["table_int8"] == TensorProto.INT8 and "table" not in dtypes
    ids = np.arange(0, 2048, 3, dtype=np.int64)
    rows = _run(_graph(2048), ids, "rows")
    rewritten = _run(model, ids, "rows")
    # Each row is off by at most half of its own step, small rows as much as large ones.
    step = np.abs(table[ids]).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(rewritten - rows) <= step / 2 + 1e-6)
    small = ids % 7 != 0
    assert np.abs(rewritten - rows)[small].max() < 0.02


def test_small_tables_are_left_alone():
    model = _graph(100)
    assert quantize_table_rows(model) == []
    assert [n.op_type for n in model.graph.node] == ["Gather", "MatMul"]


def test_int8_graph_is_smaller_and_close(tmp_path):
    source, target = tmp_path / "f.onnx", tmp_path / "q.onnx"
    onnx.save(_graph(4096, large_rows=False), str(source))
    quantize_int8(source, target)
    assert target.stat().st_size < source.stat().st_size / 3
    ids = np.arange(1, 4096, 5, dtype=np.int64)
    exact, approx = _run(str(source), ids), _run(str(target), ids)
    cos = np.sum(exact * approx, 1) / np.linalg.norm(exact, axis=1) / np.linalg.norm(approx, axis=1)
    assert np.median(cos) > 0.99 and cos.min() > 0.85  # 16 inputs per output: a coarse but faithful copy
    assert "MatMulInteger" in {n.op_type for n in onnx.load(str(target)).graph.node}
