"""The model-folder manifest: typed, round-trips exactly, validated with one-sentence errors, old folders still load."""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ccl_embed.runtime.embedder import Embedder, vectors_or_raise
from ccl_embed.runtime.folder import read_runtime
from ccl_embed.runtime.images import Preprocessing
from ccl_embed.runtime.manifest import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    RUNTIME_FILES,
    Manifest,
    ModelError,
    read_manifest,
    write_manifest,
)
from ccl_embed.runtime.patches import Patches
from tests.conftest import draw

FILES = {name: f"{i:064x}" for i, name in enumerate(RUNTIME_FILES)}


def test_manifest_round_trips_through_json():
    m = Manifest(name="m", dim=7, files=FILES, preprocessing=Preprocessing(image_size=96, mean=0.4, std=0.3),
                 patches=Patches(image_regions=((0, 2, 0, 2), (1, 3, 1, 3)), feature_grid=3, max_fragments=4),
                 quantized_int8=("text_head.onnx",), metrics={"test": {"i2t_map": 0.5}}, licences={"x": "MIT"},
                 parity=({"graph": "image_head.onnx", "min_cosine": 1.0},), written_by={"ccl-embed": "0.1.0"})
    back = Manifest.from_json(m.to_json())
    assert back == m
    assert back.to_json() == m.to_json()
    assert json.loads(m.to_json())["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize(("change", "message"), [
    ({"dim": 0}, "dim=0: give the positive width"),
    ({"distance": "dot"}, "distance='dot': choose one of cosine"),
    ({"files": {}}, "no hash for image_backbone.onnx"),
    ({"quantized_int8": ("x.onnx",)}, "x.onnx is not one of"),
    ({"name": "a/b"}, "without '/'"),
])
def test_bad_manifests_fail_with_one_sentence(change, message):
    with pytest.raises(ModelError, match=message):
        Manifest(**({"name": "m", "dim": 4, "files": FILES} | change))


def test_bad_records_name_the_source_and_the_fix():
    good = Manifest(name="m", dim=4, files=FILES).to_dict()
    with pytest.raises(ModelError, match=r"m.json: manifest format 3, this ccl-embed reads 2; upgrade ccl-embed"):
        Manifest.from_dict(good | {"format_version": 3}, "m.json")
    with pytest.raises(ModelError, match=r"m.json: .*re-export the model"):
        Manifest.from_dict(good | {"format_version": 0}, "m.json")
    with pytest.raises(ModelError, match=r"m.json: .*preprocessing.image_size=2"):
        Manifest.from_dict(good | {"preprocessing": {"image_size": 2}}, "m.json")
    with pytest.raises(ModelError, match=r"m.json: .*resize='crop'.*knows only"):
        Manifest.from_dict(good | {"preprocessing": {"resize": "crop"}}, "m.json")
    with pytest.raises(ModelError, match="not readable JSON"):
        Manifest.from_json("{", "m.json")


def test_newer_writer_and_unknown_fields_warn():
    newer = Manifest(name="m", dim=4, files=FILES, written_by={"ccl-embed": "99.0"})
    with pytest.warns(UserWarning, match="written by ccl-embed 99.0, newer than"):
        newer.warn_if_newer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        replace(newer, written_by={"ccl-embed": "0.0.1"}).warn_if_newer()  # older: silent
    with pytest.warns(UserWarning, match="future_field.*ignored"):
        back = Manifest.from_dict(newer.to_dict() | {"future_field": 1})
    assert back == newer


def test_a_folder_without_a_manifest_says_how_to_export_it(tiny_model, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(tiny_model, old)
    (old / MANIFEST_FILE).unlink()
    with pytest.raises(ModelError, match="never exported; run `ccl-embed export"):
        read_runtime(old)
    (old / "config.json").unlink()
    with pytest.raises(ModelError, match="no manifest.json; pass a model folder written by `ccl-embed train`"):
        read_runtime(old)


def test_write_then_read_is_the_same_manifest(tiny_model, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(tiny_model, copy)
    m = replace(read_manifest(copy), metrics={"test": {"i2t_map": 0.1}})
    write_manifest(copy, m)
    assert read_manifest(copy) == m and not list(copy.glob("*.tmp"))


def test_a_model_exported_with_another_input_size_embeds_correctly(tmp_path):
    """The runtime takes its preprocessing from the manifest: a 112 px backbone gets 112 px inputs,
    scaled with the model's own mean and std, and the vectors match the PyTorch model's."""
    import torch

    from ccl_embed.export import export_model
    from ccl_embed.model.config import CCLConfig
    from ccl_embed.model.folder import load_model
    from ccl_embed.runtime.images import preprocess
    from ccl_embed.runtime.session import make_session
    from ccl_embed.train.loop import train_ccl
    from ccl_embed.train.towers import pool_regions
    from tests.conftest import synthetic_features, tiny_backbones

    config = CCLConfig.of(dim=12, instance_dim=4, text_bow=64, hidden=32, code=16, stage1_epochs=1, fusion_epochs=1, stage2_epochs=2, batch_size=32)
    fs = synthetic_features()
    train_ccl(fs.split("train"), None, config, class_vectors=np.ones((10, 12), np.float32), out=tmp_path / "m")
    prep = Preprocessing(image_size=112, mean=0.45, std=0.25)
    export_model(tmp_path / "m", name="small", backbone_files=tiny_backbones(tmp_path / "bb", image_size=112),
                 preprocessing=prep)
    assert read_manifest(tmp_path / "m").preprocessing == prep
    images = [draw("red", "circle", 80), draw("blue", "bar", 50)]
    got = vectors_or_raise(Embedder(tmp_path / "m", device="cpu").embed_images(images), "image")
    pixels = np.stack([preprocess(im, 112, 0.45, 0.25) for im in images])
    assert pixels.shape[-1] == 112
    fmap, logits = make_session(tmp_path / "m" / "image_backbone.onnx", "cpu").run(None, {"pixels": pixels})
    with torch.inference_mode():
        ref = load_model(tmp_path / "m").encode_image(torch.from_numpy(fmap.mean(axis=(2, 3))), torch.from_numpy(logits),
                                                      torch.from_numpy(pool_regions(fmap))).numpy()
    cos = (ref * got).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(got, axis=1)
    assert cos.min() >= 0.9999
    # The default 224 px would not even run on this backbone: the manifest is what makes it work.
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        make_session(tmp_path / "m" / "image_backbone.onnx", "cpu").run(None, {"pixels": np.stack([preprocess(images[0])])})


def test_a_feature_grid_other_than_the_manifests_is_refused(tiny_model, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(tiny_model, copy)
    m = read_manifest(copy)
    write_manifest(copy, replace(m, patches=replace(m.patches, feature_grid=9)))
    with pytest.raises(ModelError, match="7x7 feature map but the manifest's patches are on a 9x9 grid; re-export"):
        list(Embedder(copy, device="cpu").embed_images([draw("red", "circle")]))
