import numpy as np
import pytest

from ccl_embed.runtime.bow import bucket, hashed_bow


def test_rows_are_unit_length_log_counts_of_lowercased_tokens():
    out = hashed_bow(["Red apple, red!", "apple", ""], 64)
    assert out.shape == (3, 64) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out[:2], axis=1), 1.0, rtol=1e-6)
    assert not out[2].any()  # no token: a zero row, never NaN
    red, apple = bucket("red", 64), bucket("apple", 64)
    assert red != apple  # these two do not collide at 64 buckets
    np.testing.assert_allclose(out[0, red] / out[0, apple], np.log1p(2) / np.log1p(1), rtol=1e-6)
    assert np.count_nonzero(out[0]) == 2 and out[1, apple] == pytest.approx(1.0)


def test_buckets_are_stable_across_runs_and_processes():
    # BLAKE2b, not Python's salted hash(): the same bucket in training and at inference.
    assert [bucket(t, 2048) for t in ("cat", "smiling", "sunglasses")] == [
        int.from_bytes(__import__("hashlib").blake2b(t.encode(), digest_size=8).digest(), "little") % 2048
        for t in ("cat", "smiling", "sunglasses")]


def test_a_bad_width_is_refused():
    with pytest.raises(ValueError, match="dim=0"):
        hashed_bow(["x"], 0)
