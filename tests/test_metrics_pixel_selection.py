"""Spatial ranking: channel-summed |map|, k = ceil(alpha H W), TopK/BottomK masks."""

from __future__ import annotations

import pytest
import torch

from captum_ifim.metrics import num_selected_pixels, pixel_mask, spatial_saliency
from captum_ifim.metrics._pixel_selection import pixel_ranks


def test_spatial_saliency_sums_magnitudes_over_channels():
    m = torch.tensor([[[[1.0, -2.0]], [[-3.0, 0.5]]]])  # (1, 2, 1, 2)
    torch.testing.assert_close(spatial_saliency(m), torch.tensor([[[4.0, 2.5]]]))
    torch.testing.assert_close(
        spatial_saliency(m, magnitude="squared"), torch.tensor([[[10.0, 4.25]]])
    )
    # (N, D): every feature is a location; (N, H, W): no channel dim to sum.
    torch.testing.assert_close(
        spatial_saliency(torch.tensor([[-1.0, 2.0]])), torch.tensor([[1.0, 2.0]])
    )
    assert spatial_saliency(torch.zeros(2, 5, 6)).shape == (2, 5, 6)
    assert spatial_saliency(torch.zeros(2, 3, 4, 5, 6)).shape == (2, 4, 5, 6)
    assert spatial_saliency(torch.zeros(2, 3, 5), spatial_dims=1).shape == (2, 5)


@pytest.mark.parametrize(
    ("fraction", "locations", "k"),
    [(0.01, 64, 1), (0.03, 100, 3), (0.07, 100, 7), (0.01, 1024, 11), (0.0625, 64, 4), (1.0, 9, 9)],
)
def test_k_is_ceil_alpha_hw_without_float_artefacts(fraction, locations, k):
    # 0.03 * 100 = 3.0000000000000004 in floating point; k must still be 3.
    assert num_selected_pixels(fraction, locations) == k


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, float("nan")])
def test_fraction_outside_unit_interval_raises(fraction):
    with pytest.raises(ValueError, match="expected fraction in"):
        num_selected_pixels(fraction, 10)


def test_top_and_bottom_masks_select_known_pixels_in_every_channel():
    m = torch.zeros(1, 3, 3, 3)
    m[0, 0, 0, 0], m[0, 1, 2, 2], m[0, 2, 1, 1] = 5.0, -6.0, 3.0  # |.| sums 8, 7, 6 after +1
    m += 1.0
    m[0, :, 0, 1] = 0.0  # the single smallest location
    top = pixel_mask(m, 2 / 9, "top")
    assert top.shape == (1, 1, 3, 3) and top.dtype == torch.bool
    expected = torch.zeros(1, 1, 3, 3, dtype=torch.bool)
    expected[0, 0, 0, 0] = expected[0, 0, 2, 2] = True
    assert torch.equal(top, expected)
    bottom = pixel_mask(m, 1 / 9, "bottom")
    assert bottom.sum() == 1 and bottom[0, 0, 0, 1]
    # Broadcast against the inputs: every channel of a selected location is replaced.
    x = torch.randn(1, 3, 3, 3)
    changed = torch.where(top, torch.full_like(x, 99.0), x) != x
    assert changed.sum() == 2 * 3


def test_ties_break_by_index_or_by_seeded_permutation():
    flat = torch.zeros(2, 1, 4, 4)
    by_index = pixel_ranks(spatial_saliency(flat), "top")
    assert torch.equal(by_index[0].flatten(), torch.arange(16))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    r1 = pixel_ranks(spatial_saliency(flat), "top", g1)
    assert torch.equal(r1, pixel_ranks(spatial_saliency(flat), "top", g2))
    assert not torch.equal(r1[0].flatten(), torch.arange(16))
    # TopK and BottomK of a constant map pick the same locations.
    g3, g4 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(
        pixel_ranks(spatial_saliency(flat), "top", g3),
        pixel_ranks(spatial_saliency(flat), "bottom", g4),
    )


def test_ranks_are_a_permutation_consistent_with_sorting():
    scores = torch.randn(3, 5, 7)
    ranks = pixel_ranks(scores, "top", torch.Generator().manual_seed(0)).flatten(1)
    for row_scores, row_ranks in zip(scores.flatten(1), ranks, strict=True):
        assert torch.equal(row_ranks.sort().values, torch.arange(35))
        assert torch.equal(row_scores[row_ranks.argsort()], row_scores.sort(descending=True).values)
