import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from ccl_embed.runtime.images import load_image, preprocess
from ccl_embed.model.folder import load_model
from ccl_embed.errors import CCLEmbedError
from ccl_embed.runtime.embedder import Embedder
from ccl_embed.runtime.session import make_session, providers_for
from ccl_embed.train.towers import pool_regions
from tests.conftest import build_tiny_exported, draw

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_exported(tmp_path_factory.mktemp("rt"))[0]


@pytest.fixture()
def images(tmp_path):
    paths = []
    for i, (c, s) in enumerate([("red", "square"), ("blue", "circle"), ("green", "bar")]):
        p = tmp_path / f"{i}.png"
        draw(c, s).save(p)
        paths.append(p)
    return paths


def test_images_embed_to_unit_vectors_matching_the_torch_model(model_dir, images):
    emb = Embedder(model_dir, device="cpu")
    out = list(emb.embed_images(images, batch_size=2))
    assert [r.index for r in out] == [0, 1, 2] and all(r.ok for r in out)
    vecs = np.stack([r.vector for r in out])
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # The same vectors from the PyTorch model fed with the backbone's outputs.
    pixels = np.stack([preprocess(load_image(p)) for p in images])
    fmap, logits = make_session(model_dir / "image_backbone.onnx", "cpu").run(None, {"pixels": pixels})
    with torch.inference_mode():
        ref = load_model(model_dir).encode_image(torch.from_numpy(fmap.mean(axis=(2, 3))), torch.from_numpy(logits),
                                                 torch.from_numpy(pool_regions(fmap))).numpy()
    cos = (ref * vecs).sum(1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.9999
    # What training on the model's own features reads: the same backbone outputs, through the runtime.
    own_fmap, own_logits = emb.backbone_outputs(images)
    np.testing.assert_allclose(own_fmap, fmap, atol=1e-6)
    np.testing.assert_allclose(own_logits, logits, atol=1e-6)
    texts = emb.backbone_texts(["a red square", "a blue circle"])
    assert texts.shape[0] == 2 and not np.allclose(texts[0], texts[1])


def test_a_grid_scheme_model_pools_its_own_regions_in_the_runtime(tmp_path, images):
    from ccl_embed.runtime.folder import read_runtime
    from ccl_embed.runtime.patches import GRID_REGIONS, IMAGE_REGIONS

    folder = build_tiny_exported(tmp_path, image_regions="grid")[0]
    assert read_runtime(folder).manifest.patches.image_regions == GRID_REGIONS
    vecs = np.stack([r.vector for r in Embedder(folder, device="cpu").embed_images(images)])
    pixels = np.stack([preprocess(load_image(p)) for p in images])
    fmap, logits = make_session(folder / "image_backbone.onnx", "cpu").run(None, {"pixels": pixels})
    model = load_model(folder)

    def torch_vectors(regions):
        with torch.inference_mode():
            return model.encode_image(torch.from_numpy(fmap.mean(axis=(2, 3))), torch.from_numpy(logits),
                                      torch.from_numpy(pool_regions(fmap, regions))).numpy()

    np.testing.assert_allclose(vecs, torch_vectors(GRID_REGIONS), atol=1e-5)
    assert np.abs(vecs - torch_vectors(IMAGE_REGIONS[:4] * 2 + IMAGE_REGIONS[4:])).max() > 1e-4  # not the old regions


def test_a_bad_image_costs_only_itself(model_dir, images, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    out = list(Embedder(model_dir).embed_images([images[0], bad, draw("red", "dot"), images[1]], batch_size=4))
    assert [r.ok for r in out] == [True, False, True, True]
    assert "bad.png: not a readable image" in out[1].error


def test_texts_embed_with_fragments_and_empty_text_is_reported(model_dir):
    emb = Embedder(model_dir)
    out = list(emb.embed_texts(["a red square. red, square, shape", "", "a blue circle", 3]))  # type: ignore[list-item]
    assert [r.ok for r in out] == [True, False, True, False]
    assert "text #1 is empty" in out[1].error
    again = next(iter(emb.embed_texts(["a red square. red, square, shape"])))
    np.testing.assert_allclose(again.vector, out[0].vector, atol=1e-6)
    assert not np.allclose(out[0].vector, out[2].vector)


def test_runtime_works_with_torch_blocked(model_dir, images):
    code = f"""
import sys
sys.modules['torch'] = None
from ccl_embed.errors import CCLEmbedError
from ccl_embed.runtime.embedder import Embedder
e = Embedder({str(model_dir)!r})
v = [r.vector for r in e.embed_images([{str(images[0])!r}])] + [r.vector for r in e.embed_texts(['a red square'])]
assert all(x is not None and x.shape == (16,) for x in v), v
assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]
print('ok')
"""
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "ok"


def test_device_choice_and_honest_fallback(model_dir):
    assert providers_for("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert providers_for("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"])[0] == "CUDAExecutionProvider"
    assert providers_for("cuda", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(Exception, match="device='tpu': choose one of auto, cpu, cuda"):
        providers_for("tpu", [])
    import ccl_embed.runtime.session as session

    session._warned.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = make_session(model_dir / "text_head.onnx", "cuda")
    assert session.device_of(s) == "cpu"
    assert any("CUDA is not active" in str(w.message) for w in caught)
    assert Embedder(model_dir, device="cuda").device == "cpu"


def test_resolve_model_names_the_choices(tmp_path):
    from ccl_embed.runtime.folder import ModelError, resolve_model

    with pytest.raises(ModelError, match=r"model 'nope' is neither a shipped model \(.*\) nor a folder"):
        resolve_model("nope")
    with pytest.raises(ModelError, match=r"\(default\) nor a folder; did you mean 'default'\?"):
        resolve_model("defualt")
    assert resolve_model(str(tmp_path)) == tmp_path


def test_info_reports_the_real_device(model_dir):
    from typer.testing import CliRunner

    import ccl_embed.runtime.session as session
    from ccl_embed.cli import app

    session._warned.clear()  # the warning is given once per process
    result = CliRunner().invoke(app, ["info", "--model", str(model_dir), "--device", "cuda"])
    assert result.exit_code == 0, result.output
    assert "embedding: 16-d, cosine" in result.stdout
    assert "device: cpu (asked: cuda" in result.stdout
    assert "CUDA is not active" in result.stderr


def _per_item_everywhere(model_dir):
    """The tiny model with every graph treated as int8 (run one item at a time)."""
    import dataclasses

    from ccl_embed.runtime.folder import RUNTIME_FILES, read_runtime

    rm = read_runtime(model_dir)
    graphs = tuple(f for f in RUNTIME_FILES if f.endswith(".onnx"))
    return dataclasses.replace(rm, manifest=dataclasses.replace(rm.manifest, quantized_int8=graphs))


def test_one_item_graphs_give_the_same_vectors_on_one_worker_or_several(model_dir, images):
    texts = ["a red square", "a blue circle, green bar, yellow dot", "red. blue. green", "a shape"] * 3
    one = Embedder(_per_item_everywhere(model_dir), device="cpu", threads=1)
    two = Embedder(_per_item_everywhere(model_dir), device="cpu", threads=2)
    batched_graphs = Embedder(model_dir, device="cpu")
    got = {}
    for name, emb in [("one", one), ("two", two), ("batched", batched_graphs)]:
        got[name] = (np.stack([r.vector for r in emb.embed_texts(texts, batch_size=5)]),
                     np.stack([r.vector for r in emb.embed_images(images, batch_size=3)]))
    assert one._pool is None and two._pool is not None  # the second really shared its runs out
    for a, b in zip(got["one"], got["two"]):
        assert np.array_equal(a, b)
    for a, b in zip(got["one"], got["batched"]):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_text_vectors_are_kept_for_reuse_and_bounded(model_dir, monkeypatch):
    import ccl_embed.runtime.embedder as embedder_module

    monkeypatch.setattr(embedder_module, "TEXT_CACHE_SIZE", 3)
    texts = ["a red square", "a blue circle", "a green bar", "a yellow dot", "a red ring"]
    emb = Embedder(model_dir, device="cpu")
    first = emb._text_vectors(texts)
    assert list(emb._text_cache) == sorted(texts, key=len)[-3:]  # the last three encoded are kept
    runs = []
    session = emb._session("text_backbone.onnx")
    monkeypatch.setattr(emb, "_sessions", {**emb._sessions, "text_backbone.onnx": _Counting(session, runs)})
    again = emb._text_vectors(texts[::-1])
    assert np.array_equal(again, first[::-1])
    assert len(runs) == 1 and runs[0] == 2  # only the two forgotten strings were encoded again
    assert len(emb._text_cache) == 3
    emb.clear_cache()
    assert not emb._text_cache


class _Counting:
    """A session wrapper that records the batch size of each run."""

    def __init__(self, session, runs):
        self._session, self._runs = session, runs

    def run(self, outputs, feeds):
        self._runs.append(next(iter(feeds.values())).shape[0])
        return self._session.run(outputs, feeds)

    def get_providers(self):
        return self._session.get_providers()


def test_concurrent_callers_share_the_workers_and_the_cache_safely(model_dir):
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"a {c} {s}, {s}, shape" for c in ("red", "blue", "green", "yellow") for s in ("square", "circle", "bar")]
    emb = Embedder(_per_item_everywhere(model_dir), device="cpu", threads=2)
    alone = np.stack([r.vector for r in Embedder(_per_item_everywhere(model_dir), device="cpu", threads=1).embed_texts(texts)])
    with ThreadPoolExecutor(4) as callers:
        results = list(callers.map(lambda k: np.stack([r.vector for r in emb.embed_texts(texts[k:] + texts[:k])]), range(8)))
    for k, got in enumerate(results):
        assert np.array_equal(got, np.roll(alone, -k, axis=0))


def test_one_string_is_not_a_list_and_encode_returns_one_array(model_dir, images):
    emb = Embedder(model_dir, device="cpu")
    with pytest.raises(TypeError, match="texts: got one str, expected a list"):
        list(emb.embed_texts("a cat"))  # not five vectors, one per character
    with pytest.raises(TypeError, match="images: got one"):
        list(emb.embed_images(str(images[0])))
    with pytest.raises(TypeError, match="texts: got one str"):
        emb.encode_texts("a cat")
    texts = emb.encode_texts(["a red square", "a blue circle"])
    assert isinstance(texts, np.ndarray) and texts.shape == (2, emb.dim) and texts.dtype == np.float32
    streamed = np.stack([r.vector for r in emb.embed_texts(["a red square", "a blue circle"])])
    np.testing.assert_allclose(texts, streamed, atol=1e-6)
    assert emb.encode_images(images).shape == (len(images), emb.dim)
    assert emb.encode_texts([]).shape == (0, emb.dim)
    with pytest.raises(CCLEmbedError, match="text #1 could not be embedded"):
        emb.encode_texts(["a cat", ""])


def test_decoding_on_a_pool_gives_the_vectors_of_decoding_one_by_one(tmp_path, tiny_model):
    from tests.conftest import make_folder

    folder = make_folder(tmp_path / "f")
    images = sorted(str(p) for p in folder.rglob("*.png")) + [str(folder / "notes.md")]  # one undecodable
    one = list(Embedder(tiny_model, device="cpu", threads=1).embed_images(images, batch_size=3))
    pool = list(Embedder(tiny_model, device="cpu", threads=4).embed_images(images, batch_size=3))
    assert [r.error for r in pool] == [r.error for r in one] and pool[-1].error
    for a, b in zip(one[:-1], pool[:-1]):
        np.testing.assert_array_equal(a.vector, b.vector)
