"""Every metric on volumes (N, C, D, H, W) with masks (N, D, H, W), against hand-derived
answers on tiny volumes: voxels are the locations, k = ceil(alpha * D * H * W), a selected
voxel is perturbed in every channel, the RISE blur runs over D, H and W."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch
from captum.attr import Saliency
from captum.metrics import infidelity, sensitivity_max
from torch import Tensor, nn

from captum_ifim import build_method
from captum_ifim.metrics import (
    adversarial_correlation,
    contrastive_perturbation,
    contrastive_perturbation_predictions,
    default_layers,
    deletion_auc,
    energy_in_mask,
    gaussian_blur,
    insertion_auc,
    kl_fidelity,
    model_parameter_randomization,
    num_selected_pixels,
    pixel_mask,
    pointing_game,
    spatial_saliency,
)
from comparisons.datasets import ImageDataset, ImageSplit
from comparisons.metrics import HARNESS_METRICS, CellData, run_metric
from comparisons.run._spectrum_maps import spectrum_maps

from ._metrics_models import LinearLogit

SHAPE = (2, 3, 4)  # D, H, W: 24 voxels


class VoxelModel(nn.Module):
    """Logits ``[0, scale * (sum over channels of x at one voxel - threshold)]``."""

    def __init__(self, voxel: tuple[int, int, int], threshold: float = 0.25) -> None:
        super().__init__()
        self.voxel, self.threshold = voxel, threshold

    def forward(self, x: Tensor) -> Tensor:
        d, h, w = self.voxel
        z = 10.0 * (x[:, :, d, h, w].sum(dim=1) - self.threshold)
        return torch.stack([torch.zeros_like(z), z], dim=1)


def one_hot(voxel: tuple[int, int, int]) -> Tensor:
    """A (1, D, H, W) map that is 1 at ``voxel``."""
    m = torch.zeros(1, *SHAPE, dtype=torch.float64)
    m[(0, *voxel)] = 1.0
    return m


def test_channel_summed_magnitude_per_voxel_and_k_counts_voxels() -> None:
    m = torch.arange(2 * 24, dtype=torch.float64).view(1, 2, *SHAPE) - 20
    expected = (m[:, 0].abs() + m[:, 1].abs()).view(1, *SHAPE)
    torch.testing.assert_close(spatial_saliency(m), expected)
    # k = ceil(alpha * D * H * W): 0.1 * 24 = 2.4 -> 3; 0.01 * 24 = 0.24 -> 1; 0.5 -> 12.
    assert [num_selected_pixels(a, 24) for a in (0.1, 0.01, 0.5)] == [3, 1, 12]
    mask = pixel_mask(m, 0.1, "top")
    assert mask.shape == (1, 1, *SHAPE) and int(mask.sum()) == 3
    # The three largest channel sums |v - 20| + |v + 4| lie at the last three voxels.
    assert mask.flatten()[-3:].all() and not mask.flatten()[:-3].any()


def _contrastive_volumes() -> tuple[Tensor, Tensor, Tensor, tuple[int, int, int]]:
    """Four volumes with two channels; the model reads voxel v = (1, 2, 3) (flat index 23).

    Samples 0 and 1 have 0.5 in both channels at v (positives), 2 and 3 have 0 (negatives).
    Maps point at v for samples 0 and 2 and at u = (0, 1, 1) for samples 1 and 3.
    """
    v, u = (1, 2, 3), (0, 1, 1)
    x = torch.zeros(4, 2, *SHAPE, dtype=torch.float64)
    x[:2, :, v[0], v[1], v[2]] = 0.5
    labels = torch.tensor([1, 1, 0, 0])
    maps = torch.stack([one_hot(v), one_hot(u), one_hot(v), one_hot(u)])  # (4, 1, D, H, W)
    return x, labels, maps, v


def test_contrastive_f1_ratio_on_volumes_matches_the_hand_derived_value() -> None:
    x, labels, maps, v = _contrastive_volumes()
    model = VoxelModel(v).double().eval()
    noise = torch.zeros_like(x)
    # alpha = 0.04: k = ceil(0.96) = 1 voxel. High set: v for samples 0, 2 and u for 1, 3,
    # so only sample 0 flips (both channels set to 0; one channel alone, 0.5, would still
    # exceed the threshold 0.25): predictions [0, 1, 0, 0], F1 = 2 TP / (2 TP + FP + FN) =
    # 2 / 3. Low set (BottomK of the same map, ties by index): voxel 0, never read: F1 = 1.
    result = contrastive_perturbation(
        model, x, labels, maps, fractions=(0.04, 0.1), noise=noise, tie_break="index"
    )
    assert result.num_pixels == (1, 3)  # ceil(0.04 * 24), ceil(0.1 * 24)
    assert result.f1_clean == 1.0
    torch.testing.assert_close(result.f1_high, torch.tensor([2 / 3, 2 / 3], dtype=torch.float64))
    torch.testing.assert_close(result.f1_low, torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(result.ratio, torch.tensor([1.5, 1.5], dtype=torch.float64))


def test_contrastive_predictions_of_a_one_slice_volume_equal_those_of_the_image() -> None:
    """A volume with D = 1 is the image: same locations, same k, same predictions."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(24, 2)).double().eval()
    x = torch.randn(10, 2, 1, 3, 4, dtype=torch.float64)
    maps = torch.randn(10, 2, 1, 3, 4, dtype=torch.float64)
    low = torch.randn(10, 2, 1, 3, 4, dtype=torch.float64)
    labels = model(x).argmax(dim=1)
    options = {"fractions": (0.1, 0.25), "seed": 7}
    volume = contrastive_perturbation_predictions(model, x, labels, maps, low, **options)
    flat_model = nn.Sequential(nn.Flatten(), model[1]).eval()
    image = contrastive_perturbation_predictions(
        flat_model, x[:, :, 0], labels, maps[:, :, 0], low[:, :, 0], **options
    )
    assert volume.num_pixels == image.num_pixels == (2, 3)
    assert torch.equal(volume.high, image.high) and torch.equal(volume.low, image.low)


def _linear_volume() -> tuple[LinearLogit, Tensor, Tensor]:
    """z = w . x on a 2 x 2 x 2 volume of ones, w = 0.1, 0.2, ..., 0.8 (distinct)."""
    weight = (torch.arange(1, 9, dtype=torch.float64) / 10).view(1, 2, 2, 2)
    return LinearLogit(weight).eval(), torch.ones(1, 1, 2, 2, 2, dtype=torch.float64), weight


def test_deletion_and_insertion_curves_on_a_volume_follow_the_voxel_order() -> None:
    model, x, weight = _linear_volume()
    w = sorted(weight.flatten().tolist(), reverse=True)  # the map's order: largest first
    steps = 8  # one voxel per step
    deletion = deletion_auc(model, x, weight[None], 1, baseline=0.0, steps=steps)
    insertion = insertion_auc(model, x, weight[None], 1, baseline=0.0, steps=steps)
    # After deleting the k largest weights z = sum of the others; inserting them: z = theirs.
    expected_deletion = [1 / (1 + math.exp(-sum(w[k:]))) for k in range(steps + 1)]
    expected_insertion = [1 / (1 + math.exp(-sum(w[:k]))) for k in range(steps + 1)]
    torch.testing.assert_close(deletion.scores[0], torch.tensor(expected_deletion).double())
    torch.testing.assert_close(insertion.scores[0], torch.tensor(expected_insertion).double())

    def trapezoid(values: list[float]) -> float:  # the area on the grid 0, 1/8, ..., 1
        return sum((a + b) / 2 / steps for a, b in itertools.pairwise(values))

    assert deletion.auc.item() == pytest.approx(trapezoid(expected_deletion))
    assert insertion.auc.item() == pytest.approx(trapezoid(expected_insertion))


def test_the_rise_blur_of_a_volume_is_separable_and_conserves_a_constant() -> None:
    kernel = torch.exp(-torch.arange(-2, 3, dtype=torch.float64).square() / 2)
    kernel = kernel / kernel.sum()
    delta = torch.zeros(1, 1, 9, 9, 9, dtype=torch.float64)
    delta[0, 0, 4, 4, 4] = 1.0
    blurred = gaussian_blur(delta, kernel_size=5, sigma=1.0, spatial_dims=3)
    expected = torch.zeros_like(delta)
    expected[0, 0, 2:7, 2:7, 2:7] = torch.einsum("i,j,k->ijk", kernel, kernel, kernel)
    torch.testing.assert_close(blurred, expected)
    constant = torch.full((2, 3, 5, 6, 7), 0.7, dtype=torch.float64)
    torch.testing.assert_close(gaussian_blur(constant, spatial_dims=3), constant)
    # A volume constant along D blurs as each of its slices does in 2-D (replicate padding).
    image = torch.randn(2, 1, 6, 7, dtype=torch.float64)
    stacked = image[:, :, None].expand(2, 1, 4, 6, 7).contiguous()
    slices = gaussian_blur(stacked, spatial_dims=3)
    for d in range(4):
        torch.testing.assert_close(slices[:, :, d], gaussian_blur(image))
    with pytest.raises(ValueError, match="2 spatial dims"):
        gaussian_blur(delta, spatial_dims=1)


def test_insertion_from_the_blurred_volume_starts_at_the_blur_and_ends_at_the_input() -> None:
    model, _, weight = _linear_volume()
    x = torch.arange(8, dtype=torch.float64).view(1, 1, 2, 2, 2) / 8
    curve = insertion_auc(model, x, weight[None], 1, steps=4)  # baseline "blur"
    start = torch.sigmoid(model(gaussian_blur(x, spatial_dims=3))[:, 1])
    torch.testing.assert_close(curve.scores[:, 0], start)
    torch.testing.assert_close(curve.scores[:, -1], torch.sigmoid(model(x)[:, 1]))


def test_energy_in_mask_and_pointing_game_on_volumes() -> None:
    maps = torch.zeros(2, 2, 3, 3, 3, dtype=torch.float64)
    maps[0, 0, 0, 0, 0], maps[0, 1, 0, 0, 0] = 1.0, -2.0  # |.| summed over channels: 3
    maps[0, 0, 2, 2, 2] = 1.0
    maps[1, 0, 2, 2, 2] = 5.0  # the maximum, diagonal to the mask voxel (1, 1, 1)
    maps[1, 1, 0, 0, 0] = 1.0
    masks = torch.zeros(2, 3, 3, 3, dtype=torch.bool)
    masks[0, 0, 0, 0] = True
    masks[1, 1, 1, 1] = True
    energy = energy_in_mask(maps, masks)
    torch.testing.assert_close(energy, torch.tensor([3 / 4, 0.0], dtype=torch.float64))
    assert pointing_game(maps, masks).tolist() == [1.0, 0.0]
    # Tolerance 1 dilates the mask by a 3 x 3 x 3 cube: the diagonal neighbour is a hit.
    assert pointing_game(maps, masks, tolerance=1).tolist() == [1.0, 1.0]
    # Masks with a singleton channel dim, (N, 1, D, H, W), are the same masks.
    torch.testing.assert_close(energy_in_mask(maps, masks[:, None]), energy)


def test_kl_fidelity_on_a_volume_tends_to_one() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(24, 3)).double().eval()
    x = torch.randn(2, 1, *SHAPE, dtype=torch.float64)
    result = kl_fidelity(model, x, (1e-4,))
    assert torch.allclose(result.ratio, torch.ones_like(result.ratio), atol=1e-3)


class TinyCNN3d(nn.Module):
    """conv3d -> ReLU -> global average -> linear: a volume classifier with two layers."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(1, 3, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(3, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.relu(self.conv(x))).flatten(1))


def test_randomization_on_a_3d_cnn_finds_its_layers_and_is_one_without_change() -> None:
    torch.manual_seed(0)
    model = TinyCNN3d().double().eval()
    x = torch.randn(3, 1, 4, 4, 4, dtype=torch.float64)
    assert default_layers(model) == ["fc", "conv"]  # Conv3d weights have 5 dims
    unchanged = model_parameter_randomization(model, Saliency, x, 0, reinit=lambda m, g: None)
    torch.testing.assert_close(unchanged.spearman_abs, torch.ones(2, 3, dtype=torch.float64))
    changed = model_parameter_randomization(model, Saliency, x, 0)
    assert changed.pearson.shape == (2, 3) and changed.layers == ("fc", "conv")


def test_adversarial_correlation_of_identity_maps_on_a_volume() -> None:
    """Maps = inputs: the correlation of x and x + eps sign(w) sign(p1 - y) (eq. 27)."""
    torch.manual_seed(1)
    weight = torch.randn(1, *SHAPE, dtype=torch.float64)
    model = LinearLogit(weight).eval()
    x = torch.randn(3, 1, *SHAPE, dtype=torch.float64)
    y = torch.tensor([0, 1, 1])
    result = adversarial_correlation(model, lambda inputs, target: inputs, x, y, 0.3)
    p1 = torch.sigmoid(model(x)[:, 1])
    step = 0.3 * torch.sign(p1 - y).view(-1, 1, 1, 1, 1) * torch.sign(weight)
    pairs = zip(x, x + step, strict=True)
    expected = [np.corrcoef(a.flatten(), b.flatten())[0, 1] for a, b in pairs]
    torch.testing.assert_close(result.per_example, torch.tensor(expected, dtype=torch.float64))


def test_captum_infidelity_and_sensitivity_of_a_linear_volume_model_are_zero() -> None:
    """f = w . x: the gradient w explains f(x) - f(x - I) = w . I exactly, and never moves."""
    torch.manual_seed(2)
    weight = torch.randn(1, *SHAPE, dtype=torch.float64)
    model = LinearLogit(weight).eval()
    x = torch.randn(3, 1, *SHAPE, dtype=torch.float64)

    def perturb(inputs: Tensor) -> tuple[Tensor, Tensor]:
        noise = 0.1 * torch.randn_like(inputs)
        return noise, inputs - noise

    attributions = weight.expand_as(x)
    values = infidelity(model, perturb, x, attributions, target=1, n_perturb_samples=4)
    torch.testing.assert_close(values, torch.zeros(3, dtype=values.dtype), atol=1e-12, rtol=0)
    saliency = Saliency(model)
    sensitivity = sensitivity_max(
        lambda inputs, target: saliency.attribute(inputs, target=target, abs=False),
        x,
        target=1,
        n_perturb_samples=2,
    )
    torch.testing.assert_close(sensitivity, torch.zeros(3, dtype=sensitivity.dtype))


def _volume_cell(method: str = "saliency") -> CellData:
    """A 3-D cell: TinyCNN3d on 4 volumes 8^3 with a one-voxel-ball mask on the positives."""
    torch.manual_seed(4)
    model = TinyCNN3d().eval()
    images = torch.randn(4, 1, 8, 8, 8)
    labels = torch.tensor([0, 1, 0, 1])
    masks = torch.zeros(4, 8, 8, 8, dtype=torch.bool)
    masks[1, 3:5, 3:5, 3:5] = True
    masks[3, 2:4, 4:6, 4:6] = True
    split = ImageSplit(images, labels, masks)
    dataset = ImageDataset("volumes", ("absent", "present"), split, split, split, 0.0, 1.0)
    saliency = Saliency(model)

    def factory(m: nn.Module) -> Saliency:
        return Saliency(m)

    maps = saliency.attribute(images, target=labels)
    return CellData(
        method=method,
        model=model,
        dataset=dataset,
        inputs=images,
        labels=labels,
        targets=labels,
        masks=masks,
        maps=maps,
        low_maps=None,
        explainer=saliency,
        explainer_factory=factory,
        noise_seed=5,
        batch_size=2,
        adversarial_inputs=lambda eps: images + eps,
    )


def test_every_harness_metric_runs_on_a_3d_cell() -> None:
    """Each metric entry on a volume cell writes its rows (KL fidelity: iFIM methods only)."""
    cell = _volume_cell()
    options = {
        "model-parameter-randomization": {"max_examples": 2},
        "sensitivity-max": {"max_examples": 2, "n_perturb_samples": 2},
        "infidelity": {"max_examples": 2, "n_perturb_samples": 2},
        "deletion-auc": {"steps": 4},
        "insertion-auc": {"steps": 4},
    }
    produced = {name: run_metric(name, cell, options.get(name, {})) for name in HARNESS_METRICS}
    # the metrics of the iFIM's own spectrum run on a cell that has one (the iFIM's)
    explainer = build_method("ifim-sensitive", cell.model)
    ifim = dataclasses.replace(
        cell, method="ifim-sensitive", spectrum=spectrum_maps(explainer, cell.inputs, 2)
    )
    for name, entry in HARNESS_METRICS.items():
        if entry.info.needs_spectrum:
            assert produced[name] == [], name  # saliency has no spectrum
            produced[name] = run_metric(name, ifim, options.get(name, {}))
    for name, values in produced.items():
        if name == "kl-fidelity":
            continue
        declared = {row.name for row in HARNESS_METRICS[name].rows}
        assert values and {v.metric for v in values} <= declared, name
    # k of the F1 ratio counts voxels: 1 %, 2 %, 3 % of 512 -> 6, 11, 16 voxels.
    ratio = [v for v in produced["contrastive-perturbation"] if v.metric == "f1-ratio"]
    assert [v.setting for v in ratio] == ["alpha=0.01", "alpha=0.02", "alpha=0.03"]
    assert [num_selected_pixels(a, 512) for a in (0.01, 0.02, 0.03)] == [6, 11, 16]
    energy = produced["energy-in-mask"][0]
    assert energy.n == 2 and energy.examples is not None
    assert energy.examples.positions.tolist() == [1, 3]  # the signal-present volumes
    assert 0.0 <= energy.value <= 1.0
