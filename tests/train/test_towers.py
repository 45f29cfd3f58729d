"""The real pretrained image tower recognises a real photograph (guards against a broken backbone)."""

import numpy as np
import pytest


def test_efficientnet_tower_recognises_the_cat(cache_home):
    pytest.importorskip("efficientnet_lite_pytorch")
    data = pytest.importorskip("skimage.data")
    from PIL import Image

    from ccl_embed.train.towers import EfficientNetTower

    tower = EfficientNetTower(backend="torch")
    out = tower.encode([Image.fromarray(data.chelsea())])
    top5 = np.argsort(-out["logits"][0])[:5]
    assert {281, 282, 285} & set(top5.tolist())  # tabby, tiger cat, Egyptian cat
    assert out["pool"].shape == (1, 1280) and out["regions"].shape == (1, 5, 1280)
