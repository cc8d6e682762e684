"""The pytorch-grad-cam adapters: the library's maps, hand-derived raw maps, hygiene."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from captum_ifim import EigenCAM, GradCAM, GradCAMPlusPlus, ScoreCAM, XGradCAM
from tests._baseline_models import assert_same_state, model_state, small_cnn
from tests._scaled_model import Scaled

pytorch_grad_cam = pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

CAMS = [GradCAM, GradCAMPlusPlus, ScoreCAM, XGradCAM, EigenCAM]


def _gap_head_model(in_channels: int = 2, channels: int = 5, classes: int = 3) -> nn.Module:
    """conv-ReLU-avgpool(2) then global average pooling and a linear layer, float64.

    For this head the target logit is linear in the pooled maps A (target layer = the
    avgpool, index 2): d y_t / d A_kij = W_tk / (h w) everywhere.
    """
    torch.manual_seed(5)
    return (
        nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(channels, classes),
        )
        .double()
        .eval()
    )


def _upsample(maps: torch.Tensor, side: int) -> torch.Tensor:
    return F.interpolate(maps[:, None], (side, side), mode="bilinear", align_corners=False)[:, 0]


@pytest.mark.parametrize("cam_class", CAMS, ids=lambda c: c.__name__)
def test_normalized_maps_equal_the_library_with_one_target_per_image(cam_class):
    model, reference_model = small_cnn(3), small_cnn(3)
    x = torch.randn(3, 3, 16, 16)
    targets = [0, 2, 1]
    ours = cam_class(model, model[5]).attribute(x, target=targets)
    library_class = getattr(pytorch_grad_cam, cam_class._library[1])
    with library_class(reference_model, [reference_model[5]]) as cam:
        expected = cam(x, [ClassifierOutputTarget(t) for t in targets])
    for channel in range(3):
        torch.testing.assert_close(ours[:, channel], torch.from_numpy(expected))
    assert ours.amin() >= 0 and ours.amax() <= 1


def test_gradcam_and_xgradcam_raw_maps_are_the_class_activation_map():
    """Hand-derived: w_k = W_tk / (h w) for both, map = sum_k w_k A_k, sum = y_t - b_t."""
    model = _gap_head_model()
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    targets = torch.tensor([2, 0])
    pooled = model[:3](x)  # (2, 5, 4, 4)
    weights = model[5].weight[targets] / 16
    expected = torch.einsum("nk,nkij->nij", weights, pooled).detach()
    logits = model(x).detach()
    torch.testing.assert_close(
        expected.sum((1, 2)), logits[[0, 1], targets] - model[5].bias[targets].detach()
    )
    for cam_class in (GradCAM, XGradCAM):
        raw = cam_class(model, model[2], normalization="none").attribute(x, target=targets)
        assert raw.dtype == torch.float64
        torch.testing.assert_close(raw[:, 1], _upsample(expected, 8))
        torch.testing.assert_close(raw[:, 0], raw[:, 1])


def test_gradcam_plus_plus_raw_map_follows_its_eq_19_for_a_constant_gradient():
    """With g_k = W_tk / (h w) at every position, eq. 19 gives alpha = 1 / (2 + S_k g_k)
    (S_k = sum_ij A_kij) and w_k = h w relu(g_k) alpha_k (library eps kept)."""
    model = _gap_head_model()
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    targets = torch.tensor([1, 1])
    pooled = model[:3](x).detach()
    g = (model[5].weight[targets] / 16).detach()[:, :, None, None].expand_as(pooled)
    sums = pooled.sum((2, 3), keepdim=True)
    alpha = g**2 / (2 * g**2 + sums * g**3 + 1e-6)
    weights = (g.clamp(min=0) * alpha).sum((2, 3))
    expected = torch.einsum("nk,nkij->nij", weights, pooled)
    raw = GradCAMPlusPlus(model, model[2], normalization="none").attribute(x, target=targets)
    torch.testing.assert_close(raw[:, 0], _upsample(expected, 8))


def test_scorecam_raw_map_is_the_brute_force_weighting():
    """w = softmax_k y_t(x * M_k), M_k the min-max scaled map of channel k (same size)."""
    model = _gap_head_model()
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    targets = [0, 2]
    activations = model[:2](x).detach()  # target layer: the ReLU, full resolution
    low = activations.amin((2, 3), keepdim=True)
    high = activations.amax((2, 3), keepdim=True)
    masks = (activations - low) / (high - low + 1e-8)
    expected = []
    for n, t in enumerate(targets):
        with torch.no_grad():
            scores = model(x[n][None] * masks[n][:, None])[:, t]
        expected.append(
            torch.einsum("k,kij->ij", scores.float().softmax(0).double(), activations[n])
        )
    raw = ScoreCAM(model, model[1], normalization="none", batch_size=2).attribute(x, target=targets)
    torch.testing.assert_close(raw[:, 0], torch.stack(expected), rtol=1e-5, atol=1e-7)


def test_eigencam_raw_map_is_the_first_principal_component_up_to_sign():
    model = _gap_head_model()
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    activations = model[:2](x).detach()
    raw = EigenCAM(model, model[1], normalization="none").attribute(x, target=[0, 1])
    for n in range(2):
        flat = activations[n].reshape(5, -1).T
        centred = flat - flat.mean(0)
        direction = torch.linalg.svd(centred, full_matrices=False).Vh[0]
        expected = (centred @ direction).reshape(8, 8)
        sign = torch.sign((raw[n, 0] * expected).sum())
        torch.testing.assert_close(raw[n, 0], sign * expected)
    assert torch.equal(raw, EigenCAM(model, model[1], normalization="none").attribute(x, target=2))


def test_an_int_target_gives_every_image_its_own_map():
    """pytorch-grad-cam's pitfall: one target for a batch leaves images 2..N empty."""
    model = small_cnn(1)
    x = torch.randn(4, 1, 16, 16)
    maps = GradCAM(model, model[5]).attribute(x, target=1)
    for n in range(4):
        single = GradCAM(model, model[5]).attribute(x[n : n + 1], target=1)
        torch.testing.assert_close(maps[n : n + 1], single)
        assert maps[n].amax() > 0.99


def _one_conv_net(in_channels: int, width: int, pool: int, inplace: bool) -> nn.Sequential:
    """conv(3 x 3)-ReLU, adaptive average pool to pool x pool, linear to 3 classes."""
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1),
        nn.ReLU(inplace=inplace),
        nn.AdaptiveAvgPool2d(pool),
        nn.Flatten(),
        nn.Linear(width * pool * pool, 3),
    )


@pytest.mark.parametrize("cam_class", CAMS, ids=lambda c: c.__name__)
def test_model_left_as_found_even_in_training_mode_and_after_an_error(cam_class):
    torch.manual_seed(0)
    model = _one_conv_net(1, 4, pool=2, inplace=True).train()
    for parameter in model.parameters():
        parameter.grad = torch.full_like(parameter, 0.5)
    before = model_state(model)
    x = torch.randn(2, 1, 8, 8, requires_grad=True)
    options = {"batch_size": 2} if cam_class is ScoreCAM else {}
    cam = cam_class(model, model[1], **options)
    cam.attribute(x, target=[0, 2])
    assert_same_state(before, model_state(model))
    with pytest.raises(ValueError, match="expected targets in"):
        cam.attribute(x, target=[0, 3])
    assert_same_state(before, model_state(model))
    assert x.requires_grad and x.grad is None


def test_scorecam_is_quiet_and_batch_size_does_not_change_the_map(capfd):
    model = small_cnn(3)
    x = torch.randn(2, 3, 16, 16)
    small = ScoreCAM(model, model[5], batch_size=5).attribute(x, target=[1, 0])
    large = ScoreCAM(model, model[5]).attribute(x, target=[1, 0])
    torch.testing.assert_close(small, large)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    with pytest.raises(ValueError, match="batch_size"):
        ScoreCAM(model, model[5], batch_size=0)


@pytest.mark.parametrize("cam_class", CAMS, ids=lambda c: c.__name__)
def test_additional_forward_args_are_passed_per_sample(cam_class):
    net = small_cnn(3)
    model = Scaled(net)
    x = torch.randn(2, 3, 16, 16)
    scale = torch.tensor([0.5, 2.0])
    ours = cam_class(model, net[5]).attribute(x, target=[2, 1], additional_forward_args=(scale,))
    expected = cam_class(net, net[5]).attribute(x * scale[:, None, None, None], target=[2, 1])
    torch.testing.assert_close(ours, expected)


def test_in_place_relu_after_the_target_conv_does_not_change_the_map():
    """The library keeps an alias of the layer output on CPU, which a following in-place
    ReLU overwrites; the adapter keeps a copy."""

    def build(inplace: bool) -> nn.Module:
        torch.manual_seed(3)
        return _one_conv_net(3, 6, pool=1, inplace=inplace).eval()

    x = torch.randn(2, 3, 8, 8)
    maps = []
    for inplace in (False, True):
        model = build(inplace)
        maps.append(GradCAM(model, model[0], normalization="none").attribute(x, target=[0, 1]))
    torch.testing.assert_close(maps[0], maps[1])


def test_tuple_input_float64_and_layer_by_name():
    model = _gap_head_model()
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    (maps,) = GradCAM(model, "2").attribute((x,), target=0)
    assert maps.dtype == torch.float64 and maps.shape == x.shape
    torch.testing.assert_close(maps, GradCAM(model, model[2]).attribute(x, target=0))


def test_bad_target_layer_inputs_and_targets_are_refused():
    model = small_cnn(3)
    with pytest.raises(ValueError, match="submodule"):
        GradCAM(model, nn.Conv2d(3, 3, 1))
    with pytest.raises(ValueError, match="submodule"):
        GradCAM(model, "layer4")
    with pytest.raises(TypeError, match="target_layer"):
        GradCAM(model, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="normalization"):
        GradCAM(model, model[5], normalization="minmax")  # type: ignore[arg-type]
    cam = GradCAM(model, model[5])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        cam.attribute(torch.randn(2, 3, 16))
    with pytest.raises(ValueError, match="single image tensor"):
        cam.attribute((torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"expected targets in \[0, 3\)"):
        cam.attribute(torch.randn(2, 3, 8, 8), target=-1)
    with pytest.raises(ValueError, match="one target per sample"):
        cam.attribute(torch.randn(2, 3, 8, 8), target=[0, 1, 2])


def test_a_reused_target_layer_is_refused():
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.conv(self.conv(x)))

    model = Twice().eval()
    with pytest.raises(ValueError, match="once per forward pass"):
        GradCAM(model, model.conv).attribute(torch.randn(1, 3, 8, 8))
    assert not model.conv._forward_hooks


# Volumes (N, C, D, H, W) -------------------------------------------------------------------


def _gap_head_volume_model(channels: int = 4, classes: int = 3) -> nn.Module:
    """The 3-D twin of ``_gap_head_model``: conv-ReLU-avgpool(2), global average, linear."""
    torch.manual_seed(6)
    return (
        nn.Sequential(
            nn.Conv3d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.AvgPool3d(2),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
            nn.Linear(channels, classes),
        )
        .double()
        .eval()
    )


def test_volume_gradcam_and_xgradcam_raw_maps_are_the_class_activation_map():
    """Hand-derived in 3-D: w_k = W_tk / (d h w), map sum_k w_k A_k upsampled trilinearly."""
    model = _gap_head_volume_model()
    x = torch.randn(2, 1, 6, 8, 4, dtype=torch.float64)
    targets = torch.tensor([2, 0])
    pooled = model[:3](x).detach()  # (2, 4, 3, 4, 2)
    weights = model[5].weight[targets].detach() / pooled[0, 0].numel()
    expected = torch.einsum("nk,nkdij->ndij", weights, pooled)
    upsampled = F.interpolate(expected[:, None], (6, 8, 4), mode="trilinear")[:, 0]
    for cam_class in (GradCAM, XGradCAM):
        raw = cam_class(model, model[2], normalization="none").attribute(x, target=targets)
        assert raw.shape == x.shape and raw.dtype == torch.float64
        torch.testing.assert_close(raw[:, 0], upsampled)


@pytest.mark.parametrize("cam_class", CAMS, ids=lambda c: c.__name__)
def test_every_cam_takes_volumes_with_the_default_layer(cam_class):
    model = _gap_head_volume_model().float()
    x = torch.randn(2, 1, 8, 8, 8)
    maps = cam_class(model).attribute(x, target=[0, 1])  # default layer: the ReLU
    assert maps.shape == x.shape and torch.isfinite(maps).all()
    assert maps.amin() >= 0 and maps.amax() <= 1 + 1e-6
    assert cam_class(model).target.name == "1"


def test_volume_scorecam_raw_map_is_the_brute_force_weighting():
    """Score-CAM's 3-D weights (trilinear, align_corners=True masks) by brute force."""
    model = _gap_head_volume_model()
    x = torch.randn(2, 1, 6, 6, 6, dtype=torch.float64)
    targets = [1, 2]
    activations = model[:3](x).detach()  # the average pool: 3 x 3 x 3 maps
    upsampled = F.interpolate(activations, (6, 6, 6), mode="trilinear", align_corners=True)
    low = upsampled.amin((2, 3, 4), keepdim=True)
    high = upsampled.amax((2, 3, 4), keepdim=True)
    masks = (upsampled - low) / (high - low + 1e-8)
    expected = []
    for n, t in enumerate(targets):
        with torch.no_grad():
            scores = model(x[n][None] * masks[n][:, None])[:, t]
        weights = scores.float().softmax(0).double()
        expected.append(torch.einsum("k,kdij->dij", weights, activations[n]))
    expected_maps = F.interpolate(torch.stack(expected)[:, None], (6, 6, 6), mode="trilinear")
    raw = ScoreCAM(model, model[2], normalization="none", batch_size=3).attribute(x, target=targets)
    torch.testing.assert_close(raw[:, 0], expected_maps[:, 0], rtol=1e-5, atol=1e-7)


def test_the_volume_score_weights_are_the_librarys_in_2d():
    """``score_cam_weights`` (written for volumes) computes pytorch-grad-cam's 2-D weights."""
    from captum_ifim._baselines._score_cam import score_cam_weights

    model = _gap_head_model().float()
    x = torch.randn(1, 2, 8, 8)
    activations = model[:3](x).detach()
    library = pytorch_grad_cam.ScoreCAM(model, [])
    library.batch_size = 3
    expected = library.get_cam_weights(
        x, None, [ClassifierOutputTarget(2)], activations.numpy(), None
    )
    ours = score_cam_weights(model, x, activations, 2, batch_size=3)
    torch.testing.assert_close(torch.from_numpy(ours), torch.from_numpy(expected))
