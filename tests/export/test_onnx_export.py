import numpy as np
import pytest

from ccl_embed.export.onnx_export import ExportError, parity
from ccl_embed.model.config import CCLConfig
from ccl_embed.train.loop import train_ccl
from ccl_embed.runtime.folder import RUNTIME_FILES, ModelError, read_runtime
from tests.conftest import build_tiny_exported, synthetic_features

TINY = CCLConfig.of(dim=12, instance_dim=4, text_bow=64, hidden=32, code=16, stage1_epochs=1, fusion_epochs=1, stage2_epochs=2, batch_size=32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return build_tiny_exported(tmp_path_factory.mktemp("export"))


def test_export_writes_checked_graphs_and_hashes(exported):
    folder, reports = exported
    assert {r.graph for r in reports} == {"image_head.onnx", "text_head.onnx"}
    assert all(r.min_cosine >= 0.9999 for r in reports)
    assert {r.inputs for r in reports} == {"random", "real"}
    runtime = read_runtime(folder)
    assert runtime.name == "tiny" and runtime.dim == 16 and set(runtime.manifest.files) == set(RUNTIME_FILES)
    manifest = runtime.manifest
    assert manifest.preprocessing.image_size == 224 and manifest.parity


def test_the_image_head_takes_logits_even_when_the_model_does_not_read_them(exported):
    import onnx

    folder, _ = exported
    assert not TINY.image_reads_logits  # no ConSE input (the default) and no semantic part
    inputs = [i.name for i in onnx.load(str(folder / "image_head.onnx")).graph.input]
    assert inputs == ["feature_map", "logits"]  # the folder format's contract, which the runtime feeds


def test_altered_or_missing_files_are_named(exported, tmp_path):
    import shutil

    folder, _ = exported
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    with (copy / "text_head.onnx").open("ab") as f:
        f.write(b"x")
    with pytest.raises(ModelError, match="text_head.onnx: its SHA-256 differs"):
        read_runtime(copy)
    (copy / "image_head.onnx").unlink()
    with pytest.raises(ModelError, match="image_head.onnx is missing"):
        read_runtime(copy)


def test_parity_check_fails_loudly():
    a = np.eye(3, dtype=np.float32)
    with pytest.raises(ExportError, match=r"x.onnx: ONNX output differs from PyTorch on random inputs \(min cosine 0.000000"):
        parity("x.onnx", "random", a, a[::-1].copy() * np.array([[1], [0], [1]]) + np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]]))
    assert parity("x.onnx", "random", a, a * 2).min_cosine == pytest.approx(1.0)


def test_unexported_folder_says_how_to_export(tmp_path):
    fs = synthetic_features()
    vectors = np.zeros((10, 12), dtype=np.float32)
    train_ccl(fs.split("train"), None, TINY, class_vectors=vectors, out=tmp_path / "m")
    with pytest.raises(ModelError, match="never exported; run `ccl-embed export"):
        read_runtime(tmp_path / "m")


def test_the_imagenet_bridge_is_inside_the_image_head_and_weighs_each_image_by_its_novelty(tmp_path):

    from PIL import Image

    from ccl_embed.export import export_model
    from ccl_embed.runtime.embedder import Embedder, vectors_or_raise
    from ccl_embed.runtime.folder import IMAGE_HEAD
    from ccl_embed.runtime.session import make_session
    from tests.conftest import draw, tiny_backbones

    fs = synthetic_features()
    vectors = np.random.default_rng(1).normal(size=(10, 12)).astype(np.float32)
    config = TINY.replace(semantic_weight=0.3, photo_semantic_weight=0.8, photo_offset=0.4, text_projection=0.5,
                     photo_novelty=6.0, centering=0.5,  # the centres are buffers of both heads too
                     drawing_semantic_weight=0.05)  # drawings' own weight, inside the image head
    train_ccl(fs.split("train"), None, config, class_vectors=vectors, out=tmp_path / "m")
    reports = export_model(tmp_path / "m", name="routed", backbone_files=tiny_backbones(tmp_path / "bb"))
    # Both heads match PyTorch, the text head with its projection onto the class names.
    assert all(r.min_cosine >= 0.9999 for r in reports) and {r.inputs for r in reports} == {"random", "real"}
    import onnx

    text_ops = {n.op_type for n in onnx.load(str(tmp_path / "m" / "text_head.onnx")).graph.node}
    assert "TopK" in text_ops
    head = make_session(tmp_path / "m" / IMAGE_HEAD, "cpu")
    assert [i.name for i in head.get_inputs()] == ["feature_map", "logits"]  # no pixel rule fed from outside
    texture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8))
    out = vectors_or_raise(Embedder(tmp_path / "m", device="cpu").embed_images([draw("red", "circle", 120), texture]), "image")
    assert out.shape == (2, 16 + 12 + 1)
    # The tiny backbone's features of these pictures lie far from the synthetic training features,
    # so both take the bridge fully: the offset and the semantic share of a photograph.
    np.testing.assert_allclose(out[:, -1], [0.4, 0.4], atol=2e-3)
    tail = np.linalg.norm(out[:, 16:-1], axis=1)
    np.testing.assert_allclose(tail, np.sqrt(1 - 0.16) * np.sqrt(0.8), atol=2e-3)


def test_a_model_trained_with_the_instance_level_exports_and_matches(tmp_path):

    from ccl_embed.export import export_model
    from ccl_embed.model.folder import load_model
    from tests.conftest import tiny_backbones

    fs = synthetic_features()
    vectors = np.random.default_rng(1).normal(size=(10, 12)).astype(np.float32)
    train_ccl(fs.split("train"), None, TINY.replace(use_instance=True), class_vectors=vectors, out=tmp_path / "m")
    assert load_model(tmp_path / "m").log_scale is not None  # the learned temperature round-trips
    reports = export_model(tmp_path / "m", name="inst", backbone_files=tiny_backbones(tmp_path / "bb"))
    assert all(r.min_cosine >= 0.9999 for r in reports)
    assert read_runtime(tmp_path / "m").dim == 16


def test_a_model_reading_a_bag_of_words_exports_and_the_runtime_feeds_it(tmp_path):

    import torch

    from ccl_embed.export import export_model
    from ccl_embed.model.folder import load_model
    from ccl_embed.runtime.bow import hashed_bow
    from ccl_embed.runtime.embedder import Embedder, vectors_or_raise
    from ccl_embed.runtime.folder import TEXT_HEAD
    from ccl_embed.runtime.patches import pack_fragments, text_fragments
    from ccl_embed.runtime.session import make_session
    from tests.conftest import tiny_backbones

    fs = synthetic_features()
    vectors = np.random.default_rng(1).normal(size=(10, 12)).astype(np.float32)
    train_ccl(fs.split("train"), None, TINY.replace(use_instance=True, text_bow=64), class_vectors=vectors,
              out=tmp_path / "m")
    reports = export_model(tmp_path / "m", name="bow", backbone_files=tiny_backbones(tmp_path / "bb"))
    assert all(r.min_cosine >= 0.9999 for r in reports)
    assert read_runtime(tmp_path / "m").manifest.text_bow == 64
    head = make_session(tmp_path / "m" / TEXT_HEAD, "cpu")
    assert [i.name for i in head.get_inputs()] == ["text", "fragments", "fragment_mask", "bow"]

    texts = ["a red circle", "a red square. shape, red"]
    embedder = Embedder(tmp_path / "m", device="cpu")
    got = vectors_or_raise(embedder.embed_texts(texts), "text")
    # The same texts through PyTorch, with the bag of words computed by the runtime's function.
    slots = embedder.model.manifest.patches.max_fragments
    frags = [text_fragments(t, slots) for t in texts]
    flat = texts + [f for f_ in frags for f in f_]
    vec = embedder._text_vectors(flat)
    fragments, mask = pack_fragments(frags, dict(zip(flat, vec)).__getitem__, vec.shape[1], slots)
    model = load_model(tmp_path / "m").eval()
    with torch.inference_mode():
        want = model.encode_text(torch.from_numpy(vec[:2]), torch.from_numpy(fragments), torch.from_numpy(mask),
                                 torch.from_numpy(hashed_bow(texts, 64))).numpy()
        plain = model.encode_text(torch.from_numpy(vec[:2]), torch.from_numpy(fragments), torch.from_numpy(mask),
                                  torch.zeros(2, 64)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.abs(got - plain).max() > 1e-3  # the words reach the vector
