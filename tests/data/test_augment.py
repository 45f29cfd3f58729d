"""Style augmentation: deterministic copies of training images only, the other splits untouched."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ccl_embed.data.augment import KINDS, augment_corpus, augment_image
from ccl_embed.data.corpus import read_corpus
from ccl_embed.errors import CorpusError
from tests.conftest import draw


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_changes_the_look_and_keeps_size(kind):
    img = draw("red", "circle", 96)
    out = augment_image(img, kind, np.random.default_rng(0))
    assert out.mode == "RGB" and out.size == (96, 96)
    assert np.abs(np.asarray(out, dtype=np.int16) - np.asarray(img, dtype=np.int16)).mean() > 1
    again = augment_image(img, kind, np.random.default_rng(0))
    assert np.array_equal(np.asarray(out), np.asarray(again))


def test_grey_and_flat_look_as_named():
    img = draw("blue", "square", 96)
    grey = np.asarray(augment_image(img, "grey", np.random.default_rng(1)), dtype=np.int16)
    assert np.abs(grey[..., 0] - grey[..., 1]).max() == 0
    flat = augment_image(img, "flat", np.random.default_rng(1))
    assert len(flat.getcolors(1 << 16) or []) <= 8
    with pytest.raises(ValueError, match="augmentation 'oil'"):
        augment_image(img, "oil", np.random.default_rng(0))


def test_augment_corpus_adds_train_copies_only(tiny_corpus, tmp_path):
    n, added = augment_corpus(tiny_corpus, tmp_path / "aug", copies=2, seed=3)
    before, after = read_corpus(tiny_corpus), read_corpus(tmp_path / "aug")
    train = [p for p in before.pairs if p.split == "train"]
    assert n == len(before) and added == 2 * len(train) and len(after) == n + added
    extra = after.pairs[n:]
    assert {p.split for p in extra} == {"train"} and all(p.style.startswith("aug-") for p in extra)
    assert [(p.text, p.label, p.concept) for p in extra[::2]] == [(p.text, p.label, p.concept) for p in train]
    assert after.splits["test"] == before.splits["test"] and after.splits["style"] == before.splits["style"]
    with Image.open(tmp_path / "aug" / extra[0].image) as img:
        assert img.size[0] > 0
    first = (tmp_path / "aug" / extra[0].image).read_bytes()
    seen: list[tuple[int, str]] = []

    def progress(items, total, desc):  # what the CLI's progress bar is given
        seen.append((total, desc))
        return items

    augment_corpus(tiny_corpus, tmp_path / "aug2", copies=2, seed=3, progress=progress)
    assert (tmp_path / "aug2" / extra[0].image).read_bytes() == first
    assert seen == [(len(train), "augmenting images")]


def test_augment_refuses_its_own_source(tiny_corpus):
    with pytest.raises(CorpusError, match="another folder"):
        augment_corpus(tiny_corpus, tiny_corpus)
