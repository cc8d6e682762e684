"""Energy inside a ground-truth mask and the pointing game, on hand-made maps."""

from __future__ import annotations

import math

import pytest
import torch

from captum_ifim.metrics import energy_in_mask, pointing_game


def test_energy_share_by_hand():
    m = torch.tensor([[[[3.0, -1.0], [0.0, 0.0]]], [[[1.0, 1.0], [1.0, 1.0]]]])
    mask = torch.tensor([[[1, 0], [0, 0]], [[1, 1], [0, 0]]])
    torch.testing.assert_close(
        energy_in_mask(m, mask), torch.tensor([0.75, 0.5], dtype=torch.float64)
    )
    torch.testing.assert_close(
        energy_in_mask(m, mask.unsqueeze(1).bool(), magnitude="squared"),
        torch.tensor([0.9, 0.5], dtype=torch.float64),
    )
    # Channels are summed in magnitude: opposite signs do not cancel.
    two = torch.tensor([[[[2.0, 0.0]], [[-2.0, 4.0]]]])  # (1, 2, 1, 2)
    assert energy_in_mask(two, torch.tensor([[[1, 0]]])).item() == pytest.approx(0.5)


def test_energy_undefined_cases_are_nan_with_warning():
    m = torch.zeros(2, 1, 2, 2)
    m[1] = 1.0
    mask = torch.zeros(2, 2, 2)
    mask[0, 0, 0] = 1
    with pytest.warns(UserWarning, match="2 samples"):
        values = energy_in_mask(m, mask)  # sample 0: zero map, sample 1: empty mask
    assert torch.isnan(values).all()


def test_pointing_game_hits_misses_ties_and_tolerance():
    m = torch.zeros(4, 1, 5, 5)
    m[0, 0, 1, 1] = 5.0  # maximum inside the mask
    m[1, 0, 4, 4] = 5.0  # maximum far outside
    m[2, 0, 3, 3] = 5.0  # maximum one pixel from the mask edge
    m[3, 0, 1, 1] = m[3, 0, 4, 4] = 5.0  # tied maxima, one outside
    mask = torch.zeros(4, 5, 5, dtype=torch.bool)
    mask[:, 0:3, 0:3] = True
    assert pointing_game(m, mask).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert pointing_game(m, mask, tolerance=1).tolist() == [1.0, 0.0, 1.0, 0.0]
    with pytest.warns(UserWarning, match="constant map"):
        flat = pointing_game(torch.ones(1, 1, 5, 5), mask[:1])
    assert math.isnan(flat.item())


@pytest.mark.parametrize("mask_shape", [(2, 4, 5), (2, 1, 5, 5), (3, 5, 4), (2, 2, 5, 4)])
def test_mask_shape_errors(mask_shape):
    with pytest.raises(ValueError, match="expected masks of shape"):
        energy_in_mask(torch.rand(2, 3, 5, 4), torch.ones(mask_shape))


def test_non_binary_mask_and_bad_tolerance():
    with pytest.raises(ValueError, match="binary masks"):
        pointing_game(torch.rand(1, 1, 3, 3), torch.full((1, 3, 3), 0.5))
    with pytest.raises(ValueError, match="tolerance"):
        pointing_game(torch.rand(1, 1, 3, 3), torch.ones(1, 3, 3), tolerance=-1)
