import numpy as np
import pytest

from ccl_embed.runtime.patches import (
    FEATURE_GRID,
    GRID_REGIONS,
    IMAGE_REGIONS,
    MAX_FRAGMENTS,
    REGION_SCHEMES,
    Patches,
    image_regions,
    text_fragments,
)


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


def test_grid_cells_cover_the_map_once_and_every_scheme_is_valid():
    cover = np.zeros((FEATURE_GRID, FEATURE_GRID), dtype=int)
    for r0, r1, c0, c1 in GRID_REGIONS:
        cover[r0:r1, c0:c1] += 1
    assert len(GRID_REGIONS) == 9 and (cover == 1).all()  # no overlap, nothing left out
    for name, regions in REGION_SCHEMES.items():
        assert Patches(image_regions=regions).image_regions == regions, name
    assert image_regions("quadrants+grid") == IMAGE_REGIONS + GRID_REGIONS


def test_an_unknown_scheme_names_the_known_ones():
    with pytest.raises(ValueError, match="image_regions='tiles': choose one of quadrants, grid, quadrants\\+grid"):
        image_regions("tiles")
