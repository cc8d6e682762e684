"""The map grid of volumes: three orthogonal slices through the signal's centre of mass (the
volume's centre without a signal), the input's beside every method's; 2-D grids unchanged."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.patches import Rectangle

from comparisons.reporting._map_grid_figure import (
    PLANES,
    map_grid_figure,
    orthogonal_slices,
    slice_centre,
    volume_grid_figure,
)

SHAPE = (6, 8, 10)  # D, H, W: every plane has its own shape


def _volumes() -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    torch.manual_seed(0)
    inputs = torch.randn(2, 1, *SHAPE)
    maps = {
        "saliency": torch.randn(2, 1, *SHAPE),  # signed
        "gradcam": torch.rand(2, 1, *SHAPE),  # normalized to [0, 1]
    }
    masks = torch.zeros(2, *SHAPE, dtype=torch.bool)
    masks[0, 1:4, 2:4, 5:8] = True  # centre of mass (2, 2.5, 6) -> (2, 2, 6) (half to even)
    return inputs, maps, masks


def test_the_slices_go_through_the_mask_centre_of_mass_or_the_volume_centre() -> None:
    _, _, masks = _volumes()
    assert slice_centre(masks[0], SHAPE) == (2, 2, 6)
    assert slice_centre(masks[1], SHAPE) == (3, 4, 5)  # empty mask: the volume's centre
    assert slice_centre(None, SHAPE) == (3, 4, 5)
    volume = torch.arange(6 * 8 * 10).view(SHAPE)
    axial, coronal, sagittal = orthogonal_slices(volume, (2, 2, 6))
    assert (axial.shape, coronal.shape, sagittal.shape) == ((8, 10), (6, 10), (6, 8))
    assert torch.equal(axial, volume[2]) and torch.equal(sagittal, volume[:, :, 6])


def test_a_volume_grid_draws_three_slices_per_volume_beside_the_input() -> None:
    inputs, maps, masks = _volumes()
    normalized = {"saliency": False, "gradcam": True}
    figure = map_grid_figure(inputs, maps, normalized, [0, 1], masks, torch.tensor([1, 0]))
    axes = np.array(figure.axes).reshape(2 * len(PLANES), 3)  # rows: volumes x planes
    assert [ax.get_title() for ax in axes[0]] == ["input", "gradcam", "saliency"]
    centre = slice_centre(masks[0], SHAPE)
    for p, (plane, axis) in enumerate(PLANES):
        label = axes[p][0].get_ylabel()
        assert f"{plane} {axis}={centre[p]}" in label
        image = axes[p][0].get_images()[0].get_array()
        np.testing.assert_allclose(image, orthogonal_slices(inputs[0, 0], centre)[p].numpy())
        signed = axes[p][2].get_images()[0]
        np.testing.assert_allclose(
            signed.get_array(), orthogonal_slices(maps["saliency"][0, 0], centre)[p].numpy()
        )
        # one colour scale for the three slices: the whole volume's max |map|
        peak = float(maps["saliency"][0].abs().max())
        np.testing.assert_allclose(signed.get_clim(), (-peak, peak), rtol=1e-6)
        assert axes[p][1].get_images()[0].get_clim() == (0.0, 1.0)
        # the mask's cross-section box on every panel of the volume with a signal
        assert all(any(isinstance(a, Rectangle) for a in ax.patches) for ax in axes[p])
    assert "#0 y=1" in axes[0][0].get_ylabel()
    no_signal = axes[len(PLANES) :]
    assert not any(ax.patches for row in no_signal for ax in row)
    assert f"axial D={SHAPE[0] // 2}" in no_signal[0][0].get_ylabel()


def test_volumes_are_dispatched_and_images_keep_one_row_each() -> None:
    inputs, maps, masks = _volumes()
    normalized = {"saliency": False, "gradcam": True}
    volume = volume_grid_figure(inputs, maps, normalized, [0], masks)
    assert len(volume.axes) == len(PLANES) * 3
    images = map_grid_figure(
        inputs[:, :, 0], {m: v[:, :, 0] for m, v in maps.items()}, normalized, [0, 1], masks[:, 0]
    )
    assert len(images.axes) == 2 * 3
