import numpy as np
import pytest

from ccl_embed.evaluation import evaluate_embeddings, first_relevant_ranks, mean_average_precision


def test_map_matches_hand_computation():
    # Query 0 ranks gallery as [2, 0, 1, 3]; relevant {0, 3}: precisions at hits 1/2 and 2/4 -> AP 0.5.
    # Query 1 ranks gallery as [1, 3, 0, 2]; relevant {1}: AP 1.0.
    sim = np.array([[0.8, 0.1, 0.9, 0.0], [0.2, 0.9, 0.1, 0.5]])
    rel = np.array([[1, 0, 0, 1], [0, 1, 0, 0]], dtype=bool)
    assert mean_average_precision(sim, rel) == pytest.approx((0.5 + 1.0) / 2)


def test_map_ignores_queries_without_relevant_items():
    sim = np.array([[0.9, 0.1], [0.5, 0.4]])
    rel = np.array([[0, 1], [0, 0]], dtype=bool)
    assert mean_average_precision(sim, rel) == pytest.approx(0.5)


def test_ties_break_by_gallery_order():
    sim = np.zeros((1, 3))
    rel = np.array([[0, 0, 1]], dtype=bool)
    assert mean_average_precision(sim, rel) == pytest.approx(1 / 3)
    assert first_relevant_ranks(sim, rel).tolist() == [3.0]


def test_evaluate_embeddings_recall_and_median_rank():
    # Two images, three texts in 2-D. Image 0 is closest to text 0 (its pair), image 1 closest to text 2
    # but its pair is text 1 (rank 2).
    images = np.array([[1.0, 0.0], [0.0, 1.0]])
    texts = np.array([[1.0, 0.1], [0.6, 0.8], [0.0, 1.0]])
    s = evaluate_embeddings(images, texts, ["a", "b"], ["a", "b", "b"], ["k0", "k1"], ["k0", "k1", "k2"])
    assert s.r1_i2t == pytest.approx(0.5)
    assert s.r5_i2t == pytest.approx(1.0)
    assert s.medr_i2t == pytest.approx(1.5)
    # Category MAP image->text: image 0 ranks [t0, t1, t2], relevant {t0} -> 1.0;
    # image 1 ranks [t2, t1, t0], relevant {t1, t2} -> 1.0.
    assert s.i2t_map == pytest.approx(1.0)
    # text->image: t0 ranks [i0, i1] rel {i0} -> 1; t1 ranks [i1, i0] rel {i1} -> 1; t2 same -> 1.
    assert s.t2i_map == pytest.approx(1.0)
    # t2 has no paired image: its instance rank is infinite and counts as a miss in R@K.
    assert s.r10_t2i == pytest.approx(2 / 3)
    assert s.n_images == 2 and s.n_texts == 3


def test_random_vectors_score_near_chance():
    rng = np.random.default_rng(0)
    labels = [str(i % 4) for i in range(400)]
    s = evaluate_embeddings(rng.normal(size=(400, 16)), rng.normal(size=(400, 16)), labels, labels,
                            [str(i) for i in range(400)], [str(i) for i in range(400)])
    assert 0.2 < s.i2t_map < 0.3  # chance is 1/4
    assert s.r1_i2t < 0.05


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="same width"):
        evaluate_embeddings(np.zeros((2, 3)), np.zeros((2, 4)), ["a", "b"], ["a", "b"], ["a", "b"], ["a", "b"])
    with pytest.raises(ValueError, match="image_labels has 1 entries for 2 vectors"):
        evaluate_embeddings(np.zeros((2, 3)), np.zeros((2, 3)), ["a"], ["a", "b"], ["a", "b"], ["a", "b"])


def test_map_is_reported_only_where_pairs_carry_labels():
    from ccl_embed.data.corpus import Pair
    from ccl_embed.evaluation import map_missing, scores_record

    unlabelled = [Pair(image=f"{i}.png", text=f"text {i}") for i in range(3)]
    labelled = [*unlabelled[:2], Pair(image="2.png", text="text 2", label="animals")]
    scores = evaluate_embeddings(np.eye(3), np.eye(3), ["a", "b", "c"], ["a", "b", "c"], ["a", "b", "c"], ["a", "b", "c"])
    assert map_missing(labelled) is None and scores_record(scores, None)["mean_map"] == 1.0
    reason = map_missing(unlabelled)
    record = scores_record(scores, reason)
    assert reason and "label" in reason
    assert record["mean_map"] is None and record["i2t_map"] is None and record["map_missing"] == reason
    assert record["r1_i2t"] == 1.0  # the recalls stay


def test_calibration_of_a_split_whose_related_texts_are_one_text(tmp_path, tiny_model):
    """Two icons of one concept with the same caption: text-to-text cosine 1.0 with no spread. The
    calibration keeps the runtime's floor instead of failing at the end of a fine-tune."""
    from ccl_embed.data.corpus import Corpus, Pair
    from ccl_embed.evaluation import calibrate_model
    from ccl_embed.runtime.calibration import MIN_STD
    from tests.conftest import draw

    pairs = []
    for i, (colour, shape) in enumerate([("red", "square"), ("red", "ring"), ("blue", "bar"), ("green", "dot")]):
        draw(colour, shape).save(tmp_path / f"{i}.png")
        pairs.append(Pair(image=f"{i}.png", text=f"a {colour} thing", concept=colour, split="val"))
    calibration = calibrate_model(tiny_model, Corpus(root=tmp_path, pairs=tuple(pairs)))
    assert calibration["text:text"] == pytest.approx((1.0, MIN_STD), abs=1e-5)
    assert all(std >= MIN_STD for _, std in calibration.values())
