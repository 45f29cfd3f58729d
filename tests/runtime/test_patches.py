from ccl_embed.runtime.patches import FEATURE_GRID, IMAGE_REGIONS, MAX_FRAGMENTS, text_fragments


def test_keyword_text_is_cut_into_name_and_phrases():
    assert text_fragments("grinning face. face, grin, happy") == ["grinning face", "face", "grin", "happy"]


def test_sentences_are_fragments_and_duplicates_dropped():
    assert text_fragments("A cat sleeps. The cat is grey!\nA cat sleeps.") == ["A cat sleeps", "The cat is grey"]


def test_single_comma_sentence_is_not_split():
    assert text_fragments("a dog, running") == ["a dog, running"]


def test_fragments_are_capped_and_never_empty():
    assert len(text_fragments(", ".join(f"w{i}" for i in range(30)))) == MAX_FRAGMENTS
    assert text_fragments("...") == ["..."]


def test_regions_lie_on_the_grid():
    for r0, r1, c0, c1 in IMAGE_REGIONS:
        assert 0 <= r0 < r1 <= FEATURE_GRID and 0 <= c0 < c1 <= FEATURE_GRID
