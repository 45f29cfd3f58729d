"""The hashed bag of words: a text feature that needs no model, computed the same way in
training (``BowTower``) and at inference (the Embedder, for models trained with ``text_bow``).

Each ``\\w+`` token of the lower-cased text is hashed (BLAKE2b, 8 bytes, little-endian) into one
of ``dim`` buckets; counts become ``log(1 + count)`` and each row is scaled to unit length.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

TOKEN = re.compile(r"\w+", re.UNICODE)
BOW_VERSION = 1
"""Changes whenever the function below would give other numbers for the same text."""


def bucket(token: str, dim: int) -> int:
    """The bucket of one (lower-cased) token."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little") % dim


def hashed_bow(texts: Sequence[str], dim: int) -> np.ndarray:
    """``[len(texts), dim]`` float32 rows: log term frequencies of hashed tokens, unit length
    (all zero for a text without a token)."""
    if dim < 1:
        raise ValueError(f"hashed_bow: dim={dim!r} must be a positive integer")
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, text in enumerate(texts):
        for token in TOKEN.findall(text.lower()):
            out[i, bucket(token, dim)] += 1.0
    np.log1p(out, out=out)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out
