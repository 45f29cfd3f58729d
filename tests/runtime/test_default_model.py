"""The shipped default model: present, intact, within budget, embeds without training or network."""

import json

import numpy as np

from ccl_embed.runtime.embedder import Embedder
from ccl_embed.runtime.folder import installed_models, read_runtime
from tests.conftest import draw


def test_default_model_is_shipped_intact_and_small():
    folder = installed_models()["default"]
    model = read_runtime(folder)  # checks every file's SHA-256
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    assert size_mb <= 60
    metrics = model.manifest.metrics
    # A release refit has seen the test split; its scores say so in their name.
    test = metrics.get("test") or metrics["test_seen_in_training"]
    assert test["i2t_map"] > 0.3 and test["t2i_map"] > 0.3
    licences = (folder / "LICENSES.md").read_text()
    assert licences.count("Apache-2.0") >= 3
    trained = json.loads((folder / "config.json").read_text())["config"]
    if "streamline" in licences.lower():  # trained on CC-BY artwork: credited
        assert "CC-BY-4.0" in licences
    # The common space (category part, instance part), the semantic part (MiniLM width), the photo offset.
    instance = trained["model"]["instance_dim"] if trained["model"]["use_instance"] else 0
    assert model.dim == trained["model"]["dim"] + instance + 384 + 1


def test_default_model_embeds_images_and_texts():
    emb = Embedder("default", device="cpu")
    img = [r.vector for r in emb.embed_images([draw("red", "circle", 96), draw("blue", "square", 96)])]
    txt = [r.vector for r in emb.embed_texts(["red apple. apple, fruit, red", "blue square"])]
    for v in img + txt:
        assert v is not None and v.shape == (emb.dim,) and abs(float(np.linalg.norm(v)) - 1) < 1e-4
    assert float(img[0] @ img[1]) < 0.9999


def test_default_model_routes_textured_pictures_as_photographs():
    from PIL import Image

    emb = Embedder("default", device="cpu")
    record = json.loads((emb.model.folder / "config.json").read_text())["config"]
    rng = np.random.default_rng(0)
    texture = Image.fromarray(rng.integers(0, 256, (160, 200, 3), dtype=np.uint8))
    drawing, photo = (r.vector for r in emb.embed_images([draw("red", "circle", 160), texture]))
    assert abs(float(drawing[-1])) < 1e-3  # a drawing carries no offset
    # A photograph is past the soft switch's middle: it carries more than half the route's offset.
    offset = record["readout"]["photo_offset"]
    assert 0.5 * offset < float(photo[-1]) <= offset + 1e-3
    text = next(emb.embed_texts(["a red circle"])).vector
    assert abs(float(text[-1]) - 0.5) < 1e-3  # every text carries the offset key


def test_default_model_vectors_do_not_depend_on_batch_mates(tmp_path):
    """int8 graphs scale activations per batch; the runtime runs them per item, so an item's vector is
    the same alone and in any batch."""
    from ccl_embed.runtime.embedder import Embedder
    from tests.conftest import draw

    emb = Embedder("default", device="cpu")
    texts = ["a red apple", "a cup of hot coffee on a table, steaming", "moon"]
    batched = np.stack([r.vector for r in emb.embed_texts(texts)])
    alone = np.stack([next(emb.embed_texts([t])).vector for t in texts])
    np.testing.assert_allclose((batched * alone).sum(1), 1.0, atol=1e-5)
    paths = []
    for i, (c, s) in enumerate([("red", "circle"), ("blue", "bar"), ("green", "ring")]):
        paths.append(tmp_path / f"{i}.png")
        draw(c, s, 96).save(paths[-1])
    batched = np.stack([r.vector for r in emb.embed_images(paths)])
    alone = np.stack([next(emb.embed_images([p])).vector for p in paths])
    np.testing.assert_allclose((batched * alone).sum(1), 1.0, atol=1e-5)
