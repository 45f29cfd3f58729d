"""The form of a graph each provider runs, the int8 emulation CUDA runs, and the check of where nodes ran."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ccl_embed.runtime.graphs import CPU, CUDA, SHAPE_OPS, Placement, emulated, form_for, placement_of, profiled
from ccl_embed.runtime.session import open_graph, providers_for

onnx = pytest.importorskip("onnx", reason="the int8 emulation needs onnx (the gpu or export extra)")
ort = pytest.importorskip("onnxruntime")
DEFAULT = Path(__file__).resolve().parents[2] / "ccl_embed" / "models" / "default"


@pytest.mark.parametrize("device, available, quantized, form", [
    ("auto", [CUDA, CPU], True, "int8-emulated"),
    ("cuda", [CUDA, CPU], False, "fp32"),
    ("auto", [CPU], True, "int8"),
    ("cuda", ["AzureExecutionProvider", CPU], True, "int8"),  # onnxruntime without CUDA
    ("cpu", [CUDA, CPU], True, "int8"),
])
def test_each_provider_gets_its_form_of_a_graph(device, available, quantized, form):
    assert form_for(providers_for(device, available)[0], quantized) == form


def _quantized_matmuls(tmp_path: Path) -> Path:
    """Two MatMuls (one activation feeding both, then one more), quantized dynamically to int8 as
    the release build quantizes (onnxruntime.quantization.quantize_dynamic)."""
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    rng = np.random.default_rng(0)
    w1, w2, w3 = (rng.normal(size=s).astype(np.float32) for s in ((24, 16), (24, 16), (16, 8)))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["a"]), helper.make_node("MatMul", ["x", "w2"], ["b"]),
         helper.make_node("Add", ["a", "b"], ["c"]), helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("MatMul", ["r", "w3"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 24])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 8])],
        [numpy_helper.from_array(w, n) for w, n in ((w1, "w1"), (w2, "w2"), (w3, "w3"))])
    plain, int8 = tmp_path / "plain.onnx", tmp_path / "int8.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), plain)
    quantize_dynamic(str(plain), str(int8), weight_type=QuantType.QInt8)
    return int8


def _run(model: str | bytes, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model, providers=[CPU]).run(None, {"x": x})[0]


def test_the_emulation_computes_what_int8_computes_item_by_item_without_integer_ops(tmp_path):
    int8 = _quantized_matmuls(tmp_path)
    rewritten = emulated(onnx.load(str(int8)))
    ops = {n.op_type for n in rewritten.graph.node}
    assert not ops & {"DynamicQuantizeLinear", "MatMulInteger"} and "MatMul" in ops
    onnx.checker.check_model(rewritten)
    x = np.random.default_rng(1).normal(size=(5, 24)).astype(np.float32) * np.array([[1], [10], [0.1], [3], [0]],
                                                                                        dtype=np.float32)
    one_by_one = np.concatenate([_run(str(int8), x[i : i + 1]) for i in range(len(x))])
    batched = _run(rewritten.SerializeToString(), x)  # each item keeps its own scale, as if run alone
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-5, atol=1e-5)
    assert not np.allclose(_run(str(int8), x), one_by_one, rtol=1e-3)  # int8 batched would not


def test_the_shipped_graphs_emulated_give_the_cpus_image_vectors(monkeypatch):
    """The CUDA form of the shipped int8 graphs, run on the CPU: images (the fp32 backbone, the
    emulated head) come out as the CPU's int8 head gives them."""
    import ccl_embed.runtime.session as session
    from ccl_embed.runtime.embedder import Embedder

    pictures = sorted((DEFAULT.parents[2] / "examples" / "corpus").glob("*.png"))
    cpu = Embedder("default", device="cpu").encode_images(pictures)
    monkeypatch.setattr(session, "form_for", lambda provider, quantized: "int8-emulated" if quantized else "fp32")
    emb = Embedder("default", device="cpu")
    gpu_form = emb.encode_images(pictures)
    assert emb.placement()["image_head.onnx"].form == "int8-emulated"
    assert float((cpu * gpu_form).sum(1).min()) > 0.9999


def test_a_compute_node_left_on_the_cpu_is_a_fallback_and_shape_arithmetic_is_not():
    def node(name: str, op: str, provider: str) -> dict:
        return {"cat": "Node", "name": f"{name}_kernel_time", "args": {"op_name": op, "provider": provider}}

    events = [node("conv", "Conv", CUDA), node("conv", "Conv", CUDA), node("shape", "Shape", CPU),
              node("gather", "Gather", CPU), node("mm", "MatMulInteger", CPU), {"cat": "Session", "name": "run"}]
    placed = placement_of(events, "int8-emulated", CUDA)
    assert placed == Placement("int8-emulated", {CUDA: 1, CPU: 3}, ("MatMulInteger",))
    assert placement_of(events[:4], "fp32", CUDA).fallbacks == ()
    assert {"Shape", "Gather"} <= SHAPE_OPS and "MatMulInteger" not in SHAPE_OPS


def test_a_profiled_run_reads_where_every_node_ran(tiny_model):
    def make(options):
        return ort.InferenceSession(str(tiny_model / "image_head.onnx"), options, providers=[CPU])

    session, placed = profiled(make, "fp32")
    assert placed.nodes.keys() == {CPU} and placed.nodes[CPU] > 3 and placed.fallbacks == ()
    assert session.get_providers()[0] == CPU  # the session goes on working, unprofiled
    _, on_cpu = open_graph(tiny_model / "image_head.onnx", "cpu")
    assert on_cpu == Placement("fp32")
